"""skyrl-setup dockerfile: the build context's content, and its install step run here against the local index.

No Docker daemon here: the image itself is never built. What the image would run is run instead:
the Dockerfile's own `skyrl-setup install` line (paths under /opt/skyrl moved to a temporary
folder), by the skyrl-setup wheel the context carries, against the local test index.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from tests.conftest import cli, mirror_map
from tests.test_bad_input import assert_one_line


def dockerfile_lines(text: str) -> list[str]:
    """Instructions with their continuation lines joined, comments dropped, RUN's --mount options left out."""
    out, cur = [], ""
    for line in text.splitlines():
        if line.startswith("#") and not cur:
            continue
        cur += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            if cur:
                out.append(re.sub(r"^RUN (--mount=\S+ )+", "RUN ", cur))
            cur = ""
    return out


def test_default_backend_context(env, tmp_path, data_dir):
    out = tmp_path / "ctx"
    r = cli("dockerfile", "-o", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    doc = r.data
    # the same lock install would take on this host, read through install's own selection
    plan = cli("install", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=env).data["plan"]
    lock_name = Path(plan["lockfile"]["path"] if isinstance(plan["lockfile"], dict) else plan["lockfile"]).name
    assert Path(doc["lock"]).name == lock_name
    assert (out / lock_name).read_bytes() == Path(plan["lockfile"]).read_bytes()
    text = (out / "Dockerfile").read_text()
    assert "RUN --mount=type=cache,target=/root/.cache/uv skyrl-setup install" in text  # uv's cache stays out of the image
    lines = dockerfile_lines(text)
    assert lines[0] == "FROM nvidia/cuda:12.8.0-devel-ubuntu22.04"  # the lock is cu128: the version matrix §8's image
    assert any("apt-get install" in ln and "python3.12 python3.12-venv" in ln for ln in lines)
    assert f"COPY {lock_name} /opt/skyrl/" in lines
    install = next(ln for ln in lines if ln.startswith("RUN skyrl-setup install"))
    assert install == (f"RUN skyrl-setup install --backend sglang --lock /opt/skyrl/{lock_name} --venv /opt/skyrl/env "
                       "--python 3.12 --cuda cu128")
    assert doc["install"] == shlex.split(install)[1:]
    assert "ENV NCCL_CUMEM_ENABLE=0" in lines  # the profile's [env]
    doctor = lines.index("RUN skyrl-setup doctor --venv /opt/skyrl/env --backend sglang --no-gpu-probe")
    assert lines.index(install) < doctor
    assert lines[-1] == 'ENTRYPOINT ["/opt/skyrl/env/bin/python", "-m", "skyrl_train.entrypoints.main_base"]'
    wheel = out / Path(doc["tool_wheel"]).name
    assert f"COPY {wheel.name} /opt/skyrl/dist/" in lines
    names = zipfile.ZipFile(wheel).namelist()
    assert "skyrl_setup/cli/__init__.py" in names and f"skyrl_setup/_data/lockfiles/skyrl-train-0.3.1/{lock_name}" in names
    assert not any("__pycache__" in n for n in names)


def test_install_step_runs_as_written(env, tmp_path, index):
    """The Dockerfile's install line, run by the context's own skyrl-setup wheel: a verified environment."""
    out = tmp_path / "ctx"
    assert cli("dockerfile", "-o", str(out), env=env).returncode == 0
    lines = dockerfile_lines((out / "Dockerfile").read_text())
    root = tmp_path / "opt-skyrl"
    root.mkdir()
    lock_copy = next(ln for ln in lines if ln.startswith("COPY pylock."))
    shutil.copy(out / lock_copy.split()[1], root)  # the COPY instruction
    # the image's `python3.12 -m venv /opt/skyrl/tool && pip install WHEEL`: the wheel unpacked into a venv of its own;
    # its dependencies (uv, rich, ...) are not on the test index, so they come from the test runner's site-packages
    tool = tmp_path / "tool"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tool)], check=True)
    site = next(tool.glob("lib/python3.*/site-packages"))
    zipfile.ZipFile(next(out.glob("skyrl_setup-*.whl"))).extractall(site)
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = next(ln for ln in lines if ln.startswith("RUN skyrl-setup install"))
    argv = [a.replace("/opt/skyrl", str(root)) for a in shlex.split(install)[2:]]
    run_env = {k: v for k, v in env.items() if k != "SKYRL_SETUP_DATA_DIR"}  # the wheel's own profiles
    run_env["SKYRL_SETUP_MIRRORS"] = mirror_map(index, assets=True)  # the builder reaches flash-attn's release
    tool_py = str(tool / "bin" / "python")
    who = subprocess.run([tool_py, "-c", "import skyrl_setup; print(skyrl_setup.__file__)"], capture_output=True,
                         text=True, env=run_env, cwd=tmp_path)
    assert who.stdout.startswith(str(site)), who  # the context's skyrl-setup, not this checkout's
    p = subprocess.run([tool_py, "-m", "skyrl_setup", *argv, "--json"], capture_output=True, text=True,
                       env=run_env, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)["data"]
    assert Path(doc["lockfile"]).parent == root and doc["venv"] == str(root / "env")
    assert all(i["status"] in ("ok", "skipped") for i in doc["imports"])
    assert doc["ready"] is True, doc["verdict"]
    doctor = [a.replace("/opt/skyrl", str(root)) for a in
              shlex.split(next(ln for ln in lines if ln.startswith("RUN skyrl-setup doctor")))[2:]]
    d = subprocess.run([tool_py, "-m", "skyrl_setup", *doctor, "--json"], capture_output=True, text=True,
                       env=run_env, cwd=tmp_path, timeout=300)
    assert d.returncode == 0, [c for c in json.loads(d.stdout)["data"]["checks"] if c["status"] == "error"]  # the build's doctor step passes on a GPU-less builder


