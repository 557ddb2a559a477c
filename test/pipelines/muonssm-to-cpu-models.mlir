// RUN: muonssm-opt %s -muonssm-to-cpu | FileCheck %s

// A model's layers through the whole CPU pipeline: static layers are
// outlined into one function per distinct layer (two identical norms, one
// function), a mixer with dynamic B and L stays in the entry function (a
// dynamically shaped result cannot become an out-parameter) and still
// lowers.

// CHECK-DAG:   llvm.func @main(
// CHECK-DAG:   llvm.func @muonssm_rms_norm(
// CHECK-NOT:   llvm.func @muonssm_rms_norm_0(
// CHECK-NOT:   llvm.func @muonssm_selective_mixer
func.func @main(%x: tensor<2x6x4xf32>, %n1: tensor<4xf32>, %n2: tensor<4xf32>,
    %xd: tensor<?x?x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>,
    %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>,
    %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> (tensor<2x6x4xf32>, tensor<?x?x4xf32>) {
  %a = muonssm.rms_norm %x weight(%n1 : tensor<4xf32>) eps = 1.0e-05 : tensor<2x6x4xf32>
  %b = muonssm.rms_norm %a weight(%n2 : tensor<4xf32>) eps = 1.0e-05 : tensor<2x6x4xf32>
  %y = muonssm.selective_mixer longhorn x(%xd : tensor<?x?x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 1.0 -> tensor<?x?x4xf32>
  return %b, %y : tensor<2x6x4xf32>, tensor<?x?x4xf32>
}
