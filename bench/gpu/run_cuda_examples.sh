#!/usr/bin/env bash
# On the GPU machine, with .carry/rt from bench/gpu/pack_muonssm_run.sh:
# muonssm-run --target cuda --check --bench 10 on every scan example
# (muonssm-to-gpu, a temporary kernel bundle, the runtime, the float64
# oracle), exit status per example.
set -u
L=/tmp/rtlib; mkdir -p $L
python3 -c '
import lzma, pathlib, sys
for f in pathlib.Path(".carry/rt/lib").glob("*.xz"):
    (pathlib.Path(sys.argv[1]) / f.stem).write_bytes(lzma.decompress(f.read_bytes()))
' $L
export LD_LIBRARY_PATH=$L
ldd .carry/rt/muonssm-run | grep "not found"
.carry/rt/muonssm-rt-info 2>&1 | head -5
for e in muon_gated_deltanet_paper_scan gated_deltanet_scan deltanet_scan gla_gqa_scan \
         muon_mamba_scan muon_longhorn_scan muon_gated_deltanet_seed_scan gated_deltanet_decode_pool; do
  echo "== $e"
  timeout 120 .carry/rt/muonssm-run examples/$e.mlir --target cuda --check --bench 10 2>&1 | grep -v "^  input"
  echo "rc=${PIPESTATUS[0]}"
done
