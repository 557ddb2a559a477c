// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu | FileCheck %s
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=wgmma-overlap=false | FileCheck %s --check-prefix=OFF
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=solve=chunk | FileCheck %s --check-prefix=CHUNK

// wgmma-overlap (docs/gpu.md §3.5, on by default): the chunked kernel's
// independent wgmma groups run beside other work and are waited for
// (wait_group N: all but the N groups committed last) where their results
// are read, through an empty asm that keeps LLVM from reading them earlier.
//
// Gated DeltaNet at 4 × 16 pairs, K = V = 128: T from the solve kernel,
// 64-column value tiles (m64n32k16 a warpgroup). K S and Q S are issued as
// two groups right after the chunk's first barrier; Q Kᵀ runs on mma.sync
// meanwhile; the right-hand side waits for K S alone (1 group later). At
// the chunk's end P U (onto the scaled Q S) and the state update Kᵀ Y
// (M-major) are issued back to back, o is stored while the update runs,
// and the update is waited for before the barrier that precedes the state
// copies' stores. Without the option every group is waited for at once.

// CHECK-LABEL: func.func @gdn_presolved
// CHECK:       gpu.func @muonssm_k0(
// CHECK:         scf.for
// CHECK:           gpu.barrier
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK-COUNT-8:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>, {{.*}} A[<bf16>, <one>, <row>]
// CHECK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK-COUNT-8:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>, {{.*}} A[<bf16>, <one>, <row>]
// CHECK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHECK-NOT:       nvvm.wgmma.wait
// CHECK:           nvvm.mma.sync
// CHECK-NOT:       nvvm.wgmma.wait
// CHECK:           gpu.barrier
// CHECK-NEXT:      nvvm.wgmma.wait.group.sync.aligned 1
// CHECK-COUNT-16:  llvm.extractvalue
// CHECK-NEXT:      llvm.inline_asm has_side_effects "", "{{(=f,)+}}0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15"
//                  T W', waited for at once:
// CHECK:           nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:      nvvm.wgmma.wait.group.sync.aligned 0
//                  Q S:
// CHECK:           nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:           llvm.inline_asm has_side_effects ""
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK-COUNT-4:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>]
// CHECK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK-COUNT-8:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <col>]
// CHECK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:      nvvm.wgmma.wait.group.sync.aligned 1
// CHECK:           llvm.inline_asm has_side_effects ""
// CHECK-COUNT-8:   vector.store {{.*}} : memref<?xbf16>, vector<2xbf16>
// CHECK:           nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:           llvm.inline_asm has_side_effects "", "{{(=f,)+}}0,
// CHECK:           gpu.barrier
// CHECK:         scf.yield

