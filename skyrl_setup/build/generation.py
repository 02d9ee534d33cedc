"""Build an environment from a complete plan: a new generation, uv sync, settings, verify, GPU probes, swap.

Everything before `store.swap_to` happens inside a generation the target does not point
at; any failure (or a kill) there leaves the current environment exactly as it was. The swap
is the commit point: a failure after it (a full disk while the record is marked) is reported
as such, and the new generation stays live.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.request import url2pathname

from packaging.utils import canonicalize_name

from skyrl_setup import __version__
from skyrl_setup.detect.index_config import detect_index
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.errors import OperationError, PreconditionError
from skyrl_setup.failpoints import hit
from skyrl_setup.locks.pylock import Lock, LockError, install_manifest, requirement_line
from skyrl_setup.locks.pylock import load_for_host as load_lock
from skyrl_setup.plan import fetch as index_route
from skyrl_setup.plan.model import InstallPlan
from skyrl_setup.redact import has_secret, redact
from skyrl_setup.store.generations import Store, now_iso
from skyrl_setup.store.record import CudaRecord, EnvRecord, LockRecord
from skyrl_setup.store.sharing import choose_link_mode
from skyrl_setup.store.venvinfo import installed_versions, public_version
from skyrl_setup.uv.backend import Uv
from skyrl_setup.verify.imports import ImportResult, venv_python, verify_imports
from skyrl_setup.verify.verdict import Blocker, Verdict, assess, real_import_list

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildResult:
    generation: int
    path: Path
    imports: tuple[ImportResult, ...] = ()
    lock: Lock | None = None
    seconds: float = 0.0
    previous: int | None = None
    pruned: tuple[int, ...] = field(default=())
    verdict: Verdict | None = None
    gpu_checks: tuple = ()  # doctor.Check of the probes run before the swap


def write_runtime_settings(venv: Path, env: dict[str, str], backend: str) -> None:
    """Make the profile's runtime variables part of the environment.

    `source bin/activate` exports them; a .pth file sets them as defaults in every
    interpreter of the venv, so processes that never source activate (Ray workers started
    through py_executable, say) get them too, while a value the user set still wins.
    """
    if not env:
        return
    block = [f"# >>> skyrl-setup: runtime settings of the {backend} profile >>>"]
    block += [f"export {k}={json.dumps(v)}" for k, v in sorted(env.items())]
    block.append("# <<< skyrl-setup <<<")
    with open(venv / "bin" / "activate", "a", encoding="utf-8") as fh:
        fh.write("\n" + "\n".join(block) + "\n")
    site = next((venv / "lib").glob("python3.*/site-packages"))
    line = "import os; " + "; ".join(f"os.environ.setdefault({k!r}, {v!r})" for k, v in sorted(env.items()))
    (site / "skyrl_setup_env.pth").write_text(line + "\n", encoding="utf-8")


def write_private(path: Path, text: str) -> None:
    """Write a file uv reads; one that holds a mirror's password (user:pw@ or ?token=) is readable by its owner only."""
    secret = has_secret(text)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with open(fd, "w", encoding="utf-8") as fh:
        if secret:
            os.fchmod(fd, 0o600)
        fh.write(text)


