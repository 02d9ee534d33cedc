"""The static check on a real SkyRL checkout (skyrl-train 0.3.0) installed as users install it: an
editable setuptools install by uv, whose finder files today annotate `MAPPING: dict[str, str] = {...}`
(issue 22). setuptools comes from real PyPI; SkyRL's own dependencies are left out (--no-deps), so the
only findings allowed are third-party modules that are simply not there."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from skyrl_setup.catalog.profiles import load
from skyrl_setup.verify.verdict import static_check
from tests.conftest import PYENV_312, REPO, clean_env, scratch

pytestmark = pytest.mark.network
CHECKOUT = REPO.parent / "shared" / "skyrl-checkout-0.3.0"
OWN = ("skyrl_train", "skyrl_gym")  # the checkout's import packages


def _uv(*args: str, cwd: Path, cache: Path) -> None:
    from uv import find_uv_bin

    env = clean_env()
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_CACHE_DIR"] = str(cache)  # the session's own (conftest.pypi_cache), never the caller's
    env["TMPDIR"] = str(scratch(cwd / "tmp"))  # uv's build locks stay out of /tmp
    p = subprocess.run([find_uv_bin(), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]


def _copy(tmp_path: Path) -> Path:
    """A writable copy (setuptools writes egg-info into it) with skyrl-train/skyrl-gym a symlink, as in a
    git checkout; the shared copy may hold git's text form of the link, which uv refuses as a path source."""
    co = tmp_path / "SkyRL"
    shutil.copytree(CHECKOUT, co, symlinks=True)
    for d, _, _ in os.walk(co):
        os.chmod(d, 0o755)
    link = co / "skyrl-train" / "skyrl-gym"
    if not link.is_symlink():
        target = link.read_text().strip()
        link.unlink()
        link.symlink_to(target)
    return co


@pytest.fixture(params=["finder", "pth"])
def editable_env(request, tmp_path, pypi_cache) -> tuple[Path, Path]:
    """skyrl-train editable with setuptools' default finder; skyrl-gym the same ('finder') or as a path
    entry in a .pth ('pth': setuptools' compat mode, the way hatchling, flit and poetry do it)."""
    if not CHECKOUT.is_dir() or not PYENV_312:
        pytest.skip("needs the shared SkyRL checkout and a Python 3.12")
    co = _copy(tmp_path)
    _uv("venv", "-q", "--python", str(PYENV_312[0]), "env", cwd=tmp_path, cache=pypi_cache)
    py = tmp_path / "env" / "bin" / "python"
    _uv("pip", "install", "-q", "--python", str(py), "setuptools>=80", "wheel", cwd=tmp_path, cache=pypi_cache)
    install = ["pip", "install", "-q", "--python", str(py), "--no-deps", "--no-build-isolation"]
    if request.param == "finder":
        _uv(*install, "-e", str(co / "skyrl-train"), "-e", str(co / "skyrl-gym"), cwd=tmp_path, cache=pypi_cache)
    else:
        _uv(*install, "-e", str(co / "skyrl-train"), cwd=tmp_path, cache=pypi_cache)
        _uv(*install, "--config-settings", "editable_mode=compat", "-e", str(co / "skyrl-gym"), cwd=tmp_path, cache=pypi_cache)
    return py, co


def _site(py: Path) -> Path:
    return next(py.parent.parent.glob("lib/python3.*/site-packages"))


def _annotated_mapping(finder: Path) -> bool:
    return any(isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "MAPPING"
               for n in ast.parse(finder.read_text()).body)


def test_static_check_reads_an_editable_setuptools_checkout(editable_env, request):
    py, co = editable_env
    site = _site(py)
    finders = sorted(p.name for p in site.glob("__editable___*_finder.py"))
    # What is being tested: today's setuptools writes the annotated form.
    assert any(n.startswith("__editable___skyrl_train_") for n in finders), finders
    assert all(_annotated_mapping(site / n) for n in finders), finders
    if request.node.callspec.params["editable_env"] == "pth":
        assert not any("skyrl_gym" in n for n in finders), finders
        pth = next(site.glob("__editable__.skyrl_gym-*.pth")).read_text()
        assert pth.strip() == str(co / "skyrl-gym"), pth  # a path entry, not a finder
    else:
        assert any(n.startswith("__editable___skyrl_gym_") for n in finders), finders
    real = subprocess.run([str(py), "-c", "import importlib.util as u, skyrl_train; print(u.find_spec('skyrl_gym').origin)"],
                          capture_output=True, text=True)
    assert real.returncode == 0 and real.stdout.strip() == str(co / "skyrl-gym" / "skyrl_gym" / "__init__.py"), real

    doc = static_check(py, load("vllm"))
    assert doc["status"] == "ok", doc
    summary = {k: doc[k] for k in ("checked", "missing_entry", "seconds")}
    assert doc["missing_entry"] == [] and doc["checked"] >= 50, summary
    assert doc["dists"]["skyrl_train"] == {"name": "skyrl-train", "version": "0.3.0"}, doc["dists"]
    ours = [f for f in doc["findings"] if f["missing"].split(".")[0] in OWN or f["kind"] != "module"]
    assert ours == [], ours  # 0.3.0's own imports (FSDP's included) are sound
    assert all(f["module"].split(".")[0] in OWN for f in doc["findings"])
    assert any(f["module"].startswith("skyrl_gym.") for f in doc["findings"])  # skyrl-gym's code was read too
    tops = sorted({f["missing"].split(".")[0] for f in doc["findings"]})
    assert "torch" in tops  # --no-deps: the third-party stack is absent, and is named
    absent = subprocess.run([str(py), "-c", "import importlib.util as u, json, sys; "
                             "print(json.dumps([t for t in json.loads(sys.argv[1]) if u.find_spec(t) is not None]))",
                             json.dumps(tops)], capture_output=True, text=True)
    assert json.loads(absent.stdout) == [], absent  # each one really is not installed there
