// RUN: muonssm-opt %s -muonssm-to-gpu | muonssm-translate --emit-ptx | FileCheck %s --check-prefix=PTX --implicit-check-not=cvt.rna
// RUN: muonssm-opt %s -muonssm-to-gpu | muonssm-translate --emit-ptx -o %t.ptx
// RUN: %if ptxas %{ %cuda_bin/ptxas -arch=sm_90a %t.ptx -o %t.cubin %}
// RUN: %if ptxas && cuobjdump %{ %cuobjdump -sass %t.cubin | FileCheck %s --check-prefix=SASS %}
// RUN: rm -rf %t.bundle %t.bad
// RUN: %if ptxas %{ muonssm-opt %s -muonssm-to-gpu | muonssm-translate --emit-bundle -o %t.bundle %}
// RUN: %if ptxas %{ FileCheck %s --check-prefix=MANIFEST < %t.bundle/manifest.json %}
// RUN: %if ptxas %{ cp -r %t.bundle %t.bad %}
// RUN: %if ptxas %{ sed -i 's/"products": "tf32"/"products": "fp8"/' %t.bad/manifest.json %}
// RUN: %if ptxas %{ not muonssm-bundle-run %t.bad 2>&1 | FileCheck %s --check-prefix=BADPRODUCTS %}

// The bundle records the rounding, and the runner's check takes its
// tolerance from it; a rounding it does not know is an error.
// MANIFEST: "products": "tf32"
// BADPRODUCTS: error: {{.*}}products: expected bf16, f16 or tf32

// Newton-Schulz of the whole momentum (the seed's Muon Gated DeltaNet): the
// fused kernel's R M' runs on tensor cores, operands rounded to tf32 (bf16
// inputs: half a tf32 unit added, the low bits left to the tensor cores,
// no cvt.rna, which ptxas would emulate), straight into S held in the
// accumulator layout; u and o are warp butterfly sums. R, only ever an A
// operand, is stored rounded and read by ldmatrix (8 × 4 f32 blocks as
// 8 × 8 b16 matrices).
// PTX: .target sm_90a
// PTX: .visible .entry muonssm_k0(
// PTX-DAG: add.s32 {{%r[0-9]+}}, {{%r[0-9]+}}, 4096;
// PTX-DAG: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
// PTX-DAG: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX-DAG: shfl.sync.bfly.b32

// SASS-DAG: HMMA.1688.F32.TF32
// SASS-DAG: LDSM.16.M88.4
func.func @main(%q: tensor<2x33x2x42xbf16> {muonssm.name = "q"}, %k: tensor<2x33x2x42xbf16> {muonssm.name = "k"},
                %v: tensor<2x33x2x84xbf16> {muonssm.name = "v"}, %g: tensor<2x33x2xf32> {muonssm.name = "g"},
                %b: tensor<2x33x2xf32> {muonssm.name = "beta"})
    -> (tensor<2x33x2x84xbf16> {muonssm.name = "o"}) {
  %o = muonssm.scan q(%q : tensor<2x33x2x42xbf16>) k(%k : tensor<2x33x2x42xbf16>)
      v(%v : tensor<2x33x2x84xbf16>) g(%g : tensor<2x33x2xf32>) beta(%b : tensor<2x33x2xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 0.1543033499620919 -> o tensor<2x33x2x84xbf16>
  return %o : tensor<2x33x2x84xbf16>
}
