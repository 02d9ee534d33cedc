"""Describe an environment from inside it: Python, prefix, site-packages, distributions.

Standard library only (importlib.metadata reads the metadata files; nothing heavy is
imported), so it works in any interpreter: a venv made by skyrl-setup, a conda env, a
Docker image's system Python. Answers one JSON document (_skyrl_channel.py).
"""

import os
import sys

from _skyrl_channel import emit  # a sibling file: this script's folder is on sys.path


def torch_cuda(metadata):
    """torch.version.cuda without importing torch: read torch/version.py's text."""
    import re

    try:
        text = metadata.distribution("torch").locate_file("torch/version.py").read_text()
    except Exception:  # noqa: BLE001 - no torch, or an odd layout
        return None
    m = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([\d.]+)['\"]", text, re.M)
    return m.group(1) if m else None


def main():
    from importlib import metadata

    dists = {}
    for d in metadata.distributions():
        name = d.metadata.get("Name")
        if not name or name in dists:
            continue
        dists[name] = {"version": d.version, "requires": d.requires or []}
    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "prefix": sys.prefix,
        "is_venv": sys.prefix != sys.base_prefix,
        "distributions": dists,
        "torch_cuda": torch_cuda(metadata),
        "env": {k: os.environ[k] for k in sorted(os.environ) if k.startswith(("NCCL_", "CUDA_", "NVTE_", "VLLM_", "SGLANG_"))},
    }


if __name__ == "__main__":
    emit(main())
