"""Verify an environment by importing its stack in the environment's own interpreter."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from skyrl_setup.probe import run_probe, script


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
    died = f"timed out after {timeout:.0f} s" if ans.returncode is None else f"interpreter exited with status {ans.returncode}"
    done: dict[str, ImportResult] = {}
    started = None
    for line in ans.lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict):
            continue
        if row.get("status") == "started":
            started = row["module"]
        elif "module" in row:
            done[row["module"]] = ImportResult(row["module"], row["status"], row.get("error", ""), row.get("version"), row.get("seconds", 0.0))
    results = []
    for m in modules:
        if m in done:
            results.append(done[m])
        elif m == started:
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

    from skyrl_setup.doctor import gpu_checks
    from skyrl_setup.probe import driver_probe, torch_probe

    with ThreadPoolExecutor(2) as pool:
        drv = pool.submit(driver_probe)
        tor = pool.submit(torch_probe, python)
        return (gpu_checks.check_driver_probe(drv.result(), plan.driver)
                + gpu_checks.check_torch_probe(tor.result(), plan.profile, plan.driver))