def build(plan: InstallPlan, uv: Uv, store: Store, *, progress: Progress, verify: bool = True,
          action: str = "install", record_extra: dict | None = None, adopt_lock: bool = False,
          probe_gpus: Callable[[InstallPlan, Path], list] | None = None) -> BuildResult:
    """Build `plan` (complete: its lock resolved while planning) as a new generation and make it current.
    `adopt_lock` copies a lock that lives outside lockfiles/ into the generation, which records it.
    `probe_gpus(plan, python)`: the GPU probes, run against the new generation before the swap."""
    if plan.lock is None:
        raise ValueError("build() takes a complete plan: resolve its lock while planning")
    t0 = time.perf_counter()
    previous = store.current()
    n, gen = store.new_generation()
    try:
        gen.mkdir(parents=True)
        hit("generation-created")
        py = venv_python(gen)
        progress(f"creating generation {n} with Python {plan.python.version}")
        uv.venv(gen, plan.python.path, f"skyrl-{plan.backend}")
        hit("venv-created")
        lock = plan.lock
        if adopt_lock:
            shutil.copyfile(lock.path, gen / lock.path.name)
            lock = load_lock(gen / lock.path.name, plan.python.version, plan.platform)
        progress(f"installing {len(lock.packages)} packages from {lock.path.name}")
        late = [p for p in lock.from_source if p.name in plan.profile.build_from_source]
        cfg = detect_index()
        routes = index_route.routes_for(lock, plan.profile, plan.mirrors, plan.artifacts, cfg)
        by_name = index_route.by_name(routes)
        manifest = gen / "requirements.lock.txt"
        write_private(manifest, install_manifest(lock, skip=frozenset(p.name for p in late), rewrite=plan.mirrors.rewrite,
                                                 by_name=by_name))
        link_mode, why = choose_link_mode(gen)  # the probe file goes with the generation if a kill comes
        progress(f"files from uv's cache: {link_mode} ({why})")
        link_env = {"UV_LINK_MODE": link_mode}
        index_env = {**(cfg.uv_env() if by_name else {}), **link_env}  # pip's settings, which uv does not read
        # pinned by version and hash, a file may come from whichever configured index has it
        where: dict = {"index_strategy": "unsafe-best-match"} if by_name and cfg.extra else {}
        if lock.from_source:
            # An isolated build otherwise takes the newest torch and some sdists write the torch they were
            # built with into their metadata (flashinfer-python 0.2.6.post1: torch==2.15.*, next to 2.7.1).
            constraints = gen / "build-constraints.txt"
            constraints.write_text("".join(f"{p.name}=={public_version(p.version)}\n" for p in lock.packages
                                           if p.source in ("wheel", "sdist") and p.version), encoding="utf-8")
            where["build_constraints"] = constraints
        where["find_links"] = plan.find_links
        try:
            uv.pip_sync(manifest, py, what=f"installing {lock.path.name}", on_line=progress, failpoint="uv-sync-started",
                        extra_env=index_env, **where)
        except OperationError as exc:
            raise _explain(exc, lock, routes, plan.mirrors) from None
        hit("synced")
        if late:
            try:
                _build_late(uv, late, py, gen, progress, lock, plan.mirrors, by_name, where, index_env)
            except OperationError as exc:
                raise _explain(exc, lock, routes, plan.mirrors) from None
        for p in lock.unhashed:  # a git commit, or a checkout's folder (editable): pinned, not hashed
            if p.url is None:  # an entry without its url or path (requirement_line refuses the same for a file)
                raise LockError(f"lockfile {lock.path}: {p.name} has no URL for this platform",
                                "regenerate it with `skyrl-setup lock` for this platform")
            progress(f"installing {p.name} from {redact(p.url)}")
            editable = p.source == "directory"
            target = Path(url2pathname(p.url[len("file://"):])).as_posix() if editable else p.url
            uv.pip_install(py, [target], editable=editable, no_deps=True, what=f"installing {p.name}", extra_env=index_env)
        _install_artifacts(uv, plan, lock, py, progress, link_env)
        hit("artifacts-installed")
        if plan.project:
            progress(f"installing your SkyRL checkout {plan.project} (editable)")
            uv.pip_install(py, [str(plan.project)], editable=True, no_deps=True, what=f"installing {plan.project}",
                           extra_env=link_env)
        write_runtime_settings(gen, plan.profile.env, plan.backend)
        hit("settings-written")
        imports: tuple[ImportResult, ...] = ()
        verdict = None
        if verify:
            skyrl_modules = real_import_list(plan.profile, plan.driver.usable)
            progress("verifying: importing " + ", ".join(plan.profile.modules + tuple(skyrl_modules)))
            imports = tuple(verify_imports(py, plan.profile.modules + tuple(skyrl_modules), plan.profile.gpu_modules,
                                           have_driver=plan.driver.usable))
            failed = [r for r in imports if r.status == "error" and r.module not in skyrl_modules]
            if failed:
                raise OperationError(
                    f"verification failed: import {failed[0].module}: {failed[0].detail}",
                    "the previous environment is unchanged; see `skyrl-setup doctor` and the import errors above",
                    details={"imports": [r.to_json() for r in imports]},
                )
            progress("verifying: SkyRL's code paths for " + plan.backend)
            verdict = assess(py, plan.profile, gpu_usable=plan.driver.usable, imports=imports, checkout=plan.project is not None,
                             wheels={a.name: a.url.rsplit("/", 1)[-1] for a in plan.artifacts})
            wrong = verdict.environment_blockers
            if wrong:
                raise OperationError(
                    f"verification failed: SkyRL cannot run here: {wrong[0].module}: {wrong[0].reason}",
                    f"the previous environment is unchanged; {wrong[0].fix}",
                    details={"verdict": verdict.to_json()},
                )
            imports = tuple(r for r in imports if r.module not in skyrl_modules)
        hit("verified")
        gpu = ()
        if probe_gpus and plan.driver.usable:
            progress("probing the GPUs before the swap: a kernel through libcuda, a matmul through the new torch")
            gpu = tuple(probe_gpus(plan, py))
        verdict = _judge_gpus(plan, gpu, verdict)
        store.write_record(n, _record(plan, lock, n, previous, store, imports, action, record_extra, verdict, link_mode))
        hit("record-written")
        store.swap_to(n)
    except BaseException:
        store.discard(n)  # refuses the current generation: a swap that happened stands
        raise
    store.commit(n)  # the swap was the commit point: nothing after it removes n
    hit("swapped")
    pruned = tuple(store.prune())
    hit("pruned")
    # where rollback would go now (not simply the one live before: that one may be gone)
    return BuildResult(n, gen, imports, lock, time.perf_counter() - t0, store.previous(), pruned, verdict, gpu)


