"""System checks: platform, Python 3.12, driver vs CUDA variant, GPUs, libnuma, disk, uv cache."""

from __future__ import annotations

from pathlib import Path

from packaging.version import Version

from skyrl_setup.catalog.cuda_policy import choose_variant, max_cuda_for_driver
from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.detect.gpu import DriverInfo
from skyrl_setup.detect.system import (
    SystemInfo,
    existing_parent,
    free_bytes,
    same_filesystem,
)
from skyrl_setup.doctor import Check
from skyrl_setup.humanize import human_bytes

MIN_GLIBC = "2.28"  # manylinux_2_28: torch's and the CUDA libraries' wheels
DISK_WARN = 30 * 10**9  # the sglang stack is ~11 GB installed, ~5 GB in uv's cache


def check_platform(info: SystemInfo) -> Check:
    details = info.to_json()
    if not info.platform.startswith("linux_"):
        return Check("system.platform", "error", f"{info.platform}: SkyRL's GPU stack needs Linux", "run on a Linux host", details)
    if info.glibc and Version(info.glibc) < Version(MIN_GLIBC):
        return Check("system.platform", "error", f"glibc {info.glibc} is older than {MIN_GLIBC}: torch's wheels will not install",
                     "use a newer distribution (Ubuntu 20.04+, RHEL 9+) or a container image", details)
    return Check("system.platform", "ok", f"{info.platform}, glibc {info.glibc}, {info.cpu_count} CPUs", details=details)


def check_python(found, error) -> Check:
    if found is not None:
        return Check("system.python", "ok", f"Python {found.version} at {found.path} (via {found.source})", details=found.to_json())
    return Check("system.python", "error", error.message if error else "no Python 3.12 found", error.hint if error else "")


def check_driver(driver: DriverInfo, profile: Profile) -> Check:
    details = driver.to_json()
    if driver.version is None:
        return Check("system.driver", "warning", "no NVIDIA driver found (fine for building; training needs one)",
                     "on a GPU node: install the NVIDIA driver >= 570.26 (CUDA 12.8), check `nvidia-smi`", details)
    choice = choose_variant(profile.variants, driver.version)
    top = max_cuda_for_driver(driver.version)
    details["max_cuda"] = str(top) if top else None
    if choice.error:
        return Check("system.driver", "error", choice.error, "upgrade the NVIDIA driver to >= 570.26 for CUDA 12.8", details)
    if choice.warnings:
        return Check("system.driver", "warning", choice.warnings[0], "upgrade the NVIDIA driver to >= 570.26", details)
    return Check("system.driver", "ok",
                 f"driver {driver.version} (supports CUDA {top}) runs {choice.variant} at full support", details=details)


def check_gpus(driver: DriverInfo, profile: Profile) -> list[Check]:
    if not driver.gpus:
        status = "skipped" if driver.version is None else "warning"
        return [Check("system.gpus", status, "no GPU listed by NVML or nvidia-smi",
                      "" if status == "skipped" else "check `nvidia-smi -L` and the container's --gpus flag")]
    out = []
    for g in driver.gpus:
        cc = g.capability[0] + g.capability[1] / 10
        summary = f"GPU {g.index}: {g.name}, {g.memory_bytes / 2**30:.0f} GiB, compute capability {g.capability[0]}.{g.capability[1]}"
        if cc < profile.min_compute_capability:
            out.append(Check(f"system.gpu{g.index}", "error", summary + f" (the {profile.name} profile needs >= {profile.min_compute_capability})",
                             "use a newer GPU for this backend", g.to_json()))
        else:
            out.append(Check(f"system.gpu{g.index}", "ok", summary, details=g.to_json()))
    return out


def check_libnuma(info: SystemInfo) -> Check:
    if info.libnuma:
        return Check("system.libnuma", "ok", "libnuma present")
    return Check("system.libnuma", "warning", "libnuma is missing: SGLang fails with `undefined symbol: numa_parse_nodestring`",
                 "apt-get install libnuma-dev (Debian/Ubuntu) or dnf install numactl-devel")


def check_disk(env_path: Path, cache: Path | None, warn_below: int = DISK_WARN) -> list[Check]:
    out = []
    for label, p in (("environments", env_path), ("uv cache", cache)):
        if p is None:
            continue
        free = free_bytes(p)
        where = existing_parent(p)
        status = "ok" if free >= warn_below else "warning"
        below = "" if status == "ok" else f", below the {human_bytes(warn_below)} doctor asks for"
        out.append(Check(f"system.disk.{label.replace(' ', '_')}", status, f"{human_bytes(free)} free at {where} ({label}){below}",
                         "" if status == "ok" else f"free space at {where}: a SkyRL environment takes ~11 GB, uv's cache ~5 GB more",
                         {"path": str(where), "free_bytes": free, "warn_below_bytes": warn_below}))
    return out


def check_cache_fs(env_path: Path, cache: Path | None) -> Check:
    if cache is None:
        return Check("system.uv_cache", "skipped", "uv's cache directory is unknown")
    if same_filesystem(env_path, cache):
        return Check("system.uv_cache", "ok", f"uv's cache {cache} is on the environments' filesystem (installs link, not copy)")
    return Check("system.uv_cache", "warning",
                 f"uv's cache {cache} is on another filesystem than {existing_parent(env_path)}: every install copies ~11 GB",
                 f"export UV_CACHE_DIR={existing_parent(env_path)}/.uv-cache (same filesystem as the environments)")
