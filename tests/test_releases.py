"""SkyRL's releases as data: the catalog's decisions, tested directly on the committed catalog."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from skyrl_setup.catalog import cuda_policy, profiles, releases
from skyrl_setup.catalog.releases import Defect
from skyrl_setup.cli.parse import parse
from skyrl_setup.commands.requests import DoctorRequest, InstallRequest
from skyrl_setup.errors import PreconditionError, UsageError
from tests.conftest import REPO

SHARED = REPO.parent / "shared"
SKYRL_BACKENDS = ("sglang", "vllm", "flashrl", "megatron")


@pytest.mark.parametrize("backend", SKYRL_BACKENDS)
def test_the_default_is_the_matrix_generations_newest_sound_release(backend):
    # 0.3.1 is newer but cannot start its FSDP worker; skyrl 0.4.0 is newer still but of another generation
    assert releases.resolve(None, backend).id == "skyrl-train-0.3.0"
    assert profiles.load(backend).release.id == "skyrl-train-0.3.0"


def test_a_defect_or_another_generation_is_never_the_silent_default():
    cat = releases.catalog()
    old, new = (r for r in cat if r.id in ("skyrl-train-0.3.0", "skyrl-train-0.3.1"))
    healed = dataclasses.replace(new, defects=())
    assert releases.default_for("vllm", (old, healed)).id == "skyrl-train-0.3.1"
    broken = dataclasses.replace(new, defects=(Defect("x.py:1", "y", ("vllm",)),))
    assert releases.default_for("vllm", (old, broken)).id == "skyrl-train-0.3.0"
    assert releases.default_for("sglang", (old, broken)).id == "skyrl-train-0.3.1"  # the defect is vllm's only
    assert releases.default_for("vllm", (dataclasses.replace(old, matrix_generation=False),)) is None


def test_latest_and_versions_name_releases():
    assert releases.resolve("latest", "vllm").id == "skyrl-0.4.0"
    assert releases.resolve("latest", "sglang").id == "skyrl-train-0.3.1"
    for spec in ("0.4.0", "skyrl==0.4.0", "skyrl-0.4.0"):
        assert releases.resolve(spec, "vllm").id == "skyrl-0.4.0"
    assert releases.resolve("skyrl-train==0.3.1", "vllm").id == "skyrl-train-0.3.1"
    with pytest.raises(UsageError) as e:
        releases.resolve("9.9.9", "vllm")
    assert e.value.code == 2 and "skyrl-train-0.3.0" in e.value.hint


def test_a_backend_the_release_does_not_have_says_why_and_which_do():
    with pytest.raises(UsageError) as e:
        releases.resolve("0.4.0", "sglang")
    assert e.value.code == 2
    assert "#1220" in e.value.message and "2026-02-26" in e.value.message
    assert "the last release with it is skyrl-train 0.3.1" in e.value.message
    assert "skyrl-train 0.3.0, skyrl-train 0.3.1" in e.value.hint


def test_skyrls_own_extra_names_are_backends_where_unambiguous():
    assert releases.backend_for_extra("fsdp") == "vllm"
    assert releases.backend_for_extra("mcore") == "megatron"
    assert profiles.load("fsdp", "0.4.0").name == "vllm"
    assert releases.backend_for_extra("jax") is None


def test_the_profile_takes_its_skyrl_side_from_the_release():
    new = profiles.load("vllm", "latest")
    assert new.follow == ("skyrl", "skyrl_gym") and new.skyrl_extra == "fsdp" and new.variants == ("cu130",)
    assert new.skyrl_entry[0] == "skyrl.train.entrypoints.main_base"
    assert "flashinfer-jit-cache" in new.excludes and new.matrix == profiles.load("vllm").matrix  # the backend's own
    old = profiles.load("vllm")
    assert old.follow == ("skyrl_train", "skyrl_gym") and old.skyrl_extra == "vllm"
    assert profiles.load("megatron", "0.3.0").skyrl_extra == "mcore"
    with pytest.raises(UsageError):
        profiles.load("sglang-matrix", "0.4.0")  # the matrix's own set stands on no SkyRL release


def test_each_release_has_its_committed_lockfiles_and_they_name_it():
    for release in releases.catalog():
        for backend in release.backends:
            p = profiles.load(backend, release)
            locks = profiles.committed_locks(p)
            if releases.needs_checkout(release, backend):  # a checkout's own lock only: none committed
                assert not locks and p.routes == ("skyrl",), f"{release.id} {backend}"
                continue
            assert locks, f"{release.id} {backend}: no committed lockfile"
            for path, tool in ((c.path, c.tool) for c in locks):
                assert tool["skyrl-release"] == release.id, path
                assert tool["skyrl-version"] == release.version, path
                if release.lock_sha256:
                    assert tool["skyrl-lock-sha256"] == release.lock_sha256, path
                if tool.get("platform") not in (None, "any"):
                    assert tool["manylinux"].startswith("2_"), path


@pytest.mark.skipif(not SHARED.is_dir(), reason="SkyRL's release files are not beside this checkout")
def test_a_releases_lock_sha256_is_skyrls_own_lock():
    for release in releases.catalog():
        if release.source == "lock":
            lock = SHARED / f"skyrl-release-{release.version}" / "uv.lock"
            assert hashlib.sha256(lock.read_bytes()).hexdigest() == release.lock_sha256, release.id


def test_a_malformed_release_file_is_one_line(tmp_path):
    bad = tmp_path / "skyrl-9.0.0.toml"
    bad.write_text('distribution = "skyrl"\nversion = "9.0.0"\ndate = "2030-01-01"\nlayout = "flat"\nsource = "pypi"\n')
    with pytest.raises(UsageError) as e:
        releases.load(bad)
    assert "layout" in e.value.message and e.value.code == 2


OLD_DRIVER = "570.124.06"  # NVIDIA's r570: CUDA 12.8, not CUDA 13.0 (r580)


def test_cuda_floors_decide_as_the_variant_judge_does():
    assert cuda_policy.driver_floor("cu130") == "580.65.06" and cuda_policy.driver_floor("cu128") == "525.60.13"
    assert cuda_policy.driver_floor("cpu") is None
    for variant in ("cu126", "cu128", "cu129", "cu130"):
        for driver in ("520.61.05", "525.60.13", OLD_DRIVER, "575.51.03", "580.65.06", "590.10"):
            assert cuda_policy.runs(variant, driver) == (cuda_policy.judge(variant, driver, "").error is None), (variant, driver)


def test_below_r580_latest_is_the_newest_release_the_driver_runs_and_says_why():
    chosen = releases.resolve("latest", "vllm", driver=OLD_DRIVER)
    assert chosen.id == "skyrl-train-0.3.1"
    assert chosen.chosen == ("the newest SkyRL release with vllm that this host runs: skyrl 0.4.0 needs CUDA 13.0, which needs "
                             f"NVIDIA driver 580.65.06 or newer; this host's driver is {OLD_DRIVER}")
    assert chosen.to_json()["chosen"] == chosen.chosen
    for driver in ("580.65.06", None):  # r580 runs it; no driver found: a CPU host building for GPU nodes
        newest = releases.resolve("latest", "vllm", driver=driver)
        assert newest.id == "skyrl-0.4.0" and newest.chosen == "" and newest.to_json()["chosen"] is None
    assert releases.resolve("latest", "sglang", driver=OLD_DRIVER).chosen == ""  # no CUDA 13 release has sglang
    assert releases.resolve(None, "vllm", driver=OLD_DRIVER).id == "skyrl-train-0.3.0"  # the default is unchanged


def test_below_r580_a_release_named_that_needs_cuda_13_is_a_precondition_naming_what_runs():
    with pytest.raises(PreconditionError) as e:
        releases.resolve("0.4.0", "vllm", driver=OLD_DRIVER)
    assert e.value.code == 4
    assert e.value.message == ("skyrl 0.4.0 needs CUDA 13.0, which needs NVIDIA driver 580.65.06 or newer; "
                          f"this host's driver is {OLD_DRIVER}")
    # the newest it runs has a known defect: the newest sound one is named too
    assert e.value.hint == (f"the newest release driver {OLD_DRIVER} runs is skyrl-train 0.3.1 (--skyrl 0.3.1), with a known defect; "
                            "without one: skyrl-train 0.3.0 (--skyrl 0.3.0); or upgrade the NVIDIA driver")
    assert releases.resolve("0.4.0", "vllm", driver="580.65.06").id == "skyrl-0.4.0"
    with pytest.raises(PreconditionError) as e:  # older than every CUDA 12 release: nothing in the catalog runs there
        releases.resolve("latest", "vllm", driver="520.61.05")
    assert "skyrl 0.4.0 needs CUDA 13.0" in e.value.message and "no release of the catalog with vllm runs" in e.value.hint


def test_the_newest_release_a_driver_runs_is_a_pure_choice():
    cat = releases.catalog()
    assert releases.newest_on_driver("vllm", OLD_DRIVER, cat).id == "skyrl-train-0.3.1"
    assert releases.newest_on_driver("vllm", OLD_DRIVER, cat, sound=True).id == "skyrl-train-0.3.0"
    assert releases.newest_on_driver("vllm", "580.65.06", cat).id == "skyrl-0.4.0"
    assert releases.newest_on_driver("vllm", "520.61.05", cat) is None
    old, new = (r for r in cat if r.id in ("skyrl-train-0.3.0", "skyrl-0.4.0"))
    assert releases.driver_gap(old, "vllm", OLD_DRIVER) is None and releases.driver_gap(new, "vllm", None) is None
    assert releases.driver_gap(new, "vllm", OLD_DRIVER).startswith("skyrl 0.4.0 needs CUDA 13.0")
    assert releases.skyrl_flag(new, cat) == "--skyrl 0.4.0"
    twin = dataclasses.replace(new, distribution="other")  # two releases of one version: the flag names the distribution
    assert releases.skyrl_flag(new, (*cat, twin)) == "--skyrl skyrl==0.4.0"


def test_skyrl_reaches_every_node_of_a_cluster():
    """`install --ray` and `doctor --ray` send each node the request less the driver's own flags (requests.for_nodes)."""
    for req in (InstallRequest(skyrl="0.3.0", backends=("vllm",), ray="head:6379", timeout=30.0),
                DoctorRequest(skyrl="latest", ray="auto", no_gpu_probe=True)):
        argv = req.for_nodes()
        assert f"--skyrl={req.skyrl}" in argv and not any(a.startswith(("--ray", "--timeout")) for a in argv)
        assert parse(argv)[0] == dataclasses.replace(req, ray=None, timeout=None)


@pytest.mark.parametrize("loader", [releases.load, lambda p: profiles.load(str(p))])
def test_an_unreadable_or_malformed_data_file_is_one_line(tmp_path, loader):
    bad = tmp_path / "skyrl-9.0.0.toml"
    bad.write_text('distribution = "skyrl\n')
    with pytest.raises(UsageError) as e:
        loader(bad)
    assert e.value.code == 2 and e.value.message.startswith(f"{bad}: not valid TOML") and "\n" not in e.value.message
    with pytest.raises(UsageError) as e:
        loader(tmp_path / "skyrl-9.0.1.toml")
    assert e.value.message.startswith(f"{tmp_path / 'skyrl-9.0.1.toml'}: cannot read")
