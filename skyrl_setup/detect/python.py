"""Find a Python interpreter of the profile's minor version (3.12).

Order: an explicit --python (a path or a version); interpreters that are files on disk
(uv's managed folder, pyenv's versions folder); PATH names; uv's own discovery; then
(if allowed) `uv python install`. Each candidate is run to learn what it really is: a
pyenv shim on PATH can answer for a different version, or fail. Shims cost ~0.1 s each
and `uv python find` runs them too, so direct files come first (doctor: 0.7 s -> 0.1 s).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from skyrl_setup.detect import memo
from skyrl_setup.errors import PreconditionError, UsageError
from skyrl_setup.proc import die_with_parent

_QUERY = "import json,sys;print(json.dumps([list(sys.version_info[:3]),sys.executable,sys.implementation.name]))"
MEMO_KIND = "python-" + hashlib.sha256(_QUERY.encode()).hexdigest()[:12]  # another query: other entries


@dataclass(frozen=True)
class PythonInfo:
    version: str  # "3.12.1"
    path: str
    source: str  # explicit / uv / PATH / pyenv / uv-install

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    def to_json(self) -> dict:
        return {"version": self.version, "path": self.path, "source": self.source}


def _ask(path: str, timeout: float) -> list | None:
    try:  # -S: no site, so no .pth or sitecustomize can print into the answer
        out = subprocess.run([path, "-S", "-c", _QUERY], capture_output=True, text=True, timeout=timeout, check=True,
                             stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        answer = json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return answer if isinstance(answer, list) else None


def _info(answer, path: str, source: str) -> PythonInfo | None:
    try:
        (major, minor, micro), executable, impl = answer
        if not all(isinstance(n, int) for n in (major, minor, micro)) or not isinstance(executable, str):
            return None
    except (TypeError, ValueError):
        return None
    return PythonInfo(f"{major}.{minor}.{micro}", executable or path, source) if impl == "cpython" else None


def _answers_for_itself(answer: list, path: str) -> bool:
    """The interpreter that answered is the file asked: not a launcher (mise, pixi) that runs whichever one its
    configuration names, whose answer may change while the file does not."""
    try:
        return os.path.realpath(answer[1]) == os.path.realpath(path)
    except (TypeError, IndexError, ValueError, OSError):
        return False


def interrogate(path: str, source: str, timeout: float = 10.0) -> PythonInfo | None:
    entry, answer = memo.recall(MEMO_KIND, path)
    if answer is not None and (info := _info(answer, path, source)) is not None:
        return info
    answer = _ask(path, timeout)
    if answer is not None and _info(answer, path, source) is not None and _answers_for_itself(answer, path):
        memo.remember(entry, answer)
    return _info(answer, path, source)


def _pyenv_candidates(minor: str) -> list[str]:
    from skyrl_setup.paths import home

    base = os.environ.get("PYENV_ROOT") or (user_home / ".pyenv" if (user_home := home()) else None)
    root = Path(base or "/nonexistent") / "versions"

    def patch(p: Path) -> tuple:
        tail = p.name[len(minor) + 1 :]
        return (int(tail),) if tail.isdigit() else (-1,)

    try:  # a pyenv root this user cannot read (another user's PYENV_ROOT) is a candidate less, not a failure
        if not base or not root.is_dir():
            return []
        dirs = sorted((d for d in root.glob(f"{minor}.*") if patch(d) != (-1,)), key=patch, reverse=True)
        return [str(d / "bin" / f"python{minor}") for d in dirs if os.path.exists(d / "bin" / f"python{minor}")]
    except OSError:
        return []


def _uv_find(uv, minor: str) -> list[str]:
    found = uv.python_find(minor)
    return [found] if found else []


def _uv_managed(uv, minor: str) -> list[str]:
    root = uv.python_dir()
    try:  # unreadable: skipped, as pyenv's
        if root is None or not root.is_dir():
            return []
        return [str(p) for p in sorted(root.glob(f"cpython-{minor}.*/bin/python{minor}"), reverse=True)]
    except OSError:
        return []


def candidates(uv, minor: str):
    """Candidates lazily, cheapest first: the search stops at the first that answers."""
    for p in _uv_managed(uv, minor):
        yield p, "uv"
    for p in _pyenv_candidates(minor):
        yield p, "pyenv"
    for name in (f"python{minor}", "python3", "python"):
        found = shutil.which(name)
        if found:
            yield found, "PATH"
    for p in _uv_find(uv, minor):
        yield p, "uv"


def find_python(uv, minor: str, request: str | None = None, *, allow_download: bool = True) -> PythonInfo:
    """The interpreter to build with, or PreconditionError (exit 4) saying how to get one."""
    if request and (os.sep in request or request.startswith(".")):
        if not Path(request).exists():
            raise UsageError(f"--python {request}: no such file", "give the path of a python3.12 executable, or a version such as 3.12")
        info = interrogate(request, "explicit")
        if info is None:
            raise UsageError(f"--python {request}: not a working CPython interpreter", "give the path of a python3.12 executable")
        if info.minor != minor:
            raise PreconditionError(
                f"--python {request} is Python {info.version}; SkyRL requires Python {minor}",
                f"point --python at a Python {minor} interpreter, or omit it to let skyrl-setup find one",
            )
        return info
    if request and request != minor:
        raise PreconditionError(f"--python {request}: SkyRL requires Python {minor} exactly", f"use --python {minor} or a path")

    tried = []
    for path, source in candidates(uv, minor):
        info = interrogate(path, source)
        tried.append(path)
        if info and info.minor == minor:
            return info
    if allow_download and os.environ.get("UV_PYTHON_DOWNLOADS", "").lower() not in ("never", "manual") and not uv.is_offline:
        if uv.python_install(minor):
            found = _uv_find(uv, minor)
            if found and (info := interrogate(found[0], "uv-install")) and info.minor == minor:
                return info
    raise PreconditionError(
        f"no Python {minor} interpreter found (looked at uv's interpreters, PATH and pyenv)",
        f"install one (`uv python install {minor}`, `pyenv install {minor}`, or your OS package python{minor}) "
        f"or pass --python /path/to/python{minor}",
        details={"tried": tried},
    )
