"""The planning stage: from what was asked (plan.model.PlanRequest) and what detection found, a complete
InstallPlan. Every package is known when it returns: where no committed lock fits (additions, a
profile without one) the lock is resolved here, so `--dry-run` lists it and the build never resolves."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from skyrl_setup import settings
from skyrl_setup.catalog.cuda_policy import choose_variant
from skyrl_setup.catalog.data import lockfiles_dir
from skyrl_setup.catalog.lockfiles import matrix_lock
from skyrl_setup.detect.gpu import detect_driver
from skyrl_setup.detect.prereqs import check as check_prereqs
from skyrl_setup.detect.python import find_python
from skyrl_setup.detect.system import existing_parent, free_bytes, platform_tag
from skyrl_setup.detect.target import Target
from skyrl_setup.errors import ConflictError, PreconditionError, SetupError, UsageError
from skyrl_setup.humanize import human_bytes
from skyrl_setup.locks.pylock import Lock, python_refused
from skyrl_setup.locks.pylock import load_for_host as load_lock
from skyrl_setup.plan.artifacts import EarlyProbes, plan_artifacts, reachable, to_fetch
from skyrl_setup.plan.basis import require_compatible
from skyrl_setup.plan.fetch import routes_for
from skyrl_setup.plan.model import InstallPlan, PlanRequest, make_plan
from skyrl_setup.plan.routes import PROBE_TIMEOUT, choose_route
from skyrl_setup.store.generations import Store
from skyrl_setup.uv.backend import Uv


def select_lock(explicit: str | None, backend: str, variant: str, platform: str, python_full: str,
                source: str = "--lock") -> tuple[Lock | None, str]:
    if explicit:
        return load_lock(Path(explicit), python_full, platform), source
    path = matrix_lock(lockfiles_dir(), backend, variant, platform).path
    if path.is_file():
        return load_lock(path, python_full, platform), "committed lockfile"
    return None, "resolved while planning"


def _source_candidates(uv: Uv, folder: Path, profile, platform: str, python_full: str, workdir: Path, *,
                       checkout: bool) -> list:
    """A SkyRL folder's own lock for the backend's extra, by the same two routes as the committed
    ones (`checkout`: its path members and skyrl-train itself from the checkout, editable); the
    PyPI route is resolved only if it is tried."""
    from skyrl_setup.locks import skyrl as skyrl_locks
    from skyrl_setup.locks import skyrl_source

    source = skyrl_source.read(folder)
    skyrl_source.require_extra(source, profile.skyrl_extra)
    if source.requires_python and not SpecifierSet(source.requires_python).contains(python_full):
        raise PreconditionError(f"{folder} requires Python {source.requires_python}; the Python found is {python_full}",
                                "give one that matches with --python PATH")
    makers = {"skyrl": lambda: skyrl_locks.exact_lock(uv, source, profile, workdir, checkout=checkout).path,
              "pypi": lambda: skyrl_locks.pypi_lock(uv, source, profile, platform, workdir, checkout=checkout).path}
    return [(r, makers[r]) for r in profile.routes]


def _check_requires_python(lock: Lock | None, python, *, forced: bool) -> None:
    """Before anything is built: the lock's requires-python holds for the interpreter chosen (exit 2 where the user
    named it with --python, 4 where it was found)."""
    if lock is None:
        return
    spec = python_refused(lock, python.version)
    if spec is None:
        return
    message = f"{lock.path} requires Python {spec}; the Python {'given' if forced else 'found'} is {python.version} ({python.path})"
    hint = "give a Python that matches with --python PATH, or use a lock made for Python " + ".".join(python.version.split(".")[:2])
    raise (UsageError if forced else PreconditionError)(message, hint)


def host_target(profile, python: str | None, cuda: str | None) -> Target:
    """The target a check made before planning judges: the Python the planner would find (without downloading
    one; the profile's minor .0 where none is found yet, the planner then says so) and the variant asked for."""
    try:
        version = find_python(Uv.locate(), profile.python, python, allow_download=False).version
    except SetupError:
        version = f"{profile.python}.0"
    return Target.for_host(version, cuda or profile.variants[0])


def gather_plan(req: PlanRequest, uv: Uv, profile, store: Store, workdir: Path, *, progress=lambda line: None,
                resolve: bool = True) -> InstallPlan:
    """`workdir`: where a lock made while planning is written; the caller removes it (or the build adopts
    the lock). `resolve=False`: the caller resolves its own lock (upgrade's moves)."""
    find_links = tuple(Path(d).resolve() for d in req.find_links)
    for d in find_links:
        if not d.is_dir():
            raise UsageError(f"--find-links {d}: not a directory", "give a folder that holds wheel files")
    project = Path(req.project).resolve() if req.project else None
    if project and not ((project / "pyproject.toml").is_file() or (project / "setup.py").is_file()):
        raise UsageError(f"--project {project}: no pyproject.toml there", "point --project at a SkyRL checkout's skyrl-train folder")
    python = find_python(uv, profile.python, req.python)
    driver = detect_driver()
    requested = req.cuda or settings.current().cuda or "auto"
    if requested != "auto" and requested not in profile.variants:
        raise UsageError(f"CUDA variant {requested!r} is not one the {profile.name} profile supports ({', '.join(profile.variants)})",
                         "use --cuda auto or one of those variants")
    platform = platform_tag()
    route = adds_to = None
    answers: dict[str, str | None] = {}  # the pre-check and the route choice ask each place once
    early = EarlyProbes(PROBE_TIMEOUT, req.offline)  # a route's artifacts, asked beside its own places

    def probe(url: str) -> str | None:
        if url not in answers:
            answers[url] = reachable(url, PROBE_TIMEOUT, offline=req.offline)
        return answers[url]

    if req.additions:  # from metadata, before any file is fetched or probed: a clash in one sentence (exit 3)
        first = choose_variant(profile.variants, driver.version, requested)  # the variant a route is judged by
        res = require_compatible([profile], list(req.additions), target=Target.for_host(python.version, first.variant),
                                 mirrors=req.mirrors, probe=probe)
        progress(f"compatible: {', '.join(req.additions)} with the {profile.name} pins ({res.seconds:.2f} s)")
    if profile.from_skyrl and not req.lock:
        folder = Path(req.skyrl_source) if req.skyrl_source else project  # upgrade --from-skyrl DIR wins over a recorded checkout
        checkout = project is not None and folder == project
        candidates = _source_candidates(uv, folder, profile, platform, python.version, workdir, checkout=checkout) if folder else None
        def artifacts_of(lock: Lock, variant: str) -> None:  # as below, for a route's lock
            locked = lock.versions()
            try:
                early.start(to_fetch(tuple(a for a in profile.artifacts if a.name not in locked), variant,
                                     Version(locked.get("torch", profile.torch)).public, profile.python, find_links, req.mirrors))
            except ValueError:  # a torch version that is not one: found below, where it is judged
                pass
        route = choose_route(profile, platform, python.version, driver, requested, probe, req.mirrors, candidates,
                             alongside=artifacts_of)
        choice = route.cuda
        whose = "your checkout's uv.lock" if checkout else f"{folder}/uv.lock" if folder else "committed lockfile"
        lock, source = (None, f"resolved while planning (with your additions, on {whose}, route {route.route})") \
            if req.additions else (route.lock, f"{whose}, route {route.route}")
        adds_to = route.lock
    else:
        choice = choose_variant(profile.variants, driver.version, requested)
        if req.additions and not req.lock:
            adds_to, whose = select_lock(None, profile.name, choice.variant, platform, python.version)
            lock, source = None, "resolved while planning (with your additions" + (", on the committed lockfile)" if adds_to else ")")
        else:
            lock, source = select_lock(req.lock, profile.name, choice.variant, platform, python.version, req.lock_source)
    target = Target.for_host(python.version, choice.variant)
    basis = lock or (route.lock if route else None)
    _check_requires_python(basis, python, forced=bool(req.python))
    torch = basis.versions().get("torch", profile.torch) if basis else profile.torch
    locked = set(basis.versions()) if basis else set()  # a route whose lock has the prebuilt wheel needs no artifact
    artifacts = plan_artifacts(tuple(a for a in profile.artifacts if a.name not in locked), choice.variant, Version(torch).public,
                               profile.python, find_links, req.mirrors, offline=req.offline, timeout=PROBE_TIMEOUT, early=early)
    from_source = tuple(p.name for p in lock.from_source) if lock else profile.build_from_source
    heavy = tuple(n for n in from_source if n in profile.build_from_source)
    major = choice.variant[2:-1] if choice.variant.startswith("cu") else ""
    names = frozenset(lock.versions()) if lock else frozenset({f"nvidia-cudnn-cu{major}", f"nvidia-nccl-cu{major}"})
    prereqs = check_prereqs(heavy, f"{major}.{choice.variant[-1]}", names) if heavy and major else []
    plan = make_plan(profile=profile, target=store.target, platform=platform, python=python, driver=driver, cuda=choice,
                     lock=lock, lock_source=source, artifacts=artifacts, project=project, find_links=find_links,
                     require_gpu=req.require_gpu, additions=req.additions, prereqs=tuple(prereqs), route=route,
                     mirrors=req.mirrors, build_for=target)
    if plan.lock is None and resolve:
        plan = replace(plan, lock=_resolve(plan, uv, workdir, progress, adds_to, req.allow_moves))
    return replace(plan, fetch=routes_for(plan.lock, profile, req.mirrors, artifacts)) if plan.lock else plan


def _resolve(plan: InstallPlan, uv: Uv, workdir: Path, progress, basis: Lock | None = None, allow_moves: bool = False) -> Lock:
    """With `basis` (the route's or committed lock): the additions on top of it, each of its packages held at its
    version; where that cannot resolve, resolved again without holding them, to name what the additions would move."""
    from skyrl_setup.locks import compile as locking

    progress(f"resolving {plan.backend} for {plan.cuda.variant}" + (f" with {', '.join(plan.additions)}" if plan.additions else ""))
    extra = tuple(f"{a.name} @ {Path(a.location).as_uri() if a.status == 'find-links' else a.location}"
                  for a in plan.artifacts if a.required)

    def compile_(constrain: bool) -> Lock:
        out = locking.compile_lock(uv, plan.profile, variant=plan.cuda.variant, platform=plan.platform,
                                   output=workdir / "pylock.resolved.toml", extra_requirements=extra, additions=plan.additions,
                                   find_links=plan.find_links, on_line=progress, mirrors=plan.mirrors, target=plan.build_for,
                                   basis=basis, hold=basis if constrain else None)
        return load_lock(out, plan.python.version, plan.platform)

    if basis is None:
        return compile_(False)
    try:
        return compile_(True)
    except ConflictError as held:
        try:
            free = compile_(False)
        except SetupError:
            raise held from None
    old, new = basis.versions(), free.versions()
    moves = [f"{n} {v} -> {new.get(n, 'removed')}" for n, v in sorted(old.items()) if new.get(n) != v]
    if not moves:
        return free
    if not allow_moves:
        raise ConflictError(f"{', '.join(plan.additions)} would move SkyRL's tested set: {'; '.join(moves)}",
                            "pass --allow-moves to accept it, or choose a version of the addition that fits the lock",
                            details={"moves": moves})
    for m in moves:
        progress(f"moved by your additions (--allow-moves): {m}")
    return free


def preflight_disk(plan: InstallPlan, store: Store) -> None:
    """Refuse before downloading when the environment's or the cache's filesystem is too small.

    An installed stack takes about twice its wheels' size; uv's cache keeps the wheels
    unpacked (about the same again) unless it shares the filesystem, where files are linked.
    """
    if plan.lock is None:
        return
    margin = settings.current().disk_margin
    need_env = 2 * plan.lock.download_bytes + margin
    free_env = free_bytes(store.root)
    if free_env < need_env:
        raise PreconditionError(
            f"{human_bytes(free_env)} free at {existing_parent(store.root)}, the environment needs about {human_bytes(need_env)}",
            "free space there, or choose a --venv on a larger filesystem")
