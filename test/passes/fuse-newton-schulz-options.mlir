// RUN: not muonssm-opt %s -muonssm-fuse-newton-schulz=per-chunk=3 2>&1 | FileCheck %s --check-prefix=THREE
// RUN: not muonssm-opt %s -muonssm-fuse-newton-schulz=per-chunk=2048 2>&1 | FileCheck %s --check-prefix=LARGE
// RUN: not muonssm-opt %s -muonssm-fuse-newton-schulz=per-chunk=-4 2>&1 | FileCheck %s --check-prefix=NEGATIVE

// A per-chunk size the pass cannot use is an error at the function, never a
// silent fallback to per-token NS.
// THREE: error: muonssm-fuse-newton-schulz: per-chunk must be 0 (per-token NS) or a power of two in [1, 1024], got 3
// LARGE: got 2048
// NEGATIVE: got -4
func.func @f() {
  return
}
