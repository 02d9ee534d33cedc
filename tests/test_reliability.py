"""Interrupted, concurrent, faulty and hostile conditions: the previous environment is never lost.

Kills and interrupts hit the real process at named failpoints (skyrl_setup/failpoints.py);
index faults are served by the local index; ENOSPC comes from a real, small tmpfs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skyrl_setup.failpoints import FAILPOINTS
from tests.conftest import REPO, built_env, cli, venv_run
from tests.support.hostile import small_tmpfs

INSTALL_POINTS = ["locked", "cleaned", "generation-created", "venv-created", "uv-sync-started", "synced",
                  "artifacts-installed", "settings-written", "verified", "record-written", "swap-link-created",
                  "swapped", "pruned"]
UPGRADE_POINTS = ["upgrade-lock-resolved", "uv-sync-started", "verified", "record-written", "swap-link-created"]


def store_of(venv: Path) -> Path:
    return venv.parent / f".{venv.name}.skyrl"


def assert_consistent(venv: Path) -> dict:
    """The target is a link to a complete generation whose stack imports and whose record agrees."""
    assert venv.is_symlink(), "the environment path must always exist once made"
    rec = json.loads((venv / "skyrl-setup.json").read_text())
    assert os.readlink(venv).endswith(f"gen-{rec['generation']:04d}")
    out = venv_run(venv, "import torch, sglang, transformers, skyrl_train; print(torch.__version__, sglang.__version__)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "2.7.1+cu128"
    return rec


def assert_clean(venv: Path) -> None:
    """No generation in the store that was never made current, no temporary link."""
    for p in store_of(venv).iterdir():
        if p.name.startswith("gen-"):
            rec = p / "skyrl-setup.json"
            assert rec.is_file() and json.loads(rec.read_text()).get("activated", True), f"leftover {p.name}"
    assert not list(venv.parent.glob(f".{venv.name}.swap-*"))


@pytest.fixture(scope="module")
def shared(tmp_path_factory, index, uv_cache, data_dir):
    return built_env(tmp_path_factory, index, uv_cache, data_dir, "rel-home")


def test_every_failpoint_is_covered():
    covered = set(INSTALL_POINTS) | set(UPGRADE_POINTS) | {"rollback-swapped", "uv-download-started",
                                                           "import-check-started"}  # tests/test_hostile.py
    assert covered == set(FAILPOINTS)


@pytest.mark.parametrize("point", INSTALL_POINTS)
def test_sigkill_during_install(shared, point):
    venv, env = shared
    r = cli("install", "--venv", str(venv), "--force", env=dict(env, SKYRL_SETUP_FAILPOINT=f"{point}:kill"))
    assert r.returncode == -signal.SIGKILL
    assert_consistent(venv)
    r = cli("install", "--venv", str(venv), "--force", env=env)  # the next run cleans up and succeeds
    assert r.returncode == 0, r.stderr
    assert_consistent(venv)
    assert_clean(venv)


@pytest.mark.parametrize("point", ["generation-created", "uv-sync-started", "verified", "record-written", "swap-link-created"])
def test_sigint_during_install(shared, point):
    venv, env = shared
    before = os.readlink(venv)
    r = cli("install", "--venv", str(venv), "--force", env=dict(env, SKYRL_SETUP_FAILPOINT=f"{point}:int"))
    assert r.returncode == 130
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert errors == ["error: interrupted; the previous environment is unchanged"] and "Traceback" not in r.stderr
    assert os.readlink(venv) == before
    assert_consistent(venv)
    assert_clean(venv)  # an interrupted run removes its own generation


@pytest.mark.parametrize("point", UPGRADE_POINTS)
def test_sigkill_during_upgrade(shared, point):
    venv, env = shared
    r = cli("upgrade", "sglang==0.4.9.post1", "--venv", str(venv), env=dict(env, SKYRL_SETUP_FAILPOINT=f"{point}:kill"))
    assert r.returncode == -signal.SIGKILL
    assert_consistent(venv)
    r = cli("upgrade", "sglang==0.4.8.post1", "--venv", str(venv), env=env)
    assert r.returncode == 0, r.stderr
    assert_consistent(venv)
    assert_clean(venv)


def test_sigkill_during_rollback(shared):
    venv, env = shared
    assert cli("upgrade", "sglang==0.4.9.post1", "--venv", str(venv), env=env).returncode == 0
    r = cli("rollback", "--venv", str(venv), env=dict(env, SKYRL_SETUP_FAILPOINT="rollback-swapped:kill"))
    assert r.returncode == -signal.SIGKILL
    rec = assert_consistent(venv)
    assert venv_run(venv, "import sglang; print(sglang.__version__)").stdout.strip() == "0.4.8.post1"
    assert rec["backend"] == "sglang"


# -- concurrency ----------------------------------------------------------------------------------

def spawn(args, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "skyrl_setup", *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_reached(d: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(list(d.glob("*.reached"))) < n:
        assert time.monotonic() < deadline, "the processes never reached the failpoint"
        time.sleep(0.05)


def test_same_target_second_fails_fast_then_waits(env, tmp_path):
    venv, gate = tmp_path / "env", tmp_path / "gate"
    a = spawn(["install", "--venv", str(venv)], dict(env, SKYRL_SETUP_FAILPOINT=f"locked:wait={gate}"))
    wait_reached(gate, 1)
    b = cli("install", "--venv", str(venv), env=env)
    assert b.returncode == 1 and f"another skyrl-setup (pid {a.pid}) is working on {venv}" in b.stderr
    c = spawn(["install", "--venv", str(venv), "--wait"], env)
    time.sleep(1.0)
    assert c.poll() is None, "--wait queues behind the holder"
    (gate / "release").write_text("")
    assert a.wait(120) == 0 and c.wait(120) == 0
    assert_consistent(venv)


def test_different_targets_run_in_parallel(env, tmp_path):
    gate = tmp_path / "gate"
    procs = [spawn(["install", "--venv", str(tmp_path / f"env{i}")], dict(env, SKYRL_SETUP_FAILPOINT=f"locked:wait={gate}"))
             for i in range(2)]
    wait_reached(gate, 2)  # both hold their own lock at the same time
    (gate / "release").write_text("")
    assert [p.wait(120) for p in procs] == [0, 0]


def test_stale_lock_of_killed_process_is_taken_over(env, tmp_path):
    venv, gate = tmp_path / "env", tmp_path / "gate"
    a = spawn(["install", "--venv", str(venv)], dict(env, SKYRL_SETUP_FAILPOINT=f"venv-created:wait={gate}"))
    wait_reached(gate, 1)
    a.kill()
    a.wait()
    assert (store_of(venv) / "lock").read_text().strip() == str(a.pid)  # its pid is still written there
    r = cli("install", "--venv", str(venv), env=env)
    assert r.returncode == 0, r.stderr
    assert_consistent(venv)
    assert_clean(venv)


@pytest.fixture
def clean_index(index):
    index.clear()
    yield index
    index.clear()


def test_killed_install_leaves_no_uv_running(env, tmp_path, clean_index):
    index = clean_index
    venv, gate = tmp_path / "env", tmp_path / "gate"
    # a cold cache: the cache-only attempt fails at once, and uv is stopped while it downloads
    env = dict(env, UV_CACHE_DIR=str(tmp_path / "cold-cache"), SKYRL_SETUP_FAILPOINT=f"uv-download-started:wait={gate}")
    index.inject(r"/files/torch-", "slow", 30)
    a = spawn(["install", "--venv", str(venv)], env)
    wait_reached(gate, 1)
    assert _uv_processes_for(store_of(venv)), "uv should be downloading when the failpoint is reached"
    a.kill()
    a.wait()
    deadline = time.monotonic() + 10
    while _uv_processes_for(store_of(venv)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _uv_processes_for(store_of(venv)) == []


def _uv_processes_for(path: Path) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(path) in cmd and " pip sync " in cmd:
                found.append(int(p.name))
    return found


# -- faults at the index --------------------------------------------------------------------------

FAULTS = [
    ("status", 500, r"/files/torch-", "500"),
    ("status", 404, r"/files/torch-", "404"),
    ("slow", 4, r"/files/torch-", "time"),
    ("truncate", 0, r"/files/torch-", "torch"),
    ("swap", 0, r"/files/torch-", "hash"),
    ("drop", 0, r"/files/torch-", "torch"),
]


@pytest.mark.parametrize("kind,value,pattern,expect", FAULTS)
def test_index_fault_during_install(shared, index, tmp_path, kind, value, pattern, expect):
    venv, env = shared
    before = os.readlink(venv)
    creds = f"http://user:s3cret@127.0.0.1:{index.port}/"
    env = dict(env, UV_CACHE_DIR=str(tmp_path / "cold"), UV_HTTP_TIMEOUT="2",
               SKYRL_SETUP_MIRRORS=env["SKYRL_SETUP_MIRRORS"] + f" http://127.0.0.1:{index.port}/={creds}")
    index.clear()
    index.inject(pattern, kind, value)
    try:
        r = cli("install", "--venv", str(venv), "--force", env=env)
    finally:
        index.clear()
    assert r.returncode == 1, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "torch" in errors[0] and "127.0.0.1" in errors[0], r.stderr
    assert expect.lower() in r.stderr.lower()
    assert "s3cret" not in r.stderr + r.stdout and "hint:" in r.stderr
    assert os.readlink(venv) == before
    assert_consistent(venv)
    assert_clean(venv)


def test_connection_refused(shared, tmp_path):
    venv, env = shared
    env = dict(env, UV_CACHE_DIR=str(tmp_path / "cold"), SKYRL_SETUP_MIRRORS=env["SKYRL_SETUP_MIRRORS"] +
               f" {env['UV_INDEX_URL'].rsplit('/pypi/', 1)[0]}/=http://127.0.0.1:9/")
    r = cli("install", "--venv", str(venv), "--force", env=env)
    assert r.returncode == 1 and "127.0.0.1:9" in r.stderr
    assert_consistent(venv)


@pytest.mark.parametrize("target", [r"/simple/vllm/", r"/files/vllm-.*\.metadata$"])
def test_malformed_page_or_metadata(env, index, tmp_path, target):
    index.inject(target, "malformed")
    r = cli("install", "--with", "vllm==0.11.0", "--venv", str(tmp_path / "e"), env=env)
    index.clear()
    assert r.returncode in (1, 3) and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.startswith("error:")]) == 1
    assert not (tmp_path / "e").exists()


# -- disk -------------------------------------------------------------------------------------------

@pytest.fixture
def tmpfs(tmp_path):
    yield from small_tmpfs(tmp_path, "6m")


def test_preflight_refuses_small_filesystem(env, tmpfs):
    r = cli("install", "--venv", str(tmpfs / "env"), env=env)
    assert r.returncode == 4 and "free at" in r.stderr and "Traceback" not in r.stderr
    assert not (tmpfs / "env").exists()


def test_enospc_mid_install_keeps_old_env(env, tmpfs):
    env = dict(env, SKYRL_SETUP_DISK_MARGIN="0")
    venv = tmpfs / "env"
    r = cli("install", "--venv", str(venv), env=env)
    assert r.returncode == 0, r.stderr
    free = os.statvfs(tmpfs).f_bavail * os.statvfs(tmpfs).f_frsize
    (tmpfs / "filler").write_bytes(b"\0" * max(0, free - 200_000))  # leave too little for a second generation
    r = cli("install", "--venv", str(venv), "--force", env=env)
    assert r.returncode in (1, 4), r.stderr
    assert "Traceback" not in r.stderr
    assert_consistent(venv)
    (tmpfs / "filler").unlink()
    assert cli("install", "--venv", str(venv), "--force", env=env).returncode == 0
    assert_clean(venv)


# -- paths ----------------------------------------------------------------------------------------

def test_path_with_spaces_and_unicode(env, tmp_path):
    venv = tmp_path / "my envs" / "sglang ünïcode ✓"
    r = cli("install", "--venv", str(venv), env=env)
    assert r.returncode == 0, r.stderr
    assert_consistent(venv)


def test_relative_path(env, tmp_path):
    r = cli("install", "--venv", "rel/env", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert_consistent(tmp_path / "rel" / "env")


@pytest.mark.parametrize("make,code", [
    (lambda p: p.write_text("a file"), 2),
    (lambda p: (p.mkdir(), (p / "pyvenv.cfg").write_text("home = /usr\n")), 2),
])
def test_bad_targets(env, tmp_path, make, code):
    target = tmp_path / "t"
    make(target)
    snapshot = sorted(str(p) for p in tmp_path.rglob("*"))
    victim = target / "sub" if target.is_dir() else target
    r = cli("install", "--venv", str(victim), env=env)
    assert r.returncode == code, r.stderr
    assert sorted(str(p) for p in tmp_path.rglob("*")) == snapshot


def test_symlink_to_foreign_dir_is_refused(env, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "data").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(real)
    r = cli("install", "--venv", str(link), env=env)
    assert r.returncode == 2 and (real / "data").read_text() == "x" and link.is_symlink()
