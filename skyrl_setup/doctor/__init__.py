"""Doctor: checks as pure functions over facts gathered by probes.

Every check returns a Check; none raises (`guarded` turns a crash into an error check).
The exit code is derived from the results (`failing`): 1 if any check is an error, else 0; or, under
`--fail-on environment`, 1 only where install would fail too.
"""

from __future__ import annotations

from collections.abc import Callable

from skyrl_setup.verify.check import Check  # verify's GPU judgement speaks it too

STATUSES = ("ok", "warning", "error", "skipped")
FAIL_ON = ("any", "environment")
# Blocker kinds install builds and swaps in anyway (exit 0 without --strict): see verify/verdict.py.
BUILT_ANYWAY = frozenset({"artifact", "release", "gpu"})


def guarded(check_id: str, fn: Callable[..., list[Check] | Check], *args, **kw) -> list[Check]:
    try:
        out = fn(*args, **kw)
    except Exception as exc:  # noqa: BLE001 - a check that crashes is a finding, not a doctor crash
        return [Check(check_id, "error", f"the {check_id} check crashed: {type(exc).__name__}: {exc}",
                      "report this with `skyrl-setup doctor --json --debug`")]
    return out if isinstance(out, list) else [out]


def failing(checks: list[Check], fail_on: str = "any") -> list[Check]:
    """The errors that make doctor exit 1: every one (`any`); or, for `environment`, those install fails on too:
    a blocker of a kind install builds anyway (BUILT_ANYWAY), and the verdict line when it sums up only such
    blockers, stay errors in the report but do not fail the run."""
    errors = [c for c in checks if c.status == "error"]
    if fail_on == "any":
        return errors
    blockers = [c for c in errors if c.id.startswith("skyrl.blocker")]
    tolerated = [c for c in blockers if c.details.get("kind") in BUILT_ANYWAY]
    out = [c for c in errors if c not in tolerated]
    return [c for c in out if c.id != "skyrl.ready"] if len(tolerated) == len(blockers) else out


def error_count(checks: list[Check]) -> int:
    """Errors as a reader counts them: the verdict line that sums up the blockers listed above it is not one more."""
    errors = [c for c in checks if c.status == "error"]
    sums_up = any(c.id.startswith("skyrl.blocker") for c in errors)
    return len([c for c in errors if not (sums_up and c.id == "skyrl.ready")])
