//===- LowerToCPU.cpp - muonssm ops to loops on buffers -------------------===//
//
// The embedded default: each muonssm op becomes scf.for loops over memrefs
// that compute the per-token recurrence of docs/dialect.md in the
// accumulation precision. The loops read and write contiguous rows of the
// K×V state so that LLVM can vectorise the inner loop over V.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::muonssm {
#define GEN_PASS_DEF_LOWERTOCPU
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;
using namespace mlir::muonssm;

namespace {

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

NSBuffers allocateNS(Emitter &e, Value x, Value rows, Value cols) {
  NSBuffers buf;
  buf.x = x;
  buf.rows = rows;
  buf.cols = cols;
  buf.side = e.imin(rows, cols);
  buf.y = e.scratch({rows, cols});
  buf.gram = e.scratch({buf.side, buf.side});
  buf.poly = e.scratch({buf.side, buf.side});
  return buf;
}

/// P = aI + bG + cG² for a side×side Gram matrix G, row by row:
/// P[i,:] = a e_i + b G[i,:] + c Σ_m G[i,m] G[m,:].
void emitPolynomial(Emitter &e, NewtonSchulzAttr config, Value gram,
                    Value poly, Value side) {
  NSCoefficients coef = getNSCoefficients(config.getPolynomial());
  Value a = e.cst(coef.a), bCoef = e.cst(coef.b), c = e.cst(coef.c);
  e.loop(side, [&](Value i) {
    e.loop(side, [&](Value l) {
      e.store(e.mul(bCoef, e.load(gram, {i, l})), poly, {i, l});
    });
    e.store(e.add(e.load(poly, {i, i}), a), poly, {i, i});
    if (coef.c == 0.0)
      return;
    e.loop(side, [&](Value m) {
      Value gim = e.mul(c, e.load(gram, {i, m}));
      e.loop(side, [&](Value l) {
        e.store(e.fma(gim, e.load(gram, {m, l}), e.load(poly, {i, l})), poly,
                {i, l});
      });
    });
  });
}

/// NS(X) in place on the R×C buffer `buf.x`: normalise once, then `steps`
/// times X ← p(XXᵀ)X when R ≤ C, or the equal X ← X p(XᵀX) when R > C, so the
/// Gram matrix is min(R, C)² (the polynomial is odd: X p(XᵀX) = p(XXᵀ) X).
void emitNewtonSchulz(Emitter &e, NewtonSchulzAttr config,
                      const NSBuffers &buf) {
  Value x = buf.x, y = buf.y, gram = buf.gram, poly = buf.poly;
  Value rows = buf.rows, cols = buf.cols, side = buf.side;
  Value sq = e.sum(rows, [&](Value i) {
    return e.sum(cols, [&](Value j) {
      Value v = e.load(x, {i, j});
      return e.mul(v, v);
    });
  });
  Value norm = e.sqrt(sq);
  Value eps = e.cst(config.getEpsValue());
  Value denom = config.getEpsMode() == EpsMode::Add ? e.add(norm, eps)
                                                    : e.maxf(norm, eps);
  Value inv = e.div(e.cst(1.0), denom);
  e.loop(rows, [&](Value i) {
    e.loop(cols, [&](Value j) {
      e.store(e.mul(e.load(x, {i, j}), inv), x, {i, j});
    });
  });
  Value zero = e.cst(0.0);
  Value wide = arith::CmpIOp::create(e.b, arith::CmpIPredicate::ule, rows,
                                     cols);
  e.loop(e.idx(config.getSteps()), [&](Value) {
    auto ifOp = scf::IfOp::create(e.b, wide, /*withElseRegion=*/true);
    {
      // R ≤ C: G = XXᵀ (rows of X are contiguous), Y = P X.
      OpBuilder::InsertionGuard guard(e.b);
      e.b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      e.loop(rows, [&](Value i) {
        e.loop(rows, [&](Value l) {
          Value dot = e.sum(cols, [&](Value j) {
            return e.mul(e.load(x, {i, j}), e.load(x, {l, j}));
          });
          e.store(dot, gram, {i, l});
        });
      });
      emitPolynomial(e, config, gram, poly, side);
      e.fill(y, {rows, cols}, zero);
      e.loop(rows, [&](Value i) {
        e.loop(rows, [&](Value l) {
          Value p = e.load(poly, {i, l});
          e.loop(cols, [&](Value j) {
            e.store(e.fma(p, e.load(x, {l, j}), e.load(y, {i, j})), y, {i, j});
          });
        });
      });
    }
    {
      // R > C: G = XᵀX accumulated row by row, Y = X P.
      OpBuilder::InsertionGuard guard(e.b);
      e.b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
      e.fill(gram, {cols, cols}, zero);
      e.loop(rows, [&](Value i) {
        e.loop(cols, [&](Value j) {
          Value xij = e.load(x, {i, j});
          e.loop(cols, [&](Value l) {
            e.store(e.fma(xij, e.load(x, {i, l}), e.load(gram, {j, l})), gram,
                    {j, l});
          });
        });
      });
      emitPolynomial(e, config, gram, poly, side);
      e.fill(y, {rows, cols}, zero);
      e.loop(rows, [&](Value i) {
        e.loop(cols, [&](Value l) {
          Value xil = e.load(x, {i, l});
          e.loop(cols, [&](Value j) {
            e.store(e.fma(xil, e.load(poly, {l, j}), e.load(y, {i, j})), y,
                    {i, j});
          });
        });
      });
    }
    memref::CopyOp::create(e.b, y, x);
  });
}

/// A buffer view of a tensor operand, with a fully dynamic strided layout so
/// that any buffer one-shot bufferization picks for it is compatible.
Value toBuffer(ImplicitLocOpBuilder &b, Value tensor) {
  if (!tensor)
    return {};
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
  auto layout =
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides);
  auto memrefType =
      MemRefType::get(type.getShape(), type.getElementType(), layout);
  return bufferization::ToBufferOp::create(b, memrefType, tensor,
                                           /*read_only=*/true);
}

