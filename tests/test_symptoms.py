"""The version matrix's §7 symptoms: each test builds an environment that shows the symptom, then doctor names
the cause and the fix. Environments are real (uv from the local index); the faulty pieces are real wheels
installed into them (a CPU-only torch, an engine kernel built without the GPU's architecture)."""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from skyrl_setup.doctor import fatbin
from tests.conftest import cli, venv_run
from tests.support.catalog import torch as fake_torch
from tests.support.wheels import FakeDist, _record_line, build_wheel

H100, B200 = "NVIDIA H100 80GB HBM3:79.6:9.0", "NVIDIA B200:178.4:10.0"
CU126_ARCHES = ("sm_50", "sm_60", "sm_70", "sm_80", "sm_86", "sm_90")  # torch's cu126 wheels (FACTS §4)


def doctor(env, venv, *extra, **env_extra):
    """The §7 import symptoms need doctor's real imports, which run with its probes (not with --no-gpu-probe)."""
    r = cli("doctor", "--venv", str(venv), "--json", *extra, env=dict(env, **env_extra))
    return r, {c["id"]: c for c in r.data["checks"]}


def uv_pip(env, venv, *args):
    from uv import find_uv_bin
    p = subprocess.run([find_uv_bin(), "pip", *args, "--python", str(venv / "bin" / "python")], env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p


def wheel_with(dist: FakeDist, out: Path, blobs: dict[str, bytes] | None = None) -> Path:
    """A real wheel of `dist`, with binary files added (a compiled extension)."""
    path = build_wheel(dist, out / "build")
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    record = next(n for n in members if n.endswith("/RECORD"))
    members.update(blobs or {})
    lines = [_record_line(n, d) for n, d in members.items() if n != record] + [f"{record},,"]
    members[record] = ("\n".join(lines) + "\n").encode()
    final = out / path.name
    with zipfile.ZipFile(final, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    return final


def extension(tmp_path: Path, arches: list[tuple[int, int]]) -> bytes:
    """A shared object with a fat binary in .nv_fatbin, as nvcc lays it out (raw bytes where no C compiler)."""
    blob = fatbin.container(arches)
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        return blob
    src = tmp_path / "ext.c"
    src.write_text('__attribute__((section(".nv_fatbin"), used)) const unsigned char fatbin[] = {'
                   + ",".join(str(b) for b in blob) + "};\nint kernel_entry(void) { return 0; }\n")
    so = tmp_path / "ext.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(src)], check=True)
    return so.read_bytes()


# -- 1. torch.cuda.is_available() returns False -----------------------------------------------------------

@pytest.mark.parametrize("local,cause", [("cpu", "is a CPU-only build"), ("rocm6.4", "is a ROCm (AMD) build")])
def test_torch_without_cuda(env, sglang_env, tmp_path, local, cause):
    build = wheel_with(fake_torch(f"2.9.1+{local}", local, None), tmp_path)
    uv_pip(env, sglang_env, "install", "--no-deps", "--reinstall", str(build))
    shown = venv_run(sglang_env, "import torch; print(torch.__version__, torch.cuda.is_available())")
    assert shown.stdout.split() == [f"2.9.1+{local}", "False"]  # the symptom
    r, c = doctor(env, sglang_env, "--no-gpu-probe", SKYRL_SETUP_CUDA_DRIVER="580.159.04", SKYRL_SETUP_GPUS=H100)
    s = c["symptom.cuda_unavailable"]
    assert r.returncode == 1 and s["status"] == "error"
    assert f"torch 2.9.1+{local} {cause}" in s["summary"]
    assert "skyrl-setup install --backend sglang --force" in s["fix"]


@pytest.mark.parametrize("env_extra,status,text,fix", [
    ({"SKYRL_SETUP_CUDA_DRIVER": "none"}, "warning", "no NVIDIA driver", "install the NVIDIA driver"),
    ({"CUDA_VISIBLE_DEVICES": ""}, "error", "CUDA_VISIBLE_DEVICES='' hides every GPU (2 on this host)", "export CUDA_VISIBLE_DEVICES=0,1"),
    ({"CUDA_VISIBLE_DEVICES": "-1"}, "error", "hides every GPU", "unset CUDA_VISIBLE_DEVICES"),
    ({"CUDA_VISIBLE_DEVICES": "4,5"}, "error", "hides every GPU", "unset CUDA_VISIBLE_DEVICES"),
    ({"SKYRL_SETUP_CUDA_DRIVER": "470.82.01"}, "error", "NVIDIA driver 470.82.01 is too old for CUDA 12.8", "upgrade the NVIDIA driver"),
    ({"CUDA_VISIBLE_DEVICES": "1"}, "ok", "built for CUDA 12.8", ""),
])
def test_cuda_unavailable_causes(env, installed_sglang, env_extra, status, text, fix):
    venv, _ = installed_sglang
    base = {"SKYRL_SETUP_CUDA_DRIVER": "580.159.04", "SKYRL_SETUP_GPUS": f"{H100};{H100}"}
    r, c = doctor(env, venv, "--no-gpu-probe", **{**base, **env_extra})
    s = c["symptom.cuda_unavailable"]
    assert s["status"] == status and text in s["summary"], s
    assert fix in s["fix"]
    assert "torch.cuda.is_available() is False" in s["summary"]


# -- 2. No module named 'flashinfer' ----------------------------------------------------------------------

def test_flashinfer_missing(env, sglang_env):
    uv_pip(env, sglang_env, "uninstall", "flashinfer-python")
    assert "No module named 'flashinfer'" in venv_run(sglang_env, "import flashinfer").stderr  # the symptom
    r, c = doctor(env, sglang_env)  # with the probes: the import symptom needs the real import
    s = c["symptom.flashinfer"]
    assert r.returncode == 1 and s["status"] == "error"
    assert "flashinfer-python (the sglang profile pins ==0.5.3) is not installed" in s["summary"]
    assert f"uv pip install --python {sglang_env}/bin/python 'flashinfer-python==0.5.3'" in s["fix"]
    assert c["env.import.flashinfer"]["status"] == "error" and "No module named 'flashinfer'" in c["env.import.flashinfer"]["summary"]


def test_flashinfer_installed_but_broken(env, sglang_env):
    init = next(sglang_env.glob("lib/python3.*/site-packages/flashinfer/__init__.py"))
    init.unlink()  # a new file, not a write through uv's hardlink into its cache
    init.write_text("raise ImportError('libcudart.so.12: cannot open shared object file')\n")
    r, c = doctor(env, sglang_env)  # with the probes: the import symptom needs the real import
    s = c["symptom.flashinfer"]
    assert s["status"] == "error" and "flashinfer-python 0.5.3 is installed but `import flashinfer` fails" in s["summary"]
    assert "libcudart.so.12" in s["summary"]


# -- 3. CUDA error: no kernel image is available ----------------------------------------------------------

def test_engine_kernel_without_the_gpus_arch(env, sglang_env, tmp_path):
    so = extension(tmp_path, [(2, 80), (2, 90)])  # cubins for sm_80 and sm_90, no PTX: nothing for Blackwell
    kernel = wheel_with(FakeDist("sgl-kernel", "0.3.20"), tmp_path, {"sgl_kernel/common_ops.abi3.so": so})
    uv_pip(env, sglang_env, "install", "--no-deps", "--reinstall", str(kernel))
    r, c = doctor(env, sglang_env, "--no-gpu-probe", SKYRL_SETUP_CUDA_DRIVER="580.159.04", SKYRL_SETUP_GPUS=f"{H100};{B200}")
    ok, bad = c["symptom.no_kernel_image0"], c["symptom.no_kernel_image1"]
    assert ok["status"] == "ok" and "sgl-kernel" in ok["summary"]  # the H100 (sm_90) is covered
    assert bad["status"] == "error" and r.returncode == 1
    assert "GPU 1 NVIDIA B200 (sm_100): not built for it: sgl-kernel 0.3.20 (sm_80, sm_90)" in bad["summary"]
    assert "install a sgl-kernel build for sm_100" in bad["fix"]


TORCH_SEES_A_GPU = """
import types as _t
__version__ = "2.9.1+cu126"
version = _t.SimpleNamespace(cuda="12.6")
class _Props:
    name, major, minor = "NVIDIA B200", 10, 0
class _Cuda:
    is_available = staticmethod(lambda: True)
    device_count = staticmethod(lambda: 1)
    get_arch_list = staticmethod(lambda: {arches!r})
    get_device_properties = staticmethod(lambda i: _Props())
    synchronize = staticmethod(lambda i=None: None)
cuda = _Cuda()
class Generator:
    def manual_seed(self, seed): return self
class _Tensor:
    def to(self, dev): raise RuntimeError("CUDA error: no kernel image is available for execution on the device")
def randn(*a, **k): return _Tensor()
def device(*a): return a
"""


def test_torch_without_the_gpus_arch(env, sglang_env, tmp_path):
    dist = FakeDist("torch", "2.9.1", code=TORCH_SEES_A_GPU.format(arches=list(CU126_ARCHES)),
                    files={"torch/version.py": "cuda = '12.6'\n"})
    uv_pip(env, sglang_env, "install", "--no-deps", "--reinstall", str(wheel_with(dist, tmp_path)))
    r, c = doctor(env, sglang_env, SKYRL_SETUP_CUDA_DRIVER="580.159.04", SKYRL_SETUP_GPUS=B200)
    assert "no kernel image is available" in c["gpu0.torch"]["summary"]  # the symptom, met by the torch probe
    s = c["symptom.no_kernel_image0"]
    assert s["status"] == "error" and "(sm_100): not built for it: torch (sm_50, sm_60, sm_70, sm_80, sm_86, sm_90)" in s["summary"]
    assert "--cuda" in s["fix"]


# -- 4. requires a different Python: 3.11.x not in '==3.12.*' -----------------------------------------------

def _other_python() -> str | None:
    cands = [sys.executable, shutil.which("python3.11"), shutil.which("python3.13"),
             *sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.1[13].*/bin/python3")))]
    for c in filter(None, cands):
        v = subprocess.run([c, "-c", "import sys; print(sys.version_info[:2] != (3, 12))"], capture_output=True, text=True)
        if v.stdout.strip() == "True":
            return c
    return None


def test_wrong_interpreter(env, tmp_path):
    py = _other_python()
    if py is None:
        pytest.skip("no interpreter other than 3.12 on this machine")
    from uv import find_uv_bin
    venv = tmp_path / "env"
    subprocess.run([find_uv_bin(), "venv", "--python", py, str(venv)], env=env, check=True, capture_output=True)
    p = subprocess.run([find_uv_bin(), "pip", "install", "--python", str(venv / "bin" / "python"), "skyrl-train==0.3.1"],
                       env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "3.12" in p.stderr  # the symptom, as uv words it
    r, c = doctor(env, venv, "--no-gpu-probe")
    s = c["symptom.python"]
    assert r.returncode == 1 and s["status"] == "error"
    assert "requires a different Python" in s["summary"] and f"interpreter ({venv}/bin/python) is Python 3." in s["summary"]
    assert s["fix"].startswith("skyrl-setup install --backend sglang --force --python ") or s["fix"].startswith("uv python install 3.12")


def test_healthy_env_has_no_symptom(env, installed_sglang):
    venv, _ = installed_sglang
    r, c = doctor(env, venv, "--no-gpu-probe", SKYRL_SETUP_CUDA_DRIVER="580.159.04", SKYRL_SETUP_GPUS=H100)
    for sid in ("symptom.python", "symptom.flashinfer", "symptom.cuda_unavailable"):
        assert c[sid]["status"] == "ok", c[sid]
    assert "env.imports" not in c  # real imports run with the probes only: doctor without them stays fast
    r, c = doctor(env, venv)  # with the probes (no driver here: no GPU probe runs, the imports do)
    assert c["env.imports"]["status"] == "ok", c["env.imports"]
    assert "torch 2.7.1" in c["env.imports"]["summary"] and "flashinfer 0.5.3" in c["env.imports"]["summary"]


def test_kernel_scan_reads_only_the_engine_kernels_metadata(tmp_path, monkeypatch):
    """Doctor's arch scan opens the metadata of the engine kernels installed, not of every distribution (FACTS §10:
    394 of them on the H200's python3, 0.62 s)."""
    from importlib import metadata

    from skyrl_setup.doctor.symptom_checks import kernel_arches

    site = tmp_path / "lib" / "python3.12" / "site-packages"
    names = {f"pkg{i}": "1.0" for i in range(40)} | {"sgl-kernel": "0.3.20"}
    for name, v in names.items():
        info = site / f"{name.replace('-', '_')}-{v}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {v}\n\n")
        (info / "RECORD").write_text("sgl_kernel/ops.so,,\n" if name == "sgl-kernel" else "")
    (site / "sgl_kernel").mkdir()
    (site / "sgl_kernel" / "ops.so").write_bytes(b"\x7fELF" + fatbin.container([(2, 90)]))
    read = []
    real = metadata.PathDistribution.read_text
    monkeypatch.setattr(metadata.PathDistribution, "read_text", lambda self, f: read.append((self._path.name, f)) or real(self, f))
    facts = {"prefix": str(tmp_path), "distributions": {n: {"version": v, "requires": []} for n, v in names.items()}}
    found = kernel_arches(facts)
    assert set(found) == {"sgl-kernel"} and found["sgl-kernel"]["arches"].names() == ["sm_90"], found
    assert {d for d, _ in read} == {"sgl_kernel-0.3.20.dist-info"}, read
    assert kernel_arches(dict(facts, distributions={})) == {}  # none installed, as the facts say: nothing opened
