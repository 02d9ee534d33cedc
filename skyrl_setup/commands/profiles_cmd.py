"""`skyrl-setup profiles`: each backend, and for its main packages three columns: what the version
matrix asks for, what SkyRL's own lock tested, what this tool's lock installs; each difference
explained in one line."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from skyrl_setup import profiles
from skyrl_setup.commands import CommandResult


def rows(p) -> list[dict]:
    """One row per main package of a profile: matrix / SkyRL tested / installed, and why they differ."""
    out = []
    for name in dict.fromkeys((*p.main_packages, *p.matrix)):
        installed = p.packages.get(name, "").lstrip("=") or None
        tested = p.tested.get(name)
        matrix = p.matrix.get(name)
        if not (installed or tested or matrix):
            continue
        out.append({"package": name, "matrix": matrix, "skyrl_tested": tested, "installs": installed,
                    "why": p.differences.get(name, "")})
    return out


def run(args, reporter) -> CommandResult:
    loaded = profiles.load_all()
    docs = []
    for p in loaded:
        t = Table(title=f"{p.name}: {p.summary}", title_justify="left")
        for col in ("package", "version matrix", "SkyRL tested", "installs", "why they differ"):
            t.add_column(col)
        table = rows(p)
        for r in table:
            t.add_row(r["package"], escape(r["matrix"] or "-"), r["skyrl_tested"] or "-", r["installs"] or "-",
                      escape(r["why"]))
        reporter.print(t)
        source = (f"SkyRL's lock ({p.skyrl_extra} extra), routes: {', '.join(p.routes)}" if p.from_skyrl
                  else "the version matrix's pins")
        reporter.print(f"  [dim]python {p.python}, cuda {', '.join(p.variants)}; versions from {source}[/]")
        if reporter.verbose:
            for note in p.notes:
                reporter.print(f"  [dim]{escape(note)}[/]")
        docs.append({**p.summary_json(), "comparison": table})
    return CommandResult({"profiles": docs})
