"""The install's GPU gate (issue 14) on a real GPU host: the probes install runs against a new generation
before its swap, and what it decides from them, for an environment whose python is given.

    python3 docs/gpu/gate_check.py PYTHON [--require-gpu]

Prints one JSON document: the driver detected, each probe's check, and the decision (a `gpu` blocker
in the verdict, or the exit-4 error with --require-gpu). It runs the project's own code
(skyrl_setup.verify.imports.gpu_probes, skyrl_setup.build.generation._judge_gpus); only the plan around them is minimal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

from skyrl_setup.build.generation import _judge_gpus
from skyrl_setup.catalog import profiles
from skyrl_setup.commands.results import error_envelope, plain
from skyrl_setup.detect.gpu import detect_driver
from skyrl_setup.errors import SetupError
from skyrl_setup.verify.imports import gpu_probes
from skyrl_setup.verify.verdict import Verdict


def main(argv: list[str]) -> dict:
    python, require_gpu = Path(argv[0]), "--require-gpu" in argv
    plan = SimpleNamespace(driver=detect_driver(), profile=profiles.load("sglang"), require_gpu=require_gpu)
    checks = tuple(gpu_probes(plan, python)) if plan.driver.usable else ()
    out = {"driver": plan.driver.to_json(), "usable": plan.driver.usable, "require_gpu": require_gpu,
           "checks": [c.to_json() for c in checks]}
    try:
        verdict = _judge_gpus(plan, checks, Verdict("sglang", ()))
        out["decision"] = {"swap": True, "ready": verdict.ready, "blockers": [b.to_json() for b in verdict.blockers]}
    except SetupError as exc:
        out["decision"] = {"swap": False, **error_envelope("install", exc)}
    return plain(out)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=1))
