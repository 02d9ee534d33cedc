"""`skyrl-setup doctor`: system, environment and GPU checks, each with a fix.

The slow parts (the environment's own description, the driver-level kernel probe, the
real imports with the torch probe after them, Python discovery) run as subprocesses in parallel,
each with a timeout, so doctor's wall time is about the slowest probe's: on a GPU host the one
interpreter that imports torch (once, for its imports and its GPU checks alike).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from skyrl_setup import paths as preflight
from skyrl_setup import settings
from skyrl_setup.catalog import DEFAULT_BACKEND, profiles
from skyrl_setup.commands.requests import DoctorRequest
from skyrl_setup.commands.results import Result
from skyrl_setup.commands.shapes import DoctorData
from skyrl_setup.commands.ui import UI
from skyrl_setup.detect.gpu import DriverInfo, detect_driver
from skyrl_setup.detect.python import find_python
from skyrl_setup.detect.system import detect_system
from skyrl_setup.doctor import (
    FAIL_ON,
    Check,
    env_checks,
    error_count,
    failing,
    fit_checks,
    guarded,
    modelsize,
    skyrl_checks,
    symptom_checks,
    system_checks,
)
from skyrl_setup.errors import ExitCode, SetupError, UsageError
from skyrl_setup.humanize import sh
from skyrl_setup.probe import driver_probe, run_json, script
from skyrl_setup.redact import secret_if_named
from skyrl_setup.store.generations import Store
from skyrl_setup.store.record import EnvRecord
from skyrl_setup.uv.backend import Uv
from skyrl_setup.verify import gpu as gpu_checks


def _target(req: DoctorRequest, profile_name: str) -> tuple[Path | None, Path, Store | None]:
    """(venv or None, python to probe, store if skyrl-setup made it)."""
    if req.python:
        py = Path(os.path.abspath(req.python))  # a bare `python` is ./python, not a PATH search
        if not py.exists():
            raise UsageError(f"--python {py}: no such file", "give the path of the environment's python")
        return None, py, None
    raw = req.venv if req.venv is not None else preflight.default_venv(profile_name)
    store = Store.for_target(raw)
    venv = Path(raw)
    return venv, venv / "bin" / "python", store if store.current() is not None else None


def run(req: DoctorRequest, ui: UI) -> Result:
    t0 = time.perf_counter()
    model = modelsize.parse(req.model) if req.model else None  # bad input: exit 2 before any probe
    fail_on = req.fail_on
    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on {fail_on}: not one of {', '.join(FAIL_ON)}",
                         "any: every error fails (the default); environment: only what install fails on too")
    backend = req.backend
    venv, python, store = _target(req, backend or DEFAULT_BACKEND)
    record = store.record() if store else None
    profile = profiles.load(backend or (record.backend if record else None) or DEFAULT_BACKEND,
                            req.skyrl or (record.release if record else None))
    driver = detect_driver()
    probes = not req.no_gpu_probe
    have_env = python.exists() or python.is_symlink()  # a dangling interpreter link is a broken env, not none

    with ThreadPoolExecutor(max_workers=8) as pool:
        # First, the one interpreter that imports the stack (torch: seconds) for the real imports and the torch
        # probe: doctor's longest wait; everything else runs beside it.
        check_env = symptom_checks.check_env_modules(profile)
        f_probe = pool.submit(_env_probe, python, profile, driver, check_env) if have_env and probes else None
        f_env = pool.submit(run_json, [str(python), script("env_script")]) if have_env else None
        f_drv = pool.submit(driver_probe, settings.current().probe_ptx) if probes else None
        sysinfo = detect_system()
        try:
            Uv.locate()  # once, before the threads that use it
        except SetupError:
            pass
        f_index = pool.submit(_index_facts, record, profile, sysinfo.platform, driver)  # may probe hosts: a route is chosen
        f_py = pool.submit(_python, profile)
        # SkyRL's code paths: read statically always; imported for real (in the probe interpreter) only with the probes
        f_skyrl = pool.submit(_verdict, python, profile, driver, _later(f_probe) if f_probe else (),
                              bool(record and record.project)) if have_env else None
        f_cache = pool.submit(_uv_cache_dir)
        facts = _mark_secrets(f_env.result()) if f_env else None
        kernels_ok = facts is not None and facts.get("status") != "error" and driver.gpus
        f_kern = pool.submit(symptom_checks.kernel_arches, facts) if facts is not None and kernels_ok else None  # beside the probe, too
        drv = f_drv.result() if f_drv else None
        imports, torch_res = f_probe.result() if f_probe else (None, None)
        if torch_res is None and probes and have_env:
            torch_res = {"skipped": "no NVIDIA driver: no GPU for torch to use"}
        found, py_error = f_py.result()
        cache = f_cache.result()
        verdict = f_skyrl.result() if f_skyrl else None
        index_cfg, judged, index_facts = f_index.result()

    env_path = venv or python.parent.parent
    checks: list[Check] = []
    checks += guarded("system.platform", system_checks.check_platform, sysinfo)
    checks += guarded("system.python", system_checks.check_python, found, py_error)
    checks += guarded("system.driver", system_checks.check_driver, driver, profile)
    checks += guarded("system.gpus", system_checks.check_gpus, driver, profile)
    checks += guarded("system.libnuma", system_checks.check_libnuma, sysinfo)
    checks += guarded("system.disk", system_checks.check_disk, env_path, cache)
    checks += guarded("system.uv_cache", system_checks.check_cache_fs, env_path, cache)
    index_lock = judged.lock if judged and index_facts is not None else None  # None: mirrors unreadable, nothing probed
    checks += guarded("system.index", _index_check, index_cfg, index_lock, index_facts or [])
    checks += _env_checks(facts, profile, record, venv, python, driver, torch_res, judged)
    if facts is not None and facts.get("status") != "error":
        checks += guarded("skyrl.ready", skyrl_checks.check_verdict, verdict, probes)
    checks += guarded("gpu.driver_probe", gpu_checks.check_driver_probe, drv, driver)
    checks += guarded("gpu.torch_probe", gpu_checks.check_torch_probe, torch_res if probes else None, profile, driver)
    checks += symptom_checks.symptoms(facts, [r for r in imports if r.module in check_env] if imports is not None else None,
                                      torch_res, driver, profile, str(venv) if venv else None, found,
                                      os.environ.get("CUDA_VISIBLE_DEVICES"), f_kern.result if f_kern else None)
    if model:
        checks += guarded("fit", fit_checks.check_fit, model, driver.gpus)

    errors = error_count(checks)
    warnings = sum(c.status == "warning" for c in checks)
    fails = failing(checks, fail_on)
    doc: DoctorData = {
        "checks": [c.to_json() for c in checks],
        "system": sysinfo.to_json() | {"driver": driver.to_json()},
        "gpus": [g.to_json() for g in driver.gpus],
        "environment": {"venv": str(venv) if venv else None, "python": str(python), "backend": profile.name,
                        "record": _record_summary(record), "exists": have_env,
                        "python_version": (facts or {}).get("python"),
                        "packages": env_checks.versions(facts) if facts and "distributions" in facts else {}},
        "probes": {"driver": drv, "torch": torch_res},
        "verdict": verdict.to_json() if verdict else None,
        "model_fit": fit_checks.verdict(model, [g.memory_bytes for g in driver.gpus], "this node") if model else None,
        "summary": {"errors": errors, "warnings": warnings, "failing": len(fails), "fail_on": fail_on,
                    "seconds": round(time.perf_counter() - t0, 3)},
    }
    return Result("doctor", doc, ExitCode.FAILED if fails else ExitCode.OK)


def _mark_secrets(facts: dict | None) -> dict | None:
    """The environment's variables enter here: a token-named one's value is a Secret from now on."""
    if isinstance(facts, dict) and isinstance(facts.get("env"), dict):
        facts = {**facts, "env": {k: secret_if_named(k, v) if isinstance(v, str) else v for k, v in facts["env"].items()}}
    return facts


def _env_probe(python: Path, profile, driver: DriverInfo, check_env: list[str]) -> tuple[list, dict | None]:
    """check_env.py's imports and SkyRL's real imports (readiness), with the torch probe where a driver is, from one
    interpreter that imports torch once (FACTS §10: an import per probe made doctor 1.35–1.7× `import torch`)."""
    from skyrl_setup.verify.imports import imports_and_torch, run_imports
    from skyrl_setup.verify.verdict import real_import_list

    real = real_import_list(profile, driver.usable) if profile.skyrl_entry else []
    modules = list(dict.fromkeys(check_env + real))
    if driver.version is None:
        return run_imports(python, modules, timeout=600), None
    return imports_and_torch(python, modules, timeout=600)


def _later(f_probe):
    """The probe's import results for verify.verdict.assess, waited for only where it reads them: after its static check."""
    yield from f_probe.result()[0]


