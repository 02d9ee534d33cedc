"""Which hosts the route choice asks before it takes a route (issue 24): one configuration, one probe per host."""

from __future__ import annotations

from unittest import mock

from skyrl_setup.detect.index_config import IndexConfig
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.locks.pylock import load
from skyrl_setup.plan.routes import extra_sources
from tests.conftest import REPO

LOCKS = REPO / "lockfiles" / "skyrl-train-0.3.0"


def test_behind_a_mirror_pypis_files_are_not_outside_hosts():
    """Files the lock names on PyPI are fetched through the configured index by name: never probed one by one."""
    lock = load(LOCKS / "pylock.vllm-pypi-cu128-linux_x86_64.toml")
    for env in ({"UV_INDEX_URL": "http://127.0.0.1:9/simple"}, {"UV_DEFAULT_INDEX": "http://127.0.0.1:9/simple"},
                {"PIP_INDEX_URL": "http://127.0.0.1:9/simple"}, {}):
        with mock.patch.dict("os.environ", env, clear=False):
            assert extra_sources(lock) == {}, env


def test_the_skyrl_route_is_probed_once_per_index_or_host():
    lock = load(LOCKS / "pylock.vllm-skyrl-cu128.toml")
    assert sorted(extra_sources(lock, cfg=IndexConfig())) == ["https://download.pytorch.org/whl/cu128", "https://flashinfer.ai/whl/cu128"]


def test_configured_indexes_are_probed_instead_of_the_ones_they_stand_in_for():
    """As index_route fetches: PyTorch's files by name through a configured extra index, other indexes' through a
    configured default; a --mirror of an index wins over both."""
    lock = load(LOCKS / "pylock.vllm-skyrl-cu128.toml")
    cfg = IndexConfig("https://mirror.example/pypi/simple", ("https://mirror.example/torch/simple",), "UV_INDEX_URL", "uv")
    assert extra_sources(lock, cfg=cfg) == {"https://mirror.example/torch/simple": "https://mirror.example/torch/simple/torch/",
                                            "https://mirror.example/pypi/simple": "https://mirror.example/pypi/simple/flashinfer-jit-cache/"}
    mirrors = Mirrors((("https://download.pytorch.org/whl/cu128", "https://m.example/cu128"),))
    places = extra_sources(lock, mirrors, cfg=IndexConfig())
    assert "https://m.example/cu128" in places and places["https://m.example/cu128"].startswith("https://m.example/cu128/")
