"""`skyrl-setup install`: detect → plan → build → verify → swap, for one backend."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from packaging.specifiers import SpecifierSet

from skyrl_setup import preflight, profiles
from skyrl_setup.artifacts import plan_artifacts, reachable
from skyrl_setup.commands import CommandResult, default_venv
from skyrl_setup.cuda_policy import choose_variant
from skyrl_setup.detect.gpu import detect_driver
from skyrl_setup.detect.python import find_python
from skyrl_setup.detect.system import existing_parent, free_bytes, platform_tag
from skyrl_setup.envstore import Store
from skyrl_setup.errors import ExitCode, PreconditionError, UsageError
from skyrl_setup.failpoints import hit
from skyrl_setup.execute import build, is_noop
from skyrl_setup.index_route import routes_for
from skyrl_setup.lockfile import Lock, lock_name
from skyrl_setup.lockfile import load_for_host as load_lock
from skyrl_setup.plan import InstallPlan, PlanRequest, make_plan
from skyrl_setup.prereqs import check as check_prereqs
from skyrl_setup.report import MARKS, human_bytes
from skyrl_setup.resolver.check import require_compatible
from skyrl_setup.resources import lockfiles_dir
from skyrl_setup.routes import choose_route
from skyrl_setup.target import Target
from skyrl_setup.uvtool import Uv


def select_lock(explicit: str | None, backend: str, variant: str, platform: str, python_full: str,
                source: str = "--lock") -> tuple[Lock | None, str]:
    if explicit:
        return load_lock(Path(explicit), python_full, platform), source
    path = lockfiles_dir() / lock_name(backend, variant, platform)
    if path.is_file():
        return load_lock(path, python_full, platform), "committed lockfile"
    return None, "resolved at install time"


def _source_candidates(uv: Uv, folder: Path, profile, platform: str, python_full: str, workdir: Path, *,
                       checkout: bool) -> list:
    """A SkyRL folder's own lock for the backend's extra, by the same two routes as the committed
    ones (`checkout`: its path members and skyrl-train itself from the checkout, editable); the
    PyPI route is resolved only if it is tried."""
    from skyrl_setup import skyrl_locks, skyrl_source

    source = skyrl_source.read(folder)
    skyrl_source.require_extra(source, profile.skyrl_extra)
    if source.requires_python and not SpecifierSet(source.requires_python).contains(python_full):
        raise PreconditionError(f"{folder} requires Python {source.requires_python}; the Python found is {python_full}",
                                "give one that matches with --python PATH")
    makers = {"skyrl": lambda: skyrl_locks.exact_lock(uv, source, profile, workdir, checkout=checkout).path,
              "pypi": lambda: skyrl_locks.pypi_lock(uv, source, profile, platform, workdir, checkout=checkout).path}
    return [(r, makers[r]) for r in profile.routes]


def gather_plan(req: PlanRequest, uv: Uv, profile, store: Store, workdir: Path | None = None) -> InstallPlan:
    """`workdir`: where a lock made while planning (a checkout's) is written; the caller removes it."""
    find_links = tuple(Path(d).resolve() for d in req.find_links)
    for d in find_links:
        if not d.is_dir():
            raise UsageError(f"--find-links {d}: not a directory", "give a folder that holds wheel files")
    project = Path(req.project).resolve() if req.project else None
    if project and not ((project / "pyproject.toml").is_file() or (project / "setup.py").is_file()):
        raise UsageError(f"--project {project}: no pyproject.toml there", "point --project at a SkyRL checkout's skyrl-train folder")
    python = find_python(uv, profile.python, req.python)
    driver = detect_driver()
    requested = req.cuda or os.environ.get("SKYRL_SETUP_CUDA") or "auto"
    if requested != "auto" and requested not in profile.variants:
        raise UsageError(f"CUDA variant {requested!r} is not one the {profile.name} profile supports ({', '.join(profile.variants)})",
                         "use --cuda auto or one of those variants")
    platform = platform_tag()
    route = None
    if profile.from_skyrl and not req.lock:
        folder = Path(req.skyrl_source) if req.skyrl_source else project  # upgrade --from-skyrl DIR wins over a recorded checkout
        mine = folder is not None and workdir is not None
        checkout = project is not None and folder == project
        candidates = _source_candidates(uv, folder, profile, platform, python.version, workdir, checkout=checkout) if mine else None
        route = choose_route(profile, platform, python.version, driver, requested, reachable, candidates)
        choice = route.cuda
        whose = "your checkout's uv.lock" if checkout else f"{folder}/uv.lock" if mine else "committed lockfile"
        lock, source = (None, "resolved at install time (with your additions)") if req.additions else \
            (route.lock, f"{whose}, route {route.route}")
    else:
        choice = choose_variant(profile.variants, driver.version, requested)
        if req.additions and not req.lock:
            lock, source = None, "resolved at install time (with your additions)"
        else:
            lock, source = select_lock(req.lock, profile.name, choice.variant, platform, python.version, req.lock_source)
    basis = lock or (route.lock if route else None)
    torch = basis.versions().get("torch", profile.torch) if basis else profile.torch
    artifacts = plan_artifacts(profile.artifacts, choice.variant, torch.split("+")[0], profile.python, find_links)
    from_source = tuple(p.name for p in lock.from_source) if lock else profile.build_from_source
    heavy = tuple(n for n in from_source if n in profile.build_from_source)
    major = choice.variant[2:-1] if choice.variant.startswith("cu") else ""
    names = frozenset(lock.versions()) if lock else frozenset({f"nvidia-cudnn-cu{major}", f"nvidia-nccl-cu{major}"})
    prereqs = check_prereqs(heavy, f"{major}.{choice.variant[-1]}", names) if heavy and major else []
    plan = make_plan(profile=profile, target=store.target, platform=platform, python=python, driver=driver, cuda=choice,
                     lock=lock, lock_source=source, artifacts=artifacts, project=project, find_links=find_links,
                     require_gpu=req.require_gpu, additions=req.additions, prereqs=tuple(prereqs), route=route)
    return replace(plan, fetch=routes_for(lock, profile, artifacts)) if lock else plan


def render_plan(reporter, plan: InstallPlan) -> None:
    rows = [
        ("backend", f"{plan.backend} ({plan.profile.summary})"),
        ("environment", str(plan.target)),
        ("python", f"{plan.python.version} ({plan.python.path}, found via {plan.python.source})"),
        ("cuda", f"{plan.cuda.variant}: {plan.cuda.reason}"),
        ("gpus", ", ".join(f"{g.name} (sm_{g.capability[0]}{g.capability[1]})" for g in plan.driver.gpus) or "none found"),
        ("lockfile", f"{plan.lock.path.name} ({plan.lock_source})" if plan.lock else f"none matches: {plan.lock_source}"
                     + ("" if plan.torch_index == "pypi" else f" with {plan.torch_index}")),
    ]
    if plan.route:
        rows.append(("route", f"{plan.route.route} ({plan.cuda.variant}): {plan.route.reason}"))
        rows += [("  not taken", line) for line in plan.route.skipped]
    if plan.lock:
        rows.append(("packages", f"{len(plan.lock.packages)}, {human_bytes(plan.lock.download_bytes)} to download (less what uv has cached)"))
    if plan.fetch:
        rows.append(("files from", "; ".join(r.describe() for r in plan.fetch)))
    for a in plan.artifacts:
        where = a.location if a.status != "unreachable" else f"unreachable ({a.error})"
        rows.append((a.name, f"{a.version} {'required' if a.required else 'optional'}, from {a.status}: {where}"))
    if plan.to_build:
        rows.append(("built from source", ", ".join(plan.to_build)))
    for p in plan.prereqs:
        rows.append((f"  {p.name}", ("ok: " if p.ok else "MISSING: ") + p.found + ("" if p.ok else f" → {p.fix}")))
    if plan.project:
        rows.append(("skyrl", f"your checkout {plan.project} (editable)"))
    reporter.kv_table("Install plan", rows)
    for w in plan.warnings:
        reporter.warn(w)


def _from_bundle(args, reporter) -> None:
    """Unpack a bundle next to the environments and point this install at it, offline."""
    import tempfile

    from skyrl_setup import bundle

    if args.additions or args.lock or (args.backend and len(args.backend) > 1):
        raise UsageError("--from-bundle installs the bundle's lock as it is", "drop --with, --lock and extra --backend")
    dest = Path(tempfile.mkdtemp(prefix="skyrl-bundle-"))
    args.bundle_dir = dest  # removed by run() whatever happens next
    manifest = bundle.open_bundle(Path(args.from_bundle), dest)
    if args.backend and args.backend[0] != manifest["backend"]:
        raise UsageError(f"the bundle holds {manifest['backend']}, not {args.backend[0]}", "drop --backend or use the right bundle")
    args.backend = [str(dest / manifest["profile"])]
    args.lock = str(bundle.local_lock(dest, manifest))
    args.find_links = [*(args.find_links or []), str(dest / "wheels")]
    args.cuda = args.cuda or manifest["cuda"]
    os.environ["UV_OFFLINE"] = "1"  # nothing leaves this machine
    os.environ["SKYRL_SETUP_OFFLINE"] = "1"
    reporter.progress(f"bundle verified: {len(manifest['files'])} files, lock {manifest['lock']} (sha256 {manifest['lock_sha256'][:12]})")


def run(args, reporter) -> CommandResult:
    try:
        return _run(args, reporter)
    finally:
        if getattr(args, "bundle_dir", None):  # the unpacked bundle, whatever happened
            shutil.rmtree(args.bundle_dir, ignore_errors=True)


def _run(args, reporter) -> CommandResult:
    t0 = time.perf_counter()
    if getattr(args, "from_bundle", None):
        _from_bundle(args, reporter)
    backends = args.backend or ["sglang"]
    loaded = [profiles.load(b) for b in backends]
    profile = loaded[0]
    if len(loaded) > 1 or args.additions:
        # decide compatibility from metadata before anything is downloaded (exit 3 on a clash)
        res = require_compatible(loaded, list(args.additions), target=Target.for_host(f"{profile.python}.0", args.cuda or profile.variants[0]))
        if len(loaded) > 1:
            raise UsageError("one backend per environment", "install each backend with its own --venv")
        reporter.progress(f"compatible: {', '.join(args.additions)} with the {profile.name} pins ({res.seconds:.2f} s)")
    store = Store.for_target(args.venv if args.venv is not None else default_venv(profile.name))
    store.check_target(backend=profile.name, force=args.force)
    if args.lock:
        preflight.user_file(args.lock, "--lock")
    unwritable = preflight.unwritable(preflight.install_paths(store.target, store.root))  # before any download
    if unwritable and not args.dry_run:
        raise unwritable
    uv = Uv.locate()

    quick = _quick_noop(args, profile, store)
    if quick is not None:
        store.tidy()
        reporter.print(f"[green]✓[/] {store.target} already matches {quick['lockfile']}: nothing to do")
        quick["seconds"] = round(time.perf_counter() - t0, 3)
        return _recorded_verdict(reporter, quick, store, args.strict)

    lock_source = f"bundle {args.from_bundle}" if getattr(args, "from_bundle", None) else "--lock"
    workdir = Path(tempfile.mkdtemp(prefix="skyrl-setup-plan-"))
    try:
        return _plan_and_build(args, reporter, uv, profile, store, lock_source, workdir, t0, unwritable)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _plan_and_build(args, reporter, uv: Uv, profile, store: Store, lock_source: str, workdir: Path, t0: float,
                    unwritable) -> CommandResult:
    plan = gather_plan(PlanRequest.from_args(args, lock_source), uv, profile, store, workdir)
    render_plan(reporter, plan)
    if unwritable:
        reporter.warn(f"{unwritable.message}: the install would stop there")
    doc = {"plan": plan.to_json(), "dry_run": bool(args.dry_run)}
    if args.dry_run:
        return CommandResult(doc)

    with store.locked(wait=args.wait):
        for leftover in store.clean_leftovers():
            reporter.progress(f"removed leftover {leftover} of an interrupted run")
        hit("cleaned")
        store.check_target(backend=profile.name, force=args.force)
        preflight_disk(plan, store)
        if not args.force and is_noop(store, profile.name, plan.lock, project=plan.project, find_links=plan.find_links):
            reporter.print(f"[green]✓[/] {store.target} already matches {plan.lock.path.name}: nothing to do")
            return _recorded_verdict(reporter, {**doc, "noop": True, "seconds": round(time.perf_counter() - t0, 3)},
                                     store, args.strict)
        made_here = plan.lock is not None and plan.lock.path.parent == workdir  # a checkout's: keep it with the env
        result = build(plan, uv, store, progress=reporter.progress, verify=not args.no_verify,
                       adopt_lock=bool(getattr(args, "from_bundle", None)) or made_here)
    doc.update(_result_doc(result, store))
    gpu_checks = _gpu_probes(plan, store, reporter)
    doc["gpu_checks"] = [c.to_json() for c in gpu_checks]
    doc["seconds"] = round(time.perf_counter() - t0, 2)
    render_result(reporter, plan, result, store)
    for c in gpu_checks:
        reporter.print(f"  {MARKS[c.status]} {c.summary}" + (f"\n      fix: {c.fix}" if c.fix and c.status == "error" else ""))
    verdict = result.verdict
    if verdict is not None:
        render_verdict(reporter, verdict)
    not_ready = verdict is not None and not verdict.ready
    return CommandResult(doc, ExitCode.FAILED if not_ready and args.strict else ExitCode.OK)


def _recorded_verdict(reporter, doc: dict, store: Store, strict: bool) -> CommandResult:
    """A no-op install reports the verdict recorded when the environment was built."""
    from skyrl_setup.readiness import Verdict

    rec = (store.record() or {}).get("verdict")
    verdict = Verdict.from_json(rec) if rec else None
    doc.update(verdict=rec, ready=bool(verdict and verdict.ready))
    if verdict is not None:
        render_verdict(reporter, verdict)
    return CommandResult(doc, ExitCode.FAILED if strict and not (verdict and verdict.ready) else ExitCode.OK)


def render_verdict(reporter, verdict) -> None:
    """The one line a person can trust, then each blocker with its fix."""
    from rich.markup import escape

    if verdict.ready:
        reporter.print(f"[green]✓ {verdict.line()}[/]")
        return
    reporter.print(f"[red]✗ {escape(verdict.line())}[/]")
    for b in verdict.blockers:
        reporter.print(f"  [red]✗[/] {escape(b.module)}: {escape(b.reason)}")
        reporter.print(f"      [cyan]fix:[/] {escape(b.fix)}")


def preflight_disk(plan: InstallPlan, store: Store) -> None:
    """Refuse before downloading when the environment's or the cache's filesystem is too small.

    An installed stack takes about twice its wheels' size; uv's cache keeps the wheels
    unpacked (about the same again) unless it shares the filesystem, where files are linked.
    """
    if plan.lock is None:
        return
    margin = preflight.env_bytes("SKYRL_SETUP_DISK_MARGIN", 64 * 2**20)
    need_env = 2 * plan.lock.download_bytes + margin
    free_env = free_bytes(store.root)
    if free_env < need_env:
        raise PreconditionError(
            f"{human_bytes(free_env)} free at {existing_parent(store.root)}, the environment needs about {human_bytes(need_env)}",
            "free space there, or choose a --venv on a larger filesystem")


def _gpu_probes(plan: InstallPlan, store: Store, reporter) -> list:
    """The doctor's GPU probes against the new environment, where a real driver is present."""
    if not plan.driver.usable:
        return []
    from concurrent.futures import ThreadPoolExecutor

    from skyrl_setup.doctor import gpu_checks
    from skyrl_setup.probe import driver_probe, torch_probe

    reporter.step("probing the GPUs: a kernel through libcuda, a matmul through the new torch")
    with ThreadPoolExecutor(2) as pool:
        drv = pool.submit(driver_probe)
        tor = pool.submit(torch_probe, store.target / "bin" / "python")
        return (gpu_checks.check_driver_probe(drv.result(), plan.driver)
                + gpu_checks.check_torch_probe(tor.result(), plan.profile, plan.driver))


def _quick_noop(args, profile, store: Store) -> dict | None:
    """The fast path of a re-run: the record and the installed files already match the lock."""
    if args.force or args.dry_run or args.project or args.find_links or args.python or args.cuda or args.additions:
        return None
    rec = store.record()
    if not rec or rec.get("backend") != profile.name:
        return None
    lock_path = Path(args.lock) if args.lock else Path(rec.get("lock", {}).get("path", ""))
    if not args.lock and lock_path.parent != lockfiles_dir():
        return None
    try:
        lock = load_lock(lock_path, rec["python"]["version"], platform_tag())
    except Exception:  # noqa: BLE001 - any doubt means: take the full path
        return None
    if not is_noop(store, profile.name, lock, project=None, find_links=()):
        return None
    return {"noop": True, "venv": str(store.target), "backend": profile.name, "lockfile": str(lock.path),
            "generation": store.current()}


def _result_doc(result, store: Store) -> dict:
    return {"noop": False, "generation": result.generation, "previous_generation": result.previous,
            "venv": str(store.target), "path": str(result.path), "lockfile": str(result.lock.path) if result.lock else None,
            "imports": [r.to_json() for r in result.imports], "pruned": list(result.pruned),
            "verdict": result.verdict.to_json() if result.verdict else None,
            "ready": bool(result.verdict and result.verdict.ready),
            "activate": f"source {store.target}/bin/activate", "python": f"{store.target}/bin/python"}


def render_result(reporter, plan: InstallPlan, result, store: Store) -> None:
    for r in result.imports:
        mark = {"ok": "[green]✓[/]", "skipped": "[dim]-[/]"}.get(r.status, "[red]✗[/]")
        extra = f" {r.version}" if r.version else ""
        reporter.print(f"  {mark} import {r.module}{extra}" + (f" [dim]({r.detail})[/]" if r.detail else ""))
    built = "built and verified" if result.verdict is not None else "built (not verified: --no-verify)"
    reporter.print(f"[green]✓[/] {plan.backend} environment {built} at {store.target} "
                   f"(generation {result.generation}, {result.seconds:.1f} s)")
    reporter.print(f"  activate it with: [bold]source {store.target}/bin/activate[/]")
    if plan.profile.env:
        reporter.print("  runtime settings: " + " ".join(f"{k}={v}" for k, v in plan.profile.env.items()))
    if result.previous is not None:
        reporter.print(f"  the previous generation {result.previous} is kept: `skyrl-setup rollback --venv {store.target}`")
