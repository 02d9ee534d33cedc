"""Every command's --help works, and the global flags (--json, -v, --debug) mean the same wherever they are written."""

from __future__ import annotations

import json
import os
import re

import pytest

from skyrl_setup.cli.parse import Output, parse
from skyrl_setup.commands.requests import REQUESTS
from tests.conftest import clean_env, cli


@pytest.fixture
def home_env(tmp_path) -> dict[str, str]:
    return dict(clean_env(), SKYRL_SETUP_HOME=str(tmp_path / "home"), SKYRL_SETUP_CUDA_DRIVER="none")


def listed_commands(env) -> list[str]:
    r = cli("--help", env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    section = r.stdout.split("positional arguments:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^ {4}([a-z][a-z-]*)", section, re.M)


def test_every_command_has_help(home_env):
    commands = listed_commands(home_env)
    assert set(commands) == set(REQUESTS)  # the walk found them all
    for command in commands:
        r = cli(command, "--help", env=home_env, timeout=60)
        assert r.returncode == 0, (command, r.stderr)
        assert r.stdout.startswith(f"usage: skyrl-setup {command} "), (command, r.stdout[:200])


@pytest.mark.parametrize("command", list(REQUESTS))
@pytest.mark.parametrize("flag, output", [("--json", Output(json=True)), ("-v", Output(verbose=True)),
                                          ("--verbose", Output(verbose=True)), ("--debug", Output(debug=True))])
def test_a_global_flag_counts_before_or_after_the_command(command, flag, output):
    assert parse([command])[1] == Output()
    assert parse([flag, command]) == parse([command, flag])
    assert parse([flag, command])[1] == output


VOLATILE = {"seconds", "free_bytes", "summary"}  # timing and free disk space change between two runs


def steady(value):
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [steady(v) for v in value]
    return value


@pytest.mark.parametrize("argv", [["profiles"], ["doctor", "--no-gpu-probe"]])
def test_json_before_the_command_gives_the_same_envelope(home_env, argv):
    before, after = cli("--json", *argv, env=home_env, timeout=120), cli(*argv, "--json", env=home_env, timeout=120)
    docs = [json.loads(r.stdout) for r in (before, after)]  # one JSON document each
    assert before.returncode == after.returncode == docs[0]["exit_code"]
    assert docs[0]["schema"] == 1 and docs[0]["command"] == argv[0]
    assert steady(docs[0]) == steady(docs[1])


@pytest.mark.parametrize("argv", [["--json", "install", "--backend", "nope"], ["--json", "profiles", "--no-such-flag"]])
def test_a_usage_error_after_a_leading_json_is_one_envelope(home_env, argv):
    r = cli(*argv, env=home_env, timeout=60)
    doc = json.loads(r.stdout)
    assert r.returncode == doc["exit_code"] == 2
    assert doc["schema"] == 1 and doc["command"] == argv[1] and doc["ok"] is False and doc["error"]["message"]


def test_clean_env_drops_the_callers_tool_settings(monkeypatch):
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "UV_INDEX_URL", "PIP_INDEX_URL"):
        monkeypatch.setenv(name, "/caller/setting")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/caller/pip.conf")
    env = clean_env()
    assert not [k for k in env if k.startswith(("XDG_", "UV_", "PIP_")) and k != "PIP_CONFIG_FILE"]
    assert env["PIP_CONFIG_FILE"] == os.devnull  # the caller's pip.conf files are not read either
    assert env["NO_COLOR"] == "1"