/// A fresh buffer for a result tensor; `sizes` gives every dimension.
Value allocResult(Emitter &e, Type tensorType, ArrayRef<Value> sizes) {
  auto type = cast<RankedTensorType>(tensorType);
  SmallVector<Value> dynamic;
  for (auto [i, size] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(size))
      dynamic.push_back(sizes[i]);
  return memref::AllocOp::create(
      e.b, MemRefType::get(type.getShape(), type.getElementType()), dynamic);
}

/// Lowers one muonssm.scan (docs/dialect.md §2) to loops.
class ScanEmitter {
public:
  ScanEmitter(ScanOp op, ImplicitLocOpBuilder &b)
      : op(op), e(b, op.getAccumulationType()) {}

  SmallVector<Value> run(ScanOp::Adaptor adaptor) {
    ImplicitLocOpBuilder &b = e.b;
    q = toBuffer(b, adaptor.getQ());
    k = toBuffer(b, adaptor.getK());
    v = toBuffer(b, adaptor.getV());
    g = toBuffer(b, adaptor.getG());
    dt = toBuffer(b, adaptor.getDt());
    a = toBuffer(b, adaptor.getA());
    beta = toBuffer(b, adaptor.getBeta());
    cu = toBuffer(b, adaptor.getCuSeqlens());
    s0 = toBuffer(b, adaptor.getInitialState());
    m0 = toBuffer(b, adaptor.getInitialMomentum());

    batch = e.dim(v, 0);
    seqLen = e.dim(v, 1);
    valueHeads = e.dim(v, 2);
    valueDim = e.dim(v, 3);
    keyHeads = e.dim(q, 2);
    keyDim = e.dim(q, 3);
    Value sequences = cu ? e.isub(e.dim(cu, 0), e.idx(1)) : batch;

    oBuf = allocResult(e, op.getO().getType(),
                       {batch, seqLen, valueHeads, valueDim});
    if (op.getFinalState())
      sBuf = allocResult(e, op.getFinalState().getType(),
                         {sequences, valueHeads, keyDim, valueDim});
    if (op.getFinalMomentum())
      mBuf = allocResult(e, op.getFinalMomentum().getType(),
                         {sequences, valueHeads, keyDim, valueDim});

    state = e.scratch({keyDim, valueDim});
    if (op.hasMomentum())
      momentum = e.scratch({keyDim, valueDim});
    kVec = e.scratch({keyDim});
    qVec = e.scratch({keyDim});
    wVec = e.scratch({valueDim});
    uVec = e.scratch({valueDim});
    oVec = e.scratch({valueDim});
    if (dt)
      dtVec = e.scratch({valueDim});
    if (op.getNewtonSchulz())
      ns = allocateNS(e, e.scratch({keyDim, valueDim}), keyDim, valueDim);

    Value group = e.idiv(valueHeads, keyHeads); // value heads per key head
    e.loop(sequences, [&](Value n) {
      Value bIdx = n, first = e.idx(0), last = seqLen;
      if (cu) {
        // Offsets are validated by the caller; clamping keeps a bad one from
        // reading outside the buffers.
        Type index = b.getIndexType();
        Value lo = arith::IndexCastOp::create(
            b, index, memref::LoadOp::create(b, cu, ValueRange{n}));
        Value hi = arith::IndexCastOp::create(
            b, index,
            memref::LoadOp::create(b, cu, ValueRange{e.iadd(n, e.idx(1))}));
        bIdx = e.idx(0);
        first = e.imin(e.imax(lo, e.idx(0)), seqLen);
        last = e.imin(e.imax(hi, first), seqLen);
      }
      e.loop(valueHeads, [&](Value h) {
        Value kh = e.idiv(h, group);
        loadState(state, s0, n, h);
        if (momentum)
          loadState(momentum, m0, n, h);
        e.loop(first, last, [&](Value t) { token(bIdx, t, h, kh); });
        if (sBuf)
          storeState(state, sBuf, n, h);
        if (mBuf)
          storeState(momentum, mBuf, n, h);
      });
    });

    SmallVector<Value> results;
    results.push_back(toTensor(op.getO(), oBuf));
    if (sBuf)
      results.push_back(toTensor(op.getFinalState(), sBuf));
    if (mBuf)
      results.push_back(toTensor(op.getFinalMomentum(), mBuf));
    return results;
  }

private:
  Value toTensor(Value result, Value buffer) {
    return bufferization::ToTensorOp::create(e.b, result.getType(), buffer,
                                             /*restrict=*/true,
                                             /*writable=*/true);
  }

