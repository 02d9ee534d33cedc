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


DOCTOR = "RUN skyrl-setup doctor --venv /opt/skyrl/env --backend sglang --no-gpu-probe --fail-on environment"


def test_default_backend_context(env, tmp_path, data_dir):
    out = tmp_path / "ctx"
    r = cli("dockerfile", "-o", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    doc = r.data
    # the same lock install would take on this host, read through install's own selection
    plan = cli("install", "--dry-run", "--json", "--venv", str(tmp_path / "e"), env=env).data["plan"]
    lock_name = Path(plan["lockfile"]).name
    assert Path(doc["lock"]).name == lock_name and doc["route"] == plan["route"]["route"] == "skyrl"
    assert (out / lock_name).read_bytes() == Path(plan["lockfile"]).read_bytes()
    text = (out / "Dockerfile").read_text()
    assert "# The lock: route skyrl, as `skyrl-setup install` takes it on the host that wrote this." in text
    assert "RUN --mount=type=cache,target=/root/.cache/uv skyrl-setup install" in text  # uv's cache stays out of the image
    lines = dockerfile_lines(text)
    assert lines[0] == "FROM nvidia/cuda:12.8.0-devel-ubuntu22.04"  # the lock is cu128: the version matrix §8's image
    assert any("apt-get install" in ln and "python3.12 python3.12-venv" in ln for ln in lines)
    assert f"COPY {lock_name} /opt/skyrl/" in lines
    install = next(ln for ln in lines if ln.startswith("RUN skyrl-setup install"))
    assert install == (f"RUN skyrl-setup install --backend sglang --lock /opt/skyrl/{lock_name} --venv /opt/skyrl/env "
                       "--python 3.12 --cuda cu128")
    assert doc["install"] == shlex.split(install)[1:]
    assert 'ENV NCCL_CUMEM_ENABLE="0"' in lines  # the profile's [env], one double-quoted word
    doctor = lines.index(DOCTOR)  # fails the build only where install would (a blocker install builds anyway is reported)
    assert doc["doctor"] == shlex.split(DOCTOR)[1:]
    assert lines.index(install) < doctor
    assert lines[-1] == 'ENTRYPOINT ["/opt/skyrl/env/bin/python", "-m", "skyrl_train.entrypoints.main_base"]'
    wheel = out / Path(doc["tool_wheel"]).name
    assert f"COPY {wheel.name} /opt/skyrl/dist/" in lines
    names = zipfile.ZipFile(wheel).namelist()
    assert "skyrl_setup/cli/__init__.py" in names and f"skyrl_setup/_data/lockfiles/skyrl-train-0.3.1/{lock_name}" in names
    assert not any("__pycache__" in n for n in names)


def _unpacked(wheel: Path, tool: Path) -> tuple[Path, str]:
    """The wheel installed (unpacked) into a venv of its own; its dependencies from the test runner's site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tool)], check=True)
    site = next(tool.glob("lib/python3.*/site-packages"))
    zipfile.ZipFile(wheel).extractall(site)
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return site, str(tool / "bin" / "python")


def _context_tool(out: Path, tmp_path: Path, env: dict):
    """The image's `python3.12 -m venv /opt/skyrl/tool && pip install WHEEL`: the context's wheel unpacked into a venv of
    its own (its dependencies, uv, rich..., are not on the test index: they come from the test runner's site-packages);
    /opt/skyrl moved to a temporary folder holding the COPY'd lock. Returns (run a RUN line, the Dockerfile's lines)."""
    lines = dockerfile_lines((out / "Dockerfile").read_text())
    root = tmp_path / "opt-skyrl"
    root.mkdir()
    lock_copy = next(ln for ln in lines if ln.startswith("COPY pylock."))
    shutil.copy(out / lock_copy.split()[1], root)  # the COPY instruction
    site, tool_py = _unpacked(next(out.glob("skyrl_setup-*.whl")), tmp_path / "tool")
    who = subprocess.run([tool_py, "-c", "import skyrl_setup; print(skyrl_setup.__file__)"], capture_output=True,
                         text=True, env=env, cwd=tmp_path)
    assert who.stdout.startswith(str(site)), who  # the context's skyrl-setup, not this checkout's

    def run(prefix: str) -> tuple[int, dict]:
        argv = [a.replace("/opt/skyrl", str(root)) for a in shlex.split(next(ln for ln in lines if ln.startswith(prefix)))[2:]]
        p = subprocess.run([tool_py, "-m", "skyrl_setup", *argv, "--json"], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=300)
        return p.returncode, json.loads(p.stdout)
    return run, root


def _errors(doc: dict) -> list[dict]:
    return [c for c in doc["data"]["checks"] if c["status"] == "error"]


def test_install_step_runs_as_written(env, tmp_path, index):
    """The Dockerfile's install and doctor lines, run by the context's own skyrl-setup wheel: a verified environment."""
    out = tmp_path / "ctx"
    assert cli("dockerfile", "-o", str(out), env=env).returncode == 0
    run_env = {k: v for k, v in env.items() if k != "SKYRL_SETUP_DATA_DIR"}  # the wheel's own profiles
    run_env["SKYRL_SETUP_MIRRORS"] = mirror_map(index, assets=True)  # the builder reaches flash-attn's release
    run, root = _context_tool(out, tmp_path, run_env)
    code, doc = run("RUN skyrl-setup install")
    assert code == 0, doc
    doc = doc["data"]
    assert Path(doc["lockfile"]).parent == root and doc["venv"] == str(root / "env")
    assert all(i["status"] in ("ok", "skipped") for i in doc["imports"])
    assert doc["ready"] is True, doc["verdict"]
    code, doc = run("RUN skyrl-setup doctor")
    assert code == 0, doc.get("error") or _errors(doc)  # the build's doctor step passes on a GPU-less builder
    assert doc["data"]["summary"]["errors"] == 0


def test_doctor_step_reports_a_blocker_the_builder_cannot_clear_and_fails_on_a_broken_env(env, tmp_path, index):
    """A builder that cannot fetch flash-attn's prebuilt wheel: install builds the environment (exit 0, NOT ready, an
    `artifact` blocker) and so does the doctor step, which reports the blocker; a broken environment still fails it."""
    out = tmp_path / "ctx"
    assert cli("dockerfile", "-o", str(out), env=env).returncode == 0
    run_env = {k: v for k, v in env.items() if k != "SKYRL_SETUP_DATA_DIR"}  # GitHub is a dead port here
    run, root = _context_tool(out, tmp_path, run_env)
    code, doc = run("RUN skyrl-setup install")
    assert code == 0 and doc["data"]["ready"] is False, doc
    assert [b["kind"] for b in doc["data"]["verdict"]["blockers"]] == ["artifact"]
    code, doc = run("RUN skyrl-setup doctor")
    assert code == 0 and doc["ok"] is True, doc.get("error") or _errors(doc)
    d = doc["data"]
    errors = {c["id"]: c for c in d["checks"] if c["status"] == "error"}
    assert set(errors) == {"skyrl.blocker0", "skyrl.ready"}  # reported as they are: the verdict is not loosened
    assert errors["skyrl.blocker0"]["details"]["kind"] == "artifact" and "flash" in errors["skyrl.blocker0"]["summary"]
    assert "NOT ready" in errors["skyrl.ready"]["summary"] and d["verdict"]["ready"] is False
    assert d["summary"]["errors"] == 1 and d["summary"]["failing"] == 0  # the verdict line sums the blocker up: not one more
    # what install would fail on fails the build: here, a package of the lock gone from the environment
    venv_py = root / "env" / "bin" / "python"
    from uv import find_uv_bin
    subprocess.run([find_uv_bin(), "pip", "uninstall", "--python", str(venv_py), "datasets"], env=run_env, check=True,
                   capture_output=True)
    code, doc = run("RUN skyrl-setup doctor")
    assert code == 1 and [c["id"] for c in doc["data"]["checks"] if c["status"] == "error" and c["id"] == "env.pins"]


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
    assert 'ENV NCCL_CUMEM_ENABLE="0"' in text and 'ENV VLLM_ALLOW_INSECURE_SERIALIZATION="1"' in text
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
    """docs/docker/ was written by the command from the repository's own data (no test index), on a host that reaches
    only PyPI: the lock is the committed one install takes there, the image its CUDA's, the header says why."""
    repo = Path(__file__).resolve().parents[1]
    text = (repo / "docs" / "docker" / "Dockerfile").read_text()
    lock = next(ln.split()[1] for ln in text.splitlines() if ln.startswith("COPY pylock."))
    committed = [p for p in (repo / "lockfiles").glob(f"*/{lock}") if p.read_bytes() == (repo / "docs" / "docker" / lock).read_bytes()]
    assert committed and os.path.getsize(committed[0]) > 0
    cuda = re.search(r'^cuda = "cu(\d+)(\d)"$', committed[0].read_text(), re.M)
    assert f"FROM nvidia/cuda:{cuda.group(1)}.{cuda.group(2)}.0-devel-ubuntu22.04" in text
    route = re.search(r'^route = "(\w+)"$', committed[0].read_text(), re.M).group(1)
    assert f"# The lock: route {route}, as `skyrl-setup install` takes it on the host that wrote this." in text
    assert DOCTOR in text.splitlines()


