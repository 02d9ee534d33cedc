"""The install plan: every decision made before anything is downloaded, as one value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from skyrl_setup.catalog.cuda_policy import VariantChoice
from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.detect.gpu import DriverInfo
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.detect.python import PythonInfo
from skyrl_setup.errors import OperationError, PreconditionError
from skyrl_setup.locks.pylock import Lock
from skyrl_setup.plan.artifacts import ArtifactPlan
from skyrl_setup.redact import redact

if TYPE_CHECKING:  # imported for their types only: the plan does not load the route and fetch machinery
    from skyrl_setup.detect.prereqs import Prereq
    from skyrl_setup.detect.target import Target
    from skyrl_setup.plan.fetch import Route
    from skyrl_setup.plan.routes import RouteChoice


@dataclass(frozen=True)
class PlanRequest:
    """What was asked for, as far as planning needs it: from install's flags, or from an
    environment's record when upgrade rebuilds it."""

    python: str | None = None  # a path or "3.12"; None: discover
    cuda: str | None = None  # a variant, "auto" or None
    lock: str | None = None  # an explicit lockfile
    lock_source: str = "--lock"  # how an explicit lock is described in the plan
    find_links: tuple[str, ...] = ()
    project: str | None = None
    additions: tuple[str, ...] = ()
    allow_moves: bool = False  # an addition may move packages of the basis lock
    require_gpu: bool = False
    skyrl_source: str | None = None  # a SkyRL folder whose uv.lock replaces the committed locks (upgrade --from-skyrl)
    mirrors: Mirrors = field(default_factory=Mirrors)
    offline: bool = False  # a bundle's install: nothing may leave this machine


@dataclass(frozen=True)
class InstallPlan:
    profile: Profile
    target: Path
    platform: str  # linux_x86_64
    python: PythonInfo
    driver: DriverInfo
    cuda: VariantChoice
    lock: Lock | None  # None only before the planner resolves it (upgrade resolves its own)
    lock_source: str
    torch_index: str  # "pypi" or the URL of the torch-family index
    artifacts: tuple[ArtifactPlan, ...]
    project: Path | None
    find_links: tuple[Path, ...]
    warnings: tuple[str, ...]
    additions: tuple[str, ...] = ()
    prereqs: tuple[Prereq, ...] = ()  # for what is built from source
    route: RouteChoice | None = None  # where the backend comes from SkyRL's lock
    fetch: tuple[Route, ...] = ()  # which index or mirror each group of the lock's files comes from
    mirrors: Mirrors = field(default_factory=Mirrors)
    require_gpu: bool = False
    build_for: Target | None = None  # the Python, platform, glibc and CUDA variant judged and resolved for

    @property
    def backend(self) -> str:
        return self.profile.name

    @property
    def to_build(self) -> list[str]:
        built = [p.name for p in self.lock.from_source] if self.lock else []
        return sorted(set(built) | set(self.profile.build_from_source if self.lock is None else ()))

    def sources(self) -> dict:
        """Every component by where it comes from."""
        out: dict = {"index": 0, "url": [], "built_from_source": self.to_build, "find_links": [], "bundle": 0}
        if self.lock:
            key = "bundle" if self.lock_source.startswith("bundle") else "index"
            out[key] = sum(1 for p in self.lock.packages if p.source == "wheel")
        for a in self.artifacts:
            if a.status == "url":
                out["url"].append(a.name)
            elif a.status == "find-links":
                out["find_links"].append(a.name)
        return out

    def to_json(self) -> dict:
        return {
            "backend": self.backend,
            "summary": self.profile.summary,
            "venv": str(self.target),
            "platform": self.platform,
            "build_for": self.build_for.to_json() if self.build_for else None,
            "python": {"version": self.python.version, "path": self.python.path, "source": self.python.source},
            "cuda": {"variant": self.cuda.variant, "driver": self.driver.version, "reason": self.cuda.reason,
                     "driver_source": self.driver.source},
            "gpus": [g.to_json() for g in self.driver.gpus],
            "lockfile": str(self.lock.path) if self.lock else None,
            "route": self.route.to_json() if self.route else None,
            "skyrl_lock": self.lock.skyrl_identity if self.lock else {},
            "lock_changes": list(self.lock.tool.get("changes") or []) if self.lock else [],
            "skyrl_release": self.profile.release.to_json() if self.profile.release else None,
            "skyrl_newer": _newer(self.profile),
            "lock_sha256": self.lock.sha256 if self.lock else None,
            "lock_source": self.lock_source,
            "torch_index": redact(self.torch_index),
            "packages": [{"name": p.name, "version": p.version} for p in self.lock.packages] if self.lock else [],
            "package_count": len(self.lock.packages) if self.lock else None,
            "download_bytes": self.lock.download_bytes if self.lock else None,
            "build_from_source": self.to_build,
            "artifacts": [a.to_json() for a in self.artifacts],
            "project": str(self.project) if self.project else None,
            "additions": list(self.additions),
            "build_prerequisites": [p.to_json() for p in self.prereqs],
            "sources": self.sources(),
            "fetch": [{**r.to_json(), "describe": r.describe()} for r in self.fetch],
            "warnings": list(self.warnings),
            "env": dict(self.profile.env),
        }


