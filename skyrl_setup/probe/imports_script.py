"""Import modules one by one and report each as a JSON line. Standard library only.

argv[1]: a JSON list of module names. Each result is written (_skyrl_channel.py) before the next import, so
a module that kills the interpreter (a segfault in an extension) still leaves the
results before it, and the caller knows which import died.
argv[2] `--torch-probe` (doctor): torch is imported here once, then this process forks: torch_script.py's GPU
checks in one fork, each other import in a fork of its own, side by side. torch's import (seconds on a GPU host) is
paid once, not once per probe, and no import waits for another. This process writes the error row of an import
whose fork died. The torch probe answers {"torch_probe": {...}}. Where importing torch initialized CUDA (a fork
could not use it), everything runs in this process instead, one after another.
Each other import is first tried in a fork made before torch's import, beside it, where loading torch ends the
fork (_TorchLoadEndsFork): an import that never loads torch (transformers' own: seconds, docs/gpu-evidence.md
section 8) is done by the time torch's is. Only such a fork's success counts, and it is written
only once torch's import has finished (a torch import that kills this process leaves each other import "not
reached", as before); anything else (torch needed, an error, a death) is imported again after torch, as before.
"""

import gc
import json
import os
import sys
import time
import traceback
import warnings

import torch_script  # standard library at module level; loaded before any probed code can shadow it
from _skyrl_channel import emit  # a sibling file: this script's folder is on sys.path


def _version(name, mod):
    """__version__ where it agrees with the installed distribution (torch's carries its CUDA build, 2.11.0+cu130, which
    the distribution's 2.11.0 does not), else the distribution's: a package may never update its __version__
    (skyrl_gym says 0.0.0 in skyrl-gym 0.2.0)."""
    v = getattr(mod, "__version__", None)
    v = v if isinstance(v, str) else None
    if "." not in name:
        from importlib import metadata

        for dist in (name, name.replace("_", "-")):
            try:
                found = metadata.version(dist)
            except Exception:  # noqa: BLE001 - not a distribution of that name, or unreadable metadata
                continue
            return v if v is not None and v.split("+")[0] == found.split("+")[0] else found
    return v


def _failpoint():
    """The tests' `import-check-started:wait=DIR` (see skyrl_setup/failpoints.py): pause here."""
    point, _, action = os.environ.get("SKYRL_SETUP_FAILPOINT", "").partition(":")
    if point != "import-check-started" or not action.startswith("wait="):
        return
    os.makedirs(action[5:], exist_ok=True)
    with open(os.path.join(action[5:], f"{os.getpid()}.reached"), "w") as fh:
        fh.write(point)
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(action[5:], "release")) and time.monotonic() < deadline:
        time.sleep(0.05)


TORCH_PROBE_TIMEOUT = 120  # seconds: run_json's default, which the torch probe has in an interpreter of its own


def _import(name):
    """Import one module, its rows emitted: (row, the error without its location, or None)."""
    emit({"module": name, "status": "started"})
    row, error = _attempt(name)
    emit(row)
    return row, error


def _attempt(name):
    t0 = time.perf_counter()
    error = None
    try:
        mod = __import__(name)
        for part in name.split(".")[1:]:
            mod = getattr(mod, part)
        row = {"module": name, "status": "ok", "version": _version(name, mod)}
    except BaseException as exc:  # noqa: BLE001 - every failure is a value here
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
        error = f"{type(exc).__name__}: {exc}"[:500]
        row = {"module": name, "status": "error", "error": error + where}
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row, error


def _in_turn(modules, torch_probe, torch_import=None):
    for name in modules:
        row, error = _import(name)
        if name == "torch":
            torch_import = (row["seconds"], error)
    if torch_probe:
        emit({"torch_probe": torch_script.main(torch_import)})


def _fork(work):
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _die_with(parent)
        work()
        code = 0
    finally:
        os._exit(code)  # a fork leaves without the parent's exit handlers and buffers


def _die_with(parent):
    """A fork outlives nothing: the caller's timeout kills this process, and PR_SET_PDEATHSIG its forks."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


class _TorchLoadEndsFork:
    """sys.meta_path's first finder in a fork made before torch's import: torch is found as usual (an availability
    check, importlib.util.find_spec, sees it as installed), but loading it ends the fork with no answer: that import
    is done again after torch's, in the process that has it. torch is never imported twice."""

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if finder is not self and find is not None else None
            if spec is not None:
                spec.loader = self
                return spec
        return None

    def create_module(self, spec):
        os._exit(0)

    def exec_module(self, module):
        os._exit(0)


