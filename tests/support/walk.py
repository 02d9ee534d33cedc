"""Run one skyrl-setup command in this interpreter and write down the walk it takes through the tool's modules.

    python tests/support/walk.py OUT.json install --venv ... --json

OUT.json: {"exit": N, "calls": [[from_module, to_module], ...]}: every call from a function of one of the tool's modules
into a function of another, in order, in every thread (the probes run in threads). A test reads the floors of the
module graph (tests/test_layout.py) over it: a call into a module on a higher floor is a climb back up.
"""

from __future__ import annotations

import json
import sys
import threading


def main() -> int:
    out, args = sys.argv[1], sys.argv[2:]
    calls: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def profile(frame, event, arg):
        if event != "call":
            return
        callee = frame.f_globals.get("__name__", "")
        caller_frame = frame.f_back
        caller = caller_frame.f_globals.get("__name__", "") if caller_frame else ""
        if callee != caller and callee.startswith("skyrl_setup") and caller.startswith("skyrl_setup"):
            pair = (caller, callee)
            if pair not in seen or calls[-1] != pair:
                calls.append(pair)
            seen.add(pair)

    from skyrl_setup.cli import main as cli

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        code = cli(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"exit": code, "calls": calls}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
