"""A mirror that asks for credentials on every path (issue 24, item 4): the tool's own requests authenticate as uv's do.

The credentials come with the index URL (sent then to every URL on its host, files included), from netrc, or, with
uv's or pip's keyring provider set to `subprocess`, from the `keyring` command for the URL's username.
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
    elif how == "keyring":  # the username only: the password is the keyring's
        default, extra = (u.replace("http://", "http://builder@") for u in (default, extra))
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


def _fake_keyring(folder, services: list[str]) -> None:
    """A `keyring` command that knows the password for the user builder at `services` only, and logs what it is asked."""
    folder.mkdir()
    cases = "".join(f'"{s}") echo s3cret; exit 0;;\n' for s in services)
    (folder / "keyring").write_text(f"""#!/bin/sh
echo "$1 $2 $3" >> {folder}/asked
if [ "$1" = get ] && [ "$3" = builder ]; then case "$2" in
{cases}esac; fi
exit 1
""")
    (folder / "keyring").chmod(0o755)


@pytest.mark.parametrize("how", ["UV_KEYRING_PROVIDER", "pip.conf"])
def test_the_keyring_gives_the_password_of_the_index_urls_user(how, locked_mirror, env, tmp_path):
    """As uv's subprocess provider: `keyring get SERVICE USER`, the service being the index URL, then its host."""
    env = _env(env, locked_mirror, tmp_path, "keyring")
    bin_dir = tmp_path / "bin"
    if how == "pip.conf":  # pip's setting: the host's entry (keyring set 127.0.0.1:PORT builder)
        conf = tmp_path / "pip.conf"
        conf.write_text(conf.read_text() + "keyring-provider = subprocess\n")
        _fake_keyring(bin_dir, [f"127.0.0.1:{locked_mirror.port}"])
    else:  # uv's: the index URLs' own entries
        env["UV_KEYRING_PROVIDER"] = "subprocess"
        _fake_keyring(bin_dir, [locked_mirror.url(), locked_mirror.url("pytorch-cu128")])
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    r = cli("check-compat", "accelerate==1.10.0", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["resolved"]["torch"] == "2.7.1+cu128"
    assert any(p.endswith(".metadata") for p in locked_mirror.requests)
    r2 = cli("install", "--with", "accelerate==1.10.0", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=env)
    assert r2.returncode == 0, r2.stderr  # uv, told of pip's setting, asked the keyring too
    assert r2.data["plan"]["route"]["route"] == "skyrl"
    assert "s3cret" not in r.stdout + r.stderr + r2.stdout + r2.stderr
    assert f"get {locked_mirror.url()} builder" in (bin_dir / "asked").read_text()


def test_without_a_keyring_provider_the_keyring_is_not_asked(locked_mirror, env, tmp_path):
    env = _env(env, locked_mirror, tmp_path, "keyring")
    _fake_keyring(tmp_path / "bin", [f"127.0.0.1:{locked_mirror.port}"])
    env["PATH"] = f"{tmp_path / 'bin'}:{env['PATH']}"
    r = cli("check-compat", "accelerate==1.10.0", "--json", env=env)
    assert r.returncode == 1 and "HTTP 401" in r.error["message"], r.stderr
    assert not (tmp_path / "bin" / "asked").exists()
