#!/usr/bin/env bash
# CPU benchmark: every model here token by token (chunk-size 0) and chunked
# (16, 32, 64), `muonssm-run --bench 5` medians after a warm-up, each also
# checked against the float64 oracle once. Writes a markdown table to stdout.
# Usage: bench/cpu/run.sh [build-dir]   (from the repository root)
set -euo pipefail
build=${1:-build}
run="$build/bin/muonssm-run"
echo "| model | T | tokens/s per-token | C=16 | C=32 | C=64 | best chunked / per-token | max rel err (checked) |"
echo "|---|---|---|---|---|---|---|---|"
for model in bench/cpu/*.mlir; do
  name=$(basename "$model" .mlir)
  T=$(grep -o 'tensor<1x[0-9]*x' "$model" | head -1 | cut -dx -f2)
  row="| $name | $T"
  best=0; base=0
  for c in 0 16 32 64; do
    rate=$("$run" "$model" --chunk-size $c --bench 5 | sed -n 's/.*ms, \([0-9]*\) tokens\/s.*/\1/p')
    row="$row | $rate"
    if [ $c = 0 ]; then base=$rate; elif [ "$rate" -gt "$best" ]; then best=$rate; fi
  done
  err=$("$run" "$model" --check | awk '/rel err/{print $8}' | sort -g | tail -1)
  ratio=$(awk -v b="$best" -v p="$base" 'BEGIN{printf "%.2fx", b/p}')
  echo "$row | $ratio | $err |"
done
