"""The uv backend against the real uv and the local test index: every phrase it reads, every
exit status it relies on, and the command line each operation builds.

Another uv can be checked the same way: SKYRL_SETUP_UV=/path/to/uv pytest tests/test_uv_backend.py.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from skyrl_setup._toml import toml_reader
from skyrl_setup.errors import ConflictError, OperationError, SetupError
from skyrl_setup.uv.backend import Uv
from skyrl_setup.uv.failures import (
    CHECKED,
    EXIT_ERROR,
    EXIT_FAILURE,
    OFFLINE_HINT,
    PHRASES,
    classify,
    parse,
    phrases_in,
)
from tests.conftest import PYENV_312, REPO, base_env, cli

DATASETS = "datasets-4.0.0-py3-none-any.whl"
FLASH_ATTN_SDIST = "flash_attn-2.8.3.tar.gz"  # its build backend always fails
CONFLICT = "old-hydra-plugin==1.0\nhydra-core==1.3.2\n"  # the plugin needs hydra-core==1.0.0


@pytest.fixture
def uv(index, tmp_path, monkeypatch) -> Uv:
    for name in [k for k in os.environ if k.startswith("UV_") or k in ("VIRTUAL_ENV", "COLUMNS", "FORCE_COLOR", "NO_COLOR")]:
        monkeypatch.delenv(name)
    for name, value in {"UV_INDEX_URL": index.url(), "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_PYTHON_DOWNLOADS": "never",
                        "UV_HTTP_TIMEOUT": "10", "UV_HTTP_RETRIES": "0", "SKYRL_SETUP_LOG_DIR": str(tmp_path / "logs")}.items():
        monkeypatch.setenv(name, value)
    index.clear()
    yield Uv.locate()
    index.clear()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def file_url(index, filename: str) -> str:
    return index.file_url(f"http://127.0.0.1:{index.port}", "pypi", index.find_file("pypi", filename))


def pinned(index, filename: str, sha256: str | None = None) -> str:
    e = index.find_file("pypi", filename)
    return f"{e.dist.name} @ {file_url(index, filename)} --hash=sha256:{sha256 or e.sha256}\n"


def venv(uv: Uv, tmp_path: Path) -> Path:
    uv.venv(tmp_path / "env", str(PYENV_312[0]), "test")
    return tmp_path / "env" / "bin" / "python"


# -- every phrase of the table, made by the real uv ----------------------------------------------------
def _unsatisfiable(uv, index, tmp_path, monkeypatch):
    uv.pip_compile(write(tmp_path / "req.in", CONFLICT), tmp_path / "pylock.toml", python_version="3.12", what="resolving")


def _offline_by_hash(uv, index, tmp_path, monkeypatch):
    py = venv(uv, tmp_path)
    monkeypatch.setenv("UV_OFFLINE", "1")
    uv.pip_sync(write(tmp_path / "m.txt", pinned(index, DATASETS)), py, what="installing")


def _offline_by_url(uv, index, tmp_path, monkeypatch):
    """As a lock resolved at install time with a required artifact's URL among its requirements."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    uv.pip_compile(write(tmp_path / "req.in", f"datasets @ {file_url(index, DATASETS)}\n"), tmp_path / "pylock.toml",
                   python_version="3.12", python_platform="x86_64-manylinux_2_28", what="resolving")


def _other_bytes(uv, index, tmp_path, monkeypatch):
    py = venv(uv, tmp_path)
    uv.pip_sync(write(tmp_path / "m.txt", pinned(index, DATASETS, "0" * 64)), py, what="installing")


SCENARIOS = {
    "No solution found when resolving dependencies": _unsatisfiable,
    "not found in the cache": _offline_by_hash,
    "the network was disabled": _offline_by_hash,
    "Network connectivity is disabled": _offline_by_url,
    "Hash mismatch for": _other_bytes,
}
RAISES = {"no-solution": ("conflict", ConflictError), "offline-miss": ("offline-miss", OperationError),
          "hash-mismatch": ("hash-mismatch", OperationError)}
