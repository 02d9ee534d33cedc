"""Read what an environment holds from its metadata files, without running it.

Importing heavy modules to learn a version is slow (`import flashinfer` took 34 s cold
here); the dist-info folders answer in milliseconds.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

_DIST_RE = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+)\.dist-info$")


def site_packages(venv: Path) -> Path | None:
    found = sorted((venv / "lib").glob("python3.*/site-packages"))
    return found[0] if found else None


def installed_versions(venv: Path) -> dict[str, str] | None:
    """{canonical name: version} from *.dist-info folder names; None if not a venv."""
    site = site_packages(venv)
    if site is None:
        return None
    out = {}
    for d in site.iterdir():
        m = _DIST_RE.match(d.name)
        if m:
            out[canonicalize_name(m.group("name"))] = m.group("version")
    return out


def interpreter_runs(venv: Path) -> bool:
    """The environment's python starts (a venv whose interpreter link dangles is broken, not current)."""
    try:  # no pipes: a child that the environment's .pth starts and that keeps them open is not waited for
        return subprocess.run([str(venv / "bin" / "python"), "-I", "-c", ""], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@dataclass(frozen=True)
class Diff:
    added: tuple[str, ...]  # names only in `new`
    removed: tuple[str, ...]  # names only in `old`
    changed: tuple[tuple[str, str, str], ...]  # (name, old version, new version)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def compare(old: dict[str, str], new: dict[str, str]) -> Diff:
    """Two {name: version} sets (a lock, a record, an environment): what moved from `old` to `new`."""
    return Diff(tuple(sorted(n for n in new if n not in old)), tuple(sorted(n for n in old if n not in new)),
                tuple((n, old[n], new[n]) for n in sorted(old) if n in new and old[n] != new[n]))
