"""GPU checks from the two probes: driver level (libcuda) and environment level (torch)."""

from __future__ import annotations

from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.detect.gpu import DriverInfo
from skyrl_setup.probe.curesult import diagnose
from skyrl_setup.verify.check import Check


def check_driver_probe(result: dict | None, driver: DriverInfo) -> list[Check]:
    if result is None:
        return [Check("gpu.driver_probe", "skipped", "GPU probes turned off (--no-gpu-probe)")]
    if result.get("step") == "load":
        if not driver.usable:
            return [Check("gpu.driver_probe", "skipped", "no NVIDIA driver on this host: no kernel to run")]
        return [Check("gpu.driver_probe", "error", f"libcuda.so.1 cannot be loaded although driver {driver.version} is installed",
                      "install the driver's user-space libraries; in a container run with the NVIDIA runtime (--gpus all)",
                      {"detail": result.get("detail")})]
    if "devices" not in result or (result.get("status") == "error" and not result.get("devices")):
        d = diagnose(result.get("code"), result.get("code_name"))
        return [Check("gpu.driver_probe", "error", f"{result.get('step')} failed: {d.name} ({result.get('code')}): {d.cause}", d.fix, result)]
    out = []
    for dev in result["devices"]:
        t = dev.get("timings_ms", {})
        name = f"GPU {dev['index']} {dev.get('name', '')}".strip()
        if dev["status"] == "ok":
            out.append(Check(f"gpu{dev['index']}.kernel", "ok",
                             f"{name} (sm_{dev.get('compute_capability', '?').replace('.', '')}) ran a JIT-compiled kernel, "
                             f"{dev.get('checked')} values checked (load {t.get('cuModuleLoadData', 0):.1f} ms, "
                             f"launch+sync {t.get('cuLaunchKernel', 0) + t.get('cuCtxSynchronize', 0):.2f} ms)",
                             details=dev))
        else:
            d = diagnose(dev.get("code"), dev.get("code_name"))
            detail = dev.get("detail") or f"{d.name} ({dev.get('code')}): {d.cause}"
            out.append(Check(f"gpu{dev['index']}.kernel", "error", f"{name}: {dev.get('step')} failed: {detail}", d.fix, dev))
    return out


def check_torch_probe(result: dict | None, profile: Profile, driver: DriverInfo) -> list[Check]:
    if result is None:
        return [Check("gpu.torch_probe", "skipped", "GPU probes turned off (--no-gpu-probe)")]
    if result.get("skipped"):
        return [Check("gpu.torch_probe", "skipped", result["skipped"])]
    if result.get("status") == "error" and not result.get("devices"):
        step, detail = result.get("step", "?"), result.get("detail", "")
        if step == "import torch":
            fix = f"skyrl-setup install --backend {profile.name} --force (torch cannot be imported)"
        elif driver.version is None:
            return [Check("gpu.torch_probe", "skipped", f"torch {result.get('torch')} sees no GPU; this host has no driver")]
        else:
            fix = "check CUDA_VISIBLE_DEVICES and `nvidia-smi`; then torch's CUDA build against the driver (env.torch_cuda)"
        return [Check("gpu.torch_probe", "error", f"{step}: {detail}", fix, result)]
    out = []
    for dev in result.get("devices", []):
        name = f"GPU {dev['index']} {dev.get('name', '')}".strip()
        if dev["status"] == "ok":
            out.append(Check(f"gpu{dev['index']}.torch", "ok",
                             f"{name}: torch {result.get('torch')} 512×512 matmul matches the CPU (max error {dev['max_abs_error']:.2e}, {dev['ms']} ms)",
                             details=dev))
        else:
            out.append(Check(f"gpu{dev['index']}.torch", "error", f"{name}: {dev.get('detail')}",
                             "see env.arch and env.torch_cuda; `no kernel image` means torch lacks this GPU's sm_XY", dev))
    return out


def check_arch(result: dict | None, driver: DriverInfo) -> list[Check]:
    """torch's arch list vs each GPU: a GPU whose major is in none of them gets 'no kernel image is available'."""
    gpus = [(d["index"], d.get("name", ""), d.get("compute_capability")) for d in (result or {}).get("devices", [])]
    if not gpus:
        gpus = [(g.index, g.name, f"{g.capability[0]}.{g.capability[1]}") for g in driver.gpus]
    arches = (result or {}).get("arch_list") or []
    if not arches or not gpus:
        return [Check("env.arch", "skipped", "no GPU and torch arch list to compare")]
    majors = {int(a.split("_")[1][:-1]) for a in arches if a.startswith(("sm_", "compute_")) and a.split("_")[1][:-1].isdigit()}
    out = []
    for idx, name, cc in gpus:
        major = int(cc.split(".")[0])
        if major in majors:
            out.append(Check(f"env.arch{idx}", "ok", f"GPU {idx} {name} (sm_{cc.replace('.', '')}) is in torch's arch list"))
        else:
            out.append(Check(f"env.arch{idx}", "error",
                             f"GPU {idx} {name} (sm_{cc.replace('.', '')}) is in none of torch's arches ({', '.join(arches)}): "
                             "'no kernel image is available for execution on the device'",
                             "install a torch build that includes this architecture (another --cuda variant)", {"arch_list": arches}))
    return out


def check_attention(driver: DriverInfo, torch_cuda: str | None, profile: Profile) -> list[Check]:
    if not driver.gpus:
        return [Check("env.attention", "skipped", "no GPU to advise on")]
    out = []
    for g in driver.gpus:
        major, minor = g.capability
        advice = profile.attention_for(g.capability) or "flashinfer"
        notes = []
        cuda_ok = torch_cuda is not None and tuple(int(x) for x in torch_cuda.split(".")[:2]) >= (12, 3)
        if "fa3" in advice and not (major == 9 and cuda_ok):
            notes.append("FA3 needs sm_90 and CUDA >= 12.3")
            advice = "flashinfer"
        if not (7.5 <= major + minor / 10 <= 12.1):
            out.append(Check(f"env.attention{g.index}", "warning", f"GPU {g.index} {g.name} (sm_{major}{minor}) is outside FlashInfer's SM 7.5–12.1",
                             "use the torch SDPA attention backend for this GPU"))
            continue
        out.append(Check(f"env.attention{g.index}", "ok", f"GPU {g.index} {g.name} (sm_{major}{minor}): use {advice}" +
                         (f" ({'; '.join(notes)})" if notes else ""), details={"advice": advice}))
    return out
