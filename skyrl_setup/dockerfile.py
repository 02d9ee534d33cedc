"""A Docker build context that builds exactly what `skyrl-setup install` builds, from a lock.

The context holds the Dockerfile, the lock it installs and skyrl-setup itself as a wheel (made
from the running package, its profiles and lockfiles included), so the image runs the same
tool, profile and lock as this host. The image's install step is an ordinary
`skyrl-setup install --lock ... --venv /opt/skyrl/env`: hash-checked, verified, recorded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from skyrl_setup import __version__
from skyrl_setup.lockfile import Lock
from skyrl_setup.profiles import Profile
from skyrl_setup.resources import data_dir

ROOT = "/opt/skyrl"
VENV = f"{ROOT}/env"
ENTRY_MODULE = "skyrl_train.entrypoints.main_base"  # for a profile that names no SkyRL code path (version matrix §8)
# NVIDIA's CUDA images on Docker Hub: nvidia/cuda:<major>.<minor>.0-<flavour>-ubuntu22.04. The version
# matrix §8 uses 12.8.0-devel-ubuntu22.04; devel carries nvcc (flash-attn, JIT kernels); a lock with
# source builds (transformer-engine-torch) needs cuDNN's headers too: cudnn-devel.
IMAGE = "nvidia/cuda:{cuda}.0-{flavour}-ubuntu22.04"
_EPOCH = (2025, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Choice:
    """How the lock was chosen, for the Dockerfile's header: a route as install takes it here, a flag, a file."""

    how: str
    not_taken: tuple[str, ...] = ()  # a route not taken here, with why (routes.RouteChoice.skipped)
    other: str = ""  # how to choose otherwise


@dataclass(frozen=True)
class Context:
    dockerfile: str
    base_image: str
    cuda: str  # "12.8"
    install_argv: tuple[str, ...]
    doctor_argv: tuple[str, ...] = ()


def lock_cuda(lock: Lock, fallback: str) -> str:
    """The lock's CUDA release: its [tool.skyrl-setup] cuda, else nvidia-cuda-runtime's version, else `fallback`."""
    variant = str(lock.tool.get("cuda") or "")
    if not re.fullmatch(r"cu\d+\d", variant):
        runtime = next((p.version for p in lock.packages if re.fullmatch(r"nvidia-cuda-runtime-cu\d+", p.name)), None)
        if runtime and (m := re.match(r"(\d+)\.(\d+)", runtime)):
            return f"{m.group(1)}.{m.group(2)}"
        variant = fallback
    return f"{variant[2:-1]}.{variant[-1]}"


def install_argv(profile: Profile, lock_name: str, variant: str | None, strict: bool = False) -> tuple[str, ...]:
    """The install command line the image runs (and the tests run against their index)."""
    cuda = ("--cuda", variant) if variant in profile.variants else ()  # a lock of another variant: install takes it as given
    return ("skyrl-setup", "install", "--backend", profile.name, "--lock", f"{ROOT}/{lock_name}", "--venv", VENV,
            "--python", profile.python, *cuda, *(("--strict",) if strict else ()))


def doctor_argv(profile: Profile, strict: bool = False) -> tuple[str, ...]:
    """The image's own doctor at build time (no GPU there). It fails the build where install would: on anything but
    a blocker install builds anyway (an artifact the builder could not fetch, a defect of the SkyRL release), which
    it still reports; `strict`: on any error, as install --strict does."""
    policy = () if strict else ("--fail-on", "environment")
    return ("skyrl-setup", "doctor", "--venv", VENV, "--backend", profile.name, "--no-gpu-probe", *policy)


def _header(choice: Choice, strict: bool) -> str:
    lines = [f"# The lock: {choice.how}."]
    lines += [f"#   not taken here: {line}" for line in choice.not_taken]
    if choice.other:
        lines.append(f"#   {choice.other}")
    if strict:
        lines.append("# The build fails unless the environment is ready for SkyRL training (`dockerfile --strict`).")
    else:
        lines += ["# The build fails where `skyrl-setup install` fails: an `environment` blocker, or any other error the doctor",
                  "# step finds. A blocker install builds anyway (a prebuilt artifact the builder cannot fetch, a defect of the",
                  "# SkyRL release itself) is reported by the doctor step, the verdict NOT ready, and does not fail the build."]
    return "\n".join(lines) + "\n"


