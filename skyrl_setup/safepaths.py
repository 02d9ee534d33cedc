"""Paths handled as git, ssh and uv handle them: folders others may write are refused, output files are
written whole by rename (through a symbolic link, never over a device), and scratch folders of killed runs
are found by the process id they carry and removed by a later run.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from skyrl_setup.errors import PreconditionError, UsageError
from skyrl_setup.humanize import sh

OWNER = ".skyrl-setup-owner"  # in a scratch folder whose name another module chose: the pid that made it
SPECIAL_ROOTS = ("/dev", "/proc", "/sys")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead(paths) -> list[str]:
    """Remove the folders named PREFIX-PID-... whose process is dead (scratch of a killed run); their names."""
    removed = []
    for p in paths:
        parts = p.name.split("-")
        if len(parts) >= 3 and parts[1].isdigit() and not alive(int(parts[1])) and _mine(p):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def stamp(folder: Path) -> None:
    """Mark a scratch folder with this process's id, for reap_stamped."""
    (folder / OWNER).write_text(str(os.getpid()), encoding="utf-8")


def reap_stamped(paths) -> list[str]:
    """Remove the stamped folders whose process is dead; an unstamped one may be another tool's and stays."""
    removed = []
    for p in paths:
        try:
            pid = (p / OWNER).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if pid.isdigit() and not alive(int(pid)) and _mine(p):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def _mine(p: Path) -> bool:
    try:
        return p.lstat().st_uid == os.geteuid() and p.is_dir() and not p.is_symlink()
    except OSError:
        return False


def replace_text(path: Path, text: str) -> None:
    """Write a file whole, by rename; a failure names the file (a full disk said only "No space left on device")."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        exc.filename = exc.filename or str(tmp)
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise


def user_name(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def check_private_dir(path: Path, guards: str) -> None:
    """A folder whose contents this user runs must be this user's and not writable by group or others; absent is fine."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise UsageError(f"{path} is a link to nothing, so it cannot hold {guards}", "remove that link, or choose another path") from None
        return
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path} is not a directory, so it cannot hold {guards}", "remove it if it is yours, or choose another path")
    fix = f"remove {sh(path)} if you do not trust what it holds, or choose another path"
    if st.st_uid != os.geteuid():
        raise PreconditionError(f"{path} belongs to {user_name(st.st_uid)}, not to you: refused, since its owner could "
                                f"replace {guards}", f"{fix}; or `chown -R` it to yourself")
    if st.st_mode & 0o022:
        who = "others" if st.st_mode & 0o002 else "its group"
        raise PreconditionError(f"{path} is writable by {who} (mode {stat.S_IMODE(st.st_mode):o}): refused, since they "
                                f"could replace {guards}", f"{fix}; or `chmod go-w {sh(path)}` if only you wrote in it")


def output_file(raw: str, flag: str) -> Path:
    """Where `flag PATH` may write: a new path or a regular file, reached through symbolic links (the file a link
    names is what gets written); a directory, a device, /proc or a missing folder is refused (exit 2)."""
    given = Path(os.path.abspath(os.path.expanduser(raw)))
    real = Path(os.path.realpath(given))
    hint = "give the path of a new file, or of a regular file to replace"
    if any(str(p) == r or str(p).startswith(r + "/") for p in (given, real) for r in SPECIAL_ROOTS):
        raise UsageError(f"{flag} {raw}: {real} is a device or kernel file, not a file to write", hint)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"{flag} {raw}: {exc.strerror}", hint) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, a FIFO or a socket)"
        raise UsageError(f"{flag} {raw}: {real if real != given else raw} is {kind}", hint)
    if not real.parent.is_dir():
        raise UsageError(f"{flag} {raw}: the folder {real.parent} does not exist", "create it first, or give another path")
    return real


@contextmanager
def written_whole(dest: Path):
    """A binary file object whose content replaces `dest` (from output_file) by rename, only once it is complete;
    a new file gets the usual 0666 & ~umask, a replaced one keeps its mode."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        try:
            mode = stat.S_IMODE(os.stat(dest).st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with open(fd, "wb", closefd=True) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # renamed already, or never written
        raise
