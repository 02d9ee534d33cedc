"""Checks made before anything is downloaded or built: the paths the tool will write, and the
files and settings a user hands it. Each failure is one precise line with its exit code,
never an OS error found after a build of several minutes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

from skyrl_setup.errors import PreconditionError, SetupError, UsageError

NAME_MAX = 255  # bytes in one path component (ext4, xfs, btrfs, tmpfs)
PATH_ROOM = 3072  # of PATH_MAX 4096: a generation nests about 1000 bytes deeper (site-packages/<pkg>/...)
MAX_LOCK_BYTES = 64 * 2**20  # the biggest lockfile here is ~200 KB; /dev/zero is not one


def home() -> Path | None:
    """The user's home directory, or None where it cannot be known (no HOME and no passwd entry)."""
    try:
        path = Path.home()
    except (RuntimeError, KeyError, OSError):
        return None
    return path if path.is_absolute() else None


def user_dir(env_var: str, kind: str, what: str) -> Path:
    """$env_var, else the per-user folder of `kind` (data, cache, config, log); exit 4 where no home is known."""
    from skyrl_setup import settings

    chosen = getattr(settings.current(), settings.VARIABLES[env_var][0])
    if chosen:
        return chosen
    import platformdirs

    try:
        path = Path(getattr(platformdirs, f"user_{kind}_dir")("skyrl-setup"))
    except RuntimeError:  # platformdirs: "could not determine the home directory"
        path = None
    return require_absolute(path, what)


def cache_folder(name: str) -> Path | None:
    """One of the tool's own caches (cachefiles.py): None where there is no home, so that the work is done again."""
    try:
        return user_dir("SKYRL_SETUP_CACHE_DIR", "cache", f"the {name} cache") / name
    except SetupError:
        return None


def log_dir_path() -> Path:
    """The folder uv's logs go to (uv/backend.py makes it when a log is written)."""
    return user_dir("SKYRL_SETUP_LOG_DIR", "log", "uv's logs")


def require_absolute(path: Path | None, what: str) -> Path:
    """A per-user default (platformdirs) is relative, '~/…', or refused where the home directory is unknown."""
    if path is None or not path.is_absolute():
        raise PreconditionError(f"cannot determine your home directory for {what} (HOME is unset and uid {os.getuid()} "
                                "has no passwd entry)", "set HOME, or give the path explicitly (--venv, SKYRL_SETUP_HOME)")
    return path


def check_path_length(path: Path, flag: str) -> None:
    text = os.fsencode(str(path))
    long_part = next((p for p in text.split(b"/") if len(p) > NAME_MAX), None)
    if long_part is not None:
        raise UsageError(f"{flag} {path}: a path component is too long ({len(long_part)} bytes, at most {NAME_MAX})",
                         "choose a shorter name")
    if len(os.fsencode(f".{path.name}.skyrl")) > NAME_MAX:
        raise UsageError(f"{flag} {path}: the name is too long ({len(os.fsencode(path.name))} bytes; its store "
                         f".NAME.skyrl beside it must fit in {NAME_MAX})", "choose a shorter name")
    if len(text) > PATH_ROOM:
        raise UsageError(f"{flag} {path}: the path is too long ({len(text)} bytes; an environment needs it under {PATH_ROOM})",
                         "choose a shorter path")


def _existing(path: Path) -> Path:
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def unwritable(paths: list[tuple[Path, str]]) -> PreconditionError | None:
    """The first of (path, what for) that cannot be written: the path, or where it does not exist yet, the
    folder it would be made in (access(2) sees read-only mounts and immutable files, not only modes)."""
    for path, what in paths:
        where = _existing(path)
        if where.is_dir() and not os.access(where, os.W_OK | os.X_OK):
            ro = _read_only(where)
            return PreconditionError(
                f"{where} is {'on a read-only filesystem' if ro else 'not writable'} ({what})",
                "choose a location you can write" + ("" if ro else " (check its permissions and `lsattr -d` for the immutable flag)"))
        if not where.is_dir():
            return PreconditionError(f"{where} is not a directory ({what})", "choose another location, or remove that file")
    return None


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def install_paths(target: Path, root: Path) -> list[tuple[Path, str]]:

    out = [(target.parent, f"the link {target.name} is made there"), (root, "the environment's generations")]
    out.append((log_dir_path(), "uv's logs"))
    if os.environ.get("UV_CACHE_DIR"):
        out.append((Path(os.environ["UV_CACHE_DIR"]), "uv's cache, UV_CACHE_DIR"))
    return out


def user_file(path: str, flag: str) -> Path:
    """A file the user names (--lock): a regular file of sane size, so a FIFO or /dev/zero is refused, not read."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise UsageError(f"{flag} {p}: {exc.strerror}", "give the path of a lockfile (pylock.*.toml)") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, a FIFO or a socket)"
        raise UsageError(f"{flag} {p}: {kind}", "give the path of a lockfile (pylock.*.toml)")
    if st.st_size > MAX_LOCK_BYTES:
        raise UsageError(f"{flag} {p}: {st.st_size} bytes is no lockfile", "give the path of a lockfile (pylock.*.toml)")
    return p


def index_settings() -> None:
    """UV_INDEX_URL and friends parse as URLs (uv would refuse them only once the build has begun)."""
    for name in ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX"):
        for url in os.environ.get(name, "").split():
            url = url.split("=", 1)[1] if name == "UV_INDEX" and "=" in url.split("://", 1)[0] else url
            try:
                parts = urlsplit(url)
                parts.port  # noqa: B018 - raises ValueError on a bad port or host
                ok = parts.scheme in ("http", "https", "file") and (parts.netloc or parts.scheme == "file")
            except ValueError:
                ok = False
            if not ok:
                from skyrl_setup.redact import redact
                raise UsageError(f"{name}: {redact(url)!r} is not a valid index URL", "give a URL like https://pypi.org/simple, or unset it")


def default_venv(backend: str) -> Path:
    """Where a backend's environment lives unless --venv says otherwise."""
    return user_dir("SKYRL_SETUP_HOME", "data", "the default environment location") / "envs" / backend
