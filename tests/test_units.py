"""Pure pieces: lockfile reading, redaction, uv message shortening, mirrors, artifacts."""

from __future__ import annotations

import hashlib
from pathlib import Path

from skyrl_setup.catalog.data import lockfiles_dir
from skyrl_setup.catalog.profiles import Artifact, load
from skyrl_setup.commands.results import plain
from skyrl_setup.detect import mirrors
from skyrl_setup.locks import pylock as lockfile
from skyrl_setup.plan import artifacts
from skyrl_setup.redact import Secret, mark_url, redact, secret_if_named
from skyrl_setup.uv.backend import short_cause

REPO = Path(__file__).resolve().parents[1]
REAL_LOCK = lockfiles_dir() / "skyrl-train-0.3.1" / "pylock.sglang-pypi-cu126-linux_x86_64.toml"


def test_committed_sglang_lock():
    """The default backend's PyPI route: SkyRL's tested SGLang set, traceable to SkyRL's uv.lock."""
    lock = lockfile.load(REAL_LOCK, "3.12.1", "linux_x86_64")
    v = lock.versions()
    assert (v["torch"], v["sglang"], v["flashinfer-python"], v["sgl-kernel"], v["ray"], v["transformers"]) == (
        "2.7.1", "0.4.8.post1", "0.2.6.post1", "0.1.9", "2.51.1", "4.52.3")
    assert v["skyrl-train"] == "0.3.1" and v["skyrl-gym"] == "0.2.0" and "flash-attn" not in v
    assert v["nvidia-cublas-cu12"].startswith("12.6.")  # PyPI's torch 2.7.1 is the CUDA 12.6 build
    assert 3e9 < lock.download_bytes < 7e9  # torch and the CUDA libraries
    assert {p.name for p in lock.from_source} <= {"antlr4-python3-runtime", "func-timeout", "flashinfer-python"}
    assert (lock.tool["backend"], lock.tool["route"], lock.tool["cuda"]) == ("sglang", "pypi", "cu126")
    shared = REPO.parent / "shared" / "skyrl-release-0.3.1" / "uv.lock"
    if shared.is_file():
        assert lock.tool["skyrl-lock-sha256"] == hashlib.sha256(shared.read_bytes()).hexdigest()


def test_committed_skyrl_route_locks_are_skyrl_lock_exactly():
    exact = lockfile.load(REPO / "lockfiles" / "skyrl-train-0.3.1" / "pylock.sglang-skyrl-cu128.toml", "3.12.1", "linux_x86_64")
    torch = next(p for p in exact.packages if p.name == "torch")
    assert torch.version == "2.7.1+cu128" and torch.url.startswith("https://download.pytorch.org/whl/cu128/")
    vllm = lockfile.load(REPO / "lockfiles" / "skyrl-train-0.3.1" / "pylock.vllm-pypi-cu128-linux_x86_64.toml", "3.12.1", "linux_x86_64").versions()
    assert (vllm["vllm"], vllm["torch"], vllm["transformers"], vllm["huggingface-hub"]) == ("0.11.0", "2.8.0", "4.57.3", "0.36.0")
    mcore = lockfile.load(REPO / "lockfiles" / "skyrl-train-0.3.1" / "pylock.megatron-skyrl-cu128.toml", "3.12.1", "linux_x86_64")
    bridge = next(p for p in mcore.packages if p.name == "megatron-bridge")
    assert bridge.source == "vcs" and bridge.url.endswith("@953aabf75c0500180dc14a6a76cf9e7e7c4baec7")
    names = {p.name for p in lockfile.load(REPO / "lockfiles" / "skyrl-train-0.3.1" / "pylock.megatron-pypi-cu128-linux_x86_64.toml",
                                           "3.12.1", "linux_x86_64").packages}
    assert {"megatron-bridge", "nvidia-modelopt", "transformer-engine", "megatron-core"} <= names


