#!/usr/bin/env bash
# Here (with the build): runs each config.json through muonssm-run on the CPU
# with random weights, dumps inputs and logits, and packs the weights as a
# checkpoint for bench/crosscheck/hf_models.py under .carry/xcheck/CASE.
set -eu
BIN=${BIN:-build/bin}
OUT=${OUT:-.carry/xcheck}
pack=test/tools/Inputs/npy_to_safetensors.py
for case in "gdn:test/tools/Inputs/hf-gdn/config.json" \
            "mamba:test/tools/Inputs/hf-mamba-config.json" \
            "gdn_tied:bench/crosscheck/gdn-tied-config.json" \
            "mamba_672:bench/crosscheck/mamba-672-config.json"; do
  name=${case%%:*}; config=${case#*:}
  rm -rf "$OUT/$name" && mkdir -p "$OUT/$name"
  "$BIN/muonssm-run" "$config" --check --dump "$OUT/$name/dump" | tail -1
  cp "$config" "$OUT/$name/config.json"
  cp "$OUT/$name/dump/input_ids.npy" "$OUT/$name/dump/logits.npy" "$OUT/$name/"
  python3 $pack "$OUT/$name/dump" "$OUT/$name/model.safetensors" --conv-as-torch \
    --exclude input_ids,logits
  rm -rf "$OUT/$name/dump"
done
