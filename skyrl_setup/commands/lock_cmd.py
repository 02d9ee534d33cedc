"""`skyrl-setup lock`: write a backend's committed lockfiles.

Backends built from SkyRL's lock (`--from-skyrl DIR`) get one lockfile per route; the
version matrix's profiles are resolved from PyPI into pylock.<backend>-<cuda>-<platform>.toml.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path

from skyrl_setup import paths as preflight
from skyrl_setup.catalog import DEFAULT_BACKEND, profiles
from skyrl_setup.catalog.data import lockfiles_dir
from skyrl_setup.catalog.lockfiles import matrix_lock, route_locks
from skyrl_setup.commands.requests import LockRequest
from skyrl_setup.commands.results import Result
from skyrl_setup.commands.shapes import LockData, LockRow
from skyrl_setup.commands.ui import UI
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.detect.system import platform_tag
from skyrl_setup.errors import UsageError
from skyrl_setup.humanize import human_bytes
from skyrl_setup.locks import compile as locking
from skyrl_setup.locks.pylock import NAME_RE
from skyrl_setup.locks.pylock import load as load_lock
from skyrl_setup.safepaths import reap_dead
from skyrl_setup.uv.backend import Uv


def run(req: LockRequest, ui: UI) -> Result:
    preflight.index_settings()
    Mirrors.load(req.mirror)  # a malformed --mirror is a usage error before anything is resolved
    if req.from_skyrl:
        return _from_skyrl(req, ui, req.from_skyrl)
    profile = profiles.load(req.backend or DEFAULT_BACKEND, req.skyrl)
    if profile.requirements_published:  # a release without a public lock: its published requirements
        return _published(req, ui, profile)
    if profile.from_skyrl:
        raise UsageError(f"the {profile.name} profile's versions come from SkyRL's lock",
                         f"give SkyRL's checkout or release files: `skyrl-setup lock --backend {profile.name} --from-skyrl DIR`")
    variant = req.cuda or profile.variants[0]
    if variant not in profile.variants:
        raise UsageError(f"--cuda {variant}: the {profile.name} profile supports {', '.join(profile.variants)}",
                         "pick one of those variants")
    platform = req.platform or platform_tag()
    out = Path(req.output) if req.output else matrix_lock(lockfiles_dir(), profile.name, variant, platform).path
    if not NAME_RE.match(out.name):
        raise UsageError(f"{out.name}: PEP 751 lockfiles are named pylock.toml or pylock.<name>.toml (no dot in <name>)",
                         "choose an --output name like pylock.mylock.toml")
    uv = Uv.locate()
    ui.step(f"resolving {profile.name} for {variant} on {platform}")
    tmp = out.with_name(f"pylock.partial{os.getpid()}.toml")  # uv checks the PEP 751 name
    try:
        locking.compile_lock(uv, profile, variant=variant, platform=platform, output=tmp,
                             find_links=tuple(Path(d) for d in req.find_links), on_line=ui.progress,
                             mirrors=Mirrors.load(req.mirror))
        lock = load_lock(tmp, f"{profile.python}.0", platform)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    row: LockRow = {"lockfile": str(out), "backend": profile.name, "route": None, "cuda": variant, "platform": platform,
           "package_count": len(lock.packages), "download_bytes": lock.download_bytes,
           "download": human_bytes(lock.download_bytes), "lock_sha256": lock.sha256, "changes": []}
    return Result("lock", LockData(lockfiles=[row], skyrl_source=None, skyrl_version=None, skyrl_lock_sha256=None))


def _published(req: LockRequest, ui: UI, profile) -> Result:
    """The committed lock of a release that publishes requirements but no lock: resolved from PyPI for the
    lowest manylinux level at which every package has a wheel."""
    from skyrl_setup.locks import skyrl as skyrl_locks

    platform = req.platform or "linux_x86_64"
    out_dir = Path(req.output) if req.output else profile.lock_dir
    ui.step(f"{profile.release.label}: resolving its published {profile.skyrl_extra} requirements from PyPI")
    made = skyrl_locks.published_lock(Uv.locate(), profile, platform, out_dir, mirrors=Mirrors.load(req.mirror))
    row: LockRow = {"lockfile": str(made.path), "backend": profile.name, "route": made.route, "cuda": made.variant,
           "platform": platform, "package_count": made.package_count, "download_bytes": None, "download": None,
           "lock_sha256": hashlib.sha256(made.path.read_bytes()).hexdigest(), "changes": list(made.changes)}
    return Result("lock", LockData(lockfiles=[row], skyrl_source="PyPI", skyrl_version=profile.release.version,
                                   skyrl_lock_sha256=None))


def _release_of(source, req: LockRequest):
    """The catalog's release this SkyRL source is: its lock must be the one the catalog names, unless the
    lockfiles go elsewhere (-o)."""
    from skyrl_setup.catalog import releases

    catalog = releases.catalog()
    if req.skyrl:
        release = releases.resolve(req.skyrl, req.backend) if req.backend else \
            next((r for r in catalog if releases.matches(r, req.skyrl)), None)
        if release is None:
            raise UsageError(f"--skyrl {req.skyrl}: not a SkyRL release skyrl-setup knows",
                             f"known: {', '.join(r.id for r in catalog)}")
    else:
        release = next((r for r in catalog if r.distribution == source.name and r.version == source.version), None)
    if release is None and req.output:  # a checkout between releases: judged by its nearest release, written elsewhere
        if not any(r.distribution == source.name for r in catalog):
            raise UsageError(f"{source.root}: the project is {source.name}, not a SkyRL distribution skyrl-setup knows "
                             f"({', '.join(sorted({r.distribution for r in catalog}))})",
                             "give a SkyRL checkout: its repository root, or skyrl-train/ for skyrl-train 0.x")
        return None
    if release is None:
        raise UsageError(f"{source.root}: {source.name} {source.version} is not in the release catalog",
                         f"add releases/{source.name}-{source.version}.toml (see docs/releases.md), name one with --skyrl, "
                         "or write a checkout's lockfiles elsewhere with -o DIR")
    if release.lock_sha256 and release.lock_sha256 != source.lock_sha256 and not req.output:
        raise UsageError(f"{source.root}/uv.lock (sha256 {source.lock_sha256[:12]}) is not {release.label}'s tested lock "
                         f"(sha256 {release.lock_sha256[:12]})", "give that release's files, or write elsewhere with -o DIR")
    return release


def _from_skyrl(req: LockRequest, ui: UI, folder: str) -> Result:
    from skyrl_setup.catalog import releases
    from skyrl_setup.locks import checkout, skyrl_source
    from skyrl_setup.locks import skyrl as skyrl_locks

    source = skyrl_source.read(folder)  # req.from_skyrl
    release = _release_of(source, req)
    names = [req.backend] if req.backend else \
        [n for n in profiles.available() if n in release.backends] if release else \
        [n for n in profiles.available() if source.extra_for(checkout.extra_names(n))]
    if not names:
        raise UsageError(f"{source.root}: none of its extras ({', '.join(source.extras) or 'none'}) is a backend skyrl-setup "
                         "builds", "give --backend B, or a checkout with SkyRL's backend extras (fsdp, megatron; or vllm, sglang, mcore)")
    for n in names:
        if n in profiles.available() and not releases.having(n):
            raise UsageError(f"the {n} profile is not built from SkyRL's lock", f"drop --from-skyrl: `skyrl-setup lock --backend {n}`")
    chosen = [profiles.load(n, release) if release else checkout.profile_for(n, source) for n in names]
    for p in chosen:
        skyrl_locks.require_python(source, p)
    platform = req.platform or "linux_x86_64"
    out_dir = Path(req.output) if req.output else lockfiles_dir() / release.id
    uv = Uv.locate()
    written: list[LockRow] = []
    ui.step(f"SkyRL source {source.root} ({source.name} {source.version}, uv.lock sha256 {source.lock_sha256[:12]})")
    out_dir.mkdir(parents=True, exist_ok=True)
    reap_dead(out_dir.glob(".lock-*"))  # the folders of lock runs that were killed
    # every lockfile is made first, beside the old ones; only when all exist do they replace them, so a failure
    # halfway never leaves a folder of lockfiles from two different SkyRL locks
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=f".lock-{os.getpid()}-") as d:
        made_all = []
        for p in chosen:
            for route in p.routes:
                ui.progress(f"{p.name}: route {route} from SkyRL's {p.skyrl_extra} extra")
                stage = Path(d) / f"{p.name}-{route}"
                made_all.append((p, route, skyrl_locks.exact_lock(uv, source, p, stage, checkout=release is None)
                                 if route == "skyrl" else
                                 skyrl_locks.pypi_lock(uv, source, p, platform, stage, checkout=release is None)))
        for p, route, made in made_all:
            for old in route_locks(out_dir, p.name, [route]):
                old.path.unlink()
            made = dataclasses.replace(made, path=made.path.replace(out_dir / made.path.name))
            written.append({"lockfile": str(made.path), "backend": p.name, "route": route, "cuda": made.variant,
                            "platform": None if route == "skyrl" else platform, "package_count": made.package_count,
                            "download_bytes": None, "download": None,
                            "lock_sha256": hashlib.sha256(made.path.read_bytes()).hexdigest(), "changes": list(made.changes)})
    return Result("lock", LockData(lockfiles=written, skyrl_source=str(source.root), skyrl_version=source.version,
                                   skyrl_lock_sha256=source.lock_sha256))
