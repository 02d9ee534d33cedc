"""Read what an environment holds from its metadata files, without running it.

Importing heavy modules to learn a version is slow (`import flashinfer` took 34 s cold
here); the dist-info folders answer in milliseconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from skyrl_setup.proc import die_with_parent

_DIST_RE = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+)\.dist-info$")
# uv writes VIRTUAL_ENV='...'; venv "...", from Python 3.12 as `export VIRTUAL_ENV="..."` (beside a cygpath line)
_ACTIVATE_RE = re.compile(r"""^[ \t]*(?:export[ \t]+)?VIRTUAL_ENV=(?:'([^']*)'|"([^"$`]*)")[ \t]*$""", re.M)


def site_packages(venv: Path) -> Path | None:
    found = sorted((venv / "lib").glob("python3.*/site-packages"))
    return found[0] if found else None


def installed_versions(venv: Path) -> dict[str, str] | None:
    """{canonical name: version} from *.dist-info folder names; None if not a venv."""
    site = site_packages(venv)
    if site is None:
        return None
    out: dict[str, str] = {}
    for d in site.iterdir():
        m = _DIST_RE.match(d.name)
        if m:
            out[canonicalize_name(m.group("name"))] = m.group("version")
    return out


def activate_names(venv: Path) -> Path | None:
    """The path `venv`'s bin/activate sets as VIRTUAL_ENV: where the venv was made (its scripts' shebangs name it too)."""
    try:
        text = (venv / "bin" / "activate").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = _ACTIVATE_RE.search(text)
    return Path(m.group(1) or m.group(2)) if m else None


def made_here(venv: Path) -> bool:
    """`venv` is where it was made: a venv moved or copied elsewhere activates, and runs its scripts with, the old path."""
    named = activate_names(venv)
    if named is None:
        return True  # nothing names a place (not made by uv or venv): nothing to contradict
    try:
        return os.path.samefile(named, venv)
    except OSError:
        return False


def interpreter_runs(venv: Path) -> bool:
    """The environment's python starts, where it is (a venv whose interpreter link dangles is broken, not current; one
    moved since it was made runs its scripts and activates with the old path: not current either)."""
    if not made_here(venv):
        return False
    # -S: whether the interpreter itself starts (its link, its standard library), which is what a removed or upgraded
    # base Python breaks; the packages are compared by their metadata, and what a .pth does at startup is doctor's,
    # which runs the real imports. Site's .pth files cost 40 ms of a 0.25 s no-op here (an NVML redirector)
    try:
        proc = subprocess.Popen([str(venv / "bin" / "python"), "-I", "-S", "-c", ""], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    except OSError:
        return False
    # a blocking wait, the 60 s limit kept by a timer: wait(timeout=) polls, sleeping up to 50 ms after the child has
    # ended, which was a fifth of a no-op re-install
    limit = threading.Timer(60, proc.kill)
    limit.start()
    try:
        return proc.wait() == 0
    finally:
        limit.cancel()
        if proc.poll() is None:  # an interrupt unwinding: the child goes too
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Diff:
    added: tuple[str, ...]  # names only in `new`
    removed: tuple[str, ...]  # names only in `old`
    changed: tuple[tuple[str, str, str], ...]  # (name, old version, new version)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def public_version(version: str) -> str:
    """2.8.0 for an installed torch 2.8.0+cu128; a version that is not PEP 440 (an environment's metadata may say
    anything) as it is."""
    try:
        return Version(version).public
    except InvalidVersion:
        return version


def compare(old: Mapping[str, str], new: Mapping[str, str]) -> Diff:
    """Two {name: version} sets (a lock, a record, an environment): what moved from `old` to `new`."""
    return Diff(tuple(sorted(n for n in new if n not in old)), tuple(sorted(n for n in old if n not in new)),
                tuple((n, old[n], new[n]) for n in sorted(old) if n in new and old[n] != new[n]))
