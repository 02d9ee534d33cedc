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


def _cfg(tmp_path, text: str) -> dict[str, str]:
    (tmp_path / "uv.toml").write_text(text)
    return {"UV_CONFIG_FILE": str(tmp_path / "uv.toml"), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "none")}


def test_a_default_mirror_alone_keeps_the_users_whole_uv_configuration(tmp_path):
    from skyrl_setup.detect.index_config import default_only

    how = default_only(_cfg(tmp_path, 'index-url = "https://corp.example/simple"\nnative-tls = true\n'), tmp_path)
    assert how.config is None and "UV_CONFIG_FILE" not in how.hide and "UV_INDEX" in how.hide and how.env == {}
    how = default_only({**_cfg(tmp_path, 'index-url = "https://corp.example/simple"\n'), "UV_INDEX": "https://torch.example/simple"},
                       tmp_path)
    assert how.config is None and "UV_INDEX" in how.hide  # uv then reads the file's default, without the variable's extra


def test_extra_indexes_of_a_config_file_go_and_its_other_settings_stay(tmp_path):
    from skyrl_setup._toml import toml_reader
    from skyrl_setup.detect.index_config import default_only

    text = ('native-tls = true\nallow-insecure-host = ["corp.example"]\nfind-links = ["/wheels"]\n'
            '[[index]]\nname = "corp"\nurl = "https://corp.example/simple"\ndefault = true\n'
            '[[index]]\nname = "torch"\nurl = "https://torch.example/simple"\n'
            '[pip]\nextra-index-url = ["https://other.example/simple"]\nno-build-isolation = true\n')
    how = default_only(_cfg(tmp_path, text), tmp_path)
    assert how.config is not None and "UV_CONFIG_FILE" in how.hide
    doc = toml_reader.loads(how.config)
    assert doc["native-tls"] is True and doc["allow-insecure-host"] == ["corp.example"] and doc["pip"] == {"no-build-isolation": True}
    assert doc["index"] == [{"name": "corp", "url": "https://corp.example/simple", "default": True}]  # named: its credentials
    assert "find-links" not in doc


def test_pips_default_index_is_handed_to_uv_and_its_extra_is_not(tmp_path):
    from skyrl_setup.detect.index_config import default_only

    how = default_only({"PIP_INDEX_URL": "https://corp.example/simple", "PIP_EXTRA_INDEX_URL": "https://torch.example/simple",
                        "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "none"), "PIP_CONFIG_FILE": "/dev/null"}, tmp_path)
    assert how.env == {"UV_DEFAULT_INDEX": "https://corp.example/simple"} and "PIP_EXTRA_INDEX_URL" in how.hide
