// RUN: muonssm-opt %s -muonssm-read-only-arguments | FileCheck %s

// Tensor arguments become bufferization.writable = false, so the residual
// add below cannot be computed in place in the caller's input buffer:
// bufferization allocates its result instead.
// CHECK: func.func @main(%arg0: tensor<2x2xf32> {bufferization.writable = false, muonssm.name = "a"}, %arg1: index)
func.func @main(%a: tensor<2x2xf32> {muonssm.name = "a"}, %n: index) -> tensor<2x2xf32> {
  %b = arith.addf %a, %a : tensor<2x2xf32>
  return %b : tensor<2x2xf32>
}