def test_lock_markers_follow_platform():
    universal = lockfiles_dir() / "skyrl-train-0.3.1" / "pylock.sglang-skyrl-cu128.toml"  # SkyRL's lock is universal
    x86 = lockfile.load(universal, "3.12.1", "linux_x86_64").versions()
    arm = lockfile.load(universal, "3.12.1", "linux_aarch64").versions()
    assert "nvidia-cublas-cu12" in x86 and "nvidia-cublas-cu12" not in arm


def test_lock_names_are_pep751_and_every_committed_lock_is_named_by_its_ref():
    """One naming scheme: a committed lockfile's name is the one its LockRef gives from its own [tool.skyrl-setup] table."""
    from skyrl_setup.catalog.lockfiles import LockRef, matrix_lock, read_tool_table

    for ref in (matrix_lock(Path("."), "sglang-matrix", "cu128", "manylinux_2_28.x86_64"),
                LockRef(Path("."), "vllm", "cu128", None, "skyrl"), LockRef(Path("."), "vllm", "cu128", "linux_x86_64", "pypi")):
        assert lockfile.NAME_RE.match(ref.name) and ref.name.count(".") == 2, ref.name
    found = sorted(lockfiles_dir().rglob("pylock.*.toml"))
    assert len(found) >= 18
    for path in found:
        tool = read_tool_table(path)
        platform = None if tool["platform"] == "any" else tool["platform"]
        ref = LockRef(path.parent, tool["backend"], tool["cuda"], platform, tool.get("route"))
        assert ref.path == path, (path.name, ref.name)


def test_redact():
    s = "https://user:s3cret@mirror.example/simple and http://tok@h/x"
    assert "s3cret" not in redact(s) and "tok@" not in redact(s)
    doc = plain({"HF_TOKEN": secret_if_named("HF_TOKEN", "abc"), "url": mark_url("https://a:b@c/"), "n": [1, "https://x:y@z"]})
    assert doc == {"HF_TOKEN": "***", "url": "https://***@c/", "n": [1, "https://***@z"]}


def test_redaction_is_by_type_not_by_key_name():
    """Issue 14, bug 2: `doctor --json` reported "tokenizers": "***" (a package's version masked for its name)."""
    doc = plain({"tokenizers": "0.21.1", "google-auth": "2.40.0", "TOKENIZERS_PARALLELISM": secret_if_named("TOKENIZERS_PARALLELISM", "false"),
                 "opaque": Secret("hunter2")})
    assert doc == {"tokenizers": "0.21.1", "google-auth": "2.40.0", "TOKENIZERS_PARALLELISM": "false", "opaque": "***"}
    assert secret_if_named("VLLM_AUTHORIZATION", "x") == "x" and isinstance(secret_if_named("VLLM_AUTHORIZATION", "x"), Secret)
    assert "hunter2" not in repr(Secret("hunter2")) and str(Secret("hunter2")) == "hunter2"  # the real value for programs


def test_short_cause_of_a_conflict():
    stderr = """  × No solution found when resolving dependencies:
  ╰─▶ Because sglang==0.5.7 depends on torch==2.9.1 and vllm==0.11.0 depends on torch==2.8.0, we can conclude
      that sglang==0.5.7 and vllm==0.11.0 are incompatible.
      And because you require sglang==0.5.7 and vllm==0.11.0, we can conclude that your requirements are unsatisfiable.
"""
    cause = short_cause(stderr)
    assert cause.startswith("Because sglang==0.5.7 depends on torch==2.9.1") and "And because" not in cause


def test_short_cause_without_a_tty():
    stderr = """error: No solution found when resolving dependencies
  cause: Because all versions of old-hydra-plugin depend on hydra-core==1.0.0 and you require hydra-core==1.3.2, we can conclude that your requirements and all versions of old-hydra-plugin are
         incompatible.
         And because you require old-hydra-plugin, we can conclude that your requirements are unsatisfiable.
"""
    assert short_cause(stderr) == ("Because all versions of old-hydra-plugin depend on hydra-core==1.0.0 and you require "
                                   "hydra-core==1.3.2, we can conclude that your requirements and all versions of "
                                   "old-hydra-plugin are incompatible.")


