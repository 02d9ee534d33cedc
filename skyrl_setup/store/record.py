"""The environment record (`skyrl-setup.json` in each generation): a typed value, its schema version, and the
migration that lets a record written by an earlier skyrl-setup load as today's.

Like pipx's versioned venv metadata: every record carries `schema`; one reader, `load`, brings an older record up
to SCHEMA in memory (the file takes today's schema the next time the tool writes it), and refuses a record from a
newer skyrl-setup rather than guessing at fields it does not know. The JSON keys stay those of schema 1, so an
older skyrl-setup reading a newer generation's file (a rollback across tool versions) still finds them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyrl_setup.errors import PreconditionError

SCHEMA = 2
# 1: no `schema` field (every record up to 2026-12-04): `store` and `link_mode` may be missing.
# 2: `schema`; `store` (the store the generation was built in) always set; `link_mode` null where not recorded.

_KINDS = {"lock": dict, "python": dict, "cuda": dict, "packages": dict, "env": dict, "history": list,
          "artifacts": list, "additions": list, "backend": str}


@dataclass(frozen=True)
class LockRecord:
    """The lockfile the generation was installed from, as it was then."""
    path: str = ""
    sha256: str | None = None
    source: str | None = None
    other: Mapping[str, Any] = field(default_factory=dict)  # keys a later skyrl-setup may add: written back as read

    def to_json(self) -> dict[str, Any]:
        return {**self.other, "path": self.path, "sha256": self.sha256, "source": self.source}


@dataclass(frozen=True)
class CudaRecord:
    variant: str | None = None
    driver: str | None = None
    reason: str | None = None
    other: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.other, "variant": self.variant, "driver": self.driver, "reason": self.reason}


@dataclass(frozen=True)
class EnvRecord:
    """What one generation is: how it was built and verified, and its history (each entry a JSON object whose keys
    depend on the action: install, upgrade with its moves, rollback)."""
    backend: str
    generation: int | None
    store: str  # the store it was built in: a venv cannot move (its scripts name that path)
    created: str = ""
    activated: bool = True  # False until the swap made it current once
    lock: LockRecord = LockRecord()
    python: Mapping[str, Any] = field(default_factory=dict)
    cuda: CudaRecord = CudaRecord()
    packages: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    artifacts: tuple[Mapping[str, Any], ...] = ()
    project: str | None = None
    additions: tuple[str, ...] = ()
    imports: tuple[Mapping[str, Any], ...] = ()
    verdict: Mapping[str, Any] | None = None
    skyrl_lock: Mapping[str, str] | None = None
    skyrl_release: str | None = None
    history: tuple[Mapping[str, Any], ...] = ()
    link_mode: str | None = None
    profile: str | None = None
    tool_version: str | None = None
    pid: int | None = None
    other: Mapping[str, Any] = field(default_factory=dict)  # keys of this schema that this tool does not read: kept as written

    @property
    def python_version(self) -> str | None:
        return self.python.get("version") or None

    @property
    def release(self) -> str | None:
        """The SkyRL release it was built from; a record written before releases were data names only its SkyRL
        lock, whose version is a skyrl-train release."""
        if self.skyrl_release:
            return self.skyrl_release
        version = (self.skyrl_lock or {}).get("skyrl-version")
        return f"skyrl-train=={version}" if version else None

    @property
    def reachable_artifacts(self) -> frozenset[str]:
        """The artifacts installed into it (an unreachable one was planned, not installed)."""
        return frozenset(a.get("name", "") for a in self.artifacts if a.get("status") != "unreachable")

    def built_elsewhere(self, store: Path) -> Path | None:
        """The store it was built in, where that is not `store` (moved or copied here: its scripts and bin/activate
        still name the old path)."""
        was = Path(self.store)
        try:
            return None if os.path.samefile(was, store) else was
        except OSError:  # the old place is gone: moved
            return was

    def with_history(self, entry: Mapping[str, Any], keep: int = 50) -> EnvRecord:
        return dataclasses.replace(self, history=(*self.history, dict(entry))[-keep:])

    def to_json(self) -> dict[str, Any]:
        return {
            **self.other, "schema": SCHEMA, "tool": "skyrl-setup", "tool_version": self.tool_version, "backend": self.backend,
            "generation": self.generation, "activated": self.activated, "created": self.created, "profile": self.profile,
            "lock": self.lock.to_json(), "python": dict(self.python), "cuda": self.cuda.to_json(),
            "packages": dict(self.packages), "env": dict(self.env), "artifacts": [dict(a) for a in self.artifacts],
            "project": self.project, "additions": list(self.additions), "imports": [dict(i) for i in self.imports],
            "verdict": dict(self.verdict) if self.verdict is not None else None,
            "skyrl_lock": dict(self.skyrl_lock) if self.skyrl_lock is not None else None, "skyrl_release": self.skyrl_release,
            "history": [dict(h) for h in self.history], "pid": self.pid, "store": self.store, "link_mode": self.link_mode,
        }


_READ = {f.name for f in dataclasses.fields(EnvRecord)} | {"schema", "tool"}


def load(raw: object, gen: Path) -> EnvRecord | None:
    """The record of generation `gen` as today's schema; None where it is not a record this tool wrote (damaged)."""
    if not isinstance(raw, dict) or not all(isinstance(raw[k], t) for k, t in _KINDS.items() if k in raw):
        return None
    schema = raw.get("schema", 1)
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        return None
    if schema > SCHEMA:
        raise PreconditionError(f"{gen / 'skyrl-setup.json'} was written by a newer skyrl-setup (record schema {schema}; "
                                f"this one reads up to {SCHEMA})", "upgrade skyrl-setup, or use the one that built it")
    rec = dict(raw)
    if schema < 2:
        rec = _from_1(rec, gen)
    if not isinstance(rec.get("backend"), str) or not isinstance(rec.get("store"), str):
        return None  # nothing can be said of an environment without them
    try:
        return _typed(rec)
    except (TypeError, ValueError, AttributeError, KeyError):
        return None


