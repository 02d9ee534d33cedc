"""Human views of doctor's result, on one machine and across a Ray cluster."""

from __future__ import annotations

import json

from rich.table import Table

from skyrl_setup.cli.screen import MARKS, Screen, t, view
from skyrl_setup.commands.results import plain
from skyrl_setup.commands.shapes import ClusterDoctorData, DoctorData

GROUPS = {"system": "System", "env": "Environment", "skyrl": "SkyRL training", "gpu": "GPU",
          "symptom": "Known symptoms", "fit": "Model fit"}


def _group(check_id: str) -> str:
    return next((g for g in GROUPS if check_id.startswith(g)), "gpu")


@view("doctor")
def doctor(screen: Screen, d: DoctorData) -> None:
    order = list(GROUPS)
    current = None
    for c in sorted(d["checks"], key=lambda c: order.index(_group(c["id"]))):
        group = _group(c["id"])
        if group != current:
            current = group
            screen.print(f"[bold]{GROUPS[group]}[/]")
        screen.print(f"  {MARKS[c['status']]} {t(c['summary'])}")
        if c.get("fix") and c["status"] in ("warning", "error"):
            screen.print(f"      [cyan]fix:[/] {t(c['fix'])}")
        if screen.verbose and c.get("details"):
            screen.print(f"      [dim]{t(json.dumps(plain(c['details']), default=str)[:800])}[/]")
    rec = d["environment"].get("record")
    if rec:
        hist = rec.get("history") or []
        last = hist[-1] if hist else {}
        screen.print(f"[dim]environment: {t(rec['backend'])} generation {rec['generation']}, made {t(rec['created'])}"
                     f"{', last ' + t(last.get('action', '')) + ' ' + t(last.get('time', '')) if last else ''}[/]")
    s = d["summary"]
    color = "red" if s["errors"] else ("yellow" if s["warnings"] else "green")
    screen.print(f"[{color}]doctor found {s['errors']} error(s) and {s['warnings']} warning(s)[/] [dim]({s['seconds']:.2f} s)[/]")


@view("doctor.cluster")
def cluster(screen: Screen, d: ClusterDoctorData) -> None:
    table = Table(title=f"Ray cluster: {len(d['nodes'])} node(s)", title_justify="left")
    for col in ("node", "host", "environment", "lock", "driver", "GPU probes", "drift"):
        table.add_column(col)
    for n in d["nodes"]:
        summary = (n["doctor"] or {}).get("summary") or {}
        env_txt = f"[red]{t(n['error'])}[/]" if n["error"] else \
            f"{summary.get('errors', 0)} error(s), {summary.get('warnings', 0)} warning(s)"
        gpu = n["gpu_checks"]
        gpu_ok = sum(c["status"] == "ok" for c in gpu)
        gpu_txt = f"{gpu_ok}/{len(gpu)} ok" if gpu and all(c["status"] != "skipped" for c in gpu) else ("no driver" if gpu else "-")
        s = n["summary"]
        table.add_row(t(n["address"]), t(n["hostname"] or "?"), env_txt, t((s.get("lock_sha256") or "-")[:12]),
                      t(s.get("driver") or "none"), gpu_txt, t(", ".join(n["drift"])) or "-")
    screen.print(table)
    for x in d["drift"]:
        screen.print(f"  [yellow]drift[/] {t(x['node'])}: {t(x['field'])} = {t(x['value'])} (most nodes: {t(x['reference'])})")
    screen.print(f"[{'red' if d['failing'] else 'green'}]{d['failing']} of {len(d['nodes'])} node(s) need attention[/]")
    fit = d["model_fit"]
    if fit:
        screen.print("[bold]Model fit[/]")
        for address, f in fit["per_node"].items():
            levels = [lv for lv in ("minimum", "recommended") if f[lv]["met"]]
            screen.print(f"  {t(address)}: {t(f['describe'])}; meets "
                         + (" and ".join(f"the {lv}" for lv in levels) if levels else "neither level") + " on its own")
        for c in fit["checks"]:
            screen.print(f"  {MARKS[c['status']]} {t(c['summary'])}" + (f"\n      [cyan]fix:[/] {t(c['fix'])}" if c.get("fix") else ""))
