"""CUDA driver API result codes: what each means for a user, and what to do about it.

Codes from cuda.h (CUresult); causes and fixes are ours, written for the situations a
SkyRL user meets: containers without the driver, hidden devices, old drivers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnosis:
    name: str
    cause: str
    fix: str


_TABLE: dict[int, Diagnosis] = {
    1: Diagnosis("CUDA_ERROR_INVALID_VALUE", "the driver rejected an argument", "report this with `skyrl-setup doctor --json`"),
    2: Diagnosis("CUDA_ERROR_OUT_OF_MEMORY", "the GPU's memory is full", "free the GPU (`nvidia-smi` shows which processes hold it)"),
    3: Diagnosis("CUDA_ERROR_NOT_INITIALIZED", "the driver was not initialised", "report this with `skyrl-setup doctor --json`"),
    34: Diagnosis("CUDA_ERROR_STUB_LIBRARY", "libcuda.so is the CUDA toolkit's stub, not a real driver",
                  "remove the toolkit's stubs directory from LD_LIBRARY_PATH; in containers run with the NVIDIA runtime (--gpus all)"),
    46: Diagnosis("CUDA_ERROR_DEVICE_UNAVAILABLE", "the GPU is busy or in exclusive-process mode, held by another process",
                  "stop the other process, or as root: nvidia-smi -c DEFAULT"),
    100: Diagnosis("CUDA_ERROR_NO_DEVICE", "no CUDA device is visible to this process",
                   "check CUDA_VISIBLE_DEVICES (empty or wrong ids hide every GPU) and, in a container, --gpus all"),
    101: Diagnosis("CUDA_ERROR_INVALID_DEVICE", "a device id does not exist", "check CUDA_VISIBLE_DEVICES against `nvidia-smi -L`"),
    200: Diagnosis("CUDA_ERROR_INVALID_IMAGE", "the kernel image is corrupt", "reinstall the package that ships it"),
    209: Diagnosis("CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image for this GPU's architecture",
                   "install a build that includes this GPU's sm_XY (see the arch-list check)"),
    218: Diagnosis("CUDA_ERROR_INVALID_PTX", "the PTX targets a newer GPU architecture than this device",
                   "use a build compiled for this GPU's architecture"),
    221: Diagnosis("CUDA_ERROR_JIT_COMPILER_NOT_FOUND", "the driver's PTX JIT compiler (libnvidia-ptxjitcompiler) is missing",
                  "install the full NVIDIA driver (containers: mount the driver's compute libraries)"),
    222: Diagnosis("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the PTX is newer than this driver can compile",
                   "upgrade the NVIDIA driver, or install a build for an older CUDA (a lower --cuda variant)"),
    223: Diagnosis("CUDA_ERROR_JIT_COMPILATION_DISABLED", "PTX JIT compilation is disabled (CUDA_DISABLE_PTX_JIT?)",
                   "unset CUDA_DISABLE_PTX_JIT"),
    700: Diagnosis("CUDA_ERROR_ILLEGAL_ADDRESS", "a kernel accessed memory it does not own", "report this with `skyrl-setup doctor --json`"),
    719: Diagnosis("CUDA_ERROR_LAUNCH_FAILED", "a kernel failed while running (hardware or driver fault)",
                   "check `nvidia-smi -q` for Xid errors; reset or drain the node"),
    802: Diagnosis("CUDA_ERROR_SYSTEM_NOT_READY", "the system is not ready (fabric manager not running on NVSwitch systems?)",
                   "start nvidia-fabricmanager (systemctl start nvidia-fabricmanager)"),
    803: Diagnosis("CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "the user-space driver library and the kernel module differ in version",
                   "reboot after a driver upgrade, or reinstall the driver so both match"),
    804: Diagnosis("CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", "forward-compatibility libraries are not supported on this GPU",
                   "remove the cuda-compat package from LD_LIBRARY_PATH, or upgrade the driver"),
    999: Diagnosis("CUDA_ERROR_UNKNOWN", "the driver reported an unknown error", "check `dmesg` and `nvidia-smi`; a reboot may be needed"),
}


def diagnose(code: int | None, name: str | None = None) -> Diagnosis:
    if code is None:
        return Diagnosis(name or "no code", "the probe failed before calling the driver", "see the details")
    if code in _TABLE:
        return _TABLE[code]
    return Diagnosis(name or f"CUresult {code}", f"the driver returned error {code}", "see NVIDIA's cuda.h for this code")


def known_codes() -> list[int]:
    return sorted(_TABLE)