def _explain(exc: OperationError, lock: Lock, routes: tuple, mirrors: Mirrors) -> OperationError:
    """Name where the package uv failed on came from; a file with other bytes than the lock's, in one line."""
    m = re.search(r"`([A-Za-z0-9_.-]+)(?:==[^`]+| @ [^`]+)`", exc.message)
    pkg = next((p for p in lock.packages if m and p.name == canonicalize_name(m.group(1))), None)
    if pkg is None or not pkg.url:
        return exc
    route = next((r for r in routes if pkg.name in r.names), None)
    where = route.where if route and route.via == "index" else redact(mirrors.rewrite(pkg.url))
    if exc.uv_failure == "hash-mismatch":
        computed = _computed_hash(exc.details.get("uv_log"), pkg.sha256 or "")
        exc.message = (f"{pkg.name} {pkg.version} from {where}: the file served has sha256 {computed}, "
                       f"the lock says {pkg.sha256}: refused, nothing installed")
        exc.hint = ("that index or mirror serves other bytes than the lock's file; the current environment is unchanged. "
                    "Ask its operator, or point UV_INDEX_URL (or --mirror FROM=TO) at one serving the same files; "
                    f"uv's full output is in {exc.details.get('uv_log')}")
    elif "://" not in exc.message:
        exc.message += f" (from {where})"
    return exc


def _computed_hash(log: str | None, expected: str) -> str:
    """The sha256 uv computed for the file, from its log ("Computed: sha256:..."); "unknown" if absent."""
    try:
        text = Path(log).read_text(encoding="utf-8", errors="replace") if log else ""
    except OSError:
        text = ""
    found = [h for h in re.findall(r"sha256:([0-9a-f]{64})", text.split("Computed", 1)[-1]) if h != expected]
    return found[0] if "Computed" in text and found else "unknown"


