//===- GPUMma.h - warp-level tensor-core tiles -----------------*- C++ -*-===//
//
// mma.sync m16n8k16 with f32 accumulators and bf16 or f16 operands, read
// from shared memory with ldmatrix. This is the route GPU-CODEGEN.md found
// to work in MLIR 22 for bf16: `nvgpu.ldmatrix` for the loads and
// `nvvm.mma.sync` for the product (`nvgpu.mma.sync` cannot deduce the PTX
// type of bf16 operands, and the vector-to-gpu route rejects bf16).
//
// Fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16"), with
// g = lane / 4 and c = lane % 4:
//   A 16×16: a0 = (g, 2c..2c+1), a1 = (g+8, 2c..), a2 = (g, 2c+8..),
//            a3 = (g+8, 2c+8..)
//   B 16×8:  b0 = (k 2c..2c+1, n g), b1 = (k 2c+8.., n g)
//   C 16×8:  c0,c1 = (g, 2c..2c+1), c2,c3 = (g+8, 2c..2c+1)
// so the accumulators of two neighbouring n-tiles are, rounded, the A
// fragment of one k16 step (acc → A reuse, as in flash attention).
//
// Also mma.sync m16n8k8 with tf32 operands (mmaTF32 below; the operands
// come from shared memory, by scalar loads or, for an A fragment, by one
// ldmatrix.x4 of four 8×4 f32 blocks (MomentumNSScanToGPU.cpp), rounded to
// tf32 by toTF32 or split in two tf32 halves for f32 accuracy), built the
// same way through nvvm.mma.sync.
//
// And, on sm_90a, wgmma.mma_async m64nNk16 for a warpgroup (WarpgroupMma
// below), with both operands read from shared memory through matrix
// descriptors. Its tiles are 128-, 64- or 32-byte swizzled (tileIndices); every
// other access to such a tile (ldmatrix, cp.async, stores) goes through
// tileIndices too.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_PASSES_GPUMMA_H
#define MUONSSM_PASSES_GPUMMA_H

#include "passes/GPUEmitter.h"

namespace mlir::muonssm::gpu_codegen {

/// The indices of element (row, col) of a shared-memory tile of 16-bit
/// elements. A rank-2 memref [rows][pitch] is plain row-major. A rank-3
/// memref [panels][rows][W] is a swizzled layout that wgmma reads (PTX
/// ISA, "Shared Memory Matrix Layout"): the columns in panels of W, and
/// W = 64 is the 128-byte swizzle (one 128-byte line a row; in each
/// 1024-byte group of eight rows the 16-byte chunk c of row r stored at
/// chunk c ⊕ (r mod 8)), W = 32 the 64-byte one (64-byte rows; chunk
/// c ⊕ ((r / 2) mod 4) of four), W = 16 the 32-byte one (32-byte rows;
/// chunk c ⊕ ((r / 4) mod 2) of two). Eight consecutive elements that start at
/// a multiple of 8 stay contiguous (ldmatrix rows, 16-byte cp.async), and eight
/// rows' chunks of one column land in different bank groups, so no padding is
/// needed against bank conflicts. The tile must start at a multiple of 1024
/// bytes.
SmallVector<Value, 3> tileIndices(KernelBuilder &e, Value tile, Value row,
                                  Value col);
/// A [cols / width][rows][width] swizzled tile type (width 64, 32 or 16; see
/// tileIndices).
MemRefType swizzledTileType(MLIRContext *ctx, int64_t rows, int64_t cols,
                            Type element, int64_t width = 64);

class WarpMma {
public:
  /// `element` is bf16 or f16; `lane` the lane id (index).
  WarpMma(KernelBuilder &e, FloatType element, Value lane);
  /// Rebinds the lane (and g, c2 derived from it).
  void setLane(Value lane);

  /// An operand fragment: 4 registers for A, 2 for B, typed as nvvm.mma.sync
  /// takes them (i32 for bf16, vector<2xf16> for f16).
  using Frag = SmallVector<Value, 4>;

  /// A fragment of the 16×16 block at (m0, k0) of a row-major tile
  /// (memref<rows x cols x element, workgroup>, k contiguous).
  Frag loadA(Value tile, Value m0, Value k0);
  /// A fragment of the 16×16 block at (m0, k0) of Aᵀ, where the tile holds
  /// A transposed ([k][m], m contiguous).
  Frag loadATransposed(Value tile, Value k0, Value m0);
  /// B fragments of the n-tiles n0 and n0 + 8 at k0, from a tile holding B
  /// transposed ([n][k], k contiguous: B = Xᵀ for a row-major X).
  std::pair<Frag, Frag> loadBFromRows(Value tile, Value n0, Value k0);
  /// B fragments of the n-tiles n0 and n0 + 8 at k0, from a tile holding B
  /// as is ([k][n], n contiguous).
  std::pair<Frag, Frag> loadB(Value tile, Value k0, Value n0);

