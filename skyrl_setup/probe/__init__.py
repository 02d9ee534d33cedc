"""Probes run inside a target environment or against the GPU driver.

The scripts in this package import only the standard library at module level and turn
every failure into a value in their JSON output, never an exception: they must work in a
broken environment, which is exactly where they are needed. They are run as files by
the target venv's own interpreter (`python imports_script.py ...`), not imported there.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from skyrl_setup import children

SCRIPTS = Path(__file__).resolve().parent


def script(name: str) -> str:
    return str(SCRIPTS / f"{name}.py")


def run_json(argv: list[str], timeout: float = 120, env: dict | None = None) -> dict:
    """Run a probe script and read its JSON; any failure becomes {"status": "error", ...}."""
    t0 = time.perf_counter()
    try:
        p = children.run(argv, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "error", "step": "timeout", "detail": f"no answer within {timeout:.0f} s"}
    except OSError as exc:
        return {"status": "error", "step": "start", "detail": f"cannot run {argv[0]}: {exc.strerror}"}
    lines = p.stdout.strip().splitlines()
    try:
        doc = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "error", "step": "crash", "detail": f"exit status {p.returncode}: {tail}"[:500]}
    if not isinstance(doc, dict):  # not our probe answering (a wrapper script, a shim)
        return {"status": "error", "step": "output", "detail": f"printed {lines[-1][:80]!r}, not the probe's JSON"}
    doc.setdefault("probe_wall_s", round(time.perf_counter() - t0, 3))
    return doc


def driver_probe(ptx_version: str | None = None) -> dict:
    extra = ["--ptx-version", ptx_version] if ptx_version else []
    return run_json([sys.executable, script("cuda_driver_script"), *extra])


def torch_probe(python: Path) -> dict:
    return run_json([str(python), script("torch_script")])
