"""install, lock and their failure paths, end to end with real uv against the local index."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from skyrl_setup._toml import toml_reader
from tests.conftest import cli, mirror_map, venv_run

REL = "skyrl-train-0.3.1"  # the synthetic checkout's release (tests/conftest.write_release)


def _lock(data_dir, name):
    return toml_reader.loads((data_dir / "lockfiles" / REL / name).read_text())


def test_lock_from_skyrl_writes_both_routes(data_dir, skyrl_checkout):
    exact, pypi = _lock(data_dir, "pylock.sglang-skyrl-cu128.toml"), _lock(data_dir, "pylock.sglang-pypi-cu126-linux_x86_64.toml")
    v_exact = {p["name"]: p["version"] for p in exact["packages"]}
    v_pypi = {p["name"]: p["version"] for p in pypi["packages"]}
    assert exact["lock-version"] == "1.0"
    # SkyRL's lock exactly: torch +cu128 from the PyTorch index; the checkout's skyrl-gym as PyPI's 0.2.0
    assert v_exact["torch"] == "2.7.1+cu128" and v_exact["sglang"] == "0.4.8.post1" and v_exact["skyrl-gym"] == "0.2.0"
    torch_url = next(p for p in exact["packages"] if p["name"] == "torch")["wheels"][0]["url"]
    assert "/pytorch-cu128/" in torch_url
    # the same versions from PyPI alone, where torch 2.7.1 is the CUDA 12.6 build and its runtime follows it
    assert v_pypi["torch"] == "2.7.1" and v_pypi["sglang"] == "0.4.8.post1" and v_pypi["nvidia-cuda-runtime-cu12"] == "12.6.77"
    assert v_exact["nvidia-cuda-runtime-cu12"] == "12.8.57"
    assert {n for n in v_exact if n not in ("torch",)} - {"skyrl-train"} <= set(v_pypi)
    for doc in (exact, pypi):
        assert "flash-attn" not in {p["name"] for p in doc["packages"]}  # an artifact: never built by accident
        tool = doc["tool"]["skyrl-setup"]
        assert tool["skyrl-lock-sha256"] == hashlib.sha256((skyrl_checkout / "uv.lock").read_bytes()).hexdigest()
        assert tool["skyrl-extra"] == "sglang" and "sglang==0.4.8.post1" in tool["requirements"]
    assert pypi["tool"]["skyrl-setup"]["cuda"] == "cu126" and exact["tool"]["skyrl-setup"]["cuda"] == "cu128"
    assert all(w["hashes"]["sha256"] for p in pypi["packages"] for w in p.get("wheels", []))


def test_lock_from_skyrl_is_byte_for_byte_reproducible(data_dir, skyrl_checkout, env, tmp_path):
    r = cli("lock", "--from-skyrl", str(skyrl_checkout), "--backend", "vllm", "-o", str(tmp_path), env=env)
    assert r.returncode == 0, r.stderr
    for name in ("pylock.vllm-skyrl-cu128.toml", "pylock.vllm-pypi-cu128-linux_x86_64.toml"):
        assert (tmp_path / name).read_bytes() == (data_dir / "lockfiles" / REL / name).read_bytes()


def test_lock_from_skyrl_refuses_a_stale_lock_and_a_missing_extra(skyrl_checkout, env, tmp_path):
    stale = tmp_path / "skyrl-train"
    shutil.copytree(skyrl_checkout, stale)
    text = (stale / "pyproject.toml").read_text()
    (stale / "pyproject.toml").write_text(text.replace('"flash-attn"]', '"flash-attn", "six"]', 1))
    r = cli("lock", "--from-skyrl", str(stale), env=env)
    assert r.returncode == 2 and "stale" in r.stderr and "uv lock --project" in r.stderr
    # a version moved in pyproject.toml without re-locking is stale too
    (stale / "pyproject.toml").write_text(text.replace('"sglang==0.4.8.post1"', '"sglang==0.4.9.post1"'))
    r = cli("lock", "--from-skyrl", str(stale), env=env)
    assert r.returncode == 2 and "stale" in r.stderr and "sglang==0.4.9.post1" in r.stderr
    r = cli("lock", "--from-skyrl", str(skyrl_checkout), "--backend", "sglang-matrix", env=env)
    assert r.returncode == 2 and "not built from SkyRL's lock" in r.stderr


def test_install_builds_verified_env(installed_sglang):
    venv, env = installed_sglang
    assert venv.is_symlink()
    r = venv_run(venv, "import torch, sglang, os; print(torch.__version__, torch.version.cuda, sglang.__version__, os.environ['NCCL_CUMEM_ENABLE'])")
    assert r.stdout.split() == ["2.7.1+cu128", "12.8", "0.4.8.post1", "0"]
    activate = (venv / "bin" / "activate").read_text()
    assert 'export NCCL_CUMEM_ENABLE="0"' in activate
    rec = (venv / "skyrl-setup.json").read_text()
    assert '"backend": "sglang"' in rec and '"variant": "cu128"' in rec and '"skyrl-lock-sha256"' in rec
    r = venv_run(venv, "import skyrl_train.entrypoints.main_base, skyrl_train.trainer, skyrl_gym.metrics; print('ok')")
    assert r.stdout.strip() == "ok", r.stderr


def test_install_json_reports_plan_route_and_verdict(env, tmp_path):
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--json", env=env)
    assert r.returncode == 0, r.stderr
    doc = r.data
    plan = doc["plan"]
    assert plan["backend"] == "sglang" and plan["python"]["version"].startswith("3.12.")
    assert plan["cuda"]["variant"] == "cu128" and plan["cuda"]["driver"] is None
    assert plan["route"]["route"] == "skyrl" and plan["route"]["skipped"] == []
    assert {"name": "torch", "version": "2.7.1+cu128"} in plan["packages"]
    assert plan["download_bytes"] > 0 and plan["lockfile"].endswith("pylock.sglang-skyrl-cu128.toml")
    assert plan["skyrl_lock"]["skyrl-extra"] == "sglang"
    imports = {i["module"]: i["status"] for i in doc["imports"]}
    assert imports["torch"] == "ok" and imports["skyrl_train"] == "ok"
    assert imports["sgl_kernel"] == "skipped"  # needs libcuda; this host has none
    flash = [a for a in plan["artifacts"] if a["name"] == "flash-attn"][0]
    assert flash["status"] == "unreachable" and not flash["required"]
    # built and swapped, but not ready: SkyRL's model wrapper imports flash-attn at module level
    verdict = doc["verdict"]
    assert doc["ready"] is False and verdict["ready"] is False
    assert [(b["kind"], b["module"]) for b in verdict["blockers"]] == [("artifact", "skyrl_train.model_wrapper:1")]
    assert "flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp312-cp312-linux_x86_64.whl" in verdict["blockers"][0]["fix"]
    assert {i["module"]: i["status"] for i in verdict["imports"]} == {
        "skyrl_train.entrypoints.main_base": "ok", "skyrl_train.trainer": "ok",
        "skyrl_train.generators.skyrl_gym_generator": "ok", "skyrl_gym.metrics": "ok"}
    assert verdict["verdict"] == "built, but NOT ready for SkyRL training with sglang: 1 blocker(s)"
    # --strict: the same environment is a failure for a CI pipeline
    r = cli("install", "--venv", str(venv), "--strict", env=env)
    assert r.returncode == 1 and "NOT ready" in r.stderr


def test_pypi_route_when_pytorch_index_is_unreachable(env, tmp_path, index):
    index.inject(r"^/pytorch-cu128/", "status", 503)
    r = cli("install", "--venv", str(tmp_path / "env"), "--json", env=env)
    assert r.returncode == 0, r.stderr
    route = r.data["plan"]["route"]
    assert route["route"] == "pypi" and route["cuda"] == "cu126"
    assert len(route["skipped"]) == 1 and "pytorch-cu128" in route["skipped"][0] and "HTTP 503" in route["skipped"][0]
    out = venv_run(tmp_path / "env", "import torch; print(torch.__version__, torch.version.cuda)")
    assert out.stdout.split() == ["2.7.1+cu126", "12.6"]


def test_cuda_policy_skips_a_route_whose_torch_lacks_the_gpu(env, tmp_path, index):
    """A Blackwell GPU: PyPI's torch 2.7.1 (cu126) has no sm_100 kernels, so only the cu128 route will do."""
    index.inject(r"^/pytorch-cu128/", "status", 503)
    env = dict(env, SKYRL_SETUP_CUDA_DRIVER="580.65.06", SKYRL_SETUP_GPUS="NVIDIA B200:183:10.0")
    r = cli("install", "--venv", str(tmp_path / "env"), "--dry-run", "--json", env=env)
    assert r.returncode == 1, r.stderr
    assert "no kernels for NVIDIA B200 (sm_100)" in r.stderr and "pytorch-cu128" in r.stderr


