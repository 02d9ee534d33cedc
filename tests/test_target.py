"""One Target (Python, platform, glibc, CUDA) for the pre-check and uv: bug 6 (an aarch64 host judged by
x86_64 wheels) and pre-releases (a plain `>=` never picks an rc)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from skyrl_setup.catalog import profiles
from skyrl_setup.commands import compat_cmd
from skyrl_setup.commands.requests import CheckCompatRequest
from skyrl_setup.commands.ui import Silent
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.detect.target import Target
from skyrl_setup.errors import ConflictError, ExitCode
from skyrl_setup.resolver.check import check_compat
from tests.support.index import LocalIndex
from tests.support.wheels import FakeDist

X86 = "cp312-cp312-manylinux_2_17_x86_64"
ARM = "cp312-cp312-manylinux_2_17_aarch64"

AARCH64 = Target("3.12.1", "linux_aarch64", "2.36", "cu128")
X86_64 = Target("3.12.1", "linux_x86_64", "2.36", "cu128")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An index whose kernels have wheels for one architecture or both, and torch with a release candidate."""
    idx = LocalIndex(tmp_path_factory.mktemp("tiny-index"), {"pypi": [
        FakeDist("torch", "2.7.1"),
        FakeDist("torch", "2.9.0rc1"),
        FakeDist("fastkern", "1.0", ("torch>=2.7",), tag=X86),
        FakeDist("fastkern", "1.0", ("torch>=2.7",), tag=ARM),
        FakeDist("fastkern", "2.0", ("torch==2.7.1",), tag=X86),  # the newest: x86_64 only
        FakeDist("x86only", "1.0", tag=X86),
        FakeDist("onlypre", "1.0rc1"),
        FakeDist("wantsrc", "1.0", ("torch>=2.9.0rc1",)),
    ]}).start()
    yield idx
    idx.stop()


