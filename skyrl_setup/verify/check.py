"""One check's result: what doctor reports and what install's GPU judgement (verify/gpu.py) returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    id: str
    status: str
    summary: str
    fix: str = ""
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"id": self.id, "status": self.status, "summary": self.summary, "details": self.details, "fix": self.fix}
