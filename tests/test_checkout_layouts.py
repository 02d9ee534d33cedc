"""`--project` and `lock --from-skyrl` on real SkyRL checkouts of both layouts (issue 22): skyrl-train 0.x's
`skyrl-train/` folder, and today's repository root as the project `skyrl` with a dynamic version, the extras
fsdp/megatron and `[tool.uv] conflicts` (../shared/skyrl-checkout-2026-08-21, a real copy).

Reading a checkout and choosing the release that describes it are pure and tested directly; planning from its
lock and building its PyPI route use real PyPI (network)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from skyrl_setup.errors import UsageError
from skyrl_setup.locks import checkout, skyrl_source
from tests.conftest import REPO, cli, pypi_env

TODAY = (REPO.parent / "shared" / "skyrl-checkout-2026-08-21").resolve()  # ../shared may be a link
OLD = (REPO.parent / "shared" / "skyrl-checkout-0.3.0").resolve()
needs_today = pytest.mark.skipif(not TODAY.is_dir(), reason="needs ../shared/skyrl-checkout-2026-08-21")


@needs_today
def test_todays_layout_is_read_with_its_dynamic_version_extras_and_conflicts():
    src = skyrl_source.read(TODAY)
    assert (src.name, src.version, src.layout) == ("skyrl", "0.3.0", "root")  # skyrl/__init__.py's __version__
    assert frozenset({"jax", "megatron", "fsdp"}) in src.conflicts
    assert src.extra_for(("vllm", "fsdp")) == "fsdp" and src.extra_for(("mcore",)) is None
    fsdp = src.requirements("fsdp")  # skyrl[skyrl-train] spelled out: ray and hydra come from that extra
    assert "ray==2.57.0" in fsdp and "hydra-core==1.3.2" in fsdp and "vllm==0.26.0; sys_platform == \"linux\"" in fsdp
    assert not any(r.startswith("skyrl[") for r in fsdp)
    assert skyrl_source.read(TODAY / "skyrl-train").root == TODAY  # its skyrl-train/ holds only a README now


def test_the_old_layout_is_found_from_the_repository_root():
    if not OLD.is_dir():
        pytest.skip("needs ../shared/skyrl-checkout-0.3.0")
    src = skyrl_source.read(OLD)
    assert (src.root, src.name, src.version, src.layout) == (OLD / "skyrl-train", "skyrl-train", "0.3.0", "skyrl-train")
    assert checkout.release_for(src, "vllm").id == "skyrl-train-0.3.0"
    assert checkout.profile_for("vllm", src).skyrl_extra == "vllm"


def _project(tmp_path: Path, *, lock_version: str | None, init: str | None) -> Path:
    root = tmp_path / "proj"
    (root / "skyrl").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "skyrl"\ndynamic = ["version"]\ndependencies = []\n'
                                         '[tool.setuptools.dynamic]\nversion = {attr = "skyrl.__version__"}\n')
    if init is not None:
        (root / "skyrl" / "__init__.py").write_text(init)
    version = f'version = "{lock_version}"\n' if lock_version else ""
    (root / "uv.lock").write_text(f'version = 1\n\n[[package]]\nname = "skyrl"\n{version}source = {{ editable = "." }}\n')
    return root


def test_a_dynamic_version_comes_from_the_lock_then_the_attribute_else_one_line(tmp_path):
    assert skyrl_source.read(_project(tmp_path / "a", lock_version="0.9.1", init='__version__ = "0.0.1"\n')).version == "0.9.1"
    assert skyrl_source.read(_project(tmp_path / "b", lock_version=None, init='__version__: str = "0.5.0"\n')).version == "0.5.0"
    with pytest.raises(UsageError, match="version is dynamic"):  # computed at import time: not read by running code
        skyrl_source.read(_project(tmp_path / "c", lock_version=None, init="import os\n__version__ = os.environ['V']\n"))


@needs_today
def test_a_checkout_is_judged_by_its_nearest_release_with_its_own_extra_and_both_routes():
    src = skyrl_source.read(TODAY)
    assert checkout.release_for(src, "vllm").id == "skyrl-0.4.0"  # no skyrl <= 0.3.0 in the catalog: the oldest above
    p = checkout.profile_for("fsdp", src)  # SkyRL's own extra name is accepted
    assert (p.name, p.skyrl_extra, p.routes, p.follow) == ("vllm", "fsdp", ("skyrl", "pypi"), ("skyrl", "skyrl_gym"))
    assert "skyrl.backends.skyrl_train.workers.fsdp.fsdp_worker" in p.skyrl_entry
    m = checkout.profile_for("megatron", src)
    assert m.skyrl_extra == "megatron" and "skyrl.backends.skyrl_train.workers.megatron.megatron_worker" in m.skyrl_entry
    with pytest.raises(UsageError, match="#1220"):
        checkout.profile_for("sglang", src)


# -- real PyPI ------------------------------------------------------------------------------------------

def _env(tmp_path: Path, cache: Path) -> dict[str, str]:
    return pypi_env(tmp_path, cache)  # the session's own uv cache (conftest.pypi_cache)


def _copy(tmp_path: Path) -> Path:
    """Writable (an editable setuptools build writes egg-info into the checkout), as a user's clone is."""
    co = tmp_path / "SkyRL"
    shutil.copytree(TODAY, co)
    for d, _, files in os.walk(co):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return co


