#!/usr/bin/env bash
# One prepared check on a machine with an NVIDIA GPU (written for a lent H200 with Python 3.12,
# torch 2.11, triton 3.6, ninja, pybind11, pytest and no network; 16 cores). Run from the repo
# root; it finishes in under 8 minutes. Results go to $OUT (default /tmp/losses_ext_gpu):
# build.log, tests.log, sanitizer.log, bench.txt and bench.json.
#   1. build the extension (CUDA kernels for this GPU's architecture only, to save time);
#   2. the test suite on the GPU (CUDA and Triton backends on CUDA tensors, float64 gradcheck
#      included), in parallel when pytest-xdist is there;
#   3. compute-sanitizer memcheck over a small forward+backward of every loss and dtype;
#   4. forward+backward timing of fused CUDA, fused Triton, eager and torch.compile at 2**24 and
#      2**27 elements in float32 and bfloat16, with GB/s against the copy bandwidth of the run.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/losses_ext_gpu}
mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONUNBUFFERED=1 MAX_JOBS=${MAX_JOBS:-16}
unset TRITON_INTERPRET
if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
  TORCH_CUDA_ARCH_LIST=$($PY -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")
  export TORCH_CUDA_ARCH_LIST
fi
status=0

echo "== build (TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST)"
start=$SECONDS
if ! timeout 240 $PY -m pip install --no-build-isolation --no-deps --no-index -e . \
    >"$OUT/build.log" 2>&1; then
  tail -30 "$OUT/build.log"
  echo "build failed"
  exit 1
fi
echo "built in $((SECONDS - start)) s"

echo "== tests on the GPU"
xdist=$($PY -c "import xdist" 2>/dev/null && echo "-n 8")
timeout 200 $PY -m pytest tests -q -x -p no:cacheprovider $xdist >"$OUT/tests.log" 2>&1 \
  || status=1
tail -5 "$OUT/tests.log"

echo "== compute-sanitizer memcheck"
if command -v compute-sanitizer >/dev/null; then
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 3 \
    $PY -m benchmarks.gpu_smoke >"$OUT/sanitizer.log" 2>&1 || status=1
  tail -5 "$OUT/sanitizer.log"
else
  echo "compute-sanitizer not found"
fi

echo "== timing"
timeout 200 $PY -m benchmarks --device cuda --sizes 24 27 --dtypes float32 bfloat16 \
  --impls fused-cuda fused-triton eager compile --repeats 10 --json "$OUT/bench.json" \
  2>&1 | tee "$OUT/bench.txt" || status=1
exit $status
