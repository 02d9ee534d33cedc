"""Doctor: checks as pure functions over facts gathered by probes.

Every check returns a Check; none raises (`guarded` turns a crash into an error check).
The exit code is derived from the results: 1 if any check is an error, else 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

STATUSES = ("ok", "warning", "error", "skipped")


@dataclass(frozen=True)
class Check:
    id: str
    status: str
    summary: str
    fix: str = ""
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"id": self.id, "status": self.status, "summary": self.summary, "details": self.details, "fix": self.fix}


def guarded(check_id: str, fn: Callable[..., list[Check] | Check], *args, **kw) -> list[Check]:
    try:
        out = fn(*args, **kw)
    except Exception as exc:  # noqa: BLE001 - a check that crashes is a finding, not a doctor crash
        return [Check(check_id, "error", f"the {check_id} check crashed: {type(exc).__name__}: {exc}",
                      "report this with `skyrl-setup doctor --json --debug`")]
    return out if isinstance(out, list) else [out]