@pytest.fixture
def profile_path(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text('name = "tiny"\npython = "3.12"\ntorch = "2.7.1"\n[cuda]\nvariants = ["cu128"]\n'
                    '[cuda.torch_index]\ncu128 = "pypi"\n[packages]\ntorch = ">=2.7"\n', encoding="utf-8")
    return path


@pytest.fixture
def host(monkeypatch, tmp_path, tiny):
    """The check-compat command on a host of the given architecture, reading the tiny index."""
    monkeypatch.setenv("UV_INDEX_URL", tiny.url())
    for k in ("UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SKYRL_SETUP_CACHE_DIR", str(tmp_path / "cache"))

    def on(machine: str):
        monkeypatch.setattr("skyrl_setup.detect.system.platform.machine", lambda: machine)
    return on


def check_cmd(profile_path, *specs):
    """The command's result data, or the conflict it raised (exit 3) as {"conflict": ...}."""
    try:
        return compat_cmd.run(CheckCompatRequest(specs=specs, backends=(str(profile_path),)), Silent()).data
    except ConflictError as exc:
        return {**exc.details, "exit_code": exc.code}


def check(profile_path, additions, target, tiny):
    return check_compat([profiles.load(str(profile_path))], additions, target=target, mirrors=Mirrors(), indexes=[tiny.url()])


# -- bug 6: the pre-check judges the wheels of the host it runs on ------------------------------------

def test_check_compat_on_aarch64_host_judges_aarch64_wheels(host, profile_path):
    host("aarch64")
    res = check_cmd(profile_path, "x86only")
    assert res.get("exit_code") == ExitCode.CONFLICT, res
    assert res["conflict"]["package"] == "x86only"
    res = check_cmd(profile_path, "fastkern")
    assert res["compatible"] and res["resolved"]["fastkern"] == "1.0", res  # 2.0 has no aarch64 wheel


def test_check_compat_on_x86_64_host(host, profile_path):
    host("x86_64")
    assert check_cmd(profile_path, "x86only")["compatible"]
    assert check_cmd(profile_path, "fastkern")["resolved"]["fastkern"] == "2.0"


def test_target_decides_the_wheels(profile_path, tiny):
    res = check(profile_path, ["x86only"], AARCH64, tiny)
    assert not res.ok and res.conflict.package == "x86only"
    assert "3.12.1 on linux_aarch64" in res.conflict.sentence
    assert check(profile_path, ["x86only"], X86_64, tiny).ok
    assert check(profile_path, ["fastkern"], AARCH64, tiny).pins["fastkern"] == "1.0"
    assert check(profile_path, ["fastkern"], X86_64, tiny).pins["fastkern"] == "2.0"


def test_glibc_caps_manylinux(profile_path, tiny):
    old = Target("3.12.1", "linux_x86_64", "2.12", "cu128")  # older than manylinux_2_17
    assert not check(profile_path, ["x86only"], old, tiny).ok


# -- pre-releases: only where a requirement names one, or where a package has nothing else --------

def test_plain_lower_bound_never_picks_a_release_candidate(host, profile_path, tiny):
    host("x86_64")
    res = check_cmd(profile_path, "fastkern==1.0")
    assert res["resolved"]["torch"] == "2.7.1", res  # not 2.9.0rc1
    assert check(profile_path, [], X86_64, tiny).pins["torch"] == "2.7.1"


def test_explicit_release_candidate_is_taken(profile_path, tiny):
    assert check(profile_path, ["torch==2.9.0rc1"], X86_64, tiny).pins["torch"] == "2.9.0rc1"
    assert check(profile_path, ["wantsrc"], X86_64, tiny).pins["torch"] == "2.9.0rc1"  # a dependency may name one
    assert check(profile_path, ["onlypre"], X86_64, tiny).pins["onlypre"] == "1.0rc1"  # nothing but pre-releases


def test_release_candidate_against_a_stable_pin_clashes(profile_path, tiny):
    res = check(profile_path, ["torch==2.9.0rc1", "fastkern==2.0"], X86_64, tiny)
    assert not res.ok and res.conflict.package == "torch"


# -- Target itself ----------------------------------------------------------------------------------

def test_for_host(monkeypatch):
    monkeypatch.setattr("skyrl_setup.detect.system.platform.machine", lambda: "aarch64")
    monkeypatch.setattr("skyrl_setup.detect.system.glibc_version", lambda: "2.39")
    t = Target.for_host("3.12.4", "cu128")
    assert t == Target("3.12.4", "linux_aarch64", "2.39", "cu128") and t.minor == "3.12"
    assert t.to_json() == {"python": "3.12.4", "platform": "linux_aarch64", "glibc": "2.39", "cuda": "cu128"}


@pytest.mark.parametrize("platform, glibc, expected", [
    ("linux_x86_64", "2.36", "x86_64-manylinux_2_36"),
    ("linux_aarch64", "2.35", "aarch64-manylinux_2_35"),
    ("linux_x86_64", "2.30", "x86_64-manylinux_2_28"),  # uv knows no 2_29 or 2_30
    ("linux_aarch64", "2.17", "aarch64-manylinux_2_17"),
    ("linux_x86_64", "2.41", "x86_64-manylinux_2_40"),  # beyond uv's highest level
    ("linux_aarch64", None, "aarch64-manylinux_2_28"),  # unknown: the committed locks' level
    ("darwin_aarch64", None, "aarch64-apple-darwin"),
])
def test_uv_platform(platform, glibc, expected):
    t = Target("3.12.1", platform, glibc, "cu128")
    assert t.uv_args() == ["--python-version", "3.12.1", "--python-platform", expected]


@pytest.mark.parametrize("python", ["3.12", "3", "3.12.x"])
def test_full_python_version_required(python):
    with pytest.raises(ValueError):
        Target(python, "linux_x86_64", None, "cpu")


def test_glibc_older_than_manylinux_is_refused():
    with pytest.raises(ValueError):
        Target("3.12.1", "linux_x86_64", "2.12", "cpu").uv_platform()


def uv_compile(target: Target, spec: str, tiny, tmp_path) -> subprocess.CompletedProcess:
    from uv import find_uv_bin

    req = tmp_path / "requirements.in"
    req.write_text(spec + "\n", encoding="utf-8")
    return subprocess.run([find_uv_bin(), "pip", "compile", str(req), "--index-url", tiny.url(), "--no-header",
                           "--cache-dir", str(tmp_path / "uv-cache"), "--python", sys.executable, *target.uv_args()],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "UV_PYTHON_DOWNLOADS": "never"})


@pytest.mark.parametrize("target, fastkern", [(AARCH64, "1.0"), (X86_64, "2.0"),
                                              (Target("3.12.1", "linux_aarch64", None, "cu128"), "1.0")])
def test_uv_takes_the_args_and_agrees_with_the_precheck(target, fastkern, tiny, tmp_path, profile_path):
    out = uv_compile(target, "fastkern", tiny, tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"fastkern=={fastkern}" in out.stdout and "torch==2.7.1" in out.stdout
    assert check(profile_path, ["fastkern"], target, tiny).pins["fastkern"] == fastkern


def test_uv_refuses_what_the_precheck_refuses(tiny, tmp_path, profile_path):
    assert uv_compile(AARCH64, "x86only", tiny, tmp_path).returncode != 0
    assert not check(profile_path, ["x86only"], AARCH64, tiny).ok
