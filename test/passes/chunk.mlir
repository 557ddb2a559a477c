// RUN: muonssm-opt %s -split-input-file -muonssm-chunk | FileCheck %s
// RUN: muonssm-opt %s -split-input-file -muonssm-chunk=chunk-size=16 | FileCheck %s --check-prefix=C16
// RUN: not muonssm-opt %s -split-input-file -muonssm-chunk=chunk-size=48 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not muonssm-opt %s -split-input-file -muonssm-chunk=chunk-size=0 2>&1 | FileCheck %s --check-prefix=ZERO

// BAD: error: muonssm-chunk: chunk-size must be a power of two in [1, 1024], got 48
// ZERO: error: muonssm-chunk: chunk-size must be a power of two in [1, 1024], got 0

// Linear scans get a chunked schedule: the delta rule with momentum, the
// error input, elementwise decays with the update input (a blocked scan).

// CHECK-LABEL: func.func @linear
// CHECK:         decay = scalar, input = update, delta_rule = 1.000000e+00, momentum = 9.000000e-01, schedule = <chunked, 64>
// CHECK:         decay = diagonal, input = error, schedule = <chunked, 64>
// CHECK:         decay = mamba, input = update, momentum = 9.000000e-01, schedule = <chunked, 64>
// C16-LABEL:   func.func @linear
// C16-COUNT-3:   schedule = <chunked, 16>
func.func @linear(%q: tensor<1x5x1x4xf32>, %k: tensor<1x5x1x4xf32>,
    %v: tensor<1x5x1x4xf32>, %g: tensor<1x5x1xf32>, %gd: tensor<1x5x1x4xf32>,
    %b: tensor<1x5x1xf32>, %a: tensor<1x4x4xf32>)
    -> (tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>) {
  %o1 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) g(%g : tensor<1x5x1xf32>) beta(%b : tensor<1x5x1xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  %o2 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) g(%gd : tensor<1x5x1x4xf32>) beta(%b : tensor<1x5x1xf32>)
      decay = diagonal, input = error, tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  %o3 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) dt(%v : tensor<1x5x1x4xf32>) A(%a : tensor<1x4x4xf32>)
      decay = mamba, input = update, momentum = 0.9, tau = 1.0, scale = 1.0
      -> o tensor<1x5x1x4xf32>
  return %o1, %o2, %o3 : tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>
}

// -----

// Left alone, math unchanged: NS of the momentum, NS on the update (not yet a
// gain), an elementwise decay with the delta rule, a scan already scheduled.

// CHECK-LABEL: func.func @not_chunkable
// CHECK-NOT:     schedule = <chunked, 64>
// CHECK:         on momentum with tau inside, tau
// CHECK:         on update with tau inside, tau
// CHECK:         decay = mamba, input = update, delta_rule = 1.000000e+00, tau
// CHECK:         schedule = <recurrent>
func.func @not_chunkable(%q: tensor<1x5x1x4xf32>, %k: tensor<1x5x1x4xf32>,
    %v: tensor<1x5x1x4xf32>, %b: tensor<1x5x1xf32>, %a: tensor<1x4x4xf32>)
    -> (tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>) {
  %o1 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) beta(%b : tensor<1x5x1xf32>)
      decay = none, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  %o2 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) beta(%b : tensor<1x5x1xf32>)
      decay = none, input = update, momentum = 0.9,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  %o3 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) dt(%v : tensor<1x5x1x4xf32>) A(%a : tensor<1x4x4xf32>)
      beta(%b : tensor<1x5x1xf32>)
      decay = mamba, input = update, delta_rule = 1.0, tau = 1.0, scale = 1.0
      -> o tensor<1x5x1x4xf32>
  %o4 = muonssm.scan q(%q : tensor<1x5x1x4xf32>) k(%k : tensor<1x5x1x4xf32>)
      v(%v : tensor<1x5x1x4xf32>) decay = none, input = update, schedule = <recurrent>,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x4xf32>
  return %o1, %o2, %o3, %o4 : tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>, tensor<1x5x1x4xf32>
}
