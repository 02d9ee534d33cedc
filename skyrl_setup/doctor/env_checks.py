"""Environment checks over what the environment itself reported (probe/env_script.py).

`facts` is that script's JSON: {python, prefix, distributions: {name: {version, requires}}, env}.
"""

from __future__ import annotations

import re

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from skyrl_setup.catalog.cuda_policy import CudaVersion, choose_variant
from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.detect.gpu import DriverInfo
from skyrl_setup.detect.system import platform_tag
from skyrl_setup.doctor import Check
from skyrl_setup.humanize import sh
from skyrl_setup.locks.pylock import target_environment
from skyrl_setup.store.record import EnvRecord
from skyrl_setup.store.venvinfo import compare

CUDA_SUFFIX = re.compile(r"-cu(?:da)?(\d{2})(?:x)?$")
_EXTRA_EQ = re.compile(r"\bextra\s*==")


def versions(facts: dict) -> dict[str, str]:
    return {canonicalize_name(n): d["version"] for n, d in facts.get("distributions", {}).items()}


def install_fix(profile: Profile, venv: str | None) -> str:
    where = f" --venv {sh(venv)}" if venv else ""
    return f"skyrl-setup install --backend {profile.name}{where} --force"


def check_python(facts: dict, profile: Profile) -> Check:
    v = facts.get("python", "?")
    if ".".join(v.split(".")[:2]) == profile.python:
        return Check("env.python", "ok", f"Python {v} ({facts.get('executable')})")
    return Check("env.python", "error", f"the environment runs Python {v}; SkyRL requires {profile.python}",
                 f"rebuild it: skyrl-setup install --backend {profile.name} (finds a Python {profile.python})")


def check_pins(facts: dict, profile: Profile, venv: str | None, basis=None) -> Check:
    """Every package of the lock the environment is judged against (plan.basis.Basis: its record's, else
    the one install takes here) at its locked version; without one, the profile's pins."""
    if basis is not None:
        return _check_lock(facts, profile, venv, basis)
    have = versions(facts)
    wrong, missing = [], []
    for name, spec in {**profile.packages, **profile.skyrl}.items():
        req = Requirement(f"{name}{spec}")
        got = have.get(canonicalize_name(req.name))
        if got is None:
            missing.append(f"{req.name}{req.specifier}")
        elif req.specifier and not req.specifier.contains(got, prereleases=True):
            wrong.append(f"{req.name} {got} (profile: {req.specifier})")
    details = {"wrong": wrong, "missing": missing}
    if not wrong and not missing:
        return Check("env.pins", "ok", f"all {len(profile.packages) + len(profile.skyrl)} pins of the {profile.name} profile hold", details=details)
    return Check("env.pins", "error", f"{profile.name} profile: " + _differences(wrong, missing), install_fix(profile, venv), details)


def _check_lock(facts: dict, profile: Profile, venv: str | None, basis) -> Check:
    have = versions(facts)
    lock = basis.lock
    wrong, missing = [], []
    for p in lock.packages:
        got = have.get(p.name)
        if not p.version:
            continue
        if got is None:
            missing.append(f"{p.name}=={p.version}")
        elif not _same_version(got, p.version):
            wrong.append(f"{p.name} {got} (lock: {p.version})")
    details = {"wrong": wrong, "missing": missing, "lock": str(lock.path), "lock_sha256": lock.sha256,
               "judged_against": basis.source}
    if not wrong and not missing:
        return Check("env.pins", "ok", f"all {len(lock.packages)} packages of {lock.path.name} installed at their locked versions "
                     f"({basis.source})", details=details)
    return Check("env.pins", "error", f"{lock.path.name} ({basis.source}): " + _differences(wrong, missing),
                 install_fix(profile, venv), details)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _differences(wrong: list[str], missing: list[str]) -> str:
    parts = []
    if wrong:
        parts.append(f"{len(wrong)} pin(s) violated: " + "; ".join(wrong[:4]) + (" …" if len(wrong) > 4 else ""))
    if missing:
        parts.append(f"{len(missing)} missing: " + ", ".join(missing[:6]) + (" …" if len(missing) > 6 else ""))
    return "; ".join(parts)


