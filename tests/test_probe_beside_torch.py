"""doctor's probe interpreter (issue 23, item 8): each other import is tried beside torch's, in a fork where loading
torch ends the fork; only a success there counts, written once torch's import has finished."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.test_doctor import COUNTING_TORCH, counting_env, doctor_gpu

# torch's import waits for another import to run beside it (60 s at most), and fails where none did
AWAITING_TORCH = """
import os as _os, time as _time
_end = _time.monotonic() + 60
while not _os.path.exists(_os.environ["FAKE_BESIDE"]) and _time.monotonic() < _end:
    _time.sleep(0.01)
if not _os.path.exists(_os.environ["FAKE_BESIDE"]):
    raise ImportError("nothing was imported beside torch")
""" + COUNTING_TORCH

# transformers' own import: torch is found (an availability check) but never loaded
BESIDE = """
import importlib.util, os
assert importlib.util.find_spec("torch") is not None
open(os.environ["FAKE_BESIDE"], "w").close()
__version__ = "5.17.0"
"""


def _doctor(env, tmp_path: Path, modules: dict[str, str], **extra):
    log = tmp_path / "torch-imports.log"
    r, c = doctor_gpu(env, counting_env(tmp_path, modules), log, FAKE_BESIDE=str(tmp_path / "beside"), **extra)
    return r, c, log.read_text().split() if log.exists() else []


def test_an_import_that_never_loads_torch_runs_beside_torchs_import(env, tmp_path):
    r, c, log = _doctor(env, tmp_path, {"torch": AWAITING_TORCH, "transformers": BESIDE})
    assert c["env.imports"]["status"] == "ok" and "transformers 5.17.0" in c["env.imports"]["summary"], c["env.imports"]
    assert c["gpu0.torch"]["status"] == "ok", (c.get("gpu.torch_probe"), r.data["probes"])
    assert len(log) == 1, log


def test_an_import_that_loads_torch_waits_for_torchs_import_in_the_one_process(env, tmp_path):
    needs = "import torch\nassert torch.__version__ == '2.7.1+cu128'\n__version__ = '5.17.0'\n"
    r, c, log = _doctor(env, tmp_path, {"transformers": needs})
    assert c["env.imports"]["status"] == "ok" and "transformers 5.17.0" in c["env.imports"]["summary"], c["env.imports"]
    assert len(log) == 1, log  # torch imported once: the fork beside its import ended where it would have loaded it


def test_a_failure_beside_torch_is_imported_again_after_it(env, tmp_path):
    # fails where torch is not loaded yet, without loading it: only the import after torch's counts
    after = "import sys\nassert 'torch' in sys.modules, 'imported before torch'\n__version__ = '5.17.0'\n"
    r, c, log = _doctor(env, tmp_path, {"transformers": after})
    assert c["env.imports"]["status"] == "ok" and "transformers 5.17.0" in c["env.imports"]["summary"], c["env.imports"]
    assert "env.import.transformers" not in c
    assert len(log) == 1, log


def test_a_success_beside_a_torch_import_that_kills_the_interpreter_is_not_reached(env, tmp_path):
    r, c, log = _doctor(env, tmp_path, {"torch": AWAITING_TORCH, "transformers": BESIDE}, FAKE_TORCH_EXIT="5")
    assert "import torch fails: import killed the interpreter (interpreter exited with status 5)" in c["env.import.torch"]["summary"]
    assert (tmp_path / "beside").exists()  # it did run beside torch's import
    assert "not reached" in c["env.import.transformers"]["summary"], c["env.import.transformers"]


def test_an_import_that_never_got_its_turn_is_not_blamed_for_a_timeout(tmp_path):
    """Imports that load torch end their fork beside torch's import and wait for a turn after it; where the turns are
    all taken by hanging imports until the caller's timeout, they were never run: "not reached", not "killed"."""
    from skyrl_setup.probe import run_probe, script
    from skyrl_setup.verify.imports import _import_results

    site = tmp_path / "site"
    site.mkdir()
    (site / "torch.py").write_text("import time\ntime.sleep(1)\n__version__ = '2.7.1'\n")
    for name in ("hang1", "hang2", "hang3"):
        (site / f"{name}.py").write_text("import torch, time\ntime.sleep(120)\n")
    for name in ("c", "d"):
        (site / f"{name}.py").write_text("import torch\n")
    modules = ["torch", "hang1", "hang2", "hang3", "c", "d"]
    ans = run_probe([sys.executable, script("imports_script"), json.dumps(modules), "--torch-probe"], 8,
                    {**os.environ, "PYTHONPATH": str(site)})
    results = {r.module: r for r in _import_results(ans, modules, 8)}
    assert results["torch"].status == "ok", ans.lines
    blamed = {m for m, r in results.items() if "import killed the interpreter" in r.detail}
    assert blamed and blamed <= {"hang1", "hang2", "hang3"}, ans.lines  # the ones still importing at the timeout
    for m in ("c", "d"):  # done in a turn, or never given one
        assert results[m].status == "ok" or "not reached" in results[m].detail, (m, ans.lines)
