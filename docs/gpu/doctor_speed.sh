#!/usr/bin/env bash
# Issue 23, item 8: GPU doctor against `import torch; torch.ones(1).cuda()` on the GPU machine (goal: ≤ 1.2×).
# Run from anywhere in the repository copy:   bash docs/gpu/doctor_speed.sh
# The machine has no package registry: skyrl-setup's own dependencies come from the wheels in .whl/.
# Everything goes to stdout; about two minutes. RUNS=9 for more alternating runs (5 by default).
set -u
cd "$(dirname "$0")/../.." || exit 1
PY=$(command -v python3)
V=/tmp/skyrl-doctor-speed
export SKYRL_SETUP_HOME=$V/home PYTHONUNBUFFERED=1

echo "## machine and code"
nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader
"$PY" -c "import sys, torch; print('python3', sys.executable, sys.version.split()[0], 'torch', torch.__version__, torch.version.cuda)"
echo "cpus: $(nproc)"
md5sum skyrl_setup/commands/doctor_cmd.py skyrl_setup/verify/imports.py skyrl_setup/probe/imports_script.py skyrl_setup/probe/torch_script.py

echo "## skyrl-setup's dependencies from .whl/ (the tool needs no torch: it probes \$PY's)"
rm -rf "$V" && mkdir -p "$V"
DEPS=$(python3 -c "import re, tomllib; print(' '.join(re.split(r'[<>=!~; ]', d)[0] for d in
  tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'] if 'python_version <' not in d))")
echo "pyproject.toml's dependencies: $DEPS"
if python3 -m venv "$V/venv" && "$V/venv/bin/python" -m pip install -q --no-index --find-links .whl $DEPS; then
  TOOL=("$V/venv/bin/python" -m skyrl_setup)  # run from the repository root: skyrl_setup is found there
else
  echo "(no venv with pip here: the wheels go to $V/site instead, on PYTHONPATH)"
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$V/site" .whl/*.whl || exit 1
  TOOL=(env "PYTHONPATH=$V/site" python3 -m skyrl_setup)
fi
skyrl-setup() { "${TOOL[@]}" "$@"; }
skyrl-setup --version
# As docs/gpu/run_evidence.sh ran it: the sglang profile, so the real imports (torch, sglang, flashinfer, ray,
# transformers and SkyRL's modules, the engine's too: NVML finds the driver), the driver probe and the torch probe.
DOCTOR=(doctor --python "$PY" --backend sglang --json)

ms() { local s; s=$(date +%s%N); "$@" > /dev/null 2>&1; echo $(( ($(date +%s%N) - s) / 1000000 )); }
ref() { "$PY" -c "import torch; torch.ones(1).cuda()"; }

echo "## warm-up (not counted)"
echo "import torch + cuda: $(ms ref) ms; doctor: $(ms skyrl-setup "${DOCTOR[@]}") ms"
skyrl-setup "${DOCTOR[@]}" 2>&1 | python3 -c "import json, sys; json.load(sys.stdin)['data']" \
  || { echo "doctor gave no report: nothing to time"; skyrl-setup "${DOCTOR[@]}" 2>&1 | tail -3; exit 1; }

RUNS=${RUNS:-5}
echo "## $RUNS alternating runs: \`python3 -c \"import torch; torch.ones(1).cuda()\"\` and \`skyrl-setup ${DOCTOR[*]}\`"
T=() D=()
for i in $(seq "$RUNS"); do
  t=$(ms ref); d=$(ms skyrl-setup "${DOCTOR[@]}")
  T+=("$t"); D+=("$d")
  echo "run $i: import torch + cuda ${t} ms   doctor ${d} ms   ($(awk "BEGIN{printf \"%.2f\", $d/$t}")×)"
done
python3 - "${T[*]}" "${D[*]}" <<'EOF'
import statistics, sys
t = [int(x) for x in sys.argv[1].split()]
d = [int(x) for x in sys.argv[2].split()]
mt, md = statistics.median(t), statistics.median(d)
print(f"median: import torch + cuda {mt / 1000:.2f} s, doctor {md / 1000:.2f} s, ratio {md / mt:.2f}× "
      f"(goal ≤ 1.2×: {'met' if md / mt <= 1.2 else 'NOT met'})")