def check_drift(facts: dict, record: EnvRecord | None) -> list[Check]:
    """The environment against its record: its packages; and where it lives (store_checks: moved, the link, shared files)."""
    if not record:
        return [Check("env.drift", "skipped", "no skyrl-setup record in this environment (not made by skyrl-setup)")]
    from skyrl_setup.doctor.store_checks import store_checks

    return [_drift(facts, record), *store_checks(facts, record)]


def _drift(facts: dict, record: EnvRecord) -> Check:
    want = record.packages  # what the environment held when it was built and verified
    d = compare(want, versions(facts))
    added, removed = list(d.added), list(d.removed)
    changed = [f"{n} {a} → {b}" for n, a, b in d.changed]
    details = {"added": added, "removed": removed, "changed": changed, "lock_sha256": record.lock.sha256}
    if not (added or removed or changed):
        return Check("env.drift", "ok", f"matches its lock ({len(want)} packages, generation {record.generation})", details=details)
    bits = [f"{len(x)} {label}" for x, label in ((changed, "changed"), (added, "added"), (removed, "removed")) if x]
    sample = (changed + [f"+{a}" for a in added] + [f"-{r}" for r in removed])[:5]
    return Check("env.drift", "warning", f"drifted from its lock since install: {', '.join(bits)} ({'; '.join(sample)})",
                 "skyrl-setup upgrade (back to the lock), or skyrl-setup rollback", details)


def _only_for_an_extra(line: str) -> bool:
    """`foo; extra == "x"` (also `and`-joined): False under an environment that asked for no extras."""
    _, sep, marker = line.partition(";")
    return bool(sep) and _EXTRA_EQ.search(marker) is not None and " or " not in marker


def check_requirements(facts: dict, excluded: tuple[str, ...] = ()) -> list[Check]:
    """What `pip check` finds: requirements of installed distributions that are missing or unmet.

    Packages the profile keeps out of resolution on purpose (flash-attn: an sdist of hours)
    are reported apart, as a warning with the artifact's fix.
    """
    have = versions(facts)
    env = target_environment(facts.get("python", "3.12.0"), platform_tag())  # the env's Python, on this host
    broken: list[str] = []
    skipped: dict[str, list[str]] = {}
    for name, d in facts.get("distributions", {}).items():
        for line in d.get("requires", []):
            if _only_for_an_extra(line):
                continue  # as in `pip check`; not parsing these halves the scan
            try:
                req = Requirement(line)
                if req.marker and not req.marker.evaluate(env):
                    continue
            except Exception:  # noqa: BLE001 - an unparsable line or marker in someone's metadata is not ours to judge
                continue
            dep = canonicalize_name(req.name)
            got = have.get(dep)
            if got is None and dep in excluded:
                skipped.setdefault(dep, []).append(name)
            elif got is None:
                broken.append(f"{name} requires {req}, which is not installed")
            elif req.specifier:
                try:
                    if not req.specifier.contains(Version(got), prereleases=True):
                        broken.append(f"{name} requires {req}, but {got} is installed")
                except InvalidVersion:
                    continue
    out = [Check("env.artifacts", "warning", f"{pkg} (required by {', '.join(sorted(by))}) is not installed: "
                 "PyPI has only its source, a build of hours",
                 "get its prebuilt wheel (see `skyrl-setup install --dry-run`) and re-run install with --find-links DIR")
           for pkg, by in sorted(skipped.items())]
    if not broken:
        return [Check("env.requirements", "ok", f"requirements of all {len(have)} distributions are met"), *out]
    return [Check("env.requirements", "error", f"{len(broken)} broken requirement(s): " + "; ".join(broken[:3]),
                  "skyrl-setup upgrade (re-syncs the environment to its lock)", {"broken": broken}), *out]


