"""What a lockfile says for one target, kept beside the tool's other caches, keyed by the file's sha256.

A committed lock is 100-340 KB of TOML: parsing it, validating it as PEP 751 and choosing each package's wheel is
most of a dry run's CPU before its first route probe can start, and is paid again by every plan and doctor. The
answer depends on the file's bytes, the target, and the code that reads it (this tool's and packaging's versions,
which choose wheels), so an entry is named by all of those. A lock with `path` entries also depends on the folder
it is read from and on where those paths lead at the time, so it is never kept. An entry is written only after a
full read succeeded; one that does not hold exactly what this version writes is read past.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import packaging

import skyrl_setup
from skyrl_setup import cachefiles
from skyrl_setup.paths import cache_folder

FORMAT = 2  # bump when what load() derives from a lock changes
# LockedPackage's fields, in order, with the types a row holds (None allowed where the second is True)
FIELDS = (("name", str, False), ("version", str, False), ("url", str, True), ("size", int, False),
          ("source", str, False), ("sha256", str, True), ("index", str, True))


def entry_path(digest: str, target: tuple[str, str, str | None]) -> Path | None:
    root = cache_folder("locks")
    code = [FORMAT, [f[0] for f in FIELDS], skyrl_setup.__version__, packaging.__version__]
    key = json.dumps([code, digest, *target]).encode()
    return root / f"{hashlib.sha256(key).hexdigest()[:32]}.json" if root else None


def _row_ok(row: Any) -> bool:
    return isinstance(row, list) and len(row) == len(FIELDS) and all(
        (v is None and nullable) or (isinstance(v, kind) and not isinstance(v, bool))
        for v, (_, kind, nullable) in zip(row, FIELDS))


def read(path: Path | None) -> tuple[list[list], str | None, dict] | None:
    """(the package rows, requires-python, the tool table), or None where the entry is missing or not one this
    version wrote whole."""
    raw = cachefiles.read(path)
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
        rows, requires, tool = doc["packages"], doc["requires_python"], doc["tool"]
    except (ValueError, KeyError, TypeError):
        return None
    if doc.get("format") != FORMAT or not isinstance(rows, list) or not isinstance(tool, dict):
        return None
    if not (requires is None or isinstance(requires, str)) or not all(_row_ok(r) for r in rows):
        return None
    return rows, requires, tool


def write(path: Path | None, rows: list[tuple], requires_python: Any, tool: dict) -> None:
    """A lock whose requires-python or tool table JSON cannot hold as read (a date, a number) is not kept."""
    if not (requires_python is None or isinstance(requires_python, str)):
        return
    try:
        text = json.dumps({"format": FORMAT, "packages": [list(r) for r in rows],
                           "requires_python": requires_python, "tool": tool})
    except (TypeError, ValueError):
        return
    if json.loads(text)["tool"] != tool:  # a tuple or a non-string key would come back otherwise
        return
    cachefiles.keep(path, text)
