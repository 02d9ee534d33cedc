"""Prove each GPU runs a kernel, through libcuda alone (ctypes; standard library only).

Per visible device: create a context, load a small PTX kernel (the driver JIT-compiles it
for the device), launch it, copy the result back and check every element. Every step is
timed; every failure is a value {step, code} in the JSON it answers (_skyrl_channel.py), never an
exception. Usage: python cuda_driver_script.py [--ptx-version 7.0] [--n 1024]
"""

import ctypes
import sys
import time

from _skyrl_channel import emit  # a sibling file: this script's folder is on sys.path

PTX = """
.version {ptx_version}
.target sm_50
.address_size 64
.visible .entry fill(.param .u64 out, .param .u32 n)
{{
    .reg .pred p;
    .reg .b32 r<6>;
    .reg .b64 rd<4>;
    ld.param.u64 rd1, [out];
    ld.param.u32 r1, [n];
    mov.u32 r2, %ctaid.x;
    mov.u32 r3, %ntid.x;
    mov.u32 r4, %tid.x;
    mad.lo.s32 r5, r2, r3, r4;
    setp.ge.u32 p, r5, r1;
    @p bra DONE;
    cvta.to.global.u64 rd2, rd1;
    mul.wide.u32 rd3, r5, 4;
    add.s64 rd2, rd2, rd3;
    mul.lo.s32 r2, r5, 3;
    add.s32 r2, r2, 7;
    st.global.u32 [rd2], r2;
DONE:
    ret;
}}
"""

ATTR_CC_MAJOR, ATTR_CC_MINOR, ATTR_SM_COUNT = 75, 76, 16


class Fail(Exception):
    def __init__(self, step, code):
        super().__init__(step)
        self.step, self.code = step, code


def _lib():
    import os

    names = [os.environ["SKYRL_SETUP_LIBCUDA"]] if os.environ.get("SKYRL_SETUP_LIBCUDA") else ["libcuda.so.1", "libcuda.so"]
    err = "no library name"
    for name in names:
        try:
            return ctypes.CDLL(name), name
        except OSError as exc:
            err = str(exc)
    return None, err


def _call(lib, timings, step, fn, *args):
    t0 = time.perf_counter()
    code = getattr(lib, fn)(*args)
    timings[step] = round((time.perf_counter() - t0) * 1000, 3)
    if code != 0:
        raise Fail(step, code)


def _error_name(lib, code):
    s = ctypes.c_char_p()
    try:
        if lib.cuGetErrorName(code, ctypes.byref(s)) == 0 and s.value:
            return s.value.decode()
    except Exception:  # noqa: BLE001
        pass
    return None


def probe_device(lib, index, ptx_version, n):
    t = {}
    row = {"index": index, "timings_ms": t}
    ctx = ctypes.c_void_p()
    module = ctypes.c_void_p()
    dptr = ctypes.c_uint64()  # device pointers are 64-bit: a plain int would be passed as 32 bits
    try:
        dev = ctypes.c_int()
        _call(lib, t, "cuDeviceGet", "cuDeviceGet", ctypes.byref(dev), index)
        name = ctypes.create_string_buffer(256)
        lib.cuDeviceGetName(name, 256, dev)
        row["name"] = name.value.decode(errors="replace")
        major, minor, sms = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        lib.cuDeviceGetAttribute(ctypes.byref(major), ATTR_CC_MAJOR, dev)
        lib.cuDeviceGetAttribute(ctypes.byref(minor), ATTR_CC_MINOR, dev)
        lib.cuDeviceGetAttribute(ctypes.byref(sms), ATTR_SM_COUNT, dev)
        row["compute_capability"] = f"{major.value}.{minor.value}"
        row["multiprocessors"] = sms.value
        mem = ctypes.c_size_t()
        lib.cuDeviceTotalMem_v2(ctypes.byref(mem), dev)
        row["memory_bytes"] = mem.value
        _call(lib, t, "cuCtxCreate", "cuCtxCreate_v2", ctypes.byref(ctx), 0, dev)
        src = PTX.format(ptx_version=ptx_version).encode() + b"\0"
        _call(lib, t, "cuModuleLoadData", "cuModuleLoadData", ctypes.byref(module), ctypes.c_char_p(src))
        fn = ctypes.c_void_p()
        _call(lib, t, "cuModuleGetFunction", "cuModuleGetFunction", ctypes.byref(fn), module, b"fill")
        _call(lib, t, "cuMemAlloc", "cuMemAlloc_v2", ctypes.byref(dptr), ctypes.c_size_t(4 * n))
        arg_n = ctypes.c_uint32(n)
        params = (ctypes.c_void_p * 2)(ctypes.cast(ctypes.byref(dptr), ctypes.c_void_p), ctypes.cast(ctypes.byref(arg_n), ctypes.c_void_p))
        threads = 256
        blocks = (n + threads - 1) // threads
        _call(lib, t, "cuLaunchKernel", "cuLaunchKernel", fn, blocks, 1, 1, threads, 1, 1, 0, None, params, None)
        _call(lib, t, "cuCtxSynchronize", "cuCtxSynchronize")
        host = (ctypes.c_uint32 * n)()
        _call(lib, t, "cuMemcpyDtoH", "cuMemcpyDtoH_v2", host, dptr, ctypes.c_size_t(4 * n))
        bad = [i for i in range(n) if host[i] != 3 * i + 7]
        row["checked"] = n
        if bad:
            row.update(status="error", step="verify", code=None, detail=f"{len(bad)} of {n} values wrong (first at {bad[0]}: {host[bad[0]]})")
        else:
            row["status"] = "ok"
    except Fail as f:
        row.update(status="error", step=f.step, code=f.code, code_name=_error_name(lib, f.code))
    finally:
        if dptr.value:
            lib.cuMemFree_v2(dptr)
        if module.value:
            lib.cuModuleUnload(module)
        if ctx.value:
            lib.cuCtxDestroy_v2(ctx)
    row["total_ms"] = round(sum(t.values()), 3)
    return row


def main(argv):
    ptx_version, n = "7.0", 1024
    if "--ptx-version" in argv:
        ptx_version = argv[argv.index("--ptx-version") + 1]
    if "--n" in argv:
        n = int(argv[argv.index("--n") + 1])
    t0 = time.perf_counter()
    out = {"ptx_version": ptx_version, "devices": []}
    lib, name = _lib()
    if lib is None:
        out.update(status="error", step="load", code=None, detail=name)
        return out
    out["library"] = name
    t = {}
    out["timings_ms"] = t
    try:
        _call(lib, t, "cuInit", "cuInit", 0)
        ver = ctypes.c_int()
        _call(lib, t, "cuDriverGetVersion", "cuDriverGetVersion", ctypes.byref(ver))
        out["driver_api_version"] = ver.value
        count = ctypes.c_int()
        _call(lib, t, "cuDeviceGetCount", "cuDeviceGetCount", ctypes.byref(count))
        out["device_count"] = count.value
        out["devices"] = [probe_device(lib, i, ptx_version, n) for i in range(count.value)]
        failed = [d for d in out["devices"] if d["status"] != "ok"]
        out["status"] = "error" if failed or not count.value else "ok"
        if not count.value:
            out.update(step="cuDeviceGetCount", code=100, detail="no CUDA device visible")
    except Fail as f:
        out.update(status="error", step=f.step, code=f.code, code_name=_error_name(lib, f.code))
    out["wall_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    return out


if __name__ == "__main__":
    emit(main(sys.argv[1:]))
