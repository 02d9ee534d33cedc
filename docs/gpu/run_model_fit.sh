#!/usr/bin/env bash
# doctor --model on a machine with two H100 80 GB GPUs (issue 15), run from the repository root:
#   bash docs/gpu/run_model_fit.sh "$OUT"
# with skyrl-setup's missing dependencies (uv, platformdirs, resolvelib) as wheels in .whl/, as for
# run_evidence.sh (the machine has no package registry). GPUs are found by NVML, the driver's own
# library, exactly as on any host: no override variable is set here (the script refuses if one is).
# Writes $OUT/model-fit.txt (the verbatim session) and $OUT/doctor-model-{14b,32b}.json.
set -u
OUT=${1:-/tmp/model-fit}
mkdir -p "$OUT"
if [ -n "${SKYRL_SETUP_CUDA_DRIVER:-}${SKYRL_SETUP_GPUS:-}" ]; then
  echo "unset SKYRL_SETUP_CUDA_DRIVER and SKYRL_SETUP_GPUS: this run must see the real GPUs" >&2; exit 2
fi
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
export SKYRL_SETUP_HOME=/tmp/skyrl-home
export COLUMNS=160  # rich wraps at 80 columns when writing to a pipe
run() {
  echo "\$ $*"
  "$@"
  echo "[exit status $?]"
  echo
}
{
  echo "## machine"
  run nvidia-smi --query-gpu=index,name,driver_version,compute_cap,memory.total --format=csv
  run git log -1 --format='%H %s'

  echo "## doctor --model: 14B and 32B against this node's GPUs (no environment here, so env.exists fails: look at 'Model fit')"
  run python3 -m skyrl_setup doctor --model 14B --no-gpu-probe
  run python3 -m skyrl_setup doctor --model 32B --no-gpu-probe

  echo "## the same, as JSON (the model_fit section; the whole documents are in \$OUT)"
  for size in 14B 32B; do
    f="$OUT/doctor-model-$(echo "$size" | tr 'A-Z' 'a-z').json"
    echo "\$ python3 -m skyrl_setup doctor --model $size --no-gpu-probe --json > $f"
    python3 -m skyrl_setup doctor --model "$size" --no-gpu-probe --json > "$f" 2>/dev/null
    echo "[exit status $?]"
    python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print(json.dumps({'gpus': d['gpus'], 'model_fit': d['model_fit'], 'checks': [c for c in d['checks'] if c['id'].startswith('fit.')]}, indent=1))" "$f"
    echo
  done

  echo "## past the minimum of 2× 80 GB, and a model folder (Qwen2.5-32B's config.json fields, written here: no hub access)"
  run python3 -m skyrl_setup doctor --model 70B --no-gpu-probe
  mkdir -p /tmp/qwen2.5-32b
  echo '{"model_type": "qwen2", "hidden_size": 5120, "num_hidden_layers": 64, "intermediate_size": 27648, "vocab_size": 152064, "num_attention_heads": 40, "num_key_value_heads": 8, "tie_word_embeddings": false}' > /tmp/qwen2.5-32b/config.json
  run python3 -m skyrl_setup doctor --model /tmp/qwen2.5-32b --no-gpu-probe
} 2>&1 | tee "$OUT/model-fit.txt"