# --- issue 25, items 11-13: what the Dockerfile says, what the context carries, what -o may overwrite ---

INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR",
                "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER"}
SGLANG_INSTRUCTIONS = ["FROM", "ENV", "RUN", "COPY", "RUN", "ENV", "COPY", "RUN", "ENV", "ENV", "RUN", "WORKDIR", "ENTRYPOINT"]


def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile as BuildKit's parser splits it: lines at \\n, comment lines dropped (inside a continuation too), a
    line ending in the escape character continued; (keyword, rest) per instruction, every keyword a known one."""
    out, cur = [], None
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line.strip().startswith("#") or (cur is None and not line.strip()):
            continue
        cur = line.strip() if cur is None else f"{cur} {line.strip()}"
        if cur.endswith("\\"):
            cur = cur[:-1].rstrip()
            continue
        keyword, _, rest = cur.partition(" ")
        assert keyword.upper() in INSTRUCTIONS, cur
        out.append((keyword.upper(), rest.strip()))
        cur = None
    return out


def env_assignment(rest: str) -> tuple[str, str]:
    """`K="v"` as Docker's lexer reads one double-quoted word: `\\` keeps `\\`, `"` and `$` literal; a bare `"` or `$` fails."""
    key, _, raw = rest.partition("=")
    m = re.fullmatch(r'"((?:\\.|[^"\\$])*)"', raw)
    assert m, rest  # a bare quote would end the word, a bare $ would be substituted
    return key, re.sub(r'\\([\\"$])', r"\1", m.group(1))


