"""A synthetic SkyRL checkout: skyrl-train's layout (pyproject with per-backend extras that
conflict, torch from an explicit PyTorch index, skyrl-gym as an editable path source) and a
uv.lock made by the real uv against the test index, as SkyRL makes its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.skyrl_fake import SKYRL_GYM_METRICS, SKYRL_TRAIN

EXTRAS = {
    "sglang": ["sglang==0.4.8.post1", "flash-attn==2.8.3", "torch==2.7.1", "flashinfer-python"],
    "vllm": ["vllm==0.11.0", "flash-attn==2.8.3", "torch==2.8.0", "flashinfer-python"],
    "mcore": ["transformer-engine[pytorch]==2.9.0", "megatron-core==0.15.0", "megatron-bridge", "vllm==0.11.0",
              "flash-attn==2.8.1", "torch==2.8.0", "flashinfer-python==0.5.2"],
    "flashrl": ["flash-attn==2.8.3", "torch==2.7.0", "flashinfer-python"],
}
ERA = "2026-02-01T00:00:00Z"  # skyrl-train 0.3.1's: the lock predates the releases of 2026


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def write_checkout(root: Path, pytorch_index: str, *, version: str = "0.3.1", extras: dict | None = None,
                   train_files: dict | None = None) -> Path:
    extras = EXTRAS if extras is None else extras
    root.mkdir(parents=True, exist_ok=True)
    names = list(extras)
    conflicts = ", ".join("{ extra = \"%s\" }" % e for e in names)
    (root / "pyproject.toml").write_text(f"""[project]
name = "skyrl-train"
version = "{version}"
requires-python = "==3.12.*"
dependencies = ["ray==2.51.1", "datasets==4.0.0", "hydra-core==1.3.2", "transformers>=4.51.0", "skyrl-gym", "flash-attn"]

[project.optional-dependencies]
""" + "".join(f"{e} = {_toml_list(r)}\n" for e, r in extras.items()) + f"""
[build-system]
requires = ["tinybuild"]
build-backend = "tinybuild"

[tool.uv]
conflicts = [[{conflicts}]]

[tool.uv.sources]
skyrl-gym = {{ path = "./skyrl-gym", editable = true }}
torch = {{ index = "pytorch-cu128" }}

[[tool.uv.index]]
name = "pytorch-cu128"
url = "{pytorch_index}"
explicit = true
""", encoding="utf-8")
    for rel, text in (train_files or SKYRL_TRAIN).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    gym = root / "skyrl-gym"
    (gym / "skyrl_gym").mkdir(parents=True, exist_ok=True)
    (gym / "pyproject.toml").write_text('[project]\nname = "skyrl-gym"\nversion = "0.1.1"\n'
                                        '[build-system]\nrequires = ["tinybuild"]\nbuild-backend = "tinybuild"\n', encoding="utf-8")
    (gym / "skyrl_gym" / "__init__.py").write_text("", encoding="utf-8")
    for rel, text in SKYRL_GYM_METRICS.items():
        (gym / rel).write_text(text, encoding="utf-8")
    return root


def uv_lock(root: Path, env: dict[str, str], python: str) -> None:
    from uv import find_uv_bin

    p = subprocess.run([find_uv_bin(), "lock", "--project", str(root), "--python", python, "--exclude-newer", ERA],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr

