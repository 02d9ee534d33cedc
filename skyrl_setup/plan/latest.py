"""`upgrade --latest`: the newest engine set that installs under the profile's rules, and why newer was left out.

The quick resolver proposes; uv, which sees every requirement, has the last word. Where uv
refuses the proposal (a requirement of the engine that exists only after the profile's
date cutoff, say), that release is excluded, the reason kept, and the next newest proposed.
"""

from __future__ import annotations

import dataclasses
import re

from packaging.utils import canonicalize_name
from packaging.version import Version

from skyrl_setup.catalog.roles import package_roles
from skyrl_setup.detect.target import Target
from skyrl_setup.errors import ConflictError
from skyrl_setup.resolver.check import check_compat

MAX_STEPS = 6  # releases uv may refuse before --latest gives up


class Latest:
    def __init__(self, eff, additions: list[str], target: Target, exempt: frozenset, priority: tuple[str, ...], on_conflict,
                 mirrors):
        self.eff, self.additions, self.target, self.exempt, self.priority = eff, additions, target, exempt, priority
        self.mirrors = mirrors
        # every pinned package's requirements are followed, so the date cutoff that holds the
        # packages --latest does not move is met by the proposal, not found later by uv
        self.follow = frozenset(canonicalize_name(n) for n in (*eff.packages, *eff.skyrl))
        self.on_conflict = on_conflict  # a resolver conflict -> the ConflictError to raise
        self.excluded: dict[str, list[str]] = {}
        self.refused: list[dict] = []  # releases uv refused
        self.passed: list[dict] = []  # newer releases the current proposal passes over
        self.pins: dict[str, str] = {}
        self.steps = 0

    def _profile(self):
        packages = {n: ",".join([s, *(f"!={v}" for v in self.excluded.get(n, []))]).strip(",")
                    for n, s in self.eff.packages.items()}
        return dataclasses.replace(self.eff, packages=packages)

    def _resolve(self, profile, exempt=None):
        return check_compat([profile], self.additions, target=self.target, mirrors=self.mirrors, exempt=self.exempt if exempt is None else exempt,
                            priority=self.priority, enrich=False, follow=self.follow)

    def propose(self):
        """The effective profile with the torch family pinned to the newest set that agrees."""
        base = self._profile()
        res = self._resolve(base)
        if not res.ok:
            raise self.on_conflict(res.conflict)
        refused = {(r["name"], r["version"]) for r in self.refused}
        self.passed = [r for r in self._passed_over(base, res.pins) if (r["name"], r["version"]) not in refused]
        self.pins = res.pins
        relevant = package_roles().torch_relevant
        return dataclasses.replace(base, packages={n: (f"=={res.pins[n]}" if n in relevant and n in res.pins else s)
                                                   for n, s in base.packages.items()})

    def step_back(self, exc: ConflictError) -> dict | None:
        """uv refused the proposal: exclude the engine release it blames; None where none is to blame."""
        name = next((n for n in self.priority if n in self.pins and re.search(rf"\b{re.escape(n)}\b", exc.message)), None)
        if name is None or self.steps >= MAX_STEPS:
            return None
        self.steps += 1
        cause = exc.message.split(": ", 1)[-1]
        row = {"name": name, "version": self.pins[name], "reason": cause + self._cutoff_note()}
        self.excluded.setdefault(name, []).append(self.pins[name])
        self.refused.append(row)
        return row

    @property
    def left_out(self) -> list[dict]:
        """Every newer release not proposed, newest first per package, each with its reason."""
        newest_first = sorted(self.passed + self.refused, key=lambda r: Version(r["version"]), reverse=True)
        return sorted(newest_first, key=lambda r: self.priority.index(r["name"]))

    def _cutoff_note(self) -> str:
        return f" (packages that --latest does not move keep the profile's date cutoff, {self.eff.exclude_newer})" \
            if self.eff.exclude_newer else ""

    def _passed_over(self, base, pins: dict[str, str]) -> list[dict]:
        """Newer engine releases than the proposal's: the torch family alone would take them; each one's reason."""
        quick = check_compat([base], self.additions, target=self.target, mirrors=self.mirrors, exempt=self.exempt, priority=self.priority, enrich=False)
        out = []
        for name in self.priority:
            newer, chosen = quick.pins.get(name) if quick.ok else None, pins.get(name)
            if not newer or not chosen or Version(newer) <= Version(chosen):
                continue
            trial = dataclasses.replace(base, packages={**base.packages, name: f"=={newer}"})
            res = self._resolve(trial)
            first = ", ".join(f"{n} {pins[n]}" for n in self.priority[: self.priority.index(name)] if n in pins)
            reason = res.conflict.sentence if not res.ok else f"it does not fit with {first or 'the rest'}, which --latest moves first"
            if not res.ok and self.eff.exclude_newer and self._resolve(trial, self.exempt | {res.conflict.package}).ok:
                c = res.conflict  # the date cutoff, not a clash, keeps it out
                need = next((x.spec for x in c.causes if x.by.startswith(f"{name} ")), c.package)
                reason = (f"it needs {need}, released after the profile's date cutoff {self.eff.exclude_newer} "
                          f"(--latest moves only the torch family past it; `upgrade {name}=={newer} {need}` moves both)")
            out.append({"name": name, "version": newer, "reason": reason})
        return out
