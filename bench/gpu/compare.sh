#!/usr/bin/env bash
# On the GPU machine (the device tool), from the repository root: variants
# of the kernels side by side in one run. Bundles in $C/bundles (default
# .carry/gpu), built here by bench/gpu/make_bundles.py --prefix=VARIANT__
# [--options=...]; binaries in $C/bin; fla wheels in .whl.
#   SECTIONS  any of: info numerics bench fla ncutime (default: all but ncutime)
#   numerics  every *num_* bundle against the float64 oracle (16 at a time)
#   bench     for every bench model, each VARIANT__bench_NAME bundle in turn,
#             CUDA-graph replays (median of REPS, default 30); PASSES (default
#             "1 2") repeat it, pass 2 in the opposite order of variants
#   fla       flash-linear-attention's chunk_gated_delta_rule, FLACASES:
#             "B T H K V" cases separated by ';'
#   ncutime   ncu's time, registers, instructions and shared wavefronts of
#             each variant of the NCUMODELS (bench names without bench_)
# Writes rt-info.txt, numerics.txt, bench.txt, fla.txt, ncu-time.txt and
# summary.txt (section start times) to $OUT.
set -u
C=${CARRY:-.carry/gpu}
B=$C/bin/muonssm-bundle-run
OUT=${OUT:-/tmp/muonssm-out}
mkdir -p "$OUT"
export MUONSSM_CACHE_DIR=/tmp/muonssm-cache
S0=$(date +%s)
bundles() { ls "$C/bundles" | grep -v '\.mlir$'; }
for s in ${SECTIONS:-info numerics bench fla}; do
  echo "[$s at $(( $(date +%s) - S0 )) s]" >> "$OUT/summary.txt"
  case $s in
  info)
    "$C/bin/muonssm-rt-info" > "$OUT/rt-info.txt" 2>&1
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total \
      --format=csv >> "$OUT/rt-info.txt" 2>&1 ;;
  numerics)
    bundles | grep 'num_' | sed "s|^|$C/bundles/|" | \
      timeout "${NUMT:-300}" xargs -P 16 -I{} sh -c \
        'n=$(basename {}); r=$(timeout 200 '"$B"' {} --check --quiet 2>&1); echo "== $n rc=$?"; echo "$r"' \
      > "$OUT/numerics.txt" 2>&1
    echo "numerics: $(grep -c '^== ' "$OUT/numerics.txt") bundles," \
      "$(grep -c 'rc=0' "$OUT/numerics.txt") passed" >> "$OUT/summary.txt" ;;
  bench)
    variants=$(bundles | grep '__bench_' | sed 's/__.*//' | sort -u)
    models=$(bundles | grep '__bench_' | sed 's/^.*__bench_//' | sort -u)
    for pass in ${PASSES:-1 2}; do
      order=$variants
      [ "$pass" = 2 ] && order=$(echo "$variants" | tac)
      for n in $models; do
        for w in $order; do
          [ -d "$C/bundles/${w}__bench_$n" ] || continue
          echo "== $pass $w $n $(timeout 60 "$B" "$C/bundles/${w}__bench_$n" \
            --bench "${REPS:-30}" --quiet 2>&1 | tr '\n' ' ')"
        done
      done
    done > "$OUT/bench.txt" 2>&1 ;;
  fla)
    python3 -m pip install -q --no-index --no-deps --no-compile \
      --target /tmp/site .whl/*.whl 2>&1 | tail -2
    IFS=';' read -ra cases <<< "${FLACASES:-16 2048 16 128 128;8 4096 16 128 128;4 8192 16 128 128}"
    for c in "${cases[@]}"; do
      echo "== fla $c $(PYTHONPATH=/tmp/site timeout 120 python3 \
        bench/gpu/fla_bench.py x chunk $c 0 "${REPS:-30}" 2>&1 | tail -1)"
    done > "$OUT/fla.txt" 2>&1 ;;
  ncutime)
    for n in ${NCUMODELS:-gdn_B16_T2048 paper_B16_T2048}; do
      for w in $(bundles | grep "__bench_$n\$" | sed 's/__.*//'); do
        echo "== $w $n"
        timeout 120 ncu --clock-control none -k regex:muonssm -c 3 \
          --metrics gpu__time_duration.sum,launch__registers_per_thread,smsp__inst_executed.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum \
          "$B" "$C/bundles/${w}__bench_$n" --bench 1 --quiet 2>&1 |
          grep -E "muonssm_k|gpu__time|registers|inst_executed|wavefronts"
      done
    done > "$OUT/ncu-time.txt" 2>&1 ;;
  esac
done
echo "[end at $(( $(date +%s) - S0 )) s]" >> "$OUT/summary.txt"
