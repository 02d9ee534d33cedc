"""What keeps the no-op and the dry run fast (issue 23, item 7), tested as behaviour, never as timings (those are
`make bench`'s): the next route's lock is read while a route's probes wait, with the same choice as reading it after;
a command's parser is built for that command alone, with the same results; a view imports only its own module."""

from __future__ import annotations

import subprocess
import sys
import threading
from unittest import mock

import pytest

from skyrl_setup.catalog import profiles
from skyrl_setup.catalog.profiles import committed_locks
from skyrl_setup.cli import parse as cli_parse
from skyrl_setup.detect.gpu import DriverInfo, Gpu
from skyrl_setup.detect.index_config import IndexConfig
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.errors import UsageError
from skyrl_setup.plan import routes

PLATFORM, PYTHON = "linux_x86_64", "3.12.1"
H100 = Gpu(0, "NVIDIA H100 80GB HBM3", 80 << 30, (9, 0))
DRIVER = DriverInfo("580.65.06", "sysfs", None, (H100,))
PYTORCH_CU128 = "https://download.pytorch.org/whl/cu128"


@pytest.fixture
def sglang():
    return profiles.load("sglang")  # route skyrl (cu128, PyTorch's index: probed), then pypi (cu126: the last, not probed)


@pytest.fixture(autouse=True)
def no_configured_index():
    with mock.patch.object(routes, "detect_index", return_value=IndexConfig()):
        yield


def _choice(c: routes.RouteChoice) -> tuple:
    return c.route, str(c.lock.path), c.cuda.variant, c.reason, c.skipped


def test_the_next_routes_lock_is_read_while_the_first_routes_probe_waits(sglang):
    second = committed_locks(sglang, PLATFORM)[1].path
    read = threading.Event()
    real_load = routes.load_for_host

    def load(path, python_full, platform):
        lock = real_load(path, python_full, platform)
        if path == second:
            read.set()
        return lock

    seen_while_waiting = []

    def silent(url: str) -> str | None:  # a host that never answers: the probe ends at its timeout
        seen_while_waiting.append(read.wait(timeout=30))  # without the read-ahead, the lock is read only after this returns
        return "ReadTimeout: timed out"

    with mock.patch.object(routes, "load_for_host", load):
        early = routes.choose_route(sglang, PLATFORM, PYTHON, DRIVER, None, silent, Mirrors())
    assert seen_while_waiting == [True]

    # the same choice, word for word, as when each lock is read only when its route is tried (makers, not files)
    late = [(c.route, lambda p=c.path: p) for c in committed_locks(sglang, PLATFORM)]
    after = routes.choose_route(sglang, PLATFORM, PYTHON, DRIVER, None, lambda url: "ReadTimeout: timed out", Mirrors(), late)
    assert _choice(early) == _choice(after)
    assert early.route == "pypi" and early.skipped[0].startswith(f"skyrl (cu128): {PYTORCH_CU128} unreachable")


def test_a_lock_that_cannot_be_read_ahead_fails_only_where_its_route_is_tried(sglang, tmp_path):
    first = committed_locks(sglang, PLATFORM)[0]
    missing = tmp_path / "pylock.missing.toml"
    candidates = [(first.route, routes._Given(first.path)), ("pypi", routes._Given(missing))]
    taken = routes.choose_route(sglang, PLATFORM, PYTHON, DRIVER, None, lambda url: None, Mirrors(), candidates)
    assert taken.route == "skyrl"  # the first route answered: the unreadable second one is never needed
    with pytest.raises(Exception) as failed:
        routes.choose_route(sglang, PLATFORM, PYTHON, DRIVER, None, lambda url: "refused", Mirrors(), candidates)
    late = [(first.route, lambda: first.path), ("pypi", lambda: missing)]  # read only when tried, as before
    with pytest.raises(Exception) as as_before:
        routes.choose_route(sglang, PLATFORM, PYTHON, DRIVER, None, lambda url: "refused", Mirrors(), late)
    assert (type(failed.value), str(failed.value)) == (type(as_before.value), str(as_before.value))


ARGVS = [
    ["install"], ["install", "--venv", "/tmp/x", "--dry-run", "--with", "a==1", "--with=-e ./p"],
    ["--json", "install", "--backend", "vllm", "--backend", "sglang", "-v"], ["install", "--ray"],
    ["doctor", "--venv", "/e", "--no-gpu-probe", "--json"], ["check-compat", "requests", "--backend", "vllm"],
    ["upgrade", "sglang==0.5.8", "--dry-run", "-y"], ["-v", "rollback", "--venv", "/e"], ["profiles"],
    ["lock", "--backend", "vllm", "-o", "x.toml"], ["bundle", "--cuda", "cu128"], ["dockerfile", "--strict"],
]


@pytest.mark.parametrize("argv", ARGVS, ids=lambda a: " ".join(a))
def test_a_parser_built_for_the_selected_command_alone_parses_the_same(argv):
    assert cli_parse.selected(argv) == next(a for a in argv if not a.startswith("-"))
    full = vars(cli_parse.build_parser().parse_args(argv))
    assert vars(cli_parse.build_parser(only=cli_parse.selected(argv)).parse_args(argv)) == full


@pytest.mark.parametrize("argv", [["install", "--bogus"], ["instal"], ["doctor", "--venv", "a", "--python", "b"],
                                  ["install", "--timeout", "x"], ["-", "install"], []])
def test_usage_errors_are_the_same_with_the_selected_commands_parser_alone(argv):
    def message(parser) -> str:
        try:
            parser.parse_args(argv)
        except UsageError as e:
            return e.message
        return "parsed"

    assert message(cli_parse.build_parser(only=cli_parse.selected(argv))) == message(cli_parse.build_parser())


def test_a_view_imports_its_own_module_and_every_view_is_mapped_to_its_module():
    code = ("import sys\nfrom skyrl_setup.cli import render\n"
            "for name in ('install', 'install.plan', 'rollback'):\n    render._view(name)\n"
            "print(sorted(m for m in sys.modules if m.startswith('skyrl_setup.cli.views_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['skyrl_setup.cli.views_install']"  # not doctor's views (nor rich's tables for them)

    from skyrl_setup.cli import render
    from skyrl_setup.cli.screen import VIEWS

    for module in render.ALL_VIEW_MODULES:
        __import__(f"skyrl_setup.cli.{module}")
    for name, fn in VIEWS.items():  # the map names each view's own module: the fallback (import them all) never runs
        expected = render.VIEW_MODULES.get(name.split(".")[0], render.VIEW_MODULE_OTHERWISE)
        assert fn.__module__ == f"skyrl_setup.cli.{expected}", name


def test_httpx_command_line_client_is_not_imported_by_a_plan():
    """httpx imports its CLI (click, pygments, rich's syntax) whenever click is installed, which ray brings; a plan
    uses httpx as a library only. The lock the plan reads is not made either, so tomlkit stays out too."""
    pytest.importorskip("click")  # without click, httpx's package never tries
    code = ("import sys\nimport skyrl_setup.plan.install, httpx\n"
            "print(sorted(m for m in ('click', 'pygments', 'tomlkit', 'httpx._main') if sys.modules.get(m) is not None))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
