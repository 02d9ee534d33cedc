"""`install --with` adds to SkyRL's set (issue 24): the chosen route's lock is the basis, every package of it kept
at its version; the date cutoff never applies to what the lock pins, so a mirror without upload times resolves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from skyrl_setup.locks.pylock import load as load_lock
from tests.conftest import PYENV_312, REPO, base_env, cli, mirror_map, write_release
from tests.support.catalog import stack
from tests.support.index import LocalIndex
from tests.support.skyrl_checkout import uv_lock, write_checkout
from tests.support.wheels import FakeDist
from tests.test_route_lock import PYPI_LOCK, fi_data, fi_env, fi_index, pypi_only  # noqa: F401  (fixtures)


def _planned(r) -> dict[str, str]:
    return {p["name"]: p["version"] for p in r.data["plan"]["packages"]}


def _route_lock(r) -> dict[str, str]:
    lock = load_lock(Path(r.data["plan"]["route"]["lockfile"]), r.data["plan"]["python"]["version"], "linux_x86_64")
    return {p.name: p.version for p in lock.packages}


def test_an_addition_already_in_the_lock_plans_the_lock(env, tmp_path):
    r = cli("install", "--with", "ray", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=env)
    assert r.returncode == 0, r.stderr
    assert _planned(r) == _route_lock(r)


def test_a_new_addition_adds_itself_and_only_its_missing_requirements(env, tmp_path):
    r = cli("install", "--with", "megatron-bridge", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=env)
    assert r.returncode == 0, r.stderr
    lock, planned = _route_lock(r), _planned(r)
    assert "megatron-core" not in lock
    assert {n: v for n, v in planned.items() if n in lock} == lock  # nothing of SkyRL's set dropped or moved
    assert set(planned) - set(lock) == {"megatron-bridge", "megatron-core"}


@pytest.fixture(scope="module")
def nccl_index(tmp_path_factory):
    """The stack, plus an older NCCL and a package that needs it: SkyRL's lock takes NCCL 2.26.2 (torch leaves it free)."""
    catalog = stack()
    catalog["pypi"] += [FakeDist("nvidia-nccl-cu12", "2.25.1", module="_none_nccl"),
                        FakeDist("old-nccl-user", "1.0", ("nvidia-nccl-cu12==2.25.1",))]
    idx = LocalIndex(tmp_path_factory.mktemp("nccl-index"), catalog).start()
    yield idx
    idx.stop()


@pytest.fixture(scope="module")
def nccl_data(tmp_path_factory, nccl_index, uv_cache) -> Path:
    root = write_checkout(tmp_path_factory.mktemp("nccl-skyrl") / "skyrl-train", nccl_index.url("pytorch-cu128"))
    uv_lock(root, base_env(nccl_index, uv_cache, REPO, tmp_path_factory.mktemp("nccl-checkout-home")), str(PYENV_312[0]))
    d = tmp_path_factory.mktemp("nccl-data")
    shutil.copytree(REPO / "profiles", d / "profiles")
    (d / "lockfiles").mkdir()
    write_release(d / "releases", root)
    r = cli("lock", "--from-skyrl", str(root), "--backend", "sglang", "--json",
            env=base_env(nccl_index, uv_cache, d, tmp_path_factory.mktemp("nccl-lock-home")))
    assert r.returncode == 0, r.stderr
    return d


def test_an_addition_that_moves_a_locked_package_is_refused_naming_it(nccl_index, nccl_data, uv_cache, tmp_path):
    env = dict(base_env(nccl_index, uv_cache, nccl_data, tmp_path / "home"), SKYRL_SETUP_MIRRORS=mirror_map(nccl_index))
    r = cli("install", "--with", "old-nccl-user", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=env)
    assert r.returncode == 3, r.stderr
    assert "nvidia-nccl-cu12 2.26.2 -> 2.25.1" in r.error["message"] and "--allow-moves" in r.error["hint"]
    r = cli("install", "--with", "old-nccl-user", "--allow-moves", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=env)
    assert r.returncode == 0, r.stderr
    lock, planned = _route_lock(r), _planned(r)
    assert planned["nvidia-nccl-cu12"] == "2.25.1" and lock["nvidia-nccl-cu12"] == "2.26.2"
    del planned["nvidia-nccl-cu12"], lock["nvidia-nccl-cu12"], planned["old-nccl-user"]
    assert planned == lock


def test_with_on_a_pypi_only_host_adds_to_the_pypi_route_lock(fi_env, pypi_only, tmp_path):
    """Issue 23's leftover: the resolution took the profile's pins and PyTorch's index, which this host cannot reach."""
    r = cli("install", "--backend", "vllm", "--with", "accelerate==1.10.0", "--dry-run", "--json",
            "--venv", str(tmp_path / "e"), env=fi_env)
    assert r.returncode == 0, r.stderr
    assert Path(r.data["plan"]["route"]["lockfile"]).name == PYPI_LOCK
    lock, planned = _route_lock(r), _planned(r)
    assert planned.pop("accelerate") == "1.10.0" and planned == lock


