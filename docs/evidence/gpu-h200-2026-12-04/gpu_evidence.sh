#!/bin/bash
# GPU evidence for skyrl-setup on the lent H200 (run from the repo root; $OUT set by the device tool).
set -o pipefail
export PYTHONUNBUFFERED=1
LOG=$OUT/log
say() { echo >&2; echo "### $*" >&2; }
run() { say "\$ $*"; local s=$(date +%s%N); "$@"; local rc=$?; echo "[rc=$rc wall=$(( ($(date +%s%N)-s)/1000000 )) ms]" >&2; return 0; }
{
say "date: $(date -u +%FT%TZ)  host: $(uname -r)  cpus: $(nproc)"
run nvidia-smi
run nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,pci.bus_id --format=csv
PY=$(command -v python3); echo "python3 = $PY -> $(readlink -f "$PY")"
run python3 --version
ls -la "$(dirname "$PY")"/python* 2>&1
run python3 -m pip show torch
run python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0), torch.cuda.get_arch_list()); x=torch.randn(4096,4096,device="cuda",dtype=torch.bfloat16); print((x@x).float().norm().item())'
say "skyrl-setup's own probe scripts, run directly by the device python3 (no PYTHONPATH)"
run timeout 120 python3 skyrl_setup/probe/cuda_driver_script.py > $OUT/probe_driver.json
cat $OUT/probe_driver.json
run timeout 120 python3 skyrl_setup/probe/torch_script.py > $OUT/probe_torch.json
cat $OUT/probe_torch.json
say "install the carried wheels (skyrl-setup's runtime deps) into /tmp/site"
run python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site
run python3 -c 'import uv, packaging, resolvelib, httpx, rich, platformdirs; print("uv", uv.find_uv_bin())'
run python3 -m uv --version
run timeout 180 python3 -m skyrl_setup doctor --json > $OUT/doctor.json
run timeout 240 python3 -m skyrl_setup doctor --skyrl 0.4.0 --backend vllm --python "$PY" --json > $OUT/doctor_py.json
run timeout 180 python3 -m skyrl_setup install --skyrl 0.4.0 --backend vllm --dry-run --json --venv /tmp/e1 --python "$PY" > $OUT/e1.json
run timeout 180 python3 -m skyrl_setup install --backend vllm --dry-run --json --venv /tmp/e2 --python "$PY" > $OUT/e2.json
run timeout 180 python3 -m skyrl_setup install --skyrl latest --backend vllm --dry-run --json --venv /tmp/e3 --python "$PY" > $OUT/e3.json
say "the default again, with no --python (does it find a 3.12 by itself?)"
run timeout 180 python3 -m skyrl_setup install --backend vllm --dry-run --venv /tmp/e2b
say "done: $(date -u +%FT%TZ)"
} 2>&1 | tee $LOG
