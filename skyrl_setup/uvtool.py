"""uv behind one small class: locate it, check its version, run it, log everything.

The binary comes from the `uv` package (uv.find_uv_bin()), never from PATH unless the
user asks with SKYRL_SETUP_UV. uv's own settings (UV_CACHE_DIR, UV_INDEX_URL,
UV_LINK_MODE, ...) pass through untouched. A failure becomes one line naming the cause
plus the path of a log holding uv's full output.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from packaging.version import Version

from skyrl_setup.children import die_with_parent
from skyrl_setup.errors import ConflictError, OperationError, PreconditionError
from skyrl_setup.failpoints import hit
from skyrl_setup.redact import redact

MIN_VERSION = Version("0.9.0")
BAD_VERSIONS = {Version("0.8.0"), Version("0.8.1"), Version("0.8.2")}  # broke SkyRL installs


def log_dir_path() -> Path:
    from skyrl_setup.preflight import user_dir

    return user_dir("SKYRL_SETUP_LOG_DIR", "log", "uv's logs")


def log_dir() -> Path:
    path = log_dir_path()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PreconditionError(f"cannot make the log folder {path}: {exc.strerror}",
                                "set SKYRL_SETUP_LOG_DIR (or XDG_STATE_HOME) to a folder you can write") from None
    return path


@dataclass(frozen=True)
class UvResult:
    returncode: int
    stdout: str
    stderr: str
    log: Path | None = None


def offline_requested() -> bool:
    return os.environ.get("UV_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def short_cause(stderr: str) -> str:
    """uv's explanation reduced to its cause, whatever its layout (box drawing on a TTY, `cause:` lines off it)."""
    text = redact(stderr)
    flat = " ".join(re.sub(r"[│╰─▶×]", " ", text).split())
    m = re.search(r"(Because .+?\.)(?=\s|$)", flat)
    if m:
        return m.group(1)
    causes = [re.split(r"Caused by:|cause:", ln, maxsplit=1)[1].strip()
              for ln in text.splitlines() if "Caused by:" in ln or ln.strip().startswith("cause:")]
    errors = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(("error:", "×"))]
    parts = [e.lstrip("× ").removeprefix("error: ") for e in errors[:1]]
    with_url = [c for c in causes if "://" in c]
    for c in with_url[:1] + causes[-1:]:  # where it failed (the URL), and why (the innermost cause)
        if c not in parts:
            parts.append(c)
    if parts:
        return ": ".join(parts)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "uv failed with no message"


_LOCATE_LOCK = threading.Lock()
_located: dict[str, Uv] = {}


