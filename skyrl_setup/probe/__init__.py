"""Probes run inside a target environment or against the GPU driver.

The scripts in this package import only the standard library at module level and turn
every failure into a value in their JSON output, never an exception: they must work in a
broken environment, which is exactly where they are needed. They are run as files by
the target venv's own interpreter (`python imports_script.py ...`), not imported there.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from skyrl_setup import proc as children

SCRIPTS = Path(__file__).resolve().parent
CHANNEL = "SKYRL_SETUP_PROBE_OUT"  # read by _skyrl_channel.py


def script(name: str) -> str:
    return str(SCRIPTS / f"{name}.py")


@dataclass(frozen=True)
class Answer:
    lines: list[str]  # what the probe wrote on its channel, also when it died or timed out
    returncode: int | None  # None: killed at the timeout
    stderr_tail: str


def run_probe(argv: list[str], timeout: float, env: dict | None = None) -> Answer:
    """Run a probe script with its channel (a file) for the answer; stdout is discarded and stderr goes to a file,
    so nothing the probed code prints or keeps open is read, or waited for: only the probe process itself.
    OSError if it cannot be started."""
    with tempfile.TemporaryDirectory(prefix="skyrl-probe-") as d:
        out = Path(d) / "answer"
        out.touch()
        with open(Path(d) / "stderr", "w+b") as err:
            try:
                rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=timeout,
                                    env={**(os.environ if env is None else env), CHANNEL: str(out)},
                                    preexec_fn=children.die_with_parent).returncode  # killed on timeout or interrupt
            except subprocess.TimeoutExpired:
                rc = None
            err.seek(max(0, err.seek(0, os.SEEK_END) - 4000))
            tail = err.read().decode(errors="replace")
        return Answer(out.read_text(encoding="utf-8", errors="replace").splitlines(), rc, tail)


def run_json(argv: list[str], timeout: float = 120, env: dict | None = None) -> dict:
    """Run a probe script and read its JSON; any failure becomes {"status": "error", ...}."""
    t0 = time.perf_counter()
    try:
        ans = run_probe(argv, timeout, env)
    except OSError as exc:
        return {"status": "error", "step": "start", "detail": f"cannot run {argv[0]}: {exc.strerror}"}
    if ans.returncode is None:
        return {"status": "error", "step": "timeout", "detail": f"no answer within {timeout:.0f} s"}
    try:
        doc = json.loads(ans.lines[-1])
    except (IndexError, ValueError):
        tail = (ans.stderr_tail.strip().splitlines() or ["no answer from the probe"])[-1]
        return {"status": "error", "step": "crash", "detail": f"exit status {ans.returncode}: {tail}"[:500]}
    if not isinstance(doc, dict):
        return {"status": "error", "step": "output", "detail": f"answered {ans.lines[-1][:80]!r}, not the probe's JSON"}
    doc.setdefault("probe_wall_s", round(time.perf_counter() - t0, 3))
    return doc


def driver_probe(ptx_version: str | None = None) -> dict:
    extra = ["--ptx-version", ptx_version] if ptx_version else []
    return run_json([sys.executable, script("cuda_driver_script"), *extra])


def torch_probe(python: Path) -> dict:
    return run_json([str(python), script("torch_script")])