def _verdict(python: Path, profile, driver: DriverInfo, imports, checkout: bool):
    from skyrl_setup.plan.artifacts import wheel_filename
    from skyrl_setup.store.venvinfo import installed_versions, public_version
    from skyrl_setup.verify import verdict as readiness

    torch = None
    try:  # the artifact's wheel name follows the environment's torch; a doctor never goes to the network
        torch = (installed_versions(python.parent.parent) or {}).get("torch")
    except Exception:  # noqa: BLE001 - a foreign --python may not be a venv at all
        torch = None
    variant = next((v for v in profile.variants if torch and torch.endswith(f"+{v}")), profile.variants[0])
    wheels = {a.name: wheel_filename(a, variant, public_version(torch), profile.python) for a in profile.artifacts} if torch else {}
    return readiness.assess(python, profile, gpu_usable=driver.usable, wheels=wheels, imports=imports, checkout=checkout)


def _python(profile):
    try:
        return find_python(Uv.locate(), profile.python, None, allow_download=False), None
    except SetupError as exc:
        return None, exc


def _index_facts(record: EnvRecord | None, profile, platform: str, driver: DriverInfo):
    """The configured index, the lock the environment is judged against (plan/basis.py), and whether that
    lock's files are reachable the way install fetches them."""
    from skyrl_setup.detect.index_config import detect_index
    from skyrl_setup.detect.mirrors import Mirrors
    from skyrl_setup.doctor import (
        index_checks,  # httpx: imported here, in a thread beside the probe interpreter
    )
    from skyrl_setup.plan.basis import env_basis
    from skyrl_setup.plan.fetch import routes_for

    cfg = detect_index()
    try:
        mirrors = Mirrors.load()
    except SetupError:  # a malformed mirrors file: install reports it; here, no reachability check
        return cfg, env_basis(record, profile, platform, driver, Mirrors()), None
    judged = env_basis(record, profile, platform, driver, mirrors)
    lock = judged.lock if judged else None
    routes = routes_for(lock, profile, mirrors, profile.artifacts, cfg) if lock else ()
    return cfg, judged, index_checks.probe_routes(lock, routes, cfg, mirrors)


