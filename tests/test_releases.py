"""SkyRL's releases as data: the catalog's decisions, tested directly on the committed catalog."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from skyrl_setup import profiles, releases
from skyrl_setup.errors import UsageError
from skyrl_setup.releases import Defect
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
            assert locks, f"{release.id} {backend}: no committed lockfile"
            for _, path, tool in locks:
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
