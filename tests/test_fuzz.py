"""Property-based tests: whatever the input, a precise error (exit 2/4) or a result, never a traceback.

Each test below runs many generated cases (hypothesis): 430 in all by default.
"""

from __future__ import annotations

import contextlib
import io
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyrl_setup._toml import toml_reader
from skyrl_setup.catalog import profiles
from skyrl_setup.catalog.data import profiles_dir
from skyrl_setup.cli import main
from skyrl_setup.errors import SetupError
from skyrl_setup.locks import pylock as lockfile
from tests.conftest import PYENV_312

REAL = toml_reader.loads((profiles_dir() / "sglang.toml").read_text())
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

toml_scalars = st.one_of(st.text(max_size=20), st.integers(-10, 10**6), st.floats(allow_nan=False), st.booleans())
toml_values = st.recursive(toml_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)


def paths(doc: dict, prefix=()):
    for k, v in doc.items():
        yield prefix + (k,)
        if isinstance(v, dict):
            yield from paths(v, prefix + (k,))


ALL_PATHS = list(paths(REAL))


@settings(max_examples=150, **SETTINGS)
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), st.one_of(toml_values, st.none())), min_size=1, max_size=4))
def test_profile_mutations_give_profile_or_precise_error(mutations):
    import copy
    doc = copy.deepcopy(REAL)
    for path, value in mutations:
        node = doc
        for k in path[:-1]:
            if not isinstance(node.get(k), dict):
                break
            node = node[k]
        else:
            if value is None:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
    try:
        p = profiles.parse(doc, profiles_dir() / "sglang.toml")
    except SetupError as exc:
        assert exc.code == 2 and "sglang.toml: key " in exc.message and exc.hint
    else:
        assert p.name == "sglang" and p.variants


lock_packages = st.lists(st.fixed_dictionaries({
    "name": st.one_of(st.text(max_size=10), st.integers()),
    "version": st.text(max_size=8),
}, optional={
    "marker": st.text(max_size=30),
    "wheels": st.lists(st.fixed_dictionaries({"url": st.text(max_size=40)}, optional={"size": st.integers(0, 10**9)}), max_size=2),
    "sdist": st.fixed_dictionaries({"url": st.text(max_size=20)}),
}), max_size=4)


def to_toml(doc: dict) -> str:
    import json

    def val(v):
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {val(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return json.dumps(v)

    return "\n".join(f"{json.dumps(k)} = {val(v)}" for k, v in doc.items())


@settings(max_examples=100, **SETTINGS)
@given(st.one_of(st.text(max_size=200).map(lambda t: ("text", t)),
                 st.builds(lambda pk, lv: ("doc", {"lock-version": lv, "packages": pk}), lock_packages, st.one_of(st.just("1.0"), st.integers()))))
def test_lockfile_gives_lock_or_precise_error(tmp_path_factory, item):
    kind, payload = item
    path = tmp_path_factory.mktemp("lock") / "pylock.fuzz.toml"
    path.write_text(payload if kind == "text" else to_toml(payload), encoding="utf-8")
    try:
        lock = lockfile.load(path)
    except SetupError as exc:
        assert exc.code == 2 and str(path) in exc.message
    else:
        assert all(p.name for p in lock.packages)


@contextlib.contextmanager
def environ(**values):
    old = dict(os.environ)
    os.environ.update({k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(old)


def run_main(argv, **env) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with environ(**env), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    return code, err.getvalue()


def assert_precise(code: int, err: str, allowed=(2,)):
    assert "Traceback" not in err
    assert code in allowed, (code, err)
    if code:
        assert len([ln for ln in err.splitlines() if ln.startswith("error:")]) == 1, err


words = st.text(st.characters(blacklist_categories=("Cs",)), max_size=25)
env_words = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=25)  # no real env holds NUL


@settings(max_examples=60, **SETTINGS)
@given(backend=words.filter(lambda w: w not in ("sglang", "vllm", "flashrl", "megatron")),
       cuda=st.one_of(st.none(), words), venv=words)
def test_cli_bad_arguments(tmp_path_factory, backend, cuda, venv):
    home = tmp_path_factory.mktemp("home")
    argv = ["install", "--dry-run", "--backend", backend, "--venv", str(home / venv) if venv else venv]
    if cuda is not None:
        argv += ["--cuda", cuda]
    code, err = run_main(argv, SKYRL_SETUP_HOME=str(home), SKYRL_SETUP_CUDA_DRIVER="none")
    assert_precise(code, err)


@settings(max_examples=60, **SETTINGS)
@given(driver=env_words, gpus=st.one_of(st.none(), env_words), mirrors=st.one_of(st.none(), env_words))
def test_env_var_overrides(tmp_path_factory, driver, gpus, mirrors):
    home = tmp_path_factory.mktemp("home")
    argv = ["install", "--dry-run", "--venv", str(home / "e"), "--python", str(PYENV_312[0])]
    env = {"SKYRL_SETUP_HOME": str(home), "SKYRL_SETUP_CUDA_DRIVER": driver, "SKYRL_SETUP_GPUS": gpus,
           "SKYRL_SETUP_MIRRORS": mirrors, "UV_OFFLINE": "1"}
    code, err = run_main(argv, **env)
    assert_precise(code, err, allowed=(0, 2, 4))


@settings(max_examples=60, **SETTINGS)
@given(specs=st.lists(words, min_size=1, max_size=3))
def test_version_specs(tmp_path_factory, specs):
    home = tmp_path_factory.mktemp("home")
    code, err = run_main(["check-compat", *specs], SKYRL_SETUP_HOME=str(home), SKYRL_SETUP_CACHE_DIR=str(home / "c"),
                         UV_INDEX_URL="http://127.0.0.1:9/simple")
    assert_precise(code, err, allowed=(1, 2))  # 2 for a malformed spec; 1: the (dead) index was asked


def test_generated_case_count():
    """The property tests above draw 430 cases per run (the issue asks for at least 200)."""
    import inspect
    import sys
    counts = [f._hypothesis_internal_use_settings.max_examples
              for name, f in inspect.getmembers(sys.modules[__name__]) if name.startswith("test_") and hasattr(f, "hypothesis")]
    assert sum(counts) >= 200
