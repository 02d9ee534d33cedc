"""Moving an environment across SkyRL releases (`upgrade --skyrl`), the release a driver runs (`--skyrl latest`
below r580), and what `profiles` says of each backend's releases: the real CLI and real uv against a test index
that serves three synthetic skyrl-train releases beside the catalog's real skyrl 0.4.0 (CUDA 13).

The releases, each a checkout locked by the real uv and made into lockfiles by `skyrl-setup lock --from-skyrl`:
0.3.0 (sglang 0.4.8.post1, torch 2.7.1), 0.3.1 (sglang 0.4.9.post1, the same torch) and 0.3.2 (sglang 0.4.10,
which moves torch to 2.8.0). All three are sound, so the default is 0.3.2.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import pytest

from tests.conftest import (
    PYENV_312,
    REPO,
    base_env,
    cli,
    mirror_map,
    venv_run,
    write_release,
)
from tests.support.catalog import stack
from tests.support.index import LocalIndex
from tests.support.skyrl_checkout import EXTRAS, uv_lock, write_checkout

SGLANG = {"0.3.0": ["sglang==0.4.8.post1", "flash-attn==2.8.3", "torch==2.7.1", "flashinfer-python"],
          "0.3.1": ["sglang==0.4.9.post1", "flash-attn==2.8.3", "torch==2.7.1", "flashinfer-python"],
          "0.3.2": ["sglang==0.4.10", "flash-attn==2.8.3", "torch==2.8.0", "flashinfer-python"]}
OLD_DRIVER = "570.124.06"  # runs CUDA 12.8, not CUDA 13.0 (r580)


@pytest.fixture(scope="module")
def world(tmp_path_factory, uv_cache):
    """(index, data dir) of the three synthetic releases and skyrl 0.4.0."""
    catalog = stack()
    train = next(d for d in catalog["pypi"] if d.name == "skyrl-train")
    catalog["pypi"] += [dataclasses.replace(train, version=v) for v in ("0.3.0", "0.3.2")]
    idx = LocalIndex(tmp_path_factory.mktemp("release-index"), catalog).start()
    data = tmp_path_factory.mktemp("release-data")
    shutil.copytree(REPO / "profiles", data / "profiles")
    (data / "lockfiles").mkdir()
    env = base_env(idx, uv_cache, data, tmp_path_factory.mktemp("release-lock-home"))
    for version, sglang in SGLANG.items():
        ckpt = write_checkout(tmp_path_factory.mktemp(f"skyrl-{version}") / "skyrl-train", idx.url("pytorch-cu128"),
                              version=version, extras={**EXTRAS, "sglang": sglang})
        uv_lock(ckpt, env, str(PYENV_312[0]))
        write_release(data / "releases", ckpt, version=version)
        for backend in ("sglang", "vllm") if version == "0.3.2" else ("sglang",):
            r = cli("lock", "--from-skyrl", str(ckpt), "--backend", backend, "--json", env=env)
            assert r.returncode == 0, r.stderr
    shutil.copy(REPO / "releases" / "skyrl-0.4.0.toml", data / "releases" / "skyrl-0.4.0.toml")
    yield idx, data
    idx.stop()


@pytest.fixture
def env(world, uv_cache, tmp_path) -> dict[str, str]:
    idx, data = world
    home = tmp_path / "home"
    home.mkdir()
    return dict(base_env(idx, uv_cache, data, home), SKYRL_SETUP_MIRRORS=mirror_map(idx, assets=True))


def record(venv) -> dict:
    return json.loads((venv / "skyrl-setup.json").read_text())


def versions(venv, *mods) -> list[str]:
    code = "import importlib; print(' '.join(importlib.import_module(m).__version__.split('+')[0] for m in %r))" % (mods,)
    return venv_run(venv, code).stdout.split()


@pytest.fixture
def on_030(env, tmp_path):
    venv = tmp_path / "env"
    r = cli("install", "--skyrl", "0.3.0", "--venv", str(venv), "--strict", env=env)
    assert r.returncode == 0, r.stderr
    assert record(venv)["skyrl_release"] == "skyrl-train-0.3.0"
    return venv


def test_upgrade_moves_across_releases_and_rollback_brings_the_old_one_back(env, on_030):
    r = cli("upgrade", "--skyrl", "0.3.1", "--dry-run", "--venv", str(on_030), env=env)
    assert r.returncode == 0, r.stderr
    assert "SkyRL release: skyrl-train-0.3.0 → skyrl-train-0.3.1" in r.stderr  # the old → new table, then nothing else
    assert "0.4.8.post1" in r.stderr and "0.4.9.post1" in r.stderr and record(on_030)["generation"] == 1

    r = cli("upgrade", "--skyrl", "0.3.1", "--venv", str(on_030), "--json", env=env)
    assert r.returncode == 0, r.stderr
    doc = r.data
    assert doc["skyrl_release"] == {"old": "skyrl-train-0.3.0", "new": "skyrl-train-0.3.1", "why": None}
    assert {"name": "sglang", "old": "0.4.8.post1", "new": "0.4.9.post1"} in doc["changes"]
    assert {"name": "skyrl-train", "old": "0.3.0", "new": "0.3.1"} in doc["changes"]
    assert all(c["name"] != "torch" for c in doc["changes"])
    assert doc["generation"] == 2 and doc["previous_generation"] == 1
    rec = record(on_030)
    assert rec["skyrl_release"] == "skyrl-train-0.3.1" and rec["skyrl_lock"]["skyrl-version"] == "0.3.1"
    assert rec["verdict"]["ready"] is True and versions(on_030, "sglang") == ["0.4.9.post1"]
    # a plain upgrade now stays on the environment's own release: nothing to do
    r = cli("upgrade", "--venv", str(on_030), "--json", env=env)
    assert r.returncode == 0 and r.data["noop"] is True, r.stderr

    r = cli("rollback", "--venv", str(on_030), "--json", env=env)
    assert r.returncode == 0 and r.data["generation"] == 1, r.stderr
    assert record(on_030)["skyrl_release"] == "skyrl-train-0.3.0" and versions(on_030, "sglang") == ["0.4.8.post1"]
    r = cli("upgrade", "--venv", str(on_030), "--json", env=env)
    assert r.returncode == 0 and r.data["noop"] is True, r.stderr  # the old generation's release came back with it


def test_a_release_whose_lock_moves_torch_needs_the_new_pin(env, on_030):
    before = os.readlink(on_030)
    r = cli("upgrade", "--skyrl", "0.3.2", "--venv", str(on_030), env=env)
    assert r.returncode == 3, r.stderr
    assert "skyrl-train 0.3.2's lock moves torch 2.7.1 → 2.8.0" in r.stderr
    assert "skyrl-setup upgrade --skyrl 0.3.2 torch==2.8.0" in r.stderr
    assert os.readlink(on_030) == before and record(on_030)["skyrl_release"] == "skyrl-train-0.3.0"

    r = cli("upgrade", "--skyrl", "0.3.2", "torch==2.8.0", "--venv", str(on_030), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert {"name": "torch", "old": "2.7.1+cu128", "new": "2.8.0+cu128"} in r.data["changes"]
    assert record(on_030)["skyrl_release"] == "skyrl-train-0.3.2"
    assert record(on_030)["lock"]["source"].startswith("committed lockfile")  # the release's own lock, not a re-resolve
    assert versions(on_030, "sglang", "torch") == ["0.4.10", "2.8.0"]


def test_a_release_the_driver_cannot_run_is_a_precondition_naming_the_newest_it_runs(env, tmp_path):
    old = dict(env, SKYRL_SETUP_CUDA_DRIVER=OLD_DRIVER)
    r = cli("install", "--backend", "vllm", "--skyrl", "0.4.0", "--dry-run", "--venv", str(tmp_path / "e"), "--json", env=old)
    assert r.returncode == 4, r.stderr
    assert r.error["message"] == ("skyrl 0.4.0 needs CUDA 13.0, which needs NVIDIA driver 580.65.06 or newer; "
                          f"this host's driver is {OLD_DRIVER}")
    assert "skyrl-train 0.3.2 (--skyrl 0.3.2)" in r.error["hint"] and "upgrade the NVIDIA driver" in r.error["hint"]
    assert not (tmp_path / "e").exists()
    # where the driver runs CUDA 13 the release is taken as asked, and planned: its lockfiles are not made here
    r = cli("install", "--backend", "vllm", "--skyrl", "0.4.0", "--dry-run", "--venv", str(tmp_path / "e"), "--json",
            env=dict(env, SKYRL_SETUP_CUDA_DRIVER="580.65.06"))
    assert r.returncode == 2 and r.error["message"].startswith("no committed lockfile of the vllm profile"), r.stderr


def test_latest_is_the_newest_release_the_driver_runs_and_says_why(env, tmp_path):
    old = dict(env, SKYRL_SETUP_CUDA_DRIVER=OLD_DRIVER)
    r = cli("install", "--backend", "vllm", "--skyrl", "latest", "--dry-run", "--venv", str(tmp_path / "e"), "--json", env=old)
    assert r.returncode == 0, r.stderr
    rel = r.data["plan"]["skyrl_release"]
    assert rel["id"] == "skyrl-train-0.3.2"
    assert "skyrl 0.4.0 needs CUDA 13.0" in rel["chosen"] and "580.65.06" in rel["chosen"]
    assert r.data["plan"]["cuda"]["variant"] == "cu128"
    human = cli("install", "--backend", "vllm", "--skyrl", "latest", "--dry-run", "--venv", str(tmp_path / "e"), env=old)
    assert human.returncode == 0, human.stderr
    assert "skyrl-train 0.3.2 (2026-01-02): the newest SkyRL release with vllm that this host runs: skyrl 0.4.0 needs " \
           "CUDA 13.0" in " ".join(human.stderr.split())


def test_profiles_shows_each_backends_default_and_newest_release_beside_the_pins(env):
    r = cli("profiles", "--json", env=env)
    assert r.returncode == 0, r.stderr
    docs = {p["name"]: p for p in r.data["profiles"]}
    vllm, sglang = docs["vllm"]["releases"], docs["sglang"]["releases"]
    assert vllm["shown"]["id"] == vllm["default"]["id"] == "skyrl-train-0.3.2"
    assert vllm["newest"]["id"] == "skyrl-0.4.0" and vllm["newest"]["cuda"] == ["cu130"]
    assert sglang["default"]["id"] == sglang["newest"]["id"] == "skyrl-train-0.3.2"
    assert sglang["all"] == ["skyrl-train-0.3.0", "skyrl-train-0.3.1", "skyrl-train-0.3.2"]
    assert docs["sglang-matrix"]["releases"] == {"shown": None, "default": None, "newest": None, "all": []}
    # this world's 0.3.2 has lockfiles for sglang and vllm only: the others say so rather than list pins nobody tested
    assert r.data["missing_lockfiles"] == ["flashrl", "megatron"]
    assert docs["megatron"]["lockfiles"] == "missing" and docs["megatron"]["torch"] is None
    assert docs["vllm"]["lockfiles"] == "present"
    rows = {row["package"]: row for row in docs["sglang"]["comparison"]}
    assert rows["sglang"]["installs"] == "0.4.10" and rows["torch"]["installs"] == "2.8.0"  # the default release's lock
    assert rows["torch"]["matrix"] == "2.9.1" and rows["sglang"]["matrix"].startswith("0.4.x+")  # the matrix's, beside it
    human = cli("profiles", env=env)
    assert "SkyRL release: skyrl-train 0.3.2 (the default); newest: skyrl 0.4.0 (cu130), `--skyrl latest`" in human.stderr

    # --skyrl shows that release's pins, and which release is the default
    r = cli("profiles", "--skyrl", "0.3.0", "--json", env=env)
    docs = {p["name"]: p for p in r.data["profiles"]}
    assert "sglang-matrix" not in docs  # the matrix's own set stands on no release
    assert docs["sglang"]["releases"]["shown"]["id"] == "skyrl-train-0.3.0"
    assert docs["sglang"]["releases"]["default"]["id"] == "skyrl-train-0.3.2"
    rows = {row["package"]: row for row in docs["sglang"]["comparison"]}
    assert rows["sglang"]["installs"] == "0.4.8.post1" and rows["torch"]["installs"] == "2.7.1"
    r = cli("profiles", "--skyrl", "0.4.0", "--json", env=env)
    docs = {p["name"]: p for p in r.data["profiles"]}
    assert "sglang" not in docs and docs["vllm"]["releases"]["shown"]["id"] == "skyrl-0.4.0"  # SGLang was removed before it