EOF

echo "## where doctor's probe time goes (the last run's JSON, and the probe scripts alone)"
skyrl-setup "${DOCTOR[@]}" > "$V/doctor.json"
python3 - "$V/doctor.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))["data"]
t, drv = d["probes"]["torch"] or {}, d["probes"]["driver"] or {}
print(f"doctor's own count: {d['summary']['seconds']} s; errors {d['summary']['errors']}")
print(f"torch probe: status {t.get('status')}, import_s {t.get('import_s')}, wall_s {t.get('wall_s')}, "
      f"probe_wall_s (its interpreter, whole) {t.get('probe_wall_s')}")
print(f"driver probe: status {drv.get('status')}, probe_wall_s {drv.get('probe_wall_s')}")
for c in d["checks"]:
    if c["id"].startswith(("env.import", "gpu", "skyrl.ready")):
        print(f"  {c['id']}: {c['status']}: {c['summary'][:160]}")
print("SkyRL's real imports:", [(i["module"], i["status"], i["seconds"]) for i in (d.get("verdict") or {}).get("imports", [])])
EOF
MODS='["torch", "sglang", "flashinfer", "ray", "transformers"]'
echo "-- the imports one after another in one interpreter (doctor's real-imports probe before this change):"
s=$(date +%s%N); "$PY" skyrl_setup/probe/imports_script.py "$MODS" | cut -c1-200
echo "   [$(( ($(date +%s%N) - s) / 1000000 )) ms wall]"
echo "-- the torch probe alone in its own interpreter (doctor's torch probe before this change):"
s=$(date +%s%N); "$PY" skyrl_setup/probe/torch_script.py | cut -c1-300
echo "   [$(( ($(date +%s%N) - s) / 1000000 )) ms wall]"
echo "-- both from one interpreter, torch imported once, then forks (doctor now; see imports_script.py's docstring):"
s=$(date +%s%N); "$PY" skyrl_setup/probe/imports_script.py "$MODS" --torch-probe | cut -c1-300
echo "   [$(( ($(date +%s%N) - s) / 1000000 )) ms wall]"

echo "## when doctor launches each process, from the tool's first line (2 runs; the interpreter's own start is before)"
PROFILE_PY=("${TOOL[@]:0:${#TOOL[@]}-2}")  # TOOL without its `-m skyrl_setup`: the same interpreter and PYTHONPATH
for i in 1 2; do
"${PROFILE_PY[@]}" - "$PY" <<'EOF' > /dev/null
import runpy, subprocess, sys, time
t0 = time.perf_counter()
popen_init = subprocess.Popen.__init__
def init(self, args, *a, **k):
    sys.stderr.write(f"  [{time.perf_counter() - t0:.3f} s] launch {' '.join(str(x) for x in args[:2])[-60:]}\n")  # one write: threads
    return popen_init(self, args, *a, **k)
subprocess.Popen.__init__ = init
sys.argv = ["skyrl-setup", "doctor", "--python", sys.argv[1], "--backend", "sglang", "--json"]
sys.path.insert(0, ".")
try:
    runpy.run_module("skyrl_setup", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
print(f"  [{time.perf_counter() - t0:.3f} s] end", file=sys.stderr)
EOF
done

echo "## cProfile of one doctor run (main thread; the probes are other processes), top 15 by cumulative time"
"${PROFILE_PY[@]}" - "$PY" <<'EOF'
import contextlib, cProfile, io, pstats, runpy, sys
sys.argv = ["skyrl-setup", "doctor", "--python", sys.argv[1], "--backend", "sglang", "--json"]
sys.path.insert(0, ".")
prof = cProfile.Profile()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    prof.enable()
    try:
        runpy.run_module("skyrl_setup", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    prof.disable()
pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(15)
EOF
echo "## done"
