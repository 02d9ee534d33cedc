"""What a source build needs, checked before it starts: all missing pieces in one report.

transformer-engine-torch (megatron) is published as an sdist only: it compiles CUDA code
against the installed torch, which takes nvcc of torch's CUDA major, cuDNN and NCCL
headers, a C++ compiler, ninja, and memory for every parallel compile job.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from skyrl_setup.proc import die_with_parent

GIB = 2**30
MEM_PER_JOB = 4 * GIB  # nvcc on transformer-engine's kernels peaks near this per job
HEADER_DIRS = ("/usr/include", "/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu", "/usr/local/include")


@dataclass(frozen=True)
class Prereq:
    name: str
    ok: bool
    found: str
    fix: str = ""
    blocking: bool = True

    def to_json(self) -> dict:
        return {"name": self.name, "ok": self.ok, "found": self.found, "fix": self.fix, "blocking": self.blocking}


def _nvcc() -> tuple[str | None, str | None]:
    cands = [shutil.which("nvcc")] + [str(Path(os.environ[v]) / "bin" / "nvcc") for v in ("CUDA_HOME", "CUDA_PATH") if os.environ.get(v)]
    cands.append("/usr/local/cuda/bin/nvcc")
    for c in cands:
        if c and Path(c).is_file():
            try:
                out = subprocess.run([c, "--version"], capture_output=True, text=True, timeout=20, preexec_fn=die_with_parent).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            m = re.search(r"release (\d+)\.(\d+)", out)
            return c, (f"{m.group(1)}.{m.group(2)}" if m else None)
    return None, None


def _header(name: str, env_vars: tuple[str, ...]) -> str | None:
    dirs = [Path(os.environ[v]) / "include" for v in env_vars if os.environ.get(v)]
    dirs += [Path(os.environ["CUDA_HOME"]) / "include"] if os.environ.get("CUDA_HOME") else []
    dirs += [Path(d) for d in HEADER_DIRS]
    for d in dirs:
        if (d / name).is_file():
            return str(d / name)
    return None


def _mem_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check(packages: tuple[str, ...], torch_cuda: str, lock_names: frozenset = frozenset()) -> list[Prereq]:
    """Prerequisites for building `packages` from source against a torch built for `torch_cuda` ("12.8")."""
    if not packages:
        return []
    out = []
    path, version = _nvcc()
    want_major = torch_cuda.split(".")[0]
    if path is None:
        out.append(Prereq("nvcc", False, "not found", f"install the CUDA {torch_cuda} toolkit (cuda-toolkit-{torch_cuda.replace('.', '-')}) "
                                                      "and put its bin/ on PATH or set CUDA_HOME"))
    elif version is None or version.split(".")[0] != want_major:
        out.append(Prereq("nvcc", False, f"{path} (CUDA {version})", f"torch is built for CUDA {torch_cuda}: use nvcc {want_major}.x (set CUDA_HOME)"))
    else:
        out.append(Prereq("nvcc", True, f"{path} (CUDA {version})"))
    for label, header, env_vars, wheel in (("cuDNN headers", "cudnn.h", ("CUDNN_PATH", "CUDNN_HOME"), f"nvidia-cudnn-cu{want_major}"),
                                           ("NCCL headers", "nccl.h", ("NCCL_HOME", "NCCL_PATH"), f"nvidia-nccl-cu{want_major}")):
        found = _header(header, env_vars)
        if found:
            out.append(Prereq(label, True, found))
        elif wheel in lock_names:
            out.append(Prereq(label, True, f"from the {wheel} wheel in the lock"))
        else:
            out.append(Prereq(label, False, "not found", f"install {wheel} or the system package, and set {env_vars[0]}"))
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    out.append(Prereq("C++ compiler", bool(cxx), cxx or "not found", "" if cxx else "apt-get install build-essential (or set CXX)"))
    ninja = shutil.which("ninja")
    if ninja or "ninja" in lock_names:
        out.append(Prereq("ninja", True, ninja or "from the ninja wheel in the lock"))
    else:
        out.append(Prereq("ninja", False, "not found", "pip install ninja, or apt-get install ninja-build"))
    jobs = int(os.environ.get("MAX_JOBS") or os.cpu_count() or 1)
    mem = _mem_available()
    if mem is not None and mem < jobs * MEM_PER_JOB:
        safe = max(1, mem // MEM_PER_JOB)
        out.append(Prereq("memory for parallel compiles", False, f"{mem / GIB:.0f} GiB available for {jobs} jobs",
                          f"export MAX_JOBS={safe} (about 4 GiB per nvcc job)", blocking=False))
    elif mem is not None:
        out.append(Prereq("memory for parallel compiles", True, f"{mem / GIB:.0f} GiB available for {jobs} jobs"))
    return out