def test_short_cause_of_a_fetch_error():
    stderr = "error: Failed to fetch: `https://u:p@h/simple/torch/`\n  Caused by: HTTP status server error (500 Internal Server Error)\n"
    cause = short_cause(stderr)
    assert "Failed to fetch" in cause and "500" in cause and "u:p" not in cause


def test_mirror_rewrite_longest_prefix():
    pairs = [("https://files.pythonhosted.org/", "https://m/pypi/"), ("https://files.pythonhosted.org/packages/aa", "https://m/special")]
    assert mirrors.rewrite("https://files.pythonhosted.org/packages/aa/x.whl", pairs) == "https://m/special/x.whl"
    assert mirrors.rewrite("https://files.pythonhosted.org/packages/bb/x.whl", pairs) == "https://m/pypi/packages/bb/x.whl"
    text = 'wheels = [{ url = "https://files.pythonhosted.org/packages/bb/x.whl", size = 1 }]'
    assert "https://m/pypi/packages/bb/x.whl" in mirrors.rewrite_lock_text(text, pairs)


def test_flash_attn_wheel_name_over_torch_cuda_python():
    a = load("sglang").artifacts[0]
    cases = {
        ("cu128", "2.9.1", "3.12"): "flash_attn-2.8.3+cu12torch2.9cxx11abiTRUE-cp312-cp312-linux_x86_64.whl",
        ("cu128", "2.8.0", "3.12"): "flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl",
        ("cu126", "2.6.0", "3.12"): "flash_attn-2.8.3+cu12torch2.6cxx11abiFALSE-cp312-cp312-linux_x86_64.whl",
        ("cu130", "2.9.1", "3.13"): "flash_attn-2.8.3+cu13torch2.9cxx11abiTRUE-cp313-cp313-linux_x86_64.whl",
    }
    for (variant, torch, py), name in cases.items():
        assert artifacts.wheel_filename(a, variant, torch, py) == name


def test_find_local_matches_public_version(tmp_path: Path):
    a = Artifact("flash-attn", "2.8.3", "https://x/{version}/f.whl", False)
    (tmp_path / "flash_attn-2.8.3+cu12torch2.9cxx11abiTRUE-cp312-cp312-linux_x86_64.whl").write_bytes(b"")
    assert artifacts.find_local(a, "other-name.whl", (tmp_path,)) is not None


def test_requirement_check_skips_extras_but_not_other_markers():
    from skyrl_setup.doctor.env_checks import check_requirements

    facts = {"python": "3.12.1", "distributions": {
        "a": {"version": "1.0", "requires": [
            'missing-extra; extra == "test"',
            'missing-extra2; python_version >= "3.8" and extra == "docs"',
            'missing-win; sys_platform == "win32"',
            'b>=2; python_version >= "3.8"',
            'c; extra == "x" or python_version >= "3.8"',  # not extra-only: checked
        ]},
        "b": {"version": "1.5", "requires": []},
    }}
    checks = {c.id: c for c in check_requirements(facts)}
    broken = checks["env.requirements"].details["broken"]
    assert len(broken) == 2
    assert any(x.startswith("a requires b>=2") and "1.5 is installed" in x for x in broken)
    assert any(x.startswith("a requires c") and "not installed" in x for x in broken)


def test_a_real_import_failing_on_a_statically_found_cause_is_not_a_second_blocker():
    from skyrl_setup.verify.verdict import _same_cause

    module = [{"kind": "module", "missing": "flash_attn"}]
    assert _same_cause("ModuleNotFoundError: No module named 'flash_attn'", module)
    assert _same_cause("ModuleNotFoundError: No module named 'flash_attn.bert_padding'", module)
    assert _same_cause("ModuleNotFoundError: No module named 'skyrl_gym.metrics'", [{"kind": "module", "missing": "skyrl_gym.metrics"}])
    assert _same_cause("ImportError: cannot import name 'MixedPrecisionPolicy' from 'x'", [{"kind": "name", "missing": "x.MixedPrecisionPolicy"}])
    assert not _same_cause("ModuleNotFoundError: No module named 'ray'", module)
    assert not _same_cause("ModuleNotFoundError: No module named 'flash_attn_2_cuda'", module)
