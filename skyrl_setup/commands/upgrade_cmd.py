"""`skyrl-setup upgrade` and `skyrl-setup rollback`.

upgrade: compute the new lock (the profile's current one, the user's moves on top of the
profile's pins, or the newest set that agrees), check it, show old → new, then build it
as a new generation beside the current one, verify, and swap. rollback: point the
environment back at the previous generation.
"""

from __future__ import annotations

import dataclasses
import sys
import time

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from rich.table import Table

from skyrl_setup import locking, preflight, profiles
from skyrl_setup.commands import CommandResult, default_venv
from skyrl_setup.commands.install import gather_plan, preflight_disk, render_plan
from skyrl_setup.commands.latest import Latest
from skyrl_setup.envstore import RECORD, Store, now_iso
from skyrl_setup.errors import ConflictError, OperationError, UsageError
from skyrl_setup.execute import build
from skyrl_setup.failpoints import hit
from skyrl_setup.lockfile import Lock
from skyrl_setup.lockfile import load_for_host as load_lock
from skyrl_setup.plan import PlanRequest
from skyrl_setup.report import human_bytes
from skyrl_setup.resolver.check import check_compat, parse_additions
from skyrl_setup.resolver.explain import Cause, _name_of
from skyrl_setup.resolver.provider import TORCH_RELEVANT
from skyrl_setup.target import Target
from skyrl_setup.uvtool import Uv
from skyrl_setup.venvinfo import compare, installed_versions, interpreter_runs


def _venv(args) -> Store:
    if args.venv is not None:
        return Store.for_target(args.venv)
    return Store.for_target(default_venv(args.backend or "sglang"))


def _no_env(store: Store, args) -> UsageError:
    if store.current() is not None and (store.gen_path(store.current()) / RECORD).is_file():
        return UsageError(f"the record of {store.target} ({store.gen_path(store.current()) / RECORD}) is damaged",
                          f"rebuild it: skyrl-setup install --venv {store.target} --force, or roll back to an intact generation")
    return UsageError(f"no environment made by skyrl-setup at {store.target}",
                      f"create one first: skyrl-setup install --backend {args.backend or 'sglang'} --venv {store.target}")


def _check_backend(store: Store, rec: dict, args) -> None:
    if args.backend and args.backend != rec.get("backend"):
        raise UsageError(f"{store.target} holds a {rec.get('backend')} environment, not {args.backend}",
                         f"to switch backends: skyrl-setup install --backend {args.backend} --venv {store.target} --force")


def _store(args) -> tuple[Store, dict]:
    store = _venv(args)
    rec = store.record()
    if rec is None:
        raise _no_env(store, args)
    _check_backend(store, rec, args)
    return store, rec


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
        return ConflictError(sentence, hint, details={**details, "sentence": sentence, "hint": hint})
    pin = next((x.spec for x in causes if x.by.startswith("the ")), None)
    hint = (f"the profile pins {pin}; to move it too, add the new pin to the upgrade (e.g. `skyrl-setup upgrade {' '.join(specs)} "
            f"{c.package}==VERSION`), which leaves the profile's tested set" if pin else c.hint)
    return ConflictError(c.sentence, hint, details={**details, "sentence": c.sentence, "hint": hint})


def diff(old: dict[str, str], new: Lock) -> list[tuple[str, str | None, str | None]]:
    d = compare(old, new.versions())
    rows = [(n, None, new.versions()[n]) for n in d.added] + [(n, old[n], None) for n in d.removed] + list(d.changed)
    return sorted(rows)


def render_diff(reporter, changes, lock: Lock) -> None:
    t = Table(title=f"Upgrade plan ({len(changes)} change(s))", title_justify="left")
    for col in ("package", "old", "new", ""):
        t.add_column(col)
    for name, a, b in changes:
        kind = "added" if a is None else ("removed" if b is None else "changed")
        t.add_row(name, a or "-", b or "-", kind)
    reporter.print(t)
    sizes = {p.name: p.size for p in lock.packages}
    dl = sum(sizes.get(n, 0) for n, _, b in changes if b)
    built = [p.name for p in lock.from_source if any(p.name == n for n, _, _ in changes)]
    reporter.print(f"download: up to {human_bytes(dl)}" + (f"; built from source: {', '.join(built)}" if built else ""))


