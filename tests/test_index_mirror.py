"""Locked installs through the index people already configured (UV_INDEX_URL, pip.conf), not the lock's hosts.

The lock names its files on an "upstream" index that is turned off (every request answered 503
and counted); a second index serves the very same files under another URL layout
(/api/pypi/<repo>/packages/<h>/<h>/<file>, as Artifactory does) and is configured only the
usual way. Nothing else is set: no --mirror for those files.
"""

from __future__ import annotations

import os
import re

import pytest

from skyrl_setup.locks.pylock import load as load_lock
from tests.conftest import PYENV_312, base_env, cli, venv_run
from tests.support.catalog import stack
from tests.support.index import LocalIndex
from tests.support.skyrl_checkout import uv_lock, write_checkout


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    idx = LocalIndex(tmp_path_factory.mktemp("upstream"), stack()).start()
    yield idx
    idx.stop()


@pytest.fixture(scope="module")
def mirror(upstream):
    idx = LocalIndex(upstream.root, {}, layout="artifactory", source=upstream).start()
    yield idx
    idx.stop()


@pytest.fixture(scope="module")
def upstream_checkout(tmp_path_factory, upstream, data_dir):
    """A SkyRL checkout locked against the upstream host, and its two route locks, made while it was up."""
    d = tmp_path_factory.mktemp("upstream-lock")
    env = base_env(upstream, d / "cache", data_dir, d)
    checkout = write_checkout(d / "skyrl-train", upstream.url("pytorch-cu128"))
    uv_lock(checkout, env, str(PYENV_312[0]))
    for backend in ("sglang", "flashrl"):
        r = cli("lock", "--from-skyrl", str(checkout), "--backend", backend, "-o", str(d), env=env)
        assert r.returncode == 0, r.stderr
    return d


@pytest.fixture(scope="module")
def upstream_lock(upstream_checkout, upstream):
    """SkyRL's sglang versions from the upstream's PyPI alone."""
    lock = upstream_checkout / "pylock.sglang-pypi-cu126-linux_x86_64.toml"
    assert f"127.0.0.1:{upstream.port}/pypi/files/torch-2.7.1" in lock.read_text()
    return lock


def _count(lock) -> int:
    return len(load_lock(lock, "3.12.1", "linux_x86_64").packages)


@pytest.fixture
def turned_off(upstream, mirror):
    upstream.clear()
    mirror.clear()
    upstream.inject(r".", "status", 503)  # turned off: whatever reaches it is counted, and fails
    yield upstream
    upstream.clear()
    mirror.clear()


def _mirror_env(mirror, data_dir, tmp_path, how: str) -> dict[str, str]:
    env = base_env(mirror, tmp_path / "cache", data_dir, tmp_path / "home")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")  # no user-level uv.toml or pip.conf but the test's
    if how == "pip.conf":
        del env["UV_INDEX_URL"]
        conf = tmp_path / "pip.conf"
        authed = mirror.url().replace("http://", "http://builder:s3cret@")
        conf.write_text(f"[global]\ntimeout = 60\nindex-url = {authed}\n")
        env["PIP_CONFIG_FILE"] = str(conf)
    return env


@pytest.mark.parametrize("how", ["UV_INDEX_URL", "pip.conf"])
def test_locked_install_goes_through_the_configured_index(how, upstream, upstream_lock, turned_off, mirror, data_dir, tmp_path):
    env = _mirror_env(mirror, data_dir, tmp_path, how)
    venv = tmp_path / "env"
    r = cli("install", "--lock", str(upstream_lock), "--venv", str(venv), env=env)
    assert r.returncode == 0, r.stderr
    assert turned_off.requests == []  # not one request to the upstream host
    assert any(p.endswith("/torch-2.7.1-py3-none-any.whl") and "/packages/" in p for p in mirror.requests)
    row = next(ln for ln in r.stderr.splitlines() if "files from" in ln)
    assert f"{_count(upstream_lock)} files of http://127.0.0.1:{upstream.port}: by name and hash through" in row
    assert f"127.0.0.1:{mirror.port}/api/pypi/pypi/simple ({'pip.conf' if how == 'pip.conf' else how}" in row
    assert "s3cret" not in r.stdout + r.stderr
    plan = cli("install", "--lock", str(upstream_lock), "--venv", str(tmp_path / "other"), "--dry-run", "--json", env=env)
    assert [(x["via"], x["count"]) for x in plan.data["plan"]["fetch"]] == [("index", _count(upstream_lock))]
    out = venv_run(venv, "import torch, sglang; print(torch.__version__, sglang.__version__)").stdout.split()
    assert out == ["2.7.1+cu126", "0.4.8.post1"]


def test_warm_install_through_the_index_needs_neither_host(upstream_lock, turned_off, mirror, data_dir, tmp_path):
    env = _mirror_env(mirror, data_dir, tmp_path, "UV_INDEX_URL")
    assert cli("install", "--lock", str(upstream_lock), "--venv", str(tmp_path / "a"), "--no-verify", env=env).returncode == 0
    mirror.clear()
    mirror.inject(r".", "status", 503)  # now the mirror is down too
    r = cli("install", "--lock", str(upstream_lock), "--venv", str(tmp_path / "b"), "--no-verify", env=env)
    assert r.returncode == 0, r.stderr
    assert "fetching the rest" not in r.stderr
    assert mirror.requests == [] and turned_off.requests == []  # uv's cache alone


