"""doctor on the CPU machine: environments built with real uv from the local index, a fake libcuda."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from skyrl_setup.probe.curesult import diagnose, known_codes
from tests.conftest import cli

FACTS_CODES = [1, 2, 3, 34, 46, 100, 101, 200, 209, 218, 221, 222, 223, 700, 719, 802, 803, 804, 999]


def checks(doc) -> dict[str, dict]:
    return {c["id"]: c for c in doc["checks"]}


def uv_pip(env, venv, *args):
    from uv import find_uv_bin
    p = subprocess.run([find_uv_bin(), "pip", *args, "--python", str(venv / "bin" / "python")], env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_healthy_env_on_cpu_host(env, installed_sglang):
    r = cli("doctor", "--venv", str(installed_sglang[0]), "--json", env=env)
    doc = r.data
    c = checks(doc)
    assert r.returncode == 0, [x for x in doc["checks"] if x["status"] == "error"]
    assert c["env.pins"]["status"] == "ok" and c["env.drift"]["status"] == "ok"
    assert c["env.requirements"]["status"] == "ok" and c["env.runtime"]["status"] == "ok"
    assert c["env.torch_cuda"]["status"] == "ok" and "12.8" in c["env.torch_cuda"]["summary"]
    assert c["system.driver"]["status"] == "warning" and c["system.driver"]["fix"]
    assert c["gpu.driver_probe"]["status"] == "skipped"
    assert doc["environment"]["record"]["backend"] == "sglang"
    for item in doc["checks"]:
        assert set(item) == {"id", "status", "summary", "details", "fix"}
        assert item["status"] in ("ok", "warning", "error", "skipped")
        if item["status"] in ("warning", "error"):
            assert item["fix"], item
    assert set(doc) >= {"checks", "system", "gpus", "environment"}


def test_human_output_marks_fixes_and_count(env, installed_sglang):
    r = cli("doctor", "--venv", str(installed_sglang[0]), env=env)
    assert "fix:" in r.stderr and "doctor found 0 error(s)" in r.stderr
    assert r.stdout == ""


def test_drift_and_broken_requirements(env, sglang_env):
    uv_pip(env, sglang_env, "install", "transformers==4.53.3")
    uv_pip(env, sglang_env, "uninstall", "datasets")
    r = cli("doctor", "--venv", str(sglang_env), "--json", "--no-gpu-probe", env=env)
    assert r.returncode == 1
    c = checks(r.data)
    assert c["env.drift"]["status"] == "warning"
    assert "transformers 4.52.3 → 4.53.3" in c["env.drift"]["details"]["changed"]
    assert "datasets" in c["env.drift"]["details"]["removed"]
    assert c["env.requirements"]["status"] == "error"
    assert any("skyrl-train requires datasets" in b for b in c["env.requirements"]["details"]["broken"])
    assert c["env.pins"]["status"] == "error"  # datasets==4.0.0 is a pin of the profile


def test_mixed_cuda_majors(env, sglang_env):
    uv_pip(env, sglang_env, "install", "nvidia-cutlass-dsl-libs-cu12", "nvidia-cutlass-dsl-libs-cu13")
    c = checks(cli("doctor", "--venv", str(sglang_env), "--json", "--no-gpu-probe", env=env).data)
    assert c["env.cuda_mixed"]["status"] == "warning"
    assert set(c["env.cuda_mixed"]["details"]) == {"12", "13"}


def test_broken_torch_is_a_finding_not_a_crash(env, sglang_env):
    init = next(sglang_env.glob("lib/python3.*/site-packages/torch/__init__.py"))
    init.unlink()  # a new file, not a write through uv's hardlink into its cache (which every env shares)
    init.write_text("raise ImportError('libtorch_cuda.so: cannot open shared object file')\n")
    env = dict(env, SKYRL_SETUP_CUDA_DRIVER="580.159.04")  # a driver, so the torch probe runs
    r = cli("doctor", "--venv", str(sglang_env), "--json", env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    c = checks(r.data)
    assert c["gpu.torch_probe"]["status"] == "error"
    assert "libtorch_cuda.so" in c["gpu.torch_probe"]["summary"] and "--force" in c["gpu.torch_probe"]["fix"]


def test_missing_env_still_checks_system(env, tmp_path):
    r = cli("doctor", "--venv", str(tmp_path / "none"), "--json", env=env)
    assert r.returncode == 1
    c = checks(r.data)
    assert c["env.exists"]["status"] == "error" and "skyrl-setup install" in c["env.exists"]["fix"]
    assert c["system.platform"]["status"] == "ok"


def test_foreign_python_against_profile(env):
    """Any interpreter can be checked (a Docker image's, a conda env's): here the test runner's own."""
    import sys
    r = cli("doctor", "--python", sys.executable, "--backend", "vllm", "--json", "--no-gpu-probe", env=env)
    c = checks(r.data)
    assert r.returncode == 1 and c["env.pins"]["status"] == "error"
    assert "vllm==0.11.0" in c["env.pins"]["details"]["missing"]
    assert c["env.drift"]["status"] == "skipped"


