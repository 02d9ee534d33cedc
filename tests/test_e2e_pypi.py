"""End to end on the real stack: the committed sglang lockfile from real PyPI into Python 3.12.

About 5 GB of wheels: ~40 s to 1.5 min with a cold uv cache on this network, a few
seconds warm (uv's default cache is used on purpose, as a user's would be).
"""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import REPO, clean_env, cli, venv_run

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_real_sglang_lock_installs_and_imports(tmp_path):
    env = clean_env()
    env.update({"SKYRL_SETUP_HOME": str(tmp_path / "home"), "SKYRL_SETUP_LOG_DIR": str(tmp_path / "logs"),
                "UV_PYTHON_DOWNLOADS": "never"})
    for key in ("UV_CACHE_DIR",):  # honour a cache the machine configures
        if key in os.environ:
            env[key] = os.environ[key]
    venv = tmp_path / "sglang"
    r = cli("install", "--venv", str(venv), "--json", env=env, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = r.json
    assert doc["plan"]["lockfile"] == str(REPO / "lockfiles" / "pylock.sglang-cu128-linux_x86_64.toml")
    assert all(i["status"] in ("ok", "skipped") for i in doc["imports"]), doc["imports"]
    code = ("import json, torch, sglang, flashinfer, transformers, ray, skyrl_train, skyrl_gym;"
            "print(json.dumps([torch.__version__, torch.version.cuda, sglang.__version__, flashinfer.__version__, ray.__version__]))")
    out = venv_run(venv, code)
    assert out.returncode == 0, out.stderr[-2000:]
    torch_v, cuda, sglang_v, flashinfer_v, ray_v = json.loads(out.stdout.strip().splitlines()[-1])
    assert (torch_v, cuda, sglang_v, flashinfer_v, ray_v) == ("2.9.1+cu128", "12.8", "0.5.7", "0.5.3", "2.51.1")
