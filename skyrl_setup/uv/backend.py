"""uv behind one class: locate it, check its version, run it, log everything.

This is the only place that builds uv's command lines: one method per operation the project
runs (venv, pip_sync, pip_install, pip_compile, export, python_find, python_dir,
python_install, cache_dir), with typed arguments. What a failure means is read in
uv/failures.py, the only place that reads uv's output for it.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from skyrl_setup import settings
from skyrl_setup.errors import (
    ConflictError,
    OperationError,
    PreconditionError,
    SetupError,
)
from skyrl_setup.failpoints import hit
from skyrl_setup.paths import log_dir_path
from skyrl_setup.proc import die_with_parent
from skyrl_setup.redact import redact
from skyrl_setup.uv.failures import OFFLINE_HINT, classify, short_cause

MIN_VERSION = Version("0.9.0")
BAD_VERSIONS = {Version("0.8.0"), Version("0.8.1"), Version("0.8.2")}  # broke SkyRL installs


def log_dir() -> Path:
    path = log_dir_path()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PreconditionError(f"cannot make the log folder {path}: {exc.strerror}",
                                "set SKYRL_SETUP_LOG_DIR (or XDG_STATE_HOME) to a folder you can write") from None
    return path


def _version_or_none(text) -> Version | None:
    try:
        return Version(text) if isinstance(text, str) else None
    except ValueError:
        return None


@dataclass(frozen=True)
class UvResult:
    returncode: int
    stdout: str
    stderr: str
    log: Path | None = None
    error: SetupError | None = None  # what a failed run raises; kept here when run with check=False


def offline_requested() -> bool:
    return os.environ.get("UV_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


_LOCATE_LOCK = threading.Lock()
_located: dict[str, Uv] = {}


class Uv:
    def __init__(self, binary: str, *, offline: bool = False):
        self.binary = binary
        self._version: Version | None = None
        self.forced_offline = offline  # a bundle's install: uv is told UV_OFFLINE, whatever the environment says

    def offline(self) -> Uv:
        """This uv, told to use nothing but its cache and the local files it is given."""
        other = Uv(self.binary, offline=True)
        other._version = self._version
        return other

    @property
    def is_offline(self) -> bool:
        return self.forced_offline or offline_requested()

    @classmethod
    def locate(cls) -> Uv:
        """The uv to use, found once per process (find_uv_bin reads sysconfig, which is not thread-safe)."""
        key = settings.current().uv or ""
        with _LOCATE_LOCK:
            if key not in _located:
                _located[key] = cls._locate()
            return _located[key]

    @classmethod
    def _locate(cls) -> Uv:
        explicit = settings.current().uv
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
            from skyrl_setup.detect import memo

            entry, said = memo.recall("uv-version", self.binary)
            self._version = _version_or_none(said)
            if self._version is None:
                self._version = _version_or_none(self._ask_version())
                if self._version is None:
                    raise PreconditionError(f"cannot run uv at {self.binary}", "reinstall skyrl-setup or set SKYRL_SETUP_UV")
                memo.remember(entry, str(self._version))
        return self._version

    def _ask_version(self) -> str | None:
        try:
            out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=30, preexec_fn=die_with_parent).stdout
            return out.split()[1]
        except (OSError, subprocess.SubprocessError, IndexError):
            return None

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
        if self.forced_offline:
            env["UV_OFFLINE"] = "1"
        return env

    # -- the operations this project runs: each builds its own command line ----------------
    def venv(self, path: Path, python: str, prompt: str) -> None:
        self._run(["venv", str(path), "--python", python, "--prompt", prompt, "--quiet"],
                  what="creating the virtual environment", extra_env=_NO_DOWNLOADS)

    def pip_sync(self, manifest: Path, python: Path, *, what: str, require_hashes: bool = True,
                 index_strategy: str | None = None, build_constraints: Path | None = None,
                 find_links: Sequence[Path] = (), extra_env: dict[str, str] | None = None,
                 on_line: Callable[[str], None] | None = None, failpoint: str | None = None) -> UvResult:
        """Make the environment hold exactly `manifest`; a hash-pinned one from uv's cache first (`_run_cache_first`)."""
        args = ["pip", "sync", str(manifest), "--python", str(python), *(["--require-hashes"] if require_hashes else []),
                *_sources(index_strategy, build_constraints, find_links)]
        if require_hashes:
            return self._run_cache_first(args, what=what, on_line=on_line, failpoint=failpoint, extra_env=extra_env)
        return self._run(args, what=what, on_line=on_line, failpoint=failpoint, extra_env=extra_env)

    def pip_install(self, python: Path, targets: Sequence[str] = (), *, what: str, requirements: Path | None = None,
                    editable: bool = False, no_deps: bool = False, no_build_isolation: bool = False,
                    require_hashes: bool = False, index_strategy: str | None = None,
                    build_constraints: Path | None = None, find_links: Sequence[Path] = (),
                    extra_env: dict[str, str] | None = None, on_line: Callable[[str], None] | None = None) -> UvResult:
        """Install `targets` (requirement strings, URLs, paths; folders made editable with `editable`)
        and the lines of `requirements`; with `require_hashes`, from uv's cache first (`_run_cache_first`)."""
        args = ["pip", "install", "--python", str(python)]
        args += _flags(("--no-deps", no_deps), ("--no-build-isolation", no_build_isolation), ("--require-hashes", require_hashes))
        args += (["-r", str(requirements)] if requirements else [])
        for t in targets:
            args += ["-e", t] if editable else [t]
        args += _sources(index_strategy, build_constraints, find_links)
        if require_hashes:
            return self._run_cache_first(args, what=what, on_line=on_line, extra_env=extra_env)
        return self._run(args, what=what, on_line=on_line, extra_env=extra_env)

    def pip_compile(self, requirements: Path, output: Path, *, what: str, python_version: str,
                    python_platform: str | None = None, constraints: Path | None = None,
                    overrides: Path | None = None, excludes: Path | None = None, no_deps: bool = False,
                    exclude_newer: str | None = None, exclude_newer_packages: Mapping[str, str] | None = None,
                    index: str | None = None, index_strategy: str | None = None, find_links: Sequence[Path] = (),
                    header: bool = True, custom_compile_command: str | None = None,
                    on_line: Callable[[str], None] | None = None, check: bool = True) -> UvResult:
        """Resolve `requirements` into a PEP 751 lock at `output`, for one platform, or for all
        (`python_platform` None: `--universal`). `exclude_newer_packages`: name -> date, in order."""
        args = ["pip", "compile", str(requirements), "--format", "pylock.toml", "-o", str(output),
                "--python-version", python_version,
                *(["--python-platform", python_platform] if python_platform else ["--universal"]),
                "--preview-features", "pylock", "--quiet"]
        args += _flags(("--no-header", not header), ("--no-deps", no_deps))
        for flag, path in (("-c", constraints), ("--overrides", overrides), ("--excludes", excludes)):
            args += [flag, str(path)] if path else []
        if custom_compile_command:
            args += ["--custom-compile-command", custom_compile_command]
        args += ["--exclude-newer", exclude_newer] if exclude_newer else []
        for name, date in (exclude_newer_packages or {}).items():
            args += ["--exclude-newer-package", f"{name}={date}"]
        args += ["--index", index] if index else []
        args += _sources(index_strategy, None, find_links)
        return self._run(args, what=what, on_line=on_line, check=check)

    def export(self, project: Path, extra: str, output: Path) -> UvResult:
        """One extra of `project`'s uv.lock as a PEP 751 lock, exactly as locked, with no resolution."""
        return self._run(["export", "--project", str(project), "--frozen", "--no-emit-project", "--extra", extra,
                          "--format", "pylock.toml", "--output-file", str(output), "--quiet", "--no-header"],
                         what=f"exporting the {extra} extra of {project}/uv.lock", extra_env=_NO_DOWNLOADS)

    def python_find(self, minor: str) -> str | None:
        """The interpreter uv's own discovery finds for `minor`, never downloading one."""
        res = self._run_quiet(["python", "find", minor], extra_env=_NO_DOWNLOADS)
        return res.stdout.strip() if res.returncode == 0 and res.stdout.strip() else None

    def python_dir(self) -> Path | None:
        """The folder of uv-managed interpreters (it may not exist)."""
        res = self._run_quiet(["python", "dir"])
        return Path(res.stdout.strip()) if res.returncode == 0 and res.stdout.strip() else None

    def python_install(self, minor: str) -> bool:
        return self._run_quiet(["python", "install", minor]).returncode == 0

    def cache_dir(self) -> Path | None:
        res = self._run_quiet(["cache", "dir"], timeout=20)
        return Path(res.stdout.strip()) if res.returncode == 0 and res.stdout.strip() else None

    # -- running uv --------------------------------------------------------------------------
    def _run_cache_first(self, args: list[str], *, what: str, on_line: Callable[[str], None] | None = None,
                         failpoint: str | None = None, extra_env: dict[str, str] | None = None) -> UvResult:
        """Run a hash-pinned uv install from uv's cache alone (`--offline`), and with the network only
        if that fails.

        uv revalidates every cached file whose server sent no cache validators (no Cache-Control,
        ETag or Last-Modified: some proxies and mirrors strip them, this project's CI route does), and
        a revalidation that cannot answer 304 re-fetches the file. With every file pinned by sha256 a
        cached copy is the right one whatever the server says, so the cache is tried first: a warm
        install then sends no request at all and works with the network down.
        """
        if not self.is_offline:
            first = self._run([*args, "--offline"], what=what, failpoint=failpoint, check=False, extra_env=extra_env)
            if first.returncode == 0:
                for line in first.stderr.splitlines():
                    if on_line:
                        on_line(redact(line))
                return first
            if on_line:
                on_line("not everything is in uv's cache: fetching the rest")
            failpoint = "uv-download-started" if failpoint else None
        return self._run(args, what=what, on_line=on_line, failpoint=failpoint, extra_env=extra_env)

    def _run_quiet(self, args: list[str], extra_env: dict[str, str] | None = None, timeout: float = 120) -> UvResult:
        try:
            p = subprocess.run([self.binary, *args], capture_output=True, text=True, env=self._env(extra_env), timeout=timeout,
                               preexec_fn=die_with_parent)
            return UvResult(p.returncode, p.stdout, p.stderr)
        except (OSError, subprocess.SubprocessError) as exc:
            return UvResult(-1, "", str(exc))

    def _run(self, args: list[str], *, what: str, extra_env: dict[str, str] | None = None,
             on_line: Callable[[str], None] | None = None, failpoint: str | None = None,
             check: bool = True) -> UvResult:
        """Run uv, stream its stderr lines to `on_line`, log all output; raise on failure unless not `check`
        (then the result carries the error it would have raised)."""
        words = "-".join(a for a in args[:2] if re.fullmatch(r"[a-z]+", a))
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-uv-{words}"
        log, n = log_dir() / f"{stem}.log", 1
        while True:  # attempts within one second (cache first, then the network) each keep their log
            try:
                fh = open(log, "x", encoding="utf-8")
                break
            except FileExistsError:
                n += 1
                log = log.with_name(f"{stem}-{n}.log")
        with fh:
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
        error = _error(what, proc.returncode, stderr, log) if proc.returncode != 0 else None
        if error is not None and check:
            raise error
        return UvResult(proc.returncode, stdout, stderr, log, error)


_NO_DOWNLOADS = {"UV_PYTHON_DOWNLOADS": "never"}


def _flags(*pairs: tuple[str, bool]) -> list[str]:
    return [flag for flag, on in pairs if on]


def _sources(index_strategy: str | None, build_constraints: Path | None, find_links: Sequence[Path]) -> list[str]:
    args = ["--index-strategy", index_strategy] if index_strategy else []
    args += ["--build-constraints", str(build_constraints)] if build_constraints else []
    for d in find_links:
        args += ["--find-links", str(d)]
    return args


def _error(what: str, returncode: int, stderr: str, log: Path) -> SetupError:
    """The one line a failed run becomes, of the class its kind (uv.failures.classify) calls for."""
    kind = classify(returncode, stderr)
    cause, details = short_cause(stderr), {"uv_log": str(log)}
    if kind == "offline-miss":
        return OperationError(f"{what} failed: {cause}", OFFLINE_HINT, details=details, uv_failure=kind)
    if kind == "conflict":
        return ConflictError(f"{what}: {cause}", f"uv's full output is in {log}", details=details, uv_failure=kind)
    return OperationError(f"{what} failed: {cause}", f"uv's full output is in {log}", details=details, uv_failure=kind)