LAYOUTS = {"plain": {}, "narrow": {"COLUMNS": "30"}, "color": {"FORCE_COLOR": "1"}}  # uv wraps at COLUMNS


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("phrase", PHRASES, ids=lambda p: p.text)
def test_every_phrase_is_what_the_real_uv_says_and_classifies_its_failure(phrase, layout, uv, index, tmp_path, monkeypatch):
    for name, value in LAYOUTS[layout].items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SetupError) as info:
        SCENARIOS[phrase.text](uv, index, tmp_path, monkeypatch)
    report = parse(Path(info.value.details["uv_log"]).read_text(encoding="utf-8"))
    assert phrase in phrases_in(report), report
    kind, error = RAISES[phrase.kind]
    assert info.value.uv_failure == kind and type(info.value) is error
    assert (info.value.hint == OFFLINE_HINT) == (kind == "offline-miss")
    assert "\x1b" not in info.value.message


def test_installed_uv_is_within_the_versions_the_phrases_were_checked_against(uv):
    """Bumping uv past the bound fails here: re-check every phrase (the test above), then widen each `checked`."""
    for p in PHRASES:
        assert uv.version in SpecifierSet(p.checked), f"uv {uv.version}: {p.text!r} was checked against {p.checked} only"
    deps = toml_reader.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    allowed = next(Requirement(d).specifier for d in deps if Requirement(d).name == "uv")
    assert uv.version in allowed
    (low,) = [Version(s.version) for s in allowed if s.operator == ">="]
    (high,) = [Version(s.version) for s in allowed if s.operator == "<"]
    for p in PHRASES:  # pyproject allows no uv the table was not checked against
        assert low in SpecifierSet(p.checked) and all(high <= Version(s.version) for s in SpecifierSet(p.checked)
                                                       if s.operator == "<")
    assert SpecifierSet(CHECKED) == SpecifierSet(">=0.9.0,<0.14")


# -- exit status first ----------------------------------------------------------------------------------
def test_uv_exits_1_for_an_unsatisfiable_resolution_and_2_for_bad_usage(uv, tmp_path):
    res = uv.pip_compile(write(tmp_path / "req.in", CONFLICT), tmp_path / "pylock.toml", python_version="3.12",
                         what="resolving", check=False)
    assert res.returncode == EXIT_FAILURE and isinstance(res.error, ConflictError) and res.error.code == 3
    assert res.error.message.startswith("resolving: Because ") and "hydra-core" in res.error.message
    res = uv._run(["pip", "compile", "--no-such-flag"], what="compiling", check=False)
    assert res.returncode == EXIT_ERROR and type(res.error) is OperationError
    # a usage error that quotes uv's conflict wording is still not a conflict
    assert classify(EXIT_ERROR, "error: No solution found when resolving dependencies\n") == "failed"


def test_an_index_that_fails_is_not_a_conflict_even_for_unsatisfiable_requirements(uv, index, tmp_path):
    index.inject(r"/simple/hydra-core/", "status", 503)
    res = uv.pip_compile(write(tmp_path / "req.in", CONFLICT), tmp_path / "pylock.toml", python_version="3.12",
                         what="resolving", check=False)
    assert res.returncode == EXIT_ERROR and type(res.error) is OperationError and "503" in res.error.message


def test_a_cache_miss_under_uv_offline_is_not_a_conflict(uv, index, tmp_path, monkeypatch):
    with pytest.raises(SetupError) as info:
        _offline_by_hash(uv, index, tmp_path, monkeypatch)
    assert type(info.value) is OperationError and info.value.code == 1 and "UV_OFFLINE" in info.value.hint
    assert index.requests == []  # one attempt, from the cache alone


def test_a_build_failure_is_not_a_conflict(uv, index, tmp_path):
    py = venv(uv, tmp_path)
    with pytest.raises(SetupError) as info:
        uv.pip_install(py, requirements=write(tmp_path / "s.txt", pinned(index, FLASH_ATTN_SDIST)), no_deps=True,
                       no_build_isolation=True, require_hashes=True, what="building flash-attn")
    assert type(info.value) is OperationError and "Failed to build" in info.value.message
    # a build uv needs for the metadata, while resolving: still a build failure, not "no solution"
    links = tmp_path / "links"
    links.mkdir()
    _broken_sdist(links / "brokenmeta-1.0.tar.gz")
    with pytest.raises(SetupError) as info:
        uv.pip_compile(write(tmp_path / "req.in", "brokenmeta\n"), tmp_path / "pylock.toml", python_version="3.12",
                       find_links=[links], what="resolving")
    assert type(info.value) is OperationError and "brokenmeta" in info.value.message


