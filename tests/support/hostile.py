"""Helpers of tests/test_reliability3.py: bundles altered as a hostile sender would, a filesystem filled to
its last page, the CLI with a standard stream closed or some capabilities dropped."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO, Run


def repack(src: Path, dst: Path, *, manifest: Callable[[dict], object] | None = None, replace: dict[str, bytes] | None = None,
           extra: tuple[tarfile.TarInfo, ...] = (), drop: tuple[str, ...] = ()) -> Path:
    """A copy of bundle `src` with bundle.json rewritten by `manifest`, members' bytes replaced, some dropped,
    `extra` members (devices, FIFOs: headers only) added."""
    replace = dict(replace or {})
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin.getmembers():
            if m.name in drop:
                continue
            data = tin.extractfile(m).read() if m.isfile() else None
            if m.name == "bundle.json" and manifest is not None:
                data = json.dumps(manifest(json.loads(data))).encode()
            data = replace.pop(m.name, data)
            if data is not None:
                m.size = len(data)
            tout.addfile(m, io.BytesIO(data) if data is not None else None)
        for m in extra:
            tout.addfile(m)
    return dst


def special(name: str, kind: bytes, major: int = 0, minor: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.devmajor, info.devminor = kind, 0o666, major, minor
    return info


def member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tf:
        return tf.extractfile(name).read()


def fill(folder: Path) -> Path:
    """Write a file in `folder` until its filesystem has no page left (ENOSPC)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while fh.write(b"\0" * size):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler


def cli_with(redirect: str, *args: str, env: dict[str, str], timeout: float = 300, prefix: tuple[str, ...] = ()) -> Run:
    """The CLI under `sh -c 'exec ... REDIRECT'`: `<&-` or `>&-` closes that stream, as a careless script does.
    `prefix`: a command the CLI runs under (setpriv)."""
    cmd = " ".join(['"$@"', redirect])
    p = subprocess.run(["sh", "-c", f"exec {cmd}", "sh", *prefix, sys.executable, "-m", "skyrl_setup", *args],
                       capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)
    return Run(p.returncode, p.stdout, p.stderr)


def holder_pth(gate: Path, pids: Path) -> str:
    """A .pth line that starts a child which keeps the interpreter's stdout open until `gate` exists (or 10 min):
    what an import that starts a server does. Each child's pid is written in `pids`."""
    script = (f"echo $$ >> {pids}; i=0; while [ -d {gate.parent} ] && [ ! -e {gate} ] && [ $i -lt 3000 ]; "
              "do sleep 0.2; i=$((i+1)); done")
    return f"import subprocess; subprocess.Popen(['/bin/sh', '-c', {script!r}])\n"


def release(gate: Path, pids: Path) -> None:
    """Open the gate and wait until every holder has seen it (a passed test's folder, the gate in it, is removed
    soon after); one still there after 30 s is killed."""
    import signal
    import time

    gate.write_text("")
    holders = [int(x) for x in pids.read_text().split()] if pids.exists() else []
    deadline = time.monotonic() + 30
    while any(alive(p) for p in holders) and time.monotonic() < deadline:
        time.sleep(0.1)
    for p in holders:
        if alive(p):
            os.kill(p, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def without_dac(env: dict[str, str]) -> tuple[str, ...] | None:
    """A prefix that runs a command as this root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, so a mode-000
    folder is unreadable to it, as another user's is to an ordinary user; None where that is not possible."""
    if os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists():
        return None
    prefix = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--")
    p = subprocess.run([*prefix, "cat", "/proc/self/status"], capture_output=True, text=True)
    return prefix if p.returncode == 0 else None


def small_tmpfs(tmp_path: Path, size: str):
    """A real tmpfs of `size` under tmp_path (for ENOSPC): a pytest fixture body, skipped where mounting is refused."""
    import pytest

    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here (needs root or CAP_SYS_ADMIN)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