def check_mixed_cuda(facts: dict) -> Check:
    majors: dict[str, list[str]] = {}
    for name in versions(facts):
        m = CUDA_SUFFIX.search(name)
        if m:
            majors.setdefault(m.group(1), []).append(name)
    if len(majors) <= 1:
        label = f"CUDA {next(iter(majors))}" if majors else "none"
        return Check("env.cuda_mixed", "ok", f"one CUDA major among CUDA-specific packages ({label})", details=majors)
    summary = "; ".join(f"cu{k}: {', '.join(sorted(v)[:3])}{' …' if len(v) > 3 else ''}" for k, v in sorted(majors.items()))
    return Check("env.cuda_mixed", "warning", f"packages for several CUDA majors in one environment ({summary})",
                 "a library loading the other major's runtime can fail at import or at the first kernel; "
                 "uninstall the odd ones out (uv pip uninstall --python ENV/bin/python NAME) if nothing needs them",
                 majors)


def torch_cuda_build(facts: dict) -> str | None:
    """The CUDA release torch was built for: its local version tag, else torch/version.py as read by env_script."""
    v = versions(facts).get("torch")
    if v and "+cu" in v:
        local = v.split("+cu", 1)[1]
        return f"{local[:-1]}.{local[-1]}"
    return facts.get("torch_cuda")


def check_torch_build(cuda_build: str | None, has_torch: bool, driver: DriverInfo, profile: Profile) -> Check:
    if not has_torch:
        return Check("env.torch_cuda", "error", "torch is not installed", f"skyrl-setup install --backend {profile.name}")
    if cuda_build is None:
        return Check("env.torch_cuda", "warning", "cannot tell which CUDA torch was built for (a CPU build?)",
                     f"skyrl-setup install --backend {profile.name} --force")
    major, minor = (int(x) for x in cuda_build.split(".")[:2])
    variant = CudaVersion(major, minor).variant
    details = {"torch_cuda": cuda_build, "profile_variants": list(profile.variants)}
    note = "" if variant in profile.variants else f" (the {profile.name} profile expects {', '.join(profile.variants)})"
    if driver.version is None:
        return Check("env.torch_cuda", "warning" if note else "ok", f"torch is built for CUDA {cuda_build}{note}; no driver to judge it against",
                     f"skyrl-setup install --backend {profile.name} --force" if note else "", details)
    choice = choose_variant((variant,), driver.version)
    if choice.error:
        return Check("env.torch_cuda", "error", f"torch is built for CUDA {cuda_build}, which driver {driver.version} cannot run{note}",
                     "upgrade the NVIDIA driver or install a build for an older CUDA (--cuda)", details)
    if choice.warnings or note:
        text = choice.warnings[0] if choice.warnings else f"torch is built for CUDA {cuda_build}{note}"
        return Check("env.torch_cuda", "warning", text, f"skyrl-setup install --backend {profile.name} --force", details)
    return Check("env.torch_cuda", "ok", f"torch is built for CUDA {cuda_build}; driver {driver.version} runs it", details=details)


def check_runtime_env(facts: dict, profile: Profile) -> Check:
    seen = facts.get("env", {})
    missing = {k: v for k, v in profile.env.items() if seen.get(k) != v}
    if not missing:
        return Check("env.runtime", "ok", "runtime settings present: " + (", ".join(f"{k}={v}" for k, v in profile.env.items()) or "none needed"))
    return Check("env.runtime", "warning",
                 "runtime settings missing or different: " + ", ".join(f"{k} (want {v!r}, have {seen.get(k)!r})" for k, v in missing.items()),
                 " ".join(f"export {k}={v}" for k, v in missing.items()) + "  (skyrl-setup install writes them into the venv)",
                 {"missing": missing})
