#!/usr/bin/env bash
# On the GPU machine (the device tool), from the repository root, with the
# binaries and bundles of bench/gpu/make_bundles.py under .carry/gpu and the
# fla wheels under .whl:
#   1. the device and driver;
#   2. every numerics bundle against the float64 oracle (parallel: the oracle
#      is CPU work);
#   3. every benchmark bundle, one at a time (CUDA-graph replays);
#   4. flash-linear-attention's kernels, timed the same way.
# Writes rt-info.txt, numerics.txt, bench.txt, fla.txt to $OUT.
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
echo done
