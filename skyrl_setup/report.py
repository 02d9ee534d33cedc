"""Human output: rich text on stderr (NO_COLOR honoured by rich). JSON goes to stdout elsewhere."""

from __future__ import annotations

import os

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from skyrl_setup.redact import redact

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


def one_line(text: str) -> str:
    """An error is one line: line breaks inside a message (a pasted spec, a library's report) become ' / '."""
    parts = [p.strip() for p in text.splitlines() if p.strip()]
    return " / ".join(parts)


def human_bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


class Reporter:
    def __init__(self, *, json_mode: bool = False, verbose: bool = False):
        self.json_mode = json_mode
        self.verbose = verbose
        self.console = make_console()

    def progress(self, line: str) -> None:
        """A line from a stage or from uv; uv's per-package lines only with -v."""
        stripped = line.strip()
        if stripped.startswith(("+ ", "- ", "~ ")) and not self.verbose:
            return
        if not self.json_mode and stripped:
            self.console.print(f"[dim]  {escape(redact(line))}[/]")

    def step(self, text: str) -> None:
        if not self.json_mode:
            self.console.print(f"[bold]→[/] {escape(redact(text))}")

    def warn(self, text: str) -> None:
        if not self.json_mode:
            self.console.print(f"[yellow]warning:[/] {escape(redact(text))}")

    def print(self, *args, **kw) -> None:
        if not self.json_mode:
            self.console.print(*args, **kw)

    def error(self, message: str, hint: str = "") -> None:
        self.console.print(f"[red]error:[/] {escape(redact(one_line(message)))}", soft_wrap=True)
        if hint:
            self.console.print(f"[dim]hint:[/] {escape(redact(one_line(hint)))}", soft_wrap=True)

    def kv_table(self, title: str, rows: list[tuple[str, str]]) -> None:
        t = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
        t.add_column(style="bold")
        t.add_column()
        for k, v in rows:
            t.add_row(k, escape(redact(v)))
        self.print(t)
