#!/usr/bin/env bash
# Issue 19's recipe ablation on a GPU machine (JAX backend), in one call.
#
# The machine has JAX with CUDA but no TensorFlow and no Keras, and nothing
# can be downloaded there, so the caller carries:
#   .gpu/whl/   wheels: keras, namex, optree, mlxtend (for Python 3.12)
#   .gpu/run/   config.json, extractor.keras, extractor.json of the search
#               run whose data split and domain extractor the ablation uses
#               (the CPU study's mnist_5k seed 0), so its scores compare with
#               the CPU runs'.
#   .gpu/ablation_runs/  (optional) records of an earlier call's runs
#               (its records.tar.gz unpacked): they are reused, not trained again.
# One process per lever runs in parallel (the levers' runs are independent;
# each runs its seeds in order, so a cut-off keeps the first seeds of every
# lever), then `--reuse-only` writes the report from what finished.
#
# Usage (from the repository root, on the device machine):
#   BENCHMARK_GIT_COMMIT=<commit> bash benchmarks/device_recipe_ablation.sh SEEDS TRAIN_SECONDS \
#       [LEVER...]        (default: base, the four single levers, all)
# Writes $OUT/recipe_ablation_gpu.json, $OUT/records.tar.gz and $OUT/log.
set -u
seeds=${1:-5}
train_seconds=${2:-330}
# Drop SEEDS and TRAIN_SECONDS, whichever were given: the rest are levers.
shift $(($# < 2 ? $# : 2))
levers=("$@")
[ ${#levers[@]} -gt 0 ] || levers=(base diffaugment r1 d_steps2 minibatch_std all)
out=${OUT:-/tmp/out}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
# Several processes share the GPU: each takes memory as it needs it.
export XLA_PYTHON_CLIENT_PREALLOCATE=false KGAN_NAS_CACHE=/tmp/kgan_cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p /tmp/ablation_runs
[ -d .gpu/ablation_runs ] && cp -r .gpu/ablation_runs/. /tmp/ablation_runs/
cd benchmarks || exit 1
common=(--run ../.gpu/run --steps 2000 --seeds "$seeds" --learning-rate 5e-4
    --num-samples 2000 --runs /tmp/ablation_runs)
for lever in "${levers[@]}"; do
    timeout "$train_seconds" python3 recipe_ablation.py "${common[@]}" --levers "$lever" \
        --output "/tmp/ablation_$lever.json" >"/tmp/lever_$lever.log" 2>&1 &
done
wait
grep -h "held-out FID\|Error\|error:" /tmp/lever_*.log | grep -v "^E0000\|^W0000"
python3 recipe_ablation.py "${common[@]}" --levers "${levers[@]}" --reuse-only --output "$out/recipe_ablation_gpu.json"
tar -czf "$out/records.tar.gz" -C /tmp/ablation_runs \
    --exclude='*.keras' .
cat /tmp/lever_*.log | grep -v "^E0000\|^W0000" | tail -c 200000 >"$out/log"
