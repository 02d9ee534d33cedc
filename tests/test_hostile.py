"""Issue 17: what a hostile user or a careless script does. Each test names the defect number it covers.

Same rules as test_reliability.py: the real CLI in a subprocess, real uv, the local index;
kills and interrupts hit the real process at named failpoints.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.conftest import cli, venv_run
from tests.test_reliability import assert_consistent, spawn, store_of, wait_reached


def gen_of(venv: Path) -> int:
    return int(os.readlink(venv).rsplit("-", 1)[1])


def one_error(r) -> str:
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, r.stderr
    assert "Traceback" not in r.stderr and "unexpected" not in r.stderr, r.stderr
    return errors[0]


# -- environments and generations ----------------------------------------------------------------

def test_01_empty_venv_is_refused(env, tmp_path):
    home = Path(env["SKYRL_SETUP_HOME"])
    for command in (["install"], ["install", "--dry-run"], ["upgrade"], ["rollback"], ["doctor", "--no-gpu-probe"]):
        r = cli(*command, "--venv", "", env=env, cwd=tmp_path)
        assert r.returncode == 2, (command, r.stderr)
        assert "--venv ''" in one_error(r)
    assert not (home / "envs").exists() and list(tmp_path.iterdir()) == [home]


def test_02_rollback_works_when_the_current_generation_is_gone(env, sglang_env):
    assert cli("install", "--venv", str(sglang_env), "--force", env=env).returncode == 0
    shutil.rmtree(store_of(sglang_env) / "gen-0002")
    r = cli("rollback", "--venv", str(sglang_env), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.json["generation"] == 1
    assert_consistent(sglang_env)


def test_03_rollback_follows_the_order_generations_were_live(env, sglang_env):
    venv = str(sglang_env)
    assert cli("install", "--venv", venv, "--force", env=env).returncode == 0  # 2
    assert cli("rollback", "--venv", venv, env=env).returncode == 0  # -> 1
    r = cli("install", "--venv", venv, "--force", env=env)  # 3, from 1
    assert r.returncode == 0, r.stderr
    assert "(generation 3," in r.stderr and "the previous generation 1 is kept" in r.stderr
    r = cli("rollback", "--venv", venv, "--json", env=env)
    assert r.returncode == 0 and r.json["generation"] == 1, r.stderr
    r = cli("rollback", "--venv", venv, env=env)  # 1 was the first live one: nothing earlier, but newer ones exist
    assert r.returncode == 1
    assert "only one" not in r.stderr and "generations (2, 3)" in r.stderr, r.stderr


def break_interpreter(venv: Path) -> None:
    py = venv / "bin" / "python"
    py.unlink()
    py.symlink_to("/nonexistent/python3.12")


def test_04_a_dead_interpreter_is_not_a_noop(env, sglang_env):
    break_interpreter(sglang_env)
    d = cli("doctor", "--venv", str(sglang_env), "--no-gpu-probe", "--json", env=env)
    assert d.returncode == 1
    check = next(c for c in d.json["checks"] if c["id"] == "env.exists")
    assert "does not run" in check["summary"] and "--force" in check["fix"], check
    r = cli("install", "--venv", str(sglang_env), "--json", env=env)
    assert r.returncode == 0 and r.json["noop"] is False, r.stderr
    assert venv_run(sglang_env, "import sglang").returncode == 0
    break_interpreter(sglang_env)
    r = cli("upgrade", "--venv", str(sglang_env), "--json", env=env)
    assert r.returncode == 0 and r.json["noop"] is False and r.json["applied"] is True, r.stderr
    assert venv_run(sglang_env, "import sglang").returncode == 0


def test_19_interrupted_install_never_leaves_a_half_built_generation_live(env, sglang_env):
    shutil.rmtree(store_of(sglang_env) / "gen-0001")  # the link now dangles
    r = cli("install", "--venv", str(sglang_env), env=dict(env, SKYRL_SETUP_FAILPOINT="synced:int"))
    assert r.returncode == 130
    assert not (sglang_env / "bin" / "python").exists(), "a half-built generation was made live"
    assert [p.name for p in store_of(sglang_env).iterdir() if p.name.startswith("gen-")] == []
    r = cli("install", "--venv", str(sglang_env), env=env)
    assert r.returncode == 0, r.stderr
    assert_consistent(sglang_env)


@pytest.mark.parametrize("content", ["42", "[1, 2]", '"text"', '{"lock": 5, "backend": "sglang", "packages": []}'])
def test_12_a_record_of_the_wrong_shape_is_no_crash(env, sglang_env, content):
    assert cli("install", "--venv", str(sglang_env), "--force", env=env).returncode == 0
    (store_of(sglang_env) / "gen-0002" / "skyrl-setup.json").write_text(content)
    for command in (["doctor", "--no-gpu-probe"], ["upgrade"], ["install"], ["rollback"]):
        r = cli(*command, "--venv", str(sglang_env), "--json", env=env)
        assert "unexpected" not in r.stderr and "Traceback" not in r.stderr, (command, r.stderr)
        assert r.returncode in (0, 1, 2), (command, r.stderr)
        json.loads(r.stdout)