  /// acc (vector<4xf32>) + a·b.
  Value mma(Value acc, const Frag &a, const Frag &b);
  /// The A fragment of one k16 step made of two accumulator n-tiles.
  Frag accumulatorsToA(Value low, Value high);
  /// Two f32 rounded and packed as one register of the element type.
  Value pack(Value x0, Value x1);
  /// vector<2 x element> of two f32, for stores to a tile.
  Value pair(Value x0, Value x1);

  /// Row of accumulator register r within its 16×8 tile: g + 8·(r / 2).
  Value accRow(int64_t r) {
    return r < 2 ? g : e.iadd(g, e.idx(8));
  }
  /// Column of accumulator register r within its tile: 2c + r % 2.
  Value accCol(int64_t r) { return r % 2 ? e.iadd(c2, e.idx(1)) : c2; }

  KernelBuilder &e;
  FloatType element;
  Value lane, g, c2; // lane, lane / 4, 2·(lane % 4)

private:
  Frag unpack(Value vectorOfPairs, int64_t count);
  Value ldmatrix(Value tile, Value row, Value col, int64_t tiles,
                 bool transpose);
};

/// mma.sync m16n8k8 with tf32 operands (i32 registers, PTX ISA "Matrix
/// Fragments for mma.m16n8k8", .tf32), f32 accumulators; with
/// g = lane / 4 and c = lane % 4:
///   A 16×8: a0 = (g, c), a1 = (g+8, c), a2 = (g, c+4), a3 = (g+8, c+4)
///   B 8×8:  b0 = (k c, n g), b1 = (k c+4, n g)
///   C 16×8: as m16n8k16's (c0,c1 = (g, 2c..2c+1), c2,c3 = (g+8, 2c..)).
/// acc (vector<4xf32>) + a·b.
Value mmaTF32(KernelBuilder &e, Value acc, ArrayRef<Value> a,
              ArrayRef<Value> b);
/// An f32 rounded to the nearest tf32, ties away from zero (what
/// cvt.rna.tf32.f32 gives), as the i32 the products take: its bits plus half
/// a tf32 unit (0x1000), the tensor cores dropping the low 13 bits. One
/// integer add, where ptxas emulates cvt.rna on sm_90 with an add, a
/// comparison with ∞, a select and a mask; the same result for every finite
/// x (a NaN may come out as another value: the state it came from is lost
/// anyway, and the f32 paths around the product still carry it).
/// A vector of f32 gives a vector of i32 the same way.
Value toTF32(KernelBuilder &e, Value x);
/// x as hi + lo, both tf32 (lo = tf32(x − hi)): the operands of the 3×tf32
/// product hi·hi' + hi·lo' + lo·hi', which keeps about 21 of f32's 24 bits.
std::pair<Value, Value> splitTF32(KernelBuilder &e, Value x);
/// x as hi + lo with hi = x truncated to tf32 (its low 13 bits cleared) and
/// lo = x − hi (exact), lo handed over as is: the tensor cores ignore an
/// operand's low 13 bits, so lo is truncated there (ptxas relies on it too:
/// its emulated cvt.rna feeds HMMA x + 0x1000 without clearing them, as the
/// SASS of stop 15's ncu profile shows). Two instructions where
/// cvt.rna (which ptxas emulates on sm_90 with four or five) takes more;
/// hi·hi' + hi·lo' + lo·hi' errs by at most 3·2⁻²⁰ relative (about 18 of
/// f32's 24 bits; cvt.rna halves would give about 21).
std::pair<Value, Value> splitTF32Truncated(KernelBuilder &e, Value x);

/// wgmma.mma_async m64nNk16 (sm_90a) of a warpgroup (four consecutive
/// warps, all of whose threads must reach every call) with f32
/// accumulators and bf16 or f16 operands in swizzled shared-memory tiles
/// (tileIndices), read through matrix descriptors (PTX ISA, "Matrix
/// Descriptor Format"): A K-major (stored [m][k]: a tile of 64 rows) or
/// M-major, B MN-major (stored [k][n], n contiguous; PTX's imm-trans-b = 1).
/// Warp w of the warpgroup receives rows 16w..16w+15 of the 64×N result in
/// the layout of mma.sync m16n8 accumulators, one vector<4xf32> per 8 columns
/// (PTX ISA, "Register Fragment for wgmma .m64nNk16": register r of a lane
/// holds row 16w + g + 8·((r/2) mod 2), column 8·(r/4) + 2c + r mod 2), so
/// results mix freely with WarpMma's.
///
/// nvgpu.warpgroup.mma is not used (the one place that works around it):
/// MLIR 22 steps an M-major A operand's descriptor by 32 bytes per k16 step
/// where 2048 are right, and a K-major B's by 2048 where 32 are
/// (GPU-CODEGEN.md; test/passes/nvgpu-warpgroup-mma-upstream.mlir shows
/// the first), and it needs a TMA descriptor for the layout. The
/// descriptors here are built as its lowering builds them for the cases it
/// gets right (K-major A, MN-major B): start address bits 4-17, leading
/// byte offset, stride byte offset of eight rows, swizzle mode 1 (128B),
/// 2 (64B) or 3 (32B).
class WarpgroupMma {
public:
  WarpgroupMma(KernelBuilder &e, FloatType element) : e(e), element(element) {}

