"""`skyrl-setup upgrade`: compute the new lock (the profile's current one, the user's moves on top of the
profile's pins, or the newest set that agrees), check it, show old → new, then build it as a new
generation beside the current one, verify, and swap. (`rollback` is commands/rollback_cmd.py.)
"""

from __future__ import annotations

import dataclasses
import shutil
import time

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from skyrl_setup import locking, preflight, profiles
from skyrl_setup.latest import Latest
from skyrl_setup.errors import ConflictError, UsageError
from skyrl_setup.execute import build
from skyrl_setup.existing_env import with_record
from skyrl_setup.failpoints import hit
from skyrl_setup.humanize import human_bytes
from skyrl_setup.lockfile import Lock
from skyrl_setup.lockfile import load_for_host as load_lock
from skyrl_setup.mirrors import Mirrors
from skyrl_setup.plan import PlanRequest
from skyrl_setup.planner import gather_plan, preflight_disk
from skyrl_setup.requests import UpgradeRequest
from skyrl_setup.resolver.check import check_compat, parse_additions
from skyrl_setup.resolver.explain import Cause, _name_of
from skyrl_setup.resolver.provider import TORCH_RELEVANT
from skyrl_setup.results import Result
from skyrl_setup.target import Target
from skyrl_setup.ui import UI
from skyrl_setup.uvtool import Uv
from skyrl_setup.venvinfo import compare, installed_versions, interpreter_runs


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
        for name in list(packages):
            if name in TORCH_RELEVANT:
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


def diff(old: dict[str, str], new: Lock) -> list[tuple[str, str | None, str | None]]:
    d = compare(old, new.versions())
    rows = [(n, None, new.versions()[n]) for n in d.added] + [(n, old[n], None) for n in d.removed] + list(d.changed)
    return sorted(rows)


