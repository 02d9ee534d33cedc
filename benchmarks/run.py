"""`make bench`: skyrl-setup against raw uv, pip and the check scripts people use, in one run.

Whole-process wall times, several repetitions, median and spread; each ratio is computed
between two scenarios measured in the same run on the same machine. Peak memory is each
skyrl-setup process's own maximum RSS (wait4). Writes docs/benchmarks.md, .json and .png.
Uses the default backend's real lockfile (SkyRL's sglang set, PyPI route) from real PyPI (the cold
scenarios download ~3.7 GB).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "lockfiles" / "skyrl-train-0.3.0" / "pylock.sglang-pypi-cu126-linux_x86_64.toml"  # the default: its route from PyPI
DOCS = REPO / "docs"
TOOL = [sys.executable, "-m", "skyrl_setup"]


class silent_server:
    """Accepts connections on 127.0.0.1 and never replies: a firewall that drops packets, as a client sees it."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def uv_bin() -> str:
    from uv import find_uv_bin
    return find_uv_bin()


def python312() -> str:
    found = sorted(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"), "versions").glob("3.12.*/bin/python3.12"))
    return str(found[-1]) if found else shutil.which("python3.12")


def run(cmd: list[str], env: dict, cwd=None) -> tuple[float, int, int]:
    """(seconds, exit status, peak RSS in KiB of the process itself)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    return time.perf_counter() - t0, os.waitstatus_to_exitcode(status), usage.ru_maxrss


def shell(script: str, env: dict) -> tuple[float, int, int]:
    return run(["bash", "-c", script], env)


class Bench:
    def __init__(self, work: Path):
        self.work = work
        self.results: dict[str, dict] = {}
        self.made: list[Path] = []
        self.only = os.environ.get("BENCH_ONLY")  # a regex: re-measure only these scenarios, merge the rest
        self.stamp = time.strftime("%Y-%m-%d %H:%M")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SKYRL_SETUP_", "VIRTUAL_ENV"))}
        self.env.update(SKYRL_SETUP_HOME=str(work / "home"), SKYRL_SETUP_LOG_DIR=str(work / "logs"), NO_COLOR="1",
                        UV_PYTHON_DOWNLOADS="never")

    def measure(self, name: str, fn, reps: int, expect_exit=0, keep: bool = False) -> dict:
        """Run `fn` reps times; environments it made are deleted after each run unless `keep`."""
        if self.only and not re.search(self.only, name):
            return {}
        times, rss = [], []
        for i in range(reps):
            seconds, code, kib = fn(i)
            if code != expect_exit:
                raise SystemExit(f"{name}: exit status {code}, expected {expect_exit}")
            times.append(seconds)
            rss.append(kib)
            if not keep:
                self.cleanup()
        r = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": times,
             "peak_rss_mib": max(rss) / 1024, "run": self.stamp}
        self.results[name] = r
        print(f"{name:48s} median {r['median_s']:8.3f} s  [{r['min_s']:.3f} … {r['max_s']:.3f}]  n={reps}", flush=True)
        return r

    def pair(self, a: str, fa, b: str, fb, reps: int) -> None:
        """Two scenarios measured alternately (a, b, a, b, ...): slow drift (the network) hits both alike."""
        if self.only and not (re.search(self.only, a) or re.search(self.only, b)):
            return
        only, self.only = self.only, None
        runs: dict[str, list] = {a: [], b: []}
        for i in range(reps):
            for name, fn in ((a, fa), (b, fb)):
                r = self.measure(name, lambda _i, fn=fn, i=i: fn(i), 1)
                runs[name].append((r["runs"][0], r["peak_rss_mib"]))
        for name, rows in runs.items():
            times = [t for t, _ in rows]
            self.results[name] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
                                  "runs": times, "peak_rss_mib": max(m for _, m in rows), "run": self.stamp,
                                  "paired_with": b if name == a else a}
        self.only = only

    def fresh(self, label: str) -> Path:
        d = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.work))
        self.made.append(d)
        return d / "env"

    def cleanup(self) -> None:
        """An environment of the sglang stack is 11 GB: never keep one longer than its measurement."""
        for d in self.made:
            shutil.rmtree(d, ignore_errors=True)
        self.made.clear()


def byte_compile() -> None:
    """The tool as an install leaves it: its modules byte-compiled (pip compiles at install; a first run writes the
    rest). Without this, a shell that sets PYTHONDONTWRITEBYTECODE (this machine's does) has every measured run compile
    the tool's modules from source again, which no installed tool does (docs/benchmarks-notes.md: what it cost)."""
    import compileall

    compileall.compile_dir(str(REPO / "skyrl_setup"), quiet=1)


def main() -> None:
    byte_compile()
    work = Path(tempfile.mkdtemp(prefix="skyrl-bench-", dir=os.environ.get("BENCH_DIR")))
    b = Bench(work)
    uv, py = uv_bin(), python312()
    env = b.env
    reps = int(os.environ.get("BENCH_REPS", 3))
    try:
        # warm: make sure uv's cache holds the whole lock first
        if not b.only or re.search(b.only, "warm install doctor collect_env no-op"):
            shell(f"{uv} venv -q -p {py} {work}/warmup && {uv} pip sync -q --preview-features pylock -p {work}/warmup/bin/python {LOCK}", env)

        b.measure("warm install: raw uv venv + uv pip sync", lambda i: shell(
            f"d={b.fresh('raw')}; {uv} venv -q -p {py} $d && {uv} pip sync -q --preview-features pylock -p $d/bin/python {LOCK}", env), reps)
        shell(f"{uv} cache prune -q", env)  # each raw pylock sync leaves a fresh 11 GB extraction in the cache
        b.measure("warm install: skyrl-setup install --no-verify", lambda i: run(
            TOOL + ["install", "--venv", str(b.fresh("ours")), "--no-verify", "--python", py], env), reps)
        kept = b.fresh("verified")
        if b.only and re.search(b.only, "doctor collect_env no-op verified static"):
            run(TOOL + ["install", "--venv", str(kept), "--python", py, "--no-verify"], env)
        b.measure("warm install: skyrl-setup install (imports verified)", lambda i: run(
            TOOL + ["install", "--venv", str(kept), "--python", py, "--force"], env), 2, keep=True)
        b.measure("no-op re-install: skyrl-setup install", lambda i: run(TOOL + ["install", "--venv", str(kept)], env), 5, keep=True)
        # raw uv's own no-op beside it: the same lock synced into the same environment, from the cache alone
        b.measure("no-op re-install: raw uv pip sync --offline", lambda i: shell(
            f"{uv} pip sync -q --offline --preview-features pylock -p {kept}/bin/python {LOCK}", env), 5, keep=True)

        # doctor vs torch's collect_env, same environment, no GPU here. Doctor exits 1: the environment is not
        # ready for SkyRL training here (flash-attn unreachable; skyrl-train 0.3.1's own FSDP import defect)
        b.measure("doctor --no-gpu-probe (same env)", lambda i: run(TOOL + ["doctor", "--venv", str(kept), "--no-gpu-probe", "--json"], env),
                  reps, expect_exit=1, keep=True)
        # the static check of SkyRL's code paths alone, as install and doctor run it (a process of the env's python)
        sys.path.insert(0, str(REPO))
        from skyrl_setup.catalog import profiles as _profiles
        prof = _profiles.load("sglang")
        static_req = json.dumps({"entry": list(prof.skyrl_entry), "follow": list(prof.follow), "interface": prof.interface})
        b.measure("static check of SkyRL's code paths (same env)", lambda i: run(
            [str(kept / "bin" / "python"), str(REPO / "skyrl_setup" / "probe" / "code_paths_script.py"), static_req], env),
            reps, keep=True)
        # torch 2.7.1's collect_env crashes where pip is absent (uv's venvs have none: get_pip_packages gets None)
        shell(f"{uv} pip install -q --python {kept}/bin/python pip", env)
        b.measure("python -m torch.utils.collect_env (same env)", lambda i: run(
            [str(kept / "bin" / "python"), "-m", "torch.utils.collect_env"], env), reps, keep=True)

        b.cleanup()  # the verified env is no longer needed

        # pip with the same pins (no resolution: --no-deps), its own cache warmed by the first run
        reqs = work / "requirements.txt"
        want_pip = not b.only or re.search(b.only, "pip install")
        sys.path.insert(0, str(REPO))
        from skyrl_setup.locks.pylock import load
        lock = load(LOCK, "3.12.1", "linux_x86_64")
        reqs.write_text("".join(f"{p.name}=={p.version}\n" for p in lock.packages))
        pip_env = dict(env, PIP_CONFIG_FILE="/dev/null", PIP_DISABLE_PIP_VERSION_CHECK="1")
        pip_env.pop("PIP_FIND_LINKS", None)
        if want_pip:
            shell(f"{py} -m venv {work}/pipwarm && {work}/pipwarm/bin/pip install -q --no-deps -r {reqs}; rm -rf {work}/pipwarm", pip_env)
        b.measure("warm install: pip install -r (same pins)", lambda i: shell(
            f"d={b.fresh('pip')}; {py} -m venv $d && $d/bin/pip install -q --no-deps -r {reqs}", pip_env), 1)

        # cold: an empty uv cache on the same filesystem, the two sides alternating
        b.pair("cold install: raw uv (empty cache)", lambda i: shell(
            f"c={work}/cold-raw-{i}; d={b.fresh('coldraw')}; UV_CACHE_DIR=$c {uv} venv -q -p {py} $d && "
            f"UV_CACHE_DIR=$c {uv} pip sync -q --preview-features pylock -p $d/bin/python {LOCK}; r=$?; rm -rf $c; exit $r", env),
            "cold install: skyrl-setup --no-verify (empty cache)", lambda i: shell(
            f"c={work}/cold-ours-{i}; UV_CACHE_DIR=$c {' '.join(TOOL)} install --venv {b.fresh('coldours')} --no-verify "
            f"--python {py}; r=$?; rm -rf $c; exit $r", env), int(os.environ.get("BENCH_COLD_REPS", 4)))

        # the sglang/vllm clash: our resolver cold and warm, uv failing on the same clash
        b.measure("clash: skyrl-setup check-compat, cold metadata cache", lambda i: run(
            TOOL + ["check-compat", "vllm==0.11.0"], dict(env, SKYRL_SETUP_CACHE_DIR=str(work / f"rcache-{i}"))), reps, expect_exit=3)
        b.measure("clash: skyrl-setup check-compat, warm cache", lambda i: run(
            TOOL + ["check-compat", "vllm==0.11.0"], dict(env, SKYRL_SETUP_CACHE_DIR=str(work / "rcache-0"))), reps, expect_exit=3)
        req_in = work / "clash.in"
        req_in.write_text("torch==2.7.1\nsglang==0.4.8.post1\nsgl-kernel==0.1.9\nvllm==0.11.0\n")
        b.measure("clash: uv pip compile (warm uv cache)", lambda i: run(
            [uv, "pip", "compile", "-q", str(req_in), "--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"],
            env), reps, expect_exit=1)

        # a dry run whose PyTorch index (the skyrl route's) never answers: a server that accepts and stays silent,
        # standing in through --mirror; the route probe's stated timeout must bound the wait
        with silent_server() as port:
            b.measure("dry run, PyTorch's index silent (--mirror to a server that never answers)", lambda i: run(
                TOOL + ["install", "--dry-run", "--venv", str(work / "silent"), "--mirror",
                        f"https://download.pytorch.org/whl=http://127.0.0.1:{port}/whl"], env), 5)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    merged = {}
    if b.only and (DOCS / "benchmarks.json").exists():
        merged = json.loads((DOCS / "benchmarks.json").read_text())["results"]
    merged.update(b.results)
    write(merged)


RATIOS = [
    ("warm install vs raw uv (goal ≤ 1.10×)", "warm install: skyrl-setup install --no-verify", "warm install: raw uv venv + uv pip sync", 1.10, "le"),
    ("warm install vs pip install -r (goal ≥ 10× faster)", "warm install: pip install -r (same pins)", "warm install: skyrl-setup install --no-verify", 10, "ge"),
    ("cold install vs raw uv, median of alternated pairs (goal ≤ 1.05×)", "cold install: skyrl-setup --no-verify (empty cache)", "cold install: raw uv (empty cache)", 1.05, "le"),
    ("doctor vs torch collect_env (goal ≤ 0.15×)", "doctor --no-gpu-probe (same env)", "python -m torch.utils.collect_env (same env)", 0.15, "le"),
    ("clash, warm: check-compat vs uv pip compile", "clash: skyrl-setup check-compat, warm cache", "clash: uv pip compile (warm uv cache)", None, None),
    ("clash, cold: check-compat vs uv pip compile", "clash: skyrl-setup check-compat, cold metadata cache", "clash: uv pip compile (warm uv cache)", None, None),
]


def _ratio(a: dict, b: dict, b_name: str) -> float:
    """Median of the per-pair ratios for scenarios measured alternately (each pair shares the
    network's state of the moment), else the ratio of the medians."""
    if a.get("paired_with") == b_name and len(a["runs"]) == len(b["runs"]):
        return statistics.median(x / y for x, y in zip(a["runs"], b["runs"]))
    return a["median_s"] / b["median_s"]


def write(results: dict) -> None:
    ratios = []
    for label, a, b, goal, how in RATIOS:
        if a in results and b in results:
            r = _ratio(results[a], results[b], b)
            met = None if goal is None else (r <= goal if how == "le" else r >= goal)
            ratios.append({"label": label, "ratio": r, "goal": goal, "met": met})
    noop = results.get("no-op re-install: skyrl-setup install", {}).get("median_s")
    doctor = results.get("doctor --no-gpu-probe (same env)", {}).get("median_s")
    static = results.get("static check of SkyRL's code paths (same env)", {}).get("median_s")
    silent = results.get("dry run, PyTorch's index silent (--mirror to a server that never answers)", {}).get("median_s")
    doc = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
           "date": time.strftime("%Y-%m-%d"), "results": results, "ratios": ratios}
    (DOCS / "benchmarks.json").write_text(json.dumps(doc, indent=2))
    lines = ["# Benchmarks", "", f"`make bench`, {doc['date']}, on this project's CI-class machine ({doc['machine']}, no GPU).",
             "All timings are whole processes; ratios compare two scenarios of the same run. The real sglang lockfile",
             "(SkyRL's sglang set, PyPI route: 184 packages, 3.7 GB of wheels) from real PyPI.", "",
             "| scenario | median | min … max | runs | peak RSS of skyrl-setup | measured |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        rss = f"{r['peak_rss_mib']:.0f} MiB" if "skyrl-setup" in name or "doctor" in name else "-"
        lines.append(f"| {name} | {r['median_s']:.3f} s | {r['min_s']:.3f} … {r['max_s']:.3f} s | {len(r['runs'])} | {rss} | {r.get('run', '-')} |")
    lines += ["", "| ratio | value | goal | met |", "|---|---|---|---|"]
    for r in ratios:
        goal = "-" if r["goal"] is None else (f"≤ {r['goal']}" if "≤" in r["label"] else f"≥ {r['goal']}")
        met = "-" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['label']} | {r['ratio']:.2f}× | {goal} | {met} |")
    raw_noop = results.get("no-op re-install: raw uv pip sync --offline", {}).get("median_s")
    beside = f"; raw uv's own no-op {raw_noop:.3f} s" if raw_noop else ""
    lines += ["", f"No-op re-install: {noop:.3f} s (goal ≤ 0.25 s: {'met' if noop and noop <= 0.25 else 'not met'}{beside})." if noop else "",
              f"Doctor without GPU: {doctor:.3f} s (goal ≤ 1 s: {'met' if doctor and doctor <= 1 else 'not met'})." if doctor else "",
              f"Static check of SkyRL's code paths: {static:.3f} s (goal ≤ 0.5 s: {'met' if static and static <= 0.5 else 'not met'})." if static else "",
              f"Dry run with PyTorch's index silent: {silent:.3f} s (goal ≤ 2 s: {'met' if silent <= 2 else 'not met'})." if silent else "",
              "GPU doctor against `import torch; torch.ones(1).cuda()` is measured on the GPU machine: docs/gpu-evidence.md.",
              "", "![benchmarks](benchmarks.png)", "", (DOCS / "benchmarks-notes.md").read_text() if (DOCS / "benchmarks-notes.md").exists() else ""]
    (DOCS / "benchmarks.md").write_text("\n".join(lines) + "\n")
    plot(results)
    print(f"wrote {DOCS / 'benchmarks.md'}")


def plot(results: dict) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    names = list(results)
    med = [results[n]["median_s"] for n in names]
    err = [[m - results[n]["min_s"] for n, m in zip(names, med)], [results[n]["max_s"] - m for n, m in zip(names, med)]]
    colors = ["tab:blue" if "skyrl-setup" in n or "doctor" in n else "tab:gray" for n in names]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) + 1.5))
    ax.barh(names, med, xerr=err, color=colors)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("seconds (median, min–max; log scale) — blue: skyrl-setup, grey: baselines")
    fig.tight_layout()
    fig.savefig(DOCS / "benchmarks.png", dpi=110)


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:  # rewrite the page from docs/benchmarks.json, measuring nothing
        write(json.loads((DOCS / "benchmarks.json").read_text())["results"])
    else:
        main()