def _pypi_lock(data_dir: Path) -> Path:
    return next((data_dir / "lockfiles").glob("*/pylock.sglang-pypi-cu126-linux_x86_64.toml"))


def _data_copy(data_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(data_dir, tmp_path / "data"))


def test_a_hostile_lock_name_is_not_written_into_the_dockerfile(env, tmp_path, data_dir):
    """Item 11: a lock named with a space, `$HOME`, a quote and a newline + RUN: the context holds it under a name the
    tool chose, and the Dockerfile parses to exactly the instructions the tool writes."""
    lock = tmp_path / 'a b$HOME"x\nRUN touch pwned.toml'
    shutil.copy(_pypi_lock(data_dir), lock)
    out = tmp_path / "ctx"
    r = cli("dockerfile", "--lock", str(lock), "-o", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    text = (out / "Dockerfile").read_text()
    parsed = instructions(text)
    assert [k for k, _ in parsed] == SGLANG_INSTRUCTIONS, parsed
    assert "pwned" not in text and "$HOME" not in text
    copies = [shlex.split(rest) for k, rest in parsed if k == "COPY"]
    assert all(len(c) == 2 and (out / c[0]).is_file() and not (out / c[0]).is_symlink() for c in copies), copies
    lock_copy = out / copies[1][0]
    assert lock_copy.read_bytes() == lock.read_bytes() and Path(r.data["lock"]) == lock_copy
    install = shlex.split(next(rest for k, rest in parsed if k == "RUN" and "skyrl-setup install" in rest))
    assert install[install.index("--lock") + 1] == f"/opt/skyrl/{lock_copy.name}"


def test_env_values_are_quoted_and_a_newline_is_refused(env, tmp_path, data_dir):
    """Item 11: a runtime variable's value is written as one double-quoted ENV word (`\\`, `"`, `$` escaped, read back
    unchanged); a value with a newline, which would start an instruction of its own, is refused before anything is written."""
    d = _data_copy(data_dir, tmp_path)
    release = d / "releases" / "skyrl-train-0.3.1.toml"
    original = release.read_text()
    tricky = 'a "b" $HOME \\ c'
    release.write_text(original.replace('NCCL_CUMEM_ENABLE = "0"\n', 'NCCL_CUMEM_ENABLE = "0"\nTRICKY = \'a "b" $HOME \\ c\'\n', 1))
    out = tmp_path / "ctx"
    r = cli("dockerfile", "--cuda", "cu126", "-o", str(out), env=dict(env, SKYRL_SETUP_DATA_DIR=str(d)))
    assert r.returncode == 0, r.stderr
    parsed = instructions((out / "Dockerfile").read_text())
    assert [k for k, _ in parsed] == SGLANG_INSTRUCTIONS[:9] + ["ENV"] + SGLANG_INSTRUCTIONS[9:], parsed
    envs = dict(env_assignment(rest) for k, rest in parsed if k == "ENV" and '="' in rest)
    assert envs == {"NCCL_CUMEM_ENABLE": "0", "TRICKY": tricky}
    release.write_text(original.replace('NCCL_CUMEM_ENABLE = "0"\n', 'NCCL_CUMEM_ENABLE = "0"\nEVIL = "1\\nRUN touch pwned"\n', 1))
    out2 = tmp_path / "ctx2"
    r = cli("dockerfile", "--cuda", "cu126", "-o", str(out2), env=dict(env, SKYRL_SETUP_DATA_DIR=str(d)))
    assert_one_line(r, 2)
    assert "EVIL" in r.stderr and not (out2 / "Dockerfile").exists()


def test_a_lock_with_credentials_in_its_urls_is_refused_without_showing_them(env, tmp_path, data_dir):
    """Item 12: a lock whose URLs carry user:password@ would be copied into the context and an image layer: refused,
    the secret never printed (human or JSON), nothing written."""
    text = _pypi_lock(data_dir).read_text()
    assert "http://127.0.0.1:" in text
    lock = tmp_path / "pylock.private.toml"
    lock.write_text(text.replace("http://127.0.0.1:", "http://alice:s3cr3t-pw@127.0.0.1:"))
    out = tmp_path / "ctx"
    r = cli("dockerfile", "--lock", str(lock), "-o", str(out), env=env)
    assert_one_line(r, 2)
    assert "pylock.private.toml" in r.stderr and "s3cr3t" not in r.stdout + r.stderr
    assert not out.exists() or not any(out.iterdir())
    r = cli("dockerfile", "--lock", str(lock), "-o", str(out), "--json", env=env)
    assert r.returncode == 2 and r.error["hint"] and "s3cr3t" not in r.stdout + r.stderr


def _wheel_lockfiles(wheel: Path) -> dict[str, bytes]:
    prefix = "skyrl_setup/_data/lockfiles/"
    with zipfile.ZipFile(wheel) as zf:
        return {n[len(prefix):]: zf.read(n) for n in zf.namelist() if n.startswith(prefix)}


def test_the_tool_wheel_carries_only_the_shipped_lockfiles(env, tmp_path, data_dir):
    """Item 12: a private lockfile dropped into the data folder (the one SKYRL_SETUP_DATA_DIR names, or an installed
    skyrl-setup's own _data) stays out of the wheel; the wheel's lockfiles are the ones git tracks, as committed."""
    repo = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "-C", str(repo), "ls-files", "--", "lockfiles"], capture_output=True, text=True,
                             check=True).stdout.split()
    shipped = {p[len("lockfiles/"):]: (repo / p).read_bytes() for p in tracked if p.endswith(".toml")}
    d = _data_copy(data_dir, tmp_path)
    (d / "lockfiles" / "private").mkdir()
    (d / "lockfiles" / "private" / "pylock.mine.toml").write_text('lock-version = "1.0"\npackages = []\n# secret\n')
    out = tmp_path / "ctx"
    r = cli("dockerfile", "--cuda", "cu126", "-o", str(out), "--json", env=dict(env, SKYRL_SETUP_DATA_DIR=str(d)))
    assert r.returncode == 0, r.stderr
    wheel = Path(r.data["tool_wheel"])
    assert _wheel_lockfiles(wheel) == shipped
    # the same from an installed skyrl-setup (the context's wheel): a file dropped into its _data/lockfiles stays out
    site, tool_py = _unpacked(wheel, tmp_path / "tool")
    (site / "skyrl_setup" / "_data" / "lockfiles" / "pylock.mine.toml").write_text("# private\n")
    p = subprocess.run([tool_py, "-m", "skyrl_setup", "dockerfile", "--lock", str(_pypi_lock(data_dir)), "-o", str(tmp_path / "c2"),
                        "--json"], capture_output=True, text=True, cwd=tmp_path,
                       env={k: v for k, v in env.items() if k != "SKYRL_SETUP_DATA_DIR"})
    assert p.returncode == 0, p.stderr
    assert _wheel_lockfiles(Path(json.loads(p.stdout)["data"]["tool_wheel"])) == shipped


