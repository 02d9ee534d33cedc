"""What a newcomer meets (issue 23, item 10): each hint names what would help, headings cite nothing unshipped,
quoted code is whole, and the plan and the verdict say the same about a component that could not be fetched."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from skyrl_setup.probe import script
from tests.conftest import cli

B200 = "NVIDIA B200:183:10.0"


def test_a_gpu_the_asked_variant_cannot_run_is_not_blamed_on_the_driver(env, tmp_path):
    env = dict(env, SKYRL_SETUP_CUDA_DRIVER="580.65.06", SKYRL_SETUP_GPUS=B200)
    r = cli("install", "--venv", str(tmp_path / "env"), "--dry-run", "--cuda", "cu126", env=env)
    assert r.returncode == 4, r.stderr
    assert "no kernels for NVIDIA B200 (sm_100)" in r.stderr
    assert "this GPU needs torch built for cu128" in r.stderr and "--cuda cu128" in r.stderr
    assert "driver" not in r.stderr.split("hint:", 1)[-1]  # 580.65.06 runs cu126: the driver is not the problem


def test_an_unreachable_route_and_an_uncovered_gpu_name_both_fixes(env, tmp_path, index):
    index.inject(r"^/pytorch-cu128/", "status", 503)
    env = dict(env, SKYRL_SETUP_CUDA_DRIVER="580.65.06", SKYRL_SETUP_GPUS=B200)
    r = cli("install", "--venv", str(tmp_path / "env"), "--dry-run", env=env)
    assert r.returncode == 1, r.stderr
    hint = r.stderr.split("hint:", 1)[-1]
    assert "reach PyTorch's index" in hint and "this GPU needs torch built for cu128" in hint
    assert "upgrade the NVIDIA driver" not in hint


def test_the_doctor_headings_cite_no_unshipped_document(env, sglang_env):
    r = cli("doctor", "--venv", str(sglang_env), "--no-gpu-probe", "--model", "7B", env=dict(
        env, SKYRL_SETUP_CUDA_DRIVER="580.159.04", SKYRL_SETUP_GPUS="NVIDIA H100 80GB HBM3:80:9.0"))
    assert "Known symptoms" in r.stderr + r.stdout
    assert "§" not in r.stderr + r.stdout and "FACTS" not in r.stderr + r.stdout


def test_a_parenthesised_import_is_quoted_whole(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "utils.py").write_text("def present():\n    pass\n")
    (pkg / "worker.py").write_text(textwrap.dedent("""\
        from mypkg.utils import (
            present,
            MixedPrecisionPolicy,
        )
    """))
    out = tmp_path / "answer"
    subprocess.run([sys.executable, script("code_paths_script"), json.dumps({"entry": ["mypkg.worker"], "follow": ["mypkg"]})],
                   env={"PYTHONPATH": str(tmp_path), "SKYRL_SETUP_PROBE_OUT": str(out)}, check=True, cwd=tmp_path)
    doc = json.loads(out.read_text().splitlines()[-1])
    [finding] = doc["findings"]
    assert finding["statement"] == "from mypkg.utils import (present, MixedPrecisionPolicy)", finding
    assert finding["missing"].endswith("MixedPrecisionPolicy")


def test_profiles_without_lockfiles_say_so(tmp_path):
    """Used to show `"torch": "0"` with exit 0: the pins of a SkyRL-sourced profile are its lock's."""
    import shutil

    from tests.conftest import REPO, clean_env

    data = tmp_path / "data"
    for folder in ("profiles", "releases"):
        shutil.copytree(REPO / folder, data / folder)
    (data / "lockfiles").mkdir()
    env = dict(clean_env(), SKYRL_SETUP_DATA_DIR=str(data), SKYRL_SETUP_HOME=str(tmp_path / "h"))
    r = cli("profiles", "--json", env=env, timeout=60)
    assert r.returncode == 0, r.stderr  # a listing; install and doctor are where it is an error
    doc = json.loads(r.stdout)["data"]
    sglang = next(p for p in doc["profiles"] if p["name"] == "sglang")
    assert sglang["torch"] is None and sglang["lockfiles"] == "missing" and "sglang" in doc["missing_lockfiles"]
    matrix = next(p for p in doc["profiles"] if p["name"] == "sglang-matrix")
    assert matrix["torch"] and matrix["lockfiles"] == "present"  # the matrix's pins are its own
    human = " ".join(cli("profiles", env=env, timeout=60).stderr.split())
    assert f"versions from nothing: no committed lockfile in {data / 'lockfiles'}" in human


