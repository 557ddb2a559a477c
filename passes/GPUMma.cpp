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

Value WarpMma::ldmatrix(Value tile, Value row, Value col, int64_t tiles,
                        bool transpose) {
  auto type = VectorType::get({tiles, 2}, element);
  return nvgpu::LdMatrixOp::create(e.b, type, tile, ValueRange{row, col},
                                   transpose, tiles);
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
  Type i32 = e.b.getI32Type();
  if (auto vector = dyn_cast<VectorType>(x.getType())) {
    auto bits = VectorType::get(vector.getShape(), i32);
    Value half = arith::ConstantOp::create(
        e.b, DenseElementsAttr::get(bits, e.b.getI32IntegerAttr(0x1000)));
    return arith::AddIOp::create(e.b, arith::BitcastOp::create(e.b, bits, x),
                                 half);
  }
  return arith::AddIOp::create(
      e.b, arith::BitcastOp::create(e.b, i32, x),
      arith::ConstantIntOp::create(e.b, i32, 0x1000));
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