def run(req: UpgradeRequest, ui: UI) -> Result:
    t0 = time.perf_counter()
    preflight.index_settings()
    mirrors = Mirrors.load(req.mirror)
    store, rec = with_record(req.venv, req.backend)
    if req.lock:
        preflight.user_file(req.lock, "--lock")
    if not req.dry_run and (blocked := preflight.unwritable(preflight.install_paths(store.target, store.root))):
        raise blocked  # before the new lock is resolved and downloaded
    store.tidy()
    profile = profiles.load(rec["backend"])
    specs = list(req.specs)
    ack: list[str] = []
    if req.from_skyrl:  # SkyRL's lock as it is; a SPEC may only say which torch the move may take
        if req.latest or req.lock or any(canonicalize_name(Requirement(s).name) != "torch" for s in specs):
            raise UsageError("--from-skyrl moves to SkyRL's lock as it is",
                             "drop --latest, --lock and any SPEC but torch==VERSION (which accepts a torch move)")
        if not profile.from_skyrl:
            raise UsageError(f"the {profile.name} profile is not built from SkyRL's lock", "install a SkyRL-sourced backend first")
        ack, specs = specs, []
        if rec.get("additions"):
            raise UsageError(f"{store.target} was built with additions ({', '.join(rec['additions'])}), which SkyRL's lock does not hold",
                             "build the new lock beside it: `skyrl-setup install --project DIR --with ... --venv NEW_PATH`")
    prior = list(rec.get("additions") or [])
    eff, additions = effective_profile(profile, specs, req.latest)
    additions = prior + [a for a in additions if a not in prior]
    moved = {canonicalize_name(Requirement(s).name) for s in specs}
    variant = req.cuda or rec.get("cuda", {}).get("variant") or profile.variants[0]
    target = Target.for_host((rec.get("python") or {}).get("version") or f"{profile.python}.0", variant)

    exempt = frozenset(moved | ({n for n in eff.packages if n in TORCH_RELEVANT} if req.latest else set()))
    priority = tuple(n for n in profile.main_packages if n != "torch")
    latest = Latest(eff, additions, target, exempt, priority, lambda c: _conflict(c, specs, moved), mirrors) if req.latest else None
    if latest:
        eff = latest.propose()  # the torch family pinned to the newest set that agrees
    elif specs:
        res = check_compat([eff], additions, target=target, mirrors=mirrors, exempt=exempt, priority=priority, enrich=False)
        if not res.ok:
            raise _conflict(res.conflict, specs, moved)
    uv = Uv.locate()
    plan_req = PlanRequest(cuda=variant, lock=req.lock, find_links=req.find_links, project=rec.get("project"),
                           additions=tuple(additions), skyrl_source=req.from_skyrl, mirrors=mirrors)
    tmp = store.scratch()  # the build copies the lock into the generation
    try:
        plan = gather_plan(plan_req, uv, profile, store, tmp, progress=ui.progress, resolve=False)
        if req.from_skyrl or rec.get("project"):
            _refuse_torch_move(rec, plan.lock, ack)
        if specs or req.latest or additions or req.lock is None and plan.lock is None:
            ui.step("resolving the new lock")
            while True:
                try:
                    out = locking.compile_lock(uv, eff, variant=plan.cuda.variant, platform=plan.platform, output=tmp / "pylock.upgrade.toml",
                                               additions=tuple(additions), find_links=plan.find_links, on_line=ui.progress,
                                               exempt=tuple(sorted(exempt)), mirrors=mirrors, target=target)
                    break
                except ConflictError as exc:  # uv sees every requirement: a release it refuses is left out
                    if not latest or latest.step_back(exc) is None:
                        raise
                    eff = latest.propose()
            lock = load_lock(out, plan.python.version, plan.platform)
            for row in latest.left_out if latest else ():
                ui.warn(f"{row['name']} {row['version']} left out: {row['reason']}")
            hit("upgrade-lock-resolved")
            source = "upgrade: " + (" ".join(specs) if specs else ("latest" if req.latest else "re-resolved"))
        else:
            lock, source = plan.lock, plan.lock_source
        plan = dataclasses.replace(plan, lock=lock, lock_source=source, profile=eff, additions=tuple(additions))
        old = installed_versions(store.target) or rec.get("packages", {})
        reinstalled = {a["name"] for a in rec.get("artifacts", []) if a.get("status") != "unreachable"}
        changes = [c for c in diff(old, lock) if c[0] not in reinstalled]  # artifacts come back with the new generation
        sizes = {p.name: p.size for p in lock.packages}
        data = {"venv": str(store.target), "backend": profile.name, "generation": store.current(), "previous_generation": None,
                "lockfile": str(lock.path), "lock_sha256": lock.sha256, "dry_run": req.dry_run, "noop": False,
                "applied": False, "proposed_lock": None, "left_out": latest.left_out if latest else [],
                "changes": [{"name": n, "old": a, "new": b} for n, a, b in changes],
                "download": human_bytes(sum(sizes.get(n, 0) for n, _, b in changes if b)),
                "built_from_source": [p.name for p in lock.from_source if any(p.name == n for n, _, _ in changes)],
                "pruned": [], "imports": [], "seconds": None}
        if rec.get("lock", {}).get("sha256") == lock.sha256 and compare(rec.get("packages", {}), old).empty \
                and interpreter_runs(store.target):
            return Result("upgrade", {**data, "noop": True})
        ui.show("upgrade.plan", {"plan": plan.to_json(), **data})
        if req.dry_run:
            return Result("upgrade", data)
        if req.latest and not req.yes:
            keep = store.root / "pylock.proposed.toml"
            keep.write_bytes(lock.path.read_bytes())
            if not ui.confirm("apply this set?"):
                return Result("upgrade", {**data, "proposed_lock": str(keep)})
        with store.locked(wait=req.wait):
            store.clean_leftovers()
            preflight_disk(plan, store)
            result = build(plan, uv, store, progress=ui.progress, action="upgrade", adopt_lock=True,
                           record_extra={"changes": len(changes), "specs": specs, "latest": bool(req.latest)})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Result("upgrade", {**data, "applied": True, "generation": result.generation, "previous_generation": result.previous,
                              "pruned": list(result.pruned), "imports": [r.to_json() for r in result.imports],
                              "seconds": round(time.perf_counter() - t0, 1)})


def _refuse_torch_move(rec: dict, lock: Lock | None, ack: list[str]) -> None:
    """A newer SkyRL lock that moves torch changes every kernel in the environment: only when asked
    (`torch==NEW` among the SPECs), as for any other upgrade."""
    was = (rec.get("packages") or {}).get("torch", "").split("+")[0]
    now = (lock.versions().get("torch", "") if lock else "").split("+")[0]
    if not was or not now or was == now:
        return
    if any(Requirement(a).specifier.contains(Version(now), prereleases=True) for a in ack):
        return
    raise ConflictError(f"SkyRL's lock moves torch {was} → {now}, which rebuilds the environment's whole CUDA stack",
                        f"to take it, add the new pin: `skyrl-setup upgrade --from-skyrl DIR torch=={now}`; "
                        "or build it beside the current one with install --venv NEW_PATH")
