//===- GPUMma.cpp - warp-level tensor-core tiles ---------------------------===//
//
// Which lane addresses which row in ldmatrix (PTX ISA, "ldmatrix"): lanes
// 8i..8i+7 give the eight row addresses of matrix i, and register i of every
// lane receives matrix i: (row g, cols 2c..2c+1), or with .trans
// (rows 2c..2c+1, col g). Each loader below picks the four 8×8 matrices so
// that register i is fragment register i of GPUMma.h.
//
//===----------------------------------------------------------------------===//

#include "passes/GPUMma.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::gpu_codegen;

WarpMma::WarpMma(KernelBuilder &e, FloatType element, Value lane)
    : e(e), element(element) {
  setLane(lane);
}

void WarpMma::setLane(Value laneId) {
  lane = laneId;
  g = e.idiv(lane, e.idx(4));
  c2 = e.imul(e.irem(lane, e.idx(4)), e.idx(2));
}

SmallVector<Value, 3> gpu_codegen::tileIndices(KernelBuilder &e, Value tile,
                                               Value row, Value col) {
  auto type = cast<MemRefType>(tile.getType());
  if (type.getRank() == 2)
    return {row, col};
  // (col mod W) ⊕ 8·s(row): the chunk bits of the column (3-5 for W = 64,
  // 3-4 for 32, 3 for 16) take address bits 7-9 (7-8, 7) of the row's
  // start, s(row) = row mod 8 for 128-byte rows, (row / 2) mod 4 for
  // 64-byte ones, (row / 4) mod 2 for 32-byte ones; the element within the
  // chunk stays.
  const int64_t width = type.getDimSize(2);
  const int64_t rowsPerLine = 128 / (2 * width); // rows a 128-byte line
  Value rowBits =
      e.irem(e.idiv(row, e.idx(rowsPerLine)), e.idx(8 / rowsPerLine));
  return {e.idiv(col, e.idx(width)), row,
          arith::XOrIOp::create(e.b, e.irem(col, e.idx(width)),
                                e.imul(rowBits, e.idx(8)))};
}

MemRefType gpu_codegen::swizzledTileType(MLIRContext *ctx, int64_t rows,
                                         int64_t cols, Type element,
                                         int64_t width) {
  assert((width == 64 || width == 32 || width == 16) && cols % width == 0);
  return MemRefType::get(
      {cols / width, rows, width}, element, AffineMap(),
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup));
}

Value WarpMma::ldmatrix(Value tile, Value row, Value col, int64_t tiles,
                        bool transpose) {
  auto type = VectorType::get({tiles, 2}, element);
  return nvgpu::LdMatrixOp::create(
      e.b, type, tile, tileIndices(e, tile, row, col), transpose, tiles);
}

WarpMma::Frag WarpMma::unpack(Value pairs, int64_t count) {
  Frag regs;
  for (int64_t i = 0; i < count; ++i) {
    Value p = vector::ExtractOp::create(e.b, pairs, ArrayRef<int64_t>{i});
    if (element.isBF16()) {
      // nvvm.mma.sync takes bf16 pairs as i32.
      Value bits = vector::BitCastOp::create(
          e.b, VectorType::get({1}, e.b.getI32Type()), p);
      p = vector::ExtractOp::create(e.b, bits, ArrayRef<int64_t>{0});
    }
    regs.push_back(p);
  }
  return regs;
}

WarpMma::Frag WarpMma::loadA(Value tile, Value m0, Value k0) {
  // Matrices (m0, k0), (m0+8, k0), (m0, k0+8), (m0+8, k0+8).
  Value row = e.iadd(m0, e.irem(lane, e.idx(16)));
  Value col = e.iadd(k0, e.imul(e.idiv(lane, e.idx(16)), e.idx(8)));
  return unpack(ldmatrix(tile, row, col, 4, false), 4);
}

WarpMma::Frag WarpMma::loadATransposed(Value tile, Value k0, Value m0) {
  // Stored [k][m]; transposed loads of (k0, m0), (k0, m0+8), (k0+8, m0),
  // (k0+8, m0+8) give a0..a3.
  Value row = e.iadd(e.iadd(k0, e.irem(lane, e.idx(8))),
                     e.imul(e.idiv(lane, e.idx(16)), e.idx(8)));
  Value col = e.iadd(
      m0, e.imul(e.irem(e.idiv(lane, e.idx(8)), e.idx(2)), e.idx(8)));
  return unpack(ldmatrix(tile, row, col, 4, true), 4);
}

