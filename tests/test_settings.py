"""Every SKYRL_SETUP_* variable is read once, by skyrl_setup/settings.py, and documented in the README."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from skyrl_setup import settings
from skyrl_setup.errors import UsageError
from tests.conftest import clean_env, cli

ROOT = Path(__file__).resolve().parent.parent
PROBE_SCRIPTS = {"cuda_driver_script.py", "imports_script.py", "torch_script.py", "env_script.py", "_skyrl_channel.py",
                 "code_paths_script.py"}


def test_load_reads_each_variable_and_names_the_unknown():
    s = settings.load({"SKYRL_SETUP_CUDA": " cu128 ", "SKYRL_SETUP_DISK_MARGIN": "0", "SKYRL_SETUP_HOME": "/x",
                       "SKYRL_SETUP_CUDAA": "cu126", "SKYRL_SETUP_PROBE_OUT": "/tmp/o", "SKYRL_SETUP_UV": ""})
    assert (s.cuda, s.disk_margin, s.home, s.uv) == ("cu128", 0, Path("/x"), None)
    assert s.unknown == ("SKYRL_SETUP_CUDAA",)  # misspelt; the probes' own channel is not a user's setting
    assert settings.load({}) == settings.Settings()
    assert settings.load({"SKYRL_SETUP_CUDA_DRIVER": ""}).cuda_driver == ""  # set and empty: "no driver"


@pytest.mark.parametrize("name,value", [("SKYRL_SETUP_DISK_MARGIN", "-1"), ("SKYRL_SETUP_DISK_MARGIN", "1e9"),
                                        ("SKYRL_SETUP_INDEX_TTL", "soon"), ("SKYRL_SETUP_INDEX_TTL", "nan")])
def test_a_bad_value_is_named(name, value):
    with pytest.raises(UsageError) as exc:
        settings.load({name: value})
    assert name in exc.value.message and exc.value.hint


def test_no_module_reads_a_setting_behind_the_settings_back():
    """Outside settings.py only the stdlib-only probe scripts (children that cannot import it) read SKYRL_SETUP_*."""
    readers = []
    for path in (ROOT / "skyrl_setup").rglob("*.py"):
        if path.name in PROBE_SCRIPTS or path.name == "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"(environ(\.get)?\(|environ\[|getenv\()\s*[\"']SKYRL_SETUP_", text):
            readers.append(str(path.relative_to(ROOT)))
    assert readers == []


def test_the_readme_documents_every_setting_and_only_those():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(SKYRL_SETUP_[A-Z_]+)`", section, re.M))
    assert listed == set(settings.VARIABLES)
    mentioned = set(re.findall(r"SKYRL_SETUP_[A-Z_]+[A-Z]", readme)) - settings.INTERNAL
    assert mentioned <= set(settings.VARIABLES), mentioned - set(settings.VARIABLES)


def test_a_misspelt_setting_is_reported_also_under_json(tmp_path):
    env = dict(clean_env(), SKYRL_SETUP_HOME=str(tmp_path / "h"), SKYRL_SETUP_CUDAA="cu126", SKYRL_SETUP_CUDA_DRIVER="none")
    r = cli("--json", "profiles", env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"]  # stdout stays one document
    assert "SKYRL_SETUP_CUDAA is not a setting" in r.stderr


def test_gpus_alone_are_used_with_the_hosts_own_driver(tmp_path):
    """SKYRL_SETUP_GPUS without SKYRL_SETUP_CUDA_DRIVER used to be dropped without a word."""
    env = dict(clean_env(), SKYRL_SETUP_HOME=str(tmp_path / "h"), SKYRL_SETUP_GPUS="NVIDIA B200:183:10.0")
    env.pop("SKYRL_SETUP_CUDA_DRIVER", None)
    r = cli("doctor", "--no-gpu-probe", "--json", env=env, timeout=120)
    checks = {c["id"]: c for c in json.loads(r.stdout)["data"]["checks"]}
    assert "NVIDIA B200" in checks["system.gpu0"]["summary"], checks.get("system.gpu0")


def test_a_bad_setting_fails_before_any_command_runs(tmp_path):
    env = dict(clean_env(), SKYRL_SETUP_HOME=str(tmp_path / "h"), SKYRL_SETUP_INDEX_TTL="soon")
    r = cli("install", "--venv", str(tmp_path / "e"), "--dry-run", env=env, timeout=60)
    assert r.returncode == 2 and "SKYRL_SETUP_INDEX_TTL" in r.stderr, r.stderr
    assert not (tmp_path / "e").exists()