def test_old_driver_is_error(env, installed_sglang):
    c = checks(cli("doctor", "--venv", str(installed_sglang[0]), "--json", "--no-gpu-probe",
                   env=dict(env, SKYRL_SETUP_CUDA_DRIVER="470.82.01")).data)
    assert c["system.driver"]["status"] == "error" and "too old" in c["system.driver"]["summary"]
    assert c["env.torch_cuda"]["status"] == "error"


def test_secrets_never_printed(env, tmp_path, index):
    secret = "hunter2-secret"
    env = dict(env, UV_INDEX_URL=index.url().replace("http://", f"http://user:{secret}@"),
               SKYRL_SETUP_MIRRORS=env["SKYRL_SETUP_MIRRORS"].replace("http://127.0.0.1:9/", f"http://u:{secret}@127.0.0.1:9/"),
               HF_TOKEN=secret, NCCL_SOCKET_IFNAME="eth0")
    venv = tmp_path / "env"
    for args in (("install", "--venv", str(venv), "--json", "-v"), ("doctor", "--venv", str(venv), "--json", "-v"),
                 ("install", "--venv", str(venv), "--dry-run", "--json")):
        r = cli(*args, env=env)
        assert secret not in r.stdout and secret not in r.stderr, args
    for log in (Path(env["SKYRL_SETUP_LOG_DIR"])).glob("*.log"):
        assert secret not in log.read_text()


def test_curesult_table_covers_documented_codes():
    assert set(FACTS_CODES) <= set(known_codes())
    for code in FACTS_CODES:
        d = diagnose(code)
        assert d.name.startswith("CUDA_ERROR_") and d.cause and d.fix
    assert "CUresult 4242" in diagnose(4242).name


# -- the driver probe against a fake libcuda (real ctypes calls, real kernel arguments) --------------

# (the fake_libcuda fixture is in conftest.py: tests/test_gpu_gate.py loads it too)

@pytest.mark.parametrize("fake,expect_status,expect_text", [
    ({}, "ok", "ran a JIT-compiled kernel, 1024 values checked"),
    ({"FAKE_CUINIT": "34"}, "error", "CUDA_ERROR_STUB_LIBRARY (34)"),
    ({"FAKE_CUINIT": "100"}, "error", "CUDA_ERROR_NO_DEVICE (100)"),
    ({"FAKE_CUINIT": "803"}, "error", "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (803)"),
    ({"FAKE_LOAD": "222"}, "error", "cuModuleLoadData failed: CUDA_ERROR_UNSUPPORTED_PTX_VERSION (222)"),
    ({"FAKE_WRONG": "1"}, "error", "1 of 1024 values wrong (first at 5: 0)"),
])
def test_driver_probe_paths(env, installed_sglang, fake_libcuda, fake, expect_status, expect_text):
    env = dict(env, SKYRL_SETUP_CUDA_DRIVER="580.159.04", SKYRL_SETUP_GPUS="Fake GPU:80:9.0",
               SKYRL_SETUP_LIBCUDA=str(fake_libcuda), **fake)
    r = cli("doctor", "--venv", str(installed_sglang[0]), "--json", env=env)
    found = [c for c in r.data["checks"] if c["id"].startswith(("gpu0.kernel", "gpu.driver_probe"))]
    assert len(found) == 1, found
    assert found[0]["status"] == expect_status and expect_text in found[0]["summary"], found[0]
    if expect_status == "error":
        assert found[0]["fix"] and r.returncode == 1


def test_probe_script_raw_json(fake_libcuda):
    import sys

    from skyrl_setup.probe import script
    p = subprocess.run([sys.executable, script("cuda_driver_script")], capture_output=True, text=True,
                       env={"SKYRL_SETUP_LIBCUDA": str(fake_libcuda), "FAKE_DEVICES": "2"})
    doc = json.loads(p.stdout)
    assert doc["status"] == "ok" and doc["driver_api_version"] == 12080 and len(doc["devices"]) == 2
    assert all(d["compute_capability"] == "9.0" and d["checked"] == 1024 for d in doc["devices"])


