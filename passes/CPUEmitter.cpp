//===- CPUEmitter.cpp - building blocks of the CPU lowering ---------------===//

#include "passes/CPUEmitter.h"

#include <tuple>

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::cpu;

NSBuffers cpu::allocateNS(Emitter &e, Value x, Value rows, Value cols) {
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

/// P = aI + bG + cG² for a side×side matrix G, row by row:
/// P[i,:] = a e_i + b G[i,:] + c Σ_m G[i,m] G[m,:].
void cpu::emitNSPolynomial(Emitter &e, NewtonSchulzAttr config, Value gram,
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
void cpu::emitNewtonSchulz(Emitter &e, NewtonSchulzAttr config,
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
      emitNSPolynomial(e, config, gram, poly, side);
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
      emitNSPolynomial(e, config, gram, poly, side);
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

Value cpu::toBuffer(ImplicitLocOpBuilder &b, Value tensor) {
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

Value cpu::allocResult(Emitter &e, Type tensorType, ArrayRef<Value> sizes) {
  auto type = cast<RankedTensorType>(tensorType);
  SmallVector<Value> dynamic;
  for (auto [i, size] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(size))
      dynamic.push_back(sizes[i]);
  return memref::AllocOp::create(
      e.b, MemRefType::get(type.getShape(), type.getElementType()), dynamic);
}

Value cpu::emitRank1Gain(Emitter &e, NewtonSchulzAttr config, Value sigma) {
  NSCoefficients coef = getNSCoefficients(config.getPolynomial());
  Value eps = e.cst(config.getEpsValue());
  Value denom = config.getEpsMode() == EpsMode::Add ? e.add(sigma, eps)
                                                    : e.maxf(sigma, eps);
  Value s = e.div(sigma, denom);
  // The scalar map f(s) = s(a + s²(b + c s²)), `steps` times.
  for (int64_t step = 0; step < config.getSteps(); ++step) {
    Value s2 = e.mul(s, s);
    Value inner = e.fma(e.cst(coef.c), s2, e.cst(coef.b));
    s = e.mul(s, e.fma(inner, s2, e.cst(coef.a)));
  }
  Value zero = e.cst(0.0);
  Value isZero = arith::CmpFOp::create(e.b, arith::CmpFPredicate::OEQ, sigma,
                                       zero);
  return arith::SelectOp::create(e.b, isZero, zero, e.div(s, sigma));
}

ScanFrame cpu::setUpScan(ScanOp op, ScanOp::Adaptor adaptor, Emitter &e) {
  ImplicitLocOpBuilder &b = e.b;
  ScanFrame f;
  f.q = toBuffer(b, adaptor.getQ());
  f.k = toBuffer(b, adaptor.getK());
  f.v = toBuffer(b, adaptor.getV());
  f.g = toBuffer(b, adaptor.getG());
  f.dt = toBuffer(b, adaptor.getDt());
  f.a = toBuffer(b, adaptor.getA());
  f.beta = toBuffer(b, adaptor.getBeta());
  f.gain = toBuffer(b, adaptor.getGain());
  f.skip = toBuffer(b, adaptor.getSkip());
  f.gate = toBuffer(b, adaptor.getGate());
  f.cu = toBuffer(b, adaptor.getCuSeqlens());
  f.s0 = toBuffer(b, adaptor.getInitialState());
  f.m0 = toBuffer(b, adaptor.getInitialMomentum());

  f.batch = e.dim(f.v, 0);
  f.seqLen = e.dim(f.v, 1);
  f.valueHeads = e.dim(f.v, 2);
  f.valueDim = e.dim(f.v, 3);
  f.keyHeads = e.dim(f.q, 2);
  f.keyDim = e.dim(f.q, 3);
  f.group = e.idiv(f.valueHeads, f.keyHeads); // value heads per key head
  f.sequences = f.cu ? e.isub(e.dim(f.cu, 0), e.idx(1)) : f.batch;

  f.oBuf = allocResult(e, op.getO().getType(),
                       {f.batch, f.seqLen, f.valueHeads, f.valueDim});
  // With state pools the final states are the pools [P, …], every slot
  // but the selected ones unchanged: they start as copies (zeros for a
  // momentum without a pool).
  f.slots = toBuffer(b, adaptor.getStateIndices());
  Value stateRows = f.slots ? e.dim(f.s0, 0) : f.sequences;
  auto allocState = [&](Value result, Value pool) -> Value {
    if (!result)
      return Value();
    Value buffer = allocResult(e, result.getType(),
                               {stateRows, f.valueHeads, f.keyDim, f.valueDim});
    if (f.slots && pool)
      memref::CopyOp::create(b, pool, buffer);
    else if (f.slots)
      e.fill(buffer, {stateRows, f.valueHeads, f.keyDim, f.valueDim},
             e.cst(0.0));
    return buffer;
  };
  f.sBuf = allocState(op.getFinalState(), f.s0);
  f.mBuf = allocState(op.getFinalMomentum(), f.m0);
  f.state = e.scratch({f.keyDim, f.valueDim});
  if (op.hasMomentum())
    f.momentum = e.scratch({f.keyDim, f.valueDim});
  return f;
}

std::pair<Value, Value> cpu::sequenceBounds(Emitter &e, Value cu, Value n,
                                            Value seqLen) {
  // Offsets are validated by the caller; clamping keeps a bad one from
  // reading outside the buffers.
  ImplicitLocOpBuilder &b = e.b;
  Type index = b.getIndexType();
  Value lo = arith::IndexCastOp::create(
      b, index, memref::LoadOp::create(b, cu, ValueRange{n}));
  Value hi = arith::IndexCastOp::create(
      b, index, memref::LoadOp::create(b, cu, ValueRange{e.iadd(n, e.idx(1))}));
  Value first = e.imin(e.imax(lo, e.idx(0)), seqLen);
  return {first, e.imin(e.imax(hi, first), seqLen)};
}

void cpu::emitSequencesAndHeads(
    Emitter &e, ScanFrame &f,
    function_ref<void(Value, Value, Value, Value, Value)> body) {
  ImplicitLocOpBuilder &b = e.b;
  auto load = [&](Value scratch, Value initial, Value n, Value h) {
    if (!initial)
      return e.fill(scratch, {f.keyDim, f.valueDim}, e.cst(0.0));
    e.loop(f.keyDim, [&](Value i) {
      e.loop(f.valueDim, [&](Value j) {
        e.store(e.load(initial, {n, h, i, j}), scratch, {i, j});
      });
    });
  };
  auto store = [&](Value scratch, Value out, Value n, Value h) {
    e.loop(f.keyDim, [&](Value i) {
      e.loop(f.valueDim, [&](Value j) {
        e.store(e.load(scratch, {i, j}), out, {n, h, i, j});
      });
    });
  };
  e.loop(f.sequences, [&](Value n) {
    // The state slot of sequence n: n, or its pool slot. Slots are
    // validated by the caller (distinct, in range); clamping keeps a bad
    // one inside the pool.
    Value slot = n;
    if (f.slots) {
      Value raw = arith::IndexCastOp::create(
          b, b.getIndexType(), memref::LoadOp::create(b, f.slots, ValueRange{n}));
      slot = e.imin(e.imax(raw, e.idx(0)),
                    e.isub(e.dim(f.s0, 0), e.idx(1)));
    }
    Value bIdx = n, first = e.idx(0), last = f.seqLen;
    if (f.cu) {
      bIdx = e.idx(0);
      std::tie(first, last) = sequenceBounds(e, f.cu, n, f.seqLen);
    }
    e.loop(f.valueHeads, [&](Value h) {
      Value kh = e.idiv(h, f.group);
      load(f.state, f.s0, slot, h);
      if (f.momentum)
        load(f.momentum, f.m0, slot, h);
      body(bIdx, first, last, h, kh);
      if (f.sBuf)
        store(f.state, f.sBuf, slot, h);
      if (f.mBuf)
        store(f.momentum, f.mBuf, slot, h);
    });
  });
}

void cpu::storeOutput(Emitter &e, const ScanFrame &f, Value y, Value b,
                      Value t, Value h, Value j) {
  if (f.skip)
    y = e.fma(e.load(f.skip, {h, j}), e.load(f.v, {b, t, h, j}), y);
  if (f.gate) {
    Value z = e.load(f.gate, {b, t, h, j});
    // silu(z) = z / (1 + e^{−z})
    y = e.mul(y, e.div(z, e.add(e.cst(1.0), e.exp(e.sub(e.cst(0.0), z)))));
  }
  e.store(y, f.oBuf, {b, t, h, j});
}

SmallVector<Value> cpu::scanResults(ScanOp op, Emitter &e,
                                    const ScanFrame &f) {
  auto toTensor = [&](Value result, Value buffer) -> Value {
    return bufferization::ToTensorOp::create(e.b, result.getType(), buffer,
                                             /*restrict=*/true,
                                             /*writable=*/true);
  };
  SmallVector<Value> results{toTensor(op.getO(), f.oBuf)};
  if (f.sBuf)
    results.push_back(toTensor(op.getFinalState(), f.sBuf));
  if (f.mBuf)
    results.push_back(toTensor(op.getFinalMomentum(), f.mBuf));
  return results;
}