  void loadState(Value scratch, Value initial, Value n, Value h) {
    if (!initial)
      return e.fill(scratch, {keyDim, valueDim}, e.cst(0.0));
    e.loop(keyDim, [&](Value i) {
      e.loop(valueDim, [&](Value j) {
        e.store(e.load(initial, {n, h, i, j}), scratch, {i, j});
      });
    });
  }
  void storeState(Value scratch, Value out, Value n, Value h) {
    e.loop(keyDim, [&](Value i) {
      e.loop(valueDim, [&](Value j) {
        e.store(e.load(scratch, {i, j}), out, {n, h, i, j});
      });
    });
  }

  /// One token of one (sequence, value head).
  void token(Value bIdx, Value t, Value h, Value kh) {
    e.loop(keyDim, [&](Value i) {
      e.store(e.load(k, {bIdx, t, kh, i}), kVec, {i});
      e.store(e.load(q, {bIdx, t, kh, i}), qVec, {i});
    });

    // β per head, if any; per-channel β is read inside the loops.
    Value betaHead;
    if (beta && !op.hasChannelBeta())
      betaHead = e.load(beta, {bIdx, t, h});

    applyDecay(bIdx, t, h);

    // u = kᵀ D(H): the decayed state's read-out at k (error input, delta rule).
    bool needRead = op.getInput() == InputKind::Error || op.hasDeltaRule();
    if (needRead) {
      e.fill(uVec, {valueDim}, e.cst(0.0));
      e.loop(keyDim, [&](Value i) {
        Value ki = e.load(kVec, {i});
        e.loop(valueDim, [&](Value j) {
          e.store(e.fma(ki, e.load(state, {i, j}), e.load(uVec, {j})), uVec,
                  {j});
        });
      });
    }

    // w: the value side of the rank-1 input X = k wᵀ.
    e.loop(valueDim, [&](Value j) {
      Value value = e.load(v, {bIdx, t, h, j});
      if (op.getInput() == InputKind::Error)
        value = e.sub(value, e.load(uVec, {j}));
      if (op.getDecay() == DecayKind::Longhorn)
        value = e.mul(e.load(dtVec, {j}), value); // dtn_t ⊙ v_t
      else if (betaHead)
        value = e.mul(betaHead, value);
      else if (beta)
        value = e.mul(e.load(beta, {bIdx, t, h, j}), value);
      e.store(value, wVec, {j});
    });

    // Delta rule: H ← D(H) − η β k uᵀ.
    if (op.hasDeltaRule()) {
      Value coef = e.cst(-op.getDeltaRule()->convertToDouble());
      if (betaHead)
        coef = e.mul(coef, betaHead);
      e.loop(keyDim, [&](Value i) {
        Value ki = e.mul(coef, e.load(kVec, {i}));
        e.loop(valueDim, [&](Value j) {
          e.store(e.fma(ki, e.load(uVec, {j}), e.load(state, {i, j})), state,
                  {i, j});
        });
      });
    }

    applyInput();

    // o = scale · Hᵀq, accumulated row by row.
    e.fill(oVec, {valueDim}, e.cst(0.0));
    e.loop(keyDim, [&](Value i) {
      Value qi = e.load(qVec, {i});
      e.loop(valueDim, [&](Value j) {
        e.store(e.fma(qi, e.load(state, {i, j}), e.load(oVec, {j})), oVec,
                {j});
      });
    });
    Value scale = e.cst(op.getScale().convertToDouble());
    e.loop(valueDim, [&](Value j) {
      e.store(e.mul(scale, e.load(oVec, {j})), oBuf, {bIdx, t, h, j});
    });
  }