def _versions(plan: dict) -> dict[str, str]:
    return {p["name"]: p["version"] for p in plan["packages"]}


def assert_plans_from_the_checkouts_lock(plan: dict, backend: str, extra: str) -> None:
    """The plan from today's checkout's lock: asked of the megatron dry run below, and of the vllm (fsdp) install's own
    plan (the same planner; the install is the run that builds it)."""
    v = _versions(plan)
    assert (v["torch"], v["vllm"]) == ("2.11.0", "0.26.0")  # PyPI's torch 2.11.0 is its cu130 build
    assert plan["cuda"]["variant"] == "cu130" and plan["route"]["route"] == "pypi"
    assert plan["skyrl_lock"]["skyrl-extra"] == extra and plan["skyrl_lock"]["skyrl-version"] == "0.3.0"
    assert "download.pytorch.org/whl/cu130" in plan["route"]["skipped"][0]  # the checkout's exact lock, and why not here
    changes = "\n".join(plan["lock_changes"])
    for name in ("flash-attn", "causal-conv1d", "flashinfer-jit-cache", "flashinfer-cubin"):
        assert f"{name}: left out" in changes  # each thing PyPI cannot serve, named once with where it is
    assert "vllm-router: SkyRL's lock takes 0.1.14.post1 from https://github.com" in changes
    assert [a["name"] for a in plan["artifacts"]] == ["flash-attn"]
    if backend == "megatron":
        assert "transformer-engine-cu13: left out" in changes and "megatron-core" in v


