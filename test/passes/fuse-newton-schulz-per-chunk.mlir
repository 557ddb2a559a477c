// RUN: muonssm-opt %s -split-input-file -muonssm-fuse-newton-schulz=per-chunk=16 -verify-diagnostics | FileCheck %s

// per-chunk=C: NS of a rank-1 update becomes the per-chunk approximation
// (docs/chunking.md §3.2). τ inside NS goes into tau_in, τ after into
// tau_out; the scan reads the effective keys, loses NS and τ, and keeps
// everything else (β, decay, momentum, cu_seqlens). NS of the momentum still
// gets the recurrent schedule.

// CHECK-LABEL: func.func @approximate
// CHECK:         %[[K1:.*]] = muonssm.chunk_newton_schulz k(%arg1 : tensor<1x40x2x8xf32>) v(%arg2 : tensor<1x40x2x8xf32>) beta(%arg3 : tensor<1x40x2xf32>) cu_seqlens(%arg5 : tensor<3xi32>) newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau_in = 6.000000e-01, tau_out = 1.000000e+00, chunk_size = 16 -> tensor<1x40x2x8xf32>
// CHECK:         muonssm.scan q(%arg0 : tensor<1x40x2x8xf32>) k(%[[K1]] : tensor<1x40x2x8xf32>) v(%arg2 : {{.*}}) g(%arg4 : {{.*}}) beta(%arg3 : {{.*}}) cu_seqlens(%arg5 : {{.*}}) decay = scalar, input = update, momentum = 9.000000e-01, tau = 1.000000e+00, scale
// CHECK:         %[[K2:.*]] = muonssm.chunk_newton_schulz {{.*}} newton_schulz = <cubic, max, eps = 1.0e-06, steps = 2>, tau_in = 1.000000e+00, tau_out = 6.000000e-01, chunk_size = 16
// CHECK:         muonssm.scan q(%arg0 : {{.*}}) k(%[[K2]] : {{.*}}) decay = none, input = update, tau = 1.000000e+00
// CHECK:         on momentum with tau inside, schedule = <recurrent>
func.func @approximate(%q: tensor<1x40x2x8xf32>, %k: tensor<1x40x2x8xf32>,
    %v: tensor<1x40x2x8xf32>, %b: tensor<1x40x2xf32>, %g: tensor<1x40x2xf32>,
    %cu: tensor<3xi32>)
    -> (tensor<1x40x2x8xf32>, tensor<1x40x2x8xf32>, tensor<1x40x2x8xf32>) {
  %o1 = muonssm.scan q(%q : tensor<1x40x2x8xf32>) k(%k : tensor<1x40x2x8xf32>)
      v(%v : tensor<1x40x2x8xf32>) g(%g : tensor<1x40x2xf32>) beta(%b : tensor<1x40x2xf32>)
      cu_seqlens(%cu : tensor<3xi32>)
      decay = scalar, input = update, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau inside,
      tau = 0.6, scale = 1.0 -> o tensor<1x40x2x8xf32>
  %o2 = muonssm.scan q(%q : tensor<1x40x2x8xf32>) k(%k : tensor<1x40x2x8xf32>)
      v(%v : tensor<1x40x2x8xf32>) decay = none, input = update,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 2> on update with tau after,
      tau = 0.6, scale = 1.0 -> o tensor<1x40x2x8xf32>
  %o3 = muonssm.scan q(%q : tensor<1x40x2x8xf32>) k(%k : tensor<1x40x2x8xf32>)
      v(%v : tensor<1x40x2x8xf32>) g(%g : tensor<1x40x2xf32>) beta(%b : tensor<1x40x2xf32>)
      decay = scalar, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x40x2x8xf32>
  return %o1, %o2, %o3 : tensor<1x40x2x8xf32>, tensor<1x40x2x8xf32>, tensor<1x40x2x8xf32>
}

// -----

func.func @error_input(%q: tensor<1x40x2x8xf32>, %k: tensor<1x40x2x8xf32>,
    %v: tensor<1x40x2x8xf32>) -> tensor<1x40x2x8xf32> {
  // expected-error @+1 {{per-chunk Newton-Schulz (per-chunk=16) cannot replace this scan's: Newton-Schulz of the error input depends on the state}}
  %o = muonssm.scan q(%q : tensor<1x40x2x8xf32>) k(%k : tensor<1x40x2x8xf32>)
      v(%v : tensor<1x40x2x8xf32>) decay = none, input = error,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x40x2x8xf32>
  return %o : tensor<1x40x2x8xf32>
}

// -----

func.func @delta_rule(%q: tensor<1x40x2x8xf32>, %k: tensor<1x40x2x8xf32>,
    %v: tensor<1x40x2x8xf32>, %b: tensor<1x40x2xf32>) -> tensor<1x40x2x8xf32> {
  // expected-error @+1 {{the delta rule's transition reads the token's own key}}
  %o = muonssm.scan q(%q : tensor<1x40x2x8xf32>) k(%k : tensor<1x40x2x8xf32>)
      v(%v : tensor<1x40x2x8xf32>) beta(%b : tensor<1x40x2xf32>)
      decay = none, input = update, delta_rule = 1.0, momentum = 0.9,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x40x2x8xf32>
  return %o : tensor<1x40x2x8xf32>
}

// -----

func.func @longhorn(%q: tensor<1x40x1x8xf32>, %k: tensor<1x40x1x8xf32>,
    %v: tensor<1x40x1x32xf32>, %dt: tensor<1x40x1x32xf32>) -> tensor<1x40x1x32xf32> {
  // expected-error @+1 {{LongHorn's decay and update gain read the token's own key}}
  %o = muonssm.scan q(%q : tensor<1x40x1x8xf32>) k(%k : tensor<1x40x1x8xf32>)
      v(%v : tensor<1x40x1x32xf32>) dt(%dt : tensor<1x40x1x32xf32>)
      decay = longhorn, input = update, momentum = 0.99,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau after,
      tau = 0.6, scale = 1.0 -> o tensor<1x40x1x32xf32>
  return %o : tensor<1x40x1x32xf32>
}

// -----

func.func @grouped_heads(%q: tensor<1x40x1x8xf32>, %k: tensor<1x40x1x8xf32>,
    %v: tensor<1x40x2x8xf32>) -> tensor<1x40x2x8xf32> {
  // expected-error @+1 {{needs as many key heads as value heads (static H = HV), got H = 1, HV = 2}}
  %o = muonssm.scan q(%q : tensor<1x40x1x8xf32>) k(%k : tensor<1x40x1x8xf32>)
      v(%v : tensor<1x40x2x8xf32>) decay = none, input = update,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x40x2x8xf32>
  return %o : tensor<1x40x2x8xf32>
}
