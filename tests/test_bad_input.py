"""Bad input: exit 2 (or 4 for a missing precondition) with one error line and a hint, no traceback."""

from __future__ import annotations

import shutil
import sys

import pytest

from skyrl_setup.catalog import profiles
from skyrl_setup.errors import UsageError
from tests.conftest import cli


def assert_one_line(r, code):
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1
    assert any(ln.startswith("hint:") for ln in r.stderr.splitlines())


def test_unknown_backend(env):
    assert_one_line(cli("install", "--backend", "tensorrt", env=env), 2)


def test_unknown_option(env):
    assert_one_line(cli("install", "--frobnicate", env=env), 2)


def test_unreadable_lockfile(env, tmp_path):
    lock = tmp_path / "pylock.x.toml"
    lock.write_text("lock-version = [broken")
    assert_one_line(cli("install", "--venv", str(tmp_path / "e"), "--lock", str(lock), "--dry-run", env=env), 2)
    assert_one_line(cli("install", "--venv", str(tmp_path / "e"), "--lock", str(tmp_path / "missing.toml"), env=env), 2)


def test_lockfile_against_pep_751_is_refused_naming_the_entry(env, tmp_path):
    """A lock whose wheel is another project's file would install the wrong thing: refused when read (packaging.pylock)."""
    lock = tmp_path / "pylock.x.toml"
    lock.write_text('lock-version = "1.0"\ncreated-by = "hand"\n\n[[packages]]\nname = "six"\nversion = "1.17.0"\n'
                    'wheels = [{ url = "https://example.invalid/numpy-2.0.0-py3-none-any.whl", hashes = { sha256 = "00" } }]\n')
    r = cli("install", "--venv", str(tmp_path / "e"), "--lock", str(lock), "--dry-run", env=env)
    assert_one_line(r, 2)
    assert str(lock) in r.stderr and "'packages[0].wheels[0]'" in r.stderr and "six" in r.stderr


def test_bad_python_path(env, tmp_path):
    assert_one_line(cli("install", "--venv", str(tmp_path / "e"), "--python", str(tmp_path / "nope"), env=env), 2)


def _not_312() -> str | None:
    """An interpreter of another minor version than the profiles' 3.12: the runner's own, else one on this machine."""
    import subprocess

    found = [sys.executable, *(shutil.which(n) for n in ("python3", "python3.11", "python3.13", "python3.10"))]
    for exe in filter(None, found):
        out = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip() == "False":
            return exe
    return None


def test_wrong_python_version_is_precondition(env, tmp_path):
    other = _not_312()
    if other is None:
        pytest.skip("every Python on this machine is 3.12: no wrong-version interpreter at hand")
    assert_one_line(cli("install", "--venv", str(tmp_path / "e"), "--python", other, env=env), 4)


def test_malformed_profile(env, tmp_path, data_dir):
    d = tmp_path / "data"
    shutil.copytree(data_dir, d)
    p = d / "profiles" / "sglang-matrix.toml"
    p.write_text(p.read_text().replace('torch = "==2.9.1"', 'torch = "==2.9.1x!"'))
    r = cli("install", "--backend", "sglang-matrix", "--dry-run", env=dict(env, SKYRL_SETUP_DATA_DIR=str(d)))
    assert_one_line(r, 2)
    assert "sglang-matrix.toml" in r.stderr and "packages.torch" in r.stderr
    # a profile built from SkyRL's lock never repeats its pins by hand
    p = d / "profiles" / "sglang.toml"
    p.write_text(p.read_text() + '\n[packages]\ntorch = "==2.9.1"\n')
    r = cli("install", "--dry-run", env=dict(env, SKYRL_SETUP_DATA_DIR=str(d)))
    assert_one_line(r, 2)
    assert "takes its pins from the lock" in r.stderr


@pytest.mark.parametrize("mutate,key", [
    (lambda s: s.replace('python = "3.12"', 'python = "three"'), "python"),
    (lambda s: s.replace('variants = ["cu128"]', 'variants = ["cuda12"]'), "cuda.variants"),
    (lambda s: s.replace('NCCL_CUMEM_ENABLE = "0"', 'NCCL_CUMEM_ENABLE = 0'), "env.NCCL_CUMEM_ENABLE"),
    (lambda s: s.replace('name = "sglang-matrix"', 'name = "other"'), "name"),
    (lambda s: s.replace('torch = "==2.9.1"\n', ''), "packages"),
    (lambda s: s + "\n[[artifacts]]\nname = 3\n", "artifacts[1]"),
    (lambda s: s.replace('"sglang.srt.entrypoints.engine:Engine"', '"sglang.Engine"'), "verify.interface.sglang.Engine"),
])
def test_profile_validation_names_key(tmp_path, mutate, key):
    from skyrl_setup.catalog.data import profiles_dir
    src = (profiles_dir() / "sglang-matrix.toml").read_text()
    p = tmp_path / "sglang-matrix.toml"
    p.write_text(mutate(src))
    with pytest.raises(UsageError) as e:
        profiles.load(str(p))
    assert f"key {key!r}" in e.value.message and str(p) in e.value.message


def test_no_command(env):
    assert_one_line(cli(env=env), 2)