def test_cu126_lock_gets_the_12_6_image(env, tmp_path):
    """The PyPI route's lock (PyPI's torch 2.7.1 is the CUDA 12.6 build): the matching base image."""
    r = cli("dockerfile", "--cuda", "cu126", "-o", str(tmp_path / "ctx"), "--json", env=env)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "ctx" / "Dockerfile").read_text()
    assert "FROM nvidia/cuda:12.6.0-devel-ubuntu22.04" in text and r.data["cuda"] == "12.6"
    assert "--lock /opt/skyrl/pylock.sglang-pypi-cu126-linux_x86_64.toml" in text and "--cuda cu126" in text


def test_vllm_env_and_a_backend_without_lock(env, tmp_path, data_dir):
    r = cli("dockerfile", "--backend", "vllm", "-o", str(tmp_path / "v"), env=env)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "v" / "Dockerfile").read_text()
    assert "ENV NCCL_CUMEM_ENABLE=0" in text and "ENV VLLM_ALLOW_INSECURE_SERIALIZATION=1" in text
    # without a committed lock there is no image: an image needs one
    d = tmp_path / "data"
    shutil.copytree(data_dir, d)
    for f in (d / "lockfiles").glob("*/pylock.flashrl-*.toml"):
        f.unlink()
    r = cli("dockerfile", "--backend", "flashrl", "-o", str(tmp_path / "f"), env=dict(env, SKYRL_SETUP_DATA_DIR=str(d)))
    assert_one_line(r, 2)
    assert "skyrl-setup lock --from-skyrl" in r.stderr


def test_output_is_a_file(env, tmp_path):
    (tmp_path / "f").write_text("x")
    assert_one_line(cli("dockerfile", "-o", str(tmp_path / "f"), env=env), 2)


def test_committed_example_is_this_commands_output():
    """docs/docker/ was written by the command from the repository's own data (no test index)."""
    repo = Path(__file__).resolve().parents[1]
    example = repo / "docs" / "docker" / "Dockerfile"
    text = example.read_text()
    lock = next(ln.split()[1] for ln in text.splitlines() if ln.startswith("COPY pylock."))
    assert (repo / "docs" / "docker" / lock).read_bytes() == (repo / "lockfiles" / "skyrl-train-0.3.0" / lock).read_bytes()
    assert os.path.getsize(repo / "docs" / "docker" / lock) > 0 and "FROM nvidia/cuda:12.8.0-devel-ubuntu22.04" in text
