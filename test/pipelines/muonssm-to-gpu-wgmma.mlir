// RUN: muonssm-opt %s -muonssm-to-gpu="wgmma-overlap=false" | muonssm-translate --emit-ptx | FileCheck %s --check-prefix=PTX
// RUN: muonssm-opt %s -muonssm-to-gpu="wgmma-overlap=false" | muonssm-translate --emit-ptx -o %t.ptx
// RUN: %if ptxas %{ %cuda_bin/ptxas -arch=sm_90a %t.ptx -o %t.cubin %}
// RUN: %if ptxas && cuobjdump %{ %cuobjdump -sass %t.cubin | FileCheck %s --check-prefix=SASS %}
// RUN: muonssm-opt %s -muonssm-to-gpu="chip=sm_90" | muonssm-translate --emit-ptx | FileCheck %s --check-prefix=SM90
// RUN: muonssm-opt %s -muonssm-to-gpu | muonssm-translate --emit-ptx -o %t.overlap.ptx
// RUN: FileCheck %s --check-prefix=OVERLAP < %t.overlap.ptx
// RUN: %if ptxas %{ %cuda_bin/ptxas -arch=sm_90a -v %t.overlap.ptx -o %t.overlap.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS %}
// RUN: %if ptxas && cuobjdump %{ %cuobjdump -sass %t.overlap.cubin | FileCheck %s --check-prefix=OVERLAP-SASS %}

// The chunked kernel's products by wgmma on sm_90a: Gated DeltaNet at
// 16 × 16 (sequence, head) pairs, K = V = 128, takes one 128-column value
// tile and, with each wgmma group waited for at once (wgmma-overlap=false),
// solves T in the chunk, so warpgroup 1 forms K S over the whole
// tile beside the solve (m64n128k16), and each warpgroup its half of T W',
// Q S, P U and the state update Kᵀ Y (m64n64k16; Kᵀ M-major: tnspA), from
// 128-byte-swizzled tiles in a shared buffer aligned to 1024 bytes, after
// the threads' proxy fences. Q Kᵀ and the solve's blocks stay mma.sync.
// wgmma is sm_90a's alone: for sm_90 the same scan keeps mma.sync.

// PTX: .target sm_90a
// PTX: .extern .shared .align 1024 .b8 muonssm_smem[];
// PTX-DAG: fence.proxy.async.shared::cta;
// PTX-DAG: wgmma.fence.sync.aligned;
// PTX-DAG: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// PTX-DAG: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// PTX-DAG: wgmma.commit_group.sync.aligned;
// PTX-DAG: wgmma.wait_group.sync.aligned 0;
// PTX-DAG: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32

// SASS-DAG: HGMMA.64x128x16.F32.BF16
// SASS-DAG: HGMMA.64x64x16.F32.BF16 {{.*}}.tnspB
// SASS-DAG: HGMMA.64x64x16.F32.BF16 {{.*}}.tnspA.tnspB
// SASS-DAG: HMMA.16816.F32.BF16

// With wgmma-overlap (the default; T then comes from the solve kernel)
// the state update runs while o is stored: the PTX waits
// for all but the last group, and ptxas keeps the pipeline (it reports
// "Potential Performance Loss: wgmma.mma_async instructions are serialized"
// where it cannot, as it did for the paper form's kernel when K S, K M,
// Q S and Q M were all issued early) without spilling.
// OVERLAP: wgmma.commit_group.sync.aligned;
// OVERLAP: wgmma.wait_group.sync.aligned 1;
// OVERLAP: st.global
// OVERLAP: wgmma.wait_group.sync.aligned 0;
// PTXAS-NOT: Potential Performance Loss
// PTXAS: 0 bytes spill stores, 0 bytes spill loads
// PTXAS-NOT: Potential Performance Loss
// OVERLAP-SASS: WARPGROUP.DEPBAR.LE gsb0, 0x1
// OVERLAP-SASS: STG
// OVERLAP-SASS: WARPGROUP.DEPBAR.LE gsb0, 0x0

// SM90: .target sm_90
// SM90-NOT: wgmma
// SM90: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// SM90-NOT: wgmma
func.func @main(%q: tensor<16x64x16x128xbf16> {muonssm.name = "q"},
                %k: tensor<16x64x16x128xbf16> {muonssm.name = "k"},
                %v: tensor<16x64x16x128xbf16> {muonssm.name = "v"},
                %g: tensor<16x64x16xf32> {muonssm.name = "g"},
                %b: tensor<16x64x16xf32> {muonssm.name = "beta"})
    -> (tensor<16x64x16x128xbf16> {muonssm.name = "o"}) {
  %o = muonssm.scan q(%q : tensor<16x64x16x128xbf16>) k(%k : tensor<16x64x16x128xbf16>)
      v(%v : tensor<16x64x16x128xbf16>) g(%g : tensor<16x64x16xf32>) beta(%b : tensor<16x64x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      tau = 1.0, scale = 0.088 -> o tensor<16x64x16x128xbf16>
  return %o : tensor<16x64x16x128xbf16>
}
