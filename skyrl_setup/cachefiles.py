"""How an entry of the tool's own small caches (parsed lockfiles, executables' answers) is kept and read.

Every entry is an optimisation: one that cannot be read or written (no home, a read-only or full disk) costs the
work again, never an error, and its reader checks what it holds and falls back to the work on anything else. An
entry is written whole or not at all, by rename of a file of its own, so two runs writing one entry at once each
leave a whole one. Entries decide what is installed (a lock's URLs and hashes), so only files of this user that
no one else may write are read: a cache folder shared with others is never trusted. (Not safepaths.replace_text,
which raises, names its temporary file after the target for every writer, and leaves its mode to the umask: a
group-writable entry would never be read.)
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

KEPT = 256  # entries per cache: each is at most tens of KB; the oldest go when a write passes this


def keep(path: Path | None, text: str) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(path.parent)
    except OSError:
        pass


def _prune(folder: Path) -> None:
    entries = [(e.stat().st_mtime, e) for e in folder.iterdir() if e.suffix == ".json"]
    if len(entries) > KEPT:
        for _, old in sorted(entries)[: len(entries) - KEPT]:
            old.unlink(missing_ok=True)


def read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return None
            return fh.read()
    except OSError:
        return None
