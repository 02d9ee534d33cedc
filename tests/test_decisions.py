"""The pure decisions, asked directly (issue 23): which route a SkyRL-sourced backend takes (plan.routes.choose_route),
what a plan is made of or why there is none (plan.model.make_plan), whether a re-run has nothing to do (store.noop.is_noop,
store.noop.recorded_lock), and how a readiness verdict is assembled from what the probes found (verify.verdict.assess).

Each branch is asked here in milliseconds; the subprocess tests keep the paths a user walks (install, upgrade,
doctor through the CLI against the local index)."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from skyrl_setup.catalog import profiles
from skyrl_setup.catalog.cuda_policy import judge
from skyrl_setup.detect.gpu import DriverInfo, Gpu
from skyrl_setup.detect.index_config import IndexConfig
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.detect.prereqs import Prereq
from skyrl_setup.detect.python import PythonInfo
from skyrl_setup.errors import OperationError, PreconditionError, UsageError
from skyrl_setup.locks.pylock import load_for_host
from skyrl_setup.plan import routes
from skyrl_setup.plan.artifacts import ArtifactPlan
from skyrl_setup.plan.model import make_plan
from skyrl_setup.store import noop as current
from skyrl_setup.store.generations import Store
from skyrl_setup.store.record import EnvRecord, LockRecord
from skyrl_setup.verify import verdict as readiness
from skyrl_setup.verify.imports import ImportResult

PLATFORM, PYTHON = "linux_x86_64", "3.12.1"
H100 = Gpu(0, "NVIDIA H100 80GB HBM3", 80 << 30, (9, 0))
B200 = Gpu(0, "NVIDIA B200", 180 << 30, (10, 0))  # sm_100: in torch's cu128 wheels, not in its cu126 ones
K80 = Gpu(0, "Tesla K80", 12 << 30, (3, 7))  # in no wheel's list
NEW_DRIVER = "580.65.06"
PYTORCH_CU128 = "https://download.pytorch.org/whl/cu128"


def driver(version: str | None = NEW_DRIVER, *gpus: Gpu) -> DriverInfo:
    return DriverInfo(version, "sysfs" if version else "none", None, gpus)


class Probe:
    """A route probe that answers from a table (URL prefix -> error) and remembers what it was asked."""

    def __init__(self, down: dict[str, str] | None = None):
        self.down = down or {}
        self.asked: list[str] = []

    def __call__(self, url: str) -> str | None:
        self.asked.append(url)
        return next((e for prefix, e in self.down.items() if url.startswith(prefix)), None)


@pytest.fixture
def sglang():
    return profiles.load("sglang")  # skyrl-train 0.3.0's: route skyrl (cu128, PyTorch's index), then pypi (cu126)


@pytest.fixture(autouse=True)
def no_configured_index():
    """No index of the machine's (pip.conf, UV_*) stands in for PyTorch's: the probes go where the lock says."""
    with mock.patch.object(routes, "detect_index", return_value=IndexConfig()):
        yield


def choose(profile, drv: DriverInfo, probe: Probe, requested: str | None = None, mirrors: Mirrors = Mirrors(), **kw):
    return routes.choose_route(profile, PLATFORM, PYTHON, drv, requested, probe, mirrors, **kw)


# -- plan.routes.choose_route ---------------------------------------------------------------------------------------

def test_the_first_route_is_taken_when_its_hosts_answer(sglang):
    probe = Probe()
    c = choose(sglang, driver(NEW_DRIVER, H100), probe)
    assert (c.route, c.cuda.variant, c.skipped) == ("skyrl", "cu128", ())
    assert c.lock.tool["route"] == "skyrl" and c.lock.tool["cuda"] == "cu128"
    assert [u.split("/torch-")[0] for u in probe.asked] == [PYTORCH_CU128]  # one file, on the one host beyond PyPI
    assert "answered (1 probed at once" in c.reason and "no GPU seen" not in c.reason
    assert c.to_json()["what"] == "SkyRL's lock exactly" and c.to_json()["lockfile"] == str(c.lock.path)


def test_an_unreachable_host_moves_to_the_next_route_and_says_why(sglang):
    probe = Probe({PYTORCH_CU128: "connection refused"})
    c = choose(sglang, driver(NEW_DRIVER, H100), probe)
    assert (c.route, c.cuda.variant) == ("pypi", "cu126")
    assert c.skipped == (f"skyrl (cu128): {PYTORCH_CU128} unreachable (connection refused; probed for 1.5 s)",)
    assert len(probe.asked) == 1  # the last route is never probed: uv says what it cannot fetch
    assert "the last route (not probed" in c.reason


def test_a_mirror_of_pytorchs_index_is_probed_instead_of_it(sglang):
    probe = Probe()
    mirrors = Mirrors(((PYTORCH_CU128, "https://m.example/cu128"),))
    c = choose(sglang, driver(NEW_DRIVER, H100), probe, mirrors=mirrors)
    assert c.route == "skyrl" and [u.split("/torch-")[0] for u in probe.asked] == ["https://m.example/cu128"]


def test_a_route_is_told_to_the_planner_while_its_hosts_are_asked(sglang):
    """A second host that is silent too (GitHub behind a firewall) must not cost a second wait: the planner is told of
    the route while its places are being asked (it asks for the route's artifacts then), not after the choice."""
    import threading

    told: list[tuple[str, str]] = []
    in_time = threading.Event()

    def alongside(lock, variant: str) -> None:
        told.append((lock.tool["route"], variant))
        in_time.set()

    def probe(url: str) -> str | None:  # the route's place answers only once the planner has been told
        return None if in_time.wait(timeout=5) else "ReadTimeout: timed out"

    c = choose(sglang, driver(NEW_DRIVER, H100), probe, alongside=alongside)
    assert (c.route, c.skipped, told) == ("skyrl", (), [("skyrl", "cu128")])


def test_an_asked_for_variant_skips_the_routes_of_others(sglang):
    probe = Probe()
    c = choose(sglang, driver(NEW_DRIVER, H100), probe, requested="cu126")
    assert (c.route, c.cuda.variant) == ("pypi", "cu126")
    assert c.skipped == ("skyrl (cu128): --cuda cu126 was asked for",) and probe.asked == []
    assert "asked for with --cuda" in c.cuda.reason
    assert choose(sglang, driver(NEW_DRIVER, H100), Probe(), requested="auto").route == "skyrl"


def test_a_driver_below_the_compatibility_floor_rules_out_every_route(sglang):
    with pytest.raises(PreconditionError) as e:
        choose(sglang, driver("470.82.01", H100), Probe())
    assert e.value.message.startswith("no route of the sglang profile runs here: skyrl (cu128): NVIDIA driver 470.82.01 is too old")
    assert "pypi (cu126): NVIDIA driver 470.82.01 is too old" in e.value.message
    assert e.value.hint == "upgrade the NVIDIA driver (see `skyrl-setup doctor`)"


def test_a_driver_between_floors_runs_through_minor_version_compatibility(sglang):
    c = choose(sglang, driver("560.35.03", H100), Probe())  # below 12.8's release floor, above 12.x's compat floor
    assert c.route == "skyrl" and c.cuda.variant == "cu128" and not c.cuda.error
    assert "minor-version compatibility" in c.cuda.reason and "570.26" in c.cuda.warnings[0]


def test_a_gpu_no_wheel_has_kernels_for_is_a_precondition_naming_it(sglang):
    with pytest.raises(PreconditionError) as e:
        choose(sglang, driver(NEW_DRIVER, K80), Probe())
    assert "skyrl (cu128): torch's cu128 wheels have no kernels for Tesla K80 (sm_37)" in e.value.message
    assert "pypi (cu126): torch's cu126 wheels have no kernels for Tesla K80 (sm_37)" in e.value.message
    assert e.value.hint == "this GPU needs torch built for a newer CUDA"


def test_a_gpu_only_one_route_covers_is_not_sent_to_the_other(sglang):
    c = choose(sglang, driver(NEW_DRIVER, B200), Probe())
    assert (c.route, c.cuda.variant) == ("skyrl", "cu128")
    with pytest.raises(OperationError) as e:  # its route unreachable, the other has no sm_100 kernels
        choose(sglang, driver(NEW_DRIVER, B200), Probe({PYTORCH_CU128: "timed out"}))
    assert "skyrl (cu128): https://download.pytorch.org/whl/cu128 unreachable (timed out" in e.value.message
    assert "pypi (cu126): torch's cu126 wheels have no kernels for NVIDIA B200 (sm_100)" in e.value.message
    assert e.value.hint.startswith("reach PyTorch's index (or map it to a mirror with --mirror FROM=TO)")
    assert "this GPU needs torch built for cu128 or cu130" in e.value.hint
    assert len(e.value.details["skipped"]) == 2


def test_an_unreachable_route_left_alone_by_the_asked_variant_is_an_operation_error(sglang):
    with pytest.raises(OperationError) as e:
        choose(sglang, driver(NEW_DRIVER, H100), Probe({PYTORCH_CU128: "timed out"}), requested="cu128")
    assert e.value.details["skipped"] == [f"skyrl (cu128): {PYTORCH_CU128} unreachable (timed out; probed for 1.5 s)",
                                          "pypi (cu126): --cuda cu128 was asked for"]
    assert e.value.hint.endswith("; pick another --cuda, or auto")


def test_no_driver_builds_for_the_first_route_and_says_no_gpu_was_seen(sglang):
    c = choose(sglang, driver(None), Probe())
    assert (c.route, c.cuda.variant) == ("skyrl", "cu128") and not c.cuda.warnings
    assert c.reason.endswith("no GPU seen here: torch's cu128 wheels run on sm_70, sm_80, sm_86, sm_90, sm_100, sm_120")


def test_candidates_are_made_only_when_their_route_is_tried(sglang, tmp_path):
    """A SkyRL folder's routes: the PyPI route's lock is resolved (slow) only if the first route is ruled out."""
    committed = {c.route: c.path for c in profiles.committed_locks(sglang, PLATFORM)}
    made: list[str] = []

    def maker(route):
        return lambda: (made.append(route), committed[route])[1]

    candidates = [("skyrl", maker("skyrl")), ("pypi", maker("pypi"))]
    assert choose(sglang, driver(NEW_DRIVER, H100), Probe(), candidates=candidates).route == "skyrl" and made == ["skyrl"]
    made.clear()
    assert choose(sglang, driver(NEW_DRIVER, H100), Probe({PYTORCH_CU128: "refused"}), candidates=candidates).route == "pypi"
    assert made == ["skyrl", "pypi"]


def test_no_candidates_is_a_usage_error_naming_how_to_make_them(sglang):
    with pytest.raises(UsageError) as e:
        choose(sglang, driver(NEW_DRIVER, H100), Probe(), candidates=[])
    assert e.value.message == "no committed lockfile of the sglang profile for linux_x86_64"
    assert "skyrl-setup lock --from-skyrl DIR" in e.value.hint


def test_committed_lock_picks_the_variant_without_probing(sglang):
    lock, source = routes.committed_lock(sglang, PLATFORM, PYTHON, "cu126")
    assert lock.tool["route"] == "pypi" and source == "committed lockfile, route pypi"
    assert routes.committed_lock(sglang, PLATFORM, PYTHON, None)[0].tool["route"] == "skyrl"
    with pytest.raises(UsageError, match="no committed lockfile of sglang for cu130"):
        routes.committed_lock(sglang, PLATFORM, PYTHON, "cu130")


# -- plan.model.make_plan -------------------------------------------------------------------------------------------

@pytest.fixture
def plan_args(sglang) -> dict:
    path = next(c.path for c in profiles.committed_locks(sglang, PLATFORM) if c.route == "pypi")
    return dict(profile=sglang, target=Path("/envs/sglang"), platform=PLATFORM, python=PythonInfo(PYTHON, "/py/python3.12", "explicit"),
                driver=driver(NEW_DRIVER, H100), cuda=judge("cu126", NEW_DRIVER, "the profile's route pypi"),
                lock=load_for_host(path, PYTHON, PLATFORM), lock_source="committed lockfile", artifacts=(), project=None,
                find_links=(), require_gpu=False)


def artifact(required: bool, status: str = "unreachable") -> ArtifactPlan:
    return ArtifactPlan("flash-attn", "2.8.3", required, "https://github.com/x/flash_attn-2.8.3.whl", status,
                        "" if status == "unreachable" else "/wheels/flash_attn-2.8.3.whl", error="connection refused")


def test_a_plan_carries_its_inputs_and_the_sdists_it_builds(plan_args):
    p = make_plan(**plan_args)
    assert p.profile.name == "sglang" and p.cuda.variant == "cu126" and p.driver.gpus == (H100,)
    assert p.torch_index == "pypi" and p.lock is plan_args["lock"] and p.lock_source == "committed lockfile"
    assert p.warnings == ("built from source (no wheel in the lock for this platform): antlr4-python3-runtime, "
                          "flashinfer-python, func-timeout",)


def test_a_variant_the_driver_cannot_run_stops_the_plan(plan_args):
    with pytest.raises(PreconditionError, match="too old for CUDA 12.6") as e:
        make_plan(**dict(plan_args, cuda=judge("cu126", "470.82.01", "asked")))
    assert "upgrade the NVIDIA driver" in e.value.hint


def test_require_gpu_needs_a_gpu_seen_unless_the_driver_is_declared(plan_args):
    for drv in (driver(None), driver(NEW_DRIVER)):  # no driver; a driver without a GPU
        with pytest.raises(PreconditionError, match="--require-gpu"):
            make_plan(**dict(plan_args, driver=drv, require_gpu=True))
    declared = DriverInfo(NEW_DRIVER, "override")  # SKYRL_SETUP_CUDA_DRIVER: building for GPU nodes elsewhere
    assert make_plan(**dict(plan_args, driver=declared, require_gpu=True)).require_gpu


def test_a_required_artifact_that_cannot_be_fetched_stops_the_plan(plan_args):
    with pytest.raises(OperationError) as e:
        make_plan(**dict(plan_args, artifacts=(artifact(True),)))
    assert e.value.message.startswith("flash-attn 2.8.3 is required and cannot be fetched from https://github.com/")
    assert "--find-links DIR" in e.value.hint and e.value.details["artifacts"][0]["name"] == "flash-attn"


def test_an_optional_artifact_that_cannot_be_fetched_is_a_warning_only(plan_args):
    p = make_plan(**dict(plan_args, artifacts=(artifact(False), artifact(True, "find-links"))))
    assert any(w.startswith("flash-attn 2.8.3 cannot be fetched from") and "is not ready if SkyRL's code imports it" in w
               for w in p.warnings)


def test_missing_build_prerequisites_stop_the_plan_and_soft_ones_warn(plan_args):
    hard = Prereq("nvcc", False, "not found", "install the CUDA toolkit")
    soft = Prereq("ninja", False, "not found", "pip install ninja (faster builds)", blocking=False)
    with pytest.raises(PreconditionError, match="1 prerequisite\\(s\\) missing: nvcc: not found → install the CUDA toolkit") as e:
        make_plan(**dict(plan_args, prereqs=(hard, soft)))
    assert [p["name"] for p in e.value.details["build_prerequisites"]] == ["nvcc", "ninja"]
    p = make_plan(**dict(plan_args, prereqs=(soft, Prereq("gcc", True, "13.2"))))
    assert "ninja: not found; pip install ninja (faster builds)" in p.warnings


def test_the_plan_warns_of_a_python_other_than_the_locks_and_of_minor_version_compatibility(plan_args):
    p = make_plan(**dict(plan_args, python=PythonInfo("3.11.7", "/py/python3.11", "explicit"),
                         cuda=judge("cu126", "545.23.06", "the profile's route pypi")))
    assert "lockfile was made for Python 3.12, building with 3.11.7" in p.warnings
    assert any("minor-version compatibility" in w for w in p.warnings)


def test_a_plan_without_a_lock_yet_has_no_lock_warnings(plan_args):
    p = make_plan(**dict(plan_args, lock=None, lock_source="resolved while planning"))
    assert p.lock is None and p.warnings == ()


# -- store.noop.is_noop and store.noop.recorded_lock -----------------------------------------------------------------

@pytest.fixture(scope="module")
def small_venv(tmp_path_factory) -> Path:
    """A real venv (its interpreter runs) holding two distributions, by their .dist-info folders."""
    venv = tmp_path_factory.mktemp("noop") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3.*/site-packages"))
    for name in ("torch-2.7.1.dist-info", "sglang-0.4.8.post1.dist-info"):
        (site / name).mkdir()
    return venv


def _lock(tmp_path: Path, text: str = "lock-version = '1.0'\n"):
    path = tmp_path / "pylock.sglang.toml"
    path.write_text(text)
    return current.RecordedLock(path, hashlib.sha256(path.read_bytes()).hexdigest())


def _record(lock, /, **over) -> EnvRecord:
    rec = EnvRecord(backend="sglang", generation=1, store="/nowhere", lock=LockRecord(str(lock.path), lock.sha256),
                    packages={"torch": "2.7.1", "sglang": "0.4.8.post1"})
    return dataclasses.replace(rec, **over)


def test_a_rerun_of_the_same_lock_on_an_intact_environment_is_a_noop(small_venv, tmp_path):
    lock = _lock(tmp_path)
    store = Store(small_venv)
    assert current.is_noop(store, _record(lock), "sglang", lock, project=None, find_links=())


@pytest.mark.parametrize("case", ["no record", "no lock", "project", "find-links", "backend", "lock bytes", "drift",
                                  "missing package", "extra package"])
def test_anything_else_is_not_a_noop(small_venv, tmp_path, case):
    lock = _lock(tmp_path)
    rec, args = _record(lock), dict(project=None, find_links=())
    backend = "sglang"
    if case == "no record":
        rec = None
    elif case == "no lock":
        lock = None
    elif case == "project":
        args["project"] = tmp_path
    elif case == "find-links":
        args["find_links"] = (tmp_path,)
    elif case == "backend":
        backend = "vllm"
    elif case == "lock bytes":
        rec = _record(lock, lock=LockRecord(str(lock.path), "0" * 64))
    elif case == "drift":
        rec = _record(lock, packages={"torch": "2.7.0", "sglang": "0.4.8.post1"})
    elif case == "missing package":
        rec = _record(lock, packages={"torch": "2.7.1", "sglang": "0.4.8.post1", "ray": "2.51.1"})
    elif case == "extra package":
        rec = _record(lock, packages={"torch": "2.7.1"})
    assert not current.is_noop(Store(small_venv), rec, backend, lock, **args)


def test_an_environment_whose_interpreter_is_gone_or_that_is_no_venv_is_not_a_noop(small_venv, tmp_path):
    lock = _lock(tmp_path)
    assert not current.is_noop(Store(tmp_path / "nothing-here"), _record(lock), "sglang", lock, project=None, find_links=())
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-a", str(small_venv), str(broken)], check=True)  # moved: activate names the old place
    assert not current.is_noop(Store(broken), _record(lock), "sglang", lock, project=None, find_links=())


def test_the_recorded_lock_is_known_by_its_bytes_alone(tmp_path):
    lock = _lock(tmp_path)
    rec = _record(lock)
    assert current.recorded_lock(rec, "sglang", None, tmp_path) == lock
    assert current.recorded_lock(rec, "sglang", str(lock.path), tmp_path / "elsewhere") == lock  # --lock: any folder
    assert current.recorded_lock(rec, "sglang", None, tmp_path / "elsewhere") is None  # not the committed folder now
    assert current.recorded_lock(rec, "vllm", None, tmp_path) is None
    assert current.recorded_lock(None, "sglang", None, tmp_path) is None
    lock.path.write_text("lock-version = '1.0'\n# changed\n")
    assert current.recorded_lock(rec, "sglang", None, tmp_path) is None
    lock.path.unlink()
    assert current.recorded_lock(rec, "sglang", None, tmp_path) is None


# -- verify.verdict.assess: the verdict from what the static check and the real imports found -----------------------

ENGINE = "sglang.srt.entrypoints.engine:Engine"


def _found(findings=(), missing_entry=(), interface=None, dists=None, status="ok") -> dict:
    return {"status": status, "findings": list(findings), "missing_entry": list(missing_entry), "checked": 57, "seconds": 0.4,
            "dists": dists if dists is not None else {"sglang": {"name": "sglang", "version": "0.4.8.post1"},
                                                      "transformers": {"name": "transformers", "version": "4.57.1"}},
            "interface": interface if interface is not None else [{"class": ENGINE, "status": "ok"}]}


def assess(monkeypatch, profile, found: dict, imports=(), **kw):
    monkeypatch.setattr(readiness, "static_check", lambda python, prof, timeout=120: found)
    kw.setdefault("gpu_usable", False)
    return readiness.assess(Path("/env/bin/python"), profile, imports=tuple(imports), **kw)


def _ok_imports(profile) -> list[ImportResult]:
    return [ImportResult(m, "ok") for m in profile.skyrl_imports]


def test_nothing_found_is_ready_and_says_what_was_not_imported_without_a_gpu(monkeypatch, sglang):
    v = assess(monkeypatch, sglang, _found(), _ok_imports(sglang))
    assert v.ready and v.blockers == () and v.checked_modules == 57 and v.line() == "ready for SkyRL training with sglang"
    assert v.notes == ("not imported for real: skyrl_train.inference_engines.sglang.sglang_engine (no usable GPU here: "
                       "engine code takes CPU-only paths; the static check of its imports decides)",)
    assert v.to_json()["ready"] is True and [i["module"] for i in v.to_json()["imports"]] == list(sglang.skyrl_imports)


def test_with_a_gpu_the_engine_is_imported_for_real_and_results_not_asked_for_are_dropped(monkeypatch, sglang):
    engine = sglang.engine_imports[0]
    imports = _ok_imports(sglang) + [ImportResult(engine, "ok"), ImportResult("unrelated.module", "error", "boom")]
    v = assess(monkeypatch, sglang, _found(), imports, gpu_usable=True)
    assert v.ready and v.notes == () and [i.module for i in v.imports] == [*sglang.skyrl_imports, engine]
    assert readiness.real_import_list(sglang, False) == list(sglang.skyrl_imports)


def test_a_missing_artifact_is_one_blocker_with_its_wheel_and_the_same_import_error_is_not_another(monkeypatch, sglang):
    finding = {"module": "skyrl_train.model_wrapper", "line": 20, "kind": "module", "missing": "flash_attn.bert_padding",
               "statement": "from flash_attn.bert_padding import pad_input("}
    imports = _ok_imports(sglang)
    imports[0] = ImportResult(imports[0].module, "error", "ModuleNotFoundError: No module named 'flash_attn'")
    wheel = "flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp312-cp312-linux_x86_64.whl"
    v = assess(monkeypatch, sglang, _found([finding]), imports, wheels={"flash-attn": wheel})
    assert [(b.kind, b.module) for b in v.blockers] == [("artifact", "skyrl_train.model_wrapper:20")]
    b = v.blockers[0]
    assert b.reason == ("flash_attn.bert_padding is not installed; SkyRL imports it at module level "
                        "(`from flash_attn.bert_padding import pad_input`)")
    assert b.fix.startswith(f"download {wheel} and re-run with --find-links DIR") and "GitHub release asset" in b.fix
    assert "supply flash-attn 2.8.3 with --find-links DIR" in assess(monkeypatch, sglang, _found([finding])).blockers[0].fix
    assert v.line() == "built, but NOT ready for SkyRL training with sglang: 1 blocker(s)"


def test_a_module_skyrl_needs_that_the_environment_lacks_is_an_environment_blocker(monkeypatch, sglang):
    finding = {"module": "skyrl_train.trainer", "line": 7, "kind": "module", "missing": "hydra.utils"}
    v = assess(monkeypatch, sglang, _found([finding]))
    assert [(b.kind, b.reason) for b in v.blockers] == [
        ("environment", "hydra.utils is not installed; SkyRL imports it at module level")]
    assert v.blockers[0].fix == "rebuild from the lock: `skyrl-setup install --backend sglang --force`"
    assert v.environment_blockers == v.blockers


def test_a_name_a_dependency_lacks_names_the_version_skyrl_was_tested_with(monkeypatch, sglang):
    finding = {"module": "skyrl_train.model_wrapper", "line": 3, "kind": "name", "missing": "transformers.modeling_utils.Foo"}
    v = assess(monkeypatch, sglang, _found([finding]))
    b = v.blockers[0]
    assert (b.kind, b.reason) == ("environment", "transformers 4.57.1 has no Foo in transformers.modeling_utils")
    assert b.fix.startswith("SkyRL was tested with transformers 4.52.3: `skyrl-setup install --backend sglang --force`")


def test_skyrls_own_code_against_itself_is_the_releases_defect_or_the_users_checkout(monkeypatch):
    broken = profiles.load("vllm", "0.3.1")  # 0.3.1's fsdp_strategy imports what its fsdp_utils does not define
    finding = {"module": "skyrl_train.distributed.fsdp_strategy", "line": 30, "kind": "name",
               "missing": "skyrl_train.distributed.fsdp_utils.MixedPrecisionPolicy",
               "owner": {"name": "skyrl-train", "version": "0.3.1"}}
    release = assess(monkeypatch, broken, _found([finding], dists={}, interface=[])).blockers[0]
    assert release.kind == "release" and release.reason.startswith(
        "skyrl-train 0.3.1 itself: skyrl_train.distributed.fsdp_strategy imports MixedPrecisionPolicy from "
        "skyrl_train.distributed.fsdp_utils, which this release does not define")
    assert release.fix == "use a SkyRL checkout where it is fixed (`--project PATH`) or another release (`--skyrl skyrl-0.4.0`)"  # the newest sound one
    mine = assess(monkeypatch, broken, _found([finding], dists={}, interface=[]), checkout=True).blockers[0]
    assert mine.kind == "environment" and mine.reason.startswith("your checkout: ")
    assert mine.fix == "fix it in the checkout (skyrl_train/distributed/fsdp_strategy.py line 30)"


def test_a_missing_entry_module_is_named_once_not_again_by_its_import(monkeypatch, sglang):
    entry = sglang.skyrl_imports[0]
    imports = [ImportResult(entry, "error", f"No module named '{entry.split('.')[0]}'")] + _ok_imports(sglang)[1:]
    v = assess(monkeypatch, sglang, _found(missing_entry=[entry]), imports)
    assert [(b.module, b.reason) for b in v.blockers] == [(entry, f"{entry} is not installed")]


def test_an_import_that_fails_for_another_reason_is_its_own_blocker(monkeypatch, sglang):
    imports = _ok_imports(sglang)
    imports[1] = ImportResult(imports[1].module, "error", "RuntimeError: CUDA initialization failed")
    v = assess(monkeypatch, sglang, _found(), imports)
    assert [(b.kind, b.module, b.reason) for b in v.blockers] == [
        ("environment", imports[1].module, f"import {imports[1].module}: RuntimeError: CUDA initialization failed")]


def test_the_engines_rl_interface_missing_calls_or_the_engine_itself(monkeypatch, sglang):
    lacking = [{"class": ENGINE, "status": "missing", "missing": ["update_weights_from_tensor"], "detail": ""}]
    b = assess(monkeypatch, sglang, _found(interface=lacking)).blockers[0]
    assert b.reason == ("sglang 0.4.8.post1's sglang.srt.entrypoints.engine.Engine lacks update_weights_from_tensor, "
                        "which SkyRL calls for RL training")
    gone = [{"class": ENGINE, "status": "missing", "missing": ["update_weights_from_tensor"], "detail": "module not found"}]
    b = assess(monkeypatch, sglang, _found(interface=gone, dists={})).blockers[0]
    assert b.reason == ("sglang is not installed: SkyRL calls update_weights_from_tensor on "
                        "sglang.srt.entrypoints.engine.Engine for RL training")
    unknown = [{"class": ENGINE, "status": "unknown"}]
    v = assess(monkeypatch, sglang, _found(interface=unknown), gpu_usable=True)
    assert v.ready and v.notes == (f"RL interface of {ENGINE} not decided: a base class could not be read",)


def test_a_static_check_that_fails_is_one_blocker_and_a_profile_without_code_paths_has_none(monkeypatch, sglang):
    v = assess(monkeypatch, sglang, {"status": "error", "detail": "SyntaxError in x.py"})
    assert [(b.module, b.kind) for b in v.blockers] == [("(static check)", "environment")]
    assert "SyntaxError in x.py" in v.blockers[0].reason
    v = assess(monkeypatch, dataclasses.replace(sglang, skyrl_entry=()), _found())
    assert v.ready and v.notes == ("the profile names no SkyRL code paths to check",)


def test_the_same_blocker_found_twice_is_reported_once(monkeypatch, sglang):
    finding = {"module": "skyrl_train.trainer", "line": 7, "kind": "module", "missing": "hydra.utils"}
    v = assess(monkeypatch, sglang, _found([finding, dict(finding, line=9)]))
    assert len(v.blockers) == 1


def test_the_version_matrix_profile_points_at_skyrls_own_locks(monkeypatch):
    matrix = profiles.load("sglang-matrix")
    finding = {"module": "skyrl_train.trainer", "line": 7, "kind": "module", "missing": "hydra.utils"}
    b = assess(monkeypatch, matrix, _found([finding])).blockers[0]
    assert b.fix.startswith("this profile is the version matrix's set, not SkyRL's")
