"""Every SKYRL_SETUP_* environment variable, read once into one frozen value.

The CLI fixes it at the edge (`fix(load())` before a command runs), so a command sees one consistent set
even if something changes the environment meanwhile; library callers and in-process tests that never fix
it get the environment as it is now. A misspelt variable is reported, not silently ignored: it is the
usual reason a setting "does nothing". uv's own variables (UV_*) are uv's: this module does not read them.
The stdlib-only probe scripts read the few meant for them (SKYRL_SETUP_LIBCUDA, SKYRL_SETUP_PROBE_PTX,
SKYRL_SETUP_FAILPOINT) themselves, in the child: they cannot import this package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from skyrl_setup.errors import UsageError

PREFIX = "SKYRL_SETUP_"

# name -> (field, what it does). The README's table is checked against this (tests/test_settings.py).
VARIABLES: dict[str, tuple[str, str]] = {
    "SKYRL_SETUP_HOME": ("home", "where environments go when --venv is not given (default: the per-user data folder)"),
    "SKYRL_SETUP_DATA_DIR": ("data_dir", "the folder of profiles, releases and committed lockfiles (forks, tests)"),
    "SKYRL_SETUP_CONFIG_DIR": ("config_dir", "where mirrors.toml is read (default: the per-user config folder)"),
    "SKYRL_SETUP_CACHE_DIR": ("cache_dir", "the tool's caches: package metadata (check-compat, --with), parsed lockfiles, "
                                           "what interpreters and uv said of themselves"),
    "SKYRL_SETUP_LOG_DIR": ("log_dir", "where uv's logs are kept (default: the per-user log folder)"),
    "SKYRL_SETUP_INDEX_TTL": ("index_ttl", "seconds an index page stays cached (default 3600)"),
    "SKYRL_SETUP_MIRRORS": ("mirrors", "FROM=TO URL rewrites, separated by ',' or ';' (as --mirror)"),
    "SKYRL_SETUP_CUDA": ("cuda", "the CUDA variant when --cuda is not given (auto, cu126, cu128, cu130)"),
    "SKYRL_SETUP_CUDA_DRIVER": ("cuda_driver", "pretend this NVIDIA driver version ('none': no driver); image builds, tests"),
    "SKYRL_SETUP_GPUS": ("gpus", "pretend these GPUs, 'NAME:MEM_GIB:CC;…'; image builds, tests"),
    "SKYRL_SETUP_DISK_MARGIN": ("disk_margin", "bytes kept free beyond what an install needs (default 64 MiB)"),
    "SKYRL_SETUP_UV": ("uv", "the uv binary to use instead of the one installed with skyrl-setup"),
    "SKYRL_SETUP_RAY_NODE_IP": ("ray_node_ip", "this node's address when joining a Ray cluster (--ray)"),
    "SKYRL_SETUP_PROBE_PTX": ("probe_ptx", "the PTX version of doctor's kernel probe (tests of old drivers)"),
    "SKYRL_SETUP_LIBCUDA": ("libcuda", "the libcuda the kernel probe loads (tests of stub libraries)"),
    "SKYRL_SETUP_FAILPOINT": ("failpoint", "NAME:ACTION, stop at a named stage (reliability tests only)"),
}
# Set by skyrl-setup for its own children, never by a user.
INTERNAL = frozenset({"SKYRL_SETUP_PROBE_OUT"})


@dataclass(frozen=True)
class Settings:
    home: Path | None = None
    data_dir: Path | None = None
    config_dir: Path | None = None
    cache_dir: Path | None = None
    log_dir: Path | None = None
    index_ttl: float = 3600.0
    mirrors: str = ""
    cuda: str | None = None
    cuda_driver: str | None = None
    gpus: str | None = None
    disk_margin: int = 64 * 2**20
    uv: str | None = None
    ray_node_ip: str | None = None
    probe_ptx: str | None = None
    libcuda: str | None = None
    failpoint: str | None = None
    unknown: tuple[str, ...] = ()  # SKYRL_SETUP_* names that are not settings: most likely misspelt

    def warnings(self) -> list[str]:
        return [f"{name} is not a setting of skyrl-setup; ignored (README: Settings)" for name in self.unknown]


def load(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values: dict = {}
    for name, (field, _) in VARIABLES.items():
        raw = env.get(name, "")
        if raw.strip() == "" and field != "cuda_driver":
            continue  # an empty variable means unset, as in uv and pip (SKYRL_SETUP_CUDA_DRIVER= means "no driver")
        if name not in env:
            continue
        values[field] = _convert(name, field, raw)
    unknown = tuple(sorted(k for k in env if k.startswith(PREFIX) and k not in VARIABLES and k not in INTERNAL))
    return Settings(**values, unknown=unknown)


def _convert(name: str, field: str, raw: str):
    if field in ("home", "data_dir", "config_dir", "cache_dir", "log_dir"):
        return Path(raw)
    if field == "disk_margin":
        if raw.strip().isdigit():
            return int(raw.strip())
        raise UsageError(f"{name}={raw!r} is not a number of bytes", f"write it like {name}=1073741824, or unset it")
    if field == "index_ttl":
        try:
            ttl = float(raw)
        except ValueError:
            ttl = -1.0
        if ttl < 0 or ttl != ttl:
            raise UsageError(f"{name}={raw!r} is not a number of seconds", f"write it like {name}=600, or unset it")
        return ttl
    return raw.strip() if field != "mirrors" else raw


_fixed: Settings | None = None


def fix(settings: Settings) -> Settings:
    """The edge's reading, kept for the rest of this process."""
    global _fixed
    _fixed = settings
    return settings


def current() -> Settings:
    return _fixed if _fixed is not None else load()
