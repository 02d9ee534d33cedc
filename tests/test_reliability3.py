"""Issue 25: reliability, round three. Each test names the defect number it covers, and failed before its fix.

Same rules as test_reliability.py and test_hostile.py: the real CLI in a subprocess, real uv, the local
index; kills hit the real process at named failpoints; ENOSPC comes from a real tmpfs filled to its last page.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.conftest import (
    PYENV_312,
    REPO,
    base_env,
    built_env,
    cli,
    mirror_map,
    venv_run,
)
from tests.support.hostile import (
    alive,
    cli_with,
    fill,
    holder_pth,
    member,
    release,
    repack,
    small_tmpfs,
    special,
    without_dac,
)
from tests.support.index import LocalIndex, _File
from tests.support.wheels import FakeDist, build_wheel
from tests.test_hostile import gen_of, one_error
from tests.test_reliability import assert_consistent, spawn, store_of, wait_reached


@pytest.fixture(scope="module")
def shared(tmp_path_factory, index, uv_cache, data_dir):
    """One environment for tests that change it only for a moment and put it back."""
    return built_env(tmp_path_factory, index, uv_cache, data_dir, "rel3-home")


@pytest.fixture
def tmpfs(tmp_path):
    yield from small_tmpfs(tmp_path, "64m")


# -- 2, 20: the swap is the commit point ------------------------------------------------------------

def fail_after_swap(env: dict, tmpfs: Path, gate: Path):
    """gen 1 live; an `install --force` whose disk fills between its record and its swap: the swap still
    happens (a symbolic link needs no page), marking the record afterwards fails with ENOSPC."""
    venv = tmpfs / "env"
    assert cli("install", "--venv", str(venv), env=env).returncode == 0
    a = spawn(["install", "--venv", str(venv), "--force", "--json"], dict(env, SKYRL_SETUP_FAILPOINT=f"record-written:wait={gate}"))
    wait_reached(gate, 1)
    filler = fill(tmpfs)
    (gate / "release").write_text("")
    out, err = a.communicate(timeout=300)
    return venv, filler, a.returncode, out, err


def test_02_a_failure_after_the_swap_never_uncommits_or_deletes_the_live_generation(env, tmpfs, tmp_path):
    env = dict(env, SKYRL_SETUP_DISK_MARGIN="0")
    venv, filler, code, out, err = fail_after_swap(env, tmpfs, tmp_path / "gate")
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 4 and len(errors) == 1 and "Traceback" not in err, err
    assert f"{venv} was switched to generation 2" in errors[0] and "No space left on device" in errors[0], errors[0]
    assert str(store_of(venv) / "gen-0002") in errors[0], errors[0]  # the paths, not a bare strerror
    assert json.loads(out)["error"]["message"] == errors[0].removeprefix("error: ")
    assert gen_of(venv) == 2
    filler.unlink()
    r = cli("install", "--venv", str(venv), "--force", "--json", env=env)  # gen 3, from gen 2
    assert r.returncode == 0 and r.data["generation"] == 3 and r.data["previous_generation"] == 2, r.stderr
    r = cli("rollback", "--venv", str(venv), "--json", env=env)
    assert r.returncode == 0 and r.data["generation"] == 2, r.stderr  # not skipped: it was live
    assert cli("install", "--venv", str(venv), "--force", env=env).returncode == 0  # and never removed as a leftover
    assert (store_of(venv) / "gen-0002" / "skyrl-setup.json").is_file()
    assert_consistent(venv)


def test_20_the_live_order_and_the_record_follow_the_link(env, tmpfs, tmp_path):
    env = dict(env, SKYRL_SETUP_DISK_MARGIN="0")
    venv, filler, code, _, _ = fail_after_swap(env, tmpfs, tmp_path / "gate")
    assert code == 4 and gen_of(venv) == 2
    filler.unlink()
    r = cli("rollback", "--venv", str(venv), "--json", env=env)  # the first run after the failure: 2 counts as live
    assert r.returncode == 0 and r.data["generation"] == 1 and r.data["previous_generation"] == 2, r.stderr
    rec = json.loads((store_of(venv) / "gen-0002" / "skyrl-setup.json").read_text())
    assert rec["activated"] is True
    assert (store_of(venv) / "live").read_text().split() == ["1"]  # 2 was live after 1, then rolled back
    assert cli("install", "--venv", str(venv), "--force", env=env).returncode == 0
    assert (store_of(venv) / "gen-0002").is_dir()
    assert (store_of(venv) / "live").read_text().split()[-1] == str(gen_of(venv))
    assert_consistent(venv)


# -- 3: a store others can write is refused ---------------------------------------------------------

def test_03_a_store_made_or_writable_by_others_is_refused(env, tmp_path):
    venv = tmp_path / "shared" / "myenv"
    store_of(venv).mkdir(parents=True)
    store_of(venv).chmod(0o777)  # made beforehand by another user, for everyone
    r = cli("install", "--venv", str(venv), env=env)
    assert r.returncode == 4 and str(store_of(venv)) in one_error(r) and "writable by others" in r.stderr, r.stderr
    assert "creating generation" not in r.stderr and list(store_of(venv).iterdir()) == [] and not venv.exists()
    os.chown(store_of(venv), 54321, 54321)
    store_of(venv).chmod(0o755)
    r = cli("install", "--venv", str(venv), env=env)
    assert r.returncode == 4 and "uid 54321" in one_error(r) and "not to you" in r.stderr, r.stderr
    shutil.rmtree(store_of(venv))
    # a store this tool makes is never group- or world-writable, whatever the umask
    p = subprocess.run([sys.executable, "-m", "skyrl_setup", "install", "--venv", str(venv)], capture_output=True, text=True,
                       env=env, preexec_fn=lambda: os.umask(0o002), cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(store_of(venv).stat().st_mode) & 0o022 == 0
    store_of(venv).chmod(0o777)  # and one that became so later is refused by every command that writes
    for command in (["install", "--force"], ["rollback"], ["upgrade", "sglang==0.4.9.post1"]):
        r = cli(*command, "--venv", str(venv), env=env)
        assert r.returncode == 4 and str(store_of(venv)) in one_error(r), (command, r.stderr)
    assert gen_of(venv) == 1


# -- 1, 10, 15, 9: bundles --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def made_bundle(tmp_path_factory, index, uv_cache, data_dir) -> tuple[Path, dict]:
    home = tmp_path_factory.mktemp("bundle-home")
    env = dict(base_env(index, uv_cache, data_dir, home), TMPDIR=str(home))
    out = home / "sglang.bundle.tar"
    r = cli("bundle", "--backend", "sglang", "-o", str(out), env=env)
    assert r.returncode == 0, r.stderr
    return out, env


def test_01_bundle_output_is_written_through_a_link_or_refused(made_bundle, tmp_path):
    _, env = made_bundle
    real = tmp_path / "real.tar"
    real.write_text("old")
    link = tmp_path / "link.tar"
    link.symlink_to(real)
    r = cli("bundle", "--backend", "sglang", "-o", str(link), env=env)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and json.loads(member(real, "bundle.json"))["backend"] == "sglang"
    device = tmp_path / "full"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # what /dev/full is
    except PermissionError:
        device = None
    proc_link = tmp_path / "stdout"
    proc_link.symlink_to("/proc/self/fd/1")  # what /dev/stdout is
    (tmp_path / "dir").mkdir()
    for target in [device, proc_link, tmp_path / "dir", tmp_path / "missing" / "b.tar", Path("/proc/self/b.tar")]:
        if target is None:
            continue
        r = cli("bundle", "--backend", "sglang", "-o", str(target), env=env)
        assert r.returncode == 2 and "bundling" not in r.stderr, (target, r.stderr)
        assert str(target) in one_error(r), r.stderr
    assert device is None or stat.S_ISCHR(os.lstat(device).st_mode)
    assert proc_link.is_symlink() and (tmp_path / "dir").is_dir() and not (tmp_path / "missing").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["real.tar", "link.tar", "stdout", "dir"] + (["full"] if device else []))


def _install_bundle(path: Path, env: dict, venv: Path, *extra: str, timeout: float = 300):
    return cli("install", "--from-bundle", str(path), "--venv", str(venv), *extra, env=env, timeout=timeout)


@pytest.mark.parametrize("case", ["no-lock", "files-list", "manifest-list", "format"])
def test_10_a_malformed_bundle_manifest_is_one_line(made_bundle, tmp_path, case):
    src, env = made_bundle
    edit = {"no-lock": lambda m: {k: v for k, v in m.items() if k != "lock"},
            "files-list": lambda m: {**m, "files": list(m["files"])},
            "manifest-list": lambda m: [m],
            "format": lambda m: {**m, "format": 99}}[case]
    bad = repack(src, tmp_path / "bad.tar", manifest=edit)
    r = _install_bundle(bad, env, tmp_path / "e")
    assert r.returncode == 2 and str(bad) in one_error(r), r.stderr
    assert not (tmp_path / "e").exists()


def test_15_a_bundle_profile_that_was_altered_is_refused(made_bundle, tmp_path):
    src, env = made_bundle
    name = json.loads(member(src, "bundle.json"))["profile"]
    text = member(src, name).decode()
    evil = 'LD_PRELOAD = "/tmp/evil.so"\n'
    profile = text.replace("\n[env]\n", "\n[env]\n" + evil) if "\n[env]\n" in text else text + "\n[env]\n" + evil
    bad = repack(src, tmp_path / "bad.tar", replace={name: profile.encode()})
    r = _install_bundle(bad, env, tmp_path / "e")
    assert r.returncode == 2 and "profile" in one_error(r) and "sha256" in one_error(r), r.stderr
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_15_special_files_in_a_bundle_are_never_created(made_bundle, tmp_path, kind):
    src, env = made_bundle
    bad = repack(src, tmp_path / "bad.tar", extra=(special("wheels/null", kind, 1, 3),))
    env = dict(env, TMPDIR=str(tmp_path / "t"))
    (tmp_path / "t").mkdir()
    r = _install_bundle(bad, env, tmp_path / "e")
    assert r.returncode == 2 and "wheels/null" in one_error(r), r.stderr
    assert list((tmp_path / "t").rglob("null")) == [] and not (tmp_path / "e").exists()


@pytest.mark.parametrize("case", ["lock-dev-zero", "manifest-fifo", "bundle-fifo"])
def test_09_hostile_bundles_never_hang(made_bundle, tmp_path, case):
    src, env = made_bundle
    if case == "bundle-fifo":
        bad = tmp_path / "b.tar"
        os.mkfifo(bad)
    elif case == "lock-dev-zero":
        bad = repack(src, tmp_path / "b.tar", manifest=lambda m: {**m, "lock": "/dev/zero"})
    else:
        bad = repack(src, tmp_path / "b.tar", drop=("bundle.json",), extra=(special("bundle.json", tarfile.FIFOTYPE),))
    r = _install_bundle(bad, env, tmp_path / "e", timeout=60)  # the timeout only guards the test: the answer is at once
    assert r.returncode == 2 and str(bad) in one_error(r), r.stderr


def test_09_a_killed_bundle_install_is_cleaned_by_the_next_run(made_bundle, tmp_path):
    src, env = made_bundle
    env = dict(env, TMPDIR=str(tmp_path / "t"))
    (tmp_path / "t").mkdir()
    r = _install_bundle(src, dict(env, SKYRL_SETUP_FAILPOINT="locked:kill"), tmp_path / "e")
    assert r.returncode == -signal.SIGKILL
    left = list((tmp_path / "t").glob("skyrl-bundle-*"))
    assert len(left) == 1 and (left[0] / "bundle.json").is_file()  # the whole unpacked bundle
    r = _install_bundle(src, env, tmp_path / "e2", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert list((tmp_path / "t").glob("skyrl-bundle-*")) == []


# -- 10: files and streams that are not what they should be ----------------------------------------

def test_10_a_lock_that_is_a_directory_is_one_line(env, tmp_path):
    venv = tmp_path / "e"
    (store_of(venv) / "lock").mkdir(parents=True)
    r = cli("install", "--venv", str(venv), env=env)
    assert r.returncode == 2 and str(store_of(venv) / "lock") in one_error(r), r.stderr


def test_10_closed_stdin_and_stdout(shared):
    venv, env = shared
    before = os.readlink(venv)
    r = cli_with(">&-", "install", "--venv", str(venv), "--force", "--json", env=env)
    assert r.returncode == 4 and "stdout is closed" in one_error(r), r.stderr
    assert os.readlink(venv) == before and not (store_of(venv) / "gen-0002").exists()  # refused before anything was built
    r = cli_with("<&-", "upgrade", "--latest", "--venv", str(venv), env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr and "unexpected" not in r.stderr, r.stderr
    assert os.readlink(venv) == before  # nobody could answer "apply this set?": proposed, not applied
    assert (store_of(venv) / "pylock.proposed.toml").is_file()


# -- 5: the probes' own channel ---------------------------------------------------------------------

def _checkout_printing(skyrl_checkout: Path, dest: Path, where: str, code: str) -> Path:
    shutil.copytree(skyrl_checkout, dest)
    path = dest / where
    path.write_text(code + path.read_text())
    return dest


def test_05_a_skyrl_module_that_prints_does_not_break_the_install(env, tmp_path, skyrl_checkout):
    proj = _checkout_printing(skyrl_checkout, tmp_path / "co" / "skyrl-train", "skyrl_train/__init__.py",
                              "import sys\nsys.stdout.write('skyrl: loading...')\n")
    r = cli("install", "--venv", str(tmp_path / "e"), "--project", str(proj), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert [b["kind"] for b in r.data["verdict"]["blockers"]] == ["artifact"]  # as without the print
    # an import that ends the interpreter with status 0 is reported with that status, never "(False)"
    proj = _checkout_printing(skyrl_checkout, tmp_path / "co2" / "skyrl-train", "skyrl_train/trainer.py", "import os\nos._exit(0)\n")
    r = cli("install", "--venv", str(tmp_path / "e2"), "--project", str(proj), "--json", env=env)
    assert r.returncode == 1, r.stderr
    text = json.dumps(r.json)
    assert "(False)" not in text + r.stderr and "exited with status 0" in text, text


def test_05_a_pth_that_prints_or_holds_stdout_does_not_break_doctor(shared, tmp_path):
    venv, env = shared
    site = next((venv / "lib").glob("python3.*/site-packages"))
    clean = cli("doctor", "--venv", str(venv), "--json", env=env)
    summary = {c["id"]: c["status"] for c in clean.data["checks"]}
    gate, pids = tmp_path / "release", tmp_path / "pids"
    pth = site / "zz_hostile.pth"
    try:
        pth.write_text("import sys; sys.stdout.write('hello from a .pth')\n")
        r = cli("doctor", "--venv", str(venv), "--json", env=env)
        assert {c["id"]: c["status"] for c in r.data["checks"]} == summary, r.stderr
        pth.write_text(holder_pth(gate, pids))
        r = cli("doctor", "--venv", str(venv), "--json", env=env, timeout=200)  # waiting for the holders would never end
        holders = [int(x) for x in pids.read_text().split()]
        assert holders and any(alive(p) for p in holders), "the holders should still be running"
        assert {c["id"]: c["status"] for c in r.data["checks"]} == summary, r.stderr
    finally:
        pth.unlink(missing_ok=True)
        release(gate, pids)


# -- 8, 17, 18, 19 ----------------------------------------------------------------------------------

def test_08_an_unreadable_pyenv_root_is_skipped(env, tmp_path):
    prefix = without_dac(env)
    if prefix is None:
        pytest.skip("needs root and setpriv to drop CAP_DAC_OVERRIDE")
    root = tmp_path / "pyenv"
    (root / "versions").mkdir(parents=True)
    root.chmod(0)  # as another user's PYENV_ROOT is to you
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.12").symlink_to(PYENV_312[0])
    e = dict(env, PYENV_ROOT=str(root), PATH=f"{bin_dir}:{env['PATH']}")
    try:
        r = cli_with("", "install", "--dry-run", "--venv", str(tmp_path / "e"), "--json", env=e, prefix=prefix)
    finally:
        root.chmod(0o755)
    assert r.returncode == 0, r.stderr
    assert r.data["plan"]["python"]["version"].startswith("3.12.")


def test_17_a_mistyped_rollback_path_creates_nothing(env, tmp_path):
    r = cli("rollback", "--venv", str(tmp_path / "no" / "such" / "env"), env=env)
    assert r.returncode == 2 and "no environment" in one_error(r), r.stderr
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_18_a_wrong_data_dir_is_named(env, tmp_path, make):
    d = tmp_path / "data"
    if make == "empty":
        d.mkdir()
    r = cli("install", "--dry-run", "--venv", str(tmp_path / "e"), env=dict(env, SKYRL_SETUP_DATA_DIR=str(d)))
    assert r.returncode == 2 and f"SKYRL_SETUP_DATA_DIR={d}" in one_error(r), r.stderr
    assert "unknown backend" not in r.stderr


def test_19_a_killed_lock_leaves_no_temporary_folder_for_long(env, index, tmp_path, skyrl_checkout):
    out = tmp_path / "locks"
    args = ["lock", "--from-skyrl", str(skyrl_checkout), "--backend", "sglang", "-o", str(out)]
    index.inject(r"/simple/skyrl-train/", "slow", 5)  # a cold cache: the lock waits on the index, its folder made
    try:
        a = spawn(args, dict(env, UV_CACHE_DIR=str(tmp_path / "cold")))
        deadline = time.monotonic() + 120
        while not list(out.glob(".lock-*")):
            assert time.monotonic() < deadline and a.poll() is None, "the lock never made its folder"
            time.sleep(0.02)
        a.kill()
        a.wait()
    finally:
        index.clear()
    assert list(out.glob(".lock-*")), "SIGKILL leaves the folder behind"
    r = cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    assert list(out.glob(".lock-*")) == []


# -- 4, 6, 20: what a generation shares, where it was built, which one is live ------------------------

def _site(venv: Path) -> Path:
    return next((venv / "lib").glob("python3.*/site-packages"))


def _check(r, check_id: str) -> dict:
    found = [c for c in r.data["checks"] if c["id"] == check_id]
    assert len(found) == 1, (check_id, [c["id"] for c in r.data["checks"]])
    return found[0]


@pytest.mark.parametrize("mode", ["chosen", "copy"])
def test_04_an_edit_in_one_generation_never_silently_changes_another(env, tmp_path, mode):
    env = dict(env, UV_CACHE_DIR=str(tmp_path / "cache"))  # the edit reaches uv's cache too: never the shared one
    if mode == "copy":
        env["UV_LINK_MODE"] = "copy"  # the user's own choice is kept, and said
    venv = tmp_path / "env"
    assert cli("install", "--venv", str(venv), env=env).returncode == 0
    r = cli("install", "--venv", str(venv), "--force", "--json", env=env)
    assert r.returncode == 0 and r.data["generation"] == 2, r.stderr
    rel = (_site(venv) / "sglang" / "__init__.py").relative_to(venv)
    live, earlier = store_of(venv) / "gen-0002" / rel, store_of(venv) / "gen-0001" / rel
    before = earlier.read_bytes()
    time.sleep(1.1)  # an edit comes later than the build (the record's time is whole seconds)
    with open(live, "r+b") as fh:  # in place, as `sed -i` does not but many editors and patch scripts do
        fh.seek(0, os.SEEK_END)
        fh.write(b"\nEDITED_IN_GEN_2 = True\n")
    r = cli("rollback", "--venv", str(venv), env=env)
    if earlier.read_bytes() == before:  # an independent copy (clone, copy): the edit stayed in generation 2
        assert r.returncode == 0 and gen_of(venv) == 1, r.stderr
    else:  # a hard link: the edit reached generation 1, and rollback says so instead of going there
        assert r.returncode == 1 and "generation 1" in one_error(r) and "sglang/__init__.py" in one_error(r), r.stderr
        assert "uv cache clean sglang" in r.stderr and gen_of(venv) == 2
        d = cli("doctor", "--venv", str(venv), "--json", "--no-gpu-probe", env=env)
        files = _check(d, "env.files")
        assert files["status"] == "error" and "sglang/__init__.py" in files["summary"], files
    for g in (1, 2):
        rec = json.loads((store_of(venv) / f"gen-{g:04d}" / "skyrl-setup.json").read_text())
        assert rec["link_mode"] == ("copy" if mode == "copy" else rec["link_mode"]) and rec["link_mode"] in ("clone", "hardlink", "copy")


def test_06_a_moved_environment_is_found_out_and_rebuilt(env, tmp_path):
    old = tmp_path / "a" / "env"
    assert cli("install", "--venv", str(old), env=env).returncode == 0
    (tmp_path / "b").mkdir()
    new = tmp_path / "b" / "env"
    os.rename(old, new)  # mv of both: the link and its store
    os.rename(store_of(old), store_of(new))
    assert str(store_of(old)) in (new / "bin" / "activate").read_text()  # what moving a venv does
    d = cli("doctor", "--venv", str(new), "--json", "--no-gpu-probe", env=env)
    moved = _check(d, "env.moved")
    assert moved["status"] == "error" and str(store_of(old)) in moved["summary"], moved
    assert moved["fix"].startswith(f"skyrl-setup install --force --venv {new}"), moved
    r = cli("install", "--venv", str(new), "--json", env=env)  # not a no-op: rebuilt where it is now
    assert r.returncode == 0 and r.data["noop"] is False and r.data["generation"] == 2, r.stderr
    assert str(store_of(new) / "gen-0002") in (new / "bin" / "activate").read_text()
    assert json.loads((new / "skyrl-setup.json").read_text())["store"] == str(store_of(new))
    assert _check(cli("doctor", "--venv", str(new), "--json", "--no-gpu-probe", env=env), "env.moved")["status"] == "ok"
    r = cli("rollback", "--venv", str(new), env=env)  # generation 1 still names the old place
    assert r.returncode == 1 and str(store_of(old)) in one_error(r) and gen_of(new) == 2, r.stderr


def test_20_doctor_reports_a_link_its_bookkeeping_disagrees_with(env, tmpfs, tmp_path):
    env = dict(env, SKYRL_SETUP_DISK_MARGIN="0")
    venv, filler, code, _, _ = fail_after_swap(env, tmpfs, tmp_path / "gate")
    assert code == 4 and gen_of(venv) == 2
    filler.unlink()
    live = _check(cli("doctor", "--venv", str(venv), "--json", "--no-gpu-probe", env=env), "env.live")
    assert live["status"] == "warning" and "generation 2" in live["summary"] and "not marked live" in live["summary"], live
    assert f"skyrl-setup install --venv {venv}" in live["fix"], live
    assert cli("install", "--venv", str(venv), env=env).returncode == 0  # the fix: a run that takes the lock
    assert _check(cli("doctor", "--venv", str(venv), "--json", "--no-gpu-probe", env=env), "env.live")["status"] == "ok"


# -- 16: a lock's requires-python --------------------------------------------------------------------

def test_16_a_lock_for_another_python_is_refused_before_anything_is_built(env, tmp_path):
    src = next(Path(env["SKYRL_SETUP_DATA_DIR"], "lockfiles").glob("*/pylock.sglang-skyrl-cu128.toml"))
    text = src.read_text()
    text = re.sub(r"(?m)^requires-python = .*$", 'requires-python = ">=3.13"', text) if "requires-python" in text \
        else 'requires-python = ">=3.13"\n' + text
    lock = tmp_path / "pylock.py313.toml"
    lock.write_text(text)
    venv = tmp_path / "env"
    r = cli("install", "--lock", str(lock), "--venv", str(venv), env=env)
    assert r.returncode == 4 and ">=3.13" in one_error(r) and "is 3.12." in one_error(r), r.stderr
    assert "hint:" in r.stderr and not venv.exists() and not store_of(venv).exists()
    r = cli("install", "--lock", str(lock), "--venv", str(venv), "--python", str(PYENV_312[0]), env=env)
    assert r.returncode == 2 and ">=3.13" in one_error(r) and str(PYENV_312[0]) in one_error(r), r.stderr
    assert not venv.exists()


# -- 7: an upgrade starts from the environment, and moves only what is named ---------------------------

def _versions(venv: Path, *mods: str) -> list[str]:
    code = "import importlib; print(' '.join(importlib.import_module(m).__version__.split('+')[0] for m in %r))" % (mods,)
    return venv_run(venv, code).stdout.split()


def test_07_an_upgrade_keeps_what_earlier_upgrades_installed(env, tmp_path):
    venv = tmp_path / "env"
    assert cli("install", "--venv", str(venv), env=env).returncode == 0
    assert cli("upgrade", "sglang==0.4.9.post1", "--venv", str(venv), env=env).returncode == 0
    r = cli("upgrade", "ray==2.51.1", "--venv", str(venv), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert [c for c in r.data["changes"] if c["name"] == "sglang"] == [], r.data["changes"]
    assert _versions(venv, "sglang") == ["0.4.9.post1"]
    r = cli("upgrade", "--venv", str(venv), "--json", env=env)  # nothing named: nothing of the user's moves either
    assert r.returncode == 0 and [c for c in r.data["changes"] if c["name"] == "sglang"] == [], r.stderr
    assert _versions(venv, "sglang") == ["0.4.9.post1"]
    r = cli("upgrade", "sglang==0.4.8.post1", "--venv", str(venv), "--json", env=env)  # named: it moves back
    assert r.returncode == 0 and {"name": "sglang", "old": "0.4.9.post1", "new": "0.4.8.post1"} in r.data["changes"], r.stderr


def test_07_two_versions_of_one_package_are_refused(env, tmp_path):
    venv = tmp_path / "env"
    assert cli("install", "--venv", str(venv), env=env).returncode == 0
    for specs in (["sglang==0.4.9.post1", "sglang==0.4.8.post1"], ["sglang==0.4.9.post1", "SGLang>=0.4"]):
        r = cli("upgrade", *specs, "--venv", str(venv), env=env)
        assert r.returncode == 2 and all(s in one_error(r) for s in specs), (specs, r.stderr)
        assert gen_of(venv) == 1
    r = cli("upgrade", "sglang==0.4.9.post1", "sglang==0.4.9.post1", "--venv", str(venv), env=env)  # the same twice
    assert r.returncode == 0 and _versions(venv, "sglang") == ["0.4.9.post1"], r.stderr


@pytest.fixture
def plugin_index(index, tmp_path):
    """The test index and two more files: a plugin that needs an older nvidia-nccl-cu12 (which nothing pins), and that."""
    mine = LocalIndex(tmp_path / "idx", {}, source=index)
    mine.files = {i: {n: list(v) for n, v in projects.items()} for i, projects in index.files.items()}
    for d in (FakeDist("nccl-pinning-plugin", "1.0", ("nvidia-nccl-cu12==2.21.5",)),
              FakeDist("nvidia-nccl-cu12", "2.21.5", module="_none_nccl")):
        p = build_wheel(d, tmp_path / "idx-files")
        mine.files["pypi"].setdefault(d.dist_name.replace("_", "-"), []).append(_File(d, p, hashlib.sha256(p.read_bytes()).hexdigest()))
    yield mine.start()
    mine.stop()


def test_07_a_package_nobody_named_is_not_moved_unasked(env, tmp_path, plugin_index):
    venv = tmp_path / "env"
    assert cli("install", "--venv", str(venv), env=env).returncode == 0
    env = dict(env, UV_INDEX_URL=plugin_index.url(), SKYRL_SETUP_MIRRORS=mirror_map(plugin_index))
    args = ["upgrade", "nccl-pinning-plugin==1.0"]
    r = cli(*args, "--venv", str(venv), env=env)
    assert r.returncode == 3 and "nvidia-nccl-cu12 2.26.2 → 2.21.5" in one_error(r), r.stderr
    assert "nvidia-nccl-cu12==2.21.5" in r.stderr and gen_of(venv) == 1  # the hint names the move that accepts it
    r = cli(*args, "nvidia-nccl-cu12==2.21.5", "--venv", str(venv), "--json", env=env)
    assert r.returncode == 0 and {"name": "nvidia-nccl-cu12", "old": "2.26.2", "new": "2.21.5"} in r.data["changes"], r.stderr
    assert cli("rollback", "--venv", str(venv), env=env).returncode == 0
    master, slave = pty.openpty()  # at a terminal the question is asked, and a yes moves it
    try:
        os.write(master, b"y\n")
        p = subprocess.run([sys.executable, "-m", "skyrl_setup", *args, "--venv", str(venv)], stdin=slave, capture_output=True,
                           text=True, env=env, timeout=300, cwd=REPO)
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 0 and "also move nvidia-nccl-cu12, which you did not name?" in p.stderr, p.stderr
    assert json.loads((venv / "skyrl-setup.json").read_text())["packages"]["nvidia-nccl-cu12"] == "2.21.5"


def test_04_the_link_mode_is_chosen_where_the_store_is(tmp_path, monkeypatch):
    from skyrl_setup.store import sharing

    monkeypatch.delenv("UV_LINK_MODE", raising=False)
    (tmp_path / "a").write_text("x")
    reflinks = subprocess.run(["cp", "--reflink=always", str(tmp_path / "a"), str(tmp_path / "b")], capture_output=True).returncode == 0
    for p in (tmp_path / "a", tmp_path / "b"):
        p.unlink(missing_ok=True)
    assert sharing.choose_link_mode(tmp_path)[0] == ("clone" if reflinks else "hardlink")  # as cp finds it
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind
    monkeypatch.setattr(sharing, "can_clone", lambda folder: True)
    assert sharing.choose_link_mode(tmp_path)[0] == "clone"
    monkeypatch.setenv("UV_LINK_MODE", "copy")  # the user's own choice wins
    assert sharing.choose_link_mode(tmp_path) == ("copy", "UV_LINK_MODE")
