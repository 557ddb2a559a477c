//===- GPUEmitter.h - building blocks of the GPU kernels -------*- C++ -*-===//
//
// Helpers to emit gpu.func bodies: index and f32 arithmetic (scalars or
// vectors held in registers), flat global buffers (memref<?xT>) read and
// written in f32, thread/block ids, warp shuffles, loops.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_PASSES_GPUEMITTER_H
#define MUONSSM_PASSES_GPUEMITTER_H

#include "dialect/MuonSSMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <string>

namespace mlir::muonssm::gpu_codegen {

class KernelBuilder {
public:
  KernelBuilder(ImplicitLocOpBuilder &b, FloatType acc) : b(b), acc(acc) {}

  ImplicitLocOpBuilder &b;
  FloatType acc;

  // Index arithmetic.
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value iadd(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value isub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value imul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value idiv(Value x, Value y) { return arith::DivUIOp::create(b, x, y); }
  Value irem(Value x, Value y) { return arith::RemUIOp::create(b, x, y); }
  Value imin(Value x, Value y) { return arith::MinUIOp::create(b, x, y); }
  Value imax(Value x, Value y) { return arith::MaxUIOp::create(b, x, y); }
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, y);
  }
  Value ule(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ule, x, y);
  }
  Value ieq(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, x, y);
  }
  Value iand(Value x, Value y) { return arith::AndIOp::create(b, x, y); }
  /// An i32 kernel argument as an index.
  Value toIndex(Value i32) {
    return arith::IndexCastUIOp::create(b, b.getIndexType(), i32);
  }
  Value toI32(Value index) {
    return arith::IndexCastUIOp::create(b, b.getI32Type(), index);
  }

  // Floating point (scalars or vectors of the accumulation type).
  Value cst(double v) {
    return arith::ConstantOp::create(b, acc, b.getFloatAttr(acc, v));
  }
  Value vcst(double v, int64_t n) { return splat(cst(v), n); }
  Value splat(Value scalar, int64_t n) {
    return vector::BroadcastOp::create(b, VectorType::get({n}, acc), scalar);
  }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, x, y); }
  /// x / y to about 2 ulp (div.approx.f32; y must be a normal number):
  /// a tenth of the IEEE division's instructions.
  Value divFast(Value x, Value y) {
    return arith::DivFOp::create(
        b, x, y,
        arith::FastMathFlagsAttr::get(b.getContext(),
                                      arith::FastMathFlags::afn));
  }
  Value fma(Value x, Value y, Value z) {
    return math::FmaOp::create(b, x, y, z);
  }
  Value exp(Value x) { return math::ExpOp::create(b, x); }
  /// 2^x by one MUFU.EX2, subnormal results flushed to zero (a decay below
  /// 2^-126 is 0 at f32 accuracy). math.exp2 goes through libdevice's
  /// non-ftz ex2, which adds a subnormal range fix-up (3 instructions) per
  /// call; math.exp already lowers to the ftz form.
  Value exp2Fast(Value x) {
    auto one = [&](Value scalar) -> Value {
      return LLVM::CallIntrinsicOp::create(
                 b, acc, b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f32"),
                 ValueRange{scalar})
          .getResult(0);
    };
    auto vec = dyn_cast<VectorType>(x.getType());
    if (!vec)
      return one(x);
    SmallVector<Value> parts;
    for (int64_t i = 0; i < vec.getNumElements(); ++i)
      parts.push_back(one(element(x, i)));
    return fromElements(parts);
  }
  Value sqrt(Value x) { return math::SqrtOp::create(b, x); }
  Value maxf(Value x, Value y) { return arith::MaximumFOp::create(b, x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  /// Σ of a vector's lanes.
  Value vsum(Value vec) {
    return vector::ReductionOp::create(b, vector::CombiningKind::ADD, vec);
  }
  /// Σ_i x_i·y_i of two vectors, as a chain of FMAs.
  Value dot(Value x, Value y) {
    int64_t n = cast<VectorType>(x.getType()).getNumElements();
    Value sum = mul(element(x, 0), element(y, 0));
    for (int64_t i = 1; i < n; ++i)
      sum = fma(element(x, i), element(y, i), sum);
    return sum;
  }
  Value element(Value vec, int64_t i) {
    return vector::ExtractOp::create(b, vec, ArrayRef<int64_t>{i});
  }
  Value fromElements(ArrayRef<Value> values) {
    return vector::FromElementsOp::create(
        b, VectorType::get({static_cast<int64_t>(values.size())}, acc),
        values);
  }

  /// Converts a float to `to` (extension, or rounding to nearest even).
  /// (Scalars or vectors: `to` is then the vector type.)
  Value convert(Value x, Type to) {
    Type from = x.getType();
    if (from == to)
      return x;
    unsigned fromBits = getElementTypeOrSelf(from).getIntOrFloatBitWidth();
    unsigned toBits = getElementTypeOrSelf(to).getIntOrFloatBitWidth();
    if (fromBits < toBits)
      return arith::ExtFOp::create(b, to, x);
    if (fromBits > toBits)
      return arith::TruncFOp::create(b, to, x);
    Type wide = acc;
    if (auto vec = dyn_cast<VectorType>(from))
      wide = VectorType::get(vec.getShape(), acc);
    return convert(convert(x, wide), to);
  }
  /// buffer[i] in the accumulation type.
  Value load(Value buffer, Value i) {
    return convert(memref::LoadOp::create(b, buffer, ValueRange{i}), acc);
  }
  /// buffer[i] as stored (integers stay integers).
  Value loadRaw(Value buffer, ValueRange at) {
    return memref::LoadOp::create(b, buffer, at);
  }
  /// buffer[at] = x, x already of the buffer's element type.
  void storeRaw(Value x, Value buffer, ValueRange at) {
    memref::StoreOp::create(b, x, buffer, at);
  }
  void store(Value value, Value buffer, Value i) {
    Type element = cast<MemRefType>(buffer.getType()).getElementType();
    memref::StoreOp::create(b, convert(value, element), buffer, ValueRange{i});
  }

  /// A vector<n x T> read from / written to memref[indices] (n contiguous
  /// elements; the caller guarantees n·sizeof(T) alignment).
  /// The alignment is stated (n·sizeof(T)) so that the loads and stores
  /// become single vector instructions (ld.global.v4, ld.shared.v4).
  Value vload(Value memref, ValueRange indices, int64_t n) {
    Type element = cast<MemRefType>(memref.getType()).getElementType();
    uint64_t bytes = n * element.getIntOrFloatBitWidth() / 8;
    return vector::LoadOp::create(b, VectorType::get({n}, element), memref,
                                  indices, /*nontemporal=*/false,
                                  llvm::MaybeAlign(bytes));
  }
  void vstore(Value vec, Value memref, ValueRange indices) {
    auto type = cast<VectorType>(vec.getType());
    uint64_t bytes =
        type.getNumElements() * type.getElementTypeBitWidth() / 8;
    vector::StoreOp::create(b, vec, memref, indices, /*nontemporal=*/false,
                            llvm::MaybeAlign(bytes));
  }
  void barrier() { gpu::BarrierOp::create(b); }

  Value threadId() { return gpu::ThreadIdOp::create(b, gpu::Dimension::x); }
  Value blockId(gpu::Dimension d) { return gpu::BlockIdOp::create(b, d); }

  /// The sum of `partial` over groups of `width` lanes of a warp `stride`
  /// apart (lanes l, l ^ stride, …; powers of two, width·stride ≤ 32), by
  /// xor shuffles: every lane of a group gets it.
  Value groupSum(Value partial, int64_t width, int64_t stride = 1) {
    Value w32 = arith::ConstantIntOp::create(b, 32, 32);
    for (int64_t offset = width / 2 * stride; offset >= stride; offset /= 2) {
      Value off = arith::ConstantIntOp::create(b, offset, 32);
      auto shuffle = gpu::ShuffleOp::create(b, partial, off, w32,
                                            gpu::ShuffleMode::XOR);
      partial = add(partial, shuffle.getShuffleResult());
    }
    return partial;
  }

  /// Inclusive prefix sum of `x` over the lanes of a warp (shuffles up).
  Value warpInclusiveScan(Value x, Value lane) {
    Value w32 = arith::ConstantIntOp::create(b, 32, 32);
    for (int64_t offset = 1; offset < 32; offset *= 2) {
      Value off = arith::ConstantIntOp::create(b, offset, 32);
      auto up = gpu::ShuffleOp::create(b, x, off, w32, gpu::ShuffleMode::UP);
      Value has = arith::CmpIOp::create(b, arith::CmpIPredicate::uge, lane,
                                        idx(offset));
      x = select(has, add(x, up.getShuffleResult()), x);
    }
    return x;
  }

  /// Sequence n's tokens [first, last) of batch row `row`: row n, all of
  /// [0, T); with cu_seqlens row 0 and [cu[n], cu[n + 1]) clamped to [0, T].
  struct Sequence {
    Value row, first, last;
  };
  Sequence sequence(Value cuSeqlens, Value n, Value T) {
    if (!cuSeqlens)
      return {n, idx(0), T};
    Type index = b.getIndexType();
    Value lo = arith::IndexCastOp::create(b, index, loadRaw(cuSeqlens, n));
    Value hi = arith::IndexCastOp::create(
        b, index, loadRaw(cuSeqlens, iadd(n, idx(1))));
    Value first = imin(lo, T);
    return {idx(0), first, imin(imax(hi, first), T)};
  }

  /// The state slot of sequence n: n, or slot stateIndices[n] of pools of P
  /// slots. `valid` (null without pools) is false for a slot outside
  /// [0, P) (the callers validate them): it is read clamped to slot 0 and
  /// must never be written, so it cannot touch another sequence's state.
  struct StateSlot {
    Value slot, valid;
  };
  StateSlot stateSlot(Value stateIndices, Value n, Value P) {
    if (!stateIndices)
      return {n, Value()};
    Value raw = arith::IndexCastOp::create(b, b.getIndexType(),
                                           loadRaw(stateIndices, n));
    Value valid =
        iand(arith::CmpIOp::create(b, arith::CmpIPredicate::sge, raw, idx(0)),
             arith::CmpIOp::create(b, arith::CmpIPredicate::slt, raw, P));
    return {select(valid, raw, idx(0)), valid};
  }

  /// if (condition) then() else otherwise, both yielding values of the same
  /// types.
  SmallVector<Value> ifElse(Value condition,
                            function_ref<SmallVector<Value>()> then,
                            function_ref<SmallVector<Value>()> otherwise) {
    SmallVector<Value> probe;
    scf::IfOp ifOp;
    {
      // Build both regions, then read the result types off the yields.
      OpBuilder::InsertionGuard guard(b);
      ifOp = scf::IfOp::create(b, TypeRange{}, condition,
                               /*withElseRegion=*/true);
    }
    SmallVector<Value> thenValues, elseValues;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      thenValues = then();
      b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
      elseValues = otherwise();
    }
    SmallVector<Type> types;
    for (Value v : thenValues)
      types.push_back(v.getType());
    auto typed = scf::IfOp::create(b, types, condition, /*withElseRegion=*/true);
    typed.getThenRegion().takeBody(ifOp.getThenRegion());
    typed.getElseRegion().takeBody(ifOp.getElseRegion());
    ifOp.erase();
    {
      OpBuilder::InsertionGuard guard(b);
      Operation *t = typed.thenBlock()->getTerminator();
      b.setInsertionPoint(t);
      scf::YieldOp::create(b, thenValues);
      t->erase();
      Operation *f = typed.elseBlock()->getTerminator();
      b.setInsertionPoint(f);
      scf::YieldOp::create(b, elseValues);
      f->erase();
    }
    return SmallVector<Value>(typed.getResults());
  }

  /// for (iv = lb; iv < ub; iv += step) carried = body(iv, carried)
  SmallVector<Value>
  loop(Value lb, Value ub, Value step, ValueRange inits,
       function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(
        b, lb, ub, step, inits,
        [&](OpBuilder &, Location, Value iv, ValueRange args) {
          SmallVector<Value> next = body(iv, args);
          scf::YieldOp::create(b, next);
        });
    return SmallVector<Value>(forOp.getResults());
  }
  void loop(Value lb, Value ub, function_ref<void(Value)> body) {
    auto forOp = scf::ForOp::create(b, lb, ub, idx(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forOp.getBody()->getTerminator());
    body(forOp.getInductionVar());
  }
  void when(Value condition, function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, condition, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  }
};

/// The kernel argument named `name`, given the argument names in order
/// (LaunchBuilder::argNames); null when the kernel has no such argument.
Value kernelArg(gpu::GPUFuncOp func, ArrayRef<std::string> names,
                StringRef name);

} // namespace mlir::muonssm::gpu_codegen

#endif // MUONSSM_PASSES_GPUEMITTER_H
