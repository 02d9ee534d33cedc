"""The suite does not depend on the caller's own settings (issue 23, item 6): a proxy, a user-level uv.toml.

(XDG_*, UV_* and PIP_* variables: tests/test_help_and_flags.py::test_clean_env_drops_the_callers_tool_settings, and
below for the suite's own process; the real-PyPI tests' uv cache: below.)
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import DEAD_URL, base_env, clean_env, cli, pypi_env

PROXIES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def test_a_callers_proxy_never_carries_the_local_index(index, uv_cache, data_dir, tmp_path, monkeypatch):
    for key in PROXIES:
        monkeypatch.setenv(key, DEAD_URL)  # a proxy that refuses every connection
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    env = base_env(index, uv_cache, data_dir, tmp_path / "home")
    assert env["HTTP_PROXY"] == DEAD_URL  # kept: the real-PyPI tests may need it
    r = cli("check-compat", "accelerate==1.10.0", env=env)  # skyrl-setup's own requests (httpx)
    assert r.returncode == 0, r.stderr
    r = cli("install", "--venv", str(tmp_path / "e"), "--no-verify", env=env)  # uv's
    assert r.returncode == 0, r.stderr


def test_a_user_level_uv_toml_is_not_read(index, data_dir, tmp_path, monkeypatch):
    """`offline = true` in the caller's ~/.config/uv/uv.toml would stop every download of a test with a cold cache."""
    home = tmp_path / "caller-home"
    (home / ".config" / "uv").mkdir(parents=True)
    (home / ".config" / "uv" / "uv.toml").write_text("offline = true\n")
    monkeypatch.setenv("PYENV_ROOT", os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv"))  # the 3.12 the suite uses
    monkeypatch.setenv("HOME", str(home))
    env = base_env(index, tmp_path / "cold-uv-cache", data_dir, tmp_path / "home")
    r = cli("install", "--venv", str(tmp_path / "e"), "--no-verify", env=env)
    assert r.returncode == 0, r.stderr


def test_the_suites_own_process_holds_none_of_the_callers_tool_settings():
    """In-process tests read the environment too (detect_index, settings, platformdirs): conftest drops the
    caller's XDG_*, UV_*, PIP_* and SKYRL_SETUP_* (but SKYRL_SETUP_UV, asked for on purpose) before any test runs;
    what it sets is its own: no pip.conf, and a cache folder of the suite's (never the caller's ~/.cache)."""
    from tests.conftest import SUITE_CACHE

    left = [k for k in os.environ if k.startswith(("XDG_", "UV_", "PIP_", "SKYRL_SETUP_", "VIRTUAL_ENV"))]
    own = ("PIP_CONFIG_FILE", "SKYRL_SETUP_CACHE_DIR", "SKYRL_SETUP_UV")
    assert sorted(left) == sorted(k for k in own if k in os.environ), left
    assert os.environ["PIP_CONFIG_FILE"] == os.devnull and os.environ["SKYRL_SETUP_CACHE_DIR"] == SUITE_CACHE


def test_version_manager_shims_are_not_on_a_childs_path(monkeypatch):
    """A pyenv shim answers for the caller's pyenv version, and costs uv's interpreter discovery ~0.1 s a call."""
    monkeypatch.setenv("PATH", os.pathsep.join(["/home/u/.pyenv/plugins/pyenv-virtualenv/shims", "/home/u/.pyenv/shims/",
                                                "/home/u/.pyenv/bin", "/usr/bin"]))
    assert clean_env()["PATH"] == os.pathsep.join(["/home/u/.pyenv/bin", "/usr/bin"])


def test_the_real_pypi_tests_use_the_sessions_uv_cache_never_the_callers(monkeypatch, tmp_path):
    monkeypatch.setenv("UV_CACHE_DIR", "/caller/uv-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", "/caller/cache")
    env = pypi_env(tmp_path, tmp_path / "session-cache")
    assert env["UV_CACHE_DIR"] == str(tmp_path / "session-cache")
    assert not [v for v in env.values() if v.startswith("/caller/")]
