"""Shared fixtures: a real package index on 127.0.0.1, real uv, the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.catalog import stack
from tests.support.index import LocalIndex
from tests.support.skyrl_checkout import uv_lock, write_checkout

REPO = Path(__file__).resolve().parents[1]
PYENV_312 = sorted(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"), "versions").glob("3.12.*/bin/python3.12"))


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        """The whole JSON envelope: {"schema", "command", "ok", "exit_code", "data" | "error"}."""
        return json.loads(self.stdout)

    @property
    def data(self) -> dict:
        doc = self.json
        assert doc["schema"] == 1 and "data" in doc, doc
        return doc["data"]

    @property
    def error(self) -> dict:
        doc = self.json
        assert doc["schema"] == 1 and "error" in doc and doc["ok"] is False, doc
        return doc["error"]


def clean_env() -> dict[str, str]:
    """The caller's environment without what steers skyrl-setup, uv or pip (XDG_* moves their data and config); a
    proxy the caller sets is kept, but never for the local index."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UV_", "SKYRL_SETUP_", "VIRTUAL_ENV", "PIP_", "NCCL_", "XDG_")) and k not in ("CONDA_PREFIX",)}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip's own switch for "no pip.conf": the machine's indexes stay out
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(x for x in (env.get(key), "127.0.0.1", "localhost") if x)
    return env


@pytest.fixture(scope="session")
def index(tmp_path_factory):
    idx = LocalIndex(tmp_path_factory.mktemp("index"), stack()).start()
    yield idx
    idx.stop()


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


DEAD_URL = "http://127.0.0.1:9/"  # nothing listens on the discard port: connection refused at once


def mirror_map(index: LocalIndex, *, assets: bool = False) -> str:
    """PyTorch's index -> the local one; GitHub -> the local asset server, or a dead port."""
    return " ".join([
        f"https://download.pytorch.org/whl/cu128={index.url('pytorch-cu128')}",
        f"https://github.com/={index.asset_url() if assets else DEAD_URL}",
    ])


def base_env(index: LocalIndex, uv_cache: Path, data_dir: Path, home: Path) -> dict[str, str]:
    env = clean_env()
    env.update({
        "UV_INDEX_URL": index.url(),
        "UV_CACHE_DIR": str(uv_cache),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_HTTP_TIMEOUT": "10",
        "UV_HTTP_RETRIES": "0",
        "SKYRL_SETUP_DATA_DIR": str(data_dir),
        "SKYRL_SETUP_HOME": str(home),
        "SKYRL_SETUP_LOG_DIR": str(home / "logs"),
        "SKYRL_SETUP_CONFIG_DIR": str(home / "config"),
        "SKYRL_SETUP_CUDA_DRIVER": "none",
        "SKYRL_SETUP_MIRRORS": mirror_map(index),
        "XDG_CACHE_HOME": str(home / "xdg-cache"),
        "XDG_CONFIG_HOME": str(home / "xdg-config"),  # no user-level uv.toml or pip.conf of the caller's
        "SKYRL_SETUP_CACHE_DIR": str(home / "cache"),
    })
    return env


def cli(*args: str, env: dict[str, str], timeout: float = 300, cwd: Path | None = None) -> Run:
    p = subprocess.run([sys.executable, "-m", "skyrl_setup", *args], capture_output=True, text=True,
                       env=env, timeout=timeout, cwd=cwd or REPO)
    return Run(p.returncode, p.stdout, p.stderr)


@pytest.fixture(scope="session")
def skyrl_checkout(tmp_path_factory, index, uv_cache) -> Path:
    """A SkyRL-like checkout whose uv.lock the real uv made against the local index."""
    root = write_checkout(tmp_path_factory.mktemp("skyrl") / "skyrl-train", index.url("pytorch-cu128"))
    env = base_env(index, uv_cache, REPO, tmp_path_factory.mktemp("checkout-home"))
    uv_lock(root, env, str(PYENV_312[0]))
    return root


def write_release(folder: Path, checkout: Path, version: str = "0.3.1", sound: bool = True) -> Path:
    """The catalog entry of a synthetic checkout's release: skyrl-train 0.3.1's own data with the checkout's
    lock sha256 (and, `sound`, without 0.3.1's defect: the synthetic code has none)."""
    text = (REPO / "releases" / "skyrl-train-0.3.1.toml").read_text(encoding="utf-8")
    text = re.sub(r'lock_sha256 = "[0-9a-f]+"', f'lock_sha256 = "{hashlib.sha256((checkout / "uv.lock").read_bytes()).hexdigest()}"', text)
    text = text.replace('version = "0.3.1"', f'version = "{version}"')
    if sound:
        text = re.sub(r"\[\[defects\]\]\n(.+\n)+?\n", "", text)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"skyrl-train-{version}.toml"
    out.write_text(text, encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, index, uv_cache, skyrl_checkout) -> Path:
    """The real profiles, with lockfiles made by `skyrl-setup lock` against the local index:
    from the synthetic SkyRL checkout's lock (both routes), and the version matrix's set."""
    d = tmp_path_factory.mktemp("data")
    shutil.copytree(REPO / "profiles", d / "profiles")
    (d / "lockfiles").mkdir()
    write_release(d / "releases", skyrl_checkout)
    env = base_env(index, uv_cache, d, tmp_path_factory.mktemp("lock-home"))
    r = cli("lock", "--from-skyrl", str(skyrl_checkout), "--json", env=env)
    assert r.returncode == 0, r.stderr
    r = cli("lock", "--backend", "sglang-matrix", "--json", env=env)
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture
def env(index, uv_cache, data_dir, tmp_path) -> dict[str, str]:
    index.clear()
    home = tmp_path / "home"
    home.mkdir()
    return base_env(index, uv_cache, data_dir, home)


@pytest.fixture
def sglang_env(env, tmp_path, index) -> Path:
    """A fresh sglang environment of the test's own, built from the local index."""
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--strict", env=dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True)))
    assert r.returncode == 0, r.stderr  # ready for SkyRL training: flash-attn came from the release-asset server
    return venv


@pytest.fixture(scope="session")
def installed_sglang(tmp_path_factory, index, uv_cache, data_dir):
    """One sglang environment built once, for tests that only read it."""
    home = tmp_path_factory.mktemp("shared-home")
    env = base_env(index, uv_cache, data_dir, home)
    venv = home / "envs" / "sglang"
    r = cli("install", "--json", "--strict", env=dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True)))
    assert r.returncode == 0, r.stderr
    return venv, env


@pytest.fixture(scope="session")
def fake_libcuda(tmp_path_factory) -> Path:
    """tests/support/fake_libcuda.c built as a libcuda.so.1 the driver probe (and sgl_kernel's stand-in) can load."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler on this machine to build the fake libcuda")
    out = tmp_path_factory.mktemp("libcuda") / "libcuda.so.1"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(out), str(Path(__file__).parent / "support" / "fake_libcuda.c")],
                   check=True)
    return out


def built_env(tmp_path_factory, index, uv_cache, data_dir, name: str) -> tuple[Path, dict[str, str]]:
    """An sglang environment in a home of its own (for a module's tests that share one), and that home's env."""
    home = tmp_path_factory.mktemp(name)
    env = base_env(index, uv_cache, data_dir, home)
    venv = home / "env"
    assert cli("install", "--venv", str(venv), env=env).returncode == 0
    return venv, env


def venv_run(venv: Path, code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env)
