"""Issue 14, bug 8: on a GPU host install runs the GPU probes against the new generation before the swap;
a failure is exit 4 with --require-gpu (nothing swapped), else a `gpu` blocker in the verdict.

The GPU host is made of a fake nvidia-smi on PATH (detection sees a real driver) and the fake libcuda
the driver probe loads (tests/support/fake_libcuda.c), whose cuInit answers CUDA_ERROR_NO_DEVICE."""

from __future__ import annotations

import os

import pytest

from tests.conftest import cli, mirror_map

SMI = """#!/bin/sh
echo "0, Fake H100, 81559, 9.0, 580.159.04"
"""


@pytest.fixture(scope="module")
def gpu_host(tmp_path_factory, fake_libcuda):
    root = tmp_path_factory.mktemp("gpu-host")
    (root / "libcuda.so.1").symlink_to(fake_libcuda)
    (root / "bin").mkdir()
    smi = root / "bin" / "nvidia-smi"
    smi.write_text(SMI)
    smi.chmod(0o755)
    return root


def gpu_env(env, index, gpu_host, **fake):
    env = {k: v for k, v in env.items() if k != "SKYRL_SETUP_CUDA_DRIVER"}  # detected, not declared
    return dict(env, PATH=f"{gpu_host / 'bin'}{os.pathsep}{env['PATH']}", LD_LIBRARY_PATH=str(gpu_host),
                SKYRL_SETUP_LIBCUDA=str(gpu_host / "libcuda.so.1"),
                SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True), **fake)


def test_a_failing_probe_with_require_gpu_is_exit_4_and_nothing_swapped(env, index, gpu_host, tmp_path):
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--require-gpu", "--json", env=gpu_env(env, index, gpu_host, FAKE_CUINIT="100"))
    assert r.returncode == 4, r.stderr
    assert "GPU probe failed" in r.error["message"] and "CUDA_ERROR_NO_DEVICE" in r.error["message"], r.error
    assert any(c["status"] == "error" for c in r.error["details"]["gpu_checks"])
    assert not venv.exists() and not os.path.lexists(venv)  # probed before the swap: nothing was made current


def test_a_failing_probe_is_a_blocker_otherwise(env, index, gpu_host, tmp_path):
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--json", env=gpu_env(env, index, gpu_host, FAKE_CUINIT="100"))
    assert r.returncode == 0, r.stderr
    kinds = {b["kind"] for b in r.data["verdict"]["blockers"]}
    assert "gpu" in kinds and r.data["ready"] is False, r.data["verdict"]
    assert any(c["status"] == "error" for c in r.data["gpu_checks"])
    human = cli("install", "--venv", str(tmp_path / "env2"), "--strict", env=gpu_env(env, index, gpu_host, FAKE_CUINIT="100"))
    assert human.returncode == 1 and "NOT ready" in human.stderr and "CUDA_ERROR_NO_DEVICE" in human.stderr, human.stderr