def _blocker(i: int, kind: str):
    from skyrl_setup.doctor import Check
    return Check(f"skyrl.blocker{i}", "error", f"skyrl_train/x.py:{i}: missing", "fix it", {"kind": kind})


@pytest.mark.parametrize("kinds, other, failing_ids", [
    (["artifact"], [], []),  # a build with flash-attn not fetchable: reported, not failed on
    (["release", "artifact"], [], []),
    (["gpu"], [], []),
    (["artifact", "environment"], [], ["skyrl.blocker1", "skyrl.ready"]),  # install fails on this one: so does the step
    (["artifact"], ["env.pins"], ["env.pins"]),  # any other error fails it
    ([], ["system.index_files"], ["system.index_files"]),
])
def test_fail_on_environment_fails_where_install_would(kinds, other, failing_ids):
    from skyrl_setup.doctor import Check, failing
    checks = [Check("system.python", "ok", "3.12"), *(_blocker(i, k) for i, k in enumerate(kinds)),
              *(Check(c, "error", "wrong", "fix") for c in other)]
    if kinds:
        checks.append(Check("skyrl.ready", "error", "built, but NOT ready for SkyRL training with sglang", "fix each blocker"))
    assert [c.id for c in failing(checks, "environment")] == sorted(failing_ids, key=[c.id for c in checks].index)
    assert failing(checks, "any") == [c for c in checks if c.status == "error"]  # the default: every error fails


def test_error_count_does_not_count_the_verdict_line_twice():
    from skyrl_setup.doctor import Check, error_count
    ready = Check("skyrl.ready", "error", "built, but NOT ready for SkyRL training with sglang: 1 blocker(s)", "fix each blocker")
    assert error_count([_blocker(0, "artifact"), ready]) == 1  # one blocker, one error (issue 23, item 10)
    assert error_count([_blocker(0, "artifact"), ready, Check("env.pins", "error", "x", "y")]) == 2
    assert error_count([ready]) == 1  # a verdict with nothing above it to sum up is an error of its own


def test_disk_warning_states_its_threshold(tmp_path):
    from skyrl_setup.detect.system import free_bytes
    from skyrl_setup.doctor.system_checks import check_disk
    from skyrl_setup.humanize import human_bytes
    above = free_bytes(tmp_path) + 10**12
    [low] = check_disk(tmp_path, None, warn_below=above)
    assert low.status == "warning" and low.summary.endswith(f"below the {human_bytes(above)} doctor asks for"), low
    [fine] = check_disk(tmp_path, None, warn_below=1)
    assert fine.status == "ok" and "below" not in fine.summary


# -- the probes' interpreters (issue 23, item 8): torch is imported once for the real imports and the GPU checks --

H100 = "NVIDIA H100 80GB HBM3:79.6:9.0"
COUNTING_TORCH = """
import os as _os
with open(_os.environ["FAKE_TORCH_LOG"], "a") as _fh:
    _fh.write(f"{_os.getpid()}\\n")
if _os.environ.get("FAKE_TORCH_EXIT"):
    _os._exit(int(_os.environ["FAKE_TORCH_EXIT"]))  # importing torch kills the interpreter
__version__ = "2.7.1+cu128"
class version:
    cuda = "12.8"
class _Props:
    name, major, minor = "NVIDIA H100 80GB HBM3", 9, 0
def _props(i):
    if _os.environ.get("FAKE_TORCH_CRASH"):
        _os._exit(7)  # a segfault in the driver, as the probe meets it
    return _Props()
_PID = _os.getpid()
def _available():  # FAKE_TORCH_BAD_FORK: a process forked after the import cannot use CUDA (as after cuInit)
    return not (_os.environ.get("FAKE_TORCH_BAD_FORK") and _os.getpid() != _PID)
class _Cuda:
    is_available = staticmethod(_available)
    is_initialized = staticmethod(lambda: bool(_os.environ.get("FAKE_TORCH_CUDA_UP")))
    device_count = staticmethod(lambda: 1)
    get_arch_list = staticmethod(lambda: ["sm_80", "sm_90"])
    get_device_properties = staticmethod(_props)
    synchronize = staticmethod(lambda i=None: None)
cuda = _Cuda()
class Generator:
    def manual_seed(self, seed): return self
class _Tensor:
    def to(self, dev): return self
    def cpu(self): return self
    def __matmul__(self, other): return self
    def __sub__(self, other): return self
    def abs(self): return self
    def max(self): return self
    def item(self): return 0.0
def randn(*a, **k): return _Tensor()
def device(*a): return a
"""