def test_output_folder_with_a_users_files_is_refused(env, tmp_path):
    """Item 13: -o DIR holding a Dockerfile the tool did not write, a file of the user's at a name it would write, or a
    symbolic link there, is refused and nothing written; a context the tool wrote itself is replaced, whole."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    for i, (name, make) in enumerate([("Dockerfile", lambda p: p.write_text("FROM ubuntu:22.04\nRUN echo my own\n")),
                                      ("pylock.sglang-pypi-cu126-linux_x86_64.toml", lambda p: p.write_text("# mine\n")),
                                      ("Dockerfile", lambda p: p.symlink_to(target))]):
        out = tmp_path / f"ctx{i}"
        out.mkdir()
        make(out / name)
        before = (out / name).read_text()
        r = cli("dockerfile", "--cuda", "cu126", "-o", str(out), env=env)
        assert_one_line(r, 2)
        assert name in r.stderr and [p.name for p in out.iterdir()] == [name] and (out / name).read_text() == before
    assert (tmp_path / "ctx2" / "Dockerfile").is_symlink() and target.read_text() == "precious\n"
    own = tmp_path / "own"
    assert cli("dockerfile", "--cuda", "cu126", "-o", str(own), env=env).returncode == 0
    r = cli("dockerfile", "--cuda", "cu126", "-o", str(own), "--strict", env=env)
    assert r.returncode == 0, r.stderr
    assert "(`dockerfile --strict`)" in (own / "Dockerfile").read_text()
    assert not [p.name for p in own.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_force_replaces_a_users_file_and_never_writes_through_a_link(env, tmp_path):
    out, target = tmp_path / "ctx", tmp_path / "elsewhere.txt"
    out.mkdir()
    target.write_text("precious\n")
    (out / "Dockerfile").symlink_to(target)
    r = cli("dockerfile", "--cuda", "cu126", "-o", str(out), "--force", env=env)
    assert r.returncode == 0, r.stderr
    assert target.read_text() == "precious\n" and not (out / "Dockerfile").is_symlink()
    assert (out / "Dockerfile").read_text().startswith("# syntax=")
