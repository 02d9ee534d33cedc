"""One JSON envelope for every command, success and failure (README, "JSON output"):

    {"schema": 1, "command", "ok", "exit_code", "data"}  or  {..., "error": {"message", "hint", "details"}}
"""

from __future__ import annotations

import json

import pytest

from skyrl_setup.commands.requests import REQUESTS
from tests.conftest import cli, mirror_map


def envelope(r, command: str) -> dict:
    doc = json.loads(r.stdout)  # exactly one document on stdout
    body = "error" if "error" in doc else "data"
    assert set(doc) == {"schema", "command", "ok", "exit_code", body}, doc.keys()
    assert doc["schema"] == 1 and doc["command"] == command and doc["exit_code"] == r.returncode
    assert doc["ok"] is (r.returncode == 0)
    if body == "error":
        err = doc["error"]
        assert set(err) == {"message", "hint", "details"} and isinstance(err["details"], dict)
        assert err["message"] and "\n" not in err["message"] and err["hint"]
        assert f"error: {err['message']}" in r.stderr and f"hint: {err['hint']}" in r.stderr  # JSON and text tell the same
    else:
        assert isinstance(doc["data"], dict)
    return doc


def test_every_command_success_and_failure(env, sglang_env, tmp_path, index):
    ok = {
        "profiles": ["profiles"],
        "lock": ["lock", "--backend", "sglang-matrix", "-o", str(tmp_path / "pylock.walk.toml")],
        "install": ["install", "--venv", str(sglang_env)],
        "doctor": ["doctor", "--venv", str(sglang_env), "--no-gpu-probe"],
        "check-compat": ["check-compat", "transformers>=4.50"],
        "upgrade": ["upgrade", "--venv", str(sglang_env)],
        "bundle": ["bundle", "--backend", "sglang-matrix", "-o", str(tmp_path / "b.bundle.tar")],
        "dockerfile": ["dockerfile", "-o", str(tmp_path / "ctx")],
        "rollback": None,  # after a second generation, below
    }
    failing = {
        "profiles": (["profiles", "--no-such-flag"], 2),
        "lock": (["lock", "--backend", "no-such-backend"], 2),
        "install": (["install", "--backend", "no-such-backend"], 2),
        "doctor": (["doctor", "--model", "7Q"], 2),
        "check-compat": (["check-compat", "vllm==0.11.0"], 3),
        "upgrade": (["upgrade", "--venv", str(tmp_path / "nothing-here")], 2),
        "bundle": (["bundle", "--backend", "no-such-backend"], 2),
        "dockerfile": (["dockerfile", "--cuda", "cu99"], 2),
        "rollback": (["rollback", "--venv", str(sglang_env)], 1),  # one generation: nothing to roll back to
    }
    assert set(ok) == set(failing) == set(REQUESTS)
    env = dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True))
    for command, (argv, code) in failing.items():
        r = cli(*argv, "--json", env=env)
        assert r.returncode == code, (argv, r.stderr)
        envelope(r, command)
    assert cli("install", "--venv", str(sglang_env), "--force", env=env).returncode == 0
    ok["rollback"] = ["rollback", "--venv", str(sglang_env)]
    for command, argv in ok.items():
        r = cli(*argv, "--json", env=env)
        assert r.returncode == 0, (argv, r.stderr)
        assert "data" in envelope(r, command)


def test_install_has_one_shape_whatever_happens(env, sglang_env, tmp_path, index):
    """Issue 14, bug 3: a no-op install had two shapes, neither the built one's."""
    env = dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True))
    shapes = {}
    for name, argv in {"quick no-op": ["--venv", str(sglang_env)],
                       "planned no-op": ["--venv", str(sglang_env), "--python", "3.12"],
                       "dry run": ["--venv", str(tmp_path / "new"), "--dry-run"],
                       "built": ["--venv", str(sglang_env), "--force"]}.items():
        r = cli("install", *argv, "--json", env=env)
        assert r.returncode == 0, (name, r.stderr)
        shapes[name] = r.data
    assert shapes["quick no-op"]["noop"] and shapes["planned no-op"]["noop"] and not shapes["built"]["noop"]
    assert len({frozenset(d) for d in shapes.values()}) == 1, {k: sorted(v) for k, v in shapes.items()}
    assert shapes["built"]["previous_generation"] == 1 and shapes["built"]["generation"] == 2


@pytest.mark.parametrize("argv", [["install", "--dry-run"], ["upgrade", "--dry-run"], ["doctor", "--no-gpu-probe"]])
def test_a_usage_error_names_its_command(env, argv):
    r = cli(*argv, "--bogus", "--json", env=env)
    assert r.returncode == 2 and envelope(r, argv[0])["error"]["message"].startswith("skyrl-setup")


def test_a_usage_error_names_the_command_argparse_selected_or_none(env):
    """After `--` argparse selects no command (it reads `--` as the command word and refuses it): the envelope names
    none, not the word that follows."""
    r = cli("--json", "--", "profiles", "--bogus", env=env)
    assert r.returncode == 2, r.stderr
    doc = json.loads(r.stdout)
    if "'--'" not in doc["error"]["message"]:  # an argparse that drops a `--` before the command word selects it
        pytest.skip("this Python's argparse selects the command after `--`")
    assert (doc["command"], doc["exit_code"]) == (None, 2)


def test_cluster_reads_doctor_through_the_envelope(env, installed_sglang):
    """Drift detection reads a node's doctor output as this schema's envelope; a change to doctor's data that
    drift depends on fails here, not silently on a cluster."""
    from skyrl_setup.commands.cluster import doctor_facts
    from skyrl_setup.commands.results import Envelope

    r = cli("doctor", "--venv", str(installed_sglang[0]), "--no-gpu-probe", "--json", env=env)
    facts = doctor_facts(Envelope.parse(r.stdout).data)
    assert facts["lock_sha256"] and facts["cuda_variant"] and facts["python"].startswith("3.12")
    assert facts["pkg:torch"] and facts["pkg:sglang"] == "0.4.8.post1"
    with pytest.raises(ValueError):
        Envelope.parse('{"checks": []}')  # a document of another shape is refused, not half-read


def test_a_conflict_has_one_shape_whichever_command_finds_it(env, tmp_path):
    """Issue 14, bug 3: check-compat and install --with told the same clash in two different documents."""
    compat = cli("check-compat", "vllm==0.11.0", "--json", env=env)
    install = cli("install", "--with", "vllm==0.11.0", "--venv", str(tmp_path / "e"), "--json", env=env)
    assert compat.returncode == install.returncode == 3
    a, b = compat.error, install.error
    assert set(a["details"]) == set(b["details"]) and a["details"]["conflict"] == b["details"]["conflict"]
    assert a["message"] == b["message"]


def test_printed_paths_are_quoted_for_the_shell(env, tmp_path, index):
    """Issue 14, bug 8: `source …/my envs/sg/bin/activate` broke on the space."""
    venv = tmp_path / "my envs" / "sg"
    r = cli("install", "--venv", str(venv), env=dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True)))
    assert r.returncode == 0, r.stderr
    assert f"source '{venv}/bin/activate'" in r.stderr, r.stderr
