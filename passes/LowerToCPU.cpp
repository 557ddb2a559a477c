//===- LowerToCPU.cpp - muonssm ops to loops on buffers -------------------===//
//
// The embedded default: each muonssm op becomes scf.for loops over memrefs
// that compute the per-token recurrence of docs/dialect.md in the
// accumulation precision. The loops read and write contiguous rows of the
// K×V state so that LLVM can vectorise the inner loop over V.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMOps.h"
#include "passes/CPUEmitter.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::muonssm {
#define GEN_PASS_DEF_LOWERTOCPU
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::cpu;

namespace {

/// Lowers one muonssm.scan (docs/dialect.md §2) to loops.
class ScanEmitter {
public:
  ScanEmitter(ScanOp op, ImplicitLocOpBuilder &b)
      : op(op), e(b, op.getAccumulationType()) {}

  SmallVector<Value> run(ScanOp::Adaptor adaptor) {
    f = setUpScan(op, adaptor, e);
    q = f.q, k = f.k, v = f.v, g = f.g, dt = f.dt, a = f.a, beta = f.beta;
    gain = f.gain;
    keyDim = f.keyDim, valueDim = f.valueDim;
    oBuf = f.oBuf, state = f.state, momentum = f.momentum;
    kVec = e.scratch({keyDim});
    qVec = e.scratch({keyDim});
    wVec = e.scratch({valueDim});
    uVec = e.scratch({valueDim});
    oVec = e.scratch({valueDim});
    if (dt)
      dtVec = e.scratch({valueDim});
    if (op.getNsTarget() == NSTarget::Momentum)
      ns = allocateNS(e, e.scratch({keyDim, valueDim}), keyDim, valueDim);
    emitSequencesAndHeads(e, f,
                          [&](Value bIdx, Value first, Value last, Value h,
                              Value kh) {
                            e.loop(first, last,
                                   [&](Value t) { token(bIdx, t, h, kh); });
                          });
    return scanResults(op, e, f);
  }

private:
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

    applyInput(bIdx, t, h);

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
      storeOutput(e, f, e.mul(scale, e.load(oVec, {j})), bIdx, t, h, j);
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

