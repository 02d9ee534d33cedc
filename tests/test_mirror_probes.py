"""Behind a mirror, with a silent firewall (issue 24, item 1): the plan probes configured indexes, once each.

The locks name their files on the session's index, which here stands for the upstream hosts (PyPI,
PyTorch's index) behind a firewall: each request is counted and held unanswered. A second index
serves the same files under Artifactory's layout and is configured the four usual ways, as the default
index and as an extra one (the mirror of PyTorch's index). GitHub's release assets map to a server
that accepts connections and never answers.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter

import pytest

from tests.conftest import cli
from tests.support.index import LocalIndex


class Silent:
    """Accepts every connection, reads nothing, answers nothing: a firewall that drops packets, as a client sees it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.held: list[socket.socket] = []
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.accepted.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.fixture
def behind_firewall(index, env, tmp_path):
    mirror = LocalIndex(index.root, {}, layout="artifactory", source=index).start()
    silent = Silent()
    index.clear()
    index.inject(r".", "slow", 30)  # the upstream hosts: never answered within any client's probe
    yield mirror, silent
    index.clear()
    mirror.stop()
    silent.close()


def _configure(env: dict, mirror: LocalIndex, silent: Silent, how: str, tmp_path) -> dict:
    env = {k: v for k, v in env.items() if k != "UV_INDEX_URL"}
    env["SKYRL_SETUP_MIRRORS"] = f"https://github.com/={silent.url}"
    default, extra = mirror.url(), mirror.url("pytorch-cu128")
    if how == "pip.conf":
        conf = tmp_path / "pip.conf"
        conf.write_text(f"[global]\nindex-url = {default}\nextra-index-url = {extra}\n")
        env["PIP_CONFIG_FILE"] = str(conf)
    elif how == "PIP_INDEX_URL":
        env.update(PIP_INDEX_URL=default, PIP_EXTRA_INDEX_URL=extra)
    else:
        env.update({how: default, "UV_INDEX": extra})
    return env


@pytest.mark.parametrize("how", ["UV_INDEX_URL", "UV_DEFAULT_INDEX", "PIP_INDEX_URL", "pip.conf"])
def test_plan_probes_the_configured_indexes_once_and_never_the_upstream(how, behind_firewall, index, env, tmp_path):
    mirror, silent = behind_firewall
    env = _configure(env, mirror, silent, how, tmp_path)
    r = cli("install", "--dry-run", "--json", "--venv", str(tmp_path / "dry"), env=env)
    assert r.returncode == 0, r.stderr
    route = r.data["plan"]["route"]
    assert route["route"] == "skyrl", route["skipped"]  # the configured extra index serves PyTorch's files
    assert "1.5 s" in route["reason"]
    assert index.requests == []  # not one request to the upstream hosts
    assert len(silent.held) <= 1  # the release asset's host: probed once
    assert max(Counter(mirror.requests).values()) == 1, mirror.requests  # each index probed once

    mirror.clear()
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--no-verify", env=env)
    assert r.returncode == 0, r.stderr
    assert index.requests == [] and any("/packages/" in p for p in mirror.requests)
    mirror.clear()
    held = len(silent.held)
    r = cli("install", "--venv", str(venv), "--no-verify", env=env)  # nothing to do: nothing probed
    assert r.returncode == 0, r.stderr
    assert mirror.requests == [] and index.requests == [] and len(silent.held) == held
    assert os.path.isdir(venv)


def test_with_asks_each_place_once_for_the_pre_check_and_the_plan(behind_firewall, index, env, tmp_path):
    mirror, silent = behind_firewall
    env = _configure(env, mirror, silent, "UV_INDEX_URL", tmp_path)
    r = cli("install", "--with", "accelerate==1.10.0", "--dry-run", "--json", "--venv", str(tmp_path / "dry"), env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["plan"]["route"]["route"] == "skyrl"
    assert index.requests == [] and len(silent.held) <= 1
    assert mirror.heads and max(Counter(mirror.heads).values()) == 1, mirror.heads


def test_a_pypi_mirror_given_as_the_extra_index_does_not_stand_in_for_pytorchs(behind_firewall, index, env, tmp_path):
    """The stand-in probe judges what an index serves: a plain PyPI mirror lists torch too, but no +cu128 build of it,
    so the skyrl route (PyTorch's cu128 wheels) is not available through it; the pypi route is taken, and says why."""
    mirror, silent = behind_firewall
    pypi_like = LocalIndex(index.root, {}, source=index).start()
    try:
        env = _configure(env, mirror, silent, "UV_INDEX_URL", tmp_path)
        env["UV_INDEX"] = pypi_like.url("pypi")
        r = cli("install", "--dry-run", "--json", "--venv", str(tmp_path / "dry"), env=env)
        assert r.returncode == 0, r.stderr
        route = r.data["plan"]["route"]
        assert route["route"] == "pypi", route
        assert "+cu128" in route["skipped"][0] and "torch" in route["skipped"][0], route["skipped"]
        assert pypi_like.requests == ["/pypi/simple/torch/"]  # one GET of its torch page
        assert index.requests == []
    finally:
        pypi_like.stop()


def test_a_silent_release_host_is_asked_while_the_routes_index_is(behind_firewall, env, tmp_path):
    """GitHub silent too: its one probe (flash-attn's wheel) goes out beside the route's, so two silent hosts cost one
    wait. The mirror's torch page answers only once GitHub has been asked: a probe made after the route choice
    would leave the route unanswered (its 1.5 s), and the plan would fall back to the pypi route."""
    mirror, silent = behind_firewall
    env = _configure(env, mirror, silent, "UV_INDEX_URL", tmp_path)
    mirror.inject(r"/pytorch-cu128/simple/torch/$", "gate", 20, gate=silent.accepted)
    r = cli("install", "--dry-run", "--json", "--venv", str(tmp_path / "dry"), env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["plan"]["route"]["route"] == "skyrl", r.data["plan"]["route"]["skipped"]
    assert len(silent.held) == 1  # asked once: beside the route's probe, not again for the plan
    flash = next(a for a in r.data["plan"]["artifacts"] if a["name"] == "flash-attn")
    assert (flash["status"], flash["error"].split(":")[0]) == ("unreachable", "ReadTimeout"), flash