def _broken_sdist(path: Path) -> None:
    import io
    import tarfile

    files = {"pyproject.toml": '[project]\nname = "brokenmeta"\nversion = "1.0"\ndynamic = ["dependencies"]\n'
                               '[build-system]\nrequires = []\nbuild-backend = "nobuild"\nbackend-path = ["."]\n',
             "nobuild.py": "raise RuntimeError('error: cannot build here')\n"}
    with tarfile.open(path, "w:gz") as tf:
        for name, text in files.items():
            info = tarfile.TarInfo(f"brokenmeta-1.0/{name}")
            info.size = len(text.encode())
            tf.addfile(info, io.BytesIO(text.encode()))


def test_lock_whose_index_fails_is_a_failure_not_a_conflict(skyrl_checkout, index, tmp_path):
    """`lock --from-skyrl`'s PyPI route retries with torch's own CUDA runtime after a conflict; any other
    failure of the first try is that failure (it was exit 3, a conflict, whatever uv said)."""
    (tmp_path / "home").mkdir()
    env = base_env(index, tmp_path / "uv-cache", REPO, tmp_path / "home")
    if os.environ.get("SKYRL_SETUP_UV"):  # checking another uv: the CLI runs it too
        env["SKYRL_SETUP_UV"] = os.environ["SKYRL_SETUP_UV"]
    index.clear()
    index.inject(r"/pypi/simple/ray/", "status", 503)
    try:
        r = cli("lock", "--from-skyrl", str(skyrl_checkout), "--backend", "sglang", "-o", str(tmp_path / "out"), env=env)
    finally:
        index.clear()
    assert r.returncode == 1, r.stderr
    assert "503" in r.stderr and "ray" in r.stderr


# -- the layout of uv 0.9, which boxes its report even into a pipe (recorded from uv 0.9.0) -----------
UV_090 = {
    "offline-miss": """Using Python 3.12.1 environment at: v1
  × No solution found when resolving dependencies:
  ╰─▶ Because huggingface-hub was not found in the cache and you require
      huggingface-hub, we can conclude that your requirements are
      unsatisfiable.

      hint: Packages were unavailable because the network was disabled. When
      the network is disabled, registry packages may only be read from the
      cache.
""",
    "conflict": """  × No solution found when resolving dependencies:
  ╰─▶ Because old-hydra-plugin==1.0 depends on hydra-core==1.0.0 and you
      require old-hydra-plugin==1.0, we can conclude that you require
      hydra-core==1.0.0.
      And because you require hydra-core==1.3.2, we can conclude that your
      requirements are unsatisfiable.
""",
    "failed": """Resolved 1 package in 3ms
  × Failed to build `flash-attn @
  │ http://127.0.0.1:34999/pypi/files/flash_attn-2.8.3.tar.gz`
  ├─▶ The build backend returned an error
  ╰─▶ Call to `nobuild.build_wheel` failed (exit status: 1)

      [stderr]
      RuntimeError: flash-attn needs CUDA to build

      hint: This usually indicates a problem with the package or the build
      environment.
""",
}


@pytest.mark.parametrize("kind", UV_090)
def test_the_boxed_layout_of_uv_0_9(kind):
    assert classify(EXIT_FAILURE, UV_090[kind]) == kind


