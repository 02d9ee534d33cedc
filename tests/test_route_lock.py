"""check-compat, install --with, doctor and dockerfile judge the lock this host's route installs (issue 23, items 3-5).

SkyRL's vllm extra takes flashinfer-jit-cache from flashinfer's own index: its `skyrl` route lock needs
that index, its `pypi` route lock leaves the package out. Here a checkout does the same against a
"flashinfer index" of the local server. With that index and PyTorch's answering 503 (a host that
reaches only PyPI), install takes the pypi route; every other command must judge that lock too.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests.conftest import PYENV_312, REPO, base_env, cli, mirror_map, write_release
from tests.support.catalog import stack
from tests.support.index import LocalIndex
from tests.support.skyrl_checkout import EXTRAS, uv_lock, write_checkout
from tests.support.wheels import FakeDist

FI = "flashinfer-cu128"
PYPI_LOCK = "pylock.vllm-pypi-cu128-linux_x86_64.toml"
SKYRL_LOCK = "pylock.vllm-skyrl-cu128.toml"


@pytest.fixture(scope="module")
def fi_index(tmp_path_factory):
    catalog = stack()
    catalog[FI] = [FakeDist("flashinfer-jit-cache", "0.5.2+cu128", module="flashinfer_jit_cache")]
    idx = LocalIndex(tmp_path_factory.mktemp("fi-index"), catalog).start()
    yield idx
    idx.stop()


@pytest.fixture(scope="module")
def fi_data(tmp_path_factory, fi_index, uv_cache) -> Path:
    """The real profiles, with vllm's two route locks made from a checkout whose vllm extra has flashinfer-jit-cache."""
    extras = {**EXTRAS, "vllm": [*EXTRAS["vllm"], "flashinfer-jit-cache==0.5.2"]}
    root = write_checkout(tmp_path_factory.mktemp("fi-skyrl") / "skyrl-train", fi_index.url("pytorch-cu128"), extras=extras)
    text = (root / "pyproject.toml").read_text()
    text = text.replace('torch = { index = "pytorch-cu128" }',
                        'torch = { index = "pytorch-cu128" }\nflashinfer-jit-cache = { index = "flashinfer" }')
    text += f'\n[[tool.uv.index]]\nname = "flashinfer"\nurl = "{fi_index.url(FI)}"\nexplicit = true\n'
    (root / "pyproject.toml").write_text(text)
    env = base_env(fi_index, uv_cache, REPO, tmp_path_factory.mktemp("fi-checkout-home"))
    uv_lock(root, env, str(PYENV_312[0]))
    d = tmp_path_factory.mktemp("fi-data")
    shutil.copytree(REPO / "profiles", d / "profiles")
    (d / "lockfiles").mkdir()
    write_release(d / "releases", root)
    env = base_env(fi_index, uv_cache, d, tmp_path_factory.mktemp("fi-lock-home"))
    r = cli("lock", "--from-skyrl", str(root), "--backend", "vllm", "--json", env=env)
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture
def fi_env(fi_index, fi_data, uv_cache, tmp_path) -> dict[str, str]:
    fi_index.clear()
    home = tmp_path / "home"
    home.mkdir()
    return dict(base_env(fi_index, uv_cache, fi_data, home), SKYRL_SETUP_MIRRORS=mirror_map(fi_index))


@pytest.fixture
def pypi_only(fi_index):
    """PyTorch's index and flashinfer's answer 503: what a host that reaches only PyPI sees."""
    fi_index.inject(r"^/(pytorch-cu128|flashinfer-cu128)/", "status", 503)
    yield fi_index
    fi_index.clear()


def test_the_routes_differ_in_flashinfer_jit_cache(fi_data):
    folder = fi_data / "lockfiles" / "skyrl-train-0.3.1"
    assert 'name = "flashinfer-jit-cache"' in (folder / SKYRL_LOCK).read_text()
    assert 'name = "flashinfer-jit-cache"' not in (folder / PYPI_LOCK).read_text()  # pypi_drop: flashinfer's index only


def test_check_compat_on_a_pypi_only_host_judges_the_pypi_route(fi_env, pypi_only):
    r = cli("check-compat", "accelerate==1.10.0", "--backend", "vllm", "--json", env=fi_env)
    assert r.returncode == 0, r.stderr
    assert r.data["resolved"]["torch"] == "2.8.0" and "flashinfer-jit-cache" not in r.data["resolved"]
    judged = r.data["judged_against"]["vllm"]
    assert Path(judged["lockfile"]).name == PYPI_LOCK and judged["route"] == "pypi"
    assert "503" in judged["routes_not_taken"][0]


def test_check_compat_where_the_skyrl_route_is_taken_judges_its_lock(fi_env):
    r = cli("check-compat", "accelerate==1.10.0", "--backend", "vllm", "--json", env=fi_env)
    assert r.returncode == 0, r.stderr
    assert Path(r.data["judged_against"]["vllm"]["lockfile"]).name == SKYRL_LOCK
    # judged against its own indexes: PyTorch's torch build and flashinfer's package are found there
    assert r.data["resolved"]["torch"] == "2.8.0+cu128" and r.data["resolved"]["flashinfer-jit-cache"] == "0.5.2+cu128"


def test_install_with_a_clash_names_torch_on_a_pypi_only_host(fi_env, pypi_only, tmp_path):
    r = cli("install", "--backend", "vllm", "--with", "sglang==0.5.7", "--dry-run", "--venv", str(tmp_path / "e"),
            "--json", env=fi_env)
    assert r.returncode == 3, r.stderr
    assert r.error["message"] == "vllm 0.11.0 requires torch==2.8.0 but sglang 0.5.7 requires torch==2.9.1"
    assert Path(r.error["details"]["judged_against"]["vllm"]["lockfile"]).name == PYPI_LOCK
    assert not (tmp_path / "e").exists()


