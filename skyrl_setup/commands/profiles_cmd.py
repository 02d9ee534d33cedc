"""`skyrl-setup profiles`: each backend and its key pins."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from skyrl_setup import profiles
from skyrl_setup.commands import CommandResult


def run(args, reporter) -> CommandResult:
    loaded = profiles.load_all()
    t = Table(title="SkyRL backend profiles", title_justify="left")
    for col in ("backend", "python", "torch", "cuda", "main packages"):
        t.add_column(col)
    for p in loaded:
        main = ", ".join(f"{n}{p.packages[n]}" for n in p.main_packages if n != "torch")
        t.add_row(p.name, p.python, p.torch, ", ".join(p.variants), escape(main))
    reporter.print(t)
    if reporter.verbose:
        for p in loaded:
            for note in p.notes:
                reporter.print(f"[dim]{p.name}:[/] {note}")
    return CommandResult({"profiles": [p.summary_json() for p in loaded]})
