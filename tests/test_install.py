"""install, lock and their failure paths, end to end with real uv against the local index."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from skyrl_setup._toml import toml_reader
from tests.conftest import cli, mirror_map, venv_run


def test_lock_writes_pep751_lock_with_profile_pins(data_dir):
    path = data_dir / "lockfiles" / "pylock.sglang-cu128-linux_x86_64.toml"
    doc = toml_reader.loads(path.read_text())
    versions = {p["name"]: p["version"] for p in doc["packages"]}
    assert doc["lock-version"] == "1.0"
    assert versions["torch"] == "2.9.1" and versions["sglang"] == "0.5.7" and versions["sgl-kernel"] == "0.3.20"
    # exclude_newer = 2026-02-01 keeps the broken transformers 4.58.0 and skyrl-gym 0.4.0 (later uploads) out
    assert versions["transformers"] == "4.57.1" and versions["skyrl-gym"] == "0.1.1"
    assert "flash-attn" not in versions  # excluded from resolution: never built by accident
    assert all(w["hashes"]["sha256"] for p in doc["packages"] for w in p.get("wheels", []))
    assert doc["tool"]["skyrl-setup"]["backend"] == "sglang"


def test_install_builds_verified_env(installed_sglang):
    venv, env = installed_sglang
    assert venv.is_symlink()
    r = venv_run(venv, "import torch, sglang, os; print(torch.__version__, torch.version.cuda, sglang.__version__, os.environ['NCCL_CUMEM_ENABLE'])")
    assert r.stdout.split() == ["2.9.1+cu128", "12.8", "0.5.7", "0"]
    activate = (venv / "bin" / "activate").read_text()
    assert 'export NCCL_CUMEM_ENABLE="0"' in activate
    rec = (venv / "skyrl-setup.json").read_text()
    assert '"backend": "sglang"' in rec and '"variant": "cu128"' in rec


def test_install_json_reports_plan_and_skips_gpu_modules(env, tmp_path):
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--json", env=env)
    assert r.returncode == 0, r.stderr
    doc = r.json
    plan = doc["plan"]
    assert plan["backend"] == "sglang" and plan["python"]["version"].startswith("3.12.")
    assert plan["cuda"]["variant"] == "cu128" and plan["cuda"]["driver"] is None
    assert {"name": "torch", "version": "2.9.1"} in plan["packages"]
    assert plan["download_bytes"] > 0 and plan["lockfile"].endswith("pylock.sglang-cu128-linux_x86_64.toml")
    imports = {i["module"]: i["status"] for i in doc["imports"]}
    assert imports["torch"] == "ok" and imports["skyrl_train"] == "ok"
    assert imports["sgl_kernel"] == "skipped"  # needs libcuda; this host has none
    flash = [a for a in plan["artifacts"] if a["name"] == "flash-attn"][0]
    assert flash["status"] == "unreachable" and not flash["required"]


def test_dry_run_changes_nothing(env, tmp_path):
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--dry-run", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.json["dry_run"] is True and r.json["plan"]["package_count"] > 10
    assert not venv.exists() and not (tmp_path / ".env.skyrl").exists()


def test_rerun_is_a_noop(installed_sglang):
    venv, env = installed_sglang
    gen = os.readlink(venv)
    r = cli("install", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.json["noop"] is True and os.readlink(venv) == gen


def test_failed_verification_keeps_previous_env(env, tmp_path, data_dir):
    venv = tmp_path / "env"
    assert cli("install", "--venv", str(venv), env=env).returncode == 0
    before = os.readlink(venv)
    broken = tmp_path / "pylock.broken.toml"
    text = (data_dir / "lockfiles" / "pylock.sglang-cu128-linux_x86_64.toml").read_text()
    # point the lock at the broken transformers build the index also serves
    broken.write_text(text.replace("transformers-4.57.1-py3", "transformers-4.58.0-py3").replace(
        'name = "transformers"\nversion = "4.57.1"', 'name = "transformers"\nversion = "4.58.0"'))
    env_nohash = dict(env)
    r = cli("install", "--venv", str(venv), "--lock", str(broken), env=env_nohash)
    assert r.returncode == 1
    assert "transformers" in r.stderr
    assert os.readlink(venv) == before
    assert venv_run(venv, "import transformers; print(transformers.__version__)").stdout.strip() == "4.57.1"
    store = tmp_path / ".env.skyrl"
    assert sorted(p.name for p in store.iterdir() if p.name.startswith("gen-")) == [Path(before).name]


def test_other_backend_needs_force_and_keeps_old_generation(env, tmp_path):
    venv = tmp_path / "env"
    assert cli("install", "--venv", str(venv), env=env).returncode == 0
    r = cli("install", "--venv", str(venv), "--backend", "vllm", env=env)
    assert r.returncode == 2 and "holds a sglang environment" in r.stderr
    r = cli("install", "--venv", str(venv), "--backend", "vllm", "--force", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert venv_run(venv, "import torch, vllm; print(torch.__version__, vllm.__version__)").stdout.split() == ["2.8.0+cu128", "0.11.0"]
    assert r.json["previous_generation"] == 1


def test_refuses_directory_it_did_not_make(env, tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("precious")
    r = cli("install", "--venv", str(target), env=env)
    assert r.returncode == 2
    assert "did not make" in r.stderr and "Traceback" not in r.stderr
    assert (target / "notes.txt").read_text() == "precious"


def test_empty_directory_target_is_used(env, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    r = cli("install", "--venv", str(target), env=env)
    assert r.returncode == 0, r.stderr
    assert target.is_symlink()


def test_flashrl_resolves_at_install_time_with_mirrored_indexes(env, tmp_path, index):
    """No committed lock: torch 2.7.0+cu128 comes from (a mirror of) PyTorch's index, vLLM from a release asset."""
    env = dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True))
    venv = tmp_path / "env"
    r = cli("install", "--backend", "flashrl", "--venv", str(venv), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.json["plan"]["lock_source"] == "resolved at install time"
    out = venv_run(venv, "import torch, vllm, transformers; print(torch.__version__, vllm.__version__, transformers.__version__)")
    assert out.stdout.split() == ["2.7.0+cu128", "0.1.dev7509", "4.53.3"]


def test_required_artifact_unreachable_fails_before_download(env, tmp_path, index):
    r = cli("install", "--backend", "flashrl", "--venv", str(tmp_path / "env"), env=env)
    assert r.returncode == 1
    assert "vllm 0.1.dev7509+gcc487699a.d20250821 is required" in r.stderr and "--find-links" in r.stderr
    assert not (tmp_path / "env").exists()
    # the fix the hint names works
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for f in index.root.joinpath("assets").glob("vllm-*.whl"):
        shutil.copy(f, wheels)
    r = cli("install", "--backend", "flashrl", "--venv", str(tmp_path / "env"), "--find-links", str(wheels), env=env)
    assert r.returncode == 0, r.stderr


def test_optional_artifact_from_release_url(env, tmp_path, index):
    env = dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True))
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--json", env=env)
    assert r.returncode == 0, r.stderr
    flash = [a for a in r.json["plan"]["artifacts"] if a["name"] == "flash-attn"][0]
    assert flash["status"] == "url"
    assert flash["location"].endswith("flash_attn-2.8.3+cu12torch2.9cxx11abiTRUE-cp312-cp312-linux_x86_64.whl")
    assert venv_run(venv, "import flash_attn; print('ok')").stdout.strip() == "ok"