def _from_1(rec: dict, gen: Path) -> dict:
    """Schema 1 kept no store: the store is the one the generation's bin/activate names (where the venv was made)."""
    from skyrl_setup.store.venvinfo import activate_names

    if not isinstance(rec.get("store"), str):
        named = activate_names(gen)
        rec["store"] = str(named.parent) if named else str(gen.parent)
    rec.setdefault("link_mode", None)
    rec["schema"] = 2
    return rec


def _typed(rec: dict) -> EnvRecord:
    lock, cuda = rec.get("lock") or {}, rec.get("cuda") or {}
    generation = rec.get("generation")
    return EnvRecord(
        backend=rec["backend"], generation=generation if isinstance(generation, int) else None, store=rec["store"],
        created=str(rec.get("created") or ""), activated=bool(rec.get("activated", True)),
        lock=LockRecord(str(lock.get("path") or ""), lock.get("sha256"), lock.get("source"),
                        {k: v for k, v in lock.items() if k not in ("path", "sha256", "source")}),
        python=dict(rec.get("python") or {}),
        cuda=CudaRecord(cuda.get("variant"), cuda.get("driver"), cuda.get("reason"),
                        {k: v for k, v in cuda.items() if k not in ("variant", "driver", "reason")}),
        packages={str(k): v for k, v in (rec.get("packages") or {}).items() if isinstance(v, str)},
        env=dict(rec.get("env") or {}),
        artifacts=tuple(a for a in rec.get("artifacts") or () if isinstance(a, dict)), project=rec.get("project"),
        additions=tuple(str(a) for a in rec.get("additions") or ()),
        imports=tuple(i for i in rec.get("imports") or () if isinstance(i, dict)), verdict=rec.get("verdict"),
        skyrl_lock=rec.get("skyrl_lock"), skyrl_release=rec.get("skyrl_release"),
        history=tuple(h for h in rec.get("history") or () if isinstance(h, dict)), link_mode=rec.get("link_mode"),
        profile=rec.get("profile"), tool_version=rec.get("tool_version"), pid=rec.get("pid"),
        other={k: v for k, v in rec.items() if k not in _READ},
    )
