"""Import modules one by one and report each as a JSON line. Standard library only.

argv[1]: a JSON list of module names. Each result is flushed before the next import, so
a module that kills the interpreter (a segfault in an extension) still leaves the
results before it, and the caller knows which import died.
"""

import json
import sys
import time
import traceback


def _version(mod):
    v = getattr(mod, "__version__", None)
    return v if isinstance(v, str) else None


def main():
    modules = json.loads(sys.argv[1])
    print(json.dumps({"python": sys.version.split()[0], "executable": sys.executable}), flush=True)
    for name in modules:
        print(json.dumps({"module": name, "status": "started"}), flush=True)
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
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
