"""The fake SkyRL stack the local index serves: real wheels, the real names and pins.

Module code is small but behaves like the real thing where skyrl-setup looks: torch
reports its CUDA build, sgl_kernel needs libcuda, a broken build fails to import.
"""

from __future__ import annotations

from tests.support.skyrl_fake import (
    FLASH_ATTN_FILES,
    MEGATRON_BRIDGE_FILES,
    SKYRL_GYM_METRICS,
    SKYRL_TRAIN,
    VLLM_CODE,
    VLLM_FILES,
    sglang_files,
)
from tests.support.wheels import FakeDist

TORCH_CODE = """
import types as _t
__version__ = {full!r}
version = _t.SimpleNamespace(cuda={cuda!r}, __version__=__version__)
class _Cuda:
    @staticmethod
    def is_available(): return False
    @staticmethod
    def device_count(): return 0
    @staticmethod
    def get_arch_list(): return {arches!r}
cuda = _Cuda()
"""

TRANSFORMERS_CODE = "__version__ = {v!r}\nclass AutoTokenizer:\n    pass\n"

NEEDS_LIBCUDA = """
import ctypes
try:
    ctypes.CDLL("libcuda.so.1")
except OSError as exc:
    raise ImportError("libcuda.so.1: cannot open shared object file") from exc
"""


# A real PEP 517/660 build backend (enough for `uv pip install -e` of a checkout).
TINYBUILD = r"""
import base64, hashlib, os, zipfile
try:
    import tomllib
except ImportError:
    tomllib = None

def _meta():
    with open("pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    return project["name"], project["version"]

def _wheel(directory, files):
    name, version = _meta()
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tinybuild\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    rec = []
    for p, t in files.items():
        d = base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b"=").decode()
        rec.append(f"{p},sha256={d},{len(t.encode())}")
    files[f"{info}/RECORD"] = "\n".join(rec + [f"{info}/RECORD,,"]) + "\n"
    fn = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, fn), "w") as zf:
        for p, t in files.items():
            zf.writestr(p, t)
    return fn

def get_requires_for_build_wheel(config_settings=None): return []
def get_requires_for_build_editable(config_settings=None): return []
def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    name, _ = _meta()
    return _wheel(wheel_directory, {f"_{name.replace('-', '_')}_editable.pth": os.getcwd() + "\n"})
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return build_editable(wheel_directory)
"""


# transformer-engine-torch's stand-in: its build imports the environment's torch (no isolation).
TE_BACKEND = TINYBUILD.replace("def build_editable(", "def _unused(") + r"""
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    import torch  # fails under build isolation: there is no torch in an isolated build env
    return _wheel(wheel_directory, {"transformer_engine_torch/__init__.py": f"BUILT_AGAINST = {torch.__version__!r}\n"})
"""


CUDA_RUNTIME = {"12.6": "12.6.77", "12.8": "12.8.57"}  # nvidia-cuda-runtime-cu12 of each torch build, as on PyPI
CU126_ARCHES = ("sm_50", "sm_60", "sm_70", "sm_80", "sm_86", "sm_90")


