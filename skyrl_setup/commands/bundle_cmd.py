"""`skyrl-setup bundle`: everything an environment needs, in one file, for machines with no network."""

from __future__ import annotations

from pathlib import Path

from skyrl_setup import paths as preflight
from skyrl_setup.build import bundle
from skyrl_setup.catalog import profiles
from skyrl_setup.commands.requests import BundleRequest
from skyrl_setup.commands.results import Result
from skyrl_setup.commands.shapes import BundleData
from skyrl_setup.commands.ui import UI
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.detect.system import platform_tag
from skyrl_setup.errors import UsageError
from skyrl_setup.humanize import human_bytes
from skyrl_setup.locks.pylock import Lock
from skyrl_setup.plan.artifacts import plan_artifacts
from skyrl_setup.plan.install import select_lock
from skyrl_setup.plan.routes import committed_lock
from skyrl_setup.safepaths import output_file
from skyrl_setup.store.venvinfo import public_version


def run(req: BundleRequest, ui: UI) -> Result:
    preflight.index_settings()
    mirrors = Mirrors.load(req.mirror)
    profile = profiles.load(req.backend, req.skyrl)
    variant = req.cuda or profile.variants[0]
    platform = req.platform or platform_tag()
    if req.output is not None:
        output_file(req.output, "-o")  # before gigabytes are downloaded; the default name is checked below
    lock: Lock | None
    if profile.from_skyrl and not req.lock:
        lock, source = committed_lock(profile, platform, f"{profile.python}.0", req.cuda)
        variant = lock.tool["cuda"]
    else:
        lock, source = select_lock(req.lock, profile.name, variant, platform, f"{profile.python}.0")
    if lock is None:
        raise UsageError(f"no lockfile for {profile.name} {variant} {platform} to bundle",
                         f"make one first: skyrl-setup lock --backend {profile.name} --cuda {variant} --platform {platform}, then pass --lock")
    find_links = tuple(Path(d).resolve() for d in req.find_links)
    torch = public_version(lock.versions().get("torch", profile.torch))
    arts = plan_artifacts(profile.artifacts, variant, torch, profile.python, find_links, mirrors)
    out = Path(req.output or f"skyrl-{profile.name}-{variant}-{platform}.bundle.tar")
    real = output_file(str(out), "-o")  # the file a symbolic link names is the one written
    ui.step(f"bundling {len(lock.packages)} packages of {lock.path.name} ({human_bytes(lock.download_bytes)})")
    manifest = bundle.create(lock, profile.path, arts, real, backend=profile.name, variant=variant, platform=platform,
                             progress=ui.progress, mirrors=mirrors, release=profile.release.id if profile.release else None)
    left_out = [{"name": a.name, "error": a.error, "required": a.required} for a in arts if a.status == "unreachable"]
    return Result("bundle", BundleData(bundle=str(out), bytes=real.stat().st_size, backend=manifest["backend"], cuda=manifest["cuda"],
                                       platform=manifest["platform"], lock=manifest["lock"], lock_sha256=manifest["lock_sha256"],
                                       files=len(manifest["files"]), artifacts=manifest["artifacts"], lock_source=source,
                                       not_bundled=left_out))
