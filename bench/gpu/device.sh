#!/usr/bin/env bash
# On the GPU machine (the device tool), from the repository root, with the
# binaries and bundles of bench/gpu/make_bundles.py under .carry/gpu and the
# fla wheels under .whl:
#   1. the device and driver;
#   2. every numerics bundle against the float64 oracle (parallel: the oracle
#      is CPU work);
#   3. every benchmark bundle, one at a time (CUDA-graph replays);
#   4. flash-linear-attention's kernels, timed the same way;
#   5. mamba_ssm's selective scan (bench/gpu/mamba_scan_bench.cu).
# Writes rt-info.txt, numerics.txt, bench.txt, fla.txt, mamba.txt to $OUT.
set -u
C=${CARRY:-.carry/gpu}
OUT=${OUT:-/tmp/muonssm-out}
mkdir -p "$OUT"
export MUONSSM_CACHE_DIR=/tmp/muonssm-cache
"$C/bin/muonssm-rt-info" > "$OUT/rt-info.txt" 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv >> "$OUT/rt-info.txt" 2>&1

if [ "${SKIP_NUMERICS:-0}" != 1 ]; then
  ls -d "$C"/bundles/num_* | grep -v '\.mlir$' | \
    xargs -P "${JOBS:-12}" -I{} sh -c 'n=$(basename {}); r=$(timeout 240 '"$C"'/bin/muonssm-bundle-run {} --check --quiet 2>&1); echo "== $n rc=$?"; echo "$r"' \
    > "$OUT/numerics.txt" 2>&1
  echo "numerics: $(grep -c '^== ' "$OUT/numerics.txt") bundles, $(grep -c 'rc=0' "$OUT/numerics.txt") passed" | tee -a "$OUT/summary.txt"
fi

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  for b in $(ls -d "$C"/bundles/bench_* | grep -v '\.mlir$'); do
    echo "== $(basename $b)"
    timeout 120 "$C/bin/muonssm-bundle-run" "$b" --bench "${REPS:-20}" --quiet 2>&1
  done > "$OUT/bench.txt" 2>&1
fi

if [ "${SKIP_FLA:-0}" != 1 ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>&1 | tail -2
  PYTHONPATH=/tmp/site timeout 500 python3 bench/gpu/fla_bench.py "${REPS:-20}" > "$OUT/fla.txt" 2>&1
fi
# mamba_ssm's selective scan (issue 7's baseline), built here from a carried
# copy of state-spaces/mamba's csrc/selective_scan (MAMBA_SRC).
M=${MAMBA_SRC:-.carry/mamba/selective_scan}
if [ "${SKIP_MAMBA:-0}" != 1 ] && [ -d "$M" ]; then
  TORCH=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  nvcc -O3 -std=c++17 -arch=sm_90 --use_fast_math --expt-relaxed-constexpr \
    --expt-extended-lambda -U__CUDA_NO_HALF_OPERATORS__ -U__CUDA_NO_HALF_CONVERSIONS__ \
    -U__CUDA_NO_BFLOAT16_OPERATORS__ -U__CUDA_NO_BFLOAT16_CONVERSIONS__ \
    -U__CUDA_NO_BFLOAT162_OPERATORS__ -U__CUDA_NO_BFLOAT162_CONVERSIONS__ \
    -I"$M" -I"$TORCH/include" -L"$TORCH/lib" -Xlinker -rpath="$TORCH/lib" \
    bench/gpu/mamba_scan_bench.cu -lc10 -lc10_cuda -o /tmp/mamba_scan_bench \
    > "$OUT/mamba-build.txt" 2>&1
  {
    for z in noz z; do
      /tmp/mamba_scan_bench 8 4096 1536 16 bf16 $z "${REPS:-20}"
      /tmp/mamba_scan_bench 32 512 256 64 f32 $z "${REPS:-20}"
    done
  } > "$OUT/mamba.txt" 2>&1
fi
echo done
