"""The committed lockfiles: one naming scheme and one way to find them, for every reader and writer.

A `LockRef` says which lock a file is (backend, route, CUDA variant, platform) and where it lives; its name is the
only place the file name is spelled. Two kinds share the scheme:
- a version-matrix lock (no route), resolved from the profile's pins: pylock.<backend>-<variant>-<platform>.toml;
- a lock made from SkyRL's own lock by a route: pylock.<backend>-<route>-<variant>[-<platform>].toml, without a
  platform where the route's lock holds every platform's files (SkyRL's lock exactly).
PEP 751 allows no dot inside the name: a platform's dots become underscores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyrl_setup._toml import toml_reader

ANY_PLATFORM = "any"  # the [tool.skyrl-setup] platform of a lock that holds every platform's files


@dataclass(frozen=True)
class LockRef:
    folder: Path
    backend: str
    variant: str
    platform: str | None  # None: any platform
    route: str | None = None  # None: a version-matrix lock

    @property
    def name(self) -> str:
        parts = [self.backend, *([self.route] if self.route else []), self.variant,
                 *([self.platform.replace(".", "_")] if self.platform and self.platform != ANY_PLATFORM else [])]
        return f"pylock.{'-'.join(parts)}.toml"

    @property
    def path(self) -> Path:
        return self.folder / self.name


@dataclass(frozen=True)
class Committed:
    """A route's committed lockfile as found on disk, with its [tool.skyrl-setup] table (read without the rest)."""
    route: str
    path: Path
    tool: dict[str, Any]


def matrix_lock(folder: Path, backend: str, variant: str, platform: str) -> LockRef:
    return LockRef(folder, backend, variant, platform)


def route_locks(folder: Path, backend: str, routes: Iterable[str], platform: str | None = None) -> list[Committed]:
    """The committed locks of a SkyRL-sourced backend in `folder`, in route order; with `platform`, only those made
    for it or for any platform."""
    out = []
    for route in routes:
        for path in sorted(folder.glob(f"pylock.{backend}-{route}-*.toml")):
            tool = read_tool_table(path)
            if platform is None or tool.get("platform") in (ANY_PLATFORM, platform):
                out.append(Committed(route, path, tool))
    return out


def read_tool_table(path: Path) -> dict:
    """A lock's [tool.skyrl-setup] table without parsing the whole lock (it is written last)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    at = text.rfind("\n[tool.skyrl-setup]\n")
    if at < 0:
        return {}
    try:
        return toml_reader.loads(text[at:]).get("tool", {}).get("skyrl-setup", {})
    except toml_reader.TOMLDecodeError:
        return {}
