"""Pure pieces of the configured-index route: finding the index (uv's settings, then pip's), and routing files."""

from __future__ import annotations

import json
from pathlib import Path

from skyrl_setup.detect.index_config import IndexConfig, detect_index
from skyrl_setup.locks.pylock import Lock, LockedPackage, install_manifest
from skyrl_setup.plan.fetch import by_name, plan_routes

ART = "https://art.example.com/api/pypi/pypi-remote/simple"
TORCH_MIRROR = "https://art.example.com/api/pypi/pytorch-cu128/simple"


def _env(tmp_path: Path, **kw) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"), "PIP_CONFIG_FILE": "", **kw}


def test_nothing_configured_means_pypi(tmp_path):
    cfg = detect_index(_env(tmp_path), cwd=tmp_path)
    assert cfg == IndexConfig() or cfg.source.startswith(("uv.toml (/etc", "pip.conf (/etc"))  # a host's own /etc files
    assert not IndexConfig().custom and IndexConfig().shown().startswith("PyPI")


def test_uv_settings_come_before_pips(tmp_path):
    env = _env(tmp_path, UV_INDEX_URL=ART, PIP_INDEX_URL="https://pip.example.com/simple")
    cfg = detect_index(env, cwd=tmp_path)
    assert (cfg.default, cfg.source, cfg.tool, cfg.uv_env()) == (ART, "UV_INDEX_URL", "uv", {})
    assert detect_index(dict(env, UV_DEFAULT_INDEX="https://d.example.com/simple"), cwd=tmp_path).source == "UV_DEFAULT_INDEX"
    named = detect_index(_env(tmp_path, UV_INDEX=f"torch={TORCH_MIRROR}"), cwd=tmp_path)
    assert (named.default, named.extra, named.custom) == (None, (TORCH_MIRROR,), True)


def test_uv_config_files(tmp_path):
    conf = tmp_path / "cfg" / "uv.toml"
    conf.parent.mkdir()
    conf.write_text(f'[[index]]\nurl = "{TORCH_MIRROR}"\n\n[[index]]\nurl = "https://x.example.com/simple"\nexplicit = true\n\n'
                    f'[[index]]\nurl = "{ART}"\ndefault = true\n')
    cfg = detect_index(_env(tmp_path, UV_CONFIG_FILE=str(conf)), cwd=tmp_path)
    assert (cfg.default, cfg.extra, cfg.tool) == (ART, (TORCH_MIRROR,), "uv")
    assert detect_index(_env(tmp_path, UV_CONFIG_FILE=str(conf), UV_NO_CONFIG="1"), cwd=tmp_path).default != ART
    project = tmp_path / "proj" / "sub"
    project.mkdir(parents=True)
    (tmp_path / "proj" / "pyproject.toml").write_text(f'[project]\nname = "x"\n[tool.uv]\nindex-url = "{ART}"\n')
    assert detect_index(_env(tmp_path), cwd=project).source == f"pyproject.toml ({tmp_path / 'proj' / 'pyproject.toml'})"
    user = tmp_path / "xdg" / "uv" / "uv.toml"
    user.parent.mkdir(parents=True)
    user.write_text(f'[pip]\nindex-url = "{ART}"\n')
    (tmp_path / "proj" / "sub" / "pyproject.toml").write_text('[project]\nname = "y"\n')  # no [tool.uv]: not uv's
    assert detect_index(_env(tmp_path), cwd=project).source == f"pyproject.toml ({tmp_path / 'proj' / 'pyproject.toml'})"
    assert detect_index(_env(tmp_path), cwd=tmp_path).source == f"uv.toml ({user})"


def test_pip_settings_are_handed_to_uv(tmp_path):
    user = tmp_path / "xdg" / "pip" / "pip.conf"
    user.parent.mkdir(parents=True)
    user.write_text("[global]\nindex-url = https://global.example.com/simple\n[install]\nindex-url = https://u:tok3n@install.example.com/simple\n")
    cfg = detect_index(_env(tmp_path), cwd=tmp_path)
    assert (cfg.default, cfg.tool) == ("https://u:tok3n@install.example.com/simple", "pip")
    assert cfg.uv_env() == {"UV_DEFAULT_INDEX": "https://u:tok3n@install.example.com/simple"}
    assert "tok3n" not in cfg.shown() + json.dumps(cfg.to_json())
    override = tmp_path / "override.conf"
    override.write_text(f"[global]\nindex-url = {ART}\nextra-index-url =\n    {TORCH_MIRROR}\n")
    cfg = detect_index(_env(tmp_path, PIP_CONFIG_FILE=str(override)), cwd=tmp_path)  # loaded last, wins
    assert (cfg.default, cfg.extra, cfg.source) == (ART, (TORCH_MIRROR,), f"pip.conf ({override})")
    assert cfg.uv_env() == {"UV_DEFAULT_INDEX": ART, "UV_INDEX": TORCH_MIRROR}
    assert detect_index(_env(tmp_path, PIP_INDEX_URL=ART), cwd=tmp_path).source == "PIP_INDEX_URL"


