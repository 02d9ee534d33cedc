"""Every node of a Ray cluster: the same verified environment, checked and built through Ray itself.

One task per node (NodeAffinitySchedulingStrategy, hard) runs the ordinary doctor or install
on that node, as a subprocess of the node's own skyrl-setup; one task per GPU (num_gpus=1, so
Ray sets CUDA_VISIBLE_DEVICES) runs the driver-level kernel probe. Results are compared
across nodes: whatever differs from the majority is drift. Dead nodes and tasks past the
timeout are reported, never waited on forever. Ray is imported only here (`skyrl-setup[ray]`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType

from skyrl_setup import settings
from skyrl_setup.catalog.roles import package_roles
from skyrl_setup.commands.results import Envelope
from skyrl_setup.errors import OperationError, PreconditionError
from skyrl_setup.proc import die_with_parent

DRIFT_FIELDS = ("lock_sha256", "driver", "cuda_variant", "gpu_types", "python")


def _ray():
    try:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    except ImportError:
        raise PreconditionError("Ray is not installed next to skyrl-setup",
                                "install it beside skyrl-setup: pip install ray==2.51.1 (the version skyrl-setup[ray] pins)") from None
    return ray, NodeAffinitySchedulingStrategy


# -- what runs on the nodes -------------------------------------------------------------------------

def node_run(argv: list[str], timeout: float) -> dict:
    """Run skyrl-setup on this node with its own Python; its JSON envelope (as text), plus where it ran."""
    where = {"hostname": socket.gethostname(), "pid": os.getpid()}
    # Ray gives this zero-GPU task CUDA_VISIBLE_DEVICES='' (the node's own value is replaced, not visible here):
    # doctor would take it for a setting that hides every GPU
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    try:
        p = subprocess.run([sys.executable, "-m", "skyrl_setup", *argv, "--json"], capture_output=True, text=True, timeout=timeout,
                           env=env, preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired:
        return {**where, "rc": None, "error": f"timed out after {timeout:.0f} s"}
    return {**where, "rc": p.returncode, "stdout": p.stdout, "stderr_tail": (p.stderr.strip().splitlines() or ["no output"])[-1]}


def gpu_probe() -> dict:
    from skyrl_setup.probe import driver_probe

    return {"hostname": socket.gethostname(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "probe": driver_probe()}


# -- on the driver ------------------------------------------------------------------------------------

@dataclass
class NodeResult:
    node_id: str
    address: str
    alive: bool
    gpus: int
    result: dict | None = None
    gpu_results: list | None = None
    error: str | None = None

    @property
    def envelope(self) -> Envelope | None:
        """What the node's skyrl-setup answered, read as its JSON envelope; None where it answered nothing readable."""
        try:
            return Envelope.parse((self.result or {}).get("stdout") or "")
        except ValueError:
            return None

    @property
    def data(self):
        env = self.envelope
        return env.data if env else MappingProxyType({})

    @property
    def failure(self) -> str | None:
        """Why this node has no usable answer (or its command's own error), else None."""
        if self.error:
            return self.error
        env = self.envelope
        if env is None:
            return (self.result or {}).get("stderr_tail") or "no result"
        return env.message

    def summary(self) -> dict:
        return doctor_facts(self.data)


def doctor_facts(data) -> dict:
    """The one reading of a node's doctor data that drift compares (tests/test_cluster.py holds it to doctor's real output)."""
    env = data.get("environment") or {}
    rec = env.get("record") or {}
    pkgs = env.get("packages") or {}
    return {
        "lock_sha256": (rec.get("lock") or {}).get("sha256"),
        "driver": ((data.get("system") or {}).get("driver") or {}).get("version"),
        "cuda_variant": (rec.get("cuda") or {}).get("variant"),
        "gpu_types": ",".join(sorted({g.get("name", "?") for g in data.get("gpus") or []})) or None,
        "python": env.get("python_version"),
        **{f"pkg:{n}": pkgs.get(n) for n in package_roles().drift if n in pkgs},
    }


