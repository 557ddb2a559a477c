// RUN: muonssm-opt %s -muonssm-to-gpu | FileCheck %s
// RUN: muonssm-opt %s -muonssm-to-gpu | muonssm-translate --emit-ptx | FileCheck %s --check-prefix=PTX
// RUN: muonssm-opt %s -muonssm-to-gpu | muonssm-translate --emit-ptx -o %t.ptx
// RUN: %if ptxas %{ %cuda_bin/ptxas -arch=sm_90a %t.ptx -o %t.cubin %}
// RUN: %if ptxas && cuobjdump %{ %cuobjdump -sass %t.cubin | FileCheck %s --check-prefix=SASS %}

// muonssm-to-gpu: NS of the rank-1 update becomes a gain, which the
// chunked scan's (bf16, momentum, delta rule) solve kernel forms beside T
// (no kernel of its own), then the tensor-core kernel; the host function
// keeps buffers and launches (results as out-parameters), the kernels are
// PTX in a gpu.binary.

// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %arg5: memref<2x64x4x32xbf16> {muonssm.name = "o"}
// CHECK-NOT:     @muonssm_k0
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1_solve
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1
// CHECK-SAME:      threads in (%{{.*}}, %{{.*}}, %{{.*}}) dynamic_shared_memory_size
// CHECK-SAME:      muonssm.products = bf16
// CHECK-NOT:     muonssm.scan
// CHECK:       gpu.binary @muonssm_kernels  [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">

// The solve kernel reads v 16 bytes a load for the gain, and multiplies
// the triangular solve's 16×16 blocks as tf32 on tensor cores (HMMA.1688);
// the scan's products are bf16 mma.sync with ldmatrix operands, its
// q/k/v tiles arrive by cp.async (16 bytes), its f32 gates by 4-byte
// cp.async.
// PTX: .target sm_90a
// PTX-NOT: .entry muonssm_k0(
// PTX-DAG: .visible .entry muonssm_k1_solve(
// PTX-DAG: .visible .entry muonssm_k1(
// PTX-DAG: ld.global.v4.b32
// PTX-DAG: atom.shared.max.u32
// PTX-DAG: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-DAG: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// PTX-DAG: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX-DAG: cp.async.cg.shared.global
// PTX-DAG: cp.async.ca.shared.global [{{.*}}], [{{.*}}], 4,
// PTX-DAG: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32

// SASS-DAG: HMMA.16816.F32.BF16
// SASS-DAG: HMMA.1688.F32.TF32
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
