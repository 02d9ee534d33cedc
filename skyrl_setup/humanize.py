"""Small text forms shared by messages and views: sizes, one-line errors, paths a shell can take."""

from __future__ import annotations

import shlex
from pathlib import Path


def human_bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    size: float = n
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"


def one_line(text: str) -> str:
    """An error is one line: line breaks inside a message (a pasted spec, a library's report) become ' / '."""
    parts = [p.strip() for p in text.splitlines() if p.strip()]
    return " / ".join(parts)


def sh(path: str | Path) -> str:
    """A path as a shell command needs it: `source '/my envs/sg/bin/activate'`."""
    return shlex.quote(str(path))
