"""The command line: parse, call one command, render its result, map errors to exit codes.

Nothing here decides anything about environments; commands/ does, through the stages.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import signal
import sys
import traceback

from skyrl_setup import __version__, envstore, mirrors, preflight
from skyrl_setup.errors import ExitCode, OperationError, PreconditionError, SetupError, UsageError
from skyrl_setup.redact import redact_obj
from skyrl_setup.report import Reporter

BACKEND_HELP = "backend profile: sglang (default), vllm, flashrl, megatron (see `skyrl-setup profiles`)"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # `--jso` is a typo, not --json
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line and a hint, exit 2, never argparse's usage dump
        raise UsageError(f"{self.prog}: {message}", f"see `{self.prog} --help`")


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    p.add_argument("--json", action="store_true", help="write one JSON document to stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="more detail")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _env_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="sglang", help=BACKEND_HELP)
    p.add_argument("--venv", help="environment path (default: a per-user data folder …/skyrl-setup/envs/<backend>)")


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(prog="skyrl-setup", description="Set up and check SkyRL environments.", parents=[common])
    parser.add_argument("--version", action="version", version=f"skyrl-setup {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("profiles", parents=[common], help="list backend profiles and their pins")

    lk = sub.add_parser("lock", parents=[common], help="resolve a profile into a PEP 751 lockfile")
    lk.add_argument("--backend", default=None, help=BACKEND_HELP + "; with --from-skyrl: every backend built from SkyRL's lock")
    lk.add_argument("--from-skyrl", metavar="DIR", help="SkyRL's skyrl-train folder (pyproject.toml + uv.lock): one lockfile per route")
    lk.add_argument("--cuda", help="CUDA variant (default: the profile's first)")
    lk.add_argument("--platform", help="target platform, e.g. linux_x86_64 (default: this host's)")
    lk.add_argument("--output", "-o", help="write here instead of lockfiles/")
    lk.add_argument("--find-links", action="append", metavar="DIR", help="extra folder of wheels")
    lk.add_argument("--mirror", action="append", metavar="FROM=TO", help="map an upstream URL prefix to a mirror")

    ins = sub.add_parser("install", parents=[common], help="build a verified environment for a backend")
    ins.add_argument("--backend", action="append", help=BACKEND_HELP + "; twice to ask whether two can share one env")
    ins.add_argument("--venv", help="environment path (default: a per-user data folder …/skyrl-setup/envs/<backend>)")
    ins.add_argument("--with", dest="additions", action="append", metavar="SPEC", default=[],
                     help="an extra requirement for the environment, checked against the backend's pins first")
    ins.add_argument("--cuda", help="CUDA variant: auto (default) or e.g. cu128; env SKYRL_SETUP_CUDA")
    ins.add_argument("--python", help="Python 3.12 interpreter path, or 3.12")
    ins.add_argument("--project", help="install this SkyRL checkout (editable) instead of skyrl-train from PyPI")
    ins.add_argument("--lock", help="install this lockfile instead of the profile's")
    ins.add_argument("--find-links", action="append", metavar="DIR", help="folder of wheels (off-index components)")
    ins.add_argument("--require-gpu", action="store_true", help="fail (exit 4) where no NVIDIA GPU is found")
    ins.add_argument("--force", action="store_true", help="rebuild even if current, or replace another backend's env")
    ins.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    ins.add_argument("--no-verify", action="store_true", help="skip the import check (not recommended)")
    ins.add_argument("--strict", action="store_true", help="exit 1 unless the environment is ready for SkyRL training (for CI)")
    ins.add_argument("--wait", action="store_true", help="wait for another skyrl-setup working on the same env")
    ins.add_argument("--mirror", action="append", metavar="FROM=TO", help="map an upstream URL prefix to a mirror")
    ins.add_argument("--from-bundle", metavar="FILE", help="install from an offline bundle (no network used)")
    ins.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS", help="build the environment on every node of a Ray cluster")
    ins.add_argument("--timeout", type=float, help="seconds to wait for each node (with --ray)")

    bu = sub.add_parser("bundle", parents=[common], help="pack a lock and every file it needs into one archive")
    bu.add_argument("--backend", default="sglang", help=BACKEND_HELP)
    bu.add_argument("--cuda", help="CUDA variant (default: the profile's first)")
    bu.add_argument("--platform", help="target platform, e.g. linux_x86_64 (default: this host's)")
    bu.add_argument("--lock", help="bundle this lockfile instead of the profile's")
    bu.add_argument("--find-links", action="append", metavar="DIR", help="folder with off-index wheels to include")
    bu.add_argument("-o", "--output", help="archive path (default: skyrl-<backend>-<cuda>-<platform>.bundle.tar)")
    bu.add_argument("--mirror", action="append", metavar="FROM=TO", help="map an upstream URL prefix to a mirror")
    up = sub.add_parser("upgrade", parents=[common], help="move an environment forward: plan, check, build, swap")
    up.add_argument("specs", nargs="*", metavar="SPEC", help="packages to move, e.g. sglang==0.5.8 (the profile's other pins hold)")
    up.add_argument("--backend", default=None, help="the environment's backend (to find its default location)")
    up.add_argument("--venv", help="environment path (default: install's location for the backend)")
    up.add_argument("--lock", help="move to this lockfile")
    up.add_argument("--from-skyrl", metavar="DIR", help="move to SkyRL's lock in DIR (a newer release or your checkout after a pull)")
    up.add_argument("--latest", action="store_true", help="propose the newest versions of the backend's packages that agree")
    up.add_argument("--dry-run", action="store_true", help="show old → new and stop")
    up.add_argument("-y", "--yes", action="store_true", help="apply --latest without asking")
    up.add_argument("--find-links", action="append", metavar="DIR", help="folder of wheels (off-index components)")
    up.add_argument("--cuda", default=None, help=argparse.SUPPRESS)
    up.add_argument("--wait", action="store_true", help="wait for another skyrl-setup working on the same env")
    up.add_argument("--mirror", action="append", metavar="FROM=TO", help="map an upstream URL prefix to a mirror")

    rb = sub.add_parser("rollback", parents=[common], help="point an environment back at its previous generation")
    rb.add_argument("--backend", default=None, help="the environment's backend (to find its default location)")
    rb.add_argument("--venv", help="environment path")
    rb.add_argument("--wait", action="store_true", help="wait for another skyrl-setup working on the same env")

    cc = sub.add_parser("check-compat", parents=[common], help="can these packages live with a backend? (installs nothing)")
    cc.add_argument("specs", nargs="*", metavar="SPEC", help="requirements to add, e.g. vllm==0.11.0")
    cc.add_argument("--backend", action="append", help=BACKEND_HELP + "; repeat to check two backends together")
    cc.add_argument("--cuda", default=None, help="CUDA variant (default: the profile's first)")

    dk = sub.add_parser("dockerfile", parents=[common], help="write a Docker build context that installs a backend's lock")
    dk.add_argument("--backend", default="sglang", help=BACKEND_HELP)
    dk.add_argument("--cuda", help="CUDA variant (default: the profile's first)")
    dk.add_argument("--lock", help="build from this lockfile instead of the profile's")
    dk.add_argument("-o", "--output", metavar="DIR", help="folder to write into (default: ./skyrl-<backend>-docker)")

    doc = sub.add_parser("doctor", parents=[common], help="check the system, an environment and the GPUs")
    doc.add_argument("--backend", default=None, help=BACKEND_HELP + "; default: the environment's own")
    grp = doc.add_mutually_exclusive_group()
    grp.add_argument("--venv", help="environment to check (default: install's location for the backend)")
    grp.add_argument("--python", help="check any environment by its python (a Docker image's, a conda env's)")
    doc.add_argument("--no-gpu-probe", action="store_true", help="skip the kernel and torch probes")
    doc.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS", help="check every node of a Ray cluster")
    doc.add_argument("--model", metavar="SIZE|DIR", help="will a model of this size (7B, 0.5B) or this local model folder fit the GPUs?")
    doc.add_argument("--timeout", type=float, help="seconds to wait for each node (with --ray)")
    return parser


COMMANDS = {
    "profiles": "skyrl_setup.commands.profiles_cmd",
    "lock": "skyrl_setup.commands.lock_cmd",
    "install": "skyrl_setup.commands.install",
    "doctor": "skyrl_setup.commands.doctor_cmd",
    "check-compat": "skyrl_setup.commands.compat_cmd",
    "upgrade": "skyrl_setup.commands.upgrade_cmd",
    "bundle": "skyrl_setup.commands.bundle_cmd",
    "dockerfile": "skyrl_setup.commands.dockerfile_cmd",
    "rollback": "skyrl_setup.commands.upgrade_cmd:run_rollback",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    json_mode, debug = "--json" in argv, "--debug" in argv
    reporter = Reporter(json_mode=json_mode, verbose="-v" in argv or "--verbose" in argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a kill or a closed terminal: unwind like Ctrl-C
        signal.signal(sig, _terminate)
    try:
        args = build_parser().parse_args(argv)
        if not args.command:
            raise UsageError("no command given", "try `skyrl-setup install` or `skyrl-setup --help`")
        mirrors.set_flag_mirrors(getattr(args, "mirror", None))
        if args.command in ("install", "upgrade", "check-compat", "lock", "bundle"):
            preflight.index_settings()
        target = COMMANDS[args.command]
        if getattr(args, "ray", None):
            target = f"skyrl_setup.commands.cluster_cmd:run_{args.command}"
        module_name, _, func = target.partition(":")
        result = getattr(importlib.import_module(module_name), func or "run")(args, reporter)
        if json_mode:
            _emit(result.doc)
        return int(result.exit_code)
    except SetupError as exc:
        return _fail(exc, reporter, json_mode, debug)
    except KeyboardInterrupt as exc:
        return _fail(interrupted(getattr(exc, "signum", signal.SIGINT)), reporter, json_mode, debug=False)
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        return _fail(system_error(exc) or OperationError(f"unexpected {type(exc).__name__}: {exc}", "re-run with --debug and report it"),
                     reporter, json_mode, debug)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread as Ctrl-C raises KeyboardInterrupt, so every cleanup runs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_terminating: list[int] = []


def _terminate(signum, _frame):
    if not _terminating:  # a second signal must not break the cleanup the first one started
        _terminating.append(signum)
        raise Terminated(signum)


def interrupted(signum: int) -> SetupError:
    """The error an interrupt ends with: what happened to the environment, and the 128+N exit code."""
    how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    if envstore.swapped:
        target, n = envstore.swapped[-1]
        err = OperationError(f"{how} after {target} was switched to generation {n}",
                             f"the new environment is in place; check it with `skyrl-setup doctor --venv {target}`")
    else:
        err = OperationError(f"{how}; the previous environment is unchanged", "nothing was switched; re-run the command to finish")
    err.code = ExitCode.INTERRUPTED if signum == signal.SIGINT else 128 + signum
    return err


def system_error(exc: Exception) -> SetupError | None:
    """An OS error a user can cause (permissions, a read-only or full filesystem, a long path): a precise line, exit 4."""
    if not isinstance(exc, OSError) or exc.errno not in _USER_ERRNOS:
        return None
    where = f": {exc.filename}" if exc.filename else ""
    return PreconditionError(f"{exc.strerror or exc}{where}", _USER_ERRNOS[exc.errno])


_USER_ERRNOS = {
    errno.EACCES: "check the permissions of that path, or choose another location",
    errno.EPERM: "that path is protected (permissions or an immutable attribute); choose another location",
    errno.EROFS: "that filesystem is mounted read-only; choose a writable location",
    errno.ENOSPC: "free space there, or choose a location on a larger filesystem",
    errno.EDQUOT: "your disk quota is used up; free space or choose another location",
    errno.ENAMETOOLONG: "choose a shorter path",
    errno.ENOTDIR: "a component of that path is a file, not a directory",
    errno.ELOOP: "that path loops through symbolic links",
}


def _emit(doc: dict) -> None:
    """The one JSON document on stdout; a stdout that cannot take it is an error like any other."""
    try:
        sys.stdout.write(json.dumps(redact_obj(doc), indent=2, default=str) + "\n")
        sys.stdout.flush()
    except OSError as exc:
        _silence_stdout()
        raise PreconditionError(f"cannot write the JSON output to stdout: {exc.strerror or exc}",
                                "send stdout somewhere with room (a file on a filesystem with free space, or a pipe)") from None


def _silence_stdout() -> None:
    """After a failed write, so the interpreter's last flush does not print a traceback of its own."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError):
        pass


def _fail(exc: SetupError, reporter: Reporter, json_mode: bool, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    try:
        reporter.error(exc.message, exc.hint)
    except OSError:
        pass  # stderr is gone (a closed terminal): the exit code still tells
    if json_mode:
        try:
            _emit(exc.to_json())
        except SetupError:
            pass  # stdout is what failed; the error line above said so
    return int(exc.code)