  /// Adds the momentum input m_t to the momentum, if any, and to the state.
  /// NS on the update is the closed form m_t = τ_out·G(τ_in‖k‖‖w‖)·τ_in·k wᵀ
  /// (docs/chunking.md §1): X_t is rank 1 by construction, so no K×V matrix
  /// is formed. NS of the momentum runs explicitly on the resident M.
  void applyInput(Value bIdx, Value t, Value h) {
    double tauValue = op.getTau().convertToDouble();
    std::optional<NewtonSchulzAttr> config = op.getNewtonSchulz();
    bool after = op.getTauPlacement() == TauPlacement::After;
    Value tauIn = e.cst(config && after ? 1.0 : tauValue);
    Value tauOut = e.cst(config && after ? tauValue : 1.0);
    Value gamma =
        momentum ? e.cst(op.getMomentum()->convertToDouble()) : Value();

    // coef: the scalar multiplying k wᵀ in m_t (or in M's input).
    Value coef = tauIn;
    if (gain)
      coef = e.mul(coef, e.load(gain, {bIdx, t, h}));
    bool nsOnMomentum = config && op.getNsTarget() == NSTarget::Momentum;
    if (config && !nsOnMomentum) {
      Value kk = e.sum(keyDim, [&](Value i) {
        Value ki = e.load(kVec, {i});
        return e.mul(ki, ki);
      });
      Value ww = e.sum(valueDim, [&](Value j) {
        Value wj = e.load(wVec, {j});
        return e.mul(wj, wj);
      });
      Value sigma = e.mul(tauIn, e.mul(e.sqrt(kk), e.sqrt(ww)));
      coef = e.mul(tauOut, e.mul(emitRank1Gain(e, *config, sigma), tauIn));
    }

    if (!nsOnMomentum) {
      // M ← γM + coef·k wᵀ; H += M (or the input itself).
      e.loop(keyDim, [&](Value i) {
        Value ki = e.mul(coef, e.load(kVec, {i}));
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

    // NS of the whole momentum: M ← γM + coef·k wᵀ; H += τ_out NS(M).
    e.loop(keyDim, [&](Value i) {
      Value ki = e.mul(coef, e.load(kVec, {i}));
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
  ScanFrame f;
  Value q, k, v, g, dt, a, beta, gain;
  Value valueDim, keyDim;
  Value oBuf, state, momentum, kVec, qVec, wVec, uVec, oVec, dtVec;
  NSBuffers ns;
};

struct ScanToLoops : OpConversionPattern<ScanOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ScanOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    SmallVector<Value> results = op.isChunked()
                                     ? emitChunkedScan(op, adaptor, b)
                                     : ScanEmitter(op, b).run(adaptor);
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

/// gain[b,t,h] = τ_out·τ_in·G(τ_in‖k‖‖w‖) (docs/chunking.md §1).
struct Rank1GainToLoops : OpConversionPattern<Rank1GainOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(Rank1GainOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    auto type = op.getGain().getType();
    Emitter e(b, cast<FloatType>(type.getElementType()));
    Value k = toBuffer(b, adaptor.getK()), v = toBuffer(b, adaptor.getV());
    Value beta = toBuffer(b, adaptor.getBeta());
    Value dt = toBuffer(b, adaptor.getDt());
    Value batch = e.dim(v, 0), seqLen = e.dim(v, 1), heads = e.dim(v, 2),
          valueDim = e.dim(v, 3), keyDim = e.dim(k, 3);
    Value group = e.idiv(heads, e.dim(k, 2));
    Value out = allocResult(e, type, {batch, seqLen, heads});
    bool channelBeta =
        beta && cast<MemRefType>(beta.getType()).getRank() == 4;
    Value tauIn = e.cst(op.getTauIn().convertToDouble());
    Value tauOut = e.cst(op.getTauOut().convertToDouble());
    e.loop(batch, [&](Value bi) {
      e.loop(seqLen, [&](Value t) {
        e.loop(heads, [&](Value h) {
          Value kh = e.idiv(h, group);
          Value kk = e.sum(keyDim, [&](Value i) {
            Value x = e.load(k, {bi, t, kh, i});
            return e.mul(x, x);
          });
          Value betaHead =
              beta && !channelBeta ? e.load(beta, {bi, t, h}) : Value();
          Value ww = e.sum(valueDim, [&](Value j) {
            Value w = e.load(v, {bi, t, h, j});
            if (dt) { // LongHorn: dtn = dt / (1 + dt‖k‖²)
              Value d = e.load(dt, {bi, t, h, j});
              w = e.mul(e.div(d, e.fma(d, kk, e.cst(1.0))), w);
            } else if (betaHead) {
              w = e.mul(betaHead, w);
            } else if (beta) {
              w = e.mul(e.load(beta, {bi, t, h, j}), w);
            }
            return e.mul(w, w);
          });
          Value sigma = e.mul(tauIn, e.mul(e.sqrt(kk), e.sqrt(ww)));
          Value gain = e.mul(e.mul(tauOut, tauIn),
                             emitRank1Gain(e, op.getNewtonSchulz(), sigma));
          e.store(gain, out, {bi, t, h});
        });
      });
    });
    rewriter.replaceOp(op, bufferization::ToTensorOp::create(
                               b, type, out, /*restrict=*/true,
                               /*writable=*/true));
    return success();
  }
};

/// Effective keys of the per-chunk NS approximation (docs/chunking.md §3.2):
/// per sequence, value head and chunk of n ≤ C tokens, the n×n Grams
/// G_k = K_c K_cᵀ and G_v = W_c W_cᵀ, Z₀ = τ_in/(‖U‖ ⊕ ε)·I, `steps` times
/// Z ← p(M) Z with M = Z G_v Zᵀ G_k, and k̃_t = τ_out Σ_i Z_it k_i.
struct ChunkNewtonSchulzToLoops : OpConversionPattern<ChunkNewtonSchulzOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ChunkNewtonSchulzOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    auto type = op.getKeys().getType();
    FloatType acc = type.getElementType().isF64()
                        ? FloatType(b.getF64Type())
                        : FloatType(b.getF32Type());
    Emitter e(b, acc);
    NewtonSchulzAttr config = op.getNewtonSchulz();
    Value k = toBuffer(b, adaptor.getK()), v = toBuffer(b, adaptor.getV());
    Value beta = toBuffer(b, adaptor.getBeta());
    Value cu = toBuffer(b, adaptor.getCuSeqlens());
    bool channelBeta =
        beta && cast<MemRefType>(beta.getType()).getRank() == 4;
    Value batch = e.dim(v, 0), seqLen = e.dim(v, 1), heads = e.dim(v, 2),
          valueDim = e.dim(v, 3), keyDim = e.dim(k, 3);
    Value group = e.idiv(heads, e.dim(k, 2));
    Value out = allocResult(e, type, {batch, seqLen, heads, keyDim});
    Value zero = e.cst(0.0);
    if (cu) // tokens outside every sequence keep zero keys
      e.loop(batch, [&](Value bi) {
        e.loop(seqLen, [&](Value t) {
          e.loop(heads, [&](Value h) {
            e.loop(keyDim, [&](Value d) { e.store(zero, out, {bi, t, h, d}); });
          });
        });
      });

    Value chunk = e.idx(op.getChunkSize());
    Value gk = e.scratch({chunk, chunk}), gv = e.scratch({chunk, chunk});
    Value z = e.scratch({chunk, chunk}), m = e.scratch({chunk, chunk});
    Value tmp = e.scratch({chunk, chunk}), poly = e.scratch({chunk, chunk});
    Value tauIn = e.cst(op.getTauIn().convertToDouble());
    Value tauOut = e.cst(op.getTauOut().convertToDouble());
    Value eps = e.cst(config.getEpsValue());

    // dst[:n,:n] = x · (transposeY ? yᵀ : y)
    auto matmul = [&](Value x, Value y, Value dst, Value n, bool transposeY) {
      e.loop(n, [&](Value i) {
        e.loop(n, [&](Value j) {
          e.store(e.sum(n,
                        [&](Value l) {
                          return e.mul(e.load(x, {i, l}),
                                       transposeY ? e.load(y, {j, l})
                                                  : e.load(y, {l, j}));
                        }),
                  dst, {i, j});
        });
      });
    };
    auto copy = [&](Value from, Value to, Value n) {
      e.loop(n, [&](Value i) {
        e.loop(n, [&](Value j) { e.store(e.load(from, {i, j}), to, {i, j}); });
      });
    };

    // One chunk [c0, c0 + n) of batch row bi, value head h.
    auto emitChunk = [&](Value bi, Value h, Value c0, Value n) {
      Value kh = e.idiv(h, group);
      auto key = [&](Value i, Value d) {
        return e.load(k, {bi, e.iadd(c0, i), kh, d});
      };
      auto w = [&](Value i, Value j) {
        Value t = e.iadd(c0, i);
        Value x = e.load(v, {bi, t, h, j});
        if (!beta)
          return x;
        return e.mul(channelBeta ? e.load(beta, {bi, t, h, j})
                                 : e.load(beta, {bi, t, h}),
                     x);
      };
      e.loop(n, [&](Value i) {
        e.loop(n, [&](Value j) {
          e.store(e.sum(keyDim,
                        [&](Value d) { return e.mul(key(i, d), key(j, d)); }),
                  gk, {i, j});
          e.store(e.sum(valueDim,
                        [&](Value c) { return e.mul(w(i, c), w(j, c)); }),
                  gv, {i, j});
        });
      });
      // ‖U‖_F² = τ_in²·Σ_ij (G_k)_ij (G_v)_ij; rounding may push it below 0.
      Value sq = e.sum(n, [&](Value i) {
        return e.sum(n, [&](Value j) {
          return e.mul(e.load(gk, {i, j}), e.load(gv, {i, j}));
        });
      });
      Value norm = e.mul(tauIn, e.sqrt(e.maxf(sq, zero)));
      Value denom = config.getEpsMode() == EpsMode::Add ? e.add(norm, eps)
                                                        : e.maxf(norm, eps);
      Value z0 = e.div(tauIn, denom);
      e.loop(n, [&](Value i) {
        e.loop(n, [&](Value j) {
          e.store(arith::SelectOp::create(b, e.ieq(i, j), z0, zero), z, {i, j});
        });
      });
      for (int64_t step = 0; step < config.getSteps(); ++step) {
        matmul(z, gv, tmp, n, /*transposeY=*/false); // Z G_v
        matmul(tmp, z, m, n, /*transposeY=*/true);   // Z G_v Zᵀ
        matmul(m, gk, tmp, n, /*transposeY=*/false); // M = Z G_v Zᵀ G_k
        emitNSPolynomial(e, config, tmp, poly, n);
        matmul(poly, z, m, n, /*transposeY=*/false); // p(M) Z
        copy(m, z, n);
      }
      e.loop(n, [&](Value t) {
        e.loop(keyDim, [&](Value d) {
          Value sum = e.sum(
              n, [&](Value i) { return e.mul(e.load(z, {i, t}), key(i, d)); });
          e.store(e.mul(tauOut, sum), out, {bi, e.iadd(c0, t), h, d});
        });
      });
    };

    auto emitSequence = [&](Value bi, Value first, Value last) {
      e.loop(heads, [&](Value h) {
        e.loop(first, last, chunk, [&](Value c0) {
          emitChunk(bi, h, c0, e.imin(chunk, e.isub(last, c0)));
        });
      });
    };
    if (cu) {
      e.loop(e.isub(e.dim(cu, 0), e.idx(1)), [&](Value n) {
        auto [first, last] = sequenceBounds(e, cu, n, seqLen);
        emitSequence(e.idx(0), first, last);
      });
    } else {
      e.loop(batch, [&](Value bi) { emitSequence(bi, e.idx(0), seqLen); });
    }
    rewriter.replaceOp(op, bufferization::ToTensorOp::create(
                               b, type, out, /*restrict=*/true,
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
      return signalPassFailure();

    // f32 exp as MLIR's polynomial (a few ulp, far below the f32 tolerance):
    // a libm call per element would keep the decay loops of Mamba's scan
    // from vectorising. f64 keeps libm's exp.
    RewritePatternSet approximations(&getContext());
    populateMathPolynomialApproximationPatterns(
        approximations, [](StringRef name) { return name == "math.exp"; });
    // Only the expansion: no folding or simplification of the loops around.
    GreedyRewriteConfig config;
    config.enableFolding(false).enableConstantCSE(false).setRegionSimplificationLevel(
        GreedySimplifyRegionLevel::Disabled);
    if (failed(applyPatternsGreedily(getOperation(), std::move(approximations),
                                     config)))
      signalPassFailure();
  }
};

} // namespace

void mlir::muonssm::populateLowerToCPUPatterns(RewritePatternSet &patterns) {
  patterns.add<ScanToLoops, NewtonSchulzToLoops, Rank1GainToLoops,
               ChunkNewtonSchulzToLoops>(patterns.getContext());
}