  void applyDecay(Value bIdx, Value t, Value h) {
    switch (op.getDecay()) {
    case DecayKind::None:
      return;
    case DecayKind::Scalar: {
      Value factor = e.exp(e.load(g, {bIdx, t, h}));
      e.loop(keyDim, [&](Value i) {
        e.loop(valueDim, [&](Value j) {
          e.store(e.mul(factor, e.load(state, {i, j})), state, {i, j});
        });
      });
      return;
    }
    case DecayKind::Diagonal:
      e.loop(keyDim, [&](Value i) {
        Value factor = e.exp(e.load(g, {bIdx, t, h, i}));
        e.loop(valueDim, [&](Value j) {
          e.store(e.mul(factor, e.load(state, {i, j})), state, {i, j});
        });
      });
      return;
    case DecayKind::Mamba:
      // F[i,j] = exp(Δ_t[j] · A[h,i,j]).
      e.loop(valueDim, [&](Value j) {
        e.store(e.load(dt, {bIdx, t, h, j}), dtVec, {j});
      });
      e.loop(keyDim, [&](Value i) {
        e.loop(valueDim, [&](Value j) {
          Value factor =
              e.exp(e.mul(e.load(dtVec, {j}), e.load(a, {h, i, j})));
          e.store(e.mul(factor, e.load(state, {i, j})), state, {i, j});
        });
      });
      return;
    case DecayKind::Longhorn: {
      // dtn[j] = dt[j] / (1 + dt[j] ‖k‖²); F[i,j] = 1 − dtn[j] k[i]².
      Value normSq = e.sum(keyDim, [&](Value i) {
        Value ki = e.load(kVec, {i});
        return e.mul(ki, ki);
      });
      Value one = e.cst(1.0);
      e.loop(valueDim, [&](Value j) {
        Value raw = e.load(dt, {bIdx, t, h, j});
        e.store(e.div(raw, e.fma(raw, normSq, one)), dtVec, {j});
      });
      e.loop(keyDim, [&](Value i) {
        Value ki = e.load(kVec, {i});
        Value kSq = e.mul(ki, ki);
        e.loop(valueDim, [&](Value j) {
          Value factor = e.sub(one, e.mul(e.load(dtVec, {j}), kSq));
          e.store(e.mul(factor, e.load(state, {i, j})), state, {i, j});
        });
      });
      return;
    }
    }
  }

  /// Adds the momentum input m_t = τ k wᵀ (with Newton–Schulz where asked)
  /// through the momentum, if any, to the state.
  void applyInput() {
    double tauValue = op.getTau().convertToDouble();
    std::optional<NewtonSchulzAttr> config = op.getNewtonSchulz();
    bool after = op.getTauPlacement() == TauPlacement::After;
    Value tauIn = e.cst(config && after ? 1.0 : tauValue);
    Value tauOut = e.cst(config && after ? tauValue : 1.0);
    Value gamma =
        momentum ? e.cst(op.getMomentum()->convertToDouble()) : Value();

    // X = τ_in k wᵀ written into `target`.
    auto writeInput = [&](Value target) {
      e.loop(keyDim, [&](Value i) {
        Value ki = e.mul(tauIn, e.load(kVec, {i}));
        e.loop(valueDim, [&](Value j) {
          e.store(e.mul(ki, e.load(wVec, {j})), target, {i, j});
        });
      });
    };

    if (!config) {
      // m_t = τ k wᵀ; M ← γM + m_t; H += M (or m_t).
      e.loop(keyDim, [&](Value i) {
        Value ki = e.mul(tauIn, e.load(kVec, {i}));
        e.loop(valueDim, [&](Value j) {
          Value m = e.mul(ki, e.load(wVec, {j}));
          if (momentum) {
            m = e.fma(gamma, e.load(momentum, {i, j}), m);
            e.store(m, momentum, {i, j});
          }
          e.store(e.add(e.load(state, {i, j}), m), state, {i, j});
        });
      });
      return;
    }

    if (op.getNsTarget() == NSTarget::Update) {
      // m_t = τ_out NS(τ_in k wᵀ).
      writeInput(ns.x);
      emitNewtonSchulz(e, *config, ns);
      e.loop(keyDim, [&](Value i) {
        e.loop(valueDim, [&](Value j) {
          Value m = e.mul(tauOut, e.load(ns.x, {i, j}));
          if (momentum) {
            m = e.fma(gamma, e.load(momentum, {i, j}), m);
            e.store(m, momentum, {i, j});
          }
          e.store(e.add(e.load(state, {i, j}), m), state, {i, j});
        });
      });
      return;
    }

    // NS of the whole momentum: M ← γM + τ_in k wᵀ; H += τ_out NS(M).
    e.loop(keyDim, [&](Value i) {
      Value ki = e.mul(tauIn, e.load(kVec, {i}));
      e.loop(valueDim, [&](Value j) {
        Value m = e.fma(gamma, e.load(momentum, {i, j}),
                        e.mul(ki, e.load(wVec, {j})));
        e.store(m, momentum, {i, j});
        e.store(m, ns.x, {i, j});
      });
    });
    emitNewtonSchulz(e, *config, ns);
    e.loop(keyDim, [&](Value i) {
      e.loop(valueDim, [&](Value j) {
        e.store(e.fma(tauOut, e.load(ns.x, {i, j}), e.load(state, {i, j})),
                state, {i, j});
      });
    });
  }

