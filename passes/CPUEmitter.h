//===- CPUEmitter.h - building blocks of the CPU lowering -------*- C++ -*-===//
//
// Loops, arithmetic and buffer accesses in one floating-point type (the
// accumulation type), and the pieces every CPU lowering shares: Newton–Schulz
// of a buffer, the rank-1 NS gain, buffer views of tensor operands.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_PASSES_CPUEMITTER_H
#define MUONSSM_PASSES_CPUEMITTER_H

#include "dialect/MuonSSMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::muonssm::cpu {

/// Emits index and floating-point arithmetic, loops and buffer accesses in
/// one floating-point type (the accumulation type).
class Emitter {
public:
  Emitter(ImplicitLocOpBuilder &b, FloatType acc) : b(b), acc(acc) {}

  ImplicitLocOpBuilder &b;
  FloatType acc;

  Value idx(int64_t value) {
    return arith::ConstantIndexOp::create(b, value);
  }
  Value cst(double value) {
    return arith::ConstantOp::create(b, acc, b.getFloatAttr(acc, value));
  }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, x, y); }
  Value fma(Value x, Value y, Value z) { return math::FmaOp::create(b, x, y, z); }
  Value exp(Value x) { return math::ExpOp::create(b, x); }
  Value sqrt(Value x) { return math::SqrtOp::create(b, x); }
  Value maxf(Value x, Value y) { return arith::MaximumFOp::create(b, x, y); }
  Value iadd(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value isub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value idiv(Value x, Value y) { return arith::DivUIOp::create(b, x, y); }
  Value imin(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value imax(Value x, Value y) { return arith::MaxSIOp::create(b, x, y); }

  /// Converts a float to `to` (extension, or rounding to nearest even).
  Value convert(Value x, Type to) {
    Type from = x.getType();
    if (from == to)
      return x;
    unsigned fromWidth = from.getIntOrFloatBitWidth();
    unsigned toWidth = to.getIntOrFloatBitWidth();
    if (fromWidth < toWidth)
      return arith::ExtFOp::create(b, to, x);
    if (fromWidth > toWidth)
      return arith::TruncFOp::create(b, to, x);
    return convert(convert(x, acc), to); // f16 <-> bf16
  }
  Value load(Value memref, ValueRange indices) {
    return convert(memref::LoadOp::create(b, memref, indices), acc);
  }
  void store(Value value, Value memref, ValueRange indices) {
    Type element = cast<MemRefType>(memref.getType()).getElementType();
    memref::StoreOp::create(b, convert(value, element), memref, indices);
  }
  Value dim(Value memref, int64_t i) {
    return memref::DimOp::create(b, memref, i);
  }

  /// A scratch buffer of the accumulation type with the given sizes; the
  /// buffer-deallocation pipeline frees it.
  Value scratch(ArrayRef<Value> sizes) {
    SmallVector<int64_t> shape(sizes.size(), ShapedType::kDynamic);
    return memref::AllocOp::create(b, MemRefType::get(shape, acc), sizes);
  }

  /// for (iv = lb; iv < ub; iv += step) body(iv)
  void loop(Value lb, Value ub, Value step, function_ref<void(Value)> body) {
    auto forOp = scf::ForOp::create(b, lb, ub, step);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forOp.getBody()->getTerminator());
    body(forOp.getInductionVar());
  }
  /// for (iv = lb; iv < ub; ++iv) body(iv)
  void loop(Value lb, Value ub, function_ref<void(Value)> body) {
    auto forOp = scf::ForOp::create(b, lb, ub, idx(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forOp.getBody()->getTerminator());
    body(forOp.getInductionVar());
  }
  void loop(Value ub, function_ref<void(Value)> body) {
    loop(idx(0), ub, body);
  }

  /// for (iv = lb; iv < ub; ++iv) args = body(iv, args); returns the final
  /// args (loop-carried values).
  SmallVector<Value>
  loopCarried(Value lb, Value ub, ValueRange inits,
              function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(
        b, lb, ub, idx(1), inits,
        [&](OpBuilder &, Location, Value iv, ValueRange args) {
          scf::YieldOp::create(b, body(iv, args));
        });
    return SmallVector<Value>(forOp.getResults());
  }

  /// if (condition) body()
  void when(Value condition, function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, condition, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  }
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, y);
  }
  Value ieq(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, x, y);
  }

  /// Σ_{iv < ub} term(iv), accumulated in order.
  Value sum(Value ub, function_ref<Value(Value)> term) {
    auto forOp = scf::ForOp::create(
        b, idx(0), ub, idx(1), ValueRange{cst(0.0)},
        [&](OpBuilder &, Location, Value iv, ValueRange args) {
          Value next = add(args[0], term(iv));
          scf::YieldOp::create(b, next);
        });
    return forOp.getResult(0);
  }

  void fill(Value memref, ArrayRef<Value> sizes, Value value) {
    if (sizes.size() == 1)
      return loop(sizes[0], [&](Value i) { store(value, memref, {i}); });
    loop(sizes[0], [&](Value i) {
      loop(sizes[1], [&](Value j) { store(value, memref, {i, j}); });
    });
  }
};

