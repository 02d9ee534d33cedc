"""The one renderer: rich text on stderr (NO_COLOR honoured by rich), the JSON envelope on stdout.

A command's result is drawn by the view registered for its command; a command's `ui.show`
draws a named view before its result exists (the plan before a long build).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Callable, Mapping

from rich.console import Console
from rich.markup import escape

from skyrl_setup.errors import PreconditionError, SetupError
from skyrl_setup.humanize import one_line
from skyrl_setup.redact import redact
from skyrl_setup.results import Result, envelope, error_envelope, plain

MARKS = {"ok": "[green]✓[/]", "warning": "[yellow]![/]", "error": "[red]✗[/]", "skipped": "[dim]-[/]"}


def make_console() -> Console:
    return Console(stderr=True, highlight=False, no_color=bool(os.environ.get("NO_COLOR")) or None, width=_width())


def _width() -> int | None:
    """rich takes COLUMNS=0 (or -3) literally and prints nothing; such a value is ignored."""
    cols = os.environ.get("COLUMNS", "")
    if not cols or (cols.isdigit() and int(cols) > 0):
        return None
    try:
        return os.get_terminal_size(2).columns or 80
    except OSError:
        return 80


def t(value) -> str:
    """A value from a result as text: secrets redacted, safe inside rich markup."""
    return escape(str(plain(value)))


class Screen:
    """Where views draw: the console, and whether the user asked for detail."""

    def __init__(self, *, verbose: bool = False):
        self.console = make_console()
        self.verbose = verbose

    def print(self, *args, **kw) -> None:
        self.console.print(*args, **kw)


View = Callable[[Screen, Mapping], None]
VIEWS: dict[str, View] = {}


def view(name: str):
    def register(fn: View) -> View:
        VIEWS[name] = fn
        return fn
    return register


class HumanUI:
    """The UI a command talks to (skyrl_setup/ui.py); silent but for errors under --json."""

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
            _load_views()
            VIEWS[name](self.screen, data)

    def confirm(self, question: str) -> bool:
        """Asked on stderr, answered on a terminal's stdin: stdout stays the JSON document's."""
        if not sys.stdin.isatty():
            return False
        self.screen.print(f"{escape(question)} [y/N] ", end="")
        return sys.stdin.readline().strip().lower() in ("y", "yes")


def _load_views() -> None:
    if not VIEWS:
        from skyrl_setup.cli import views_doctor, views_install, views_other  # noqa: F401 - they register themselves


def render_result(screen: Screen, result: Result) -> None:
    _load_views()
    VIEWS[result.view](screen, result.data)


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
