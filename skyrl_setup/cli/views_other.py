"""Human views of profiles, lock, check-compat, bundle and dockerfile results."""

from __future__ import annotations

from rich.table import Table

from skyrl_setup.catalog.roles import package_roles
from skyrl_setup.cli.screen import Screen, t, view
from skyrl_setup.commands.shapes import BundleData, CheckCompatData, DockerfileData, LockData, ProfilesData
from skyrl_setup.humanize import human_bytes, sh


@view("profiles")
def profiles(screen: Screen, d: ProfilesData) -> None:
    for p in d["profiles"]:
        table = Table(title=f"{t(p['name'])}: {t(p['summary'])}", title_justify="left")
        for col in ("package", "version matrix", "SkyRL tested", "installs", "why they differ"):
            table.add_column(col)
        for r in p["comparison"]:
            table.add_row(t(r["package"]), t(r["matrix"] or "-"), t(r["skyrl_tested"] or "-"), t(r["installs"] or "-"), t(r["why"]))
        screen.print(table)
        versions = f"versions from {t(p['versions_from'])}"
        screen.print(f"  [dim]python {t(p['python'])}, cuda {t(', '.join(p['cuda']))};[/] " +
                     (f"[red]{versions}[/]" if p.get("lockfiles") == "missing" else f"[dim]{versions}[/]"))
        if p["releases"]["shown"]:
            screen.print(f"  {_releases_line(p['releases'])}")
        if screen.verbose:
            for note in p["notes"]:
                screen.print(f"  [dim]{t(note)}[/]")


def _releases_line(r) -> str:
    shown, default, newest = r["shown"], r["default"], r["newest"]
    line = f"SkyRL release: {t(shown['label'])}" + (" (the default)" if default and shown["id"] == default["id"] else
                                                   f" (--skyrl; the default is {t(default['label'])})" if default else "")
    if newest and newest["id"] != shown["id"]:
        flaw = f", known defect at {t(newest['defects'][0])}" if newest["defects"] else ""
        line += f"; newest: {t(newest['label'])} ({t(', '.join(newest['cuda']))}{flaw}), `--skyrl latest`"
    return line


@view("lock")
def lock(screen: Screen, d: LockData) -> None:
    for row in d["lockfiles"]:
        if row["route"]:
            screen.print(f"[green]wrote[/] {t(row['lockfile'].rsplit('/', 1)[-1])}: {row['package_count']} packages, "
                         f"{t(row['cuda'])} ({t(row['route'])} route)")
        else:
            screen.print(f"[green]wrote[/] {t(row['lockfile'])}: {row['package_count']} packages, {t(row['download'])} to download")
        for line in row["changes"]:
            screen.print(f"  [dim]{t(line)}[/]")


@view("check-compat")
def check_compat(screen: Screen, d: CheckCompatData) -> None:
    named = package_roles().summary
    key = ", ".join(f"{n} {v}" for n, v in d["resolved"].items() if n in named)
    screen.print(f"[green]✓[/] compatible with the {t(' + '.join(d['backends']))} profile: {t(key)} "
                 f"[dim]({d['seconds']:.2f} s, {d['requests']} index requests)[/]")


@view("bundle")
def bundle(screen: Screen, d: BundleData) -> None:
    for a in d["not_bundled"]:
        screen.print(f"[yellow]warning:[/] {t(a['name'])} not bundled: {t(a['error'])} "
                     f"({'required' if a['required'] else 'optional'}); add it with --find-links DIR")
    screen.print(f"[green]✓[/] wrote {t(d['bundle'])} ({human_bytes(d['bytes'])}, {d['files']} files); "
                 f"install it anywhere with `skyrl-setup install --from-bundle {t(sh(d['bundle']))}`")


@view("dockerfile")
def dockerfile(screen: Screen, d: DockerfileData) -> None:
    screen.print(f"[green]✓[/] wrote {t(d['dockerfile'])} ({t(d['base_image'])}), {t(d['lock'].rsplit('/', 1)[-1])} "
                 f"({t(d['lock_source'])}) and {t(d['tool_wheel'].rsplit('/', 1)[-1])}")
    screen.print(f"  build it with: docker build -t skyrl-{t(d['backend'])} {t(sh(d['dir']))}")
