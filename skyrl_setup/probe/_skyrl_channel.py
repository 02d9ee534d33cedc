"""The probes' own channel for their answer: the file the caller names in SKYRL_SETUP_PROBE_OUT.

Not stdout: the environment's code writes there too (a module or a .pth that prints) or keeps
it open (a child process an import starts), and either broke the answer or made the caller wait.
Standard library only. A probe run by hand, without the variable, prints its answer instead.
"""

import json
import os
import sys

_PATH = os.environ.pop("SKYRL_SETUP_PROBE_OUT", None)  # popped: what the probed code starts does not inherit it


def emit(doc):
    """One JSON line, complete on disk before the next: a crash later leaves the answers before it."""
    line = json.dumps(doc) + "\n"
    if _PATH is None:
        sys.stdout.write(line)
        sys.stdout.flush()
        return
    with open(_PATH, "a", encoding="utf-8") as fh:
        fh.write(line)