class Uv:
    def __init__(self, binary: str):
        self.binary = binary
        self._version: Version | None = None

    @classmethod
    def locate(cls) -> Uv:
        """The uv to use, found once per process (find_uv_bin reads sysconfig, which is not thread-safe)."""
        key = os.environ.get("SKYRL_SETUP_UV", "")
        with _LOCATE_LOCK:
            if key not in _located:
                _located[key] = cls._locate()
            return _located[key]

    @classmethod
    def _locate(cls) -> Uv:
        explicit = os.environ.get("SKYRL_SETUP_UV")
        if explicit:
            uv = cls(explicit)
        else:
            try:
                from uv import find_uv_bin
                uv = cls(find_uv_bin())
            except (ImportError, FileNotFoundError) as exc:
                raise PreconditionError(
                    f"the uv binary is missing ({exc})", "reinstall skyrl-setup (`pip install --force-reinstall skyrl-setup`) or set SKYRL_SETUP_UV=/path/to/uv"
                ) from None
        uv.check_version()
        return uv

    @property
    def version(self) -> Version:
        if self._version is None:
            try:
                out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=30).stdout
                self._version = Version(out.split()[1])
            except (OSError, subprocess.SubprocessError, IndexError, ValueError):
                raise PreconditionError(f"cannot run uv at {self.binary}", "reinstall skyrl-setup or set SKYRL_SETUP_UV") from None
        return self._version

    def check_version(self) -> None:
        v = self.version
        if v < MIN_VERSION or v in BAD_VERSIONS:
            raise PreconditionError(
                f"uv {v} at {self.binary} is too old (needs >= {MIN_VERSION})", "pip install -U uv, or unset SKYRL_SETUP_UV")

    def _env(self, extra: dict[str, str] | None) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("UV_NO_PROGRESS", "1")
        env.pop("VIRTUAL_ENV", None)  # uv would otherwise target the caller's active venv
        if extra:
            env.update(extra)
        return env

    def run_cache_first(self, args: list[str], *, what: str, on_line: Callable[[str], None] | None = None,
                        failpoint: str | None = None, extra_env: dict[str, str] | None = None) -> UvResult:
        """Run a hash-pinned uv install from uv's cache alone (`--offline`), and with the network only
        if that fails.

        uv revalidates every cached file whose server sent no cache validators (no Cache-Control,
        ETag or Last-Modified: some proxies and mirrors strip them, this project's CI route does), and
        a revalidation that cannot answer 304 re-fetches the file. With every file pinned by sha256 a
        cached copy is the right one whatever the server says, so the cache is tried first: a warm
        install then sends no request at all and works with the network down.
        """
        if not offline_requested():
            first = self.run([*args, "--offline"], what=what, failpoint=failpoint, check=False, extra_env=extra_env)
            if first.returncode == 0:
                for line in first.stderr.splitlines():
                    if on_line:
                        on_line(redact(line))
                return first
            if on_line:
                on_line("not everything is in uv's cache: fetching the rest")
            failpoint = "uv-download-started" if failpoint else None
        return self.run(args, what=what, on_line=on_line, failpoint=failpoint, extra_env=extra_env)

    def run_quiet(self, args: list[str], extra_env: dict[str, str] | None = None, timeout: float = 120) -> UvResult:
        try:
            p = subprocess.run([self.binary, *args], capture_output=True, text=True, env=self._env(extra_env), timeout=timeout)
            return UvResult(p.returncode, p.stdout, p.stderr)
        except (OSError, subprocess.SubprocessError) as exc:
            return UvResult(-1, "", str(exc))

    def run(self, args: list[str], *, what: str, extra_env: dict[str, str] | None = None,
            on_line: Callable[[str], None] | None = None, failpoint: str | None = None,
            check: bool = True) -> UvResult:
        """Run uv, stream its stderr lines to `on_line`, log all output; raise on failure unless not `check`."""
        words = "-".join(a for a in args[:2] if re.fullmatch(r"[a-z]+", a))
        log = log_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-uv-{words}.log"
        with open(log, "w", encoding="utf-8") as fh:
            fh.write(redact(f"$ {self.binary} {' '.join(args)}\n"))
            proc = subprocess.Popen([self.binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=self._env(extra_env), errors="replace", preexec_fn=die_with_parent)
            err_lines: list[str] = []
            assert proc.stderr is not None and proc.stdout is not None
            try:
                if failpoint:
                    hit(failpoint)
                for line in proc.stderr:
                    err_lines.append(line)
                    fh.write(redact(line))
                    if on_line:
                        on_line(redact(line.rstrip()))
                stdout = proc.stdout.read()
                proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            fh.write(redact(stdout))
        stderr = "".join(err_lines)
        result = UvResult(proc.returncode, stdout, stderr, log)
        if proc.returncode != 0 and check:
            cause = short_cause(stderr)
            hint = f"uv's full output is in {log}"
            if "network was disabled" in stderr or "not found in the cache" in stderr:
                raise OperationError(f"{what} failed: {cause}",
                                     "uv is offline (UV_OFFLINE) and its cache lacks these files: unset UV_OFFLINE, "
                                     "or install with --from-bundle FILE made where the index is reachable",
                                     details={"uv_log": str(log)})
            if proc.returncode == 1 and "No solution found" in stderr and "Failed to build" not in stderr:
                raise ConflictError(f"{what}: {cause}", hint, details={"uv_log": str(log)})
            raise OperationError(f"{what} failed: {cause}", hint, details={"uv_log": str(log)})
        return result