def test_dry_run_changes_nothing(env, tmp_path):
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--dry-run", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["dry_run"] is True and r.data["plan"]["package_count"] > 10
    assert not venv.exists() and not (tmp_path / ".env.skyrl").exists()


def test_rerun_is_a_noop(installed_sglang):
    venv, env = installed_sglang
    gen = os.readlink(venv)
    r = cli("install", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["noop"] is True and os.readlink(venv) == gen


def test_failed_verification_keeps_previous_env(env, tmp_path, data_dir, index):
    """The import check fails (not the download: the lock's hash is the broken wheel's own, issue 14 bug 8)."""
    venv = tmp_path / "env"
    assert cli("install", "--venv", str(venv), env=env).returncode == 0
    before = os.readlink(venv)
    broken = tmp_path / "pylock.broken.toml"
    text = (data_dir / "lockfiles" / REL / "pylock.sglang-skyrl-cu128.toml").read_text()
    good, bad = index.find_file("pypi", "transformers-4.52.3-py3-none-any.whl"), index.find_file("pypi", "transformers-4.58.0-py3-none-any.whl")
    # point the lock at the broken transformers build the index also serves, hash and size included
    broken.write_text(text.replace("transformers-4.52.3-py3", "transformers-4.58.0-py3").replace(good.sha256, bad.sha256)
                      .replace(f"size = {good.path.stat().st_size}, hashes = {{ sha256 = \"{bad.sha256}",
                               f"size = {bad.path.stat().st_size}, hashes = {{ sha256 = \"{bad.sha256}")
                      .replace('name = "transformers"\nversion = "4.52.3"', 'name = "transformers"\nversion = "4.58.0"'))
    r = cli("install", "--venv", str(venv), "--lock", str(broken), env=env)
    assert r.returncode == 1
    assert "verification failed: import transformers" in r.stderr and "transformers 4.58.0: broken build" in r.stderr, r.stderr
    assert os.readlink(venv) == before
    assert venv_run(venv, "import transformers; print(transformers.__version__)").stdout.strip() == "4.52.3"
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
    assert r.data["previous_generation"] == 1


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


def test_flashrl_from_skyrl_lock_with_its_vllm_from_a_release_asset(env, tmp_path, index):
    """SkyRL's flashrl extra: torch 2.7.0+cu128 from the PyTorch index; Flash RL's vLLM from a release asset."""
    env = dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True))
    venv = tmp_path / "env"
    r = cli("install", "--backend", "flashrl", "--venv", str(venv), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["plan"]["lock_source"] == "committed lockfile, route skyrl"
    out = venv_run(venv, "import torch, vllm, transformers; print(torch.__version__, vllm.__version__, transformers.__version__)")
    assert out.stdout.split() == ["2.7.0+cu128", "0.1.dev7509", "4.57.3"]
    assert r.data["ready"] is True, r.data["verdict"]  # flash-attn came from the asset server too


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
    flash = [a for a in r.data["plan"]["artifacts"] if a["name"] == "flash-attn"][0]
    assert flash["status"] == "url"
    assert flash["location"].endswith("flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp312-cp312-linux_x86_64.whl")
    assert venv_run(venv, "import flash_attn; print('ok')").stdout.strip() == "ok"


def test_optional_artifact_from_find_links(env, tmp_path, index):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    shutil.copy(next(index.root.joinpath("assets").glob("flash_attn-*.whl")), wheels)
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--find-links", str(wheels), "--json", env=env)
    assert r.returncode == 0, r.stderr
    flash = [a for a in r.data["plan"]["artifacts"] if a["name"] == "flash-attn"][0]
    assert flash["status"] == "find-links"
    assert venv_run(venv, "import flash_attn; print('ok')").stdout.strip() == "ok"
    # the blocker's fix, applied: ready for SkyRL training
    assert r.data["ready"] is True and r.data["verdict"]["blockers"] == []
    assert "ready for SkyRL training with sglang" in cli("install", "--venv", str(venv), "--strict", env=env).stderr


def test_project_checkout_is_its_own_world(env, tmp_path, skyrl_checkout, index):
    """--project: the checkout's uv.lock for the extra, its path source (skyrl-gym) editable, itself editable."""
    proj = tmp_path / "SkyRL" / "skyrl-train"
    shutil.copytree(skyrl_checkout, proj)
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--project", str(proj), "--json", env=env)
    assert r.returncode == 0, r.stderr
    plan = r.data["plan"]
    assert plan["lock_source"] == "your checkout's uv.lock, route skyrl"
    assert plan["skyrl_lock"]["skyrl-lock-sha256"] == hashlib.sha256((proj / "uv.lock").read_bytes()).hexdigest()
    code = "import skyrl_train.trainer, skyrl_gym.metrics; print(skyrl_train.trainer.__file__, skyrl_gym.metrics.__file__)"
    train_file, gym_file = venv_run(venv, code).stdout.split()
    assert train_file.startswith(str(proj / "skyrl_train")) and gym_file.startswith(str(proj / "skyrl-gym"))
    assert [b["kind"] for b in r.data["verdict"]["blockers"]] == ["artifact"]
    # the lock it installed stays with the environment, not in a temporary folder
    assert Path(r.data["lockfile"]).parent == Path(r.data["path"])

    # PyTorch's index unreachable: the checkout's versions from the default index, skyrl-gym still editable
    index.inject(r"^/pytorch-cu128/", "status", 503)
    r = cli("install", "--venv", str(venv), "--project", str(proj), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["plan"]["lock_source"] == "your checkout's uv.lock, route pypi"
    out = venv_run(venv, "import torch, skyrl_gym; print(torch.__version__, skyrl_gym.__file__)").stdout.split()
    assert out[0] == "2.7.1+cu126" and out[1].startswith(str(proj / "skyrl-gym"))


def test_project_checkout_without_the_extra_or_lock(env, tmp_path, skyrl_checkout):
    proj = tmp_path / "skyrl-train"
    shutil.copytree(skyrl_checkout, proj)
    (proj / "uv.lock").unlink()
    r = cli("install", "--venv", str(tmp_path / "e"), "--project", str(proj), env=env)
    assert r.returncode == 2 and "no uv.lock" in r.stderr and f"uv lock --project {proj}" in r.stderr
    shutil.copy(skyrl_checkout / "uv.lock", proj / "uv.lock")
    text = (proj / "pyproject.toml").read_text()
    (proj / "pyproject.toml").write_text(text.replace('sglang = ["sglang==0.4.8.post1"', 'sglang2 = ["sglang==0.4.8.post1"'))
    r = cli("install", "--venv", str(tmp_path / "e"), "--project", str(proj), env=env)
    assert r.returncode == 2 and "stale" in r.stderr and "uv lock --project" in r.stderr
    assert not (tmp_path / "e").exists()


def test_warm_install_needs_no_index_and_cold_install_fetches(env, tmp_path, index):
    # --cuda cu126: the PyPI route, the one that needs no other index (the route choice probes those)
    env = dict(env, UV_CACHE_DIR=str(tmp_path / "own-cache"), SKYRL_SETUP_CUDA="cu126")
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


def test_engine_missing_a_name_the_adapter_imports_fails_with_nothing_swapped(env, sglang_env):
    """On a host with no driver: the static check finds it; the new generation is not made live."""
    before = os.readlink(sglang_env)
    r = cli("upgrade", "sglang==0.4.8.post2", "--venv", str(sglang_env), "--json", env=env)
    assert r.returncode == 1
    error = r.error["message"]
    assert "skyrl_train.inference_engines.sglang.sglang_engine:3" in error, error
    assert "sglang 0.4.8.post2 has no ResumeMemoryOccupationReqInput in sglang.srt.managers.tokenizer_manager" in error
    assert os.readlink(sglang_env) == before
    assert venv_run(sglang_env, "import sglang; print(sglang.__version__)").stdout.strip() == "0.4.8.post1"


def test_engine_without_an_rl_call_is_not_ready(env, sglang_env):
    before = os.readlink(sglang_env)
    r = cli("upgrade", "sglang==0.4.8.post3", "--venv", str(sglang_env), env=env)
    assert r.returncode == 1
    assert "Engine lacks release_memory_occupation, which SkyRL calls for RL training" in r.stderr
    assert os.readlink(sglang_env) == before


def test_a_defect_in_your_checkout_fails_the_install_and_names_the_file(env, tmp_path, index):
    """SkyRL's code importing from itself a name it does not define: in a release it is the release's; in your
    checkout it is yours to fix: the install fails and swaps nothing."""
    from tests.conftest import PYENV_312
    from tests.support.skyrl_checkout import uv_lock, write_checkout
    from tests.support.skyrl_fake import SKYRL_TRAIN

    files = dict(SKYRL_TRAIN)
    files["skyrl_train/trainer.py"] = ("from skyrl_gym.metrics import aggregate\n"
                                       "from skyrl_train.generators.skyrl_gym_generator import Nope\n\nclass RayPPOTrainer:\n    pass\n")
    proj = write_checkout(tmp_path / "SkyRL" / "skyrl-train", index.url("pytorch-cu128"), train_files=files)
    uv_lock(proj, env, str(PYENV_312[0]))
    r = cli("install", "--venv", str(tmp_path / "e"), "--project", str(proj), env=env)
    assert r.returncode == 1, r.stderr
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("error:"))
    assert "your checkout: skyrl_train.trainer imports Nope from skyrl_train.generators.skyrl_gym_generator" in line
    assert "skyrl_train/trainer.py line 2" in r.stderr
    assert not (tmp_path / "e").exists()