  ScanOp op;
  Emitter e;
  Value q, k, v, g, dt, a, beta, cu, s0, m0;
  Value batch, seqLen, valueHeads, valueDim, keyHeads, keyDim;
  Value oBuf, sBuf, mBuf;
  Value state, momentum, kVec, qVec, wVec, uVec, oVec, dtVec;
  NSBuffers ns;
};

struct ScanToLoops : OpConversionPattern<ScanOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ScanOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    SmallVector<Value> results = ScanEmitter(op, b).run(adaptor);
    rewriter.replaceOp(op, results);
    return success();
  }
};

struct NewtonSchulzToLoops : OpConversionPattern<NewtonSchulzOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(NewtonSchulzOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    auto type = op.getInput().getType();
    FloatType acc = type.getElementType().isF64()
                        ? FloatType(Float64Type::get(op.getContext()))
                        : FloatType(Float32Type::get(op.getContext()));
    Emitter e(b, acc);
    Value input = toBuffer(b, adaptor.getInput());
    int64_t rank = type.getRank();
    SmallVector<Value> sizes;
    for (int64_t i = 0; i < rank; ++i)
      sizes.push_back(e.dim(input, i));
    Value output = allocResult(e, type, sizes);
    Value rows = sizes[rank - 2], cols = sizes[rank - 1];
    NSBuffers ns = allocateNS(e, e.scratch({rows, cols}), rows, cols);

    // One matrix per index of the leading dimensions.
    std::function<void(int64_t, SmallVector<Value>)> nest =
        [&](int64_t d, SmallVector<Value> indices) {
          if (d < rank - 2)
            return e.loop(sizes[d], [&](Value iv) {
              SmallVector<Value> next = indices;
              next.push_back(iv);
              nest(d + 1, next);
            });
          auto at = [&](Value i, Value j) {
            SmallVector<Value> all = indices;
            all.append({i, j});
            return all;
          };
          e.loop(rows, [&](Value i) {
            e.loop(cols, [&](Value j) {
              e.store(e.load(input, at(i, j)), ns.x, {i, j});
            });
          });
          emitNewtonSchulz(e, op.getConfig(), ns);
          e.loop(rows, [&](Value i) {
            e.loop(cols, [&](Value j) {
              e.store(e.load(ns.x, {i, j}), output, at(i, j));
            });
          });
        };
    nest(0, {});
    rewriter.replaceOp(op, bufferization::ToTensorOp::create(
                               b, type, output, /*restrict=*/true,
                               /*writable=*/true));
    return success();
  }
};

struct LowerToCPUPass : muonssm::impl::LowerToCPUBase<LowerToCPUPass> {
  void runOnOperation() override {
    ConversionTarget target(getContext());
    target.addIllegalDialect<MuonSSMDialect>();
    target.addLegalDialect<arith::ArithDialect, bufferization::BufferizationDialect,
                           math::MathDialect, memref::MemRefDialect,
                           scf::SCFDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(&getContext());
    populateLowerToCPUPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::muonssm::populateLowerToCPUPatterns(RewritePatternSet &patterns) {
  patterns.add<ScanToLoops, NewtonSchulzToLoops>(patterns.getContext());
}