def drift(nodes: list[NodeResult]) -> list[dict]:
    """Fields whose value on a node differs from the majority of answering nodes (ties: the first node's)."""
    answered = [n for n in nodes if n.result and not n.error]
    if len(answered) < 2:
        return []
    sums = {n.node_id: n.summary() for n in answered}
    fields = sorted({k for s in sums.values() for k in s if k in DRIFT_FIELDS or k.startswith("pkg:")})
    out = []
    for f in fields:
        values = [sums[n.node_id].get(f) for n in answered]
        counts = Counter(values)
        top = max(counts.values())
        reference = next(v for v in values if counts[v] == top)
        for n in answered:
            v = sums[n.node_id].get(f)
            if v != reference:
                out.append({"node": n.address, "node_id": n.node_id, "field": f.removeprefix("pkg:"), "value": v, "reference": reference})
    return out


def connect(address: str | None):
    import warnings

    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # today's behaviour, without Ray's FutureWarning
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"ray\.")
    ray, _ = _ray()
    host, sep, port = (address or "").rpartition(":")
    if sep and port.isdigit():  # ray.init waits minutes on an address where nothing listens
        try:
            socket.create_connection((host.removeprefix("ray://") or "127.0.0.1", int(port)), timeout=5).close()
        except OSError as exc:
            raise OperationError(f"cannot connect to the Ray cluster at {address}: {exc.strerror or exc}",
                                 "start one with `ray start --head`, or pass its address: --ray HOST:6379") from None
    # which of this host's raylets the driver attaches to (multi-homed hosts; several test nodes on one host)
    node_ip = settings.current().ray_node_ip
    extra = {"_node_ip_address": node_ip} if node_ip else {}
    try:
        ray.init(address=address or "auto", ignore_reinit_error=True, logging_level="ERROR", log_to_driver=False, **extra)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; one line is what the user needs
        raise OperationError(f"cannot connect to the Ray cluster at {address or 'auto'}: {type(exc).__name__}: {exc}",
                             "start one with `ray start --head`, or pass its address: --ray HOST:6379") from None
    return ray


def fan_out(address: str | None, argv: list[str], *, gpu_probes: bool, timeout: float) -> list[NodeResult]:
    """Ray's driver prints notices (a node died, ...) on stdout from its own threads: while it is
    connected, stdout goes to stderr, so that --json keeps stdout to one JSON document."""
    import contextlib

    ray, _ = _ray()
    with contextlib.redirect_stdout(sys.stderr):
        try:
            return _fan_out(address, argv, gpu_probes=gpu_probes, timeout=timeout)
        finally:
            if ray.is_initialized():
                ray.shutdown()


def _fan_out(address: str | None, argv: list[str], *, gpu_probes: bool, timeout: float) -> list[NodeResult]:
    ray, Affinity = _ray()
    connect(address)
    nodes = []
    for n in ray.nodes():
        nodes.append(NodeResult(n["NodeID"], n.get("NodeManagerAddress", "?"), bool(n.get("Alive")),
                                int((n.get("Resources") or {}).get("GPU", 0))))
    run_remote = ray.remote(num_cpus=0)(node_run)
    probe_remote = ray.remote(num_cpus=0, num_gpus=1)(gpu_probe)
    pending: dict = {}
    for n in nodes:
        if not n.alive:
            n.error = "node is dead"
            continue
        strategy = Affinity(node_id=n.node_id, soft=False)
        pending[run_remote.options(scheduling_strategy=strategy).remote(argv, timeout)] = (n, "env")
        if gpu_probes:
            for _ in range(n.gpus):
                pending[probe_remote.options(scheduling_strategy=strategy).remote()] = (n, "gpu")
    done, not_done = ray.wait(list(pending), num_returns=len(pending), timeout=timeout + 30) if pending else ([], [])
    for ref in done:
        node, kind = pending[ref]
        try:
            value = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - a task failure is a finding about that node
            node.error = f"task failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            continue
        if kind == "env":
            node.result = value
        else:
            node.gpu_results = (node.gpu_results or []) + [value]
    for ref in not_done:
        node, kind = pending[ref]
        node.error = node.error or f"no answer within {timeout:.0f} s ({kind} task)"
        ray.cancel(ref, force=True)
    return nodes