def torch(version: str, local: str, cuda: str, arches=("sm_70", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"), **kw) -> FakeDist:
    code = TORCH_CODE.format(full=f"{version.split('+')[0]}+{local}", cuda=cuda, arches=list(arches))
    files = {"torch/version.py": f"from typing import Optional\n__version__ = {version!r}\ncuda: Optional[str] = {cuda!r}\n"}
    requires = (f"nvidia-cuda-runtime-cu12=={CUDA_RUNTIME[cuda]}", "nvidia-cudnn-cu12", "nvidia-nccl-cu12") if cuda in CUDA_RUNTIME else ()
    return FakeDist("torch", version, requires, code=code, files=files, **kw)


def stack() -> dict[str, list[FakeDist]]:
    """index name -> distributions."""
    pypi = [
        torch("2.9.1", "cu128", "12.8"),
        torch("2.8.0", "cu128", "12.8"),
        torch("2.10.0", "cu128", "12.8", upload_time="2026-03-01T00:00:00Z"),
        torch("2.7.0", "cu126", "12.6", arches=CU126_ARCHES),
        torch("2.7.1", "cu126", "12.6", arches=CU126_ARCHES),
        FakeDist("nvidia-cuda-runtime-cu12", "12.6.77", module="_none_cudart126"),
        FakeDist("nvidia-cuda-runtime-cu12", "12.8.57", module="_none_cudart128"),
        FakeDist("nvidia-cudnn-cu12", "9.7.1.26", module="_none_cudnn"),
        FakeDist("nvidia-nccl-cu12", "2.26.2", module="_none_nccl"),
        # SkyRL's SGLang set: the adapter's names are there (sglang 0.4.8.post1)
        FakeDist("sglang", "0.4.8.post1", ("torch==2.7.1", "flashinfer-python", "sgl-kernel==0.1.9", "transformers==4.52.3"),
                 files=sglang_files()),
        FakeDist("sglang", "0.4.9.post1", ("torch==2.7.1", "flashinfer-python", "sgl-kernel==0.1.9", "transformers==4.52.3"),
                 files=sglang_files(), upload_time="2026-01-15T00:00:00Z"),
        # stand-ins that each lack one thing SkyRL's adapter needs: an imported name; an RL call on the engine
        FakeDist("sglang", "0.4.8.post2", ("torch==2.7.1", "flashinfer-python", "sgl-kernel==0.1.9", "transformers==4.52.3"),
                 files=sglang_files(without="ResumeMemoryOccupationReqInput"), upload_time="2026-01-10T00:00:00Z"),
        FakeDist("sglang", "0.4.8.post3", ("torch==2.7.1", "flashinfer-python", "sgl-kernel==0.1.9", "transformers==4.52.3"),
                 files=sglang_files(without="release_memory_occupation"), upload_time="2026-01-10T00:00:00Z"),
        FakeDist("sglang", "0.4.10", ("torch==2.8.0", "flashinfer-python", "sgl-kernel==0.1.9", "transformers==4.52.3"),
                 files=sglang_files(), upload_time="2026-01-20T00:00:00Z"),  # a (made-up) release that moves torch
        # the version matrix's: sglang 0.5.x no longer has what SkyRL's adapter imports
        FakeDist("sglang", "0.5.7", ("torch==2.9.1", "flashinfer-python==0.5.3", "sgl-kernel==0.3.20"),
                 files=sglang_files(adapter_names=False)),
        FakeDist("sglang", "0.5.8", ("torch==2.9.1", "flashinfer-python==0.5.3", "sgl-kernel==0.3.20"), upload_time="2026-03-01T00:00:00Z",
                 files=sglang_files(adapter_names=False)),
        FakeDist("sglang", "0.6.0", ("torch==2.10.0", "flashinfer-python==0.5.3", "sgl-kernel==0.3.20"), upload_time="2026-04-01T00:00:00Z",
                 files=sglang_files(adapter_names=False)),
        # newer still, but it needs a transformers released after the profile's date cutoff (issue 17, defect 16)
        FakeDist("sglang", "0.6.1", ("torch==2.10.0", "flashinfer-python==0.5.3", "sgl-kernel==0.3.20", "transformers==4.58.0"),
                 upload_time="2026-05-01T00:00:00Z", files=sglang_files(adapter_names=False)),
        # newer again, needing a package that exists only after the cutoff and that no profile names: only uv sees it
        FakeDist("sglang", "0.6.2", ("torch==2.10.0", "flashinfer-python==0.5.3", "sgl-kernel==0.3.20", "sglang-router==1.0.0"),
                 upload_time="2026-06-01T00:00:00Z", files=sglang_files(adapter_names=False)),
        FakeDist("sglang-router", "1.0.0", upload_time="2026-06-01T00:00:00Z"),
        FakeDist("sgl-kernel", "0.1.9", code=NEEDS_LIBCUDA),
        FakeDist("transformers", "4.52.3", code=TRANSFORMERS_CODE.format(v="4.52.3")),
        FakeDist("transformers", "4.57.3", code=TRANSFORMERS_CODE.format(v="4.57.3")),
        FakeDist("huggingface-hub", "0.36.0"),
        FakeDist("megatron-bridge", "0.2.0rc6", ("megatron-core",), module="_none_bridge", files=MEGATRON_BRIDGE_FILES),
        # PyPI has flash-attn as an sdist only; its build needs CUDA (never built here: an artifact)
        *(FakeDist("flash-attn", v, ("torch",), sdist=True, files={
            "pyproject.toml": f'[project]\nname = "flash-attn"\nversion = "{v}"\n[build-system]\nrequires = []\n'
                              'build-backend = "nobuild"\nbackend-path = ["."]\n',
            "nobuild.py": "raise RuntimeError('flash-attn needs CUDA to build')\n"}) for v in ("2.8.1", "2.8.3")),
        FakeDist("flashinfer-python", "0.5.3", ("torch",), module="flashinfer"),
        FakeDist("flashinfer-python", "0.5.2", ("torch",), module="flashinfer"),
        # a broken build: installs, then fails to import (drives failed-verification tests)
        FakeDist("flashinfer-python", "0.5.4", ("torch",), module="flashinfer", upload_time="2026-03-01T00:00:00Z",
                 code="raise ImportError('flashinfer 0.5.4: broken build')"),
        FakeDist("flashinfer-cubin", "0.5.3", module="flashinfer_cubin"),
        FakeDist("sgl-kernel", "0.3.20", code=NEEDS_LIBCUDA),
        FakeDist("torch-memory-saver", "0.0.9"),
        FakeDist("vllm", "0.11.0", ("torch==2.8.0", "transformers>=4.51.0"), code=VLLM_CODE, files=VLLM_FILES),
        FakeDist("ray", "2.51.1"),
        FakeDist("transformers", "4.57.1", code=TRANSFORMERS_CODE.format(v="4.57.1")),
        FakeDist("transformers", "4.53.3", code=TRANSFORMERS_CODE.format(v="4.53.3")),
        # a broken build: installs, then fails to import (drives failed-verification tests)
        FakeDist("transformers", "4.58.0", code="raise ImportError('transformers 4.58.0: broken build')",
                 upload_time="2026-03-01T00:00:00Z"),
        FakeDist("datasets", "4.0.0"),
        FakeDist("hydra-core", "1.3.2", module="hydra"),
        FakeDist("accelerate", "1.10.0"),
        FakeDist("peft", "0.17.0"),
        FakeDist("megatron-core", "0.15.0", ("torch",), module="megatron",
                 files={"megatron/core/__init__.py": "__version__ = '0.15.0'\n"}),
        FakeDist("transformer-engine", "2.9.0", ('transformer-engine-torch==2.9.0; extra == "pytorch"',),
                 module="transformer_engine", code=NEEDS_LIBCUDA),
        FakeDist("transformer-engine-torch", "2.9.0", ("torch",), sdist=True, files={
            "pyproject.toml": '[project]\nname = "transformer-engine-torch"\nversion = "2.9.0"\ndependencies = ["torch"]\n'
                              '[build-system]\nrequires = []\nbuild-backend = "te_backend"\nbackend-path = ["."]\n',
            "te_backend.py": TE_BACKEND,
        }),
        FakeDist("skyrl-train", "0.3.1", ("ray==2.51.1", "datasets==4.0.0", "hydra-core==1.3.2", "transformers>=4.51.0",
                                          "skyrl-gym", "flash-attn"),
                 requires_python="==3.12.*", code="", files={k: v for k, v in SKYRL_TRAIN.items() if k != "skyrl_train/__init__.py"}),
        FakeDist("skyrl-gym", "0.1.1"),  # PyPI's 0.1.1 predates skyrl_gym.metrics
        FakeDist("skyrl-gym", "0.2.0", upload_time="2026-03-11T00:00:00Z", files=SKYRL_GYM_METRICS),
        FakeDist("skyrl-gym", "0.4.0", upload_time="2026-07-16T00:00:00Z"),
        FakeDist("tinybuild", "1.0", code=TINYBUILD),
        # for the resolver: a transitive clash, a marker that excludes a requirement, a clash outside its scope
        FakeDist("skyrl-vllm-plugin", "1.0", ("vllm==0.11.0",)),
        FakeDist("win-only-plugin", "1.0", ("vllm==0.11.0; sys_platform == 'win32'",)),
        FakeDist("old-hydra-plugin", "1.0", ("hydra-core==1.0.0",)),
        FakeDist("hydra-core", "1.0.0", module="hydra"),
        FakeDist("nvidia-cutlass-dsl-libs-cu12", "4.3.0", module="_none_cu12"),
        FakeDist("nvidia-cutlass-dsl-libs-cu13", "4.3.0", module="_none_cu13"),
    ]
    pytorch_cu128 = [
        torch("2.7.0+cu128", "cu128", "12.8"),
        torch("2.7.1+cu128", "cu128", "12.8"),
        torch("2.8.0+cu128", "cu128", "12.8"),
        torch("2.9.1+cu128", "cu128", "12.8"),
    ]
    assets = [  # GitHub release assets: served as plain files, not as an index
        *(FakeDist("flash-attn", f"2.8.3+cu12torch{t}cxx11abiTRUE", module="flash_attn", tag="cp312-cp312-linux_x86_64",
                   files=FLASH_ATTN_FILES) for t in ("2.7", "2.8", "2.9")),
        FakeDist("flash-attn", "2.8.1+cu12torch2.8cxx11abiTRUE", module="flash_attn", tag="cp312-cp312-linux_x86_64",
                 files=FLASH_ATTN_FILES),
        FakeDist("vllm", "0.1.dev7509+gcc487699a.d20250821", ("torch==2.7.0", "transformers==4.53.3"),
                 tag="cp312-cp312-linux_x86_64", code=VLLM_CODE, files=VLLM_FILES),
    ]
    return {"pypi": pypi, "pytorch-cu128": pytorch_cu128, "assets": assets}