// OFF-LABEL: func.func @gdn_presolved
// OFF-NOT:   nvvm.wgmma.wait.group.sync.aligned 1
// OFF-NOT:   llvm.inline_asm has_side_effects ""
// OFF:       return
func.func @gdn_presolved(%q: tensor<4x128x16x128xbf16>, %k: tensor<4x128x16x128xbf16>,
    %v: tensor<4x128x16x128xbf16>, %g: tensor<4x128x16xf32>, %b: tensor<4x128x16xf32>)
    -> tensor<4x128x16x128xbf16> {
  %o = muonssm.scan q(%q : tensor<4x128x16x128xbf16>) k(%k : tensor<4x128x16x128xbf16>)
      v(%v : tensor<4x128x16x128xbf16>) g(%g : tensor<4x128x16xf32>) beta(%b : tensor<4x128x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.088
      -> o tensor<4x128x16x128xbf16>
  return %o : tensor<4x128x16x128xbf16>
}

// -----

// Where the chunk solves its own T (solve=chunk here: at 16 × 16 pairs
// auto presolves when the groups overlap, lower-to-gpu-solve.mlir),
// warpgroup 1 forms K S inside that branch (waited for at once), so only
// Q S starts early, from the chunk's first barrier, beside Q Kᵀ, the solve
// and K S; the chunk's end overlaps as above: P U, then the state update,
// o stored between the waits.

// CHUNK-LABEL: func.func @gdn_in_chunk_solve
// CHUNK:       gpu.func @muonssm_k0(
// CHUNK:         scf.for
// CHUNK:           gpu.barrier
// CHUNK:           nvvm.wgmma.fence.aligned
// CHUNK:           nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <zero>], A[<bf16>, <one>, <row>]
// CHUNK-COUNT-7:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>]
// CHUNK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHUNK-NOT:       nvvm.wgmma.wait
// CHUNK:           nvvm.mma.sync
// CHUNK-NOT:       nvvm.wgmma.wait
// CHUNK:           nvvm.wgmma.mma_async {{.*}} <m = 64, n = 128, k = 16>
//                  K S, T W' waited for at once, then Q S:
// CHUNK-COUNT-3:   nvvm.wgmma.wait.group.sync.aligned 0
// CHUNK-NEXT:      llvm.extractvalue
// CHUNK-NOT:       nvvm.wgmma.wait.group.sync.aligned 1
// CHUNK:           nvvm.wgmma.fence.aligned
// CHUNK-COUNT-4:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>]
// CHUNK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHUNK:           nvvm.wgmma.fence.aligned
// CHUNK-COUNT-8:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <col>]
// CHUNK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHUNK-NEXT:      nvvm.wgmma.wait.group.sync.aligned 1
// CHUNK-COUNT-16:  vector.store {{.*}} : memref<?xbf16>, vector<2xbf16>
// CHUNK:           nvvm.wgmma.wait.group.sync.aligned 0
// CHUNK:           gpu.barrier
// CHUNK:         scf.yield
func.func @gdn_in_chunk_solve(%q: tensor<16x64x16x128xbf16>, %k: tensor<16x64x16x128xbf16>,
    %v: tensor<16x64x16x128xbf16>, %g: tensor<16x64x16xf32>, %b: tensor<16x64x16xf32>)
    -> tensor<16x64x16x128xbf16> {
  %o = muonssm.scan q(%q : tensor<16x64x16x128xbf16>) k(%k : tensor<16x64x16x128xbf16>)
      v(%v : tensor<16x64x16x128xbf16>) g(%g : tensor<16x64x16xf32>) beta(%b : tensor<16x64x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.088
      -> o tensor<16x64x16x128xbf16>
  return %o : tensor<16x64x16x128xbf16>
}

// -----

// The paper form at 128-column tiles: K S, K M, Q S and Q M together would
// hold 128 accumulators a thread (it spilled), so none starts early. o's
// P C and PΩ V are two groups, the second accumulating onto the first's
// accumulators unwaited, then the state updates Kᵀ Y, Kᵀ Z.

// CHECK-LABEL: func.func @paper_bv128
// CHECK:       gpu.func @muonssm_k0(
// CHECK:         scf.for
//                  K S and K M, L^E V, C = T·RHS, Q S and Q M:
// CHECK-COUNT-4:   nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NOT:       nvvm.wgmma.wait.group.sync.aligned 1
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK-COUNT-3:   nvvm.wgmma.mma_async {{.*}} D[<f32>, <one>], A[<bf16>, <one>, <row>]
// CHECK:           %[[PC:.*]] = nvvm.wgmma.mma_async
// CHECK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:      nvvm.wgmma.fence.aligned
// CHECK:           nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[PC]], <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>]
// CHECK-COUNT-3:   nvvm.wgmma.mma_async {{.*}} A[<bf16>, <one>, <row>]
// CHECK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK-COUNT-16:  nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <col>]
// CHECK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:      nvvm.wgmma.wait.group.sync.aligned 1
// CHECK:           nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:           gpu.barrier
// CHECK:         scf.yield
func.func @paper_bv128(%q: tensor<8x64x16x128xbf16>, %k: tensor<8x64x16x128xbf16>,
    %v: tensor<8x64x16x128xbf16>, %g: tensor<8x64x16xf32>, %b: tensor<8x64x16xf32>,
    %gain: tensor<8x64x16xf32>) -> tensor<8x64x16x128xbf16> {
  %o = muonssm.scan q(%q : tensor<8x64x16x128xbf16>) k(%k : tensor<8x64x16x128xbf16>)
      v(%v : tensor<8x64x16x128xbf16>) g(%g : tensor<8x64x16xf32>) beta(%b : tensor<8x64x16xf32>)
      gain(%gain : tensor<8x64x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 64>, tau = 1.0, scale = 1.0
      -> o tensor<8x64x16x128xbf16>
  return %o : tensor<8x64x16x128xbf16>
}