std::pair<WarpMma::Frag, WarpMma::Frag>
WarpMma::loadBFromRows(Value tile, Value n0, Value k0) {
  // Stored [n][k]: (n0, k0) → b0 of tile n0, (n0, k0+8) → b1,
  // (n0+8, k0) → b0 of tile n0+8, (n0+8, k0+8) → b1.
  Value row = e.iadd(e.iadd(n0, e.irem(lane, e.idx(8))),
                     e.imul(e.idiv(lane, e.idx(16)), e.idx(8)));
  Value col = e.iadd(
      k0, e.imul(e.irem(e.idiv(lane, e.idx(8)), e.idx(2)), e.idx(8)));
  Frag all = unpack(ldmatrix(tile, row, col, 4, false), 4);
  return {{all[0], all[1]}, {all[2], all[3]}};
}

std::pair<WarpMma::Frag, WarpMma::Frag> WarpMma::loadB(Value tile, Value k0,
                                                       Value n0) {
  // Stored [k][n]; transposed loads of (k0, n0) → b0 of tile n0,
  // (k0+8, n0) → b1, (k0, n0+8) → b0 of tile n0+8, (k0+8, n0+8) → b1.
  Value row = e.iadd(k0, e.irem(lane, e.idx(16)));
  Value col = e.iadd(n0, e.imul(e.idiv(lane, e.idx(16)), e.idx(8)));
  Frag all = unpack(ldmatrix(tile, row, col, 4, true), 4);
  return {{all[0], all[1]}, {all[2], all[3]}};
}