def test_mirror_serving_other_bytes_is_refused(upstream_lock, turned_off, mirror, data_dir, tmp_path):
    env = _mirror_env(mirror, data_dir, tmp_path, "UV_INDEX_URL")
    venv = tmp_path / "env"
    assert cli("install", "--lock", str(upstream_lock), "--venv", str(venv), "--no-verify", env=env).returncode == 0
    before = os.readlink(venv)
    expected = re.search(r'torch-2\.7\.1-py3-none-any\.whl".*?sha256 = "([0-9a-f]{64})"', upstream_lock.read_text()).group(1)
    env = dict(env, UV_CACHE_DIR=str(tmp_path / "cold"))
    mirror.inject(r"/torch-2\.7\.1-", "swap")  # a valid wheel, but not the lock's file
    r = cli("install", "--lock", str(upstream_lock), "--venv", str(venv), "--force", env=env)
    assert r.returncode == 1, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, r.stderr
    line = errors[0]
    assert "torch 2.7.1" in line and f"127.0.0.1:{mirror.port}/api/pypi/pypi/simple" in line
    served = [h for h in re.findall(r"[0-9a-f]{64}", line) if h != expected]
    assert expected in line and len(served) == 1, line
    assert turned_off.requests == []
    assert os.readlink(venv) == before  # nothing swapped
    assert venv_run(venv, "import torch; print(torch.__version__)").stdout.strip() == "2.7.1+cu126"


def test_doctor_shows_the_index_and_heads_one_file_through_it(upstream_lock, turned_off, mirror, data_dir, tmp_path):
    env = _mirror_env(mirror, data_dir, tmp_path, "pip.conf")
    venv = tmp_path / "env"
    assert cli("install", "--lock", str(upstream_lock), "--venv", str(venv), "--no-verify", env=env).returncode == 0
    mirror.clear()
    r = cli("doctor", "--venv", str(venv), "--no-gpu-probe", "--json", env=env)
    checks = {c["id"]: c for c in r.data["checks"]}
    shown = f"http://***@127.0.0.1:{mirror.port}/api/pypi/pypi/simple"
    assert checks["system.index"]["summary"] == f"package index: {shown} (from pip.conf ({tmp_path / 'pip.conf'}))"
    files = checks["system.index_files"]
    assert files["status"] == "ok" and files["details"]["status"] == 200 and "/packages/" in files["details"]["url"]
    assert [p for p in mirror.requests if "/packages/" in p] == [files["details"]["url"].split(str(mirror.port), 1)[1]]
    assert turned_off.requests == [] and "s3cret" not in r.stdout + r.stderr

    mirror.inject(r"/packages/", "status", 404)  # the mirror lists the file but cannot serve it
    r = cli("doctor", "--venv", str(venv), "--no-gpu-probe", env=env)
    assert r.returncode == 1
    line = next(ln for ln in r.stderr.splitlines() if "NOT reachable" in ln)
    assert "(HTTP 404)" in line and "fix:" in r.stderr and "s3cret" not in r.stdout + r.stderr


@pytest.fixture(scope="module")
def upstream_flashrl_lock(upstream_checkout, upstream):
    """SkyRL's flashrl lock exactly: torch 2.7.0+cu128 from the upstream's PyTorch index, the rest from its PyPI."""
    lock = upstream_checkout / "pylock.flashrl-skyrl-cu128.toml"
    assert f"127.0.0.1:{upstream.port}/pytorch-cu128/files/torch-2.7.0+cu128" in lock.read_text()
    return lock


def test_pytorch_files_come_through_a_configured_extra_index(upstream_flashrl_lock, turned_off, mirror, upstream, data_dir, tmp_path):
    env = dict(_mirror_env(mirror, data_dir, tmp_path, "UV_INDEX_URL"), UV_EXTRA_INDEX_URL=mirror.url("pytorch-cu128"))
    wheels = tmp_path / "wheels"  # the required patched vLLM, a URL-addressed release asset, from a folder here
    wheels.mkdir()
    for f in upstream.root.joinpath("assets").glob("vllm-*.whl"):
        (wheels / f.name).write_bytes(f.read_bytes())
    venv = tmp_path / "env"
    r = cli("install", "--backend", "flashrl", "--lock", str(upstream_flashrl_lock), "--find-links", str(wheels),
            "--venv", str(venv), "--no-verify", env=env)
    assert r.returncode == 0, r.stderr
    assert turned_off.requests == []
    assert any("/pytorch-cu128/packages/" in p and "torch-2.7.0+cu128" in p for p in mirror.requests)
    assert f"+ {mirror.url('pytorch-cu128')}" in r.stderr  # the plan names both indexes
    assert venv_run(venv, "import torch; print(torch.__version__)").stdout.strip() == "2.7.0+cu128"
