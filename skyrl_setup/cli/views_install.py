"""Human views of install, upgrade and rollback results (and of an install's plan, drawn before the build)."""

from __future__ import annotations

from rich.table import Table

from skyrl_setup.cli.screen import MARKS, Screen, t, view
from skyrl_setup.commands.shapes import ClusterInstallData, InstallData, RollbackData, UpgradeData
from skyrl_setup.humanize import human_bytes, sh


def kv_table(screen: Screen, title: str, rows: list[tuple[str, str]]) -> None:
    table = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows:
        table.add_row(k, t(v))
    screen.print(table)


@view("install.plan")
def plan(screen: Screen, p) -> None:
    py, cuda = p["python"], p["cuda"]
    gpus = ", ".join(f"{g['name']} (sm_{g['compute_capability'].replace('.', '')})" for g in p["gpus"]) or "none found"
    lock = (f"{p['lockfile'].rsplit('/', 1)[-1]} ({p['lock_source']})" if p["lockfile"] else f"none matches: {p['lock_source']}") \
        + ("" if p["torch_index"] == "pypi" or p["lockfile"] else f" with {p['torch_index']}")
    rows = [("backend", f"{p['backend']} ({p['summary']})"), ("environment", p["venv"]),
            ("python", f"{py['version']} ({py['path']}, found via {py['source']})"), ("cuda", f"{cuda['variant']}: {cuda['reason']}"),
            ("gpus", gpus), ("lockfile", lock)]
    if p["route"]:
        rows.append(("route", f"{p['route']['route']} ({cuda['variant']}): {p['route']['reason']}"))
        rows += [("  not taken", line) for line in p["route"]["skipped"]]
    if p["lockfile"]:
        rows.append(("packages", f"{p['package_count']}, {human_bytes(p['download_bytes'])} to download (less what uv has cached)"))
    if p["fetch"]:
        rows.append(("files from", "; ".join(r["describe"] for r in p["fetch"])))
    for a in p["artifacts"]:
        where = a["location"] if a["status"] != "unreachable" else f"unreachable ({a['error']})"
        need = "required to build" if a["required"] else "built without it if missing; the verdict says if SkyRL needs it"
        rows.append((a["name"], f"{a['version']} ({need}), from {a['status']}: {where}"))
    rows += [("  vs SkyRL's lock", line) for line in p.get("lock_changes", [])]
    if p["build_from_source"]:
        rows.append(("built from source", ", ".join(p["build_from_source"])))
    for q in p["build_prerequisites"]:
        rows.append((f"  {q['name']}", ("ok: " if q["ok"] else "MISSING: ") + q["found"] + ("" if q["ok"] else f" → {q['fix']}")))
    if p["project"]:
        own = p["skyrl_lock"]
        rel = p.get("skyrl_release") or {}
        what = f"{own.get('skyrl-version', '?')}, editable" + (f"; its modules checked as {rel['distribution']} {rel['version']}'s"
                                                              if rel else "")
        rows.append(("skyrl", f"your checkout {p['project']} ({what})"))
    elif p.get("skyrl_release"):
        rel = p["skyrl_release"]
        rows.append(("skyrl", f"{rel['distribution']} {rel['version']} ({rel['date']})"
                     + (f": {rel['chosen']}" if rel.get("chosen") else
                        f"; newer: {p['skyrl_newer']} (`--skyrl latest`)" if p.get("skyrl_newer") else "")))
    kv_table(screen, "Install plan", rows)
    for w in p["warnings"]:
        screen.print(f"[yellow]warning:[/] {t(w)}")


def verdict(screen: Screen, v) -> None:
    """The one line a person can trust, then each blocker with its fix."""
    if v["ready"]:
        screen.print(f"[green]✓ {t(v['verdict'])}[/]")
        return
    screen.print(f"[red]✗ {t(v['verdict'])}[/]")
    for b in v["blockers"]:
        screen.print(f"  [red]✗[/] {t(b['module'])}: {t(b['reason'])}")
        screen.print(f"      [cyan]fix:[/] {t(b['fix'])}")


