// RUN: muonssm-opt %s -muonssm-fuse-newton-schulz | FileCheck %s

// NS of the whole momentum, and NS of the state-dependent error input, get
// the fused recurrent schedule; NS of a rank-1 update with the update input
// is left for simplify-newton-schulz, and a scan without NS is left alone.

// CHECK-LABEL: func.func @fuse
// CHECK:         on momentum with tau inside, schedule = <recurrent>, tau
// CHECK:         on update with tau after, schedule = <recurrent>, tau
// CHECK:         on update with tau inside, tau
// CHECK:         decay = none, input = update, tau
func.func @fuse(%q: tensor<1x5x1x4xf32>, %k: tensor<1x5x1x4xf32>,
    %v: tensor<1x5x1x4xf32>, %b: tensor<1x5x1xf32>)
    -> (tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>) {
  %o1 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) beta(%b : tensor<1x5x1xf32>)
      decay = none, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  %o2 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) beta(%b : tensor<1x5x1xf32>)
      decay = none, input = error,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau after,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  %o3 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) beta(%b : tensor<1x5x1xf32>)
      decay = none, input = update, momentum = 0.9,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  %o4 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) decay = none, input = update,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  return %o1, %o2, %o3, %o4 : tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>
}