def _build_late(uv: Uv, pkgs: list, py: Path, gen: Path, progress: Progress, lock: Lock, mirrors: Mirrors,
                by_name: frozenset = frozenset(), where: dict | None = None,
                extra_env: dict[str, str] | None = None) -> None:
    """Build sdists with no isolation, so they compile against the environment's own torch; hashes enforced."""
    req = gen / "requirements.from-source.txt"
    write_private(req, "".join(requirement_line(p, lock, mirrors.rewrite, by_name) for p in pkgs))
    progress("building from source against the installed torch: " + ", ".join(p.name for p in pkgs))
    uv.pip_install(py, requirements=req, no_deps=True, no_build_isolation=True, require_hashes=True,
                   what="building " + ", ".join(p.name for p in pkgs), on_line=progress, extra_env=extra_env, **(where or {}))


def _judge_gpus(plan: InstallPlan, checks: tuple, verdict: Verdict | None) -> Verdict | None:
    """A failing GPU probe on a GPU host: with --require-gpu the install fails (exit 4, nothing swapped);
    otherwise the environment is built but not ready, the probe's finding a blocker in the verdict."""
    failed = [c for c in checks if c.status == "error"]
    if not failed:
        return verdict
    if plan.require_gpu:
        raise PreconditionError(f"GPU probe failed: {failed[0].summary}",
                                f"the previous environment is unchanged; {failed[0].fix or 'see `skyrl-setup doctor`'}",
                                details={"gpu_checks": [c.to_json() for c in checks]})
    blockers = tuple(Blocker(c.id, c.summary, c.fix or "see `skyrl-setup doctor`", "gpu") for c in failed)
    return dataclasses.replace(verdict, blockers=verdict.blockers + blockers) if verdict else None


def _install_artifacts(uv: Uv, plan: InstallPlan, lock: Lock, py: Path, progress: Progress, link_env: dict[str, str]) -> None:
    """Components from outside the indexes; a required one resolved into the lock is there already."""
    for a in plan.artifacts:
        if a.status == "unreachable" or a.name in lock.versions():
            continue
        progress(f"installing {a.name} {a.version} from {a.status}")
        # --no-deps: the lock already holds what these wheels need (torch, einops via transformers...).
        uv.pip_install(py, [a.location], no_deps=True, what=f"installing {a.name}", extra_env=link_env)


def _record(plan: InstallPlan, lock: Lock, n: int, previous: int | None, store: Store, imports: tuple[ImportResult, ...],
            action: str, extra: dict | None, verdict: Verdict | None, link_mode: str | None) -> EnvRecord:
    old = store.record(previous) if previous is not None else None
    history = old.history if old and old.backend == plan.backend else ()
    return EnvRecord(
        backend=plan.backend, generation=n, store=str(store.root),  # where it was built: a venv cannot move
        activated=False,  # set once the swap made it current
        created=now_iso(), profile=str(plan.profile.path), tool_version=__version__, pid=os.getpid(),
        lock=LockRecord(str(lock.path), lock.sha256, plan.lock_source), python=plan.python.to_json(),
        cuda=CudaRecord(plan.cuda.variant, plan.driver.version, plan.cuda.reason),
        packages=installed_versions(store.gen_path(n)) or {}, env=dict(plan.profile.env),
        artifacts=tuple(a.to_json() for a in plan.artifacts), project=str(plan.project) if plan.project else None,
        additions=tuple(plan.additions), imports=tuple(r.to_json() for r in imports),
        verdict=verdict.to_json() if verdict else None, skyrl_lock=lock.skyrl_identity,
        skyrl_release=plan.profile.release.id if plan.profile.release else None, link_mode=link_mode,
        history=history,
    ).with_history({"time": now_iso(), "action": action, "generation": n, "from_generation": previous,
                    "lock_sha256": lock.sha256, **(extra or {})})