@needs_today
@pytest.mark.network
def test_dry_run_plans_from_the_checkouts_lock(tmp_path, pypi_cache):
    co = _copy(tmp_path)
    r = cli("install", "--project", str(co), "--backend", "megatron", "--dry-run", "--venv", str(tmp_path / "env"), "--json",
            env=_env(tmp_path, pypi_cache), timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.data["dry_run"] is True and not (tmp_path / "env").exists()
    assert_plans_from_the_checkouts_lock(r.data["plan"], "megatron", "megatron")


@needs_today
@pytest.mark.network
def test_lock_from_a_checkout_between_releases_is_reproducible(tmp_path, pypi_cache):
    co = _copy(tmp_path)
    env = _env(tmp_path, pypi_cache)
    r = cli("lock", "--from-skyrl", str(co), env=env, timeout=60)
    assert r.returncode == 2 and "-o DIR" in r.stderr  # not a catalog release: never written over the committed locks
    digests = []
    for out in ("one", "two"):
        r = cli("lock", "--from-skyrl", str(co), "--backend", "vllm", "-o", str(tmp_path / out), "--json", env=env, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        files = sorted((tmp_path / out).glob("pylock.*.toml"))
        assert [f.name for f in files] == ["pylock.vllm-pypi-cu130-linux_x86_64.toml", "pylock.vllm-skyrl-cu130.toml"]
        digests.append([hashlib.sha256(f.read_bytes()).hexdigest() for f in files])
    assert digests[0] == digests[1]
    skyrl_route = (tmp_path / "one" / "pylock.vllm-skyrl-cu130.toml").read_text()
    assert 'version = "2.8.3+cu.13.0.torch.2.11"' in skyrl_route  # that route reaches Astral's index: its wheel stays


@needs_today
@pytest.mark.network
@pytest.mark.slow
def test_the_checkouts_pypi_route_is_built_and_judged_on_its_own_modules(tmp_path, pypi_cache):
    co = _copy(tmp_path)
    r = cli("install", "--project", str(co), "--backend", "vllm", "--venv", str(tmp_path / "env"), "--json",
            env=_env(tmp_path, pypi_cache), timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = r.data
    assert_plans_from_the_checkouts_lock(doc["plan"], "vllm", "fsdp")
    versions = {i["module"]: i["version"] for i in doc["imports"] if i["status"] == "ok"}
    assert versions["torch"] == "2.11.0+cu130" and versions["vllm"] == "0.26.0" and versions["skyrl"] == "0.3.0"
    verdict = doc["verdict"]
    assert [(b["kind"], b["module"]) for b in verdict["blockers"]] == \
        [("artifact", "skyrl.backends.skyrl_train.workers.model_wrapper:12")], verdict["blockers"]
    assert "wheels.astral.sh/simple/cu130/flash-attn" in verdict["blockers"][0]["fix"]
    assert verdict["checked_modules"] >= 100
    assert all(i["status"] == "ok" for i in verdict["imports"]), verdict["imports"]
    assert [i["status"] for i in verdict["interface"]] == ["ok"]  # vLLM's AsyncLLMEngine is an alias of AsyncLLM


def test_a_python_without_skyrl_gets_one_blocker_per_missing_module_and_names_the_missing_engine():
    """Found on the H200 (docs/evidence/gpu-h200-2026-12-04.md): each missing entry module was blamed twice (the
    static check, then its real import), and an engine that is not installed read "vllm ?'s ... lacks generate"."""
    import sys

    from skyrl_setup.catalog import profiles
    from skyrl_setup.verify.verdict import assess

    verdict = assess(Path(sys.executable), profiles.load("vllm", "0.4.0"), gpu_usable=False)
    modules = [b.module for b in verdict.blockers]
    assert len(modules) == len(set(modules)), modules
    assert "skyrl.train.trainer" in modules
    engine = [b for b in verdict.blockers if "AsyncLLMEngine" in b.module]
    assert engine and "?" not in engine[0].reason and "vllm is not installed" in engine[0].reason, engine


def test_an_environment_made_from_a_checkout_follows_it_on_upgrade(env, tmp_path, skyrl_checkout):
    """On the test index: the checkout's lock is what upgrade plans from, read again (after a `git pull` it
    may be another release, or another layout), not the release recorded at install time."""
    proj = tmp_path / "SkyRL" / "skyrl-train"
    shutil.copytree(skyrl_checkout, proj)
    venv = tmp_path / "env"
    r = cli("install", "--venv", str(venv), "--project", str(proj), "--no-verify", "--json", env=env)
    assert r.returncode == 0, r.stderr
    r = cli("upgrade", "--venv", str(venv), "--dry-run", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert r.data["noop"] is True  # nothing moved in the checkout: nothing to do
    shutil.rmtree(proj)  # the checkout is gone: one line naming it, the environment untouched
    r = cli("upgrade", "--venv", str(venv), "--dry-run", env=env)
    assert r.returncode == 2 and str(proj) in r.stderr and "Traceback" not in r.stderr


MALFORMED = {  # issue 25, item 10: each was "unexpected ..." (exit 1) or a traceback
    "package is a string": ("uv.lock", lambda t: 'version = 1\npackage = "x"\n'),
    "requires-dist entry without a name": ("uv.lock", lambda t: t.replace('requires-dist = [', 'requires-dist = [{ specifier = ">=1" }, ', 1)),
    "metadata is a string": ("uv.lock", lambda t: t.replace("[package.metadata]", "[package.metadata-old]", 1)
                             .replace('source = { editable = "." }', 'source = { editable = "." }\nmetadata = "x"', 1)),
    "a bad specifier": ("pyproject.toml", lambda t: t.replace('"datasets>=4.0.0"', '"datasets=>>4.0.0"', 1)),
    "optional-dependencies is a list": ("pyproject.toml", lambda t: t.replace("[project.optional-dependencies]", "[project.x-old]", 1)
                                        .replace('dependencies = [', 'optional-dependencies = ["a"]\ndependencies = [', 1)),
    "a path source is a number": ("pyproject.toml", lambda t: t.replace('skyrl-gym = { path = "./skyrl-gym", editable = true }',
                                                                        "skyrl-gym = { path = 5 }", 1)),
}


@needs_today
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_10_a_malformed_checkout_is_one_line(tmp_path, case):
    name, edit = MALFORMED[case]
    root = tmp_path / "co"
    root.mkdir()
    for f in ("pyproject.toml", "uv.lock"):
        shutil.copy(TODAY / f, root / f)
    (root / "skyrl").mkdir()
    (root / "skyrl" / "__init__.py").write_text('__version__ = "0.3.0"\n')
    (root / name).write_text(edit((root / name).read_text()))
    with pytest.raises(UsageError) as exc:
        skyrl_source.read(root)
    assert str(root) in exc.value.message and exc.value.hint


def test_14_a_lock_that_fails_halfway_leaves_every_lockfile_as_it_was(env, tmp_path, skyrl_checkout, data_dir, index):
    """Issue 25, item 14: flashrl's were rewritten from the new SkyRL lock, then megatron failed: a folder of
    lockfiles from two different SkyRL locks. All are written, or none is."""
    out = tmp_path / "out"
    shutil.copytree(data_dir / "lockfiles" / "skyrl-train-0.3.1", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    moved = tmp_path / "skyrl-train"
    shutil.copytree(skyrl_checkout, moved)
    with open(moved / "uv.lock", "a") as fh:
        fh.write("# another SkyRL lock\n")  # another sha256: every lockfile it writes differs
    index.inject(r"transformer.engine", "status", 503)  # only megatron's PyPI route needs it
    r = cli("lock", "--from-skyrl", str(moved), "-o", str(out), env=env, timeout=600)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@needs_today
def test_a_lock_entry_without_a_hash_is_one_line_naming_it(tmp_path):
    """At tag skyrl-v0.3.0 vllm came from wheels.vllm.ai with no hash: uv refuses to export such a lock. Say which
    file and what fixes it, before uv runs (issue 22)."""
    import re

    root = tmp_path / "co"
    root.mkdir()
    shutil.copy(TODAY / "pyproject.toml", root / "pyproject.toml")
    (root / "skyrl").mkdir()
    (root / "skyrl" / "__init__.py").write_text('__version__ = "0.3.0"\n')
    text = (TODAY / "uv.lock").read_text()
    (root / "uv.lock").write_text(re.sub(r'(\{ url = "https://github\.com/SumanthRH/[^"]+\.whl"), hash = "sha256:[0-9a-f]+"', r"\1", text))
    with pytest.raises(UsageError) as exc:
        skyrl_source.read(root)
    assert "vllm-router 0.1.14.post1" in exc.value.message and "without a hash" in exc.value.message
    assert "https://github.com" in exc.value.hint
    for src in (TODAY, OLD):  # the real checkouts record every hash
        if src.is_dir():
            skyrl_source.read(src)


@needs_today
def test_review_findings_either_folder_another_distribution_latest_and_a_folder_that_is_not_skyrl(env, tmp_path):
    """Found in review: `--project SkyRL/skyrl-train` of today's layout (a README only) and the old layout's root
    installed from the folder typed; `--skyrl 0.3.1` judged today's checkout by skyrl_train's modules; `--skyrl latest
    --backend megatron` chose skyrl 0.4.0, whose megatron needs a checkout; `lock --from-skyrl skyrl-gym/ -o` wrote
    nothing with exit 0."""
    from skyrl_setup.catalog import releases

    assert checkout.project_folder(str(TODAY / "skyrl-train")) == str(TODAY)
    if OLD.is_dir():
        assert checkout.project_folder(str(OLD)) == str(OLD / "skyrl-train")
    with pytest.raises(UsageError, match="describes skyrl-train"):
        checkout.profile_for("vllm", skyrl_source.read(TODAY), "0.3.1")
    assert releases.newest_for("megatron").id == "skyrl-train-0.3.1"
    assert releases.newest_for("vllm").id == "skyrl-0.4.0"
    r = cli("lock", "--from-skyrl", str(TODAY / "skyrl-gym"), "-o", str(tmp_path / "out"), env=env)
    assert r.returncode == 2 and "not a SkyRL distribution" in r.stderr and not (tmp_path / "out").exists()