/// Scratch buffers for Newton–Schulz of an R×C matrix X held in `x`.
struct NSBuffers {
  Value x, y, gram, poly;
  Value rows, cols, side; // side = min(rows, cols)
};

NSBuffers allocateNS(Emitter &e, Value x, Value rows, Value cols);

/// poly[:n,:n] = aI + bG + cG² with the coefficients of `config`'s
/// polynomial, for the n×n matrix G in `gram` (any square matrix).
void emitNSPolynomial(Emitter &e, NewtonSchulzAttr config, Value gram,
                      Value poly, Value n);

/// NS(X) in place on the R×C buffer `buf.x` (docs/dialect.md §3).
void emitNewtonSchulz(Emitter &e, NewtonSchulzAttr config,
                      const NSBuffers &buf);

/// The rank-1 closed form G(σ) = f^{∘steps}(s)/σ (0 at σ = 0) of
/// docs/chunking.md §1: NS(X) = G(‖X‖_F)·X for rank-1 X.
Value emitRank1Gain(Emitter &e, NewtonSchulzAttr config, Value sigma);

/// A buffer view of a tensor operand (null for a null operand), with a fully
/// dynamic strided layout so that any buffer one-shot bufferization picks for
/// it is compatible.
Value toBuffer(ImplicitLocOpBuilder &b, Value tensor);

/// A fresh buffer for a result tensor; `sizes` gives every dimension.
Value allocResult(Emitter &e, Type tensorType, ArrayRef<Value> sizes);

/// Buffers of a scan's operands and results, the sizes of its layout and the
/// K×V scratch state (and momentum) of the (sequence, head) being scanned.
struct ScanFrame {
  Value q, k, v, g, dt, a, beta, gain, cu, s0, m0;
  Value skip, gate; ///< Mamba's D and z, or null
  Value slots; ///< state_indices (state pools), or null
  Value batch, seqLen, valueHeads, valueDim, keyHeads, keyDim, group,
      sequences;
  Value oBuf, sBuf, mBuf;
  Value state, momentum;
};

/// Views the operands as buffers, allocates the results and the scratch
/// state.
ScanFrame setUpScan(ScanOp op, ScanOp::Adaptor adaptor, Emitter &e);

/// [first, last) of varlen sequence n: its cu_seqlens offsets, clamped into
/// [0, seqLen].
std::pair<Value, Value> sequenceBounds(Emitter &e, Value cu, Value n,
                                       Value seqLen);

/// The loops over sequences and value heads: loads each (sequence, head)'s
/// initial state (or zeros), calls `body(b, first, last, h, kh)` for its token
/// range [first, last) of batch row b with key head kh, stores its final
/// state.
void emitSequencesAndHeads(
    Emitter &e, ScanFrame &f,
    function_ref<void(Value, Value, Value, Value, Value)> body);

/// Stores output y = scale·Hᵀq of token t (batch row b, head h, column j)
/// into o, through the skip and gate where the scan has them:
/// o = (y + D[h,j]·v[b,t,h,j]) · silu(z[b,t,h,j]).
void storeOutput(Emitter &e, const ScanFrame &f, Value y, Value b, Value t,
                 Value h, Value j);

/// The results as tensors, in the op's result order.
SmallVector<Value> scanResults(ScanOp op, Emitter &e, const ScanFrame &f);

/// The chunked schedule of a scan (docs/chunking.md §2), as loops.
SmallVector<Value> emitChunkedScan(ScanOp op, ScanOp::Adaptor adaptor,
                                   ImplicitLocOpBuilder &b);

} // namespace mlir::muonssm::cpu

#endif // MUONSSM_PASSES_CPUEMITTER_H
