// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu | FileCheck %s --check-prefix=DEF
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu="value-tile=32 solve=kernel" | FileCheck %s --check-prefix=VT32
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu="value-tile=32 blocks-per-sm=2 solve=kernel" | FileCheck %s --check-prefix=TWO32
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu="value-tile=64 blocks-per-sm=2" | FileCheck %s --check-prefix=TWO64
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=blocks-per-sm=1 | FileCheck %s --check-prefix=ONE
// RUN: not muonssm-opt %s -split-input-file -muonssm-lower-to-gpu="value-tile=128 blocks-per-sm=2" 2>&1 | FileCheck %s --check-prefix=NOFIT
// RUN: not muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=value-tile=40 2>&1 | FileCheck %s --check-prefix=BADTILE
// RUN: not muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=blocks-per-sm=3 2>&1 | FileCheck %s --check-prefix=BADBLOCKS

// The tuning experiments of docs/gpu.md §3.7: `value-tile` fixes the value
// columns a block of the chunked kernel, `blocks-per-sm=2` lays its shared
// memory out for two blocks an SM (at most 228 KiB / 2 less the driver's
// 1 KiB a block: 115712 bytes, q/k/v buffered once where twice does not fit)
// and asks for ≤ 128 registers (.minnctapersm 2). Gated DeltaNet at 4 × 16
// (sequence, head) pairs, K = V = 128, T from the solve kernel.

// By the sizes: two 64-column tiles (128 blocks), q/k/v double-buffered,
// one block an SM.
// DEF-LABEL:  func.func @gdn
// DEF:          gpu.launch_func  @muonssm_kernels::@muonssm_k0_solve
// DEF:          gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks in (%c2{{(_[0-9]+)?}}, {{.*}} dynamic_shared_memory_size %c142848_i32
// DEF:        gpu.func @muonssm_k0({{.*}} kernel attributes {known_block_size = array<i32: 256, 1, 1>} {

// Four 32-column tiles, still double-buffered. Set by hand they take wgmma
// (by the sizes, @narrow below, 32-column tiles keep mma.sync until a GPU
// has checked them): each warpgroup's 16 columns one 32-byte-swizzled
// panel (memref<2x64x16xbf16>), descriptors with a stride of eight 32-byte
// rows (256: 16 << 32) and swizzle mode 3 (bits 62-63), m64n16k16.
// VT32-LABEL: func.func @gdn
// VT32:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks in (%c4{{(_[0-9]+)?}}, {{.*}} dynamic_shared_memory_size %c118272_i32
// VT32:       gpu.func @muonssm_k0({{.*}} kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
// VT32:         memref.view {{.*}} to memref<2x64x16xbf16, #gpu.address_space<workgroup>>
// VT32:         scf.for
// VT32:           arith.constant -4611685949707911168 : i64
// VT32:           nvvm.wgmma.mma_async {{.*}} <m = 64, n = 16, k = 16>

// Two of them an SM: still double-buffered, 4 KiB less with Y = D_e ⊙ U
// in the chunk's own v tile (v is last read in forming W'), which only
// such a layout takes.
// TWO32-LABEL: func.func @gdn
// TWO32:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks in (%c4{{(_[0-9]+)?}}, {{.*}} dynamic_shared_memory_size %c114176_i32
// TWO32:       gpu.func @muonssm_k0({{.*}} kernel attributes {known_block_size = array<i32: 256, 1, 1>, nvvm.minctasm = 2 : i32} {
// TWO32:         nvvm.wgmma.mma_async {{.*}} <m = 64, n = 16, k = 16>

// Two 64-column blocks an SM keep wgmma (solve kernel by the sizes).
// TWO64-LABEL: func.func @gdn
// TWO64:         gpu.launch_func  @muonssm_kernels::@muonssm_k0_solve
// TWO64:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks in (%c2{{(_[0-9]+)?}}, {{.*}} dynamic_shared_memory_size %c92672_i32
// TWO64:       gpu.func @muonssm_k0({{.*}} kernel attributes {known_block_size = array<i32: 256, 1, 1>, nvvm.minctasm = 2 : i32} {
// TWO64:         nvvm.wgmma.mma_async

// A 128-column tile does not fit twice even buffered once.
// NOFIT: error: 'muonssm.scan' op two tensor-core chunked blocks an SM (blocks-per-sm=2) need {{[0-9]+}} bytes of shared memory each, above the 115712 of half an sm_90 SM

// BADTILE: error: muonssm-lower-to-gpu: value-tile=40 is not 0 or a multiple of 16 from 16 to 128
// BADBLOCKS: error: muonssm-lower-to-gpu: blocks-per-sm=3 is not 0, 1 or 2
func.func @gdn(%q: tensor<4x128x16x128xbf16>, %k: tensor<4x128x16x128xbf16>,
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

// The seed code's layer (8 × 9 pairs, K = 56, V = 112): by the sizes three
// 48-column tiles two blocks an SM (lower-to-gpu.mlir); blocks-per-sm=1
// keeps the one 112-column tile.
// DEF-LABEL:  func.func @seed_code
// DEF:          gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks in (%c3{{(_[0-9]+)?}},
// DEF:        gpu.func @muonssm_k0({{.*}} nvvm.minctasm = 2 : i32} {
// ONE-LABEL:  func.func @seed_code
// ONE:          gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks in (%c1{{(_[0-9]+)?}},
// ONE:        gpu.func @muonssm_k0({{.*}} kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
func.func @seed_code(%q: tensor<8x64x9x56xbf16>, %k: tensor<8x64x9x56xbf16>,
    %v: tensor<8x64x9x112xbf16>, %g: tensor<8x64x9xf32>, %b: tensor<8x64x9xf32>)
    -> tensor<8x64x9x112xbf16> {
  %o = muonssm.scan q(%q : tensor<8x64x9x56xbf16>) k(%k : tensor<8x64x9x56xbf16>)
      v(%v : tensor<8x64x9x112xbf16>) g(%g : tensor<8x64x9xf32>) beta(%b : tensor<8x64x9xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.134
      -> o tensor<8x64x9x112xbf16>
  return %o : tensor<8x64x9x112xbf16>
}

// -----

// K = 64, V = 32: one 32-column tile by the sizes, on mma.sync.
// DEF-LABEL:  func.func @narrow
// DEF:        gpu.func @muonssm_k0(
// DEF-NOT:      nvvm.wgmma.mma_async
// DEF:          gpu.return
// VT32-LABEL: func.func @narrow
// VT32:       gpu.func @muonssm_k0(
// VT32:         nvvm.wgmma.mma_async {{.*}} <m = 64, n = 16, k = 16>
func.func @narrow(%q: tensor<2x130x4x64xbf16>, %k: tensor<2x130x4x64xbf16>,
    %v: tensor<2x130x4x32xbf16>, %g: tensor<2x130x4xf32>, %b: tensor<2x130x4xf32>)
    -> tensor<2x130x4x32xbf16> {
  %o = muonssm.scan q(%q : tensor<2x130x4x64xbf16>) k(%k : tensor<2x130x4x64xbf16>)
      v(%v : tensor<2x130x4x32xbf16>) g(%g : tensor<2x130x4xf32>) beta(%b : tensor<2x130x4xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<2x130x4x32xbf16>
  return %o : tensor<2x130x4x32xbf16>
}
