"""Shared fixtures: a real package index on 127.0.0.1, real uv, the real CLI in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.catalog import stack
from tests.support.index import LocalIndex
from tests.support.skyrl_checkout import uv_lock, write_checkout

REPO = Path(__file__).resolve().parents[1]
PYENV_312 = sorted(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"), "versions").glob("3.12.*/bin/python3.12"))


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        """The whole JSON envelope: {"schema", "command", "ok", "exit_code", "data" | "error"}."""
        return json.loads(self.stdout)

    @property
    def data(self) -> dict:
        doc = self.json
        assert doc["schema"] == 1 and "data" in doc, doc
        return doc["data"]

    @property
    def error(self) -> dict:
        doc = self.json
        assert doc["schema"] == 1 and "error" in doc and doc["ok"] is False, doc
        return doc["error"]


STEERING = ("UV_", "SKYRL_SETUP_", "VIRTUAL_ENV", "PIP_", "NCCL_", "XDG_")  # what moves skyrl-setup's, uv's or pip's data, config, indexes
KEPT = ("SKYRL_SETUP_UV",)  # asked for on purpose: the suite checks another uv with it (tests/test_uv_backend.py)
# A persistent uv cache for the real-PyPI tests, asked for by name (a developer's warm re-runs); by default they use
# one of the session's own, removed when it ends: the caller's uv cache never grows by their gigabytes.
NETWORK_CACHE = os.environ.get("SKYRL_TEST_UV_CACHE")


def _steers(key: str) -> bool:
    return key.startswith(STEERING) or key == "CONDA_PREFIX"


# The suite's own process too (in-process tests read the environment: detect_index, settings, platformdirs): the
# caller's settings are dropped once, here, before any test or fixture runs (in each xdist worker as well).
for _key in [k for k in os.environ if _steers(k) and k not in KEPT]:
    del os.environ[_key]
os.environ["PIP_CONFIG_FILE"] = os.devnull
# what the suite's own process caches (parsed lockfiles, index pages) goes to a folder of its own, removed at its end:
# never the caller's ~/.cache
SUITE_CACHE = tempfile.mkdtemp(prefix="skyrl-setup-suite-cache-")
os.environ["SKYRL_SETUP_CACHE_DIR"] = SUITE_CACHE


def pytest_unconfigure(config):
    shutil.rmtree(SUITE_CACHE, ignore_errors=True)


def _without_shims(path: str) -> str:
    """PATH without version managers' shims (pyenv's): each call of one is a shell pipeline (~0.1 s) that answers
    for the caller's pyenv version, and uv's interpreter discovery calls them on every `uv pip compile` and
    `uv export` (a fifth of the suite's CPU time; `lock --from-skyrl` 7.7 s -> 3.1 s). The suite names its Pythons by
    path (PYENV_312), and skyrl-setup reads pyenv's versions folder itself."""
    return os.pathsep.join(d for d in path.split(os.pathsep) if not d.rstrip("/").endswith("/shims"))


def clean_env() -> dict[str, str]:
    """The caller's environment without what steers skyrl-setup, uv or pip (XDG_* moves their data and config; a
    pyenv shim on PATH answers for the caller's pyenv version); a proxy the caller sets is kept, but never for the
    local index."""
    env = {k: v for k, v in os.environ.items() if not _steers(k)}
    env["PATH"] = _without_shims(env.get("PATH", os.defpath))
    env["PIP_CONFIG_FILE"] = os.devnull  # pip's own switch for "no pip.conf": the machine's indexes stay out
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(x for x in (env.get(key), "127.0.0.1", "localhost") if x)
    return env


@pytest.fixture(scope="session")
def index(tmp_path_factory):
    idx = LocalIndex(tmp_path_factory.mktemp("index"), stack()).start()
    yield idx
    idx.stop()


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


PYPI_CACHE = "uv-cache-real-pypi"
_pypi_caches: set[Path] = set()  # made by this process, removed when its session ends


def _session_root(tmp_path_factory) -> Path:
    """The session's base temporary folder: under xdist, the controller's, which holds each worker's own."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def pypi_cache(tmp_path_factory) -> Path:
    """The uv cache of the real-PyPI tests: one for the whole session, its xdist workers' too (uv locks its cache,
    and a wheel two tests need is fetched once), removed when the session ends, passed or failed (pytest_sessionfinish):
    the caller's uv cache never grows by their gigabytes. SKYRL_TEST_UV_CACHE names a lasting one instead."""
    if NETWORK_CACHE:
        return Path(NETWORK_CACHE)
    cache = _session_root(tmp_path_factory) / PYPI_CACHE
    cache.mkdir(exist_ok=True)
    _pypi_caches.add(cache)
    return cache


