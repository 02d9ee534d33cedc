"""Is an environment already what was asked for? Cheap enough to answer before the planner is imported:
a re-run with nothing to do costs reading a record (once: the caller passes it) and listing site-packages."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from skyrl_setup.store.generations import Store
from skyrl_setup.store.record import EnvRecord
from skyrl_setup.store.venvinfo import compare, installed_versions, interpreter_runs


def is_noop(store: Store, rec: EnvRecord | None, backend: str, lock, *, project: Path | None, find_links: tuple) -> bool:
    """The environment (`rec`: its record) was built from this lock and still holds exactly what it was built with."""
    if not rec or lock is None or project or find_links:
        return False
    if rec.backend != backend or rec.lock.sha256 != lock.sha256:
        return False
    installed = installed_versions(store.target)
    return installed is not None and compare(rec.packages, installed).empty and interpreter_runs(store.target)


@dataclass(frozen=True)
class RecordedLock:
    """The lock a re-run would install, known by its bytes' sha256 alone: what a no-op needs, without parsing it."""

    path: Path
    sha256: str


def recorded_lock(rec: EnvRecord | None, backend: str, explicit: str | None, committed_dir: Path) -> RecordedLock | None:
    """The lock a plain re-run would install, read from the record (or --lock), where that is all it takes
    to know: no --python, --cuda, --with, --project or --find-links; None: plan it properly.
    Decided by the file's sha256 against the record's: the environment was built from exactly these bytes
    for this host, so nothing in them needs reading again (parsing a real lock costs more than the rest)."""
    if not rec or rec.backend != backend:
        return None
    lock_path = Path(explicit) if explicit else Path(rec.lock.path)
    if not explicit and lock_path.parent != committed_dir:
        return None
    try:
        digest = hashlib.sha256(lock_path.read_bytes()).hexdigest()
    except OSError:
        return None
    return RecordedLock(lock_path, digest) if digest == rec.lock.sha256 else None
