"""`skyrl-setup dockerfile`: a Docker build context for a backend's lock (Dockerfile, lock, skyrl-setup's wheel)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from skyrl_setup.build.dockerfile import (
    Choice,
    context_lock_name,
    refuse_credentials,
    render,
    write_context,
)
from skyrl_setup.build.toolwheel import tool_wheel
from skyrl_setup.catalog import profiles
from skyrl_setup.catalog.cuda_policy import choose_variant
from skyrl_setup.commands.requests import DockerfileRequest
from skyrl_setup.commands.results import Result
from skyrl_setup.commands.shapes import DockerfileData
from skyrl_setup.commands.ui import UI
from skyrl_setup.errors import OperationError, UsageError
from skyrl_setup.plan.install import select_lock
from skyrl_setup.plan.routes import committed_lock

PLATFORM = "linux_x86_64"  # NVIDIA's CUDA images that the Dockerfile starts from


def run(req: DockerfileRequest, ui: UI) -> Result:
    profile = profiles.load(req.backend, req.skyrl)
    # as install decides on a host without a driver (an image build): the flag, else the profile's first variant
    choice = choose_variant(profile.variants, None, req.cuda or "auto")
    if choice.error:
        raise UsageError(choice.error, f"use one of: {', '.join(profile.variants)}")
    python_full = f"{profile.python}.0"
    route = None
    if profile.from_skyrl and not req.lock and not req.cuda:
        route = _install_route(profile, python_full)
        lock, source = route.lock, f"committed lockfile, route {route.route}"
        why = Choice(f"route {route.route}, as `skyrl-setup install` takes it on the host that wrote this", route.skipped,
                     "another route: `skyrl-setup dockerfile --cuda VARIANT`, or `--lock FILE`")
    elif profile.from_skyrl and not req.lock:
        lock, source = committed_lock(profile, PLATFORM, python_full, req.cuda)
        why = Choice(f"{source}, chosen with --cuda {req.cuda} (not probed from here: the builder fetches its files)")
    else:
        lock, source = select_lock(req.lock, profile.name, choice.variant, PLATFORM, python_full)
        why = Choice("the lock given with --lock" if req.lock else f"{source}, {choice.variant}")
    if lock is None:
        raise UsageError(f"no lockfile for {profile.name} {choice.variant} {PLATFORM}: an image is built from a lock",
                         f"make one first: skyrl-setup lock --backend {profile.name} --cuda {choice.variant} --platform {PLATFORM}, "
                         "then pass it with --lock")
    if lock.tool.get("cuda"):
        choice = choose_variant(profile.variants, None, lock.tool["cuda"]) if lock.tool["cuda"] in profile.variants else choice
    out = Path(req.output or f"skyrl-{profile.name}-docker")
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise UsageError(f"-o {out}: exists and is not a directory", "give a folder for the build context")
    try:
        blob = lock.path.read_bytes()  # read once: what is checked is what the context gets
    except OSError as exc:
        raise UsageError(f"lockfile {lock.path}: cannot read ({exc.strerror or exc})", "check the path given with --lock") from None
    refuse_credentials(lock, blob)
    if hashlib.sha256(blob).hexdigest() != lock.sha256:
        raise OperationError(f"lockfile {lock.path} changed while it was read", "run the command again")
    lock_file = context_lock_name(lock, profile.name, choice.variant, PLATFORM)
    wheel_name, wheel = tool_wheel()
    strict = req.strict
    ctx = render(profile, lock, choice.variant, wheel_name, why, strict=strict, lock_file=lock_file)
    write_context(out, {lock_file: blob, wheel_name: wheel, "Dockerfile": ctx.dockerfile.encode("utf-8")}, force=req.force)
    return Result("dockerfile", DockerfileData(dir=str(out), dockerfile=str(out / "Dockerfile"), base_image=ctx.base_image,
                                               cuda=ctx.cuda, lock=str(out / lock_file), lock_sha256=lock.sha256,
                                               lock_origin=str(lock.path), lock_source=source,
                                               route=route.route if route else lock.tool.get("route"),
                                               routes_not_taken=list(route.skipped) if route else [], tool_wheel=str(out / wheel_name),
                                               install=list(ctx.install_argv), doctor=list(ctx.doctor_argv), strict=strict,
                                               backend=profile.name))


def _install_route(profile, python_full: str):
    """The route install takes on this host (its driver, its GPUs, the same probes): the lock the image installs."""
    from skyrl_setup.detect.gpu import detect_driver
    from skyrl_setup.detect.mirrors import Mirrors
    from skyrl_setup.plan.basis import host_route

    return host_route(profile, python_full, PLATFORM, detect_driver(), Mirrors.load())
