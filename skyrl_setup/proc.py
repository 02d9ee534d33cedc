"""Child processes that die with skyrl-setup.

A child started here gets SIGKILL when skyrl-setup dies (PR_SET_PDEATHSIG), whatever killed
it, and is killed when an interrupt (Ctrl-C, SIGTERM, SIGHUP) unwinds the call; so no
orphan keeps running in a generation that the next run removes or rebuilds.
"""

from __future__ import annotations

import subprocess


def _find_prctl():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# looked up here, in the parent: the child between fork and exec must not import (another
# thread may have held the import lock at the fork) and does nothing but this one call
_prctl = _find_prctl()


def die_with_parent() -> None:
    """In the child, before exec: ask the kernel for SIGKILL when the parent dies."""
    if _prctl is not None:
        _prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL


def run(argv: list[str], *, timeout: float | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """subprocess.run(capture_output=True, text=True) for a child tied to this process's life.

    subprocess.run kills the child on any exception, an interrupt included, before re-raising."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, preexec_fn=die_with_parent)
