"""Answers of executables about themselves, kept per binary file: what an interpreter's version is, which uv this is.

Each answer costs a process (10-25 ms) on every plan, doctor and dry run before the first route probe can start.
An entry is named by the file's path, its target and that target's inode, size and mtime: a replaced or upgraded
binary is a new name. Only compiled executables are kept; a script (a pyenv shim) answers for whatever its
environment selects, so it is always asked, and so is a launcher that runs another interpreter (the caller keeps
only an interpreter that answered for itself). uv's own answer is trusted to be its binary's. Callers check what
they recall and ask again on anything they cannot read.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from skyrl_setup import cachefiles
from skyrl_setup.paths import cache_folder

FORMAT = 1


def _key(kind: str, binary: str) -> str | None:
    """None for a file that is not a compiled executable (a script's answer depends on more than its bytes)."""
    try:
        real = os.path.realpath(binary)
        st = os.stat(real)
        with open(real, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                return None
    except OSError:
        return None
    parts = [FORMAT, kind, os.path.abspath(binary), real, st.st_ino, st.st_size, st.st_mtime_ns]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def recall(kind: str, binary: str) -> tuple[Path | None, Any]:
    """(where this binary's answer is kept, the answer of an earlier run or None); no place for a script."""
    key = _key(kind, binary)
    root = cache_folder("binaries") if key else None
    entry = root / f"{key}.json" if root else None
    raw = cachefiles.read(entry)
    if raw is not None:
        try:
            return entry, json.loads(raw)["answer"]
        except (ValueError, KeyError, TypeError):
            pass
    return entry, None


def remember(entry: Path | None, answer: Any) -> None:
    if answer is not None:
        cachefiles.keep(entry, json.dumps({"answer": answer}))
