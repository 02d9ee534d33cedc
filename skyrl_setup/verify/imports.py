"""Verify an environment by importing its stack in the environment's own interpreter."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from skyrl_setup.probe import Answer, run_probe, script, torch_probe


@dataclass(frozen=True)
class ImportResult:
    module: str
    status: str  # ok / error / skipped
    detail: str = ""
    version: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"module": self.module, "status": self.status, "detail": self.detail, "version": self.version, "seconds": self.seconds}


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def run_imports(python: Path, modules: list[str], *, timeout: float = 600, env: dict | None = None) -> list[ImportResult]:
    if not modules:
        return []
    try:
        ans = run_probe([str(python), script("imports_script"), json.dumps(modules)], timeout, env)
    except OSError as exc:
        return [ImportResult(m, "error", f"cannot run {python}: {exc.strerror}") for m in modules]
    return _import_results(ans, modules, timeout)


def imports_and_torch(python: Path, modules: list[str], *, timeout: float = 600) -> tuple[list[ImportResult], dict]:
    """The imports and the torch probe from one interpreter that imports torch once (seconds on a GPU host), then
    forks for the rest (probe/imports_script.py --torch-probe). No answer, or a failing one other than torch's own
    import, is asked again in an interpreter of its own (probe.torch_probe), whose answer is reported: a fork can
    fail where a fresh interpreter would not (CUDA initialized before the fork by a plugin torch's import loaded)."""
    t0 = time.perf_counter()
    try:
        ans = run_probe([str(python), script("imports_script"), json.dumps(modules), "--torch-probe"], timeout)
    except OSError as exc:
        return ([ImportResult(m, "error", f"cannot run {python}: {exc.strerror}") for m in modules],
                {"status": "error", "step": "start", "detail": f"cannot run {python}: {exc.strerror}"})
    doc = next((r["torch_probe"] for r in _rows(ans.lines) if isinstance(r.get("torch_probe"), dict)), None)
    if doc is None or (doc.get("status") != "ok" and doc.get("step") != "import torch"):
        doc = torch_probe(python)
    else:
        doc.setdefault("probe_wall_s", round(time.perf_counter() - t0, 3))
    return _import_results(ans, modules, timeout), doc


def _rows(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            out.append(row)
    return out


def _import_results(ans: Answer, modules: list[str], timeout: float) -> list[ImportResult]:
    died = f"timed out after {timeout:.0f} s" if ans.returncode is None else f"interpreter exited with status {ans.returncode}"
    done: dict[str, ImportResult] = {}
    started = set()  # more than one where the imports ran side by side (imports_script.py --torch-probe)
    for row in _rows(ans.lines):
        if row.get("status") == "started":
            started.add(row["module"])
        elif row.get("status") == "requeued":  # ended beside torch's import without an answer; tried again after it
            started.discard(row["module"])
        elif "module" in row:
            done[row["module"]] = ImportResult(row["module"], row["status"], row.get("error", ""), row.get("version"), row.get("seconds", 0.0))
    results = []
    for m in modules:
        if m in done:
            results.append(done[m])
        elif m in started:
            results.append(ImportResult(m, "error", f"import killed the interpreter ({died})"))
        else:
            results.append(ImportResult(m, "error", f"not reached: an earlier import killed the interpreter ({died})"))
    return results


def verify_imports(python: Path, modules: tuple[str, ...], gpu_modules: tuple[str, ...], *, have_driver: bool) -> list[ImportResult]:
    todo = list(modules) + (list(gpu_modules) if have_driver else [])
    results = run_imports(python, todo)
    if not have_driver:
        results += [ImportResult(m, "skipped", "needs an NVIDIA driver (libcuda) to import; none on this host") for m in gpu_modules]
    return results


def gpu_probes(plan, python: Path) -> list:
    """On a GPU host, before the swap: a kernel through libcuda (no torch) and a matmul through the new
    environment's torch, judged as doctor judges them."""
    from concurrent.futures import ThreadPoolExecutor

    from skyrl_setup.probe import driver_probe
    from skyrl_setup.verify import gpu as gpu_checks

    with ThreadPoolExecutor(2) as pool:
        drv = pool.submit(driver_probe)
        tor = pool.submit(torch_probe, python)
        return (gpu_checks.check_driver_probe(drv.result(), plan.driver)
                + gpu_checks.check_torch_probe(tor.result(), plan.profile, plan.driver))