def pypi_env(tmp_path: Path, cache: Path) -> dict[str, str]:
    """The environment of a real-PyPI test: the caller's without its tool settings (a proxy stays), the test's own
    homes, and the session's uv cache (`pypi_cache`)."""
    env = clean_env()
    env.update({"SKYRL_SETUP_HOME": str(tmp_path / "home"), "SKYRL_SETUP_LOG_DIR": str(tmp_path / "logs"),
                "SKYRL_SETUP_CACHE_DIR": str(tmp_path / "skyrl-setup-cache"), "UV_CACHE_DIR": str(cache),
                "UV_PYTHON_DOWNLOADS": "never", "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
                "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"), "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
                "TMPDIR": str(scratch(tmp_path / "tmp"))})
    return env


def scratch(folder: Path) -> Path:
    """A TMPDIR of the suite's own for the tool and uv: what a killed run (the SIGKILL tests) cannot remove, and uv's
    build locks, go with pytest's folders instead of piling up in /tmp."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(autouse=True)
def _real_pypi_environments_go(request):
    """A real-PyPI test's environments (several GB each) go when it ends, failed too: pytest keeps a failed test's
    tmp_path for a look (its logs, lockfiles and checkout copy stay), and would keep them until a later session
    fails in turn (tmp_path_retention_count counts the sessions whose folders are left)."""
    yield
    tmp = request.node.funcargs.get("tmp_path") if request.node.get_closest_marker("network") else None
    if tmp is None or not tmp.is_dir():
        return
    for env in [*tmp.glob(".*.skyrl"), *tmp.glob("*/.*.skyrl"), *(c.parent for c in tmp.glob("*/pyvenv.cfg"))]:
        shutil.rmtree(env, ignore_errors=True)


def pytest_sessionfinish(session):
    """The real-PyPI tests' uv cache goes with the session whatever its outcome (pytest keeps a failed session's
    folders for a look; gigabytes of wheels explain nothing). Under xdist the controller removes it, once its
    workers are done; each worker's per-test folders go as pytest's tmp_path_retention_policy says."""
    if os.environ.get("PYTEST_XDIST_WORKER") or NETWORK_CACHE:
        return
    caches = set(_pypi_caches)
    if session.config.pluginmanager.hasplugin("dsession"):  # the xdist controller: its workers share its basetemp
        caches.add(session.config._tmp_path_factory.getbasetemp() / PYPI_CACHE)
    for cache in caches:
        shutil.rmtree(cache, ignore_errors=True)


def _module_scoped(item) -> bool:
    """Whether a test uses a fixture its module builds once (an environment, an index, a cluster)."""
    info = getattr(item, "_fixtureinfo", None)
    for defs in (getattr(info, "name2fixturedefs", None) or {}).values():
        if defs and defs[-1].scope in ("module", "class", "package"):
            return True
    return False


# the real-PyPI tests that take longest (a CUDA stack each, or eight locks), by a piece of their names
LONGEST_PYPI_TESTS = ("installs", "is_built", "real_vllm_lock", "make_lock_reproduces_the_committed")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """For `make test`'s xdist run (tests/support/scheduling.py: each test, or group, goes to the next free worker in
    this order): the real-PyPI tests first (minutes each: started last, they would end the run alone), then each
    module's tests that share a module-scoped fixture, as one group (one worker builds it once), larger groups
    first, then the rest as collected. A run without xdist keeps the collected order."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from tests.support import scheduling

    groups: dict[str, str] = {}
    for item in items:
        mark = item.get_closest_marker("xdist_group")
        if mark is not None:
            groups[item.nodeid] = str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        elif item.get_closest_marker("network") is None and _module_scoped(item):
            groups[item.nodeid] = item.nodeid.split("::", 1)[0]
            item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
    sizes: dict[str, int] = {}
    for name in groups.values():
        sizes[name] = sizes.get(name, 0) + 1

    def rank(item) -> tuple:
        if item.get_closest_marker("network") is not None:  # the longest first: the installs, then the locks
            return (0, not any(f in item.name for f in LONGEST_PYPI_TESTS), "")
        if item.nodeid in groups:
            return (1, -sizes[groups[item.nodeid]], groups[item.nodeid])
        return (2, 0, "")

    items.sort(key=rank)  # stable: the collected order within each rank
    scheduling.publish_groups(config, groups)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup, by tests/support/scheduling.py's scheduler: xdist's own loses its groups on pytest 9.2
    (pytest-dev/pytest-xdist#1386) and reorders the queue by group size."""
    if config.getvalue("dist") == "loadgroup":
        from tests.support.scheduling import OrderedGroups

        return OrderedGroups(config, log)
    return None


DEAD_URL = "http://127.0.0.1:9/"  # nothing listens on the discard port: connection refused at once


def mirror_map(index: LocalIndex, *, assets: bool = False) -> str:
    """PyTorch's index -> the local one; GitHub -> the local asset server, or a dead port."""
    return " ".join([
        f"https://download.pytorch.org/whl/cu128={index.url('pytorch-cu128')}",
        f"https://github.com/={index.asset_url() if assets else DEAD_URL}",
    ])


def base_env(index: LocalIndex, uv_cache: Path, data_dir: Path, home: Path) -> dict[str, str]:
    env = clean_env()
    env.update({
        "UV_INDEX_URL": index.url(),
        "UV_CACHE_DIR": str(uv_cache),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_HTTP_TIMEOUT": "10",
        "UV_HTTP_RETRIES": "0",
        "SKYRL_SETUP_DATA_DIR": str(data_dir),
        "SKYRL_SETUP_HOME": str(home),
        "SKYRL_SETUP_LOG_DIR": str(home / "logs"),
        "SKYRL_SETUP_CONFIG_DIR": str(home / "config"),
        "SKYRL_SETUP_CUDA_DRIVER": "none",
        "SKYRL_SETUP_MIRRORS": mirror_map(index),
        "XDG_CACHE_HOME": str(home / "xdg-cache"),
        "XDG_CONFIG_HOME": str(home / "xdg-config"),  # no user-level uv.toml or pip.conf of the caller's
        "SKYRL_SETUP_CACHE_DIR": str(home / "cache"),
        "TMPDIR": str(scratch(uv_cache.parent / "tmp")),  # the session's (beside its uv cache), removed with it
    })
    return env


def cli(*args: str, env: dict[str, str], timeout: float = 300, cwd: Path | None = None) -> Run:
    p = subprocess.run([sys.executable, "-m", "skyrl_setup", *args], capture_output=True, text=True,
                       env=env, timeout=timeout, cwd=cwd or REPO)
    return Run(p.returncode, p.stdout, p.stderr)


@pytest.fixture(scope="session")
def skyrl_checkout(tmp_path_factory, index, uv_cache) -> Path:
    """A SkyRL-like checkout whose uv.lock the real uv made against the local index."""
    root = write_checkout(tmp_path_factory.mktemp("skyrl") / "skyrl-train", index.url("pytorch-cu128"))
    env = base_env(index, uv_cache, REPO, tmp_path_factory.mktemp("checkout-home"))
    uv_lock(root, env, str(PYENV_312[0]))
    return root


def write_release(folder: Path, checkout: Path, version: str = "0.3.1", sound: bool = True) -> Path:
    """The catalog entry of a synthetic checkout's release: skyrl-train 0.3.1's own data with the checkout's
    lock sha256 (and, `sound`, without 0.3.1's defect: the synthetic code has none)."""
    text = (REPO / "releases" / "skyrl-train-0.3.1.toml").read_text(encoding="utf-8")
    text = re.sub(r'lock_sha256 = "[0-9a-f]+"', f'lock_sha256 = "{hashlib.sha256((checkout / "uv.lock").read_bytes()).hexdigest()}"', text)
    text = text.replace('version = "0.3.1"', f'version = "{version}"')
    if sound:
        text = re.sub(r"\[\[defects\]\]\n(.+\n)+?\n", "", text)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"skyrl-train-{version}.toml"
    out.write_text(text, encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, index, uv_cache, skyrl_checkout) -> Path:
    """The real profiles, with lockfiles made by `skyrl-setup lock` against the local index:
    from the synthetic SkyRL checkout's lock (both routes), and the version matrix's set."""
    d = tmp_path_factory.mktemp("data")
    shutil.copytree(REPO / "profiles", d / "profiles")
    (d / "lockfiles").mkdir()
    write_release(d / "releases", skyrl_checkout)
    env = base_env(index, uv_cache, d, tmp_path_factory.mktemp("lock-home"))
    r = cli("lock", "--from-skyrl", str(skyrl_checkout), "--json", env=env)
    assert r.returncode == 0, r.stderr
    r = cli("lock", "--backend", "sglang-matrix", "--json", env=env)
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture
def env(index, uv_cache, data_dir, tmp_path) -> dict[str, str]:
    index.clear()
    home = tmp_path / "home"
    home.mkdir()
    return base_env(index, uv_cache, data_dir, home)


def install_sglang(venv: Path, env: dict[str, str], *, default_place: bool = False) -> Run:
    """`install --strict` of the sglang backend from the local index, by SkyRL's own route (its lock, torch from the
    local "PyTorch index"). That route is taken when a probe of the index answers within plan.routes.PROBE_TIMEOUT
    (1.5 s); on a machine saturated by the suite's workers the answer can come late, and the fallback route's torch
    build would change what every test reading the environment sees: then it is built once more, from nothing."""
    for attempt in (1, 2):
        where = () if default_place else ("--venv", str(venv))  # default_place: `venv` is where no --venv puts it
        r = cli("install", *where, "--strict", "--json", env=env)
        assert r.returncode == 0, r.stderr  # ready for SkyRL training: flash-attn came from the release-asset server
        route = r.data["plan"].get("route") or {}
        late = route.get("route") != "skyrl" and any("probed for" in s for s in route.get("skipped", []))
        if not late or attempt == 2:
            return r
        shutil.rmtree(venv.parent / f".{venv.name}.skyrl", ignore_errors=True)  # its store: the next one is gen-0001 again
        venv.unlink(missing_ok=True)
    return r


@pytest.fixture
def sglang_env(env, tmp_path, index) -> Path:
    """A fresh sglang environment of the test's own, built from the local index."""
    venv = tmp_path / "env"
    install_sglang(venv, dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True)))
    return venv


