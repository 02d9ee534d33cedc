"""upgrade and rollback against the local index with real uv."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from tests.conftest import PYENV_312, cli, mirror_map, venv_run
from tests.support.skyrl_checkout import EXTRAS, uv_lock, write_checkout


def versions(venv, *mods):
    """Public versions (torch reports 2.7.1+cu128, as the real one does)."""
    code = "import importlib; print(' '.join(importlib.import_module(m).__version__.split('+')[0] for m in %r))" % (mods,)
    return venv_run(venv, code).stdout.split()


def gens(venv):
    return sorted(p.name for p in (venv.parent / f".{venv.name}.skyrl").iterdir() if p.name.startswith("gen-"))


def test_noop_when_current(env, sglang_env):
    r = cli("upgrade", "--venv", str(sglang_env), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["noop"] is True and gens(sglang_env) == ["gen-0001"]


def test_upgrade_moves_a_package_and_keeps_previous(env, sglang_env):
    r = cli("upgrade", "sglang==0.4.9.post1", "--venv", str(sglang_env), "--json", env=env)
    assert r.returncode == 0, r.stderr
    doc = r.data
    assert {"name": "sglang", "old": "0.4.8.post1", "new": "0.4.9.post1"} in doc["changes"]
    assert all(c["name"] != "torch" for c in doc["changes"])
    assert doc["generation"] == 2 and doc["previous_generation"] == 1
    assert versions(sglang_env, "sglang", "torch") == ["0.4.9.post1", "2.7.1"]
    rec = (sglang_env / "skyrl-setup.json").read_text()
    assert '"action": "upgrade"' in rec and '"action": "install"' in rec
    # doctor shows the record and judges the env against it
    d = cli("doctor", "--venv", str(sglang_env), "--json", "--no-gpu-probe", env=env).data
    assert d["environment"]["record"]["generation"] == 2
    assert [c for c in d["checks"] if c["id"] == "env.drift"][0]["status"] == "ok"
    # and rollback goes back
    r = cli("rollback", "--venv", str(sglang_env), "--json", env=env)
    assert r.returncode == 0 and r.data["generation"] == 1
    assert versions(sglang_env, "sglang") == ["0.4.8.post1"]


def test_refused_when_torch_would_move(env, sglang_env):
    before = os.readlink(sglang_env)
    r = cli("upgrade", "sglang==0.5.7", "--venv", str(sglang_env), env=env)
    assert r.returncode == 3, r.stderr
    assert "sglang 0.5.7 requires torch==2.9.1" in r.stderr and "torch==2.7.1" in r.stderr
    assert "add the new pin" in r.stderr
    assert os.readlink(sglang_env) == before
    # moving the pin explicitly is allowed, and builds; but SkyRL's SGLang adapter cannot drive sglang 0.5.x,
    # which the verification finds by itself: nothing is swapped
    r = cli("upgrade", "sglang==0.5.7", "torch==2.9.1", "sgl-kernel==0.3.20", "--venv", str(sglang_env), env=env)
    assert r.returncode == 1, r.stderr
    assert "skyrl_train.inference_engines.sglang.sglang_engine:2" in r.stderr and "maybe_set_triton_cache_manager" in r.stderr
    assert os.readlink(sglang_env) == before and versions(sglang_env, "sglang", "torch") == ["0.4.8.post1", "2.7.1"]


def test_latest_proposes_consistent_set_without_touching_env(env, sglang_env):
    before = os.readlink(sglang_env)
    r = cli("upgrade", "--latest", "--venv", str(sglang_env), "--json", env=env)
    assert r.returncode == 0, r.stderr
    doc = r.data
    new = {c["name"]: c["new"] for c in doc["changes"]}
    assert new["sglang"] == "0.6.0" and new["torch"] == "2.10.0"  # they agree with each other
    assert doc["applied"] is False and os.path.exists(doc["proposed_lock"])
    assert os.readlink(sglang_env) == before
    # applied, the newest set is one SkyRL's adapter cannot import: refused after the build, nothing swapped
    r = cli("upgrade", "--latest", "-y", "--venv", str(sglang_env), env=env)
    assert r.returncode == 1 and "SkyRL cannot run here" in r.stderr
    assert os.readlink(sglang_env) == before and versions(sglang_env, "sglang", "torch") == ["0.4.8.post1", "2.7.1"]


def test_dry_run_changes_nothing(env, sglang_env):
    before = os.readlink(sglang_env)
    r = cli("upgrade", "sglang==0.4.9.post1", "--dry-run", "--json", "--venv", str(sglang_env), env=env)
    assert r.returncode == 0 and r.data["dry_run"] and r.data["changes"]
    assert os.readlink(sglang_env) == before and gens(sglang_env) == ["gen-0001"]


def test_failed_verification_leaves_env(env, sglang_env):
    before = os.readlink(sglang_env)
    r = cli("upgrade", "flashinfer-python==0.5.4", "--venv", str(sglang_env), env=env)
    assert r.returncode == 1 and "verification failed" in r.stderr
    assert os.readlink(sglang_env) == before and gens(sglang_env) == ["gen-0001"]
    assert versions(sglang_env, "flashinfer") == ["0.5.3"]


def test_prune_keeps_three_generations(env, sglang_env):
    for spec in ("sglang==0.4.9.post1", "sglang==0.4.8.post1", "sglang==0.4.9.post1", "sglang==0.4.8.post1"):
        r = cli("upgrade", spec, "--venv", str(sglang_env), env=env)
        assert r.returncode == 0, r.stderr
    assert gens(sglang_env) == ["gen-0003", "gen-0004", "gen-0005"]
    assert os.readlink(sglang_env).endswith("gen-0005")


def test_rollback_without_history(env, sglang_env):
    r = cli("rollback", "--venv", str(sglang_env), env=env)
    assert r.returncode == 1 and "no earlier generation" in r.stderr


def test_upgrade_needs_an_env(env, tmp_path):
    r = cli("upgrade", "--venv", str(tmp_path / "none"), env=env)
    assert r.returncode == 2 and "skyrl-setup install" in r.stderr


def _newer_skyrl(tmp_path, index, env, sglang_extra):
    ckpt = write_checkout(tmp_path / "newer" / "skyrl-train", index.url("pytorch-cu128"), extras={**EXTRAS, "sglang": sglang_extra})
    uv_lock(ckpt, env, str(PYENV_312[0]))
    return ckpt


def test_upgrade_from_a_newer_skyrl_lock(env, sglang_env, index, tmp_path):
    env = dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True))
    ckpt = _newer_skyrl(tmp_path, index, env, ["sglang==0.4.9.post1", "flash-attn==2.8.3", "torch==2.7.1", "flashinfer-python"])
    r = cli("upgrade", "--from-skyrl", str(ckpt), "--venv", str(sglang_env), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert {"name": "sglang", "old": "0.4.8.post1", "new": "0.4.9.post1"} in r.data["changes"]
    assert all(c["name"] != "torch" for c in r.data["changes"])
    rec = json.loads((sglang_env / "skyrl-setup.json").read_text())
    assert rec["skyrl_lock"]["skyrl-lock-sha256"] == hashlib.sha256((ckpt / "uv.lock").read_bytes()).hexdigest()
    assert rec["verdict"]["ready"] is True and versions(sglang_env, "sglang") == ["0.4.9.post1"]
    assert cli("rollback", "--venv", str(sglang_env), env=env).returncode == 0
    assert versions(sglang_env, "sglang") == ["0.4.8.post1"]


def test_upgrade_from_skyrl_refuses_a_torch_move_unless_asked(env, sglang_env, index, tmp_path):
    env = dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True))
    ckpt = _newer_skyrl(tmp_path, index, env, ["sglang==0.4.10", "flash-attn==2.8.3", "torch==2.8.0", "flashinfer-python"])
    before = os.readlink(sglang_env)
    r = cli("upgrade", "--from-skyrl", str(ckpt), "--venv", str(sglang_env), env=env)
    assert r.returncode == 3 and "moves torch 2.7.1 → 2.8.0" in r.stderr and "torch==2.8.0" in r.stderr
    assert os.readlink(sglang_env) == before and gens(sglang_env) == ["gen-0001"]
    r = cli("upgrade", "--from-skyrl", str(ckpt), "torch==2.8.0", "--venv", str(sglang_env), env=env)
    assert r.returncode == 0, r.stderr
    assert versions(sglang_env, "sglang", "torch") == ["0.4.10", "2.8.0"]


def test_upgrade_from_skyrl_refuses_an_environment_with_additions(env, tmp_path, index):
    venv = tmp_path / "withextra"
    assert cli("install", "--with", "accelerate==1.10.0", "--venv", str(venv), env=env).returncode == 0
    r = cli("upgrade", "--from-skyrl", str(tmp_path), "--venv", str(venv), env=env)
    assert r.returncode == 2 and "built with additions (accelerate==1.10.0)" in r.stderr


def test_latest_asks_on_the_terminal_and_keeps_stdout_for_json(env, sglang_env):
    """Issue 14, bug 5: `upgrade --latest --json` wrote its question to stdout (input()), so stdout did not parse."""
    import json
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    try:
        os.write(master, b"n\n")  # the answer is waiting on the terminal
        p = subprocess.run([sys.executable, "-m", "skyrl_setup", "upgrade", "--latest", "--venv", str(sglang_env), "--json"],
                           stdin=slave, capture_output=True, text=True, env=env, timeout=300)
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)  # only the envelope on stdout
    assert doc["data"]["applied"] is False and doc["data"]["proposed_lock"], doc["data"]
    assert "apply this set?" in p.stderr and "apply this set?" not in p.stdout
    assert gens(sglang_env) == ["gen-0001"]


class _Lock:
    """What refuse_torch_move reads of a lock."""

    def __init__(self, torch: str):
        self._versions = {"torch": torch}

    def versions(self) -> dict:
        return self._versions


def test_only_a_torch_pin_that_takes_the_new_torch_accepts_a_torch_move():
    from skyrl_setup.errors import ConflictError
    from skyrl_setup.plan.upgrade import refuse_torch_move
    from skyrl_setup.store.record import EnvRecord

    rec = EnvRecord(backend="sglang", generation=1, store="/nowhere", packages={"torch": "2.7.1+cu128"})
    refuse_torch_move(rec, _Lock("2.7.1+cu128"), [])  # torch stays
    refuse_torch_move(rec, _Lock("2.7.1+cu126"), [])  # another CUDA build of the same torch is not a torch move
    refuse_torch_move(rec, _Lock("2.8.0+cu128"), ["sglang==0.4.10", "torch==2.8.0"])
    for ack in ([], ["torch==2.9.1"], ["sglang>=0.1"]):  # another torch, or a SPEC that names another package
        with pytest.raises(ConflictError) as e:
            refuse_torch_move(rec, _Lock("2.8.0+cu128"), ack, whose="skyrl-train 0.3.2's lock", move="--skyrl 0.3.2")
        assert e.value.message.startswith("skyrl-train 0.3.2's lock moves torch 2.7.1 → 2.8.0")
        assert "`skyrl-setup upgrade --skyrl 0.3.2 torch==2.8.0`" in e.value.hint