/// acc + a·b by nvvm.mma.sync of shape m16n8k`k` on `type` operands, f32
/// accumulators (vector<4xf32>).
static Value mmaSync(KernelBuilder &e, Value acc, ArrayRef<Value> a,
                     ArrayRef<Value> bFrag, int64_t k, NVVM::MMATypes type) {
  SmallVector<Value> c;
  for (int64_t r = 0; r < 4; ++r)
    c.push_back(e.element(acc, r));
  Type f32 = e.b.getF32Type();
  auto resultType = LLVM::LLVMStructType::getLiteral(e.b.getContext(),
                                                     {f32, f32, f32, f32});
  Value d = NVVM::MmaOp::create(
      e.b, resultType, a, bFrag, c, ArrayRef<int64_t>{16, 8, k},
      std::nullopt, std::nullopt, std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> out;
  for (int64_t r = 0; r < 4; ++r)
    out.push_back(LLVM::ExtractValueOp::create(e.b, d, r));
  return e.fromElements(out);
}

Value WarpMma::mma(Value acc, const Frag &a, const Frag &bFrag) {
  return mmaSync(e, acc, a, bFrag, 16,
                 element.isBF16() ? NVVM::MMATypes::bf16
                                  : NVVM::MMATypes::f16);
}

Value WarpMma::pair(Value x0, Value x1) {
  Value both = e.fromElements({x0, x1});
  return arith::TruncFOp::create(e.b, VectorType::get({2}, element), both);
}

Value WarpMma::pack(Value x0, Value x1) {
  Value p = pair(x0, x1);
  if (!element.isBF16())
    return p;
  Value bits = vector::BitCastOp::create(
      e.b, VectorType::get({1}, e.b.getI32Type()), p);
  return vector::ExtractOp::create(e.b, bits, ArrayRef<int64_t>{0});
}

WarpMma::Frag WarpMma::accumulatorsToA(Value low, Value high) {
  return {pack(e.element(low, 0), e.element(low, 1)),
          pack(e.element(low, 2), e.element(low, 3)),
          pack(e.element(high, 0), e.element(high, 1)),
          pack(e.element(high, 2), e.element(high, 3))};
}

Value gpu_codegen::mmaTF32(KernelBuilder &e, Value acc, ArrayRef<Value> a,
                           ArrayRef<Value> bFrag) {
  return mmaSync(e, acc, a, bFrag, 8, NVVM::MMATypes::tf32);
}

Value gpu_codegen::toTF32(KernelBuilder &e, Value x) {
  // The same for a vector of f32, element by element.
  Type bits = e.b.getI32Type();
  TypedAttr half = e.b.getI32IntegerAttr(0x1000);
  if (auto vector = dyn_cast<VectorType>(x.getType())) {
    auto bitsVector = VectorType::get(vector.getShape(), bits);
    bits = bitsVector;
    half = DenseElementsAttr::get(bitsVector, half);
  }
  return arith::AddIOp::create(e.b, arith::BitcastOp::create(e.b, bits, x),
                               arith::ConstantOp::create(e.b, half));
}

/// The tf32 an operand's bits stand for, as an f32: its low 13 bits
/// cleared, as the tensor cores clear them.
static Value tf32Value(KernelBuilder &e, Value bits) {
  Type i32 = e.b.getI32Type();
  Value cleared = arith::AndIOp::create(
      e.b, bits, arith::ConstantIntOp::create(e.b, i32, 0xffffe000));
  return arith::BitcastOp::create(e.b, e.b.getF32Type(), cleared);
}

std::pair<Value, Value> gpu_codegen::splitTF32(KernelBuilder &e, Value x) {
  Value hi = toTF32(e, x);
  return {hi, toTF32(e, e.sub(x, tf32Value(e, hi)))};
}

std::pair<Value, Value> gpu_codegen::splitTF32Truncated(KernelBuilder &e,
                                                        Value x) {
  Type i32 = e.b.getI32Type();
  Value hi = tf32Value(e, arith::BitcastOp::create(e.b, i32, x));
  return {arith::BitcastOp::create(e.b, i32, hi),
          arith::BitcastOp::create(e.b, i32, e.sub(x, hi))};
}

//===----------------------------------------------------------------------===//
// WarpgroupMma
//===----------------------------------------------------------------------===//

Value WarpgroupMma::descriptorLow(Value address, Value byteOffset,
                                  int64_t leadingBytes) {
  ImplicitLocOpBuilder &b = e.b;
  Type i32 = b.getI32Type();
  auto c32 = [&](int64_t v) { return arith::ConstantIntOp::create(b, i32, v); };
  Value at = arith::IndexCastUIOp::create(b, i32, e.iadd(address, byteOffset));
  // Bits 0-13: (address mod 2^18) / 16; 16-29: leading byte offset / 16.
  Value start = arith::AndIOp::create(b, arith::ShRUIOp::create(b, at, c32(4)),
                                      c32(0x3fff));
  return arith::OrIOp::create(b, start, c32((leadingBytes / 16) << 16));
}

Value WarpgroupMma::descriptor(Value low, int64_t stepBytes, int64_t rowBytes) {
  ImplicitLocOpBuilder &b = e.b;
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  // A step adds its offset to the start field, as nvgpu's lowering steps
  // its descriptors (the tiles lie below 256 KiB: no carry out of it), in
  // 32 bits. The high word is constant: bits 32-45 the stride byte offset
  // / 16 (eight rows: 1024, 512 or 256 bytes), 62-63 the swizzle mode (1:
  // 128B, 2: 64B, 3: 32B).
  if (stepBytes)
    low = arith::AddIOp::create(
        b, low, arith::ConstantIntOp::create(b, i32, stepBytes / 16));
  Value wide = arith::ExtUIOp::create(b, i64, low);
  int64_t mode = rowBytes == 128 ? 1 : rowBytes == 64 ? 2 : 3;
  int64_t high = ((8 * rowBytes / 16) << 32) | (mode << 62);
  return arith::OrIOp::create(b, wide,
                              arith::ConstantIntOp::create(b, i64, high));
}

/// A constant zero, or a broadcast of one (KernelBuilder::vcst).
static bool isZeroConstant(Value x) {
  if (auto broadcast = x.getDefiningOp<vector::BroadcastOp>())
    x = broadcast.getSource();
  return matchPattern(x, m_AnyZeroFloat());
}

WarpgroupMma::Group WarpgroupMma::issue(ArrayRef<Product> products) {
  ImplicitLocOpBuilder &b = e.b;
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  auto type = element.isBF16() ? NVVM::WGMMATypes::bf16 : NVVM::WGMMATypes::f16;
  Group group;
  NVVM::WgmmaFenceAlignedOp::create(b);
  for (const Product &p : products) {
    auto structType =
        LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(p.n / 2, f32));
    bool zero = !p.onto && llvm::all_of(p.init, isZeroConstant);
    Value acc;
    if (p.onto) {
      assert(p.onto.getType() == structType && "accumulates onto its shape");
      acc = p.onto;
    } else if (zero) {
      acc = LLVM::ZeroOp::create(b, structType);
    } else {
      acc = LLVM::UndefOp::create(b, structType);
      for (int64_t r = 0; r < p.n / 2; ++r)
        acc = LLVM::InsertValueOp::create(
            b, acc, e.element(p.init[r / 4], r % 4), ArrayRef<int64_t>{r});
    }
    auto aType = cast<MemRefType>(p.a.getType());
    auto bType = cast<MemRefType>(p.b.getType());
    // Panels of rows × W columns (rows of 2W bytes), the leading byte
    // offset between them. A K-major: 64 rows, k16 steps 32 bytes apart
    // within a panel. A M-major and B: k16 steps 16 rows apart, the start
    // at the panel of the first row (A) or column (B).
    const int64_t aRow = 2 * aType.getDimSize(2),
                  bRow = 2 * bType.getDimSize(2);
    const int64_t aPanel = aType.getDimSize(1) * aRow;
    const int64_t bPanel = bType.getDimSize(1) * bRow;
    auto panelOffset = [&](Value first, MemRefType type, int64_t panel) {
      return e.imul(e.idiv(first, e.idx(type.getDimSize(2))), e.idx(panel));
    };
    auto address = [&](Value given, Value tile) -> Value {
      if (given)
        return given;
      return memref::ExtractAlignedPointerAsIndexOp::create(b, tile);
    };
    Value lowA = descriptorLow(
        address(p.aAddress, p.a),
        p.aTransposed ? panelOffset(p.m0, aType, aPanel) : e.idx(0), aPanel);
    Value lowB = descriptorLow(address(p.bAddress, p.b),
                               panelOffset(p.n0, bType, bPanel), bPanel);
    const int64_t aStepsPerPanel = aRow / 32;
    for (int64_t ks = 0; ks < p.kSteps; ++ks) {
      Value descA = descriptor(lowA,
                               p.aTransposed ? ks * 16 * aRow
                                             : (ks / aStepsPerPanel) * aPanel +
                                                   (ks % aStepsPerPanel) * 32,
                               aRow);
      Value descB = descriptor(lowB, ks * 16 * bRow, bRow);
      auto scaleD = ks == 0 && zero ? NVVM::WGMMAScaleOut::zero
                                    : NVVM::WGMMAScaleOut::one;
      acc = NVVM::WgmmaMmaAsyncOp::create(
          b, structType, acc, descA, descB,
          NVVM::MMAShapeAttr::get(ctx, 64, p.n, 16), type, type,
          NVVM::WGMMATypes::f32, scaleD, NVVM::WGMMAScaleIn::one,
          NVVM::WGMMAScaleIn::one,
          p.aTransposed ? NVVM::MMALayout::col : NVVM::MMALayout::row,
          NVVM::MMALayout::row, NVVM::MMAIntOverflowAttr());
    }
    group.accumulators.push_back(acc);
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b);
  return group;
}

