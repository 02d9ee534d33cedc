"""The lock a check judges against: the one `install` takes on this host, or the one an environment was built from.

A SkyRL-sourced backend has one committed lock per route (plan/routes.py), and its profile's pins are
the union of the routes' requirements: they name packages only one route holds (flashinfer-jit-cache
comes from flashinfer's index alone, so the PyPI route leaves it out). Judged against those pins, a
check fails on every host that takes the other route. So the pre-check (check-compat, install
--with), doctor and the Dockerfile judge one lock: the route's that install picks here (the same
decision, the same probes), or, for an environment, the lock its record names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.detect.target import Target
from skyrl_setup.errors import ConflictError, SetupError
from skyrl_setup.locks.pylock import Lock, load_for_host
from skyrl_setup.store.record import EnvRecord

if TYPE_CHECKING:
    from skyrl_setup.plan.routes import RouteChoice
    from skyrl_setup.resolver.check import CompatResult

@dataclass(frozen=True)
class Basis:
    lock: Lock
    source: str  # how it was chosen, in words
    route: RouteChoice | None = None  # where a route was chosen here

    def to_json(self) -> dict:
        return {"lockfile": str(self.lock.path), "lock_sha256": self.lock.sha256, "source": self.source,
                "route": self.route.route if self.route else self.lock.tool.get("route"),
                "routes_not_taken": list(self.route.skipped) if self.route else []}


def host_route(profile, python_full: str, platform: str, driver, mirrors, *, cuda: str | None = None,
               probe: Callable[[str], str | None] | None = None):
    """The route `install` takes here for a SkyRL-sourced profile (plan.routes.RouteChoice): this driver, these GPUs,
    the same reachability probes. `cuda`: the variant asked for; None or "auto": the route decides."""
    from skyrl_setup.plan.artifacts import reachable
    from skyrl_setup.plan.routes import PROBE_TIMEOUT, choose_route

    return choose_route(profile, platform, python_full, driver, cuda or "auto", probe or (lambda u: reachable(u, PROBE_TIMEOUT)), mirrors)


def cached_probe(url: str) -> str | None:
    """plan.artifacts.reachable, asked once per folder (an index: download.pytorch.org/whl/cu128, a mirror's repository)
    and its answer kept beside the index cache as long as an index page is: a warm pre-check asks nothing of the
    network, as it did before it judged routes. An answer of offline mode is not kept."""
    from skyrl_setup.plan.artifacts import reachable
    from skyrl_setup.resolver.index import cache_root, page_ttl

    where = url.rstrip("/").rsplit("/", 1)[0]  # one probe per index or host: its folder, not its file
    path = cache_root() / "reach" / hashlib.sha256(where.encode()).hexdigest()
    try:
        if time.time() - path.stat().st_mtime < page_ttl():
            return path.read_text(encoding="utf-8") or None
    except OSError:
        pass
    from skyrl_setup.plan.routes import PROBE_TIMEOUT

    err = reachable(url, PROBE_TIMEOUT)
    if err != "offline mode":
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(err or "", encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # an unwritable cache: asked again next time
    return err


def route_basis(profile, python_full: str, platform: str, driver, mirrors, *, cuda: str | None = None,
                probe: Callable[[str], str | None] | None = None) -> Basis:
    choice = host_route(profile, python_full, platform, driver, mirrors, cuda=cuda, probe=probe)
    return Basis(choice.lock, f"route {choice.route}, as install takes it here", choice)


def recorded_basis(record: EnvRecord | None, profile, platform: str) -> Basis | None:
    """The lock the environment's record says it was built from, where the record is this backend's and release's
    and the file is still there; None otherwise."""
    if not record or record.backend != profile.name:
        return None
    if profile.release is not None and record.skyrl_release not in (None, profile.release.id):
        return None  # doctor --skyrl OTHER: judged against that release, not the one installed
    path = Path(record.lock.path)
    python = record.python_version or f"{profile.python}.0"
    try:
        lock = load_for_host(path, python, platform) if path.is_file() else None
    except SetupError:
        return None
    if lock is None:
        return None
    source = "the lock the environment's record names"
    was = record.lock.sha256
    if was and was != lock.sha256:
        source += f" (changed since the install: sha256 {was[:12]} then, {lock.sha256[:12]} now)"
    return Basis(lock, source)


def env_basis(record: EnvRecord | None, profile, platform: str, driver, mirrors) -> Basis | None:
    """What doctor judges an environment against: the lock its record names, else the lock install would take
    here; None where there is none (a driver no route runs on, a profile without a committed lock)."""
    found = recorded_basis(record, profile, platform)
    if found is not None:
        return found
    python_full = f"{profile.python}.0"
    try:
        if profile.from_skyrl:
            return route_basis(profile, python_full, platform, driver, mirrors, probe=cached_probe)
        from skyrl_setup.catalog.cuda_policy import choose_variant
        from skyrl_setup.catalog.lockfiles import matrix_lock

        path = matrix_lock(profile.lock_dir, profile.name, choose_variant(profile.variants, driver.version).variant, platform).path
        if not path.is_file():
            return None
        return Basis(load_for_host(path, python_full, platform), "the committed lockfile install takes here")
    except SetupError:
        return None


def require_compatible(profiles: list[Profile], additions: list[str], *, target: Target, mirrors: Mirrors,
                       cuda: str | None = None, probe=None, **kw) -> CompatResult:
    """check_compat against what install would build here: a SkyRL-sourced profile by the lock of the route
    install takes on this host (`cuda`: the variant asked for), not by the union of its routes' pins. `probe`: the
    route choice's reachability check (default cached_probe)."""
    from skyrl_setup.detect.gpu import detect_driver
    from skyrl_setup.resolver.check import (
        check_compat,  # resolvelib and httpx: only where a check runs
    )

    judged = {}
    if any(p.from_skyrl for p in profiles):
        driver = detect_driver()
        judged = {p.name: route_basis(p, target.python, target.platform, driver, mirrors, cuda=cuda,
                                            probe=probe or cached_probe) for p in profiles if p.from_skyrl}
    res = check_compat(profiles, additions, target=target, mirrors=mirrors,
                       locks={name: b.lock for name, b in judged.items()}, **kw)
    res = dataclasses.replace(res, judged={name: b.to_json() for name, b in judged.items()})
    if not res.ok and res.conflict:
        raise ConflictError(res.conflict.sentence, res.conflict.hint,
                            details={"conflict": res.conflict.to_json()["conflict"], "requests": res.requests,
                                     "seconds": round(res.seconds, 3), "judged_against": res.judged})
    return res