def _index_check(cfg, lock, facts):
    from skyrl_setup.doctor import index_checks

    return index_checks.check_index(cfg, lock, facts)


def _uv_cache_dir() -> Path | None:
    try:
        return Uv.locate().cache_dir()
    except SetupError:
        return None


def _env_checks(facts, profile, record: EnvRecord | None, venv, python, driver: DriverInfo, torch_res, judged=None) -> list[Check]:
    if facts is None:
        where = venv or python
        return [Check("env.exists", "error", f"no environment at {where}",
                      f"skyrl-setup install --backend {profile.name}" + (f" --venv {sh(venv)}" if venv else ""))]
    if facts.get("status") == "error":
        return [Check("env.exists", "error", f"the environment's python does not run: {facts.get('detail')}",
                      f"skyrl-setup install --backend {profile.name} --force")]
    cuda_build = env_checks.torch_cuda_build(facts)
    has_torch = "torch" in env_checks.versions(facts)
    out: list[Check] = []
    out += guarded("env.python", env_checks.check_python, facts, profile)
    out += guarded("env.pins", env_checks.check_pins, facts, profile, str(venv) if venv else None, judged)
    out += guarded("env.drift", env_checks.check_drift, facts, record)
    out += guarded("env.requirements", env_checks.check_requirements, facts, profile.excludes)
    out += guarded("env.cuda_mixed", env_checks.check_mixed_cuda, facts)
    out += guarded("env.torch_cuda", env_checks.check_torch_build, cuda_build, has_torch, driver, profile)
    out += guarded("env.arch", gpu_checks.check_arch, torch_res if torch_res and "devices" in torch_res else None, driver)
    out += guarded("env.attention", gpu_checks.check_attention, driver, cuda_build, profile)
    out += guarded("env.runtime", env_checks.check_runtime_env, facts, profile)
    return out


def _record_summary(record: EnvRecord | None) -> dict | None:
    if not record:
        return None
    full = record.to_json()
    return {k: full[k] for k in ("backend", "generation", "created", "lock", "cuda")} | {"history": full["history"][-5:]}
