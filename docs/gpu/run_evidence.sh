#!/usr/bin/env bash
# The commands behind docs/gpu-evidence.md, run on the GPU machine from the repository root:
#   bash docs/gpu/run_evidence.sh "$OUT"
# The machine has no package registry: skyrl-setup's missing dependencies travel as wheels in .whl/.
set -u
OUT=${1:-/tmp/evidence}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
PY=$(command -v python3)
export SKYRL_SETUP_HOME=/tmp/skyrl-home
run() {
  echo "\$ $*"
  local t0; t0=$(date +%s.%N)
  "$@"
  local rc=$?
  echo "[exit status $rc, $(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')") s wall]"
  echo
}
runq() {  # like run, the command's own output dropped
  echo "\$ $* > /dev/null"
  local t0; t0=$(date +%s.%N)
  "$@" > /dev/null 2>&1
  local rc=$?
  echo "[exit status $rc, $(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')") s wall]"
}
{
  echo "## machine"
  run nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv
  run "$PY" -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.version.cuda, torch.cuda.get_arch_list())"

  echo "## 1. doctor against the machine's own python3, judged by the sglang profile"
  run python3 -m skyrl_setup doctor --python "$PY" --backend sglang
  python3 -m skyrl_setup doctor --python "$PY" --backend sglang --json > "$OUT/doctor.json"

  echo "## 2. the driver-level probe alone (libcuda through ctypes, no torch)"
  run python3 skyrl_setup/probe/cuda_driver_script.py

  echo "## 3. failure: CUDA_VISIBLE_DEVICES= hides every GPU"
  run env CUDA_VISIBLE_DEVICES= python3 -m skyrl_setup doctor --python "$PY" --backend sglang

  echo "## 4. failure: PTX newer than the driver can compile (.version 9.9)"
  run env SKYRL_SETUP_PROBE_PTX=9.9 python3 -m skyrl_setup doctor --python "$PY" --backend sglang --no-gpu-probe
  run env SKYRL_SETUP_PROBE_PTX=9.9 python3 -m skyrl_setup doctor --python "$PY" --backend sglang

  echo "## 5. failure: the CUDA toolkit's stub libcuda instead of the driver's"
  STUB=$(ls /usr/local/cuda/lib64/stubs/libcuda.so /usr/local/cuda*/targets/x86_64-linux/lib/stubs/libcuda.so 2>/dev/null | head -1)
  echo "stub: $STUB"
  run env SKYRL_SETUP_LIBCUDA="$STUB" python3 skyrl_setup/probe/cuda_driver_script.py
  run env SKYRL_SETUP_LIBCUDA="$STUB" python3 -m skyrl_setup doctor --python "$PY" --backend sglang

  echo "## 6. install's plan on this host (driver detection and CUDA variant choice; no registry here, so --dry-run)"
  run env UV_OFFLINE=1 python3 -m skyrl_setup install --dry-run --backend sglang --python "$PY" --venv /tmp/skyrl-env

  echo "## 7. timings for the benchmarks (3 runs each)"
  for i in 1 2 3; do runq python3 skyrl_setup/probe/cuda_driver_script.py; done
  for i in 1 2 3; do runq python3 -c "import torch; torch.ones(1).cuda(); torch.cuda.synchronize()"; done
  for i in 1 2 3; do runq python3 -m skyrl_setup doctor --python "$PY" --backend sglang --json; done
  for i in 1 2 3; do runq python3 -m skyrl_setup doctor --python "$PY" --backend sglang --no-gpu-probe --json; done
  for i in 1 2 3; do runq python3 -m torch.utils.collect_env; done
  run python3 -m torch.utils.collect_env
} 2>&1 | tee "$OUT/evidence.txt"
