"""Is an environment ready for SkyRL training with a backend? One verdict, with each blocker's fix.

Asked of SkyRL's own code, three ways:
1. statically: every module-level import along the backend's code paths (entry point, trainer,
   worker, engine adapter, generator, followed through SkyRL's modules) resolves in the
   environment, read by probe/code_paths_script.py without executing anything;
2. for real, in the environment's interpreter: SkyRL's modules that do not load the engine on any
   host; the engine adapter only where a GPU is usable (without one, engine code takes CPU-only
   paths whose failures mean nothing on a GPU node, so the static check decides there);
3. the engine's RL interface: the methods SkyRL calls on the engine class exist.
Blocker kinds: `artifact` (a component the user must supply, such as flash-attn's prebuilt wheel),
`release` (a defect inside the SkyRL release itself: no environment built from it avoids it),
`environment` (anything else: the environment is wrong); and, from the GPU probes install runs
before its swap, `gpu` (this host's GPU does not run the environment's kernels).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.probe import run_json, script
from skyrl_setup.verify.imports import ImportResult, run_imports


@dataclass(frozen=True)
class Blocker:
    module: str  # the SkyRL module (and line) where SkyRL's code stops
    reason: str
    fix: str
    kind: str  # artifact / release / environment / gpu

    def to_json(self) -> dict:
        return {"module": self.module, "reason": self.reason, "fix": self.fix, "kind": self.kind}


@dataclass(frozen=True)
class Verdict:
    backend: str
    blockers: tuple[Blocker, ...]
    checked_modules: int = 0
    static_seconds: float = 0.0
    imports: tuple[ImportResult, ...] = ()
    interface: tuple[dict, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ready(self) -> bool:
        return not self.blockers

    @property
    def environment_blockers(self) -> tuple[Blocker, ...]:
        return tuple(b for b in self.blockers if b.kind == "environment")

    def line(self) -> str:
        if self.ready:
            return f"ready for SkyRL training with {self.backend}"
        return f"built, but NOT ready for SkyRL training with {self.backend}: {len(self.blockers)} blocker(s)"

    def to_json(self) -> dict:
        return {"ready": self.ready, "backend": self.backend, "verdict": self.line(),
                "blockers": [b.to_json() for b in self.blockers], "checked_modules": self.checked_modules,
                "static_seconds": self.static_seconds, "imports": [i.to_json() for i in self.imports],
                "interface": list(self.interface), "notes": list(self.notes)}


def static_check(python: Path, profile: Profile, timeout: float = 120) -> dict:
    req = {"entry": list(profile.skyrl_entry), "follow": list(profile.follow), "interface": profile.interface}
    return run_json([str(python), script("code_paths_script"), json.dumps(req)], timeout=timeout)


def real_import_list(profile: Profile, gpu_usable: bool) -> list[str]:
    return list(profile.skyrl_imports) + (list(profile.engine_imports) if gpu_usable else [])


def assess(python: Path, profile: Profile, *, gpu_usable: bool, wheels: dict[str, str] | None = None,
           imports: tuple[ImportResult, ...] | None = None, checkout: bool = False, timeout: float = 600) -> Verdict:
    """The verdict for the environment of `python`. `wheels`: artifact name -> the wheel file that
    supplies it here; `imports`: results of real imports already run (the install's verification
    runs them with the stack's, in one interpreter), else they are run here; `checkout`: SkyRL is the
    user's own checkout (--project), whose defects are the user's to fix, not a release's."""
    if not profile.skyrl_entry:
        return Verdict(profile.name, (), notes=("the profile names no SkyRL code paths to check",))
    found = static_check(python, profile)
    if found.get("status") != "ok":
        return Verdict(profile.name, (Blocker("(static check)", f"could not read the environment's code: {found.get('detail')}",
                                              "run `skyrl-setup doctor -v` on this environment", "environment"),))
    dists = found.get("dists") or {}
    blockers = [_blocker(f, dists, profile, wheels or {}, checkout) for f in found.get("findings", [])]
    blockers += [Blocker(m, f"{m} is not installed", _reinstall(profile), "environment") for m in found.get("missing_entry", [])]
    unknown = [i["class"] for i in found.get("interface", []) if i.get("status") == "unknown"]
    for item in found.get("interface", []):
        if item.get("status") == "missing":
            cls = item["class"].replace(":", ".")
            top = cls.split(".")[0]
            have = dists.get(top) or {}
            calls = ", ".join(item.get("missing", []))
            if not have and "not found" in item.get("detail", ""):
                blockers.append(Blocker(cls, f"{top} is not installed: SkyRL calls {calls} on {cls} for RL training",
                                        _reinstall(profile), "environment"))
                continue
            blockers.append(Blocker(cls, f"{have.get('name', top)} {have.get('version', '?')}'s {cls} lacks "
                                         f"{calls}, which SkyRL calls for RL training",
                                    _reinstall(profile, have.get("name")), "environment"))
    real = real_import_list(profile, gpu_usable)
    if imports is None:
        imports = tuple(run_imports(python, real, timeout=timeout)) if real else ()
    imports = tuple(r for r in imports if r.module in real)
    # A real import that fails on what the static check already named is the same blocker, not another.
    for r in imports:
        if r.status == "error" and r.module not in found.get("missing_entry", []) \
                and not _same_cause(r.detail, found.get("findings", [])):  # an entry module not found is named once
            blockers.append(Blocker(r.module, f"import {r.module}: {r.detail}", _reinstall(profile), "environment"))
    notes: tuple[str, ...] = ()
    if not gpu_usable and profile.engine_imports:
        notes = (f"not imported for real: {', '.join(profile.engine_imports)} (no usable GPU here: engine code takes "
                 "CPU-only paths; the static check of its imports decides)",)
    if unknown:
        notes += (f"RL interface of {', '.join(unknown)} not decided: a base class could not be read",)
    return Verdict(profile.name, tuple(_dedupe(blockers)), int(found.get("checked", 0)), float(found.get("seconds", 0.0)),
                   imports, tuple(found.get("interface", [])), notes)


def _same_cause(detail: str, findings: list[dict]) -> bool:
    """A real import that fails on what the static check already named is the same blocker, not another:
    `No module named 'flash_attn.bert_padding'` for a missing flash_attn; `cannot import name 'X'`."""
    m = re.search(r"No module named '([^']+)'", detail)
    if m:
        gone = m.group(1)
        return any(f["kind"] == "module" and (gone == f["missing"] or gone.startswith(f["missing"] + ".")
                                              or f["missing"].startswith(gone + ".")) for f in findings)
    m = re.search(r"cannot import name '([^']+)'", detail)
    if m is None:
        return False
    name = m.group(1)
    return any(f["kind"] == "name" and f["missing"].rsplit(".", 1)[-1] == name for f in findings)


def _dedupe(blockers: list[Blocker]) -> list[Blocker]:
    out: list[Blocker] = []
    for b in blockers:
        if not any(o.reason == b.reason and o.kind == b.kind for o in out):
            out.append(b)
    return out


def _reinstall(profile: Profile, dist: str | None = None) -> str:
    if dist and profile.tested.get(canonicalize_name(dist)):
        return (f"SkyRL was tested with {dist} {profile.tested[canonicalize_name(dist)]}: "
                f"`skyrl-setup install --backend {profile.name} --force` rebuilds from SkyRL's lock")
    if not profile.from_skyrl:
        return ("this profile is the version matrix's set, not SkyRL's: install a backend built from SkyRL's lock "
                "(`skyrl-setup profiles` lists them)")
    return f"rebuild from the lock: `skyrl-setup install --backend {profile.name} --force`"


def _sound_releases(profile: Profile) -> list[str]:
    from skyrl_setup.catalog import releases

    mine = profile.release.id if profile.release else None
    return [r.id for r in releases.having(profile.name) if r.id != mine and not r.defects_for(profile.name)]


def _blocker(f: dict, dists: dict, profile: Profile, wheels: dict[str, str], checkout: bool) -> Blocker:
    where = f"{f['module']}:{f['line']}"
    stmt = f" (`{f['statement'].rstrip('(').strip()}`)" if f.get("statement") else ""
    missing = f["missing"]
    top = missing.split(".")[0]
    have = f.get("owner") or dists.get(top) or {}
    owner = f"{have.get('name', top)} {have.get('version', '')}".strip()
    if top in profile.follow and top == f["module"].split(".")[0]:  # SkyRL's code against its own code
        what = f"{f['module']} imports {missing.rpartition('.')[2] if f['kind'] == 'name' else missing}" + (
            f" from {missing.rpartition('.')[0]}" if f["kind"] == "name" else "")
        if checkout:
            return Blocker(where, f"your checkout: {what}, which it does not define{stmt}",
                           f"fix it in the checkout ({f['module'].replace('.', '/')}.py line {f['line']})", "environment")
        others = _sound_releases(profile)
        return Blocker(where, f"{owner} itself: {what}, which this release does not define{stmt}; no environment "
                              "built from this release avoids it",
                       "use a SkyRL checkout where it is fixed (`--project PATH`)" + (
                           f" or another release (`--skyrl {others[-1]}`)" if others else ""), "release")
    if f["kind"] == "module":
        art = next((a for a in profile.artifacts if a.name.replace("-", "_") == top), None)
        if art is not None:
            wheel = wheels.get(art.name)
            fix = (f"download {wheel} and re-run with --find-links DIR (the folder holding it), "
                   f"or install from a bundle made where it is reachable" if wheel else
                   f"supply {art.name} {art.version} with --find-links DIR") + (f" ({art.reason})" if art.reason else "")
            return Blocker(where, f"{missing} is not installed; SkyRL imports it at module level{stmt}", fix, "artifact")
        return Blocker(where, f"{missing} is not installed; SkyRL imports it at module level{stmt}",
                       _reinstall(profile, have.get("name")), "environment")
    module, _, name = missing.rpartition(".")
    return Blocker(where, f"{owner} has no {name} in {module}{stmt}", _reinstall(profile, have.get("name")), "environment")