  struct Product {
    /// Swizzled tile holding A: stored [m][k] (K-major: a tile of 64 rows),
    /// or with aTransposed stored [k][m] (M-major, PTX's imm-trans-a = 1:
    /// A's rows are the 64 columns from m0, one panel).
    Value a;
    Value b;        ///< swizzled tile [n/W][rows][W]: B = rows k, columns n
    Value n0;       ///< B's first column (index, a multiple of W)
    int64_t n;      ///< N: a multiple of 16, at most 256
    int64_t kSteps; ///< k16 steps, from k = 0
    /// Accumulators to add to (N/8 vector<4xf32>); constant zeros (or
    /// none) start from zero instead (the first step's scale-d = 0).
    SmallVector<Value> init;
    bool aTransposed = false;
    Value m0; ///< with aTransposed: A's first row (a multiple of 64)
    /// The tiles' shared-memory addresses (index), where the caller has
    /// them in a form the same in every thread (ptxas then keeps the
    /// descriptors in uniform registers); else taken from the tiles.
    Value aAddress, bAddress;
    /// Where set, the product accumulates onto this earlier product's
    /// accumulators, issued and not yet waited for (a Group's), in place of
    /// `init`: wgmmas on the same accumulators run in order, as the k steps
    /// of one product do, so none waits between them.
    Value onto;
  };
  /// Products issued and committed as one wgmma group, not yet waited for:
  /// each product's accumulators, as the wgmmas return them. Nothing may
  /// read them before `wait` (PTX leaves that undefined).
  struct Group {
    SmallVector<Value> accumulators;
  };
  /// Issues every product's wgmmas back to back in one commit group, waits
  /// for the group and returns each product's N/8 accumulators. (Without
  /// `wait`'s asm: the wait follows the wgmmas at once, and this is the code
  /// that was measured on a GPU.)
  SmallVector<SmallVector<Value>> run(ArrayRef<Product> products);
  /// Issues every product's wgmmas back to back and commits them as one
  /// group, without waiting: the warps go on with other work while the
  /// tensor cores run it.
  Group issue(ArrayRef<Product> products);
  /// Waits until at most `laterGroups` groups committed after `group` are
  /// still running (wgmma groups complete in the order committed), and
  /// returns each of its products' N/8 accumulators. An empty inline asm
  /// that takes and returns them keeps LLVM from moving their first reads
  /// above the wait (as CUTLASS's warpgroup_fence_operand does).
  SmallVector<SmallVector<Value>> wait(const Group &group, int64_t laterGroups);

  /// Makes this thread's earlier generic-proxy writes to shared memory
  /// (stores, cp.async) visible to later wgmma reads, once a barrier has
  /// followed (fence.proxy.async.shared::cta).
  void fenceSharedWrites();

private:
  /// The low 32 bits of a swizzled tile's descriptor (start address and
  /// leading byte offset) at `address` + byteOffset, and the whole
  /// descriptor with a step's byte offset added to its start.
  Value descriptorLow(Value address, Value byteOffset, int64_t leadingBytes);
  Value descriptor(Value low, int64_t stepBytes, int64_t rowBytes);

  KernelBuilder &e;
  FloatType element;
};

} // namespace mlir::muonssm::gpu_codegen

#endif // MUONSSM_PASSES_GPUMMA_H
