"""doctor --ray --model on a real local Ray cluster: two nodes of one 80 GB GPU each (declared per node)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import base_env, cli
from tests.test_cluster import NODE_ENV_KEYS

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'skyrl-setup[ray]'")


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory, index, uv_cache, data_dir):
    from ray.cluster_utils import Cluster

    root = tmp_path_factory.mktemp("fit-cluster")
    env = base_env(index, uv_cache, data_dir, root / "driver")

    def node_env(i):
        e = {k: env[k] for k in NODE_ENV_KEYS}
        e.update(SKYRL_SETUP_HOME=str(root / f"node{i}"), SKYRL_SETUP_CUDA_DRIVER="580.159.04",
                 SKYRL_SETUP_GPUS="NVIDIA H100 80GB HBM3:79.6:9.0")
        return e

    common = dict(num_cpus=1, num_gpus=1, object_store_memory=80 * 2**20)
    c = Cluster(initialize_head=True, head_node_args={**common, "env_vars": node_env(0)})
    c.add_node(**common, env_vars=node_env(1), node_ip_address="127.0.0.2")
    c.wait_for_nodes()
    env["SKYRL_SETUP_RAY_NODE_IP"] = c.head_node.node_ip_address
    yield c, env
    c.shutdown()


def test_per_node_and_cluster_total(two_nodes, installed_sglang, tmp_path):
    c, env = two_nodes
    venv, _ = installed_sglang  # one healthy environment both nodes see (one machine): only the fit is in question
    (tmp_path / "config.json").write_text(json.dumps({  # Qwen2.5-32B's architecture: 32.8B by the estimate
        "model_type": "qwen2", "hidden_size": 5120, "num_hidden_layers": 64, "intermediate_size": 27648, "vocab_size": 152064,
        "num_attention_heads": 40, "num_key_value_heads": 8, "tie_word_embeddings": False}))
    r = cli("doctor", "--ray", c.address, "--venv", str(venv), "--model", str(tmp_path), "--no-gpu-probe", "--json",
            env=env, timeout=300)
    assert r.returncode == 0, [(n["error"], n["drift"], [x for x in n["doctor"].get("checks", []) if x["status"] == "error"])
                               for n in r.data["nodes"] if not n["ok"]]
    assert all(n["ok"] for n in r.data["nodes"])  # each node misses 32B's minimum alone; the cluster meets it
    fit = r.data["model_fit"]
    assert len(fit["per_node"]) == 2
    for node in fit["per_node"].values():  # one 80 GB card: below 32B's minimum on its own
        assert node["minimum"]["met"] is False and node["gpus"]["count"] == 1
    checks = {x["id"]: x for x in fit["checks"]}
    assert checks["fit.cluster.minimum"]["status"] == "ok"  # two cards over two nodes meet 2× 80 GB
    assert "the cluster (2 nodes) has 2× 85 GB" in checks["fit.cluster.minimum"]["summary"]
    assert checks["fit.cluster.recommended"]["status"] == "warning" and "add 2× 80 GB GPUs" in checks["fit.cluster.recommended"]["summary"]
    assert fit["total"]["model"]["estimate"] is True and fit["total"]["gpus"]["count"] == 2
    human = cli("doctor", "--ray", c.address, "--venv", str(venv), "--model", "70B", "--no-gpu-probe", env=env, timeout=300)
    assert human.returncode == 1 and "70B needs 4× 80 GB at least; the cluster (2 nodes) has 2× 85 GB: add 2× 80 GB GPUs" in human.stderr