# -- each operation's command line, and the cache-first install ------------------------------------------
def test_operations_build_their_command_lines(monkeypatch):
    seen: list[list[str]] = []
    uv = Uv("uv")
    monkeypatch.setattr(uv, "_run", lambda args, **kw: seen.append(args))
    monkeypatch.setattr(uv, "_run_cache_first", lambda args, **kw: seen.append(["cache-first", *args]))
    p = Path
    uv.venv(p("/e"), "/py", "skyrl-sglang")
    uv.pip_sync(p("m.txt"), p("/e/bin/python"), what="x", index_strategy="unsafe-best-match", build_constraints=p("b.txt"),
                find_links=[p("/l")])
    uv.pip_install(p("/e/bin/python"), ["/src"], editable=True, no_deps=True, what="x")
    uv.pip_install(p("/e/bin/python"), requirements=p("r.txt"), no_deps=True, no_build_isolation=True, require_hashes=True,
                   what="x")
    uv.pip_compile(p("req.in"), p("pylock.toml"), python_version="3.12", constraints=p("c.txt"), overrides=p("o.txt"),
                   excludes=p("x.txt"), no_deps=True, header=False, exclude_newer="2025-01-01T00:00:00Z",
                   exclude_newer_packages={"a": "2100-01-01T00:00:00Z"}, index="https://i/simple",
                   index_strategy="unsafe-best-match", custom_compile_command="skyrl-setup lock", what="x")
    uv.export(p("/skyrl"), "sglang", p("out.toml"))
    assert [" ".join(a) for a in seen] == [
        "venv /e --python /py --prompt skyrl-sglang --quiet",
        "cache-first pip sync m.txt --python /e/bin/python --require-hashes --index-strategy unsafe-best-match "
        "--build-constraints b.txt --find-links /l",
        "pip install --python /e/bin/python --no-deps -e /src",
        "cache-first pip install --python /e/bin/python --no-deps --no-build-isolation --require-hashes -r r.txt",
        "pip compile req.in --format pylock.toml -o pylock.toml --python-version 3.12 --universal --preview-features pylock "
        "--quiet --no-header --no-deps -c c.txt --overrides o.txt --excludes x.txt --custom-compile-command skyrl-setup lock "
        "--exclude-newer 2025-01-01T00:00:00Z --exclude-newer-package a=2100-01-01T00:00:00Z --index https://i/simple "
        "--index-strategy unsafe-best-match",
        "export --project /skyrl --frozen --no-emit-project --extra sglang --format pylock.toml --output-file out.toml "
        "--quiet --no-header",
    ]


def test_a_hash_pinned_sync_is_served_from_the_cache_first(uv, index, tmp_path):
    manifest = write(tmp_path / "m.txt", pinned(index, DATASETS))
    cold: list[str] = []
    uv.pip_sync(manifest, venv(uv, tmp_path / "a"), what="installing", on_line=cold.append)
    assert "not everything is in uv's cache: fetching the rest" in cold
    py = venv(uv, tmp_path / "b")
    index.clear()
    index.inject(r".", "status", 503)  # the index is down
    warm: list[str] = []
    uv.pip_sync(manifest, py, what="installing", on_line=warm.append)
    assert index.requests == [] and not any("fetching" in line for line in warm)


def test_queries_of_uv_itself(uv, tmp_path, monkeypatch):
    assert uv.cache_dir() == tmp_path / "uv-cache"
    assert isinstance(uv.python_dir(), Path)
    monkeypatch.setenv("PATH", f"{PYENV_312[0].parent}{os.pathsep}{os.environ['PATH']}")
    found = uv.python_find("3.12")
    out = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True).stdout
    assert out.strip() == "(3, 12)"
    assert uv.python_find("3.99") is None
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "pythons"))
    monkeypatch.setenv("UV_OFFLINE", "1")
    assert uv.python_install("3.12") is False  # downloads disallowed: no interpreter, and no exception


def test_each_uv_run_has_its_own_log_even_within_one_second(uv, tmp_path):
    """The cache-first attempt and the networked one fall in the same second: both logs are kept (issue 24)."""
    logs = [uv._run(["--version"], what="asking uv its version").log for _ in range(3)]
    assert len(set(logs)) == 3 and all(p.is_file() for p in logs)


def test_no_other_module_builds_a_uv_command_line():
    # a list that starts with "venv", not a subscript such as plan["venv"]
    pattern = re.compile(r'"pip", "|(?<![\w\])])\["venv"|"compile"|"export"|run_quiet\(|run_cache_first\(|\buv\.run\(')
    found = [f"{path.relative_to(REPO)}:{n}" for path in (REPO / "skyrl_setup").rglob("*.py")
             if path.parts[-2:] != ("uv", "backend.py") for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if pattern.search(line)]
    assert found == []
