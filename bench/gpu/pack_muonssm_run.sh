#!/usr/bin/env bash
# Here: muonssm-run and the shared libraries the GPU machine's image lacks
# (LLVM and MLIR 22, z3, libedit), xz-compressed to fit a device call's carry
# limit, into .carry/rt; bench/gpu/run_cuda_examples.sh unpacks them there
# (with Python's lzma: the image has no zstd or xz tools).
set -eu
OUT=${OUT:-.carry/rt}
rm -rf "$OUT" && mkdir -p "$OUT/lib"
cp build/bin/muonssm-run build/bin/muonssm-rt-info "$OUT/"
for l in /usr/lib/llvm-22/lib/libLLVM.so.22.1 /usr/lib/llvm-22/lib/libMLIR.so.22.1 \
         /lib/x86_64-linux-gnu/libz3.so.4 /lib/x86_64-linux-gnu/libedit.so.2; do
  xz -9 -T2 -c "$(readlink -f "$l")" > "$OUT/lib/$(basename "$l").xz"
done
du -sh "$OUT"