@pytest.fixture
def html_mirror(index):
    """The local index's very files, served only as PEP 503 HTML pages: no upload times."""
    idx = LocalIndex(index.root, {}, source=index, html_only=True).start()
    yield idx
    idx.stop()


def _html_env(env, idx, upstream) -> dict[str, str]:
    """The mirror as the default index and as PyTorch's (an extra index), the usual way; the locks' own index pages
    answer 503 (their files stay reachable: the route's probes are not what this is about)."""
    upstream.inject(r"/simple/", "status", 503)
    return dict(env, UV_INDEX_URL=idx.url(), UV_INDEX=idx.url("pytorch-cu128"),
                SKYRL_SETUP_MIRRORS=f"https://download.pytorch.org/whl/cu128={idx.url('pytorch-cu128')} https://github.com/=http://127.0.0.1:9/")


def test_with_resolves_behind_a_mirror_without_upload_times(env, html_mirror, index, tmp_path):
    r = cli("install", "--with", "ray", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=_html_env(env, html_mirror, index))
    assert r.returncode == 0, r.stderr
    assert _planned(r) == _route_lock(r)
    assert html_mirror.requests and not [p for p in index.requests if "/simple/" in p]
    index.clear()


def test_where_the_cutoff_still_matters_the_hint_names_the_missing_upload_times(env, html_mirror, index, tmp_path):
    # megatron-core is in no lock: the profile's date cutoff still applies to it, and the mirror gives no dates
    r = cli("install", "--with", "megatron-bridge", "--dry-run", "--venv", str(tmp_path / "e"), env=_html_env(env, html_mirror, index))
    index.clear()
    assert r.returncode == 3, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "upload times" in r.stderr, r.stderr


@pytest.fixture
def pip_conf_mirror(index, env, tmp_path):
    """A company mirror (Artifactory's layout) of the default index and of PyTorch's, configured only in pip.conf;
    the locks' own index pages answer 503 and every other host sits behind a dead proxy."""
    idx = LocalIndex(index.root, {}, layout="artifactory", source=index).start()
    index.inject(r"/simple/", "status", 503)
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = {idx.url()}\nextra-index-url = {idx.url('pytorch-cu128')}\n")
    e = {k: v for k, v in env.items() if k != "UV_INDEX_URL"}
    e.update(PIP_CONFIG_FILE=str(conf), HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    yield idx, e
    index.clear()
    idx.stop()


def test_check_compat_and_with_behind_a_mirror_in_pip_conf(pip_conf_mirror, index, tmp_path):
    mirror, env = pip_conf_mirror
    r = cli("check-compat", "accelerate==1.10.0", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["resolved"]["torch"] == "2.7.1+cu128"
    r = cli("install", "--with", "megatron-bridge", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=env)
    assert r.returncode == 0, r.stderr
    lock, planned = _route_lock(r), _planned(r)
    assert {n: v for n, v in planned.items() if n in lock} == lock and set(planned) - set(lock) == {"megatron-bridge", "megatron-core"}
    assert [p for p in mirror.requests if "/simple/" in p] and not [p for p in index.requests if "/simple/" in p]


def test_upgrade_resolves_behind_a_mirror_without_upload_times(env, sglang_env, html_mirror, index):
    """What the upgrade does not move is held at the lock's versions, past the date cutoff; the moved sglang is exempt."""
    r = cli("upgrade", "sglang==0.4.9.post1", "--dry-run", "--json", "--venv", str(sglang_env), env=_html_env(env, html_mirror, index))
    index.clear()
    assert r.returncode == 0, r.stderr
    assert [c for c in r.data["changes"] if c["name"] == "sglang"] == [{"name": "sglang", "old": "0.4.8.post1", "new": "0.4.9.post1"}]
    assert [c["name"] for c in r.data["changes"]] == ["sglang"]


def _versions(path: Path) -> dict[str, str]:
    return {p.name: p.version for p in load_lock(path).packages}


def test_lock_from_skyrl_resolves_behind_a_mirror_without_upload_times(env, html_mirror, index, skyrl_checkout, tmp_path):
    """The pypi route's resolution holds SkyRL's versions: the date cutoff is not applied to what SkyRL's lock pins, so
    the lockfiles come out with the same versions as through an index that serves upload times."""
    out = tmp_path / "out"
    index.inject(r"/simple/", "status", 503)  # only the mirror answers (of PyPI: the pypi route is PyPI's alone)
    r = cli("lock", "--from-skyrl", str(skyrl_checkout), "--backend", "sglang", "-o", str(out), "--json",
            env=dict(env, UV_INDEX_URL=html_mirror.url()))
    index.clear()
    assert r.returncode == 0, r.stderr
    committed = Path(env["SKYRL_SETUP_DATA_DIR"]) / "lockfiles" / "skyrl-train-0.3.1"
    names = sorted(Path(row["lockfile"]).name for row in r.data["lockfiles"])
    assert names == ["pylock.sglang-pypi-cu126-linux_x86_64.toml", "pylock.sglang-skyrl-cu128.toml"]
    for name in names:
        assert _versions(out / name) == _versions(committed / name), name
