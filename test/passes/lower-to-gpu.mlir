// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=wgmma-overlap=false | FileCheck %s
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=chip=sm_80 2>&1 | FileCheck %s --check-prefix=CHIP

// A scan becomes a kernel in gpu.module @muonssm_kernels and, on the host, a
// launch on flat views of its operands and results: grid (value tiles,
// value heads, sequences), 128 threads. The kernel keeps the state in
// registers: a vector of rows per lane carried through the token loop, and
// column sums by xor shuffles.

// CHIP: gpu.module @muonssm_kernels [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">]
// CHIP-NOT: nvvm.wgmma

// The checks below describe chunked kernels whose wgmma groups are each
// waited for at once (wgmma-overlap=false), and where those take T from:
// the default overlaps the groups (lower-to-gpu-wgmma-overlap.mlir), and
// then presolves wherever the sizes are known and the presolved kernel
// has wgmma (lower-to-gpu-solve.mlir).

// CHECK-LABEL: func.func @gated_deltanet
// CHECK-SAME:    muonssm.reference = "func.func @gated_deltanet
// CHECK:         %[[Q:.*]] = bufferization.to_buffer %arg0 read_only
// CHECK:         memref.collapse_shape %[[Q]] {{\[}}[0, 1, 2, 3]]
// CHECK:         %[[O:.*]] = memref.alloc() : memref<2x24x4x64xbf16>
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks in
// CHECK-SAME:      args(%{{[^ ]+}} : memref<?xbf16>, %{{[^ ]+}} : memref<?xbf16>, %{{[^ ]+}} : memref<?xbf16>, %{{[^ ]+}} : memref<?xf32>, %{{[^ ]+}} : memref<?xf32>, %{{[^ ]+}} : memref<?xbf16>, %{{[^ ]+}} : i32, %{{[^ ]+}} : i32, %{{[^ ]+}} : i32, %{{[^ ]+}} : i32)
// CHECK:         bufferization.to_tensor %[[O]] restrict writable
// CHECK:       gpu.module @muonssm_kernels [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">]
// CHECK:         gpu.func @muonssm_k0(%arg0: memref<?xbf16> {muonssm.arg = "q"}
// CHECK-SAME:      known_block_size = array<i32: 128, 1, 1>
// CHECK:           scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, f32, f32, f32, f32)
// CHECK:             math.exp
// CHECK:             gpu.shuffle  xor
// CHECK:             math.fma
// CHECK:             scf.if
// CHECK:               memref.store %{{.*}}, %arg5
func.func @gated_deltanet(%q: tensor<2x24x4x64xbf16>, %k: tensor<2x24x4x64xbf16>,
    %v: tensor<2x24x4x64xbf16>, %g: tensor<2x24x4xf32>, %b: tensor<2x24x4xf32>)
    -> tensor<2x24x4x64xbf16> {
  %o = muonssm.scan q(%q : tensor<2x24x4x64xbf16>) k(%k : tensor<2x24x4x64xbf16>)
      v(%v : tensor<2x24x4x64xbf16>) g(%g : tensor<2x24x4xf32>) beta(%b : tensor<2x24x4xf32>)
      decay = scalar, input = update, delta_rule = 1.0, tau = 1.0, scale = 0.125
      -> o tensor<2x24x4x64xbf16>
  return %o : tensor<2x24x4x64xbf16>
}

// -----

// A decode step (T < 16) is the state's load and store through a shared tile:
// 32 rows per lane (4 lanes per column at K = 128), 32 columns per block,
// lane l holding rows l, l + 4, …, so a pitch of 32 + 8 floats keeps the
// tile reads free of bank conflicts (128 × 40 floats); the tile is 16-byte
// aligned and its rows move as float4s in both directions. The sequence's
// inputs are staged whole beside it (k and q rows, the block's 32 v
// columns, g and β: 290 floats), their loads issued with the state's
// (eight float4s a thread) before one barrier; the token then runs from
// shared memory, unrolled.

// CHECK-LABEL: func.func @decode
// CHECK:       gpu.func @muonssm_k0
// CHECK-SAME:    workgroup(%[[TILE:[^ ]+]] : memref<5120xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[STAGE:[^ ]+]] : memref<290xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-COUNT-8: vector.load %{{[^[]+}}[%{{[^]]+}}] {alignment = 16 : i64} : memref<?xf32>, vector<4xf32>
// CHECK-NOT:     gpu.barrier
// CHECK:         memref.load %arg1
// CHECK-NOT:     gpu.barrier
// CHECK-COUNT-8: vector.store %{{.*}}, %[[TILE]]
// CHECK-NOT:     gpu.barrier
// CHECK:         memref.store %{{.*}}, %[[STAGE]]
// CHECK-NOT:     gpu.barrier
// CHECK:         gpu.barrier
// CHECK:         memref.load %[[TILE]]
// CHECK-NOT:     scf.for
// CHECK:         memref.load %[[STAGE]]
// CHECK-NOT:     scf.for
// CHECK:         vector.load %[[TILE]]
// CHECK:         gpu.return
func.func @decode(%q: tensor<64x1x16x128xbf16>, %k: tensor<64x1x16x128xbf16>,
    %v: tensor<64x1x16x128xbf16>, %g: tensor<64x1x16xf32>, %b: tensor<64x1x16xf32>,
    %s0: tensor<64x16x128x128xf32>)
    -> (tensor<64x1x16x128xbf16>, tensor<64x16x128x128xf32>) {
  %o, %s = muonssm.scan q(%q : tensor<64x1x16x128xbf16>) k(%k : tensor<64x1x16x128xbf16>)
      v(%v : tensor<64x1x16x128xbf16>) g(%g : tensor<64x1x16xf32>) beta(%b : tensor<64x1x16xf32>)
      initial_state(%s0 : tensor<64x16x128x128xf32>)
      decay = scalar, input = update, delta_rule = 1.0, tau = 1.0, scale = 0.125
      -> o tensor<64x1x16x128xbf16> final_state tensor<64x16x128x128xf32>
  return %o, %s : tensor<64x1x16x128xbf16>, tensor<64x16x128x128xf32>
}

// -----

// Decode with momentum: both states' loads (sixteen float4s a thread) are
// issued before the first barrier; the momentum passes through the tile
// once every thread has read its rows of S.

