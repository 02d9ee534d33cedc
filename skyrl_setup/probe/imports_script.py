"""Import modules one by one and report each as a JSON line. Standard library only.

argv[1]: a JSON list of module names. Each result is written (_skyrl_channel.py) before the next import, so
a module that kills the interpreter (a segfault in an extension) still leaves the
results before it, and the caller knows which import died.
"""

import json
import os
import sys
import time
import traceback

from _skyrl_channel import emit  # a sibling file: this script's folder is on sys.path


def _version(mod):
    v = getattr(mod, "__version__", None)
    return v if isinstance(v, str) else None


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


def main():
    modules = json.loads(sys.argv[1])
    _failpoint()
    emit({"python": sys.version.split()[0], "executable": sys.executable})
    for name in modules:
        emit({"module": name, "status": "started"})
        t0 = time.perf_counter()
        try:
            mod = __import__(name)
            for part in name.split(".")[1:]:
                mod = getattr(mod, part)
            row = {"module": name, "status": "ok", "version": _version(mod)}
        except BaseException as exc:  # noqa: BLE001 - every failure is a value here
            last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
            row = {"module": name, "status": "error", "error": f"{type(exc).__name__}: {exc}"[:500] + where}
        row["seconds"] = round(time.perf_counter() - t0, 3)
        emit(row)


if __name__ == "__main__":
    main()
