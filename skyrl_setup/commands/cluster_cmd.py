"""`doctor --ray` and `install --ray`: the single-machine commands, once per node of a Ray cluster."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from skyrl_setup import modelsize
from skyrl_setup.cluster import drift, fan_out
from skyrl_setup.commands import CommandResult
from skyrl_setup.detect.gpu import DriverInfo
from skyrl_setup.doctor import fit_checks
from skyrl_setup.doctor.gpu_checks import check_driver_probe
from skyrl_setup.errors import ExitCode
from skyrl_setup.report import MARKS

DEFAULT_TIMEOUT = 600.0


def _gpu_checks(node) -> list[dict]:
    doc = (node.result or {}).get("doc") or {}
    driver = DriverInfo(((doc.get("system") or {}).get("driver") or {}).get("version"), "node")
    out = []
    for g in node.gpu_results or []:
        for c in check_driver_probe(g["probe"], driver):
            out.append({**c.to_json(), "cuda_visible_devices": g.get("cuda_visible_devices")})
    return out


def run_doctor(args, reporter) -> CommandResult:
    argv = ["doctor", "--no-gpu-probe"]
    if args.backend:
        argv += ["--backend", args.backend]
    if args.venv is not None:
        argv += ["--venv", args.venv]
    model = modelsize.parse(args.model) if getattr(args, "model", None) else None
    if model:  # the size, not the folder: the nodes need not hold a copy of it
        argv += ["--model", f"{model.params:g}B"]
    nodes = fan_out(None if args.ray == "auto" else args.ray, argv, gpu_probes=not args.no_gpu_probe,
                    timeout=args.timeout or DEFAULT_TIMEOUT)
    found = drift(nodes)
    rows, bad = [], 0
    table = Table(title=f"Ray cluster: {len(nodes)} node(s)", title_justify="left")
    for col in ("node", "host", "environment", "lock", "driver", "GPU probes", "drift"):
        table.add_column(col)
    for n in nodes:
        doc = (n.result or {}).get("doc") or {}
        s = n.summary()
        gpu = _gpu_checks(n)
        node_drift = [d["field"] for d in found if d["node_id"] == n.node_id]
        summary = doc.get("summary") or {}
        if n.error:
            env_txt = f"[red]{escape(n.error)}[/]"
        elif "summary" in doc:
            env_txt = f"{summary.get('errors', 0)} error(s), {summary.get('warnings', 0)} warning(s)"
        else:
            env_txt = f"[red]{escape(str(doc.get('error', 'no result')))}[/]"
        gpu_ok = sum(c["status"] == "ok" for c in gpu)
        gpu_txt = f"{gpu_ok}/{len(gpu)} ok" if gpu and all(c["status"] != "skipped" for c in gpu) else \
            ("no driver" if gpu else "-")
        # a node too small for the model alone is no fault when the cluster as a whole is large enough (below)
        errors = summary.get("errors", 0) - sum(c["status"] == "error" for c in doc.get("checks", []) if c["id"].startswith("fit."))
        failing = bool(n.error or errors or "summary" not in doc or node_drift
                       or any(c["status"] == "error" for c in gpu))
        bad += failing
        table.add_row(n.address, (n.result or {}).get("hostname", "?"), env_txt, (s.get("lock_sha256") or "-")[:12],
                      s.get("driver") or "none", gpu_txt, escape(", ".join(node_drift)) or "-")
        rows.append({"node_id": n.node_id, "address": n.address, "alive": n.alive, "gpus": n.gpus, "error": n.error,
                     "summary": s, "doctor": doc, "gpu_checks": gpu, "drift": node_drift, "ok": not failing})
    reporter.print(table)
    for d in found:
        reporter.print(f"  [yellow]drift[/] {d['node']}: {escape(d['field'])} = {escape(str(d['value']))} "
                       f"(most nodes: {escape(str(d['reference']))})")
    reporter.print(f"[{'red' if bad else 'green'}]{bad} of {len(nodes)} node(s) need attention[/]")
    out = {"nodes": rows, "drift": found, "dead": [n.address for n in nodes if not n.alive]}
    if model:
        fit = _cluster_fit(model, nodes, reporter)
        out["model_fit"] = fit
        bad += any(c["status"] == "error" for c in fit["checks"])
    return CommandResult(out, ExitCode.FAILED if bad else ExitCode.OK)


def _cluster_fit(model, nodes, reporter) -> dict:
    """Per node (as each node's doctor judged it) and for every answering node's GPUs together."""
    sizes, per_node = {}, {}
    reporter.print("[bold]Model fit (version matrix §4)[/]")
    for n in nodes:
        fit = ((n.result or {}).get("doc") or {}).get("model_fit")
        if n.error or not fit:
            continue
        sizes[n.address] = fit["gpus"]["memory_bytes"]
        per_node[n.address] = {k: fit[k] for k in ("gpus", "minimum", "recommended")}
        levels = [lv for lv in ("minimum", "recommended") if fit[lv]["met"]]
        reporter.print(f"  {n.address}: {fit_checks.describe(sizes[n.address])}; meets "
                       + (" and ".join(f"the {lv}" for lv in levels) if levels else "neither level") + " on its own")
    checks = fit_checks.cluster_fit(model, sizes)
    for c in checks:
        reporter.print(f"  {MARKS[c.status]} {escape(c.summary)}" + (f"\n      [cyan]fix:[/] {escape(c.fix)}" if c.fix else ""))
    return {"per_node": per_node, "total": fit_checks.verdict(model, [b for v in sizes.values() for b in v],
                                                            f"the cluster ({len(sizes)} nodes)", cluster=True),
            "checks": [c.to_json() for c in checks]}


def run_install(args, reporter) -> CommandResult:
    argv = ["install"]
    for b in args.backend or ["sglang"]:
        argv += ["--backend", b]
    for flag in ("venv", "lock", "cuda"):
        if getattr(args, flag):
            argv += [f"--{flag}", getattr(args, flag)]
    for d in args.find_links or ():
        argv += ["--find-links", d]
    for a in args.additions or ():
        argv += ["--with", a]
    if args.force:
        argv.append("--force")
    nodes = fan_out(None if args.ray == "auto" else args.ray, argv, gpu_probes=False, timeout=args.timeout or DEFAULT_TIMEOUT * 3)
    rows, failed, paths = [], 0, set()
    for n in nodes:
        doc = (n.result or {}).get("doc") or {}
        ok = bool(n.result) and n.result.get("rc") == 0 and not n.error
        failed += not ok
        if ok:
            paths.add(doc.get("venv"))
        err = n.error or (None if ok else doc.get("error") or (n.result or {}).get("error"))
        rows.append({"node_id": n.node_id, "address": n.address, "ok": ok, "venv": doc.get("venv"),
                     "generation": doc.get("generation"), "noop": doc.get("noop"), "error": err})
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        what = ("already current" if doc.get("noop") else f"generation {doc.get('generation')}") if ok else escape(str(err))
        reporter.print(f"  {mark} {n.address}: {what}")
    doc = {"nodes": rows, "failed": failed}
    if len(paths) == 1:
        venv = paths.pop()
        doc["py_executable"] = f"{venv}/bin/python"
        doc["runtime_env"] = {"py_executable": f"{venv}/bin/python"}
        reporter.print(f"every Ray worker can use it: runtime_env={{'py_executable': '{venv}/bin/python'}} "
                       "and export RAY_ENABLE_UV_RUN_RUNTIME_ENV=0 (no `uv run` per worker); "
                       "the backend's variables are set by the venv itself (a .pth file)")
    elif len(paths) > 1:
        warning = f"nodes built at different paths ({', '.join(sorted(map(str, paths)))}): pass --venv for one py_executable"
        doc["warnings"] = [warning]
        reporter.warn(warning)
    if failed:
        reporter.print(f"[red]{failed} node(s) failed[/]; the others keep their new environment; re-run to finish the rest")
    return CommandResult(doc, ExitCode.FAILED if failed else ExitCode.OK)
