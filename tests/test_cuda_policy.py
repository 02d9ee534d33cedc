"""Driver -> CUDA variant choice, generated from NVIDIA's tables, and through the CLI override."""

from __future__ import annotations

import pytest
from packaging.version import Version

from skyrl_setup.catalog.cuda_policy import (
    MINOR_COMPAT_FLOOR,
    RELEASE_DRIVER_FLOOR,
    CudaVersion,
    choose_variant,
    max_cuda_for_driver,
)
from tests.conftest import cli


@pytest.mark.parametrize("cuda,floor", sorted(RELEASE_DRIVER_FLOOR.items()))
def test_release_floor_is_exact(cuda, floor):
    assert max_cuda_for_driver(floor) >= cuda
    below = Version(floor)
    older = f"{below.major}.{max(below.minor - 1, 0)}" if below.minor else f"{below.major - 1}.99"
    assert (max_cuda_for_driver(older) or CudaVersion(0, 0)) < cuda


@pytest.mark.parametrize("driver,expect,warn,error", [
    ("580.159.04", "cu128", False, False),   # the device machine's driver
    ("570.26", "cu128", False, False),       # exactly 12.8's release floor
    ("570.124.06", "cu128", False, False),
    ("560.35.03", "cu128", True, False),     # below the floor: minor-version compatibility, with a warning
    ("525.60.13", "cu128", True, False),     # the 12.x compatibility floor itself
    ("525.60.12", "cu128", False, True),     # too old for any 12.x
    ("470.82.01", "cu128", False, True),
])
def test_choose_for_cu128_profile(driver, expect, warn, error):
    c = choose_variant(("cu128",), driver)
    assert c.variant == expect
    assert bool(c.warnings) == warn
    assert bool(c.error) == error
    if warn:
        assert "570.26" in c.warnings[0]  # the warning names the floor


def test_prefers_profile_order_not_newest():
    # uv's --torch-backend auto would take cu130 on a 580 driver; the profile says cu128 first
    assert choose_variant(("cu128", "cu130"), "580.159.04").variant == "cu128"
    assert choose_variant(("cu130", "cu128"), "575.51.03").variant == "cu128"


def test_no_driver_defaults_with_warning():
    c = choose_variant(("cu128",), None)
    assert c.variant == "cu128" and c.warnings and not c.error


def test_explicit_variant_outside_profile_is_error():
    assert choose_variant(("cu128",), "580.0", "cu126").error


def test_driver_api_integer():
    assert str(CudaVersion.from_driver_api(13000)) == "13.0"
    assert CudaVersion.from_driver_api(12080).variant == "cu128"
    assert set(MINOR_COMPAT_FLOOR) == {11, 12, 13}


@pytest.mark.parametrize("driver,code", [("450.80.02", 4), ("560.35.03", 0), ("580.159.04", 0)])
def test_cli_driver_override(env, tmp_path, driver, code):
    env = dict(env, SKYRL_SETUP_CUDA_DRIVER=driver)
    r = cli("install", "--venv", str(tmp_path / "e"), "--dry-run", "--json", env=env)
    assert r.returncode == code, r.stderr
    if code == 4:
        assert "too old" in r.stderr and r.json["exit_code"] == 4 and "too old" in r.error["message"]
    else:
        assert r.data["plan"]["cuda"]["driver"] == driver


def test_require_gpu_without_gpu_is_exit_4(env, tmp_path):
    r = cli("install", "--venv", str(tmp_path / "e"), "--require-gpu", env=env)
    assert r.returncode == 4 and "--require-gpu" in r.stderr
