"""doctor --ray / install --ray on a real local Ray cluster: three nodes, fake GPUs, one machine.

Each node gets its own SKYRL_SETUP_HOME (standing for its own disk); the CLI runs as a
separate driver process connected by address, as a user would run it.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.conftest import base_env, cli, mirror_map

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'skyrl-setup[ray]'")

NODE_ENV_KEYS = ("UV_INDEX_URL", "UV_CACHE_DIR", "UV_PYTHON_DOWNLOADS", "UV_HTTP_TIMEOUT", "UV_HTTP_RETRIES",
                 "SKYRL_SETUP_DATA_DIR", "SKYRL_SETUP_CUDA_DRIVER", "SKYRL_SETUP_MIRRORS", "SKYRL_SETUP_CONFIG_DIR", "NO_COLOR")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, index, uv_cache, data_dir):
    from ray.cluster_utils import Cluster

    root = tmp_path_factory.mktemp("cluster")
    env = base_env(index, uv_cache, data_dir, root / "driver")
    env["SKYRL_SETUP_MIRRORS"] = mirror_map(index, assets=True)  # flash-attn from the release-asset server: ready to train

    def node_env(i):
        e = {k: env[k] for k in NODE_ENV_KEYS}
        e.update(SKYRL_SETUP_HOME=str(root / f"node{i}"), SKYRL_SETUP_LOG_DIR=str(root / f"node{i}" / "logs"))
        return e

    common = dict(num_cpus=1, num_gpus=1, object_store_memory=80 * 2**20)
    c = Cluster(initialize_head=True, head_node_args={
        **common, "env_vars": node_env(0),
        "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 3}})
    # workers on their own loopback addresses, as on separate hosts; the CLI's driver attaches to the head
    workers = [c.add_node(**common, env_vars=node_env(i), node_ip_address=f"127.0.0.{i + 1}") for i in (1, 2)]
    c.wait_for_nodes()
    env["SKYRL_SETUP_RAY_NODE_IP"] = c.head_node.node_ip_address
    yield c, workers, env, root
    c.shutdown()


def test_install_on_every_node_then_doctor(cluster):
    c, workers, env, root = cluster
    r = cli("install", "--ray", c.address, "--json", env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    nodes = r.data["nodes"]
    assert len(nodes) == 3 and all(n["ok"] for n in nodes)
    assert sorted(n["venv"] for n in nodes) == sorted(str(root / f"node{i}" / "envs" / "sglang") for i in range(3))
    for i in range(3):
        assert (root / f"node{i}" / "envs" / "sglang" / "bin" / "python").exists()
    assert "different paths" in r.data["warnings"][0]  # one machine, three homes: no single py_executable
    assert "Traceback" not in r.stderr and "Warning" not in r.stderr

    r = cli("doctor", "--ray", c.address, "--json", env=env, timeout=300)
    doc = r.data
    assert r.returncode == 0, [n for n in doc["nodes"] if not n["ok"]]
    assert doc["drift"] == [] and doc["dead"] == []
    for n in doc["nodes"]:
        assert n["summary"]["pkg:torch"] == "2.7.1+cu128" and n["summary"]["lock_sha256"]
        assert [g["status"] for g in n["gpu_checks"]] == ["skipped"]  # a fake GPU: "no driver", cleanly
        assert n["gpu_checks"][0]["cuda_visible_devices"] is not None  # Ray pinned one GPU per probe task


def test_dry_run_plans_on_every_node_and_builds_nowhere(cluster):
    """Issue 14, bug 1: `install --ray --dry-run` built on every node (the fan-out dropped --dry-run)."""
    c, workers, env, root = cluster
    target = root / "dry" / "env"
    r = cli("install", "--ray", c.address, "--dry-run", "--venv", str(target), "--json", env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(r.data["nodes"]) == 3 and all(n["ok"] and n["dry_run"] for n in r.data["nodes"]), r.data["nodes"]
    assert not target.exists() and not (root / "dry" / ".env.skyrl").exists()
    human = cli("install", "--ray", c.address, "--dry-run", "--venv", str(target), env=env, timeout=600)
    assert human.returncode == 0 and human.stderr.count("planned (dry run)") == 3, human.stderr


def test_skyrl_reaches_every_node(cluster):
    """--skyrl travels with the request to each node, which chooses the release itself (its own driver decides `latest`)."""
    c, workers, env, root = cluster
    r = cli("install", "--ray", c.address, "--skyrl", "9.9.9", "--dry-run", "--venv", str(root / "rel" / "env"), "--json",
            env=env, timeout=600)
    assert r.returncode == 1
    assert len(r.data["nodes"]) == 3 and all(n["error"] == "--skyrl 9.9.9: not a SkyRL release skyrl-setup knows"
                                             for n in r.data["nodes"]), r.data["nodes"]
    r = cli("install", "--ray", c.address, "--skyrl", "skyrl-train==0.3.1", "--dry-run", "--venv", str(root / "rel" / "env"),
            "--json", env=env, timeout=600)
    assert r.returncode == 0 and all(n["ok"] and n["dry_run"] for n in r.data["nodes"]), r.data["nodes"]


def test_drift_on_one_node_is_reported(cluster):
    c, workers, env, root = cluster
    from uv import find_uv_bin
    venv = root / "node2" / "envs" / "sglang"
    subprocess.run([find_uv_bin(), "pip", "install", "--python", str(venv / "bin" / "python"), "transformers==4.53.3"],
                   env=env, check=True, capture_output=True)
    r = cli("doctor", "--ray", c.address, "--json", "--no-gpu-probe", env=env, timeout=300)
    assert r.returncode == 1
    drift = r.data["drift"]
    assert [(d["field"], d["value"], d["reference"]) for d in drift] == [("transformers", "4.53.3", "4.52.3")]
    human = cli("doctor", "--ray", c.address, "--no-gpu-probe", env=env, timeout=300)
    assert human.returncode == 1 and "drift" in human.stderr and "transformers = 4.53.3 (most nodes: 4.52.3)" in human.stderr


def test_killed_node_is_reported_not_waited_on(cluster):
    c, workers, env, root = cluster
    c.remove_node(workers[0], allow_graceful=False)
    for _ in range(2):  # at once (the GCS may not know yet), then once it has marked the node dead
        r = cli("doctor", "--ray", c.address, "--json", "--no-gpu-probe", "--timeout", "60", env=env, timeout=300)
        assert r.returncode == 1, r.stderr
        killed = [n for n in r.data["nodes"] if n["address"] == "127.0.0.2"]
        assert len(killed) == 1 and not killed[0]["ok"]
        assert killed[0]["error"] == "node is dead" or killed[0]["error"].startswith(("task failed", "no answer within"))
        assert sum(n["error"] is None for n in r.data["nodes"]) == 2  # the others still answer
        time.sleep(3)
    assert r.data["dead"] == ["127.0.0.2"]


def test_no_cluster_is_one_clear_line(env):
    r = cli("doctor", "--ray", "127.0.0.1:9", env=env, timeout=120)
    assert r.returncode == 1 and "cannot connect to the Ray cluster" in r.stderr and "Traceback" not in r.stderr
