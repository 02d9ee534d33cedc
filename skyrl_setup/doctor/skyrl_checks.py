"""Doctor's view of the verdict: can SkyRL train with this environment's backend?

The verdict itself is verify.verdict.assess's; this module only turns it into checks: one per
blocker (an error with its fix), the engine's RL interface, and the closing line.
"""

from __future__ import annotations

from skyrl_setup.doctor import Check
from skyrl_setup.verify.verdict import Verdict


def check_verdict(verdict: Verdict | None, real_imports: bool) -> list[Check]:
    if verdict is None:
        return [Check("skyrl.ready", "skipped", "no environment to ask")]
    out: list[Check] = []
    for i, b in enumerate(verdict.blockers):
        out.append(Check(f"skyrl.blocker{i}", "error", f"{b.module}: {b.reason}", b.fix, {"kind": b.kind}))
    for j, item in enumerate(verdict.interface):
        cls = item["class"].replace(":", ".")
        if item.get("status") == "ok":
            out.append(Check(f"skyrl.interface{j}", "ok", f"{cls} has the RL calls SkyRL makes"))
        elif item.get("status") == "unknown":
            out.append(Check(f"skyrl.interface{j}", "warning", f"{cls}: the RL calls could not be confirmed ({item.get('detail')})",
                             "run doctor with the GPU probes on a GPU node: the engine's real import decides"))
    how = "read statically" + ("" if real_imports else "; real imports skipped (--no-gpu-probe)")
    details = {"checked_modules": verdict.checked_modules, "static_seconds": verdict.static_seconds,
               "imports": [r.to_json() for r in verdict.imports], "notes": list(verdict.notes)}
    status = "ok" if verdict.ready else "error"
    summary = f"{verdict.line()} ({verdict.checked_modules} SkyRL modules {how})"
    fix = "" if verdict.ready else "fix each blocker above; `skyrl-setup install --strict` fails until they are gone"
    out.append(Check("skyrl.ready", status, summary, fix, details))
    return out
