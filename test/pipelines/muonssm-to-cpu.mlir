// RUN: muonssm-opt %s -muonssm-to-cpu | FileCheck %s

// RUN: muonssm-opt %s -muonssm-to-cpu -mlir-print-ir-after=muonssm-fuse-newton-schulz 2>&1 >/dev/null | FileCheck %s --check-prefix=SCHEDULE

// The scheduling passes run first: this seed-form scan (NS of the momentum)
// gets the fused recurrent schedule.
// SCHEDULE: on momentum with tau inside, schedule = <recurrent>

// muonssm-to-cpu ends in the LLVM dialect alone. Results become
// caller-allocated out-parameters after the inputs (the convention
// muonssm-run calls with), so @main returns nothing.

// CHECK-NOT:   muonssm.
// CHECK-NOT:   scf.
// CHECK-NOT:   memref.
// CHECK-NOT:   bufferization.
// CHECK-LABEL: llvm.func @main(%arg0: !llvm.ptr{{[^>]*}}) {
// CHECK:         llvm.intr.floor
// CHECK:         llvm.intr.sqrt
// CHECK:         llvm.return
// CHECK-NOT:   muonssm.
func.func @main(%q: tensor<?x?x2x8xbf16>, %k: tensor<?x?x2x8xbf16>,
    %v: tensor<?x?x2x4xbf16>, %g: tensor<?x?x2xf32>, %b: tensor<?x?x2xbf16>)
    -> (tensor<?x?x2x4xbf16>, tensor<?x2x8x4xf32>) {
  %o, %s, %m = muonssm.scan q(%q : tensor<?x?x2x8xbf16>) k(%k : tensor<?x?x2x8xbf16>)
      v(%v : tensor<?x?x2x4xbf16>) g(%g : tensor<?x?x2xf32>) beta(%b : tensor<?x?x2xbf16>)
      decay = scalar, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 0.35
      -> o tensor<?x?x2x4xbf16> final_state tensor<?x2x8x4xf32> final_momentum tensor<?x2x8x4xf32>
  return %o, %s : tensor<?x?x2x4xbf16>, tensor<?x2x8x4xf32>
}