def make_plan(*, profile: Profile, target: Path, platform: str, python: PythonInfo, driver: DriverInfo, cuda: VariantChoice,
              lock: Lock | None, lock_source: str, artifacts: tuple[ArtifactPlan, ...], project: Path | None,
              find_links: tuple[Path, ...], require_gpu: bool, additions: tuple[str, ...] = (),
              prereqs: tuple[Prereq, ...] = (), route: RouteChoice | None = None, mirrors: Mirrors = Mirrors(),
              build_for: Target | None = None) -> InstallPlan:
    """Combine detection results into a plan, or raise the precondition that stops it."""
    if cuda.error:
        raise PreconditionError(cuda.error, "upgrade the NVIDIA driver (see `skyrl-setup doctor`), or pick another --cuda variant")
    if require_gpu and (driver.version is None or (driver.source != "override" and not driver.gpus)):
        raise PreconditionError("no NVIDIA GPU found and --require-gpu was given",
                                "run on a GPU node, check `nvidia-smi`, or drop --require-gpu to build on a CPU host")
    missing = [a for a in artifacts if a.required and a.status == "unreachable"]
    if missing:
        a = missing[0]
        raise OperationError(
            f"{a.name} {a.version} is required and cannot be fetched from {redact(a.url)} ({a.error})",
            "download that file on a machine that can reach it and pass its folder with --find-links DIR",
            details={"artifacts": [m.to_json() for m in missing]},
        )
    missing_build = [p for p in prereqs if not p.ok and p.blocking]
    if missing_build:
        lines = "; ".join(f"{p.name}: {p.found} → {p.fix}" for p in missing_build)
        raise PreconditionError(f"cannot build {', '.join(profile.build_from_source) or 'from source'}: {len(missing_build)} prerequisite(s) missing: {lines}",
                                "install what is listed, then re-run; nothing was downloaded or built",
                                details={"build_prerequisites": [p.to_json() for p in prereqs]})
    warnings = list(cuda.warnings)
    warnings += [f"{p.name}: {p.found}; {p.fix}" for p in prereqs if not p.ok and not p.blocking]
    for a in artifacts:
        if not a.required and a.status == "unreachable":
            # "optional" only to the build: whether SkyRL can train without it is the verdict's to say, from its code
            warnings.append(f"{a.name} {a.version} cannot be fetched from {redact(a.url)} ({a.error}): the environment "
                            f"is built without it, and is not ready if SkyRL's code imports it; supply it with --find-links DIR")
    if lock is not None and lock.from_source:
        names = ", ".join(p.name for p in lock.from_source)
        warnings.append(f"built from source (no wheel in the lock for this platform): {names}")
    if lock is not None and lock.tool.get("python") and lock.tool["python"] != python.minor:
        warnings.append(f"lockfile was made for Python {lock.tool['python']}, building with {python.version}")
    return InstallPlan(profile, target, platform, python, driver, cuda, lock, lock_source, profile.index_for(cuda.variant, mirrors),
                       artifacts, project, find_links, tuple(warnings), additions, tuple(prereqs), route,
                       mirrors=mirrors, require_gpu=require_gpu, build_for=build_for)


def _newer(profile) -> str | None:
    """A newer SkyRL release with this backend than the one planned, named so the summary can say so."""
    from skyrl_setup.catalog import releases

    if profile.release is None:
        return None
    newest = releases.newest_for(profile.name)
    return newest.label if newest and newest.key > profile.release.key else None
