"""A mirror that asks for credentials on every path (issue 24, item 4): the tool's own requests authenticate as uv's do.

The credentials come with the index URL (sent then to every URL on its host, files included) or from netrc.
The locks' own index pages answer 503: only the mirror can answer.
"""

from __future__ import annotations

import pytest

from tests.conftest import cli
from tests.support.index import LocalIndex


@pytest.fixture
def locked_mirror(index):
    idx = LocalIndex(index.root, {}, layout="artifactory", source=index, auth="builder:s3cret").start()
    index.inject(r"/simple/", "status", 503)
    yield idx
    index.clear()
    idx.stop()


def _env(env, mirror, tmp_path, how: str) -> dict:
    env = {k: v for k, v in env.items() if k != "UV_INDEX_URL"}
    default, extra = mirror.url(), mirror.url("pytorch-cu128")
    if how == "url":
        default, extra = (u.replace("http://", "http://builder:s3cret@") for u in (default, extra))
    else:
        (tmp_path / "netrc").write_text("machine 127.0.0.1\nlogin builder\npassword s3cret\n")
        env["NETRC"] = str(tmp_path / "netrc")
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = {default}\nextra-index-url = {extra}\n")
    env["PIP_CONFIG_FILE"] = str(conf)
    return env


@pytest.mark.parametrize("how", ["url", "netrc"])
def test_check_compat_and_with_through_a_mirror_that_wants_credentials(how, locked_mirror, env, tmp_path):
    env = _env(env, locked_mirror, tmp_path, how)
    r = cli("check-compat", "accelerate==1.10.0", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["resolved"]["torch"] == "2.7.1+cu128"
    assert any(p.endswith(".metadata") for p in locked_mirror.requests)  # files on the host: authenticated too
    r = cli("install", "--with", "accelerate==1.10.0", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["plan"]["route"]["route"] == "skyrl"  # the probe of the mirror's PyTorch index authenticated
    assert "s3cret" not in r.stdout + r.stderr
