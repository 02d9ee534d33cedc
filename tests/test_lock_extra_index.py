"""`lock`'s PyPI route reads the default index alone (issue 24's leftover): a user's extra index, a PyTorch mirror
say, must not hand it torch's +cuXXX build, which the route exists to avoid."""

from __future__ import annotations

import pytest

from tests.conftest import cli

REL = "skyrl-train-0.3.1"
PYPI_LOCK = "pylock.sglang-pypi-cu126-linux_x86_64.toml"


@pytest.mark.parametrize("where", ["UV_INDEX", "UV_EXTRA_INDEX_URL", "uv.toml", "PIP_EXTRA_INDEX_URL"])
def test_an_extra_index_does_not_reach_the_pypi_routes_lock(data_dir, skyrl_checkout, env, tmp_path, index, where):
    torch_index = index.url("pytorch-cu128")  # it serves torch 2.7.1+cu128, which satisfies torch==2.7.1
    env = dict(env)
    if where == "uv.toml":
        cfg = tmp_path / "uv.toml"
        cfg.write_text(f'[[index]]\nname = "torch"\nurl = "{torch_index}"\n')
        env["UV_CONFIG_FILE"] = str(cfg)
    elif where == "PIP_EXTRA_INDEX_URL":  # pip's settings reach uv only through skyrl-setup
        env.pop("UV_INDEX_URL")
        env.update(PIP_INDEX_URL=index.url(), PIP_EXTRA_INDEX_URL=torch_index)
    else:
        env[where] = torch_index
    r = cli("lock", "--from-skyrl", str(skyrl_checkout), "--backend", "sglang", "-o", str(tmp_path / "out"), env=env)
    assert r.returncode == 0, r.stderr
    made = (tmp_path / "out" / PYPI_LOCK).read_bytes()
    assert b'name = "torch"\nversion = "2.7.1"\n' in made
    assert made == (data_dir / "lockfiles" / REL / PYPI_LOCK).read_bytes()  # the same lock as with PyPI alone
