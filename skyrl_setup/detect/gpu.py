"""NVIDIA driver and GPUs, without torch: sysfs/procfs, NVML by ctypes, then nvidia-smi.

SKYRL_SETUP_CUDA_DRIVER overrides the driver version ("none" means no driver), and
SKYRL_SETUP_GPUS describes GPUs ("NAME:MEM_GIB:CC;..."), for building images on GPU-less
hosts and for tests. NVML's driver answer does not depend on CUDA_VISIBLE_DEVICES.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from skyrl_setup import settings
from skyrl_setup.errors import UsageError
from skyrl_setup.proc import die_with_parent

_VERSION_RE = re.compile(r"\b(\d{3,}\.\d+(?:\.\d+)?)\b")


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_bytes: int
    capability: tuple[int, int]

    def to_json(self) -> dict:
        return {"index": self.index, "name": self.name, "memory_gib": round(self.memory_bytes / 2**30, 1),
                "compute_capability": f"{self.capability[0]}.{self.capability[1]}"}


@dataclass(frozen=True)
class DriverInfo:
    version: str | None  # "580.159.04", or None where no driver was found
    source: str  # override / sysfs / procfs / nvml / nvidia-smi / none
    cuda: str | None = None  # the newest CUDA the driver supports, "13.0"
    gpus: tuple[Gpu, ...] = field(default=())

    @property
    def usable(self) -> bool:
        """A driver this process can load: found on the host, not declared by an override."""
        return self.version is not None and self.source != "override"

    def to_json(self) -> dict:
        return {"version": self.version, "source": self.source, "cuda": self.cuda, "gpus": [g.to_json() for g in self.gpus]}


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _parse_gpus_override(text: str) -> tuple[Gpu, ...]:
    gpus = []
    for i, item in enumerate(x for x in text.split(";") if x.strip()):
        try:
            name, mem, cc = item.rsplit(":", 2)
            major, minor = cc.split(".")
            gpus.append(Gpu(i, name.strip(), int(float(mem) * 2**30), (int(major), int(minor))))
        except ValueError:
            raise UsageError(f"SKYRL_SETUP_GPUS: {item!r} is not NAME:MEMORY_GIB:CC",
                             "write it like 'NVIDIA H100 80GB HBM3:80:9.0', several separated by ';'") from None
    return tuple(gpus)


def _check_version(text: str) -> str:
    if not re.fullmatch(r"\d{3,}\.\d+(\.\d+)?", text):
        raise UsageError(f"SKYRL_SETUP_CUDA_DRIVER={text!r} is not a driver version", "write it like 570.124.06, or 'none' for no driver")
    return text


def _nvml() -> DriverInfo | None:
    try:
        lib = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return None
    try:
        if lib.nvmlInit_v2() != 0:
            return None
        buf = ctypes.create_string_buffer(96)
        if lib.nvmlSystemGetDriverVersion(buf, 96) != 0:
            return None
        version = buf.value.decode()
        cuda = ctypes.c_int()
        cuda_str = None
        if lib.nvmlSystemGetCudaDriverVersion_v2(ctypes.byref(cuda)) == 0:
            cuda_str = f"{cuda.value // 1000}.{(cuda.value % 1000) // 10}"
        count = ctypes.c_uint()
        gpus = []
        if lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) == 0:
            for i in range(count.value):
                handle = ctypes.c_void_p()
                if lib.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(handle)) != 0:
                    continue
                name = ctypes.create_string_buffer(96)
                lib.nvmlDeviceGetName(handle, name, 96)
                mem = (ctypes.c_ulonglong * 3)()  # nvmlMemory_t: total, free, used
                lib.nvmlDeviceGetMemoryInfo(handle, mem)
                major, minor = ctypes.c_int(), ctypes.c_int()
                lib.nvmlDeviceGetCudaComputeCapability(handle, ctypes.byref(major), ctypes.byref(minor))
                gpus.append(Gpu(i, name.value.decode(errors="replace"), int(mem[0]), (major.value, minor.value)))
        return DriverInfo(version, "nvml", cuda_str, tuple(gpus))
    except (AttributeError, OSError):
        return None
    finally:
        try:
            lib.nvmlShutdown()
        except (AttributeError, OSError):
            pass


def _nvidia_smi() -> DriverInfo | None:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index,name,memory.total,compute_cap,driver_version", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True, preexec_fn=die_with_parent,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    gpus, version = [], None
    for line in out.strip().splitlines():
        idx, name, mem, cc, version = (x.strip() for x in line.split(","))
        major, minor = cc.split(".")
        gpus.append(Gpu(int(idx), name, int(float(mem)) * 2**20, (int(major), int(minor))))
    return DriverInfo(version, "nvidia-smi", None, tuple(gpus)) if version else None


def detect_driver() -> DriverInfo:
    chosen = settings.current()
    override, gpus_override = chosen.cuda_driver, chosen.gpus
    if override is not None:
        if override.strip().lower() in ("", "none"):
            return DriverInfo(None, "override")
        gpus = _parse_gpus_override(gpus_override) if gpus_override else ()
        return DriverInfo(_check_version(override.strip()), "override", None, gpus)

    info = _detected()
    if gpus_override:  # GPUs described alone: this host's own driver with them (an image built for other cards)
        return DriverInfo(info.version, f"{info.source}, GPUs from SKYRL_SETUP_GPUS", info.cuda, _parse_gpus_override(gpus_override))
    return info


def _detected() -> DriverInfo:
    info = _nvml() or _nvidia_smi()
    if info:
        return info
    for path, source in (("/sys/module/nvidia/version", "sysfs"), ("/proc/driver/nvidia/version", "procfs")):
        text = _read(path)
        if text and (m := _VERSION_RE.search(text)):
            return DriverInfo(m.group(1), source)
    return DriverInfo(None, "none")