@pytest.fixture(scope="session")
def installed_sglang(tmp_path_factory, index, uv_cache, data_dir):
    """One sglang environment built once, for tests that only read it."""
    home = tmp_path_factory.mktemp("shared-home")
    env = base_env(index, uv_cache, data_dir, home)
    venv = home / "envs" / "sglang"  # the default place (no --venv), as a user's first install
    install_sglang(venv, dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True)), default_place=True)
    return venv, env


@pytest.fixture(scope="session")
def fake_libcuda(tmp_path_factory) -> Path:
    """tests/support/fake_libcuda.c built as a libcuda.so.1 the driver probe (and sgl_kernel's stand-in) can load."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler on this machine to build the fake libcuda")
    out = tmp_path_factory.mktemp("libcuda") / "libcuda.so.1"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(out), str(Path(__file__).parent / "support" / "fake_libcuda.c")],
                   check=True)
    return out


def built_env(tmp_path_factory, index, uv_cache, data_dir, name: str) -> tuple[Path, dict[str, str]]:
    """An sglang environment in a home of its own (for a module's tests that share one), and that home's env."""
    home = tmp_path_factory.mktemp(name)
    env = base_env(index, uv_cache, data_dir, home)
    venv = home / "env"
    assert cli("install", "--venv", str(venv), env=env).returncode == 0
    return venv, env


def venv_run(venv: Path, code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env)