def _lock() -> Lock:
    pkgs = (
        LockedPackage("numpy", "2.0.0", "https://files.pythonhosted.org/packages/aa/numpy-2.0.0-cp312.whl", 1, "wheel", "a" * 64),
        LockedPackage("torch", "2.7.0+cu128", "https://download.pytorch.org/whl/cu128/torch-2.7.0%2Bcu128-cp312.whl", 1, "wheel", "b" * 64),
        LockedPackage("vllm", "0.1.dev1", "https://github.com/o/r/releases/download/v/vllm-0.1.dev1-cp312.whl", 1, "wheel", "c" * 64),
        LockedPackage("local", "1.0", "file:///bundle/wheels/local-1.0-py3-none-any.whl", 1, "wheel", "d" * 64),
    )
    return Lock(Path("pylock.x.toml"), "0" * 64, pkgs, None, {})


def _routes(cfg, pairs=()):
    return {r.group: (r.via, r.names) for r in plan_routes(_lock(), cfg, pairs=list(pairs), url_addressed=frozenset({"vllm"}),
                                                         torch_origins=frozenset({"https://download.pytorch.org"}))}


def test_routes_by_group():
    # no index configured, or PyPI itself: every file by the lock's URL, as before
    for cfg in (IndexConfig(), IndexConfig("https://pypi.org/simple", (), "UV_INDEX_URL", "uv")):
        assert {via for via, _ in _routes(cfg).values()} == {"url", "file"}
    # a company mirror of PyPI: PyPI's files by name through it; PyTorch's need an extra index
    only_pypi = _routes(IndexConfig(ART, (), "UV_INDEX_URL", "uv"))
    assert only_pypi["https://files.pythonhosted.org"] == ("index", ("numpy",))
    assert only_pypi["https://download.pytorch.org"] == ("url", ("torch",))
    assert only_pypi["artifacts"] == ("url", ("vllm",)) and only_pypi["local files"] == ("file", ("local",))
    both = _routes(IndexConfig(ART, (TORCH_MIRROR,), "UV_INDEX_URL", "uv"))
    assert both["https://download.pytorch.org"] == ("index", ("torch",))
    # a file-only mirror given with --mirror wins for what it maps
    mapped = _routes(IndexConfig(ART, (), "UV_INDEX_URL", "uv"), [("https://download.pytorch.org/whl/", "https://files.example.com/torch/")])
    assert mapped["https://download.pytorch.org"] == ("mirror", ("torch",))
    # files already on the configured index's host: the lock's URLs (the cache-by-hash fast path)
    same_host = _routes(IndexConfig("https://files.pythonhosted.org/simple-mirror", (), "UV_INDEX_URL", "uv"))
    assert same_host["https://files.pythonhosted.org"][0] == "url"


def test_manifest_lines_by_name_and_by_url():
    lock = _lock()
    routes = plan_routes(lock, IndexConfig(ART, (TORCH_MIRROR,), "UV_INDEX_URL", "uv"), pairs=[],
                         url_addressed=frozenset({"vllm"}), torch_origins=frozenset({"https://download.pytorch.org"}))
    lines = install_manifest(lock, by_name=by_name(routes)).splitlines()
    assert lines[0] == f"numpy==2.0.0 --hash=sha256:{'a' * 64}"
    assert lines[1] == f"torch==2.7.0+cu128 --hash=sha256:{'b' * 64}"
    assert lines[2].startswith("vllm @ https://github.com/") and lines[3].startswith("local @ file:///")


def test_the_keyring_provider_uvs_setting_first_then_pips(tmp_path):
    assert not detect_index(_env(tmp_path), cwd=tmp_path).uses_keyring
    cfg = detect_index(_env(tmp_path, UV_KEYRING_PROVIDER="subprocess", PIP_KEYRING_PROVIDER="disabled"), cwd=tmp_path)
    assert (cfg.uses_keyring, cfg.keyring_from, cfg.uv_env()) == (True, "uv", {})  # uv reads its own
    off = detect_index(_env(tmp_path, UV_KEYRING_PROVIDER="disabled", PIP_KEYRING_PROVIDER="subprocess"), cwd=tmp_path)
    assert not off.uses_keyring
    conf = tmp_path / "uv.toml"
    conf.write_text('[pip]\nkeyring-provider = "subprocess"\n')
    assert detect_index(_env(tmp_path), cwd=tmp_path).uses_keyring
    conf.unlink()
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text(f"[global]\nindex-url = {ART}\n[install]\nkeyring-provider = subprocess\n")
    cfg = detect_index(_env(tmp_path, PIP_CONFIG_FILE=str(pip_conf)), cwd=tmp_path)
    assert cfg.uses_keyring and cfg.uv_env() == {"UV_KEYRING_PROVIDER": "subprocess", "UV_DEFAULT_INDEX": ART}
    # pip's `auto` asks the keyring only when it may prompt: never here
    assert not detect_index(_env(tmp_path, PIP_KEYRING_PROVIDER="auto"), cwd=tmp_path).uses_keyring
