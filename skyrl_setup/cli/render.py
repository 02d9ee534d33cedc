"""The one renderer: rich text on stderr (NO_COLOR honoured by rich), the JSON envelope on stdout.

A command's result is drawn by the view registered for its command; a command's `ui.show`
draws a named view before its result exists (the plan before a long build).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Mapping

from rich.markup import escape

from skyrl_setup.cli.screen import VIEWS, Screen
from skyrl_setup.commands.results import Result, envelope, error_envelope
from skyrl_setup.errors import PreconditionError, SetupError
from skyrl_setup.humanize import one_line
from skyrl_setup.redact import redact


class HumanUI:
    """The UI a command talks to (skyrl_setup/commands/ui.py); silent but for errors under --json."""

    def __init__(self, screen: Screen, *, json_mode: bool):
        self.screen, self.json_mode = screen, json_mode

    def progress(self, line: str) -> None:
        """A line from a stage or from uv; uv's per-package lines only with -v."""
        stripped = line.strip()
        if stripped.startswith(("+ ", "- ", "~ ")) and not self.screen.verbose:
            return
        if not self.json_mode and stripped:
            self.screen.print(f"[dim]  {escape(redact(line))}[/]")

    def step(self, text: str) -> None:
        if not self.json_mode:
            self.screen.print(f"[bold]→[/] {escape(redact(text))}")

    def warn(self, text: str) -> None:
        """Also under --json: stderr is not the document, and a warning must not vanish with the progress lines."""
        self.screen.print(f"[yellow]warning:[/] {escape(redact(text))}")

    def show(self, name: str, data: Mapping) -> None:
        if not self.json_mode:
            _view(name)(self.screen, data)

    def confirm(self, question: str) -> bool:
        """Asked on stderr, answered on a terminal's stdin: stdout stays the JSON document's."""
        if not sys.stdin.isatty():
            return False
        self.screen.print(f"{escape(question)} [y/N] ", end="")
        return sys.stdin.readline().strip().lower() in ("y", "yes")


# the module that registers each view, by the view's first word: a run imports the views it draws (views_doctor alone
# costs more than a no-op's own work); a view found in none of these is looked for in all of them
VIEW_MODULES = {"install": "views_install", "upgrade": "views_install", "rollback": "views_install", "doctor": "views_doctor"}
VIEW_MODULE_OTHERWISE = "views_other"
ALL_VIEW_MODULES = ("views_doctor", "views_install", "views_other")


def _view(name: str):
    if name not in VIEWS:
        importlib.import_module(f"skyrl_setup.cli.{VIEW_MODULES.get(name.split('.')[0], VIEW_MODULE_OTHERWISE)}")
    if name not in VIEWS:
        for module in ALL_VIEW_MODULES:
            importlib.import_module(f"skyrl_setup.cli.{module}")
    return VIEWS[name]


def render_result(screen: Screen, result: Result) -> None:
    _view(result.view)(screen, result.data)


def render_error(screen: Screen, exc: SetupError) -> None:
    screen.print(f"[red]error:[/] {escape(redact(one_line(exc.message)))}", soft_wrap=True)
    if exc.hint:
        screen.print(f"[dim]hint:[/] {escape(redact(one_line(exc.hint)))}", soft_wrap=True)
    if screen.verbose:
        for line in (exc.details.get("conflict") or {}).get("chain", ()):
            screen.print(f"  [dim]{escape(redact(line))}[/]")


def emit(doc: dict) -> None:
    """The one JSON document on stdout; a stdout that cannot take it is an error like any other."""
    try:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        sys.stdout.flush()
    except OSError as exc:
        _silence_stdout()
        raise PreconditionError(f"cannot write the JSON output to stdout: {exc.strerror or exc}",
                                "send stdout somewhere with room (a file on a filesystem with free space, or a pipe)") from None


def emit_result(result: Result) -> None:
    emit(envelope(result))


def emit_error(command: str | None, exc: SetupError) -> None:
    emit(error_envelope(command, exc))


def _silence_stdout() -> None:
    """After a failed write, so the interpreter's last flush does not print a traceback of its own."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError):
        pass
