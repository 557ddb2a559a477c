// RUN: muonssm-opt %s -split-input-file -muonssm-outline-layers | FileCheck %s

// Each mixer or model layer becomes a call; layers equal up to their
// location share one private function, a different eps or shape gets its
// own. Scans and elementwise ops stay where they are.

// CHECK-LABEL: func.func @main
// CHECK:         %[[A:.*]] = call @muonssm_rms_norm(%arg0, %arg1)
// CHECK:         %[[B:.*]] = call @muonssm_rms_norm(%[[A]], %arg2)
// CHECK:         %[[C:.*]] = call @muonssm_rms_norm_0(%[[B]], %arg1)
// CHECK:         %[[S:.*]] = arith.addf %[[B]], %[[C]]
// CHECK:         %[[L:.*]] = call @muonssm_linear(%[[S]], %arg3)
// CHECK:         return %[[L]]
// CHECK:       func.func private @muonssm_rms_norm(%{{.*}}: tensor<2x5x8xf32>, %{{.*}}: tensor<8xf32>) -> tensor<2x5x8xf32>
// CHECK-NEXT:    muonssm.rms_norm {{.*}} eps = 1.000000e-05
// CHECK-NEXT:    return
// CHECK:       func.func private @muonssm_rms_norm_0(
// CHECK-NEXT:    muonssm.rms_norm {{.*}} eps = 1.000000e-03
// CHECK:       func.func private @muonssm_linear(
func.func @main(%x: tensor<2x5x8xf32>, %w1: tensor<8xf32>, %w2: tensor<8xf32>,
                %wl: tensor<3x8xf32>) -> tensor<2x5x3xf32> {
  %a = muonssm.rms_norm %x weight(%w1 : tensor<8xf32>) eps = 1.0e-05 : tensor<2x5x8xf32> loc("first")
  %b = muonssm.rms_norm %a weight(%w2 : tensor<8xf32>) eps = 1.0e-05 : tensor<2x5x8xf32> loc("second")
  %c = muonssm.rms_norm %b weight(%w1 : tensor<8xf32>) eps = 1.0e-03 : tensor<2x5x8xf32>
  %s = arith.addf %b, %c : tensor<2x5x8xf32>
  %l = muonssm.linear %s weight(%wl : tensor<3x8xf32>) : tensor<2x5x8xf32> -> tensor<2x5x3xf32>
  return %l : tensor<2x5x3xf32>
}

// -----

// Dynamic sizes stay inline: the caller could not allocate the
// out-parameter a dynamically shaped result becomes.

// CHECK-LABEL: func.func @dynamic
// CHECK:         muonssm.rms_norm
// CHECK-NOT:     call
func.func @dynamic(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %a = muonssm.rms_norm %x weight(%w : tensor<8xf32>) eps = 1.0e-05 : tensor<?x?x8xf32>
  return %a : tensor<?x?x8xf32>
}