def test_a_checkout_only_backend_is_not_a_missing_lockfile(tmp_path):
    from tests.conftest import clean_env

    r = cli("profiles", "--skyrl", "0.4.0", "--json", env=dict(clean_env(), SKYRL_SETUP_HOME=str(tmp_path / "h")), timeout=60)
    assert r.returncode == 0, r.stderr
    megatron = next(p for p in json.loads(r.stdout)["data"]["profiles"] if p["name"] == "megatron")
    assert megatron["lockfiles"] == "checkout only" and megatron["torch"] is None


def test_a_noop_is_decided_from_the_record_and_the_locks_bytes(tmp_path):
    """No TOML is parsed to know a re-run has nothing to do: a file that is not TOML at all still matches by sha256."""
    import hashlib

    from skyrl_setup.store.noop import recorded_lock
    from skyrl_setup.store.record import load

    lock = tmp_path / "lockfiles" / "pylock.sglang.toml"
    lock.parent.mkdir()
    lock.write_bytes(b"not [toml at all")
    raw = {"schema": 2, "store": str(tmp_path), "backend": "sglang",
           "lock": {"path": str(lock), "sha256": hashlib.sha256(b"not [toml at all").hexdigest()}}
    rec = load(raw, tmp_path / "gen-0001")
    found = recorded_lock(rec, "sglang", None, lock.parent)
    assert found is not None and (found.path, found.sha256) == (lock, raw["lock"]["sha256"])
    lock.write_bytes(b"changed")
    assert recorded_lock(rec, "sglang", None, lock.parent) is None  # other bytes: plan it properly
    assert recorded_lock(load({**raw, "lock": None}, tmp_path), "sglang", None, lock.parent) is None  # a record of another shape


def test_an_import_shows_its_distributions_version_not_a_stale_dunder(tmp_path):
    """`✓ import skyrl_gym 0.0.0` was shown for skyrl-gym 0.2.0: its __version__ was never updated."""
    (tmp_path / "stale_gym").mkdir()
    (tmp_path / "stale_gym" / "__init__.py").write_text('__version__ = "0.0.0"\n')
    meta = tmp_path / "stale_gym-0.2.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: stale-gym\nVersion: 0.2.0\n")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "__init__.py").write_text('__version__ = "1.5"\n')  # no distribution: its own word
    (tmp_path / "cudalib").mkdir()  # torch's way: the distribution is 2.11.0, the module says which CUDA build
    (tmp_path / "cudalib" / "__init__.py").write_text('__version__ = "2.11.0+cu130"\n')
    (tmp_path / "cudalib-2.11.0.dist-info").mkdir()
    (tmp_path / "cudalib-2.11.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: cudalib\nVersion: 2.11.0\n")
    out = tmp_path / "answer"
    subprocess.run([sys.executable, script("imports_script"), json.dumps(["stale_gym", "plain", "cudalib"])],
                   env={"PYTHONPATH": str(tmp_path), "SKYRL_SETUP_PROBE_OUT": str(out)}, check=True, cwd=tmp_path)
    rows = {d["module"]: d for d in map(json.loads, out.read_text().splitlines()) if d.get("status") == "ok"}
    assert rows["stale_gym"]["version"] == "0.2.0" and rows["plain"]["version"] == "1.5"
    assert rows["cudalib"]["version"] == "2.11.0+cu130"