def run(args, reporter) -> CommandResult:
    t0 = time.perf_counter()
    store, rec = _store(args)
    if args.lock:
        preflight.user_file(args.lock, "--lock")
    if not args.dry_run and (blocked := preflight.unwritable(preflight.install_paths(store.target, store.root))):
        raise blocked  # before the new lock is resolved and downloaded
    store.tidy()
    profile = profiles.load(rec["backend"])
    specs = list(args.specs or [])
    from_skyrl = getattr(args, "from_skyrl", None)
    ack: list[str] = []
    if from_skyrl:  # SkyRL's lock as it is; a SPEC may only say which torch the move may take
        if args.latest or args.lock or any(canonicalize_name(Requirement(s).name) != "torch" for s in specs):
            raise UsageError("--from-skyrl moves to SkyRL's lock as it is",
                             "drop --latest, --lock and any SPEC but torch==VERSION (which accepts a torch move)")
        if not profile.from_skyrl:
            raise UsageError(f"the {profile.name} profile is not built from SkyRL's lock", "install a SkyRL-sourced backend first")
        ack, specs = specs, []
        if rec.get("additions"):
            raise UsageError(f"{store.target} was built with additions ({', '.join(rec['additions'])}), which SkyRL's lock does not hold",
                             "build the new lock beside it: `skyrl-setup install --project DIR --with ... --venv NEW_PATH`")
    prior = list(rec.get("additions") or [])
    eff, additions = effective_profile(profile, specs, args.latest)
    additions = prior + [a for a in additions if a not in prior]
    moved = {canonicalize_name(Requirement(s).name) for s in specs}
    variant = rec.get("cuda", {}).get("variant") or profile.variants[0]
    target = Target.for_host(rec.get("python", {}).get("version") or f"{profile.python}.0", variant)

    exempt = frozenset(moved | ({n for n in eff.packages if n in TORCH_RELEVANT} if args.latest else set()))
    priority = tuple(n for n in profile.main_packages if n != "torch")
    latest = Latest(eff, additions, target, exempt, priority, lambda c: _conflict(c, specs, moved)) if args.latest else None
    if latest:
        eff = latest.propose()  # the torch family pinned to the newest set that agrees
    elif specs:
        res = check_compat([eff], additions, target=target, exempt=exempt, priority=priority, enrich=False)
        if not res.ok:
            raise _conflict(res.conflict, specs, moved)
    uv = Uv.locate()
    req = PlanRequest(cuda=args.cuda or variant, lock=args.lock, find_links=tuple(args.find_links or ()),
                      project=rec.get("project"), additions=tuple(additions), skyrl_source=from_skyrl)
    tmp = store.scratch()  # the build copies the lock into the generation
    try:
        plan = gather_plan(req, uv, profile, store, tmp)
        if from_skyrl or rec.get("project"):
            _refuse_torch_move(rec, plan.lock, ack)
        if specs or args.latest or additions or args.lock is None and plan.lock is None:
            reporter.step("resolving the new lock")
            while True:
                try:
                    out = locking.compile_lock(uv, eff, variant=plan.cuda.variant, platform=plan.platform, output=tmp / "pylock.upgrade.toml",
                                               additions=tuple(additions), find_links=plan.find_links, on_line=reporter.progress,
                                               exempt=tuple(sorted(exempt)))
                    break
                except ConflictError as exc:  # uv sees every requirement: a release it refuses is left out
                    if not latest or latest.step_back(exc) is None:
                        raise
                    eff = latest.propose()
            lock = load_lock(out, plan.python.version, plan.platform)
            for row in latest.left_out if latest else ():
                reporter.warn(f"{row['name']} {row['version']} left out: {row['reason']}")
            hit("upgrade-lock-resolved")
            source = "upgrade: " + (" ".join(specs) if specs else ("latest" if args.latest else "re-resolved"))
        else:
            lock, source = plan.lock, plan.lock_source
        plan = dataclasses.replace(plan, lock=lock, lock_source=source, profile=eff, additions=tuple(additions))
        old = installed_versions(store.target) or rec.get("packages", {})
        reinstalled = {a["name"] for a in rec.get("artifacts", []) if a.get("status") != "unreachable"}
        changes = [c for c in diff(old, lock) if c[0] not in reinstalled]  # artifacts come back with the new generation
        doc = {"venv": str(store.target), "generation": store.current(), **({"left_out": latest.left_out} if latest else {}), "lockfile": str(lock.path), "lock_sha256": lock.sha256,
               "changes": [{"name": n, "old": a, "new": b} for n, a, b in changes], "dry_run": bool(args.dry_run)}
        if rec.get("lock", {}).get("sha256") == lock.sha256 and compare(rec.get("packages", {}), old).empty \
                and interpreter_runs(store.target):
            reporter.print(f"[green]✓[/] {store.target} is current: nothing to upgrade")
            return CommandResult({**doc, "noop": True})
        if reporter.verbose:
            render_plan(reporter, plan)
        render_diff(reporter, changes, lock)
        if args.dry_run:
            return CommandResult({**doc, "noop": False})
        if args.latest and not args.yes:
            keep = store.root / "pylock.proposed.toml"
            keep.write_bytes(lock.path.read_bytes())
            if not (sys.stdin.isatty() and input("apply this set? [y/N] ").strip().lower() in ("y", "yes")):
                reporter.print(f"proposed lock kept at {keep}; apply it with `skyrl-setup upgrade --venv {store.target} --lock {keep}` or --latest -y")
                return CommandResult({**doc, "noop": False, "applied": False, "proposed_lock": str(keep)})
        with store.locked(wait=args.wait):
            store.clean_leftovers()
            preflight_disk(plan, store)
            result = build(plan, uv, store, progress=reporter.progress, action="upgrade", adopt_lock=True,
                           record_extra={"changes": len(changes), "specs": specs, "latest": bool(args.latest)})
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    reporter.print(f"[green]✓[/] upgraded {store.target}: generation {result.previous} → {result.generation} "
                   f"({len(changes)} change(s), {time.perf_counter() - t0:.1f} s); undo with `skyrl-setup rollback --venv {store.target}`")
    return CommandResult({**doc, "noop": False, "applied": True, "generation": result.generation,
                          "previous_generation": result.previous, "pruned": list(result.pruned),
                          "imports": [r.to_json() for r in result.imports]})


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


