"""Where environments live, and how one replaces another without losing anything.

The path the user names (`--venv T`) is a symbolic link to a *generation*: a complete
venv under the hidden sibling folder `.T.skyrl/`. A new environment is built as a new
generation beside the current one, at its final path (venvs cannot be moved: their
scripts carry absolute paths), verified, and only then made current by replacing the
link with rename(2), which is atomic. The previous generation is kept for rollback.

A generation is complete once its record (skyrl-setup.json) exists, and counts once it
has been made current at least once (the record's "activated"; the swap is the commit
point, and a generation the link names counts whatever its record says: a run killed, or a
disk full, right after the swap is finished by the next run). Anything else in the store that
is not current is a leftover of an interrupted run and is removed by the next run, under the
store's lock (flock: released by the kernel when a process dies, so a killed run never leaves
a stale lock behind). The store must be the user's own and writable by nobody else.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from skyrl_setup.errors import BusyError, OperationError, PreconditionError, UsageError
from skyrl_setup.failpoints import hit
from skyrl_setup.humanize import sh
from skyrl_setup.paths import check_path_length
from skyrl_setup.safepaths import check_private_dir, reap_dead, replace_text
from skyrl_setup.store import record as record_schema
from skyrl_setup.store.record import EnvRecord

RECORD = "skyrl-setup.json"
swapped: list[tuple[Path, int]] = []  # (target, generation) made current by this process: what an interrupt reports
LIVE = "live"  # generation numbers in the order they were made current
GEN_RE = re.compile(r"^gen-(\d{4,})$")


def _abs(path: str | Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(path)))


@dataclass(frozen=True)
class Store:
    target: Path  # the path users activate: a symlink to the current generation

    @classmethod
    def for_target(cls, target: str | Path) -> Store:
        text = target if isinstance(target, str) else str(target)  # str(Path("")) is ".": check the raw text
        if not text.strip() or any(ord(c) < 32 for c in text):  # empty (an unset variable), NUL, a line break
            raise UsageError(f"--venv {text!r} is not a usable path", "give a directory path, e.g. ~/envs/sglang")
        store = cls(_abs(target))
        check_path_length(store.target, "--venv")
        return store

    @property
    def root(self) -> Path:
        return self.target.parent / f".{self.target.name}.skyrl"

    def generations(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.root.iterdir() if (m := GEN_RE.match(p.name)))

    def gen_path(self, n: int) -> Path:
        return self.root / f"gen-{n:04d}"

    def current(self) -> int | None:
        """The generation the target points at, or None."""
        if not self.target.is_symlink():
            return None
        dest = Path(os.path.normpath(self.target.parent / os.readlink(self.target)))
        if dest.parent != self.root or not (m := GEN_RE.match(dest.name)):
            return None
        return int(m.group(1))

    def complete(self, n: int) -> bool:
        return (self.gen_path(n) / RECORD).is_file()

    def activated(self, n: int) -> bool:
        rec = self.record(n)
        return bool(rec and rec.activated)

    def mark_activated(self, n: int) -> None:
        rec = self.record(n)
        if rec is not None and not rec.activated:
            self.write_record(n, dataclasses.replace(rec, activated=True))

    def record(self, n: int | None = None) -> EnvRecord | None:
        n = self.current() if n is None else n
        if n is None:
            return None
        try:
            rec = json.loads((self.gen_path(n) / RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record_schema.load(rec, self.gen_path(n))  # today's schema; None where damaged

    def check_target(self, *, backend: str, force: bool) -> None:
        """Refuse a target that holds something this tool did not make (exit 2), or a store others could write (exit 4)."""
        t = self.target
        self.check_safe()
        for parent in t.parents:
            if (parent / "pyvenv.cfg").is_file():
                raise UsageError(f"{t} is inside the environment {parent}", "choose a --venv outside any environment")
        if t.is_symlink():
            if self.current() is None:
                raise UsageError(f"{t} is a link that skyrl-setup did not make", "choose another --venv, or remove the link yourself")
            rec = self.record()
            if rec and rec.backend != backend and not force:
                raise UsageError(
                    f"{t} holds a {rec.backend} environment, not {backend}",
                    f"use another --venv for {backend}, or --force to replace it (the old one is kept for rollback)",
                )
            return
        if not t.exists():
            if t.parent.exists() and not t.parent.is_dir():
                raise UsageError(f"{t.parent} is not a directory", "choose a --venv inside a directory")
            return
        if t.is_dir() and not any(t.iterdir()):
            return
        what = "a directory with files" if t.is_dir() else "a file"
        raise UsageError(f"{t} is {what} that skyrl-setup did not make; it is never deleted",
                         "choose another --venv (or empty that directory yourself)")

    def check_safe(self) -> None:
        """A store someone else owns or may write is refused (exit 4), as ssh and git refuse unsafe ownership."""
        check_private_dir(self.root, f"the environment {self.target}")

    @contextmanager
    def locked(self, *, wait: bool = False):
        fd = self._lock(wait)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            hit("locked")
            self._reconcile()
            yield self
        finally:
            try:
                if not self.generations() and not self.target.is_symlink():  # a failed first install leaves nothing
                    (self.root / "lock").unlink(missing_ok=True)
                    self.root.rmdir()
            except OSError:
                pass
            finally:
                os.close(fd)

    def _lock(self, wait: bool) -> int:
        """flock the store's lock file, whose path may be removed (above) by the holder we waited for."""
        while True:
            self.root.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.mkdir(self.root, 0o755)  # never group- or world-writable, whatever the umask
            except FileExistsError:
                pass
            self.check_safe()
            try:
                fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # the store was removed between the two calls (above): make it again
                continue
            except IsADirectoryError:
                raise UsageError(f"{self.root / 'lock'} is a directory, not skyrl-setup's lock file",
                                 f"remove it (`rmdir {sh(self.root / 'lock')}`): skyrl-setup makes that file itself") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except OSError as exc:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                raise BusyError(f"another skyrl-setup (pid {holder}) is working on {self.target}",
                                "wait for it to finish, or pass --wait to queue behind it") from None
            except BaseException:
                os.close(fd)
                raise
            try:
                if os.stat(self.root / "lock").st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)  # we locked a file its last holder unlinked: take the one at the path now

    def clean_leftovers(self) -> list[str]:
        """Remove incomplete generations and temporary links. Call under the lock."""
        removed: list[str] = []
        if not self.root.is_dir():
            return removed
        cur = self.current()
        for p in self.root.iterdir():
            m = GEN_RE.match(p.name)
            if m and int(m.group(1)) != cur and not self.activated(int(m.group(1))):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p.name)
        for p in self.target.parent.glob(f".{self.target.name}.swap-*"):
            p.unlink(missing_ok=True)
            removed.append(p.name)
        removed += reap_dead(self.root.glob("tmp-*"))  # scratch() folders of runs that were killed
        return removed

    def scratch(self) -> Path:
        """A temporary folder in the store, not in /tmp: where a kill leaves it, the next run removes it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=f"tmp-{os.getpid()}-", dir=self.root))
        except OSError:  # a read-only store (a dry run may still look)
            return Path(tempfile.mkdtemp(prefix="skyrl-setup-upgrade-"))

    def tidy(self) -> list[str]:
        """Clean leftovers if no other run holds the lock; for paths that otherwise take no lock."""
        if not self.root.is_dir():
            return []
        try:
            with self.locked(wait=False):
                return self.clean_leftovers()
        except (BusyError, OSError):  # busy, or a read-only store: a no-op needs no tidying
            return []

    def new_generation(self) -> tuple[int, Path]:
        # never a number the link or the live order names: a dangling link would otherwise go live mid-build
        n = max([*self.generations(), self.current() or 0, *self.live_numbers()], default=0) + 1
        path = self.gen_path(n)
        if path.exists():
            shutil.rmtree(path)
        return n, path

    def live_numbers(self) -> list[int]:
        try:
            return [int(x) for x in (self.root / LIVE).read_text(encoding="utf-8").split()]
        except (OSError, ValueError):
            return []

    def write_record(self, n: int, record: EnvRecord) -> None:
        path = self.gen_path(n) / RECORD
        replace_text(path, json.dumps(record.to_json(), indent=2, sort_keys=True))

    def swap_to(self, n: int) -> None:
        """Point the target at generation n, atomically."""
        if not self.complete(n):
            raise OperationError(f"generation {n} of {self.target} is incomplete", "re-run the install")
        if self.target.exists() and not self.target.is_symlink():
            self.target.rmdir()  # check_target allowed only an empty directory; rmdir refuses anything else
        tmp = self.target.parent / f".{self.target.name}.swap-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        try:
            os.symlink(os.path.relpath(self.gen_path(n), self.target.parent), tmp)
            hit("swap-link-created")
            os.replace(tmp, self.target)
            swapped.append((self.target, n))
        finally:
            tmp.unlink(missing_ok=True)  # gone already after the rename; left only by an interruption
        _fsync_dir(self.target.parent)

    def commit(self, n: int, *, record: EnvRecord | None = None) -> None:
        """After the swap to n, which is the commit point: mark n live (and write `record`, a rollback's history).
        A failure here changes nothing about the swap; the error says so, and the next locked run finishes it."""
        try:
            if record is not None:
                self.write_record(n, dataclasses.replace(record, activated=True))
            self._reconcile()
        except OSError as exc:
            kind = PreconditionError if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM) else OperationError
            raise kind(f"{self.target} was switched to generation {n} ({self.gen_path(n)}), but recording that failed: "
                       f"{exc.strerror or exc}: {exc.filename or self.root}",
                       "the new environment is in place and is kept; free the space (or fix the permission) there, and the "
                       "next install, upgrade or rollback of it finishes the record") from None

    def _reconcile(self) -> None:
        """The link is the truth: the generation it names was swapped in, whatever its record or the live order say
        (a run killed, or a disk full, right after its swap). Call under the lock."""
        cur = self.current()
        if cur is None or not self.complete(cur):
            return
        self.mark_activated(cur)
        order = self.live_order()
        if not order or order[-1] != cur:
            self._write_live([*order, cur])

    def discard(self, n: int) -> None:
        if n != self.current():
            shutil.rmtree(self.gen_path(n), ignore_errors=True)

    def prune(self, keep: int = 3) -> list[int]:
        """Keep the current generation and the newest `keep - 1` others."""
        cur = self.current()
        order = self.live_order()
        recency = {g: i for i, g in enumerate(order)}  # the last time each was live
        others = sorted((g for g in self.generations() if g != cur and self.activated(g)), key=lambda g: (recency.get(g, -1), g))
        drop = others[: max(0, len(others) - (keep - 1))]
        for g in drop:
            shutil.rmtree(self.gen_path(g), ignore_errors=True)
        return drop

    def live_order(self) -> list[int]:
        """Intact generations in the order they were made current (the last is the newest).

        Kept in `.T.skyrl/live`; a store from before that file is read in number order."""
        try:
            order = [int(x) for x in (self.root / LIVE).read_text(encoding="utf-8").split()]
        except (OSError, ValueError):
            cur = self.current()
            order = [g for g in self.generations() if cur is None or g <= cur]
        seen = [g for g in order if self.complete(g) and self.activated(g)]
        return [g for i, g in enumerate(seen) if i == 0 or seen[i - 1] != g]

    def _write_live(self, order: list[int]) -> None:
        replace_text(self.root / LIVE, " ".join(map(str, order[-200:])) + "\n")

    def note_rollback(self, to: int) -> None:
        """Before a rollback's swap: forget what was live after `to`, so a second rollback goes further back."""
        order = self.live_order()
        self._write_live(order[: len(order) - order[::-1].index(to)] if to in order else [*order, to])

    def previous(self) -> int | None:
        """Where rollback goes: the generation that was live before the current one, if still intact."""
        cur = self.current()
        order = self.live_order()
        if cur in order:
            order = order[: len(order) - order[::-1].index(cur) - 1]
        older = [g for g in order if g != cur]
        return older[-1] if older else None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
