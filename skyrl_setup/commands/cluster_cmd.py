"""`doctor --ray` and `install --ray`: the single-machine commands, once per node of a Ray cluster.

Each node gets exactly the request the user made (`request.for_nodes()`), and answers with the
JSON envelope every command writes; nothing here rebuilds argv or guesses a document's shape.
"""

from __future__ import annotations

from skyrl_setup import paths as preflight
from skyrl_setup.commands.cluster import drift, fan_out
from skyrl_setup.commands.requests import DoctorRequest, InstallRequest
from skyrl_setup.commands.results import Result, plain
from skyrl_setup.commands.shapes import ClusterDoctorData, ClusterInstallData, NodeDoctor, NodeInstall
from skyrl_setup.commands.ui import UI
from skyrl_setup.detect.gpu import DriverInfo
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.doctor import fit_checks, modelsize
from skyrl_setup.errors import ExitCode
from skyrl_setup.verify.gpu import check_driver_probe

DEFAULT_TIMEOUT = 600.0


def _gpu_checks(node) -> list[dict]:
    driver = DriverInfo(((node.data.get("system") or {}).get("driver") or {}).get("version"), "node")
    out = []
    for g in node.gpu_results or []:
        for c in check_driver_probe(g["probe"], driver):
            out.append({**c.to_json(), "cuda_visible_devices": g.get("cuda_visible_devices")})
    return out


def run_doctor(req: DoctorRequest, ui: UI) -> Result:
    import dataclasses

    model = modelsize.parse(req.model) if req.model else None
    # the size, not the folder: the nodes need not hold a copy of it; the probes run as Ray GPU tasks
    node_req = dataclasses.replace(req, no_gpu_probe=True, model=f"{model.params:g}B" if model else None)
    ui.step("asking every node of the Ray cluster")
    nodes = fan_out(None if req.ray == "auto" else req.ray, node_req.for_nodes(), gpu_probes=not req.no_gpu_probe,
                    timeout=req.timeout or DEFAULT_TIMEOUT)
    found = drift(nodes)
    rows: list[NodeDoctor] = []
    bad = 0
    for n in nodes:
        data, env = n.data, n.envelope
        gpu = _gpu_checks(n)
        node_drift = [d["field"] for d in found if d["node_id"] == n.node_id]
        summary = data.get("summary") or {}
        # a node too small for the model alone is no fault when the cluster as a whole is large enough (below)
        errors = summary.get("errors", 0) - sum(c["status"] == "error" for c in data.get("checks", ()) if c["id"].startswith("fit."))
        answered = env is not None and env.error is None and "summary" in data
        failing = bool(n.error or not answered or errors or node_drift or any(c["status"] == "error" for c in gpu))
        bad += failing
        rows.append({"node_id": n.node_id, "address": n.address, "hostname": (n.result or {}).get("hostname"), "alive": n.alive,
                     "gpus": n.gpus, "error": n.error or (None if answered else n.failure), "summary": n.summary(),
                     "doctor": plain(data), "gpu_checks": gpu, "drift": node_drift, "ok": not failing})
    out: ClusterDoctorData = {"nodes": rows, "drift": found, "dead": [n.address for n in nodes if not n.alive], "model_fit": None,
                              "failing": bad}
    if model:
        fit = _cluster_fit(model, nodes)
        out["model_fit"] = fit
        bad += any(c["status"] == "error" for c in fit["checks"])
    return Result("doctor", out, ExitCode.FAILED if bad else ExitCode.OK, view="doctor.cluster")


def _cluster_fit(model, nodes) -> dict:
    """Per node (as each node's doctor judged it) and for every answering node's GPUs together."""
    sizes, per_node = {}, {}
    for n in nodes:
        fit = n.data.get("model_fit")
        if n.failure or not fit:
            continue
        sizes[n.address] = list(fit["gpus"]["memory_bytes"])
        per_node[n.address] = {**plain({k: fit[k] for k in ("gpus", "minimum", "recommended")}),
                               "describe": fit_checks.describe(sizes[n.address])}
    checks = fit_checks.cluster_fit(model, sizes)
    return {"per_node": per_node, "total": fit_checks.verdict(model, [b for v in sizes.values() for b in v],
                                                            f"the cluster ({len(sizes)} nodes)", cluster=True),
            "checks": [c.to_json() for c in checks]}


def run_install(req: InstallRequest, ui: UI) -> Result:
    preflight.index_settings()  # a bad setting is one error here, not one per node
    Mirrors.load(req.mirror)
    ui.step("building on every node of the Ray cluster")
    nodes = fan_out(None if req.ray == "auto" else req.ray, req.for_nodes(), gpu_probes=False,
                    timeout=req.timeout or DEFAULT_TIMEOUT * 3)
    rows: list[NodeInstall] = []
    failed, paths = 0, set()
    for n in nodes:
        env, data = n.envelope, n.data
        ok = env is not None and env.ok and not n.error
        failed += not ok
        if ok and not data.get("dry_run"):  # a plan is not an environment a worker can use
            paths.add(data.get("venv"))
        rows.append({"node_id": n.node_id, "address": n.address, "ok": ok, "venv": data.get("venv"),
                     "generation": data.get("generation"), "noop": data.get("noop"), "dry_run": data.get("dry_run"),
                     "ready": data.get("ready"),
                     "error": None if ok else n.failure or f"not ready for SkyRL training (exit {env.exit_code if env else '?'})"})
    out: ClusterInstallData = {"nodes": rows, "failed": failed, "py_executable": None, "runtime_env": None, "warnings": []}
    if len(paths) == 1:
        venv = paths.pop()
        out["py_executable"] = f"{venv}/bin/python"
        out["runtime_env"] = {"py_executable": f"{venv}/bin/python"}
    elif len(paths) > 1:
        out["warnings"] = [f"nodes built at different paths ({', '.join(sorted(map(str, paths)))}): pass --venv for one py_executable"]
    return Result("install", out, ExitCode.FAILED if failed else ExitCode.OK, view="install.cluster")