@pytest.fixture(scope="module")
def vllm_built(fi_index, fi_data, uv_cache, tmp_path_factory):
    """A vllm environment built on the PyPI-only host: the pypi route's lock."""
    fi_index.clear()
    fi_index.inject(r"^/(pytorch-cu128|flashinfer-cu128)/", "status", 503)
    home = tmp_path_factory.mktemp("fi-vllm-home")
    env = dict(base_env(fi_index, uv_cache, fi_data, home), SKYRL_SETUP_MIRRORS=mirror_map(fi_index))
    venv = home / "vllm"
    r = cli("install", "--backend", "vllm", "--venv", str(venv), "--json", env=env)
    fi_index.clear()
    assert r.returncode == 0, r.stderr
    assert Path(r.data["lockfile"]).name == PYPI_LOCK
    return venv


def test_doctor_on_a_fresh_vllm_env_judges_its_recorded_lock(fi_env, pypi_only, vllm_built):
    r = cli("doctor", "--venv", str(vllm_built), "--no-gpu-probe", "--json", env=fi_env)
    checks = {c["id"]: c for c in r.data["checks"]}
    pins = checks["env.pins"]
    assert pins["status"] == "ok", pins
    assert PYPI_LOCK in pins["summary"] and pins["details"]["missing"] == [] and pins["details"]["wrong"] == []
    assert "record" in pins["details"]["judged_against"]
    files = [c for c in r.data["checks"] if c["id"] == "system.index_files"]
    assert files and all(c["summary"].startswith(f"{PYPI_LOCK}: ") for c in files)


def test_doctor_finds_a_package_moved_off_its_lock(fi_env, pypi_only, vllm_built, tmp_path):
    venv = tmp_path / "copy"
    r = cli("install", "--backend", "vllm", "--venv", str(venv), env=fi_env)
    assert r.returncode == 0, r.stderr
    p = subprocess.run([find_uv_bin(), "pip", "install", "transformers==4.53.3", "--python", str(venv / "bin" / "python")],
                       env=fi_env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    r = cli("doctor", "--venv", str(venv), "--no-gpu-probe", "--json", env=fi_env)
    pins = next(c for c in r.data["checks"] if c["id"] == "env.pins")
    assert pins["status"] == "error" and pins["details"]["wrong"] == ["transformers 4.53.3 (lock: 4.57.3)"], pins


def test_doctor_without_a_record_judges_the_lock_install_would_take(fi_env, pypi_only, vllm_built, tmp_path):
    """A foreign environment (no record): the route install would take here; index checks name that lock."""
    r = cli("doctor", "--python", str(vllm_built / "bin" / "python"), "--backend", "vllm", "--no-gpu-probe", "--json",
            env=fi_env)
    pins = next(c for c in r.data["checks"] if c["id"] == "env.pins")
    assert pins["status"] == "ok" and PYPI_LOCK in pins["summary"], pins
    assert pins["details"]["judged_against"].startswith("route pypi")
    r = cli("doctor", "--venv", str(tmp_path / "none"), "--backend", "vllm", "--no-gpu-probe", "--json", env=fi_env)
    files = [c for c in r.data["checks"] if c["id"] == "system.index_files"]
    assert files and all(c["summary"].startswith(f"{PYPI_LOCK}: ") for c in files), r.data["checks"]


def test_dockerfile_copies_the_lock_install_takes_here(fi_env, pypi_only, tmp_path):
    plan = cli("install", "--backend", "vllm", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=fi_env)
    assert plan.returncode == 0, plan.stderr
    lock_name = Path(plan.data["plan"]["lockfile"]).name
    assert lock_name == PYPI_LOCK
    r = cli("dockerfile", "--backend", "vllm", "-o", str(tmp_path / "ctx"), "--json", env=fi_env)
    assert r.returncode == 0, r.stderr
    assert Path(r.data["lock"]).name == lock_name and r.data["route"] == "pypi"
    text = (tmp_path / "ctx" / "Dockerfile").read_text()
    assert f"COPY {lock_name} /opt/skyrl/" in text
    header = "\n".join(ln for ln in text.splitlines() if ln.startswith("#"))
    assert "# The lock: route pypi, as `skyrl-setup install` takes it on the host that wrote this." in header
    assert "not taken here: skyrl (cu128)" in header and "503" in header  # and why, as the plan says it
    assert r.data["lock_source"] == "committed lockfile, route pypi"


def test_lock_refuses_a_source_whose_python_is_not_the_profiles(skyrl_checkout, env, tmp_path):
    """Issue 25, item 16: a SkyRL source that requires Python >= 3.13 gets no lockfiles for the profile's 3.12."""
    root = tmp_path / "skyrl-train"
    shutil.copytree(skyrl_checkout, root)
    for name in ("pyproject.toml", "uv.lock"):
        text = (root / name).read_text()
        assert 'requires-python = "==3.12.*"' in text, name
        (root / name).write_text(text.replace('requires-python = "==3.12.*"', 'requires-python = ">=3.13"'))
    out = tmp_path / "out"
    r = cli("lock", "--from-skyrl", str(root), "--backend", "sglang", "-o", str(out), env=env)
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and ">=3.13" in errors[0] and "3.12" in errors[0], r.stderr
    assert "hint:" in r.stderr
    assert not list(out.glob("pylock.*.toml"))  # none written, not even the first route's
