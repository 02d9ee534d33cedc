"""Resolve a profile into a PEP 751 lock with `uv pip compile` (Uv.pip_compile).

Used by `skyrl-setup lock` to write the committed lockfiles, and by install when no
lockfile matches the host (another CUDA variant, a profile whose torch builds live only
on PyTorch's index): then the lock is made at install time, into the new generation.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from skyrl_setup import __version__
from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.detect import index_config
from skyrl_setup.detect.index_config import IndexConfig, detect_index
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.errors import SetupError
from skyrl_setup.locks.pylock import Lock, append_tool_table, profile_fingerprint
from skyrl_setup.uv.backend import Uv

FAR_FUTURE = "2100-01-01T00:00:00Z"
# uv's "no cutoff for this package": a far date still drops every file whose index gives no upload time
NO_CUTOFF = "false"


# manylinux levels a committed lock may be made for, lowest first (uv's --python-platform names them);
# 2_28 is the portable default, a higher one only where some package ships no older wheel.
MANYLINUX_LEVELS = (28, 31, 34, 35, 39)


def uv_platform(platform: str, level: int = 28) -> str:
    _, _, machine = platform.partition("_")
    return f"{machine}-manylinux_2_{level}"


def lowest_level(compile_at, constraints: list[str], tmp: Path) -> int:
    """The lowest manylinux level at which the lock has no more sdists than at the highest one (a package
    whose wheels all need a newer glibc would otherwise be built from source, or fail to resolve).
    `compile_at(level)` resolves at a level (it writes tmp/pylock.level<N>.toml and returns uv's result)."""
    (tmp / "constraints.txt").write_text("\n".join(constraints) + "\n", encoding="utf-8")
    def sdists(level: int) -> set[str] | None:
        res = compile_at(level)
        if res.error is not None:
            return None
        from skyrl_setup.locks.pylock import load as load_lock
        return {p.name for p in load_lock(tmp / f"pylock.level{level}.toml", "3.12.0", "linux_x86_64").from_source}
    best = sdists(MANYLINUX_LEVELS[-1])
    if best is None:
        return MANYLINUX_LEVELS[0]  # fails everywhere: the caller's own resolution reports why
    for level in MANYLINUX_LEVELS[:-1]:
        found = sdists(level)
        if found is not None and found <= best:
            return level
    return MANYLINUX_LEVELS[-1]


def constraints_of(lock: Lock, free: frozenset = frozenset()) -> list[str]:
    """Every package of a lock (loaded for one host) but the `free` ones at its version: what may not move."""
    out = []
    for p in lock.packages:
        if p.source == "directory" or p.name in free:  # a checkout installed editable: its own requirement names it
            continue
        out.append(f"{p.name} @ {p.url}" if p.source in ("vcs", "archive") and p.url else f"{p.name}=={p.version}")
    return out


def compile_lock(uv: Uv, profile: Profile, *, variant: str, platform: str, output: Path,
                 extra_requirements: tuple[str, ...] = (), additions: tuple[str, ...] = (),
                 find_links: tuple[Path, ...] = (), with_skyrl: bool = True, on_line=None,
                 mirrors: Mirrors, exempt: tuple[str, ...] = (), target=None,
                 basis: Lock | None = None, hold: Lock | None = None, free: frozenset = frozenset()) -> Path:
    """`additions` (the user's own requirements) and `exempt` names escape the profile's date freeze;
    `mirrors` rewrites the torch index.
    `target` (skyrl_setup.detect.target.Target): the one host this lock is for; None: any glibc-2.28 Linux of `platform`.
    `basis`: the lock this one adds to (a route's): its requirements, extras kept, stand for the profile's pins, its
    indexes are searched. `hold`: each package of this lock but the `free` names held at its version, and not cut
    off by date (its version is chosen already: a mirror without upload times still serves it)."""
    from skyrl_setup.locks.additions import lock_indexes
    from skyrl_setup.locks.additions import requirements as lock_requirements

    pins = lock_requirements(profile, basis, with_skyrl=with_skyrl) if basis else profile.requirements(with_skyrl=with_skyrl)
    reqs = pins + list(extra_requirements) + list(additions)
    index = profile.index_for(variant, mirrors)
    if basis is not None:
        index = " ".join(lock_indexes(basis, mirrors, [])) or "pypi"
    with tempfile.TemporaryDirectory(prefix="skyrl-setup-lock-") as tmp:
        req_file = Path(tmp) / "requirements.in"
        req_file.write_text("\n".join(reqs) + "\n", encoding="utf-8")
        excludes = None
        if profile.excludes:
            excludes = Path(tmp) / "excludes.txt"
            excludes.write_text("\n".join(profile.excludes) + "\n", encoding="utf-8")
        exempted: dict[str, str] = {}
        if profile.exclude_newer:
            # skyrl-train and the releases standing in for SkyRL's path and git sources came out later
            # than SkyRL's lock was resolved, on purpose
            later = {"skyrl-train", *profile.pypi_releases} if profile.from_skyrl else set()
            held = {p.name for p in hold.packages} - set(free) if hold else set()
            exempted = {name: NO_CUTOFF for name in sorted({canonicalize_name(Requirement(a).name) for a in additions}
                                                            | set(exempt) | later | held)}
        constraints = None
        if hold is not None:
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text("\n".join(constraints_of(hold, free)) + "\n", encoding="utf-8")
        # The torch family's CUDA builds live on this index; best-match lets a local version
        # such as 2.7.0+cu128 there win over PyPI's 2.7.0, while other packages still come from PyPI.
        other_index = index if index != "pypi" else None
        output.parent.mkdir(parents=True, exist_ok=True)
        try:
            with uv_reads(detect_index()):
                uv.pip_compile(req_file, output, what=f"resolving the {profile.name} profile ({variant}, {platform})",
                               python_version=target.python if target else profile.python,
                               python_platform=target.uv_platform() if target else uv_platform(platform), excludes=excludes,
                               constraints=constraints,
                               exclude_newer=profile.exclude_newer or None, exclude_newer_packages=exempted,
                               index=other_index, index_strategy="unsafe-best-match" if other_index else None,
                               find_links=find_links, on_line=on_line,
                               custom_compile_command=f"skyrl-setup lock --backend {profile.name} --cuda {variant} --platform {platform}")
        except SetupError as exc:
            raise _cutoff_hint(exc, profile.exclude_newer) from None
    append_tool_table(output, {
        "backend": profile.name, "cuda": variant, "platform": platform, "python": profile.python,
        "profile-fingerprint": profile_fingerprint(reqs, profile.excludes, profile.exclude_newer, index),
        "tool-version": __version__,
    })
    return output


def hid_by_date(uv_output: str) -> bool:
    """uv says the date cutoff filtered a package's files out (its own hint, not its command line)."""
    return "filtered by `exclude-newer" in uv_output


def _cutoff_hint(exc: SetupError, cutoff: str | None) -> SetupError:
    """uv's failure where the date cutoff filtered files out: a mirror serving PEP 503 HTML pages gives no upload
    times, and uv then takes no file of a package the cutoff applies to."""
    try:
        text = Path(exc.details.get("uv_log") or "").read_text(encoding="utf-8", errors="replace") if exc.details.get("uv_log") else ""
    except OSError:
        text = ""
    if not cutoff or not hid_by_date(text):
        return exc
    exc.hint = (f"packages outside the lock keep the profile's date cutoff {cutoff}; if the index is a mirror without "
                f"upload times (PEP 503 HTML pages), it hides their files: pin them with --with NAME==VERSION, or use "
                f"an index that serves upload times (PEP 691 JSON); {exc.hint}")
    return exc


@contextmanager
def uv_reads(cfg: IndexConfig, *, default_only: bool = False):
    """uv reads no pip.conf and no PIP_* variable: an index configured only there is handed to uv, as install does.
    `default_only`: the default index alone, for what is resolved "from PyPI" (detect/index_config.default_only)."""
    if default_only:
        how = index_config.default_only()
        env, hide = dict(how.env), how.hide
    else:
        how, env, hide = None, cfg.uv_env(), ()
    scratch = None
    if how is not None and how.config is not None:
        scratch = tempfile.mkdtemp(prefix="skyrl-setup-uv-config-")
        (Path(scratch) / "uv.toml").write_text(how.config, encoding="utf-8")
        env["UV_CONFIG_FILE"] = str(Path(scratch) / "uv.toml")
    before = {k: os.environ.get(k) for k in (*env, *hide)}
    for k in hide:
        os.environ.pop(k, None)
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
