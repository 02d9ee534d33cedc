"""`skyrl-setup install`: detect → plan → build → verify → swap, for one backend.

A re-run with nothing to do is answered from the environment's record before the planner is
even imported; everything else is planned completely (every package known) before the build.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from skyrl_setup import paths as preflight
from skyrl_setup.build.existing import store_for
from skyrl_setup.catalog import profiles, releases
from skyrl_setup.commands.requests import InstallRequest
from skyrl_setup.commands.results import Result
from skyrl_setup.commands.shapes import JSON, InstallData
from skyrl_setup.commands.ui import UI
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.errors import ExitCode, UsageError
from skyrl_setup.failpoints import hit
from skyrl_setup.humanize import sh
from skyrl_setup.locks import checkout
from skyrl_setup.store.generations import Store
from skyrl_setup.store.noop import is_noop, recorded_lock
from skyrl_setup.store.record import EnvRecord


def outcome(*, backend: str | None = None, venv: str | None = None, plan: JSON | None = None, dry_run: bool = False,
            noop: bool = False, generation: int | None = None, previous_generation: int | None = None, path: str | None = None,
            lockfile: str | None = None, lock_sha256: str | None = None, imports: Sequence[JSON] = (), pruned: Sequence[int] = (),
            verdict: JSON | None = None, ready: bool = False, gpu_checks: Sequence[JSON] = (), activate: str | None = None,
            python: str | None = None, env: Mapping[str, str] | None = None, warnings: Sequence[str] = (),
            seconds: float | None = None) -> InstallData:
    """Every install's data has the same keys, whatever happened (planned only, nothing to do, built): a key only one
    path sets was the two-shapes bug (issue 14, bug 3)."""
    return InstallData(backend=backend, venv=venv, plan=plan, dry_run=dry_run, noop=noop, generation=generation,
                       previous_generation=previous_generation, path=path, lockfile=lockfile, lock_sha256=lock_sha256,
                       imports=list(imports), pruned=list(pruned), verdict=verdict, ready=ready, gpu_checks=list(gpu_checks),
                       activate=activate, python=python, env=dict(env or {}), warnings=list(warnings), seconds=seconds)


def run(req: InstallRequest, ui: UI) -> Result:
    t0 = time.perf_counter()
    preflight.index_settings()
    if req.from_bundle:
        return _from_bundle(req, ui, t0, req.from_bundle)
    return _install(req, ui, t0, profile_ref=req.backend, release=req.skyrl, offline=False, lock_source="--lock")


def _from_bundle(req: InstallRequest, ui: UI, t0: float, bundle_file: str) -> Result:
    """Unpack a bundle into a temporary folder, install its lock with no network, remove the unpacked files."""
    from skyrl_setup.build import bundle

    if req.additions or req.lock or len(req.backends) > 1:
        raise UsageError("--from-bundle installs the bundle's lock as it is", "drop --with, --lock and extra --backend")
    dest = Path(tempfile.mkdtemp(prefix="skyrl-bundle-"))
    try:
        manifest = bundle.open_bundle(Path(bundle_file), dest)  # req.from_bundle
        if req.backends and req.backends[0] != manifest["backend"]:
            raise UsageError(f"the bundle holds {manifest['backend']}, not {req.backends[0]}", "drop --backend or use the right bundle")
        ui.progress(f"bundle verified: {len(manifest['files'])} files, lock {manifest['lock']} (sha256 {manifest['lock_sha256'][:12]})")
        inner = dataclasses.replace(req, lock=str(bundle.local_lock(dest, manifest)), cuda=req.cuda or manifest["cuda"],
                                    find_links=(*req.find_links, str(dest / "wheels")))
        return _install(inner, ui, t0, profile_ref=str(dest / manifest["profile"]), release=manifest.get("skyrl_release"), offline=True,
                        lock_source=f"bundle {req.from_bundle}")
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def _install(req: InstallRequest, ui: UI, t0: float, *, profile_ref: str, release: str | None, offline: bool,
             lock_source: str) -> Result:
    loaded = [profiles.load(b, req.skyrl) for b in (req.backends[1:] if not req.from_bundle else ())]
    chosen = release if offline else releases.for_host(release, profile_ref)  # a bundle's release is fixed
    if req.project:  # either folder of a checkout: the project's own, as the record keeps it
        req = dataclasses.replace(req, project=checkout.project_folder(req.project))
    profile = checkout.load_profile(profile_ref, chosen, req.project)
    if loaded:
        _check_compatible(req, [profile, *loaded])
    store = store_for(req.venv, profile.name)
    store.check_target(backend=profile.name, force=req.force)
    mirrors = Mirrors.load(req.mirror)
    if req.lock:
        preflight.user_file(req.lock, "--lock")
    unwritable = preflight.unwritable(preflight.install_paths(store.target, store.root))  # before any download
    if unwritable and not req.dry_run:
        raise unwritable

    rec = store.record()
    quick = _quick_noop(req, profile, store, rec)
    if quick is not None:
        store.tidy()
        return _recorded_verdict(req, store, rec, outcome(noop=True, backend=profile.name, venv=str(store.target),
                                                      lockfile=str(quick.path), lock_sha256=quick.sha256,
                                                      generation=store.current(), seconds=round(time.perf_counter() - t0, 3)))
    workdir = Path(tempfile.mkdtemp(prefix="skyrl-setup-plan-"))
    try:
        return _plan_and_build(req, ui, profile, store, mirrors, offline, lock_source, workdir, t0,
                               [unwritable.message + ": the install would stop there"] if unwritable else [])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _check_compatible(req: InstallRequest, loaded: list) -> None:
    """Two backends: one environment each; but first say whether they could share one (exit 3 on a clash).
    (Additions are checked by the planner, against the target it plans for.)"""
    from skyrl_setup.plan.basis import require_compatible
    from skyrl_setup.plan.install import host_target

    res = require_compatible(loaded, list(req.additions), target=host_target(loaded[0], req.python, req.cuda),
                             mirrors=Mirrors.load(req.mirror))
    raise UsageError(f"one backend per environment ({' and '.join(p.name for p in loaded)} could share one, "
                     f"with torch {res.pins.get('torch', '?')})", "install each backend with its own --venv")


def _plan_and_build(req: InstallRequest, ui: UI, profile, store: Store, mirrors: Mirrors, offline: bool, lock_source: str,
                    workdir: Path, t0: float, warnings: list[str]) -> Result:
    from skyrl_setup.plan.install import gather_plan, preflight_disk
    from skyrl_setup.plan.model import PlanRequest
    from skyrl_setup.uv.backend import Uv

    uv = Uv.locate().offline() if offline else Uv.locate()
    plan_req = PlanRequest(python=req.python, cuda=req.cuda, lock=req.lock, lock_source=lock_source,
                           find_links=req.find_links, project=req.project, additions=req.additions,
                           allow_moves=req.allow_moves, require_gpu=req.require_gpu, mirrors=mirrors, offline=offline)
    plan = gather_plan(plan_req, uv, profile, store, workdir, progress=ui.progress)
    planned = plan.to_json()
    ui.show("install.plan", {**planned, "warnings": [*planned["warnings"], *warnings]})
    base = dict(backend=profile.name, venv=str(store.target), plan=planned, dry_run=req.dry_run, warnings=warnings,
                lockfile=str(plan.lock.path) if plan.lock else None, lock_sha256=plan.lock.sha256 if plan.lock else None)
    if req.dry_run:
        return Result("install", outcome(**base, seconds=round(time.perf_counter() - t0, 3)))
    from skyrl_setup.build.generation import build  # not before: a dry run does not pay for importing the build
    from skyrl_setup.verify.imports import gpu_probes

    with store.locked(wait=req.wait):
        for leftover in store.clean_leftovers():
            ui.progress(f"removed leftover {leftover} of an interrupted run")
        hit("cleaned")
        store.check_target(backend=profile.name, force=req.force)
        preflight_disk(plan, store)
        rec = store.record()
        if not req.force and is_noop(store, rec, profile.name, plan.lock, project=plan.project, find_links=plan.find_links):
            return _recorded_verdict(req, store, rec, outcome(**base, noop=True, generation=store.current(),
                                                         seconds=round(time.perf_counter() - t0, 3)))
        made_here = plan.lock is not None and plan.lock.path.parent == workdir  # resolved or a checkout's: keep it with the env
        result = build(plan, uv, store, progress=ui.progress, verify=not req.no_verify,
                       adopt_lock=bool(req.from_bundle) or made_here, probe_gpus=gpu_probes)
    verdict = result.verdict
    if result.lock is None:  # build() returns the lock it installed, always
        raise ValueError("build() returned no lock")
    data = outcome(**{**base, "lockfile": str(result.lock.path), "lock_sha256": result.lock.sha256},
                   generation=result.generation, previous_generation=result.previous, path=str(result.path),
                   imports=[r.to_json() for r in result.imports], pruned=list(result.pruned),
                   verdict=verdict.to_json() if verdict else None, ready=bool(verdict and verdict.ready),
                   gpu_checks=[c.to_json() for c in result.gpu_checks], activate=f"source {sh(store.target / 'bin' / 'activate')}",
                   python=f"{store.target}/bin/python", env=dict(profile.env), seconds=round(time.perf_counter() - t0, 2))
    not_ready = verdict is not None and not verdict.ready
    return Result("install", data, ExitCode.FAILED if not_ready and req.strict else ExitCode.OK)


def _recorded_verdict(req: InstallRequest, store: Store, rec: EnvRecord | None, data: InstallData) -> Result:
    """Nothing to do: the verdict is the one recorded when the environment was built."""
    verdict = dict(rec.verdict) if rec and rec.verdict is not None else None
    ready = bool(verdict and verdict.get("ready"))
    data.update({"verdict": verdict, "ready": ready, "activate": f"source {sh(store.target / 'bin' / 'activate')}",
                 "python": f"{store.target}/bin/python", "env": dict(rec.env) if rec else {},
                 "previous_generation": store.previous()})
    return Result("install", data, ExitCode.FAILED if req.strict and not ready else ExitCode.OK)


def _quick_noop(req: InstallRequest, profile, store: Store, rec: EnvRecord | None):
    """The fast path of a re-run: the record and the installed files already match the lock."""
    if req.force or req.dry_run or req.project or req.find_links or req.python or req.cuda or req.additions or req.from_bundle:
        return None
    lock = recorded_lock(rec, profile.name, req.lock, profile.lock_dir)
    if lock is None or not is_noop(store, rec, profile.name, lock, project=None, find_links=()):
        return None
    return lock
