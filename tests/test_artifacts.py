"""Off-index and source-built components, mirrors, and offline bundles."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.conftest import PYENV_312, base_env, cli, mirror_map, venv_run
from tests.support.catalog import stack
from tests.support.index import LocalIndex
from tests.support.skyrl_checkout import uv_lock, write_checkout


def fake_tools(d: Path, nvcc_release: str | None = "12.8", ninja: bool = True) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    if nvcc_release:
        nvcc = d / "nvcc"
        nvcc.write_text(f"#!/bin/sh\necho 'Cuda compilation tools, release {nvcc_release}, V{nvcc_release}.93'\n")
        nvcc.chmod(nvcc.stat().st_mode | stat.S_IEXEC)
    if ninja:
        n = d / "ninja"
        n.write_text("#!/bin/sh\necho 1.13.0\n")
        n.chmod(n.stat().st_mode | stat.S_IEXEC)
    return d


def test_missing_build_prerequisites_reported_at_once(env, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = dict(env, PATH=str(empty), MAX_JOBS="1")
    env.pop("CUDA_HOME", None)
    r = cli("install", "--backend", "megatron", "--venv", str(tmp_path / "e"), "--json", env=env)
    assert r.returncode == 4, r.stderr
    names = {p["name"] for p in r.error["details"]["build_prerequisites"] if not p["ok"]}
    assert {"nvcc", "C++ compiler", "ninja"} <= names  # all of them in one report
    assert "transformer-engine-torch" in r.error["message"] and not (tmp_path / "e").exists()
    for p in r.error["details"]["build_prerequisites"]:
        assert p["ok"] or p["fix"]


def test_nvcc_of_wrong_cuda_major(env, tmp_path):
    bin_ = fake_tools(tmp_path / "bin", nvcc_release="11.8")
    env = dict(env, PATH=f"{bin_}:/usr/bin:/bin", MAX_JOBS="1")
    r = cli("install", "--backend", "megatron", "--venv", str(tmp_path / "e"), "--dry-run", "--json", env=env)
    assert r.returncode == 4 and "use nvcc 12.x" in r.stderr


def test_megatron_builds_against_installed_torch(env, tmp_path):
    bin_ = fake_tools(tmp_path / "bin")
    env = dict(env, PATH=f"{bin_}:/usr/bin:/bin", MAX_JOBS="1")
    venv = tmp_path / "e"
    r = cli("install", "--backend", "megatron", "--venv", str(venv), "--json", env=env)
    assert r.returncode == 0, r.stderr
    plan = r.data["plan"]
    assert plan["build_from_source"] == ["transformer-engine-torch"]
    assert plan["sources"]["built_from_source"] == ["transformer-engine-torch"]
    out = venv_run(venv, "import transformer_engine_torch as t, torch; print(t.BUILT_AGAINST, torch.__version__)").stdout.split()
    assert out == ["2.8.0+cu128", "2.8.0+cu128"]  # compiled against the environment's own torch


def test_mirror_config_file_rewrites_lock_urls(env, tmp_path, index):
    cfg = Path(env["SKYRL_SETUP_CONFIG_DIR"])
    cfg.mkdir(parents=True)
    (cfg / "mirrors.toml").write_text(f'[mirrors]\n"http://127.0.0.1:{index.port}/pypi/files/" = "http://localhost:{index.port}/pypi/files/"\n')
    env = dict(env, UV_CACHE_DIR=str(tmp_path / "cold"))
    # the PyPI route: every file of its lock is under /pypi/files/, which the mirror maps
    r = cli("install", "--venv", str(tmp_path / "e"), "--cuda", "cu126", env=env)
    assert r.returncode == 0, r.stderr
    wheel_hosts = {h for h, p in zip(index.hosts, index.requests) if p.endswith(".whl")}
    assert wheel_hosts == {f"localhost:{index.port}"}


def test_bad_mirror_config_is_usage_error(env, tmp_path):
    cfg = Path(env["SKYRL_SETUP_CONFIG_DIR"])
    cfg.mkdir(parents=True)
    (cfg / "mirrors.toml").write_text("[mirrors\n")
    r = cli("install", "--venv", str(tmp_path / "e"), "--dry-run", env=env)
    assert r.returncode == 2 and "mirrors.toml" in r.stderr


@pytest.fixture
def private_index(tmp_path):
    idx = LocalIndex(tmp_path / "idx", stack()).start()
    yield idx
    idx.stop()


def test_bundle_then_install_with_no_network(tmp_path, private_index, data_dir):
    home = tmp_path / "home"
    env = base_env(private_index, tmp_path / "cache1", data_dir, home)
    env["SKYRL_SETUP_MIRRORS"] = mirror_map(private_index, assets=True)
    # the committed lock names the session index's URLs; this one is SkyRL's lock made against the private index
    checkout = write_checkout(tmp_path / "skyrl-train", private_index.url("pytorch-cu128"))
    uv_lock(checkout, env, str(PYENV_312[0]))
    assert cli("lock", "--from-skyrl", str(checkout), "--backend", "sglang", "-o", str(tmp_path), env=env).returncode == 0
    lock = tmp_path / "pylock.sglang-skyrl-cu128.toml"
    out = tmp_path / "sglang.bundle.tar"
    r = cli("bundle", "--lock", str(lock), "-o", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["files"] >= 13 and r.data["artifacts"] == ["flash-attn"]
    offline = dict(env, UV_CACHE_DIR=str(tmp_path / "cache2"), UV_INDEX_URL="http://127.0.0.1:9/simple",
                   SKYRL_SETUP_MIRRORS="https://github.com/=http://127.0.0.1:9/")
    private_index.stop()  # no index, no assets, a cold cache: nothing to fetch from
    env = offline
    venv = tmp_path / "offline-env"
    r = cli("install", "--from-bundle", str(out), "--venv", str(venv), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["plan"]["lock_source"].startswith("bundle ")
    assert r.data["plan"]["sources"]["bundle"] >= 12
    assert venv_run(venv, "import torch, sglang, flash_attn; print(torch.__version__)").stdout.strip() == "2.7.1+cu128"
    assert r.data["ready"] is True, r.data["verdict"]  # flash-attn came in the bundle


def test_corrupt_bundle_is_refused(tmp_path, env, private_index, data_dir):
    env = dict(env, UV_INDEX_URL=private_index.url(), SKYRL_SETUP_MIRRORS=mirror_map(private_index))
    lock = tmp_path / "pylock.x.toml"
    assert cli("lock", "--backend", "sglang-matrix", "-o", str(lock), env=env).returncode == 0
    out = tmp_path / "b.tar"
    assert cli("bundle", "--backend", "sglang-matrix", "--lock", str(lock), "-o", str(out), env=env).returncode == 0
    data = bytearray(out.read_bytes())
    i = data.find(b"torch-2.9.1")
    j = data.find(b"PK\x03\x04", i)  # inside the torch wheel's bytes
    data[j + 40] ^= 0xFF
    out.write_bytes(bytes(data))
    before = set(Path(env["TMPDIR"]).glob("skyrl-bundle-*"))  # the tool's temporary folder (conftest.scratch)
    r = cli("install", "--from-bundle", str(out), "--venv", str(tmp_path / "e"), env=env)
    assert r.returncode == 2 and "does not match its sha256" in r.stderr
    assert set(Path(env["TMPDIR"]).glob("skyrl-bundle-*")) == before  # the unpacked copy is gone
