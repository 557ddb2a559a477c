// RUN: muonssm-opt %s '-muonssm-to-cpu=ns-per-chunk=16' -mlir-print-ir-after=muonssm-chunk 2>&1 >/dev/null | FileCheck %s --check-prefix=SCHEDULE
// RUN: muonssm-opt %s '-muonssm-to-cpu=ns-per-chunk=16' | FileCheck %s
// RUN: muonssm-opt %s -muonssm-to-cpu -mlir-print-ir-after=muonssm-chunk 2>&1 >/dev/null | FileCheck %s --check-prefix=EXACT

// ns-per-chunk=C runs fuse-newton-schulz{per-chunk=C} before the other
// scheduling passes: NS of the rank-1 update becomes the per-chunk keys (not
// a per-token gain), and the scan, now linear, is chunked. Without the
// option the same scan keeps the exact per-token NS as a gain.
// SCHEDULE:      muonssm.chunk_newton_schulz {{.*}} chunk_size = 16
// SCHEDULE-NOT:  muonssm.rank1_gain
// SCHEDULE:      muonssm.scan {{.*}}schedule = <chunked, 64>
// EXACT-NOT:     muonssm.chunk_newton_schulz
// EXACT:         muonssm.rank1_gain

// CHECK-NOT:   muonssm.
// CHECK-LABEL: llvm.func @main(
// CHECK-NOT:   muonssm.
func.func @main(%q: tensor<1x?x2x8xbf16>, %k: tensor<1x?x2x8xbf16>,
    %v: tensor<1x?x2x4xbf16>, %g: tensor<1x?x2xf32>, %b: tensor<1x?x2xbf16>)
    -> tensor<1x?x2x4xbf16> {
  %o = muonssm.scan q(%q : tensor<1x?x2x8xbf16>) k(%k : tensor<1x?x2x8xbf16>)
      v(%v : tensor<1x?x2x4xbf16>) g(%g : tensor<1x?x2xf32>) beta(%b : tensor<1x?x2xbf16>)
      decay = scalar, input = update, momentum = 0.9,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside,
      tau = 1.0, scale = 0.35 -> o tensor<1x?x2x4xbf16>
  return %o : tensor<1x?x2x4xbf16>
}
