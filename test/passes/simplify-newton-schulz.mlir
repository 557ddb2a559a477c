// RUN: muonssm-opt %s -split-input-file -muonssm-simplify-newton-schulz | FileCheck %s

// NS of a rank-1 update becomes muonssm.rank1_gain and a gain operand; the
// scan loses NS and its τ (the gain carries τ_in and τ_out).

// CHECK-LABEL: func.func @paper_tau_inside
// CHECK:         %[[G:.*]] = muonssm.rank1_gain k(%arg1 : tensor<2x8x2x4xf32>) v(%arg2 : tensor<2x8x4x6xf32>) beta(%arg4 : tensor<2x8x4xf32>)
// CHECK-SAME:      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>, tau_in = 5.000000e-01, tau_out = 1.000000e+00 -> tensor<2x8x4xf32>
// CHECK:         muonssm.scan
// CHECK-SAME:      gain(%[[G]] : tensor<2x8x4xf32>)
// CHECK-SAME:      decay = scalar, input = update, delta_rule = 1.000000e+00, momentum = 9.000000e-01, tau = 1.000000e+00
// CHECK-NOT:       newton_schulz
func.func @paper_tau_inside(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>,
    %v: tensor<2x8x4x6xf32>, %g: tensor<2x8x4xf32>, %b: tensor<2x8x4xf32>)
    -> tensor<2x8x4x6xf32> {
  %o = muonssm.scan q(%q : tensor<2x8x2x4xf32>) k(%k : tensor<2x8x2x4xf32>)
      v(%v : tensor<2x8x4x6xf32>) g(%g : tensor<2x8x4xf32>) beta(%b : tensor<2x8x4xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside,
      tau = 0.5, scale = 1.0 -> o tensor<2x8x4x6xf32>
  return %o : tensor<2x8x4x6xf32>
}

// -----

// LongHorn: τ after NS, the gain built from dt (w = dtn ⊙ v), f64 inputs give
// an f64 gain.

// CHECK-LABEL: func.func @longhorn_tau_after
// CHECK:         %[[G:.*]] = muonssm.rank1_gain k(%arg1 : tensor<1x5x1x4xf64>) v(%arg2 : tensor<1x5x1x8xf64>) dt(%arg3 : tensor<1x5x1x8xf64>)
// CHECK-SAME:      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 2>, tau_in = 1.000000e+00, tau_out = 6.000000e-01 -> tensor<1x5x1xf64>
// CHECK:         muonssm.scan {{.*}} dt(%arg3 : tensor<1x5x1x8xf64>) gain(%[[G]] : tensor<1x5x1xf64>) decay = longhorn, input = update, momentum = 0.98999999999999999, tau = 1.000000e+00
func.func @longhorn_tau_after(%q: tensor<1x5x1x4xf64>, %k: tensor<1x5x1x4xf64>,
    %u: tensor<1x5x1x8xf64>, %dt: tensor<1x5x1x8xf64>) -> tensor<1x5x1x8xf64> {
  %o = muonssm.scan q(%q : tensor<1x5x1x4xf64>) k(%k : tensor<1x5x1x4xf64>)
      v(%u : tensor<1x5x1x8xf64>) dt(%dt : tensor<1x5x1x8xf64>)
      decay = longhorn, input = update, momentum = 0.99,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 2> on update with tau after,
      tau = 0.6, scale = 1.0 -> o tensor<1x5x1x8xf64>
  return %o : tensor<1x5x1x8xf64>
}

// -----

// Left alone: NS of the whole momentum (not rank 1), and NS of the error
// input (its gain depends on the state).

// CHECK-LABEL: func.func @left_alone
// CHECK-NOT:     muonssm.rank1_gain
// CHECK:         newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum
// CHECK:         newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update
func.func @left_alone(%q: tensor<1x5x1x4xf32>, %k: tensor<1x5x1x4xf32>,
    %v: tensor<1x5x1x4xf32>, %b: tensor<1x5x1xf32>)
    -> (tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>) {
  %o1 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) beta(%b : tensor<1x5x1xf32>)
      decay = none, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  %o2 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) beta(%b : tensor<1x5x1xf32>)
      decay = none, input = error, momentum = 0.9,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  return %o1, %o2 : tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>
}
