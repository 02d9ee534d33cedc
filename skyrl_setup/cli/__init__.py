"""The command line: parse argv into a request, call one command, render its result, map errors to exit codes.

Nothing here decides anything about environments; commands/ does, through the stages.
Only the modules of this package import argparse or rich.
"""

from __future__ import annotations

import errno
import importlib
import os
import signal
import sys
import traceback

from skyrl_setup import settings
from skyrl_setup.commands.requests import Request
from skyrl_setup.errors import ExitCode, OperationError, PreconditionError, SetupError
from skyrl_setup.humanize import sh
from skyrl_setup.store import generations as envstore

COMMANDS = {
    "profiles": "skyrl_setup.commands.profiles_cmd",
    "lock": "skyrl_setup.commands.lock_cmd",
    "install": "skyrl_setup.commands.install",
    "doctor": "skyrl_setup.commands.doctor_cmd",
    "check-compat": "skyrl_setup.commands.compat_cmd",
    "upgrade": "skyrl_setup.commands.upgrade_cmd",
    "bundle": "skyrl_setup.commands.bundle_cmd",
    "dockerfile": "skyrl_setup.commands.dockerfile_cmd",
    "rollback": "skyrl_setup.commands.rollback_cmd",
}


def command_function(request: Request):
    """The function that answers this request: a cluster run for --ray, else the command's own."""
    if getattr(request, "ray", None):
        return getattr(importlib.import_module("skyrl_setup.commands.cluster_cmd"), f"run_{request.command}")
    return importlib.import_module(COMMANDS[request.command]).run


def main(argv: list[str] | None = None) -> int:
    from skyrl_setup.cli import render
    from skyrl_setup.cli.parse import parse, selected

    argv = sys.argv[1:] if argv is None else argv
    closed = _reopen_closed_streams()
    json_mode, debug = "--json" in argv, "--debug" in argv  # before parsing: a usage error answers in the asked form
    screen = render.Screen(verbose="-v" in argv or "--verbose" in argv)
    command = selected(argv)  # a usage error still names its command: the one argparse selects
    # Ctrl-C, a kill or a closed terminal: one unwinding for whichever comes first; SIGINT too, so that a burst of
    # signals (a terminal that closes while Ctrl-C is pressed) cannot break the cleanup the first one started
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    try:
        request, output = parse(argv)
        command, json_mode, debug = request.command, output.json, output.debug  # what was parsed wins over the guess
        if json_mode and 1 in closed:  # refused before anything is changed: the result would be lost
            raise PreconditionError("stdout is closed: the JSON document would have nowhere to go",
                                    "run it with stdout open (a file or a pipe: `> result.json`), or without --json")
        screen.verbose = output.verbose
        ui = render.HumanUI(screen, json_mode=json_mode)
        for warning in settings.fix(settings.load()).warnings():
            ui.warn(warning)
        result = command_function(request)(request, ui)
        if json_mode:
            render.emit_result(result)
        else:
            render.render_result(screen, result)
        return int(result.exit_code)
    except SetupError as exc:
        return _fail(exc, command, screen, json_mode, debug)
    except KeyboardInterrupt as exc:
        return _fail(interrupted(getattr(exc, "signum", signal.SIGINT)), command, screen, json_mode, debug=False)
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        return _fail(system_error(exc) or OperationError(f"unexpected {type(exc).__name__}: {exc}", "re-run with --debug and report it"),
                     command, screen, json_mode, debug)


def _reopen_closed_streams() -> set[int]:
    """stdin, stdout or stderr closed by the caller (`<&-`, `>&-`) becomes /dev/null: otherwise the next file opened
    here takes that descriptor, and a print or a child's output would land in it. Returns the ones that were closed."""
    closed = set()
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            closed.add(fd)
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, encoding="utf-8", closefd=False))
    return closed


class Terminated(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP, raised in the main thread as Ctrl-C raises KeyboardInterrupt, so every cleanup runs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_terminating: list[int] = []


def _terminate(signum, _frame):
    if not _terminating:  # a later signal must not break the cleanup the first one started
        _terminating.append(signum)
        # ignored from here on, by the kernel: also while the interpreter shuts down, when no Python handler is left
        # and SIGHUP's or SIGTERM's default action would end the process with no exit code of ours
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        sys.unraisablehook = _quiet_about_ignored_signals(sys.unraisablehook)
        raise Terminated(signum)


def _quiet_about_ignored_signals(hook):
    """A signal that arrived before the SIG_IGN above but is handled after it makes Python write "Signal N ignored
    due to race condition" with a traceback, in the middle of the one-line error: it is ignored, as meant."""
    def quiet(unraisable):
        if isinstance(unraisable.exc_value, OSError) and "ignored due to race condition" in str(unraisable.exc_value):
            return
        hook(unraisable)
    return quiet


def interrupted(signum: int) -> SetupError:
    """The error an interrupt ends with: what happened to the environment, and the 128+N exit code."""
    how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    if envstore.swapped:
        target, n = envstore.swapped[-1]
        err = OperationError(f"{how} after {target} was switched to generation {n}",
                             f"the new environment is in place; check it with `skyrl-setup doctor --venv {sh(target)}`")
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


def _fail(exc: SetupError, command: str | None, screen, json_mode: bool, debug: bool) -> int:
    from skyrl_setup.cli import render

    if debug:
        traceback.print_exc()
    try:
        render.render_error(screen, exc)
    except OSError:
        pass  # stderr is gone (a closed terminal): the exit code still tells
    if json_mode:
        try:
            render.emit_error(command, exc)
        except SetupError:
            pass  # stdout is what failed; the error line above said so
    return int(exc.code)
