"""What an environment is built for: one Target shared by the planner, the resolver's pre-check and uv."""

from __future__ import annotations

import re
from dataclasses import dataclass

from skyrl_setup.detect import system

# The manylinux glibc levels uv's --python-platform names (x86_64-manylinux_2_17, ..._2_28, ..._2_31 to _2_40).
_UV_MANYLINUX = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)
# Committed locks are made for this level (locks.compile.uv_platform): the portable choice where glibc is unknown.
_PORTABLE = 28


@dataclass(frozen=True)
class Target:
    python: str  # full version, "3.12.1"
    platform: str  # "linux_x86_64", "linux_aarch64"
    glibc: str | None  # "2.36" as detected; None where unknown
    cuda: str  # "cu128", "cpu"

    def __post_init__(self):
        if not re.fullmatch(r"\d+\.\d+\.\d+", self.python):
            raise ValueError(f"Target.python must be a full version like 3.12.1, not {self.python!r}")
        if "_" not in self.platform:
            raise ValueError(f"Target.platform must be a tag like linux_x86_64, not {self.platform!r}")

    @classmethod
    def for_host(cls, python_version: str, cuda: str) -> Target:
        return cls(python_version, system.platform_tag(), system.glibc_version(), cuda)

    @property
    def minor(self) -> str:
        return ".".join(self.python.split(".")[:2])

    @property
    def machine(self) -> str:
        return self.platform.partition("_")[2]

    def uv_platform(self) -> str:
        """uv's --python-platform for this target: the highest manylinux level uv knows that glibc meets."""
        system, machine = self.platform.partition("_")[0], self.machine
        if system == "darwin":
            return f"{machine}-apple-darwin"
        if system != "linux":
            raise ValueError(f"no uv --python-platform for {self.platform}")
        level = _glibc_minor(self.glibc)
        if level is None:
            return f"{machine}-manylinux_2_{_PORTABLE}"
        if level < _UV_MANYLINUX[0]:
            raise ValueError(f"glibc {self.glibc} is older than any manylinux level (2.17)")
        return f"{machine}-manylinux_2_{max(v for v in _UV_MANYLINUX if v <= level)}"

    def uv_args(self) -> list[str]:
        return ["--python-version", self.python, "--python-platform", self.uv_platform()]

    def to_json(self) -> dict:
        return {"python": self.python, "platform": self.platform, "glibc": self.glibc, "cuda": self.cuda}


def _glibc_minor(glibc: str | None) -> int | None:
    m = re.fullmatch(r"2\.(\d+)(\.\d+)?", glibc or "")
    return int(m.group(1)) if m else None