def _beside_torch(name, answer_fd):
    sys.meta_path.insert(0, _TorchLoadEndsFork())
    row, _ = _attempt(name)
    if row["status"] == "ok":  # short strings: the pipe (64 KiB) holds the answer, unread until this fork's exit
        row = {k: v[:200] if isinstance(v, str) else v for k, v in row.items()}
        os.write(answer_fd, json.dumps(row).encode())


def _answer(fd):
    try:
        raw = os.read(fd, 65536)
    except BlockingIOError:  # nothing written, and the pipe still open in a process the import started
        raw = b""
    finally:
        os.close(fd)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _installed(name):
    """Its top-level package can be found (no code of it runs to know)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name.partition(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def _reap_early(early, rest):
    """The forks beside torch that have ended: a success's rows, or the module queued to be imported after torch."""
    for pid, (name, read_fd) in list(early.items()):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if not done:
            continue
        del early[pid]
        row = _answer(read_fd)
        if row is not None:
            emit({"module": name, "status": "started"})
            emit(row)
        else:
            rest.append(name)


def _side_by_side(modules):
    rest = [m for m in modules if m != "torch"]
    limit = max(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2)
    # torch's objects are never collected here: no collection during its import, none in a fork touches (and copies) them
    gc.disable()
    import ctypes  # noqa: F401 - once here, not in every fork (_die_with)

    early = {}  # fork made before torch's import -> (module, its answer's pipe)
    torch_import = None
    if len(rest) < len(modules):
        if hasattr(os, "fork"):
            installed = [m for m in rest if _installed(m)]  # a missing one fails at once after torch: no fork for it
            for name in installed[: limit - 1]:  # one CPU is torch's
                read_fd, write_fd = os.pipe()
                try:
                    pid = _fork(lambda n=name, w=write_fd: _beside_torch(n, w))
                except OSError:  # no process to spare (a pids limit): imported after torch instead
                    os.close(read_fd)
                    break
                finally:
                    os.close(write_fd)
                os.set_blocking(read_fd, False)
                early[pid] = (name, read_fd)
            rest = [m for m in rest if m not in {n for n, _ in early.values()}]
        row, error = _import("torch")
        torch_import = (row["seconds"], error)
    torch = sys.modules.get("torch")
    try:
        cuda_up = bool(torch is not None and torch.cuda.is_initialized())
    except BaseException:  # noqa: BLE001 - a torch without it: nothing initialized
        cuda_up = False
    if cuda_up or not hasattr(os, "fork"):
        for pid, (_, read_fd) in early.items():
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(read_fd)
        return _in_turn([m for m in modules if m != "torch"], True, torch_import)
    _reap_early(early, rest)  # those done beside torch: their rows now; the rest are still importing
    for name, _ in early.values():
        emit({"module": name, "status": "started"})
    # Python 3.12 warns of a fork in a process with threads, on stderr: whose last line a crash report quotes
    warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
    gc.freeze()

    probe = _fork(lambda: emit({"torch_probe": torch_script.main(torch_import)}))
    forks = {probe: (None, time.monotonic())}
    late = set()
    while rest or forks or early:
        while rest and len(forks) + len(early) <= limit:
            name = rest.pop(0)
            forks[_fork(lambda n=name: _import(n))] = (name, time.monotonic())
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if probe in forks and probe not in late and time.monotonic() - forks[probe][1] > TORCH_PROBE_TIMEOUT:
                os.kill(probe, 9)
                late.add(probe)
            time.sleep(0.005)
            continue
        if pid in early:
            name, read_fd = early.pop(pid)
            row = _answer(read_fd)
            if row is not None:
                emit(row)
            else:  # imported again after torch; until its fork starts, not to be blamed for a timeout
                emit({"module": name, "status": "requeued"})
                rest.append(name)
            continue
        if pid not in forks:
            continue  # a process the imported code started
        name, t0 = forks.pop(pid)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)  # as subprocess reports it
        if name is not None and code != 0:
            emit({"module": name, "status": "error", "error": f"import killed the interpreter (interpreter exited with status {code})",
                  "seconds": round(time.monotonic() - t0, 3)})


def main():
    modules = json.loads(sys.argv[1])
    _failpoint()
    emit({"python": sys.version.split()[0], "executable": sys.executable})
    if sys.argv[2:3] == ["--torch-probe"]:
        _side_by_side(modules)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # every answer is on disk: no interpreter teardown with torch in it for the caller to wait on
    else:
        _in_turn(modules, False)


if __name__ == "__main__":
    main()
