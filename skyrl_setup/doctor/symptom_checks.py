"""The version matrix's §7 symptoms, each with the cause doctor finds and its fix; and §9's check_env.py imports.

Each check names the symptom as the user meets it, then the cause behind it on this host:
  symptom.cuda_unavailable  `torch.cuda.is_available()` is False: torch missing, a CPU-only build,
                            no driver, every GPU hidden by CUDA_VISIBLE_DEVICES, a driver too old
  symptom.flashinfer        `No module named 'flashinfer'`: the distribution missing, or present and broken
  symptom.no_kernel_image   `no kernel image is available`: a GPU's architecture missing from torch's
                            arch list or from an engine kernel's fat binaries
  symptom.python            `requires a different Python: 3.11.x not in '==3.12.*'`: the wrong interpreter
They reuse the facts doctor already gathered (the environment's description, the torch probe,
the driver); the two new probes are check_env.py's imports and the engine kernels' arch lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import metadata
from os import PathLike
from pathlib import Path
from typing import cast

from packaging.utils import canonicalize_name

from skyrl_setup.catalog.cuda_policy import CudaVersion, choose_variant
from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.catalog.roles import package_roles
from skyrl_setup.detect.gpu import DriverInfo
from skyrl_setup.doctor import Check, fatbin
from skyrl_setup.doctor.env_checks import torch_cuda_build, versions
from skyrl_setup.humanize import sh


def check_env_modules(profile: Profile) -> list[str]:
    """check_env.py's imports that this backend's profile verifies (doctor runs them in its probe interpreter)."""
    return [m for m in package_roles().check_env_modules if m in profile.modules]


def site_packages(facts: dict) -> list[Path]:
    prefix = Path(facts.get("prefix") or "/nonexistent")
    return sorted(prefix.glob("lib/python3*/site-packages")) + sorted(prefix.glob("lib64/python3*/site-packages"))


def kernel_arches(facts: dict, names: tuple[str, ...] | None = None) -> dict[str, dict]:
    """{distribution: {version, arches, files}} for the engine kernels installed (package-roles.toml's by default),
    from their shared objects.
    Only those the environment's description lists are looked up, each by its name: a torch environment holds
    hundreds of distributions, and reading every one's metadata took 0.6 s (FACTS §10)."""
    installed = {canonicalize_name(n) for n in (facts.get("distributions") or {})}
    paths = [str(p) for p in site_packages(facts)]
    out: dict[str, dict] = {}
    for name in dict.fromkeys(canonicalize_name(n) for n in (package_roles().engine_kernels if names is None else names)):
        dist = next(iter(metadata.distributions(name=name, path=paths)), None) if name in installed else None
        if dist is None:
            continue
        arches, scanned = fatbin.Arches(), 0
        for f in dist.files or ():
            if f.name.endswith(".so") or ".so." in f.name:
                arches = arches | fatbin.scan_file(Path(cast("PathLike[str]", dist.locate_file(f))))  # path-based: a pathlib.Path
                scanned += 1
        if scanned:
            out[name] = {"version": dist.version, "arches": arches, "files": scanned}
    return out


def _cvd_hides(cvd: str | None, gpu_count: int) -> bool:
    """CUDA stops at the first entry it cannot use: empty, -1, or an index past the GPUs hides everything after."""
    if cvd is None or not gpu_count:
        return False
    first = cvd.split(",")[0].strip()
    if first == "" or first.lower() in ("none", "nodevfiles", "void"):
        return True
    if first.lstrip("-").isdigit():
        return int(first) < 0 or int(first) >= gpu_count
    return False  # GPU-/MIG- UUIDs: not judged (NVML's UUIDs are not read here)


def check_cuda_unavailable(facts: dict, torch_res: dict | None, driver: DriverInfo, profile: Profile, cvd: str | None) -> Check:
    sym = "torch.cuda.is_available() is False"
    have = versions(facts)
    fix_env = f"skyrl-setup install --backend {profile.name} --force"
    if "torch" not in have:
        return Check("symptom.cuda_unavailable", "error", f"{sym}: torch is not installed in this environment", fix_env)
    build = torch_cuda_build(facts)
    tv = have["torch"]
    details = {"torch": tv, "torch_cuda": build, "driver": driver.version, "cuda_visible_devices": cvd,
               "gpus": len(driver.gpus)}
    if "+rocm" in tv:
        return Check("symptom.cuda_unavailable", "error", f"{sym}: torch {tv} is a ROCm (AMD) build, not a CUDA one", fix_env, details)
    if build is None or tv.endswith("+cpu"):
        return Check("symptom.cuda_unavailable", "error", f"{sym}: torch {tv} is a CPU-only build (no CUDA runtime in it)",
                     f"{fix_env} (installs the lock's {'/'.join(profile.variants)} build); with pip: "
                     f"pip install torch=={profile.torch} --index-url https://download.pytorch.org/whl/{profile.variants[0]}",
                     details)
    if driver.version is None:
        return Check("symptom.cuda_unavailable", "warning", f"{sym} on this host: no NVIDIA driver (fine for building an environment)",
                     "on a GPU node: install the NVIDIA driver (>= 570.26 for CUDA 12.8) and check `nvidia-smi`", details)
    if _cvd_hides(cvd, len(driver.gpus)):
        return Check("symptom.cuda_unavailable", "error",
                     f"{sym}: CUDA_VISIBLE_DEVICES={cvd!r} hides every GPU ({len(driver.gpus)} on this host)",
                     f"unset CUDA_VISIBLE_DEVICES, or list the GPUs to use: export CUDA_VISIBLE_DEVICES={','.join(str(g.index) for g in driver.gpus)}",
                     details)
    major, minor = (int(x) for x in build.split(".")[:2])
    choice = choose_variant((CudaVersion(major, minor).variant,), driver.version)
    if choice.error:
        return Check("symptom.cuda_unavailable", "error", f"{sym}: {choice.error} (torch {tv})",
                     "upgrade the NVIDIA driver (nvidia-smi shows the CUDA it supports), or install a torch for an older CUDA", details)
    if torch_res and torch_res.get("cuda_available") is False:
        return Check("symptom.cuda_unavailable", "error", f"{sym} although torch is built for CUDA {build} and driver {driver.version} "
                     "runs it: see gpu.torch_probe's message", "check `nvidia-smi`, the container's --gpus flag and /dev/nvidia*", details)
    seen = "torch sees the GPUs (probe)" if (torch_res or {}).get("cuda_available") else "none of its causes found"
    return Check("symptom.cuda_unavailable", "ok", f"{sym}? no: torch {tv} is built for CUDA {build}, driver {driver.version}; {seen}",
                 details=details)


def check_flashinfer(imports: list | None, facts: dict, profile: Profile, venv: str | None) -> Check:
    sym = "No module named 'flashinfer'"
    pin = profile.packages.get("flashinfer-python")
    if pin is None:
        return Check("symptom.flashinfer", "skipped", f"the {profile.name} profile does not use FlashInfer")
    have = versions(facts).get("flashinfer-python")
    row = next((r for r in imports or () if r.module == "flashinfer"), None)
    py = f"{venv}/bin/python" if venv else facts.get("executable", "ENV/bin/python")
    fix = f"skyrl-setup install --backend {profile.name} --force, or: uv pip install --python {sh(py)} 'flashinfer-python{pin}'"
    if have is None:
        return Check("symptom.flashinfer", "error", f"{sym}: flashinfer-python (the {profile.name} profile pins {pin}) is not installed "
                     f"in this environment ({facts.get('executable')})", fix)
    if row is not None and row.status == "error":
        return Check("symptom.flashinfer", "error", f"flashinfer-python {have} is installed but `import flashinfer` fails: {row.detail}",
                     fix.replace("--force, or", "--force (reinstalls it), or"), {"import": row.to_json()})
    how = "imports" if row is not None and row.status == "ok" else "is installed"
    return Check("symptom.flashinfer", "ok", f"{sym}? no: flashinfer-python {have} {how}")


def check_no_kernel_image(torch_res: dict | None, kernels: dict[str, dict], driver: DriverInfo) -> list[Check]:
    sym = "no kernel image is available for execution on the device"
    gpus = [(g.index, g.name, g.capability) for g in driver.gpus]
    if not gpus:
        return [Check("symptom.no_kernel_image", "skipped", "no GPU to hold the kernels' architectures against")]
    torch_arches = (torch_res or {}).get("arch_list") or []
    torch_majors = {int(m.group(1)[:-1]) for a in torch_arches if (m := re.match(r"(?:sm|compute)_(\d+)", a))}
    out = []
    for idx, name, (major, minor) in gpus:
        sm = f"sm_{major}{minor}"
        missing = []
        if torch_arches and major not in torch_majors:
            missing.append((f"torch ({', '.join(torch_arches)})", "install a torch build that includes it (another CUDA variant: --cuda)"))
        for dist, k in kernels.items():
            if k["arches"] and not k["arches"].runs_on(major, minor):
                missing.append((f"{dist} {k['version']} ({', '.join(k['arches'].names())})",
                                f"install a {dist} build for {sm} (a newer release, or the wheel for this CUDA variant)"))
        details = {"gpu": idx, "arch": sm, "torch_arch_list": torch_arches,
                   "kernels": {d: {"version": k["version"], "arches": k["arches"].names()} for d, k in kernels.items()}}
        if missing:
            out.append(Check(f"symptom.no_kernel_image{idx}", "error",
                             f"'{sym}' on GPU {idx} {name} ({sm}): not built for it: " + "; ".join(m for m, _ in missing),
                             "; ".join(f for _, f in missing), details))
        else:
            judged = (["torch"] if torch_arches else []) + sorted(kernels)
            what = ", ".join(judged) if judged else "nothing to judge (no torch arch list without a visible GPU; no engine kernel)"
            out.append(Check(f"symptom.no_kernel_image{idx}", "ok" if judged else "skipped",
                             f"GPU {idx} {name} ({sm}) is in the arch lists of: {what}" if judged else f"GPU {idx}: {what}",
                             details=details))
    return out


def check_python(facts: dict, profile: Profile, found) -> Check:
    v = facts.get("python", "?")
    if ".".join(v.split(".")[:2]) == profile.python:
        return Check("symptom.python", "ok", f"'requires a different Python'? no: the environment runs Python {v}")
    where = f"a Python {profile.python} is at {found.path}" if found else f"no Python {profile.python} found on this host"
    fix = (f"skyrl-setup install --backend {profile.name} --force --python {sh(found.path)}" if found
           else f"uv python install {profile.python} (or pyenv install {profile.python}.7), then skyrl-setup install --backend {profile.name} --force")
    return Check("symptom.python", "error",
                 f"'Package 'skyrl-train' requires a different Python: {v} not in '=={profile.python}.*'': this environment's "
                 f"interpreter ({facts.get('executable')}) is Python {v}; {where}", fix, {"python": v})


def check_imports(imports: list | None) -> list[Check]:
    """check_env.py's imports, one line for all that import and one per failure."""
    if not imports:
        return []
    bad = [r for r in imports if r.status == "error"]
    good = [f"{r.module} {r.version or ''}".strip() for r in imports if r.status == "ok"]
    out = [Check("env.imports", "ok", "imports: " + ", ".join(good))] if good else []
    for r in bad:
        detail = re.sub(r" \([^()]*imports_script\.py:\d+\)$", "", r.detail)  # the probe's own line says nothing
        out.append(Check(f"env.import.{r.module}", "error", f"import {r.module} fails: {detail}",
                         "see the other findings; skyrl-setup install --force rebuilds the environment", r.to_json()))
    return out


def symptoms(facts: dict | None, imports: list | None, torch_res: dict | None, driver: DriverInfo, profile: Profile,
             venv: str | None, found, cvd: str | None, kernels: Callable[[], dict] | None = None) -> list[Check]:
    """All of the above, each guarded; nothing to say about an environment that does not run. `kernels`: the
    engine kernels' arches, scanned by the caller beside its probes (e.g. a future's result); else scanned here."""
    from skyrl_setup.doctor import guarded

    if not facts or facts.get("status") == "error":
        return []
    if kernels is None:
        kernels = lambda: kernel_arches(facts) if driver.gpus else {}
    out = guarded("env.imports", check_imports, imports)
    out += guarded("symptom.python", check_python, facts, profile, found)
    out += guarded("symptom.cuda_unavailable", check_cuda_unavailable, facts, torch_res, driver, profile, cvd)
    out += guarded("symptom.flashinfer", check_flashinfer, imports, facts, profile, venv)
    out += guarded("symptom.no_kernel_image", lambda: check_no_kernel_image(
        torch_res, kernels(), driver))
    return out