def run_rollback(args, reporter) -> CommandResult:
    store = _venv(args)  # the current generation may be gone or damaged: that is when rollback is needed
    with store.locked(wait=args.wait):
        cur, prev = store.current(), store.previous()
        if prev is None:
            raise _no_earlier(store, cur, args)
        old = store.record(prev) or {}
        _check_backend(store, store.record() or old, args)
        store.note_rollback(prev)
        store.swap_to(prev)
        hit("rollback-swapped")
        old.setdefault("history", []).append({"time": now_iso(), "action": "rollback", "generation": prev, "from_generation": cur})
        store.write_record(prev, old)
    reporter.print(f"[green]✓[/] {store.target} rolled back: generation {cur} → {prev} ({old.get('backend')}, lock {old.get('lock', {}).get('sha256', '')[:12]})")
    return CommandResult({"venv": str(store.target), "generation": prev, "from_generation": cur})


def _no_earlier(store: Store, cur: int | None, args) -> Exception:
    intact = [g for g in store.generations() if store.complete(g) and store.activated(g)]
    if not intact:
        return _no_env(store, args)
    newer = [g for g in intact if g != cur]
    if newer:
        return OperationError(f"generation {cur} of {store.target} is the earliest still kept: nothing to roll back to",
                              f"the other kept generations ({', '.join(map(str, newer))}) were live after it and were rolled back; "
                              "`skyrl-setup upgrade` or `install --force` builds a new one")
    return OperationError(f"{store.target} has no earlier generation to roll back to",
                          "generations are kept by install --force and upgrade; this environment has only one")