def render(profile: Profile, lock: Lock, variant: str, wheel_name: str, choice: Choice | None = None, *,
           strict: bool = False) -> Context:
    cuda = lock_cuda(lock, variant)
    compiled = [p.name for p in lock.from_source if p.name in profile.build_from_source]  # as install's prerequisites
    flavour = "cudnn-devel" if compiled else "devel"
    image = IMAGE.format(cuda=cuda, flavour=flavour)
    argv = install_argv(profile, lock.path.name, f"cu{cuda.replace('.', '')}", strict)
    doctor = doctor_argv(profile, strict)
    py = f"python{profile.python}"
    env = "".join(f"ENV {k}={shlex.quote(v)}\n" for k, v in profile.env.items())
    build_tools = " build-essential ninja-build" if compiled else ""
    text = f"""\
# syntax=docker/dockerfile:1
# Generated by skyrl-setup {__version__}: `skyrl-setup dockerfile --backend {profile.name}`.
# Builds what `skyrl-setup install --backend {profile.name}` builds, from {lock.path.name}
# (sha256 {lock.sha256}), CUDA {cuda} like the lock, into {VENV}.
{_header(choice or Choice(lock.path.name), strict)}FROM {image}

ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Python {profile.python} (Ubuntu 22.04 ships 3.10; deadsnakes' PPA has {profile.python}); libnuma for SGLang's kernels
RUN apt-get update \\
 && apt-get install -y --no-install-recommends software-properties-common ca-certificates curl git libnuma-dev{build_tools} \\
 && add-apt-repository -y ppa:deadsnakes/ppa \\
 && apt-get update \\
 && apt-get install -y --no-install-recommends {py} {py}-venv {py}-dev \\
 && rm -rf /var/lib/apt/lists/*

# skyrl-setup {__version__}, in a venv of its own
COPY {wheel_name} {ROOT}/dist/
RUN {py} -m venv {ROOT}/tool && {ROOT}/tool/bin/pip install {ROOT}/dist/{wheel_name}
ENV PATH={ROOT}/tool/bin:$PATH

# the lock, every file checked against its sha256; imports verified; no GPU needed to build.
# uv's cache is a build cache, kept out of the image (its files are copied into the environment)
COPY {lock.path.name} {ROOT}/
RUN --mount=type=cache,target=/root/.cache/uv {shlex.join(argv)}

# the backend's runtime settings (also set by the environment's own interpreter)
{env}ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:{ROOT}/tool/bin:$PATH
# the image's own doctor (no GPU here): every check and the verdict, with each blocker and its fix, in the build log
RUN {shlex.join(doctor)}

WORKDIR /workspace
ENTRYPOINT {json.dumps([f"{VENV}/bin/python", "-m", (profile.skyrl_entry or (ENTRY_MODULE,))[0]])}
"""
    return Context(text, image, cuda, argv, doctor)


def tool_wheel(out_dir: Path) -> Path:
    """skyrl-setup as a wheel, from the running package: its modules, profiles and lockfiles."""
    pkg = Path(__file__).resolve().parent
    files: dict[str, bytes] = {}
    for p in sorted(pkg.rglob("*")):
        rel = p.relative_to(pkg.parent).as_posix()
        if p.is_file() and "__pycache__" not in rel and not rel.startswith("skyrl_setup/_data/"):
            files[rel] = p.read_bytes()
    data = data_dir()
    for sub in ("profiles", "releases", "lockfiles"):
        for p in sorted((data / sub).rglob("*.toml")):
            files[f"skyrl_setup/_data/{sub}/{p.relative_to(data / sub).as_posix()}"] = p.read_bytes()
    info = f"skyrl_setup-{__version__}.dist-info"
    try:
        requires = [r for r in (metadata.requires("skyrl-setup") or []) if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        requires = []
    meta = ["Metadata-Version: 2.1", "Name: skyrl-setup", f"Version: {__version__}", "Requires-Python: >=3.10,<3.14"]
    files[f"{info}/METADATA"] = ("\n".join(meta + [f"Requires-Dist: {r}" for r in requires]) + "\n\n").encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: skyrl-setup\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = b"[console_scripts]\nskyrl-setup = skyrl_setup.cli:main\n"
    record = []
    for name, blob in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(blob).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(blob)}")
    files[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"skyrl_setup-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in files.items():
            zi = zipfile.ZipInfo(name, _EPOCH)
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, blob)
    return path
