"""A command's frozen result, and the one versioned JSON envelope every command's output takes.

    {"schema": 1, "command": "install", "ok": true, "exit_code": 0, "data": {...}}
    {"schema": 1, "command": "install", "ok": false, "exit_code": 3,
     "error": {"message": "...", "hint": "...", "details": {...}}}

Human output and JSON are two views of the same `data`. Cluster code reads a node's output
back through `Envelope.parse`, not by poking at keys of a document it hopes has a shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from skyrl_setup.errors import ExitCode, SetupError
from skyrl_setup.humanize import one_line
from skyrl_setup.redact import Secret, redact

SCHEMA = 1


def freeze(obj: Any) -> Any:
    """Read-only all the way down: a result is a value, not a document someone edits later."""
    if isinstance(obj, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return tuple(freeze(v) for v in obj)
    return obj


def plain(obj: Any) -> Any:
    """JSON-ready: mappings and sequences as dicts and lists, secrets and credential-bearing text redacted."""
    if isinstance(obj, Secret):
        return obj.redacted
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [plain(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float)):
        return obj
    return redact(str(obj))


@dataclass(frozen=True)
class Result:
    command: str
    data: Mapping
    exit_code: ExitCode = ExitCode.OK
    view: str = ""  # the human view that draws it; default: the command's own

    def __post_init__(self):
        object.__setattr__(self, "data", freeze(self.data))
        object.__setattr__(self, "view", self.view or self.command)

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK


def envelope(result: Result) -> dict:
    return {"schema": SCHEMA, "command": result.command, "ok": result.ok, "exit_code": int(result.exit_code),
            "data": plain(result.data)}


def error_envelope(command: str | None, err: SetupError) -> dict:
    return {"schema": SCHEMA, "command": command, "ok": False, "exit_code": int(err.code),
            "error": {"message": plain(one_line(err.message)), "hint": plain(one_line(err.hint)), "details": plain(err.details)}}


@dataclass(frozen=True)
class Envelope:
    """Another skyrl-setup's output, read back (a cluster node's)."""

    command: str | None
    ok: bool
    exit_code: int
    data: Mapping
    error: Mapping | None

    @classmethod
    def parse(cls, text: str) -> Envelope:
        """ValueError where the text is not one envelope of this schema."""
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise ValueError(f"not a skyrl-setup schema {SCHEMA} document")
        data, error = doc.get("data"), doc.get("error")
        if not isinstance(doc.get("exit_code"), int) or not isinstance(data if error is None else error, dict):
            raise ValueError("a skyrl-setup document without data or error")
        return cls(doc.get("command"), bool(doc.get("ok")), doc["exit_code"], freeze(data or {}),
                   freeze(error) if error is not None else None)

    @property
    def message(self) -> str | None:
        return self.error.get("message") if self.error else None
