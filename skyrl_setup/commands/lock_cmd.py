"""`skyrl-setup lock`: resolve a profile into lockfiles/pylock.<backend>-<cuda>-<platform>.toml."""

from __future__ import annotations

import os
from pathlib import Path

from skyrl_setup import locking, profiles
from skyrl_setup.commands import CommandResult
from skyrl_setup.detect.system import platform_tag
from skyrl_setup.errors import UsageError
from skyrl_setup.lockfile import NAME_RE, lock_name
from skyrl_setup.lockfile import load as load_lock
from skyrl_setup.report import human_bytes
from skyrl_setup.resources import lockfiles_dir
from skyrl_setup.uvtool import Uv


def run(args, reporter) -> CommandResult:
    profile = profiles.load(args.backend)
    variant = args.cuda or profile.variants[0]
    if variant not in profile.variants:
        raise UsageError(f"--cuda {variant}: the {profile.name} profile supports {', '.join(profile.variants)}",
                         "pick one of those variants")
    platform = args.platform or platform_tag()
    out = Path(args.output) if args.output else lockfiles_dir() / lock_name(profile.name, variant, platform)
    if not NAME_RE.match(out.name):
        raise UsageError(f"{out.name}: PEP 751 lockfiles are named pylock.toml or pylock.<name>.toml (no dot in <name>)",
                         "choose an --output name like pylock.mylock.toml")
    uv = Uv.locate()
    reporter.step(f"resolving {profile.name} for {variant} on {platform}")
    tmp = out.with_name(f"pylock.partial{os.getpid()}.toml")  # uv checks the PEP 751 name
    try:
        locking.compile_lock(uv, profile, variant=variant, platform=platform, output=tmp,
                             find_links=tuple(Path(d) for d in args.find_links or ()), on_line=reporter.progress)
        lock = load_lock(tmp, f"{profile.python}.0", platform)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    reporter.print(f"[green]wrote[/] {out}: {len(lock.packages)} packages, {human_bytes(lock.download_bytes)} to download")
    return CommandResult({"lockfile": str(out), "backend": profile.name, "cuda": variant, "platform": platform,
                          "package_count": len(lock.packages), "download_bytes": lock.download_bytes,
                          "sha256": lock.sha256})
