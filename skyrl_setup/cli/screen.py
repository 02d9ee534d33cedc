"""Where views draw (Screen), how a value is shown (t), and the registry of views by command name.

Its own module so that the views import it and the renderer imports the views: nothing imports back up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from rich.console import Console
from rich.markup import escape

from skyrl_setup.commands.results import plain

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
