"""Is an environment already what was asked for? Cheap enough to answer before the planner is imported:
a re-run with nothing to do costs reading a record (once: the caller passes it) and listing site-packages."""

from __future__ import annotations

from pathlib import Path

from skyrl_setup.envstore import Store
from skyrl_setup.venvinfo import compare, installed_versions, interpreter_runs


def is_noop(store: Store, rec: dict | None, backend: str, lock, *, project: Path | None, find_links: tuple) -> bool:
    """The environment (`rec`: its record) was built from this lock and still holds exactly what it was built with."""
    if not rec or lock is None or project or find_links:
        return False
    if rec.get("backend") != backend or rec.get("lock", {}).get("sha256") != lock.sha256:
        return False
    installed = installed_versions(store.target)
    return installed is not None and compare(rec.get("packages", {}), installed).empty and interpreter_runs(store.target)


def recorded_lock(rec: dict | None, backend: str, explicit: str | None, committed_dir: Path):
    """The lock a plain re-run would install, read from the record (or --lock), where that is all it takes
    to know: no --python, --cuda, --with, --project or --find-links; None: plan it properly."""
    from skyrl_setup.lockfile import load_for_host
    from skyrl_setup.detect.system import platform_tag

    if not rec or rec.get("backend") != backend:
        return None
    lock_path = Path(explicit) if explicit else Path(rec.get("lock", {}).get("path", ""))
    if not explicit and lock_path.parent != committed_dir:
        return None
    try:
        return load_for_host(lock_path, rec["python"]["version"], platform_tag())
    except Exception:  # noqa: BLE001 - any doubt means: take the full path
        return None
