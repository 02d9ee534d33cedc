"""`skyrl-setup bundle`: everything an environment needs, in one file, for machines with no network."""

from __future__ import annotations

from pathlib import Path

from skyrl_setup import bundle, profiles
from skyrl_setup.artifacts import plan_artifacts
from skyrl_setup.commands import CommandResult
from skyrl_setup.commands.install import select_lock
from skyrl_setup.detect.system import platform_tag
from skyrl_setup.errors import UsageError
from skyrl_setup.routes import committed_lock
from skyrl_setup.report import human_bytes


def run(args, reporter) -> CommandResult:
    profile = profiles.load(args.backend)
    variant = args.cuda or profile.variants[0]
    platform = args.platform or platform_tag()
    if profile.from_skyrl and not args.lock:
        lock, source = committed_lock(profile, platform, f"{profile.python}.0", args.cuda)
        variant = lock.tool["cuda"]
    else:
        lock, source = select_lock(args.lock, profile.name, variant, platform, f"{profile.python}.0")
    if lock is None:
        raise UsageError(f"no lockfile for {profile.name} {variant} {platform} to bundle",
                         f"make one first: skyrl-setup lock --backend {profile.name} --cuda {variant} --platform {platform}, then pass --lock")
    find_links = tuple(Path(d).resolve() for d in (args.find_links or ()))
    torch = lock.versions().get("torch", profile.torch).split("+")[0]
    arts = plan_artifacts(profile.artifacts, variant, torch, profile.python, find_links)
    out = Path(args.output or f"skyrl-{profile.name}-{variant}-{platform}.bundle.tar")
    reporter.step(f"bundling {len(lock.packages)} packages of {lock.path.name} ({human_bytes(lock.download_bytes)})")
    manifest = bundle.create(lock, profile.path, arts, out, backend=profile.name, variant=variant, platform=platform,
                             progress=reporter.progress)
    for a in arts:
        if a.status == "unreachable":
            reporter.warn(f"{a.name} not bundled: {a.error} ({'required' if a.required else 'optional'}); add it with --find-links DIR")
    reporter.print(f"[green]✓[/] wrote {out} ({human_bytes(out.stat().st_size)}, {len(manifest['files'])} files); "
                   f"install it anywhere with `skyrl-setup install --from-bundle {out}`")
    return CommandResult({"bundle": str(out), "bytes": out.stat().st_size, **{k: manifest[k] for k in ("backend", "cuda", "platform", "lock", "lock_sha256")},
                          "files": len(manifest["files"]), "artifacts": manifest["artifacts"], "lock_source": source})