def test_optional_artifact_from_find_links(env, tmp_path, index):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    shutil.copy(next(index.root.joinpath("assets").glob("flash_attn-*.whl")), wheels)
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--find-links", str(wheels), "--json", env=env)
    assert r.returncode == 0, r.stderr
    flash = [a for a in r.json["plan"]["artifacts"] if a["name"] == "flash-attn"][0]
    assert flash["status"] == "find-links"
    assert venv_run(venv, "import flash_attn; print('ok')").stdout.strip() == "ok"


def test_project_checkout_installed_editable(env, tmp_path):
    proj = tmp_path / "SkyRL" / "skyrl-train"
    (proj / "skyrl_train").mkdir(parents=True)
    (proj / "skyrl_train" / "__init__.py").write_text("__version__ = 'checkout'\n")
    (proj / "pyproject.toml").write_text('[project]\nname = "skyrl-train"\nversion = "0.4.0.dev0"\n'
                                         '[build-system]\nrequires = ["tinybuild"]\nbuild-backend = "tinybuild"\n')
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--project", str(proj), env=env)
    assert r.returncode == 0, r.stderr
    out = venv_run(venv, "import skyrl_train; print(skyrl_train.__version__, skyrl_train.__file__)").stdout.split()
    assert out[0] == "checkout" and str(proj) in out[1]


def test_warm_install_needs_no_index_and_cold_install_fetches(env, tmp_path, index):
    env = dict(env, UV_CACHE_DIR=str(tmp_path / "own-cache"))
    r = cli("install", "--venv", str(tmp_path / "a"), "--no-verify", env=env)
    assert r.returncode == 0, r.stderr
    assert "fetching the rest" in r.stderr
    assert any(p.endswith(".whl") for p in index.requests)

    index.clear()
    index.inject(r".", "status", 503)  # the index is down: every request fails
    try:
        r = cli("install", "--venv", str(tmp_path / "b"), "--no-verify", env=env)
        seen = list(index.requests)
    finally:
        index.clear()
    assert r.returncode == 0, r.stderr
    assert "fetching the rest" not in r.stderr
    assert seen == []  # served from uv's cache alone: not even a revalidation


def test_uv_offline_is_a_single_cache_only_attempt(env, tmp_path, index):
    env = dict(env, UV_CACHE_DIR=str(tmp_path / "empty-cache"), UV_OFFLINE="1")
    r = cli("install", "--venv", str(tmp_path / "e"), "--no-verify", env=env)
    assert r.returncode == 1
    assert "fetching the rest" not in r.stderr and "cache" in r.stderr
    assert not any(p.endswith(".whl") for p in index.requests)
    assert not (tmp_path / "e").exists()
