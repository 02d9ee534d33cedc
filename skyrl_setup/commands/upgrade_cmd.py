"""`skyrl-setup upgrade`: the new lock (the profile's current one, the user's moves on top of its pins, or
the newest set that agrees: plan/upgrade.py), old → new, then a new generation beside the current one,
verified and swapped. (`rollback` is commands/rollback_cmd.py.)
"""

from __future__ import annotations

import dataclasses
import shutil
import time

from skyrl_setup import paths as preflight
from skyrl_setup.build.existing import with_record
from skyrl_setup.build.generation import build
from skyrl_setup.catalog import profiles, releases
from skyrl_setup.commands.requests import UpgradeRequest
from skyrl_setup.commands.results import Result
from skyrl_setup.commands.shapes import UpgradeData
from skyrl_setup.commands.ui import UI
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.failpoints import hit
from skyrl_setup.humanize import human_bytes
from skyrl_setup.locks import checkout
from skyrl_setup.plan.install import gather_plan, preflight_disk
from skyrl_setup.plan.model import PlanRequest
from skyrl_setup.plan.upgrade import (
    diff,
    own_lock,
    plan_moves,
    refuse_torch_move,
    refuse_unasked,
    resolve,
    unasked,
)
from skyrl_setup.store.venvinfo import compare, installed_versions, interpreter_runs
from skyrl_setup.uv.backend import Uv


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
    if rec.project:  # a checkout is judged by the release nearest to what it is now, also after a layout change
        rec = dataclasses.replace(rec, project=str(checkout.project_folder(rec.project)))  # skyrl-train/ is a README after the change
        profile = checkout.load_profile(rec.backend, releases.for_host(req.skyrl, rec.backend) if req.skyrl else None, rec.project)
    else:
        profile = profiles.load(rec.backend, releases.for_host(req.skyrl, rec.backend) if req.skyrl else rec.release)
    was = rec.release
    if was and profile.release and releases.matches(profile.release, was):
        was = profile.release.id  # a record of before releases were data names it skyrl-train==VERSION
    release_move = bool(req.skyrl) and profile.release is not None and was != profile.release.id
    moves = plan_moves(profile, rec, list(req.specs), latest=req.latest, lock=req.lock, from_skyrl=req.from_skyrl,
                       cuda=req.cuda, mirrors=mirrors, venv=store.target, release_move=release_move)
    uv = Uv.locate()
    plan_req = PlanRequest(cuda=moves.target.cuda, lock=req.lock, find_links=req.find_links, project=rec.project,
                           additions=moves.additions, skyrl_source=req.from_skyrl, mirrors=mirrors)
    tmp = store.scratch()  # the build copies the lock into the generation
    try:
        plan = gather_plan(plan_req, uv, profile, store, tmp, progress=ui.progress, resolve=False)
        if req.from_skyrl or rec.project:
            refuse_torch_move(rec, plan.lock, list(moves.ack))
        if moves.resolves or req.lock is None and plan.lock is None:
            ui.step("resolving the new lock")
            moves, lock = resolve(uv, moves, plan, tmp / "pylock.upgrade.toml", progress=ui.progress, warn=ui.warn,
                                  own=own_lock(rec, plan))
            hit("upgrade-lock-resolved")
            source = "upgrade: " + (" ".join(moves.specs) if moves.specs else ("latest" if req.latest else "re-resolved"))
        else:
            if plan.lock is None:  # not resolved here: so --lock was given, and planning loaded it
                raise ValueError("an upgrade plan without a lock to resolve holds the --lock it was given")
            lock, source = plan.lock, plan.lock_source
        # --latest moves the torch family by design, and asks first (release_move: profile.release is set)
        if release_move and not req.latest and profile.release is not None:
            refuse_torch_move(rec, lock, [*moves.ack, *moves.specs], whose=f"{profile.release.label}'s lock",
                              move=releases.skyrl_flag(profile.release, releases.catalog()))
        plan = dataclasses.replace(plan, lock=lock, lock_source=source, profile=moves.profile, additions=moves.additions)
        old = installed_versions(store.target) or dict(rec.packages)
        reinstalled = rec.reachable_artifacts
        changes = [c for c in diff(old, lock) if c[0] not in reinstalled]  # artifacts come back with the new generation
        sizes = {p.name: p.size for p in lock.packages}
        data: UpgradeData = {"venv": str(store.target), "backend": profile.name, "generation": store.current(), "previous_generation": None,
                "lockfile": str(lock.path), "lock_sha256": lock.sha256, "dry_run": req.dry_run, "noop": False,
                "applied": False, "proposed_lock": None, "left_out": moves.latest.left_out if moves.latest else [],
                "changes": [{"name": n, "old": a, "new": b} for n, a, b in changes],
                "download": human_bytes(sum(sizes.get(n, 0) for n, _, b in changes if b)),
                "built_from_source": [p.name for p in lock.from_source if any(p.name == n for n, _, _ in changes)],
                "pruned": [], "imports": [], "seconds": None,
                "skyrl_release": {"old": was, "new": profile.release.id if profile.release else None,
                                  "why": (profile.release.chosen or None) if profile.release else None}}
        if rec.lock.sha256 == lock.sha256 and compare(rec.packages, old).empty \
                and interpreter_runs(store.target):
            return Result("upgrade", data | {"noop": True})
        ui.show("upgrade.plan", {"plan": plan.to_json(), **data})
        rows = unasked(moves, rec.packages, lock, reinstalled)
        if rows and (req.dry_run or not ui.confirm(f"also move {', '.join(n for n, _, _ in rows)}, which you did not name?")):
            raise refuse_unasked(moves, rows)  # a terminal may answer yes; a script never moves them unasked
        if req.dry_run:
            return Result("upgrade", data)
        if req.latest and not req.yes:
            keep = store.root / "pylock.proposed.toml"
            keep.write_bytes(lock.path.read_bytes())
            if not ui.confirm("apply this set?"):
                return Result("upgrade", data | {"proposed_lock": str(keep)})
        with store.locked(wait=req.wait):
            store.clean_leftovers()
            preflight_disk(plan, store)
            result = build(plan, uv, store, progress=ui.progress, action="upgrade", adopt_lock=True,
                           record_extra={"changes": len(changes), "specs": list(moves.specs), "latest": bool(req.latest),
                                         "moved": sorted({n for n, a, _ in changes if a is not None} if req.latest
                                                         else moves.named | {n for n, _, _ in rows}),
                                         "rebased": moves.rebased})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Result("upgrade", data | {"applied": True, "generation": result.generation, "previous_generation": result.previous,
                              "pruned": list(result.pruned), "imports": [r.to_json() for r in result.imports],
                              "seconds": round(time.perf_counter() - t0, 1)})