// CHECK-LABEL: func.func @decode_momentum
// CHECK:       gpu.func @muonssm_k0
// CHECK-SAME:    workgroup(%[[TILE:[^ ]+]] : memref<5120xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{[^ ]+}} : memref<290xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-COUNT-8: vector.load %arg5
// CHECK-COUNT-8: vector.load %arg6
// CHECK-NOT:     gpu.barrier
// CHECK-COUNT-8: vector.store %{{.*}}, %[[TILE]]
// CHECK:         gpu.barrier
// CHECK:         memref.load %[[TILE]]
// CHECK:         gpu.barrier
// CHECK-COUNT-8: vector.store %{{.*}}, %[[TILE]]
// CHECK-NEXT:    gpu.barrier
// CHECK:         gpu.return
func.func @decode_momentum(%q: tensor<64x1x16x128xbf16>, %k: tensor<64x1x16x128xbf16>,
    %v: tensor<64x1x16x128xbf16>, %g: tensor<64x1x16xf32>, %b: tensor<64x1x16xf32>,
    %s0: tensor<64x16x128x128xf32>, %m0: tensor<64x16x128x128xf32>)
    -> (tensor<64x1x16x128xbf16>, tensor<64x16x128x128xf32>, tensor<64x16x128x128xf32>) {
  %o, %s, %m = muonssm.scan q(%q : tensor<64x1x16x128xbf16>) k(%k : tensor<64x1x16x128xbf16>)
      v(%v : tensor<64x1x16x128xbf16>) g(%g : tensor<64x1x16xf32>) beta(%b : tensor<64x1x16xf32>)
      initial_state(%s0 : tensor<64x16x128x128xf32>) initial_momentum(%m0 : tensor<64x16x128x128xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9, tau = 1.0, scale = 0.125
      -> o tensor<64x1x16x128xbf16> final_state tensor<64x16x128x128xf32> final_momentum tensor<64x16x128x128xf32>
  return %o, %s, %m : tensor<64x1x16x128xbf16>, tensor<64x16x128x128xf32>, tensor<64x16x128x128xf32>
}

// -----

// A short sequence is staged whole where it fits the static 48 KiB beside
// the state tile: at K = 256 (8 lanes of 32 rows a column, 16 columns, a
// 256 × 20 tile: 20 KiB) Gated DeltaNet takes 530 floats a token, so 13
// tokens are staged (6890 floats) and unrolled, and 14 keep the token loop
// with the next token's k and q rows in registers.

// CHECK-LABEL: func.func @short_k256_staged
// CHECK:       gpu.func @muonssm_k0
// CHECK-SAME:    workgroup(%{{[^ ]+}} : memref<5120xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{[^ ]+}} : memref<6890xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-NOT:     scf.for
// CHECK:         gpu.return
func.func @short_k256_staged(%q: tensor<2x13x1x256xbf16>, %k: tensor<2x13x1x256xbf16>,
    %v: tensor<2x13x1x256xbf16>, %g: tensor<2x13x1xf32>, %b: tensor<2x13x1xf32>)
    -> tensor<2x13x1x256xbf16> {
  %o = muonssm.scan q(%q : tensor<2x13x1x256xbf16>) k(%k : tensor<2x13x1x256xbf16>)
      v(%v : tensor<2x13x1x256xbf16>) g(%g : tensor<2x13x1xf32>) beta(%b : tensor<2x13x1xf32>)
      decay = scalar, input = update, delta_rule = 1.0, tau = 1.0, scale = 0.0625
      -> o tensor<2x13x1x256xbf16>
  return %o : tensor<2x13x1x256xbf16>
}

// -----

// CHECK-LABEL: func.func @short_k256_unstaged
// CHECK:       gpu.func @muonssm_k0
// CHECK-SAME:    workgroup(%{{[^ ]+}} : memref<5120xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK:         scf.for {{.*}} -> (vector<32xf32>, vector<32xf32>, vector<32xf32>, f32, f32, f32, f32)
func.func @short_k256_unstaged(%q: tensor<2x14x1x256xbf16>, %k: tensor<2x14x1x256xbf16>,
    %v: tensor<2x14x1x256xbf16>, %g: tensor<2x14x1xf32>, %b: tensor<2x14x1xf32>)
    -> tensor<2x14x1x256xbf16> {
  %o = muonssm.scan q(%q : tensor<2x14x1x256xbf16>) k(%k : tensor<2x14x1x256xbf16>)
      v(%v : tensor<2x14x1x256xbf16>) g(%g : tensor<2x14x1xf32>) beta(%b : tensor<2x14x1xf32>)
      decay = scalar, input = update, delta_rule = 1.0, tau = 1.0, scale = 0.0625
      -> o tensor<2x14x1x256xbf16>
  return %o : tensor<2x14x1x256xbf16>
}

// -----

// Mamba's decay with momentum: 2^(Δ_j·A[h,i,j]·log₂e) per row by the ftz
// ex2 intrinsic, a second register vector for the momentum (K = 16: four
// rows per lane). A short sequence (9 tokens) is staged whole in one buffer,
// 9·(2·16 + 2·32 + 1) floats (q and k rows, the v and Δ columns, β being Δ,
// and the gain), and its tokens unrolled; the final states leave through
// the tile (16 × 40 floats).

// CHECK-LABEL: func.func @mamba
// CHECK:       gpu.func @muonssm_k0
// CHECK-SAME:    workgroup(%[[TILE:[^ ]+]] : memref<640xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[STAGE:[^ ]+]] : memref<873xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK:         memref.store %{{.*}}, %[[STAGE]]
// CHECK:         gpu.barrier
// CHECK-NOT:     scf.for
// CHECK:         memref.load %[[STAGE]]
// CHECK:         arith.mulf %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK:         llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// CHECK:         math.fma %{{.*}} : vector<4xf32>
// CHECK-NOT:     scf.for
// CHECK:         gpu.return
func.func @mamba(%c: tensor<1x9x1x16xf32>, %bm: tensor<1x9x1x16xf32>,
    %u: tensor<1x9x1x32xf32>, %d: tensor<1x9x1x32xf32>, %a: tensor<1x16x32xf32>,
    %gain: tensor<1x9x1xf32>)
    -> (tensor<1x9x1x32xf32>, tensor<1x1x16x32xf32>, tensor<1x1x16x32xf32>) {
  %o, %s, %m = muonssm.scan q(%c : tensor<1x9x1x16xf32>) k(%bm : tensor<1x9x1x16xf32>)
      v(%u : tensor<1x9x1x32xf32>) dt(%d : tensor<1x9x1x32xf32>) A(%a : tensor<1x16x32xf32>)
      beta(%d : tensor<1x9x1x32xf32>) gain(%gain : tensor<1x9x1xf32>)
      decay = mamba, input = update, momentum = 0.9, tau = 1.0, scale = 1.0
      -> o tensor<1x9x1x32xf32> final_state tensor<1x1x16x32xf32> final_momentum tensor<1x1x16x32xf32>
  return %o, %s, %m : tensor<1x9x1x32xf32>, tensor<1x1x16x32xf32>, tensor<1x1x16x32xf32>
}

// -----

// A selective scan of 16 tokens or more stages its inputs: q/k rows and the
// v/Δ columns of 32 tokens (β is Δ: staged once) in a second shared buffer
// (two chunks: 2·32·(2·16 + 2·32) floats), stored before the chunk loop and,
// for the next chunk, after each chunk's arithmetic, one barrier each; full
// chunks unrolled from shared memory, the last one in a loop.

// CHECK-LABEL: func.func @staged
// CHECK:       gpu.func @muonssm_k0
// CHECK-SAME:    workgroup(%{{[^ ]+}} : memref<528xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[STAGE:[^ ]+]] : memref<6144xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK:         memref.store %{{.*}}, %[[STAGE]]
// CHECK:         gpu.barrier
// CHECK:         scf.for {{.*}} -> (vector<4xf32>) {
// CHECK:           memref.load %arg2
// CHECK:           scf.if %{{.*}} -> (vector<4xf32>) {
// CHECK:             vector.load %[[STAGE]]
// CHECK:             llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// CHECK:           } else {
// CHECK:             scf.for
// CHECK:           memref.store %{{.*}}, %[[STAGE]]
// CHECK:           gpu.barrier
func.func @staged(%c: tensor<1x40x1x16xbf16>, %bm: tensor<1x40x1x16xbf16>,
    %u: tensor<1x40x1x32xbf16>, %d: tensor<1x40x1x32xf32>, %a: tensor<1x16x32xf32>)
    -> tensor<1x40x1x32xbf16> {
  %o = muonssm.scan q(%c : tensor<1x40x1x16xbf16>) k(%bm : tensor<1x40x1x16xbf16>)
      v(%u : tensor<1x40x1x32xbf16>) dt(%d : tensor<1x40x1x32xf32>) A(%a : tensor<1x16x32xf32>)
      beta(%d : tensor<1x40x1x32xf32>)
      decay = mamba, input = update, tau = 1.0, scale = 1.0
      -> o tensor<1x40x1x32xbf16>
  return %o : tensor<1x40x1x32xbf16>
}

// -----

// A chunked bf16 scan with decay scalar, the delta rule and momentum takes
// two kernels. First the solve kernel, one block of four warps per (slot,
// value head): its slot count ⌊B·T/64⌋ + B sizes the temporary T buffer
// [slots, HV, 64, 64]; a block finds its sequence by a 128-ary search
// (rounds of 128 candidates, the largest passing one by an atomic max in
// shared memory); it loads K by cp.async, forms A = K Kᵀ as bf16
// ldmatrix + nvvm.mma.sync, and inverts I + L, the 16×16 block products as 3×tf32 m16n8k8 (operands split by truncation: a
// mask, no cvt.rna; 16 blocks of 16×16×16, 192 products), storing T as
// 16-byte rows. Then the tensor-core chunked kernel: eight warps, the
// dynamic shared buffer viewed as tiles, q/k/v and T's 64×64 tile by
// cp.async, no solve of its own; Q Kᵀ and K Kᵀ are bf16 mma.sync, the
// other products wgmma m64n32k16 (sm_90a; 64-column value tiles: each
// warpgroup's 32 columns one 64-byte-swizzled panel, memref<2x64x32xbf16>,
// whose descriptors carry a leading byte offset of 4096 (256 << 16), a
// stride of eight 64-byte rows (512: 32 << 32) and swizzle mode 2 (bits
// 62-63: the i64 -9223371899415822336 with the stride); the state updates
// with Kᵀ as M-major A). Both launches record their shared bytes and that
// their products round to bf16.

// CHECK-LABEL: func.func @chunked
// CHECK:         %[[BT:.*]] = arith.muli
// CHECK:         %[[PER:.*]] = arith.divui %[[BT]], %c64
// CHECK:         %[[SLOTS:.*]] = arith.addi %[[PER]], %{{.*}} : index
// CHECK:         %[[TINV:.*]] = memref.alloc(%[[SLOTS]], %{{.*}}) : memref<?x?x64x64xbf16>
// CHECK:         %[[FLAT:.*]] = memref.collapse_shape %[[TINV]]
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0_solve blocks in (%[[SLOTS]],
// CHECK-SAME:      dynamic_shared_memory_size
// CHECK-SAME:      %[[FLAT]] : memref<?xbf16>
// CHECK-SAME:      {muonssm.products = bf16}
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks
// CHECK-SAME:      dynamic_shared_memory_size
// CHECK-SAME:      %[[FLAT]] : memref<?xbf16>
// CHECK-SAME:      {muonssm.products = bf16}
// CHECK:       memref.global "public" @muonssm_smem : memref<0xi8, #gpu.address_space<workgroup>>
// CHECK:       gpu.func @muonssm_k0_solve
// CHECK-SAME:    known_block_size = array<i32: 128, 1, 1>
// CHECK:         scf.for
// CHECK:           arith.ceildivui %{{.*}}, %c128
// CHECK:           memref.atomic_rmw maxu
// CHECK:           gpu.barrier
// CHECK:           scf.yield
// CHECK:         nvgpu.device_async_copy
// CHECK:         nvgpu.device_async_wait
// CHECK:         nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>
// CHECK:         gpu.barrier
// CHECK-NOT:     nvvm.convert.float.to.tf32
// CHECK:         arith.andi %{{.*}}, %c-8192_i32 : i32
// CHECK-COUNT-192: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>
// CHECK-NOT:       nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>
// CHECK:         vector.store {{.*}} {alignment = 16 : i64} : memref<?xbf16>, vector<8xbf16>
// CHECK:         gpu.return
// CHECK:       gpu.func @muonssm_k0(
// CHECK-SAME:    %[[T:arg[0-9]+]]: memref<?xbf16> {muonssm.arg = "t_inverse"}
// CHECK-SAME:    known_block_size = array<i32: 256, 1, 1>
// CHECK:         memref.view {{.*}} to memref<2x64x32xbf16, #gpu.address_space<workgroup>>
// CHECK:         nvgpu.device_async_copy
// CHECK:         nvgpu.device_async_copy %[[T]][%{{.*}}], %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}], 8 {bypassL1} : memref<?xbf16> to memref<1x64x64xbf16, #gpu.address_space<workgroup>>
// CHECK:         scf.for
// CHECK:           nvgpu.device_async_wait
// CHECK:           nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK:           nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>
// CHECK-NOT:       nvvm.barrier id
// CHECK-NOT:       mma_type<tf32>
// CHECK:           arith.constant 16777216 : i32
// CHECK:           arith.constant -9223371899415822336 : i64
// CHECK:           nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>, {{.*}} A[<bf16>, <one>, <row>]
// CHECK-NOT:       mma_type<tf32>
// CHECK:           nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <col>]
// CHECK-NOT:       mma_type<tf32>
// CHECK-NOT:       ldmatrix {{.*}} transpose = true
// CHECK:         gpu.return
func.func @chunked(%q: tensor<2x130x2x64xbf16>, %k: tensor<2x130x2x64xbf16>,
    %v: tensor<2x130x4x64xbf16>, %g: tensor<2x130x4xf32>, %b: tensor<2x130x4xf32>)
    -> tensor<2x130x4x64xbf16> {
  %o = muonssm.scan q(%q : tensor<2x130x2x64xbf16>) k(%k : tensor<2x130x2x64xbf16>)
      v(%v : tensor<2x130x4x64xbf16>) g(%g : tensor<2x130x4xf32>) beta(%b : tensor<2x130x4xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<2x130x4x64xbf16>
  return %o : tensor<2x130x4x64xbf16>
}

// -----

// f32 inputs keep the register-resident recurrent kernel (its arithmetic is
// f32 throughout) even when chunked.

// CHECK-LABEL: func.func @chunked_f32
// CHECK:       gpu.func @muonssm_k0
// CHECK-SAME:    known_block_size = array<i32: 128, 1, 1>
// CHECK-NOT:     nvvm.mma.sync
// CHECK:         gpu.return
func.func @chunked_f32(%q: tensor<1x70x1x32xf32>, %k: tensor<1x70x1x32xf32>,
    %v: tensor<1x70x1x32xf32>, %g: tensor<1x70x1xf32>) -> tensor<1x70x1x32xf32> {
  %o = muonssm.scan q(%q : tensor<1x70x1x32xf32>) k(%k : tensor<1x70x1x32xf32>)
      v(%v : tensor<1x70x1x32xf32>) g(%g : tensor<1x70x1xf32>)
      decay = scalar, input = update, schedule = <chunked, 64>, tau = 1.0, scale = 1.0
      -> o tensor<1x70x1x32xf32>
  return %o : tensor<1x70x1x32xf32>
}

// -----

// Momentum at K = V = 256 does not fit in 227 KiB of shared memory with a
// 64-column value tile (228.5 KiB even single-buffered): the tile narrows to
// 48 columns, six blocks along V.

// CHECK-LABEL: func.func @chunked_momentum_k256
// CHECK:         %[[SIX:.*]] = arith.constant 6 : index
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks in (%[[SIX]],
// CHECK-SAME:      dynamic_shared_memory_size
// CHECK:       gpu.func @muonssm_k0
// CHECK:         nvvm.mma.sync
func.func @chunked_momentum_k256(%q: tensor<1x64x1x256xbf16>, %k: tensor<1x64x1x256xbf16>,
    %v: tensor<1x64x1x256xbf16>, %g: tensor<1x64x1xf32>, %b: tensor<1x64x1xf32>)
    -> tensor<1x64x1x256xbf16> {
  %o = muonssm.scan q(%q : tensor<1x64x1x256xbf16>) k(%k : tensor<1x64x1x256xbf16>)
      v(%v : tensor<1x64x1x256xbf16>) g(%g : tensor<1x64x1xf32>) beta(%b : tensor<1x64x1xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.0625
      -> o tensor<1x64x1x256xbf16>
  return %o : tensor<1x64x1x256xbf16>
}

// -----

// A static sequence shorter than 16 tokens (decode, speculative decoding)
// takes the recurrent kernel even when chunked: a 64-token chunk would be
// mostly padding.

// CHECK-LABEL: func.func @short_sequence
// CHECK:       gpu.func @muonssm_k0
// CHECK-SAME:    known_block_size = array<i32: 128, 1, 1>
// CHECK-NOT:     nvvm.mma.sync
// CHECK:         gpu.return
func.func @short_sequence(%q: tensor<4x1x2x64xbf16>, %k: tensor<4x1x2x64xbf16>,
    %v: tensor<4x1x2x64xbf16>, %g: tensor<4x1x2xf32>, %b: tensor<4x1x2xf32>)
    -> tensor<4x1x2x64xbf16> {
  %o = muonssm.scan q(%q : tensor<4x1x2x64xbf16>) k(%k : tensor<4x1x2x64xbf16>)
      v(%v : tensor<4x1x2x64xbf16>) g(%g : tensor<4x1x2xf32>) beta(%b : tensor<4x1x2xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<4x1x2x64xbf16>
  return %o : tensor<4x1x2x64xbf16>
}

// -----

// Newton-Schulz of the whole momentum (the seed's form) has no chunked
// form: the fused recurrent kernel keeps S in registers and M, the Gram
// matrices and the NS result in shared memory, one block of 256 threads per
// (sequence, head). S is held in the accumulator layout of mma.m16n8k8 and
// R M' runs on tensor cores, tf32 for bf16 inputs (the launch says so):
// K = 42, V = 84 is 3 row tiles × 11 column tiles, two column tiles a warp,
// six accumulators a thread; its six k steps are unrolled (36 products).
// With the error input, w needs u = Sᵀk, so a token runs u, its momentum
// side, then its state update: five barriers in the token loop.

// CHECK-LABEL: func.func @momentum_ns
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0
// CHECK-SAME:      threads in (%c256,
// CHECK-SAME:      dynamic_shared_memory_size
// CHECK-SAME:      {muonssm.products = tf32}
// CHECK:       gpu.func @muonssm_k0
// CHECK-SAME:    known_block_size = array<i32: 256, 1, 1>
// CHECK:         scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, f32)
// CHECK-COUNT-4:   gpu.barrier
// CHECK-NOT:       nvvm.convert.float.to.tf32
// CHECK:           arith.addi %{{.*}}, %c4096_i32 : i32
// CHECK-COUNT-36:  nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>
// CHECK-NOT:       nvvm.mma.sync
// CHECK:           gpu.barrier
// CHECK-NOT:       gpu.barrier
// CHECK:         gpu.return
func.func @momentum_ns(%q: tensor<2x130x2x42xbf16>, %k: tensor<2x130x2x42xbf16>,
    %v: tensor<2x130x2x84xbf16>, %g: tensor<2x130x2xf32>, %b: tensor<2x130x2xf32>)
    -> tensor<2x130x2x84xbf16> {
  %o = muonssm.scan q(%q : tensor<2x130x2x42xbf16>) k(%k : tensor<2x130x2x42xbf16>)
      v(%v : tensor<2x130x2x84xbf16>) g(%g : tensor<2x130x2xf32>) beta(%b : tensor<2x130x2xf32>)
      decay = scalar, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 0.1543033499620919
      -> o tensor<2x130x2x84xbf16>
  return %o : tensor<2x130x2x84xbf16>
}

// -----

// With the update input (the seed's), w = β⊙v does not depend on S: the
// momentum side of token t + 1 runs beside the state side of token t, three
// barriers a token (the state side, warp-local, beside the momentum side's
// third phase), M and R double buffered and a third slot of token inputs
// (more shared memory: 76592 bytes against 48960 above).
// The row dots p = γ M w and y = G k take the warps with rows < K (42),
// four lanes a row, FMA chains without masks; over M (pitch 88 ≡ 8 mod 16,
// for conflict-free B fragments) rows whose row / 4 is odd start a column
// group later and take group 0 last (a select of the column index after 21
// FMAs). M' = γM + c k wᵀ needs nothing of phase 2: its three full rounds'
// loads of M and w are issued before phase 3's barrier. Phase 3's loops
// cover rows < K: M' in 42 × 22 four-column items, three full rounds and a
// last one of 156 threads on its own; G', G'² and R in 21 row pairs × 12
// items, one round of 252. R is stored rounded to tf32 (its bits + 0x1000) and read
// by one ldmatrix.x4 a row tile and k step (3 × 6), f32 blocks 8 × 4.

// CHECK-LABEL: func.func @momentum_ns_lookahead
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0
// CHECK-SAME:      dynamic_shared_memory_size %c76592
// CHECK:       gpu.func @muonssm_k0
// CHECK:         scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, f32)
// CHECK:           %[[ROWS:.*]] = arith.cmpi ult, %{{[0-9]+}}, %c42
// CHECK-NEXT:      scf.if %[[ROWS]] {
// CHECK:             arith.remui %{{.*}}, %c2{{.*}} : index
// CHECK-NOT:         arith.select
// CHECK-COUNT-21:    math.fma
// CHECK-NOT:         math.fma
// CHECK:             %[[COL:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : index
// CHECK:             memref.load %{{.*}}[%{{.*}}, %{{.*}}, %[[COL]]] : memref<2x48x88xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT:        math.fma
// CHECK:           gpu.barrier
// CHECK-COUNT-3:   vector.load %{{.*}} : memref<2x48x88xf32, #gpu.address_space<workgroup>>, vector<4xf32>
// CHECK-NEXT:      vector.load %{{.*}} : memref<3x88xf32, #gpu.address_space<workgroup>>, vector<4xf32>
// CHECK-NEXT:      gpu.barrier
// CHECK:           %[[MTAIL:.*]] = arith.cmpi ult, %[[TIDM:.*]], %c156
// CHECK-NEXT:      scf.if %[[MTAIL]] {
// CHECK:           %[[GTAIL:.*]] = arith.cmpi ult, %[[TIDM]], %c252
// CHECK-NEXT:      scf.if %[[GTAIL]] {
// CHECK:             arith.addi %{{.*}}, %{{.*}} : vector<4xi32>
// CHECK:             vector.store %{{.*}}, %[[R:.*]][%{{.*}}, %{{.*}}, %{{.*}}] {{.*}} memref<2x48x52xf32
// CHECK:           nvgpu.ldmatrix %[[R]][{{.*}}] {numTiles = 4 : i32, transpose = false} : memref<2x48x52xf32, #gpu.address_space<workgroup>> -> vector<4x1xf32>
// CHECK-COUNT-17:  nvgpu.ldmatrix %[[R]]
// CHECK-NOT:       nvgpu.ldmatrix
// CHECK:           gpu.barrier
// CHECK-NOT:       gpu.barrier
// CHECK:         gpu.return
func.func @momentum_ns_lookahead(%q: tensor<2x130x2x42xbf16>, %k: tensor<2x130x2x42xbf16>,
    %v: tensor<2x130x2x84xbf16>, %g: tensor<2x130x2xf32>, %b: tensor<2x130x2xf32>)
    -> tensor<2x130x2x84xbf16> {
  %o = muonssm.scan q(%q : tensor<2x130x2x42xbf16>) k(%k : tensor<2x130x2x42xbf16>)
      v(%v : tensor<2x130x2x84xbf16>) g(%g : tensor<2x130x2xf32>) beta(%b : tensor<2x130x2xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 0.1543033499620919
      -> o tensor<2x130x2x84xbf16>
  return %o : tensor<2x130x2x84xbf16>
}

// -----

// K = V = 112: M and R do not fit twice in 227 KiB, so the update input runs
// in order (213760 bytes): without the error input's w, four barriers. R M'
// (7 row tiles, 2 column tiles a warp, 14 k steps) loops over k.

// CHECK-LABEL: func.func @momentum_ns_in_order
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0
// CHECK-SAME:      dynamic_shared_memory_size %c213760
// CHECK:       gpu.func @muonssm_k0
// CHECK:         scf.for {{.*}} -> (vector<4xf32>, {{.*}}, f32)
// CHECK-COUNT-3:   gpu.barrier
// CHECK:           scf.for {{.*}} step %c8{{.*}} -> (vector<4xf32>, {{.*}})
// CHECK-COUNT-14:    nvvm.mma.sync
// CHECK-NOT:         nvvm.mma.sync
// CHECK:             scf.yield
// CHECK:           gpu.barrier
// CHECK-NOT:       gpu.barrier
// CHECK:         gpu.return
func.func @momentum_ns_in_order(%q: tensor<1x9x2x112xbf16>, %k: tensor<1x9x2x112xbf16>,
    %v: tensor<1x9x2x112xbf16>, %g: tensor<1x9x2xf32>, %b: tensor<1x9x2xf32>)
    -> tensor<1x9x2x112xbf16> {
  %o = muonssm.scan q(%q : tensor<1x9x2x112xbf16>) k(%k : tensor<1x9x2x112xbf16>)
      v(%v : tensor<1x9x2x112xbf16>) g(%g : tensor<1x9x2xf32>) beta(%b : tensor<1x9x2xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 0.1
      -> o tensor<1x9x2x112xbf16>
  return %o : tensor<1x9x2x112xbf16>
}

// -----

// f32 inputs keep NS in f32: R M' as 3×tf32 (hi·lo', lo·hi', then hi·hi'
// of each operand split in two tf32 halves), three products a tile and k
// step (one tile, two k steps here), and no rounding recorded on the
// launch.

// R stays f32 in shared memory (split after its ldmatrix).

// CHECK-LABEL: func.func @momentum_ns_f32
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0
// CHECK-SAME:      args({{[^{}]*}}){{$}}
// CHECK:       gpu.func @muonssm_k0
// CHECK-NOT:     vector<4xi32>
// CHECK:         scf.for {{.*}} -> (vector<4xf32>, f32)
// CHECK:           gpu.barrier
// CHECK:           nvgpu.ldmatrix {{.*}} -> vector<4x1xf32>
// CHECK-COUNT-6:   nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>
// CHECK-NOT:       nvvm.mma.sync
// CHECK:           gpu.barrier
func.func @momentum_ns_f32(%q: tensor<1x9x2x16xf32>, %k: tensor<1x9x2x16xf32>,
    %v: tensor<1x9x2x32xf32>, %g: tensor<1x9x2xf32>, %b: tensor<1x9x2xf32>)
    -> tensor<1x9x2x32xf32> {
  %o = muonssm.scan q(%q : tensor<1x9x2x16xf32>) k(%k : tensor<1x9x2x16xf32>)
      v(%v : tensor<1x9x2x32xf32>) g(%g : tensor<1x9x2xf32>) beta(%b : tensor<1x9x2xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 0.25
      -> o tensor<1x9x2x32xf32>
  return %o : tensor<1x9x2x32xf32>
}

// -----

// With the batch static, the value-tile width counts waves of one block per
// SM: 8 × 16 (sequence, head) pairs take one 128-column tile each (128
// blocks, one wave) rather than two 64-column tiles (256 blocks, two waves);
// 4 × 16 pairs keep two tiles (128 blocks are one wave either way).
// Where T comes from: 4 × 16 pairs in two 64-column tiles take the solve
// kernel (at most a block per SM, W' of K × BV = 128 × 64 short beside the
// solve); one 128-column tile (W' as long as the solve) and 16 × 16 pairs
// (256 blocks, more than the SMs) solve in the chunk, warps 0-3 on named
// barrier 1; so does momentum (which otherwise always takes the solve
// kernel) where the T buffer would pass 2³¹ − 1 elements (2²¹ tokens ×
// 16 heads × 64: 2.15e9; v itself is 1.07e9).
// Fewer pairs than SMs with the solve kernel: the seed code's 8 × 9 pairs
// (K = 56, V = 112) take three 48-column tiles, two blocks an SM (216
// blocks, .minnctapersm 2); the README's 8 × 12 (K = 42, V = 84) keep one
// 96-column tile (two 48-column blocks an SM count no cheaper).

// CHECK-LABEL: func.func @wave_wide
// CHECK-NOT:     muonssm_k0_solve
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks in (%c1{{(_[0-9]+)?}},
// CHECK-LABEL: func.func @wave_narrow
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1_solve
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1 blocks in (%c2{{(_[0-9]+)?}},
// CHECK-LABEL: func.func @huge_t_buffer
// CHECK-NOT:     muonssm_k2_solve
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k2 blocks
// CHECK-LABEL: func.func @many_blocks
// CHECK-NOT:     muonssm_k3_solve
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k3 blocks
// CHECK-LABEL: func.func @two_per_sm
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k4_solve
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k4 blocks in (%c3{{(_[0-9]+)?}},
// CHECK-LABEL: func.func @one_per_sm
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k5_solve
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k5 blocks in (%c1{{(_[0-9]+)?}},
// CHECK:       gpu.func @muonssm_k0(
// CHECK:         nvvm.barrier id = {{.*}} number_of_threads = {{.*}}
// CHECK:         nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>
// CHECK:       gpu.func @muonssm_k1_solve(
// CHECK:       gpu.func @muonssm_k1(
// CHECK-NOT:     mma_type<tf32>
// CHECK:       gpu.func @muonssm_k2(
// CHECK:         nvvm.barrier id = {{.*}} number_of_threads = {{.*}}
// CHECK:       gpu.func @muonssm_k3(
// CHECK:         nvvm.barrier id = {{.*}} number_of_threads = {{.*}}
// CHECK:         nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>
// CHECK:       gpu.func @muonssm_k4({{.*}} kernel attributes {known_block_size = array<i32: 256, 1, 1>, nvvm.minctasm = 2 : i32} {
// CHECK:       gpu.func @muonssm_k5({{.*}} kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
func.func @wave_wide(%q: tensor<8x64x16x128xbf16>, %k: tensor<8x64x16x128xbf16>,
    %v: tensor<8x64x16x128xbf16>, %g: tensor<8x64x16xf32>, %b: tensor<8x64x16xf32>)
    -> tensor<8x64x16x128xbf16> {
  %o = muonssm.scan q(%q : tensor<8x64x16x128xbf16>) k(%k : tensor<8x64x16x128xbf16>)
      v(%v : tensor<8x64x16x128xbf16>) g(%g : tensor<8x64x16xf32>) beta(%b : tensor<8x64x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.088
      -> o tensor<8x64x16x128xbf16>
  return %o : tensor<8x64x16x128xbf16>
}
func.func @wave_narrow(%q: tensor<4x64x16x128xbf16>, %k: tensor<4x64x16x128xbf16>,
    %v: tensor<4x64x16x128xbf16>, %g: tensor<4x64x16xf32>, %b: tensor<4x64x16xf32>)
    -> tensor<4x64x16x128xbf16> {
  %o = muonssm.scan q(%q : tensor<4x64x16x128xbf16>) k(%k : tensor<4x64x16x128xbf16>)
      v(%v : tensor<4x64x16x128xbf16>) g(%g : tensor<4x64x16xf32>) beta(%b : tensor<4x64x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.088
      -> o tensor<4x64x16x128xbf16>
  return %o : tensor<4x64x16x128xbf16>
}
func.func @huge_t_buffer(%q: tensor<1x2097152x16x32xbf16>, %k: tensor<1x2097152x16x32xbf16>,
    %v: tensor<1x2097152x16x32xbf16>, %g: tensor<1x2097152x16xf32>, %b: tensor<1x2097152x16xf32>)
    -> tensor<1x2097152x16x32xbf16> {
  %o = muonssm.scan q(%q : tensor<1x2097152x16x32xbf16>) k(%k : tensor<1x2097152x16x32xbf16>)
      v(%v : tensor<1x2097152x16x32xbf16>) g(%g : tensor<1x2097152x16xf32>) beta(%b : tensor<1x2097152x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<1x2097152x16x32xbf16>
  return %o : tensor<1x2097152x16x32xbf16>
}
func.func @many_blocks(%q: tensor<16x64x16x64xbf16>, %k: tensor<16x64x16x64xbf16>,
    %v: tensor<16x64x16x64xbf16>, %g: tensor<16x64x16xf32>, %b: tensor<16x64x16xf32>)
    -> tensor<16x64x16x64xbf16> {
  %o = muonssm.scan q(%q : tensor<16x64x16x64xbf16>) k(%k : tensor<16x64x16x64xbf16>)
      v(%v : tensor<16x64x16x64xbf16>) g(%g : tensor<16x64x16xf32>) beta(%b : tensor<16x64x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<16x64x16x64xbf16>
  return %o : tensor<16x64x16x64xbf16>
}
func.func @two_per_sm(%q: tensor<8x64x9x56xbf16>, %k: tensor<8x64x9x56xbf16>,
    %v: tensor<8x64x9x112xbf16>, %g: tensor<8x64x9xf32>, %b: tensor<8x64x9xf32>)
    -> tensor<8x64x9x112xbf16> {
  %o = muonssm.scan q(%q : tensor<8x64x9x56xbf16>) k(%k : tensor<8x64x9x56xbf16>)
      v(%v : tensor<8x64x9x112xbf16>) g(%g : tensor<8x64x9xf32>) beta(%b : tensor<8x64x9xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.134
      -> o tensor<8x64x9x112xbf16>
  return %o : tensor<8x64x9x112xbf16>
}
func.func @one_per_sm(%q: tensor<8x64x12x42xbf16>, %k: tensor<8x64x12x42xbf16>,
    %v: tensor<8x64x12x84xbf16>, %g: tensor<8x64x12xf32>, %b: tensor<8x64x12xf32>)
    -> tensor<8x64x12x84xbf16> {
  %o = muonssm.scan q(%q : tensor<8x64x12x42xbf16>) k(%k : tensor<8x64x12x42xbf16>)
      v(%v : tensor<8x64x12x84xbf16>) g(%g : tensor<8x64x12xf32>) beta(%b : tensor<8x64x12xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.154
      -> o tensor<8x64x12x84xbf16>
  return %o : tensor<8x64x12x84xbf16>
}

// -----

// Dynamic sizes: the results are allocated with the operands' sizes (o as
// v, the final state with N = B sequences).

// CHECK-LABEL: func.func @dynamic
// CHECK:         %[[B:.*]] = tensor.dim %arg2, %c0
// CHECK:         %[[T:.*]] = tensor.dim %arg2, %c1
// CHECK:         memref.alloc(%[[B]], %[[T]]) : memref<?x?x2x16xf32>
// CHECK:         memref.alloc(%{{[^,)]+}}) : memref<?x2x16x16xf32>
// CHECK:         gpu.launch_func
func.func @dynamic(%q: tensor<?x?x2x16xf32>, %k: tensor<?x?x2x16xf32>,
    %v: tensor<?x?x2x16xf32>, %s0: tensor<?x2x16x16xf32>)
    -> (tensor<?x?x2x16xf32>, tensor<?x2x16x16xf32>) {
  %o, %s = muonssm.scan q(%q : tensor<?x?x2x16xf32>) k(%k : tensor<?x?x2x16xf32>)
      v(%v : tensor<?x?x2x16xf32>) initial_state(%s0 : tensor<?x2x16x16xf32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<?x?x2x16xf32> final_state tensor<?x2x16x16xf32>
  return %o, %s : tensor<?x?x2x16xf32>, tensor<?x2x16x16xf32>
}

// -----

// muonssm.rank1_gain: a group of lanes per (b, t, h), each loading 16
// bytes at once where the rows allow it, the fewest lanes that cover a row
// in four rounds. K = V = 128 bf16: four lanes (two shuffles a sum), four
// rounds of 8 elements of k and of v. K = 42, V = 84 (the seed README's):
// 2 and 4 elements a load (4- and 8-byte aligned rows), eight lanes (three
// shuffles), three rounds. Dynamic head dimensions: one element a load, the
// whole warp (five shuffles), a loop over the rounds. K = 16, V = 4096:
// the whole warp, k's one round unrolled, v's 16 in a loop, two an
// iteration.

// CHECK-LABEL: func.func @gain_vector
// CHECK:         %[[G0:.*]] = arith.ceildivui %{{.*}}, %c32 : index
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks in (%[[G0]],
// CHECK-LABEL: func.func @gain_narrow
// CHECK:         %[[G1:.*]] = arith.ceildivui %{{.*}}, %c16 : index
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1 blocks in (%[[G1]],
// CHECK-LABEL: func.func @gain_dynamic
// CHECK:         %[[G2:.*]] = arith.ceildivui %{{.*}}, %c4 : index
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k2 blocks in (%[[G2]],
// CHECK:       gpu.func @muonssm_k0(
// CHECK:         %[[LANE:.*]] = arith.remui %thread_id_x, %c32
// CHECK:         %[[SUB:.*]] = arith.remui %[[LANE]], %c4
// CHECK-COUNT-8: vector.load {{.*}} vector<8xbf16>
// CHECK-NOT:     vector.load
// CHECK-COUNT-4: gpu.shuffle  xor
// CHECK-NOT:     gpu.shuffle
// CHECK:         arith.cmpi eq, %[[SUB]], %c0
// CHECK:         memref.store
// CHECK:         gpu.return
// CHECK:       gpu.func @muonssm_k1(
// CHECK:         vector.load {{.*}} vector<2xbf16>
// CHECK:         vector.load {{.*}} vector<4xbf16>
// CHECK:         vector.load {{.*}} vector<2xbf16>
// CHECK:         vector.load {{.*}} vector<4xbf16>
// CHECK:         vector.load {{.*}} vector<2xbf16>
// CHECK:         vector.load {{.*}} vector<4xbf16>
// CHECK-NOT:     vector.load
// CHECK-COUNT-6: gpu.shuffle  xor
// CHECK-NOT:     gpu.shuffle
// CHECK:         gpu.return
// CHECK:       gpu.func @muonssm_k2(
// CHECK:         scf.for
// CHECK-NOT:     vector.load
// CHECK-COUNT-10: gpu.shuffle  xor
// CHECK-NOT:     gpu.shuffle
// CHECK:         gpu.return
// CHECK:       gpu.func @muonssm_k3(
// CHECK:         vector.load {{.*}} vector<8xbf16>
// CHECK:         scf.for
// CHECK-COUNT-2:   vector.load {{.*}} vector<8xbf16>
// CHECK:         scf.yield
// CHECK-NOT:     vector.load
// CHECK:         gpu.return
func.func @gain_vector(%k: tensor<2x64x16x128xbf16>, %v: tensor<2x64x16x128xbf16>,
    %b: tensor<2x64x16xf32>) -> tensor<2x64x16xf32> {
  %g = muonssm.rank1_gain k(%k : tensor<2x64x16x128xbf16>) v(%v : tensor<2x64x16x128xbf16>)
      beta(%b : tensor<2x64x16xf32>) newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>,
      tau_in = 1.0, tau_out = 1.0 -> tensor<2x64x16xf32>
  return %g : tensor<2x64x16xf32>
}
func.func @gain_narrow(%k: tensor<2x5x2x42xbf16>, %v: tensor<2x5x4x84xbf16>,
    %b: tensor<2x5x4x84xbf16>) -> tensor<2x5x4xf32> {
  %g = muonssm.rank1_gain k(%k : tensor<2x5x2x42xbf16>) v(%v : tensor<2x5x4x84xbf16>)
      beta(%b : tensor<2x5x4x84xbf16>) newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau_in = 1.0, tau_out = 0.5 -> tensor<2x5x4xf32>
  return %g : tensor<2x5x4xf32>
}
func.func @gain_dynamic(%k: tensor<?x?x2x?xf32>, %v: tensor<?x?x4x?xf32>) -> tensor<?x?x4xf32> {
  %g = muonssm.rank1_gain k(%k : tensor<?x?x2x?xf32>) v(%v : tensor<?x?x4x?xf32>)
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>,
      tau_in = 1.0, tau_out = 1.0 -> tensor<?x?x4xf32>
  return %g : tensor<?x?x4xf32>
}
func.func @gain_long(%k: tensor<1x3x1x16xbf16>, %v: tensor<1x3x1x4096xbf16>) -> tensor<1x3x1xf32> {
  %g = muonssm.rank1_gain k(%k : tensor<1x3x1x16xbf16>) v(%v : tensor<1x3x1x4096xbf16>)
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>,
      tau_in = 1.0, tau_out = 1.0 -> tensor<1x3x1xf32>
  return %g : tensor<1x3x1xf32>
}

// -----

// The paper form: the gain of NS(τ·β·v kᵀ) on the scan's own k, v and β,
// read by nothing else, is formed by the solve kernel, which loads K
// already: no gain kernel (its op, muonssm_k0, launches nothing); the
// solve kernel reads v and writes the gain into an f32 [B, T, HV]
// temporary that the chunked kernel reads as its gain, 4 bytes a token by
// cp.async into shared memory.

// CHECK-LABEL: func.func @gain_in_solve
// CHECK-NOT:     @muonssm_k0
// CHECK:         %[[GAIN:.*]] = memref.alloc(%{{.*}}, %{{.*}}, %{{.*}}) : memref<?x?x?xf32>
// CHECK:         %[[GFLAT:.*]] = memref.collapse_shape %[[GAIN]]
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1_solve
// CHECK-SAME:      %[[GFLAT]] : memref<?xf32>
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1 blocks
// CHECK-SAME:      %[[GFLAT]] : memref<?xf32>
// CHECK-NOT:     gpu.func @muonssm_k0(
// CHECK:       gpu.func @muonssm_k1_solve(
// CHECK-SAME:    %[[V:arg[0-9]+]]: memref<?xbf16> {muonssm.arg = "v"}
// CHECK-SAME:    %[[SG:arg[0-9]+]]: memref<?xf32> {muonssm.arg = "gain"}
// CHECK:         vector.load %[[V]][{{.*}} vector<8xbf16>
// CHECK:         nvgpu.device_async_wait
// CHECK:         gpu.shuffle  xor
// CHECK:         memref.store %{{.*}}, %[[SG]][
// CHECK:       gpu.func @muonssm_k1(
// CHECK-SAME:    %[[CG:arg[0-9]+]]: memref<?xf32> {muonssm.arg = "gain"}
// CHECK:         nvgpu.device_async_copy %[[CG]][%{{.*}}], %{{.*}}, 1, %{{.*}} : memref<?xf32> to memref<3x64xf32, #gpu.address_space<workgroup>>
func.func @gain_in_solve(%q: tensor<2x130x2x128xbf16>, %k: tensor<2x130x2x128xbf16>,
    %v: tensor<2x130x2x128xbf16>, %g: tensor<2x130x2xf32>, %b: tensor<2x130x2xf32>)
    -> tensor<2x130x2x128xbf16> {
  %w = muonssm.rank1_gain k(%k : tensor<2x130x2x128xbf16>) v(%v : tensor<2x130x2x128xbf16>)
      beta(%b : tensor<2x130x2xf32>) newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>,
      tau_in = 1.0, tau_out = 1.0 -> tensor<2x130x2xf32>
  %o = muonssm.scan q(%q : tensor<2x130x2x128xbf16>) k(%k : tensor<2x130x2x128xbf16>)
      v(%v : tensor<2x130x2x128xbf16>) g(%g : tensor<2x130x2xf32>) beta(%b : tensor<2x130x2xf32>)
      gain(%w : tensor<2x130x2xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<2x130x2x128xbf16>
  return %o : tensor<2x130x2x128xbf16>
}

// -----

// A gain that something else reads too keeps its own kernel, and the
// solve kernel reads neither v nor a gain; so does a gain whose β is not
// the scan's.

// CHECK-LABEL: func.func @gain_also_returned
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1_solve
// CHECK:       gpu.func @muonssm_k0(
// CHECK:       gpu.func @muonssm_k1_solve(
// CHECK-NOT:     muonssm.arg = "v"
// CHECK-NOT:     muonssm.arg = "gain"
// CHECK-SAME:    known_block_size
func.func @gain_also_returned(%q: tensor<2x130x2x128xbf16>, %k: tensor<2x130x2x128xbf16>,
    %v: tensor<2x130x2x128xbf16>, %g: tensor<2x130x2xf32>, %b: tensor<2x130x2xf32>)
    -> (tensor<2x130x2x128xbf16>, tensor<2x130x2xf32>) {
  %w = muonssm.rank1_gain k(%k : tensor<2x130x2x128xbf16>) v(%v : tensor<2x130x2x128xbf16>)
      beta(%b : tensor<2x130x2xf32>) newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>,
      tau_in = 1.0, tau_out = 1.0 -> tensor<2x130x2xf32>
  %o = muonssm.scan q(%q : tensor<2x130x2x128xbf16>) k(%k : tensor<2x130x2x128xbf16>)
      v(%v : tensor<2x130x2x128xbf16>) g(%g : tensor<2x130x2xf32>) beta(%b : tensor<2x130x2xf32>)
      gain(%w : tensor<2x130x2xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<2x130x2x128xbf16>
  return %o, %w : tensor<2x130x2x128xbf16>, tensor<2x130x2xf32>
}

// -----

// CHECK-LABEL: func.func @gain_other_beta
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks
// CHECK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1_solve
// CHECK:       gpu.func @muonssm_k0(
// CHECK:       gpu.func @muonssm_k1_solve(
// CHECK-NOT:     muonssm.arg = "gain"
// CHECK-SAME:    known_block_size
func.func @gain_other_beta(%q: tensor<2x130x2x128xbf16>, %k: tensor<2x130x2x128xbf16>,
    %v: tensor<2x130x2x128xbf16>, %g: tensor<2x130x2xf32>, %b: tensor<2x130x2xf32>)
    -> tensor<2x130x2x128xbf16> {
  %w = muonssm.rank1_gain k(%k : tensor<2x130x2x128xbf16>) v(%v : tensor<2x130x2x128xbf16>)
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>,
      tau_in = 1.0, tau_out = 1.0 -> tensor<2x130x2xf32>
  %o = muonssm.scan q(%q : tensor<2x130x2x128xbf16>) k(%k : tensor<2x130x2x128xbf16>)
      v(%v : tensor<2x130x2x128xbf16>) g(%g : tensor<2x130x2xf32>) beta(%b : tensor<2x130x2xf32>)
      gain(%w : tensor<2x130x2xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<2x130x2x128xbf16>
  return %o : tensor<2x130x2x128xbf16>
}

// -----

// 16-bit gates (cp.async moves 4 bytes at least) pass through a register
// into the gate tile, the first chunk's in the prologue, the next chunk's
// at step 2.

// CHECK-LABEL: func.func @gates16
// CHECK:       gpu.func @muonssm_k0(
// CHECK-SAME:    %[[G:arg[0-9]+]]: memref<?xbf16> {muonssm.arg = "g"}
// CHECK-SAME:    %[[B:arg[0-9]+]]: memref<?xbf16> {muonssm.arg = "beta"}
// CHECK:         memref.load %[[B]]
// CHECK:         memref.store {{.*}} : memref<3x64xf32, #gpu.address_space<workgroup>>
// CHECK:         scf.for
// CHECK:           nvgpu.device_async_wait
// CHECK:           gpu.barrier
// CHECK:           memref.load %[[B]]
// CHECK:           memref.store {{.*}} : memref<3x64xf32, #gpu.address_space<workgroup>>
// CHECK:           memref.load %[[G]]
// CHECK:           memref.store {{.*}} : memref<3x64xf32, #gpu.address_space<workgroup>>
// CHECK:           scf.yield
func.func @gates16(%q: tensor<2x130x2x64xbf16>, %k: tensor<2x130x2x64xbf16>,
    %v: tensor<2x130x4x64xbf16>, %g: tensor<2x130x4xbf16>, %b: tensor<2x130x4xbf16>)
    -> tensor<2x130x4x64xbf16> {
  %o = muonssm.scan q(%q : tensor<2x130x2x64xbf16>) k(%k : tensor<2x130x2x64xbf16>)
      v(%v : tensor<2x130x4x64xbf16>) g(%g : tensor<2x130x4xbf16>) beta(%b : tensor<2x130x4xbf16>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<2x130x4x64xbf16>
  return %o : tensor<2x130x4x64xbf16>
}

// -----

// wgmma (sm_90a only: CHIP-NOT above). At 8 × 16 pairs with K = V = 128
// the paper form's chunked kernel takes one 128-column tile, and each
// warpgroup (warps 0-3, 4-7) does its 64-column half of every product but
// Q Kᵀ, K Kᵀ with wgmma.mma_async m64n64k16: K S and K M (the right-hand
// side, one commit group of 2 × 8 k16 steps), L^E V and T·RHS, Q S and
// Q M, P C and PΩ V, and Kᵀ sY, Kᵀ sZ (A M-major: layout col) onto S and
// M in registers. q, k, v, S, M and the C×C and chunk×value tiles are
// 128-byte-swizzled panels of 64 columns; each thread fences its shared
// writes for the async proxy before the chunk's barriers. A descriptor's
// low word is (address / 16) mod 2^14 and the leading byte offset of a
// panel (8192 = 512 << 16 for 64 rows; S and M, 128 rows: 1024 << 16),
// its high word the stride 1024 (64 << 32) and the 128B swizzle (1 << 62);
// the address is the shared buffer's plus a zero that an inline asm makes
// (chunk-variant, the same in every lane). Without momentum at 16 × 16
// pairs the chunk solves its own T, and warpgroup 1 (beside the solve)
// forms K S over all 128 columns: m64n128k16.

// CHECK-LABEL: func.func @paper_wgmma
// CHECK:       gpu.func @muonssm_k0(
// CHECK:         %[[BASE:.*]] = memref.extract_aligned_pointer_as_index %{{.*}} : memref<{{[0-9]+}}xi8, #gpu.address_space<workgroup>>
// CHECK:         memref.view {{.*}} to memref<2x64x64xbf16, #gpu.address_space<workgroup>>
// CHECK:         memref.view {{.*}} to memref<2x128x64xbf16, #gpu.address_space<workgroup>>
// CHECK:         scf.for
// CHECK:           llvm.inline_asm has_side_effects "mov.u32 $0, 0;", "=r"
// CHECK:           nvgpu.device_async_wait
// CHECK:           nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT:      gpu.barrier
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK:           arith.constant 33554432 : i32
// CHECK:           arith.constant 67108864 : i32
// CHECK:           arith.constant 4611686293305294848 : i64
// CHECK:           nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <zero>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <row>]
// CHECK-COUNT-7:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <one>]
// CHECK:           nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <zero>]
// CHECK-COUNT-7:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <one>]
// CHECK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:      nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-COUNT-8:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, {{.*}} A[<bf16>, <one>, <row>]
// CHECK-COUNT-16:  nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, {{.*}} A[<bf16>, <one>, <row>]
// CHECK-COUNT-8:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, {{.*}} A[<bf16>, <one>, <row>]
// CHECK-COUNT-16:  nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <col>], B[<bf16>, <one>, <row>]
// CHECK-NEXT:      nvvm.wgmma.commit.group.sync.aligned
// CHECK:       gpu.func @muonssm_k1(
// CHECK-COUNT-8: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 128, k = 16>
// CHECK-NEXT:    nvvm.wgmma.commit.group.sync.aligned
// CHECK-COUNT-24: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>
// CHECK-NEXT:    nvvm.wgmma.commit.group.sync.aligned
func.func @paper_wgmma(%q: tensor<8x64x16x128xbf16>, %k: tensor<8x64x16x128xbf16>,
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
func.func @gdn_wgmma(%q: tensor<16x64x16x128xbf16>, %k: tensor<16x64x16x128xbf16>,
    %v: tensor<16x64x16x128xbf16>, %g: tensor<16x64x16xf32>, %b: tensor<16x64x16xf32>)
    -> tensor<16x64x16x128xbf16> {
  %o = muonssm.scan q(%q : tensor<16x64x16x128xbf16>) k(%k : tensor<16x64x16x128xbf16>)
      v(%v : tensor<16x64x16x128xbf16>) g(%g : tensor<16x64x16xf32>) beta(%b : tensor<16x64x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.088
      -> o tensor<16x64x16x128xbf16>
  return %o : tensor<16x64x16x128xbf16>
}
