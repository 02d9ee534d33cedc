"""Host facts: platform tag, glibc, libnuma, disk space, filesystems."""

from __future__ import annotations

import ctypes.util
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


def platform_tag() -> str:
    """linux_x86_64, linux_aarch64, ... as used in lockfile names."""
    return f"{sys.platform}_{platform.machine().lower()}".replace("amd64", "x86_64").replace("arm64", "aarch64")


def glibc_version() -> str | None:
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")
        if value is None:
            return None
        return value.split()[-1]
    except (ValueError, OSError, AttributeError, IndexError):
        return None


def has_libnuma() -> bool:
    return ctypes.util.find_library("numa") is not None


def existing_parent(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(existing_parent(path)).free


def same_filesystem(a: Path, b: Path) -> bool:
    return existing_parent(a).stat().st_dev == existing_parent(b).stat().st_dev


@dataclass(frozen=True)
class SystemInfo:
    platform: str
    glibc: str | None
    libnuma: bool
    cpu_count: int

    def to_json(self) -> dict:
        return {"platform": self.platform, "glibc": self.glibc, "libnuma": self.libnuma, "cpus": self.cpu_count}


def detect_system() -> SystemInfo:
    return SystemInfo(platform_tag(), glibc_version(), has_libnuma(), os.cpu_count() or 1)