/// The number of f32 accumulators in a wgmma's result struct.
static int64_t accumulatorCount(Value acc) {
  return cast<LLVM::LLVMStructType>(acc.getType()).getBody().size();
}

/// The vector<4xf32> tiles of `count` accumulators, element i from at(i).
static SmallVector<Value> accumulatorTiles(KernelBuilder &e, int64_t count,
                                           function_ref<Value(int64_t)> at) {
  SmallVector<Value> tiles;
  for (int64_t t = 0; t < count / 4; ++t)
    tiles.push_back(e.fromElements(
        {at(4 * t), at(4 * t + 1), at(4 * t + 2), at(4 * t + 3)}));
  return tiles;
}

static Value extract(ImplicitLocOpBuilder &b, Value aggregate, int64_t i) {
  return LLVM::ExtractValueOp::create(b, aggregate, ArrayRef<int64_t>{i});
}

SmallVector<SmallVector<Value>> WarpgroupMma::run(ArrayRef<Product> products) {
  Group group = issue(products);
  NVVM::WgmmaWaitGroupSyncOp::create(e.b, 0);
  SmallVector<SmallVector<Value>> out;
  for (Value acc : group.accumulators)
    out.push_back(accumulatorTiles(e, accumulatorCount(acc), [&](int64_t i) {
      return extract(e.b, acc, i);
    }));
  return out;
}

SmallVector<SmallVector<Value>> WarpgroupMma::wait(const Group &group,
                                                   int64_t laterGroups) {
  ImplicitLocOpBuilder &b = e.b;
  NVVM::WgmmaWaitGroupSyncOp::create(b, laterGroups);
  // Every accumulator through one empty asm with side effects, which LLVM
  // keeps after the wait's: "=f" outputs tied to their inputs.
  SmallVector<Value> values;
  for (Value acc : group.accumulators)
    for (int64_t i = 0; i < accumulatorCount(acc); ++i)
      values.push_back(extract(b, acc, i));
  std::string constraints;
  for (size_t i = 0; i < values.size(); ++i)
    constraints += "=f,";
  for (size_t i = 0; i < values.size(); ++i)
    constraints += std::to_string(i) + (i + 1 < values.size() ? "," : "");
  Value fenced =
      LLVM::InlineAsmOp::create(
          b,
          LLVM::LLVMStructType::getLiteral(
              b.getContext(), SmallVector<Type>(values.size(), b.getF32Type())),
          values, "", constraints, /*has_side_effects=*/true,
          /*is_align_stack=*/false, LLVM::TailCallKind::None,
          LLVM::AsmDialectAttr(), ArrayAttr())
          .getResult(0);
  SmallVector<SmallVector<Value>> out;
  int64_t first = 0;
  for (Value acc : group.accumulators) {
    out.push_back(accumulatorTiles(e, accumulatorCount(acc), [&](int64_t i) {
      return extract(b, fenced, first + i);
    }));
    first += accumulatorCount(acc);
  }
  return out;
}

void WarpgroupMma::fenceSharedWrites() {
  NVVM::FenceProxyOp::create(
      e.b, NVVM::ProxyKind::async_shared,
      NVVM::SharedSpaceAttr::get(e.b.getContext(),
                                 NVVM::SharedSpace::shared_cta));
}
