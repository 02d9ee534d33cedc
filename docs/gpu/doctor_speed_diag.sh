#!/usr/bin/env bash
# Issue 23, item 8: where doctor's time goes on the GPU machine, beside docs/gpu/doctor_speed.sh's totals.
# Run from anywhere in the repository copy:   bash docs/gpu/doctor_speed_diag.sh      (about a minute; stdout only)
set -u
cd "$(dirname "$0")/../.." || exit 1
PY=$(command -v python3)
export PYTHONUNBUFFERED=1
t3() { for i in 1 2 3; do "$PY" -c "$1"; done; }

echo "## import transformers alone, no torch before it: its time, and whether it loaded torch (3 runs)"
t3 "import sys, time; t = time.perf_counter(); import transformers; print(f'{time.perf_counter() - t:.3f} s; torch loaded: {\"torch\" in sys.modules}')"

echo "## python3 -X importtime -c 'import torch; import transformers': transformers' part, >= 40 ms cumulative, by cumulative"
"$PY" -X importtime -c "import torch; import transformers" 2> /tmp/importtime.txt
"$PY" - <<'PYEOF'
rows = []
for line in open("/tmp/importtime.txt"):
    if not line.startswith("import time:") or "self [us]" in line:
        continue
    self_us, cum_us, name = (p.strip() for p in line[len("import time:"):].split("|"))
    rows.append((int(self_us), int(cum_us), name))
top = [r for r in rows if r[2].strip() in ("torch", "transformers")]
print("top level:", [(n.strip(), round(c / 1e6, 3)) for _, c, n in top])
start = next(i for i, r in enumerate(rows) if r[2].strip() == "torch") + 1
part = rows[start:]
print(f"after torch: {len(part)} modules, {sum(s for s, _, _ in part) / 1e6:.3f} s of own time")
for s, c, n in sorted((r for r in part if r[1] >= 40000), key=lambda r: -r[1])[:40]:
    print(f"  {c / 1e6:7.3f} s cum  {s / 1e6:7.3f} s self  {n}")
PYEOF

echo "## import torch: the collector on or off (3 runs each), and the interpreter's own end after it (2 runs each)"
t3 "import time; t = time.perf_counter(); import torch; print(f'gc on : import torch {time.perf_counter() - t:.3f} s')"
t3 "import gc, time; gc.disable(); t = time.perf_counter(); import torch; print(f'gc off: import torch {time.perf_counter() - t:.3f} s')"
for i in 1 2; do
  s=$(date +%s%N); "$PY" -c "import torch"; a=$(( ($(date +%s%N) - s) / 1000000 ))
  s=$(date +%s%N); "$PY" -c "import torch, os; os._exit(0)"; b=$(( ($(date +%s%N) - s) / 1000000 ))
  s=$(date +%s%N); "$PY" -c "import torch; torch.ones(1).cuda()"; c=$(( ($(date +%s%N) - s) / 1000000 ))
  s=$(date +%s%N); "$PY" -c "import torch, os; torch.ones(1).cuda(); os._exit(0)"; d=$(( ($(date +%s%N) - s) / 1000000 ))
  echo "wall: import torch ${a} ms, then os._exit ${b} ms; import torch + cuda ${c} ms, then os._exit ${d} ms"
done

echo "## import transformers in a fork after import torch: as the probe before (collector on), and with gc.disable + gc.freeze"
"$PY" - <<'PYEOF'
import gc, os, sys, time
import torch  # noqa: F401
def in_fork(label):
    r, w = os.pipe()
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        t1 = time.perf_counter()
        import transformers  # noqa: F401
        os.write(w, f"{label}: import transformers {time.perf_counter() - t1:.3f} s in the fork".encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    print(os.read(r, 500).decode(), f"(fork to reaped {time.perf_counter() - t:.3f} s)")
for _ in range(2):
    in_fork("gc on        ")
gc.disable(); gc.freeze()
for _ in range(2):
    in_fork("gc off+freeze")
PYEOF

echo "## the tool (skyrl-setup from .whl/'s dependencies): when each process is launched, from the tool's first line"
V=/tmp/skyrl-doctor-diag; rm -rf $V; mkdir -p $V
python3 -m venv $V/venv && $V/venv/bin/python -m pip install -q --no-index --find-links .whl uv packaging resolvelib httpx rich platformdirs
export SKYRL_SETUP_HOME=$V/home
for i in 1 2; do
s=$(date +%s%N)
$V/venv/bin/python - doctor --python "$PY" --backend sglang --json <<'PYEOF' > /dev/null
import runpy, subprocess, sys, time
t0 = time.perf_counter()
orig = subprocess.Popen.__init__
def init(self, args, *a, **k):
    print(f"  [{time.perf_counter() - t0:.3f} s] launch {' '.join(str(x) for x in args[:2])[-60:]}", file=sys.stderr)
    return orig(self, args, *a, **k)
subprocess.Popen.__init__ = init
sys.argv = ["skyrl-setup"] + sys.argv[1:]
sys.path.insert(0, ".")
try:
    runpy.run_module("skyrl_setup", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
print(f"  [{time.perf_counter() - t0:.3f} s] end", file=sys.stderr)
PYEOF
echo "  run $i: $(( ($(date +%s%N) - s) / 1000000 )) ms wall, the interpreter's start and end included"
done
$V/venv/bin/python -c "import sys, time; sys.path.insert(0, '.'); t = time.perf_counter(); from skyrl_setup.detect.gpu import detect_driver; d = detect_driver(); print(f'detect_driver (NVML), its import included: {time.perf_counter() - t:.3f} s', d.version, d.source)"
s=$(date +%s%N); $V/venv/bin/python -c "import sys; sys.path.insert(0, '.'); import skyrl_setup.cli, skyrl_setup.commands.doctor_cmd"; echo "the tool's interpreter + its imports for doctor: $(( ($(date +%s%N) - s) / 1000000 )) ms"
echo "## done"
