"""Planning an upgrade: the moves asked for (SPECs, --latest, --from-skyrl), checked against the profile's pins
on the environment's own target, and the new lock they resolve to; then what changes. The command
(commands/upgrade_cmd.py) shows it, asks, builds and swaps."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.catalog.roles import package_roles
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.detect.target import Target
from skyrl_setup.errors import ConflictError, SetupError, UsageError
from skyrl_setup.locks import compile as locking
from skyrl_setup.locks.pylock import Lock
from skyrl_setup.locks.pylock import load_for_host as load_lock
from skyrl_setup.plan.latest import Latest
from skyrl_setup.plan.model import InstallPlan
from skyrl_setup.resolver.check import check_compat, parse_additions
from skyrl_setup.resolver.explain import Cause, _name_of
from skyrl_setup.store.record import EnvRecord
from skyrl_setup.store.venvinfo import compare, public_version


@dataclass(frozen=True)
class Moves:
    """What the upgrade changes in the profile, already checked against its pins (exit 3 otherwise)."""

    profile: Profile  # the effective profile: the user's pins in place of the profile's
    specs: tuple[str, ...]  # the moves named (empty for --from-skyrl: its SPECs only accept a torch move)
    ack: tuple[str, ...]  # --from-skyrl's torch==NEW
    additions: tuple[str, ...]
    exempt: frozenset
    target: Target
    latest: Latest | None
    kept: tuple[str, ...] = ()  # earlier upgrades' moves, pinned at the versions they installed
    rebased: bool = False  # --lock, --from-skyrl, --skyrl: a new lock as it is, not moves on top of the environment's

    @property
    def resolves(self) -> bool:
        return bool(self.specs or self.latest or self.additions or self.kept)

    @property
    def named(self) -> frozenset:
        return frozenset(canonicalize_name(Requirement(s).name) for s in self.specs)


def plan_moves(profile, rec: EnvRecord, specs: list[str], *, latest: bool, lock: str | None, from_skyrl: str | None, cuda: str | None,
               mirrors: Mirrors, venv, release_move: bool = False) -> Moves:
    specs = named_once(specs)
    ack: list[str] = []
    if release_move:  # torch==NEW that the new release's own torch meets accepts its torch move; other SPECs move on top
        ack = [s for s in specs if _accepts_torch(s, profile.torch)]
        specs = [s for s in specs if s not in ack]
    if rec.project and not from_skyrl:  # the checkout's lock as it is now: torch==NEW accepts its torch move
        ack += [s for s in specs if canonicalize_name(Requirement(s).name) == "torch"]
        specs = [s for s in specs if s not in ack]
    if from_skyrl:  # SkyRL's lock as it is; a SPEC may only say which torch the move may take
        if latest or lock or any(canonicalize_name(Requirement(s).name) != "torch" for s in specs):
            raise UsageError("--from-skyrl moves to SkyRL's lock as it is",
                             "drop --latest, --lock and any SPEC but torch==VERSION (which accepts a torch move)")
        if not profile.from_skyrl:
            raise UsageError(f"the {profile.name} profile is not built from SkyRL's lock", "install a SkyRL-sourced backend first")
        ack, specs = specs, []
        if rec.additions:
            raise UsageError(f"{venv} was built with additions ({', '.join(rec.additions)}), which SkyRL's lock does not hold",
                             "build the new lock beside it: `skyrl-setup install --project DIR --with ... --venv NEW_PATH`")
    prior = list(rec.additions)
    moved: set[str] = {canonicalize_name(Requirement(s).name) for s in specs}
    rebased = bool(lock or from_skyrl or release_move)
    kept = [] if rebased or latest else kept_moves(profile, rec, moved)
    eff, additions = effective_profile(profile, kept + specs, latest)
    additions = prior + [a for a in additions if a not in prior]
    variant = cuda or rec.cuda.variant or profile.variants[0]
    target = Target.for_host(rec.python_version or f"{profile.python}.0", variant)
    exempt = frozenset(moved | {canonicalize_name(Requirement(k).name) for k in kept}
                       | (set(eff.packages) & package_roles().torch_relevant if latest else set()))
    priority = tuple(n for n in profile.main_packages if n != "torch")
    finder = Latest(eff, additions, target, exempt, priority, lambda c: _conflict(c, specs, moved), mirrors) if latest else None
    if finder:
        eff = finder.propose()  # the torch family pinned to the newest set that agrees
    elif specs:
        res = check_compat([eff], additions, target=target, mirrors=mirrors, exempt=exempt, priority=priority, enrich=False)
        if not res.ok:
            raise _conflict(res.conflict, specs, moved)
    return Moves(eff, tuple(specs), tuple(ack), tuple(additions), exempt, target, finder, tuple(kept), rebased)


def named_once(specs: list[str]) -> list[str]:
    """Each package named once: two different SPECs for one name are refused (exit 2), naming both; a repeat is dropped."""
    seen: dict[str, str] = {}
    for spec, req in zip(specs, parse_additions(specs)):
        name = canonicalize_name(req.name)
        if name in seen and Requirement(seen[name]) != req:
            raise UsageError(f"{req.name} is named twice, as {seen[name]} and as {spec}",
                             f"name {req.name} once, with the version you want (one SPEC may hold a range, e.g. '{req.name}>=A,<B')")
        seen.setdefault(name, spec)
    return list(seen.values())


def kept_moves(profile, rec: EnvRecord, named: set[str]) -> list[str]:
    """What upgrades since the environment was last installed (or moved to a new lock as it is) moved among the
    profile's pins, pinned at the version installed now, so that an upgrade of something else leaves them where they are.
    A record from before upgrades kept "moved" says it with its SPECs."""
    moved: list[str] = []
    for h in rec.history:
        if h.get("action") not in ("install", "upgrade"):
            continue
        if h.get("action") == "install" or h.get("rebased"):
            moved = []
        recorded = h.get("moved")
        names = recorded if isinstance(recorded, list) else _names(h.get("specs"))
        moved += [n for n in names if isinstance(n, str)] if h.get("action") == "upgrade" else []
    pins, have = {**profile.packages, **profile.skyrl}, rec.packages
    return [f"{n}=={have[n]}" for n in dict.fromkeys(moved) if n in pins and n in have and n not in named]


def _names(specs) -> list[str]:
    out: list[str] = []
    for s in specs if isinstance(specs, list) else []:
        try:
            out.append(canonicalize_name(Requirement(s).name))
        except (InvalidRequirement, TypeError):
            continue
    return out


def unasked(moves: Moves, old: Mapping[str, str], new: Lock, skip: AbstractSet[str]) -> list[tuple[str, str, str | None]]:
    """Packages the environment holds that an upgrade of named packages would move or remove though nobody named
    them (`old`: the record's packages, so undoing a drift is no move; `skip`: reinstalled anyway)."""
    if not moves.specs or moves.rebased or moves.latest:
        return []
    named = moves.named
    return [(n, a, b) for n, a, b in diff(old, new) if a is not None and n not in named and n not in skip]


def refuse_unasked(moves: Moves, rows: list[tuple[str, str, str | None]]) -> ConflictError:
    listing = "; ".join(f"{n} {a} → {b or 'removed'}" for n, a, b in rows)
    take = " ".join(f"{n}=={b}" for n, _, b in rows if b)
    return ConflictError(f"upgrade {' '.join(moves.specs)} would also move what you did not name: {listing}",
                         f"to accept that, name them too: `skyrl-setup upgrade {' '.join(moves.specs)} {take}`; "
                         "or choose versions of what you named that keep them", details={"unasked": [
                             {"name": n, "old": a, "new": b} for n, a, b in rows]})


def resolve(uv, moves: Moves, plan: InstallPlan, out: Path, *, progress, warn, own: Lock | None = None) -> tuple[Moves, Lock]:
    """The new lock, by uv; under --latest a release uv refuses is left out and the next newest tried. `own`: the
    lock the environment was built from, whose versions what is not moved keeps (unless the upgrade is a new base)."""
    eff = moves.profile
    held = (None if moves.rebased else own) or plan.lock or (plan.route.lock if plan.route else None)
    if held is not None and not moves.latest:
        # first with what the upgrade does not move held at the old lock's versions (and so past the date
        # cutoff, which a mirror without upload times would otherwise apply to every file); as before where that fails
        free = frozenset(moves.exempt) | {canonicalize_name(Requirement(s).name) for s in moves.specs}
        try:
            made = locking.compile_lock(uv, eff, variant=plan.cuda.variant, platform=plan.platform, output=out,
                                        additions=moves.additions, find_links=plan.find_links, on_line=progress,
                                        exempt=tuple(sorted(moves.exempt)), mirrors=plan.mirrors, target=moves.target,
                                        hold=held, free=free)
            return moves, load_lock(made, plan.python.version, plan.platform)
        except SetupError:
            pass
    while True:
        try:
            made = locking.compile_lock(uv, eff, variant=plan.cuda.variant, platform=plan.platform, output=out,
                                        additions=moves.additions, find_links=plan.find_links, on_line=progress,
                                        exempt=tuple(sorted(moves.exempt)), mirrors=plan.mirrors, target=moves.target)
            break
        except ConflictError as exc:  # uv sees every requirement: a release it refuses is left out
            if not moves.latest or moves.latest.step_back(exc) is None:
                raise
            eff = moves.latest.propose()
    for row in moves.latest.left_out if moves.latest else ():
        warn(f"{row['name']} {row['version']} left out: {row['reason']}")
    return dataclasses.replace(moves, profile=eff), load_lock(made, plan.python.version, plan.platform)


def own_lock(rec: EnvRecord, plan: InstallPlan) -> Lock | None:
    """The lock the environment was built from (an upgrade's is kept in its generation), if it is still that file."""
    path, sha = rec.lock.path, rec.lock.sha256
    try:
        found = load_lock(Path(path), plan.python.version, plan.platform) if path else None
    except SetupError:
        return None
    return found if found is not None and found.sha256 == sha else None


def effective_profile(profile, specs: list[str], latest: bool):
    """The profile with the user's moves applied: a SPEC naming a pinned package replaces its pin."""
    packages, skyrl = dict(profile.packages), dict(profile.skyrl)
    additions = []
    for req in parse_additions(specs):
        name = canonicalize_name(req.name)
        spec = (f"[{','.join(sorted(req.extras))}]" if req.extras else "") + str(req.specifier)
        if name in packages:
            packages[name] = spec
        elif name in skyrl:
            skyrl[name] = spec
        else:
            additions.append(str(req))
    if latest:  # unpin the CUDA-relevant pins so the newest agreeing set can be found
        relevant = package_roles().torch_relevant
        for name in list(packages):
            if name in relevant:
                packages[name] = ""
    return dataclasses.replace(profile, packages=packages, skyrl=skyrl), additions


def _conflict(c, specs: list[str], moved: set[str]) -> ConflictError:
    """The resolver's conflict, told from the upgrade's side: a pin the user moved is theirs, not the profile's."""
    causes = [Cause("you", x.spec, x.is_package) if x.by.startswith("the ") and _name_of(x.spec) in moved else x for x in c.causes]
    details = {"conflict": {**c.to_json()["conflict"], "requirements": [x.to_json() for x in causes]}}
    mine = next((x for x in causes if x.by == "you"), None)
    holder = next((x for x in causes if x.is_package), None)
    if mine and holder:
        name = canonicalize_name(holder.by.split()[0])
        sentence = f"{holder.by} requires {holder.spec} but you asked for {mine.spec}"
        hint = (f"move {name} too, to a release that accepts {mine.spec}: `skyrl-setup upgrade {' '.join(specs)} {name}==VERSION`"
                if name not in moved else f"no {name} release that you named accepts {mine.spec}; choose another pair of versions")
        return ConflictError(sentence, hint, details=details)
    pin = next((x.spec for x in causes if x.by.startswith("the ")), None)
    hint = (f"the profile pins {pin}; to move it too, add the new pin to the upgrade (e.g. `skyrl-setup upgrade {' '.join(specs)} "
            f"{c.package}==VERSION`), which leaves the profile's tested set" if pin else c.hint)
    return ConflictError(c.sentence, hint, details=details)


def _accepts_torch(spec: str, torch: str) -> bool:
    req = Requirement(spec)
    return canonicalize_name(req.name) == "torch" and req.specifier.contains(Version(torch), prereleases=True)


def diff(old: Mapping[str, str], new: Lock) -> list[tuple[str, str | None, str | None]]:
    d = compare(old, new.versions())
    rows = [(n, None, new.versions()[n]) for n in d.added] + [(n, old[n], None) for n in d.removed] + list(d.changed)
    return sorted(rows)


def refuse_torch_move(rec: EnvRecord, lock: Lock | None, ack: list[str], *, whose: str = "SkyRL's lock",
                      move: str = "--from-skyrl DIR") -> None:
    """A newer SkyRL lock (another release's, or a checkout's) that moves torch changes every kernel in the
    environment: only when asked (`torch==NEW` among the SPECs), as for any other upgrade."""
    was, now = rec.packages.get("torch"), lock.versions().get("torch") if lock else None
    was, now = was and public_version(was), now and public_version(now)
    if not was or not now or was == now:
        return
    if any(_accepts_torch(a, now) for a in ack):
        return
    raise ConflictError(f"{whose} moves torch {was} → {now}, which rebuilds the environment's whole CUDA stack",
                        f"to take it, add the new pin: `skyrl-setup upgrade {move} torch=={now}`; "
                        "or build it beside the current one with install --venv NEW_PATH")