def counting_env(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    """A bare venv whose torch logs each interpreter that imports it; `extra`: more packages, name -> __init__ code."""
    import sys
    venv = tmp_path / "counting"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3.*/site-packages"))
    for name, code in {"torch": COUNTING_TORCH, **(extra or {})}.items():
        (site / name).mkdir()
        (site / name / "__init__.py").write_text(code)
    (site / "torch" / "version.py").write_text("cuda = '12.8'\n")
    info = site / "torch-2.7.1+cu128.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.7.1+cu128\n\n")
    (info / "RECORD").write_text("")
    return venv / "bin" / "python"


def doctor_gpu(env, python: Path, log: Path, **extra):
    r = cli("doctor", "--python", str(python), "--json",
            env=dict(env, SKYRL_SETUP_CUDA_DRIVER="580.159.04", SKYRL_SETUP_GPUS=H100, FAKE_TORCH_LOG=str(log), **extra))
    return r, checks(r.data)


@pytest.mark.parametrize("cuda_up", ["", "1"])  # "1": importing torch initialized CUDA: no forks, all in one process
def test_torch_is_imported_once_for_the_real_imports_and_the_torch_probe(env, tmp_path, cuda_up):
    log = tmp_path / "torch-imports.log"
    r, c = doctor_gpu(env, counting_env(tmp_path), log, FAKE_TORCH_CUDA_UP=cuda_up)
    assert c["gpu0.torch"]["status"] == "ok" and "torch 2.7.1+cu128 512×512 matmul matches the CPU" in c["gpu0.torch"]["summary"]
    assert c["env.imports"]["status"] == "ok" and "torch 2.7.1+cu128" in c["env.imports"]["summary"]
    assert c["env.arch0"]["status"] == "ok" and r.data["probes"]["torch"]["arch_list"] == ["sm_80", "sm_90"]
    assert len(log.read_text().split()) == 1, log.read_text()  # one interpreter imported torch, not one per probe


def test_an_import_that_kills_its_interpreter_costs_no_other_finding(env, tmp_path):
    log = tmp_path / "torch-imports.log"
    python = counting_env(tmp_path, {"sglang": "import os\nos._exit(9)\n"})
    _, c = doctor_gpu(env, python, log)
    assert "import sglang fails: import killed the interpreter (interpreter exited with status 9)" in c["env.import.sglang"]["summary"]
    assert "No module named 'flashinfer'" in c["env.import.flashinfer"]["summary"]  # reached: each import in a fork of its own
    assert c["gpu0.torch"]["status"] == "ok", c.get("gpu.torch_probe")
    assert len(log.read_text().split()) == 1


def test_a_torch_probe_failing_in_the_fork_is_asked_again_in_an_interpreter_of_its_own(env, tmp_path):
    log = tmp_path / "torch-imports.log"
    _, c = doctor_gpu(env, counting_env(tmp_path), log, FAKE_TORCH_BAD_FORK="1")
    assert c["gpu0.torch"]["status"] == "ok", c.get("gpu.torch_probe")  # not a finding of the fork's
    assert len(log.read_text().split()) == 2


def test_importing_torch_that_kills_the_interpreter(env, tmp_path):
    log = tmp_path / "torch-imports.log"
    _, c = doctor_gpu(env, counting_env(tmp_path), log, FAKE_TORCH_EXIT="5")
    assert "import torch fails: import killed the interpreter (interpreter exited with status 5)" in c["env.import.torch"]["summary"]
    assert "not reached" in c["env.import.sglang"]["summary"]
    probe = c["gpu.torch_probe"]  # asked again in an interpreter of its own: the same death
    assert probe["status"] == "error" and probe["summary"].startswith("crash: exit status 5"), probe


def test_a_torch_probe_that_kills_the_interpreter_keeps_the_imports(env, tmp_path):
    log = tmp_path / "torch-imports.log"
    r, c = doctor_gpu(env, counting_env(tmp_path), log, FAKE_TORCH_CRASH="1")
    assert c["gpu.torch_probe"]["status"] == "error" and c["gpu.torch_probe"]["summary"].startswith("crash: exit status 7"), c["gpu.torch_probe"]
    assert c["env.imports"]["status"] == "ok" and "torch 2.7.1+cu128" in c["env.imports"]["summary"]
    assert "env.import.torch" not in c and r.returncode == 1