@view("install")
def install(screen: Screen, d: InstallData) -> None:
    if d["dry_run"]:
        return  # the plan was the answer, drawn already
    if d["noop"]:
        screen.print(f"[green]✓[/] {t(d['venv'])} already matches {t((d['lockfile'] or '').rsplit('/', 1)[-1])}: nothing to do")
    else:
        for r in d["imports"]:
            mark = {"ok": "[green]✓[/]", "skipped": "[dim]-[/]"}.get(r["status"], "[red]✗[/]")
            extra = f" {r['version']}" if r["version"] else ""
            screen.print(f"  {mark} import {t(r['module'])}{t(extra)}" + (f" [dim]({t(r['detail'])})[/]" if r["detail"] else ""))
        built = "built and verified" if d["verdict"] is not None else "built (not verified: --no-verify)"
        screen.print(f"[green]✓[/] {t(d['backend'])} environment {built} at {t(d['venv'])} "
                     f"(generation {d['generation']}, {d['seconds']:.1f} s)")
        screen.print(f"  activate it with: [bold]{t(d['activate'])}[/]")
        if d["env"]:
            screen.print("  runtime settings: " + t(" ".join(f"{k}={v}" for k, v in d["env"].items())))
        if d["previous_generation"] is not None:
            screen.print(f"  the previous generation {d['previous_generation']} is kept: "
                         f"`skyrl-setup rollback --venv {t(sh(d['venv'] or ''))}`")
        for c in d["gpu_checks"]:
            screen.print(f"  {MARKS[c['status']]} {t(c['summary'])}"
                         + (f"\n      fix: {t(c['fix'])}" if c.get("fix") and c["status"] == "error" else ""))
    if d["verdict"] is not None:
        verdict(screen, d["verdict"])


@view("install.cluster")
def install_cluster(screen: Screen, d: ClusterInstallData) -> None:
    for n in d["nodes"]:
        what = ("already current" if n["noop"] else "planned (dry run)" if n["dry_run"] else f"generation {n['generation']}") \
            if n["ok"] else t(n["error"])
        screen.print(f"  {'[green]✓[/]' if n['ok'] else '[red]✗[/]'} {t(n['address'])}: {what}")
    if d["py_executable"]:
        screen.print(f"every Ray worker can use it: runtime_env={{'py_executable': '{t(d['py_executable'])}'}} "
                     "and export RAY_ENABLE_UV_RUN_RUNTIME_ENV=0 (no `uv run` per worker); "
                     "the backend's variables are set by the venv itself (a .pth file)")
    for w in d["warnings"]:
        screen.print(f"[yellow]warning:[/] {t(w)}")
    if d["failed"]:
        screen.print(f"[red]{d['failed']} node(s) failed[/]; the others keep their new environment; re-run to finish the rest")


@view("upgrade.plan")
def upgrade_plan(screen: Screen, d) -> None:
    if screen.verbose:
        plan(screen, d["plan"])
    rel = d["skyrl_release"]
    if rel["new"] and rel["old"] != rel["new"]:
        screen.print(f"SkyRL release: {t(rel['old'] or 'not recorded')} → {t(rel['new'])}" + (f" ({t(rel['why'])})" if rel["why"] else ""))
    table = Table(title=f"Upgrade plan ({len(d['changes'])} change(s))", title_justify="left")
    for col in ("package", "old", "new", ""):
        table.add_column(col)
    for c in d["changes"]:
        kind = "added" if c["old"] is None else ("removed" if c["new"] is None else "changed")
        table.add_row(t(c["name"]), t(c["old"] or "-"), t(c["new"] or "-"), kind)
    screen.print(table)
    built = d["built_from_source"]
    screen.print(f"download: up to {d['download']}" + (f"; built from source: {t(', '.join(built))}" if built else ""))


@view("upgrade")
def upgrade(screen: Screen, d: UpgradeData) -> None:
    venv = t(sh(d["venv"]))
    if d["noop"]:
        screen.print(f"[green]✓[/] {t(d['venv'])} is current: nothing to upgrade")
    elif d["applied"]:
        screen.print(f"[green]✓[/] upgraded {t(d['venv'])}: generation {d['previous_generation']} → {d['generation']} "
                     f"({len(d['changes'])} change(s), {d['seconds']:.1f} s); undo with `skyrl-setup rollback --venv {venv}`")
    elif d["proposed_lock"]:
        lock = t(sh(d["proposed_lock"]))
        screen.print(f"proposed lock kept at {t(d['proposed_lock'])}; apply it with "
                     f"`skyrl-setup upgrade --venv {venv} --lock {lock}` or --latest -y")


@view("rollback")
def rollback(screen: Screen, d: RollbackData) -> None:
    screen.print(f"[green]✓[/] {t(d['venv'])} rolled back: generation {d['previous_generation']} → {d['generation']} "
                 f"({t(d['backend'])}, lock {t((d['lock_sha256'] or '')[:12])})")
