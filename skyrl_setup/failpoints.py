"""Named failpoints: let the reliability tests stop the real process at an exact stage.

SKYRL_SETUP_FAILPOINT="NAME:ACTION" with ACTION one of
  kill        SIGKILL this process (as an OOM killer or `kill -9` would)
  int         SIGINT this process (as Ctrl-C would); term, hup: SIGTERM, SIGHUP (a closed terminal)
  wait=DIR    write DIR/<pid>.reached, then wait until DIR/release exists (at most 120 s)
Unset, `hit` is one dictionary lookup. Names are listed in FAILPOINTS so a test can cover them all.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from skyrl_setup import settings

FAILPOINTS = (
    "locked", "cleaned", "generation-created", "venv-created", "uv-sync-started", "uv-download-started",
    "synced",
    "artifacts-installed", "settings-written", "verified", "record-written", "swap-link-created",
    "swapped", "pruned", "upgrade-lock-resolved", "rollback-swapped",
    "import-check-started",  # hit in the import-check child (probe/imports_script.py), which supports wait= only
)
SIGNALS = {"int": signal.SIGINT, "term": signal.SIGTERM, "hup": signal.SIGHUP}


def hit(name: str) -> None:
    spec = settings.current().failpoint
    if not spec:
        return
    point, _, action = spec.partition(":")
    if point != name:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action in SIGNALS:
        os.kill(os.getpid(), SIGNALS[action])
        time.sleep(5)  # the KeyboardInterrupt (or cli's Terminated) arrives during this sleep
    elif action.startswith("wait="):
        d = Path(action[5:])
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{os.getpid()}.reached").write_text(name)
        deadline = time.monotonic() + 120
        while not (d / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
