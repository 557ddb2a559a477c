// RUN: muonssm-opt %s -muonssm-to-gpu | FileCheck %s
// RUN: muonssm-opt %s -muonssm-to-gpu | muonssm-translate --emit-ptx | FileCheck %s --check-prefix=PTX
// RUN: muonssm-opt %s -muonssm-to-gpu | muonssm-translate --emit-ptx -o %t.ptx
// RUN: %if ptxas %{ %cuda_bin/ptxas -arch=sm_90a %t.ptx -o %t.cubin %}

// muonssm-to-gpu: NS of the rank-1 update becomes a gain kernel, the scan a
// register-resident kernel; the host function keeps buffers and launches
// (results as out-parameters), the kernels are PTX in a gpu.binary.

// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %arg5: memref<2x64x4x32xbf16> {muonssm.name = "o"}
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1
// CHECK-NOT:     muonssm.scan
// CHECK:       gpu.binary @muonssm_kernels  [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">

// PTX: .target sm_90a
// PTX: .visible .entry muonssm_k0(
// PTX: .visible .entry muonssm_k1(
// PTX: ex2.approx
// PTX: shfl.sync.bfly.b32
func.func @main(%q: tensor<2x64x4x32xbf16> {muonssm.name = "q"}, %k: tensor<2x64x4x32xbf16> {muonssm.name = "k"},
                %v: tensor<2x64x4x32xbf16> {muonssm.name = "v"}, %g: tensor<2x64x4xf32> {muonssm.name = "g"},
                %b: tensor<2x64x4xf32> {muonssm.name = "beta"})
    -> (tensor<2x64x4x32xbf16> {muonssm.name = "o"}) {
  %o = muonssm.scan q(%q : tensor<2x64x4x32xbf16>) k(%k : tensor<2x64x4x32xbf16>)
      v(%v : tensor<2x64x4x32xbf16>) g(%g : tensor<2x64x4xf32>) beta(%b : tensor<2x64x4xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<2x64x4x32xbf16>
  return %o : tensor<2x64x4x32xbf16>
}
