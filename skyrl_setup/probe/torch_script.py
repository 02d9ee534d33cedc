"""Environment-level GPU probe, run by the target environment's interpreter.

Imports torch, then on each visible GPU allocates, multiplies two matrices and compares
the result with the CPU's. Standard library at module level; torch only inside a guard,
so a missing or broken torch is reported, not raised. Answers one JSON document (_skyrl_channel.py).
imports_script.py --torch-probe runs main() too, in a fork of the interpreter that imported torch for its imports.
"""

import sys
import time

from _skyrl_channel import emit  # a sibling file: this script's folder is on sys.path


def main(imported=None):
    """`imported`: (seconds, error or None) of the `import torch` imports_script.py already ran in this interpreter:
    its outcome is reported, not a second attempt's (a failed import retried fails differently, or half-succeeds)."""
    out = {"python": sys.version.split()[0]}
    t0 = time.perf_counter() - (imported[0] if imported else 0.0)
    if imported and imported[1]:
        out.update(status="error", step="import torch", detail=imported[1][:500])
        return out
    try:
        import torch
    except BaseException as exc:  # noqa: BLE001
        out.update(status="error", step="import torch", detail=f"{type(exc).__name__}: {exc}"[:500])
        return out
    out["import_s"] = round(time.perf_counter() - t0, 3)
    out["torch"] = torch.__version__
    out["cuda_build"] = getattr(torch.version, "cuda", None)
    try:
        available = torch.cuda.is_available()
        out["cuda_available"] = available
        out["arch_list"] = torch.cuda.get_arch_list() if available else []
        out["device_count"] = torch.cuda.device_count() if available else 0
    except BaseException as exc:  # noqa: BLE001
        out.update(status="error", step="cuda init", detail=f"{type(exc).__name__}: {exc}"[:500])
        return out
    if not available:
        out.update(status="error", step="cuda init", detail="torch.cuda.is_available() is False")
        return out
    devices = []
    for i in range(out["device_count"]):
        row = {"index": i}
        try:
            t1 = time.perf_counter()
            props = torch.cuda.get_device_properties(i)
            row["name"] = props.name
            row["compute_capability"] = f"{props.major}.{props.minor}"
            g = torch.Generator().manual_seed(1234)
            a = torch.randn(512, 512, generator=g)
            b = torch.randn(512, 512, generator=g)
            dev = torch.device("cuda", i)
            c = (a.to(dev) @ b.to(dev)).cpu()
            torch.cuda.synchronize(i)
            ref = a @ b
            err = (c - ref).abs().max().item()
            row["max_abs_error"] = err
            row["ms"] = round((time.perf_counter() - t1) * 1000, 2)
            # TF32 may be on for matmuls; 512-long dot products of N(0,1) stay well inside 0.5
            row["status"] = "ok" if err < 0.5 else "error"
            if row["status"] != "ok":
                row["detail"] = f"GPU result differs from CPU by {err}"
        except BaseException as exc:  # noqa: BLE001
            row.update(status="error", detail=f"{type(exc).__name__}: {exc}"[:500])
        devices.append(row)
    out["devices"] = devices
    out["status"] = "ok" if devices and all(d["status"] == "ok" for d in devices) else "error"
    out["wall_s"] = round(time.perf_counter() - t0, 3)
    return out


if __name__ == "__main__":
    emit(main())
