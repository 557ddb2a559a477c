//===- ChunkedScanToCPU.cpp - the chunked schedule as loops ---------------===//
//
// A scan with `schedule = <chunked, C>` computed chunk by chunk through the
// closed forms of docs/chunking.md §2, step for step as the float64 form in
// lib/reference/Chunked.cpp (which is checked against the per-token oracle):
//   - decays none/scalar/diagonal: weights by column sweeps (products, no
//     exp of differences), C×C kernels P and L, a forward substitution for
//     the delta-rule / error-input corrections, outputs, state passing;
//   - elementwise decays (Mamba, LongHorn): a blocked scan with carries.
// Inner loops run over the contiguous value dimension.
//
//===----------------------------------------------------------------------===//

#include "passes/CPUEmitter.h"

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::cpu;

namespace {

enum class Correction { None, Delta, Error };

class ChunkedScanEmitter {
public:
  ChunkedScanEmitter(ScanOp op, ImplicitLocOpBuilder &b)
      : op(op), e(b, op.getAccumulationType()),
        chunk(op.getSchedule()->getChunk()) {
    if (op.hasDeltaRule())
      correction = Correction::Delta;
    else if (op.getInput() == InputKind::Error)
      correction = Correction::Error;
    elementwise = op.getDecay() == DecayKind::Mamba ||
                  op.getDecay() == DecayKind::Longhorn;
    // Decays none and scalar weigh every key alike: the kernels are then
    // scalar weights times QKᵀ and KKᵀ, computed as row updates over
    // transposed keys (vectorisable), instead of weighted dots per key.
    scalarWeights = op.getDecay() == DecayKind::None ||
                    op.getDecay() == DecayKind::Scalar;
  }

  SmallVector<Value> run(ScanOp::Adaptor adaptor) {
    f = setUpScan(op, adaptor, e);
    Value C = e.idx(chunk), C1 = e.idx(chunk + 1);
    Value K = f.keyDim, V = f.valueDim;
    kc = e.scratch({C, K});
    qc = e.scratch({C, K});
    wc = e.scratch({C, V});
    row = e.scratch({V});
    gpow = e.scratch({C1});
    if (elementwise) {
      dtc = e.scratch({C, V});
      oc = e.scratch({C, V});
      local = e.scratch({V});
      carry = e.scratch({V});
      hrow = e.scratch({V});
      if (op.hasMomentum()) {
        localV = e.scratch({V});
        psi = e.scratch({V});
      }
    } else {
      // Per-key weights have a K column; scalar ones a single column.
      Value W = scalarWeights ? e.idx(1) : K;
      ac = e.scratch({C, W});
      lam = e.scratch({C1, W});
      pe = e.scratch({C, C});
      en = e.scratch({C, W});
      dw = e.scratch({W});
      if (op.hasMomentum()) {
        phi = e.scratch({C1, W});
        om = e.scratch({W});
      }
      if (correction != Correction::None) {
        cc = e.scratch({C, V});
        bc = e.scratch({C});
        pf = e.scratch({C, C});
        le = e.scratch({C, C});
        lf = e.scratch({C, C});
        fn = e.scratch({C, W});
      }
      if (scalarWeights) {
        kt = e.scratch({K, C});
        qk = e.scratch({C, C});
        if (correction != Correction::None)
          kk = e.scratch({C, C});
      }
    }
    // γ^t for t = 0..C (powf(0, 0) = 1).
    double gammaValue =
        op.hasMomentum() ? op.getMomentum()->convertToDouble() : 0.0;
    e.loop(C1, [&](Value t) {
      Value tf = arith::UIToFPOp::create(
          e.b, e.acc,
          arith::IndexCastOp::create(e.b, e.b.getI64Type(), t));
      e.store(math::PowFOp::create(e.b, e.cst(gammaValue), tf), gpow, {t});
    });

    emitSequencesAndHeads(
        e, f, [&](Value bIdx, Value first, Value last, Value h, Value kh) {
          e.loop(first, last, C, [&](Value c0) {
            Value len = e.imin(C, e.isub(last, c0));
            loadChunk(bIdx, h, kh, c0, len);
            if (elementwise)
              blocked(bIdx, h, c0, len);
            else
              linear(bIdx, h, c0, len);
          });
        });
    return scanResults(op, e, f);
  }

private:
  /// Per-token quantities of tokens [c0, c0 + len): k, q, the per-key decay
  /// factor a_t, the known input w_t = τ·gain_t·β_t⊙v_t (LongHorn: dtn_t⊙v_t)
  /// and the correction coefficient b_t.
  void loadChunk(Value bIdx, Value h, Value kh, Value c0, Value len) {
    Value K = f.keyDim, V = f.valueDim;
    bool channelBeta = op.hasChannelBeta();
    double tau = op.getTau().convertToDouble();
    e.loop(len, [&](Value t) {
      Value tt = e.iadd(c0, t);
      e.loop(K, [&](Value i) {
        e.store(e.load(f.k, {bIdx, tt, kh, i}), kc, {t, i});
        e.store(e.load(f.q, {bIdx, tt, kh, i}), qc, {t, i});
      });
      if (!elementwise && scalarWeights) {
        Value a = op.getDecay() == DecayKind::Scalar
                      ? e.exp(e.load(f.g, {bIdx, tt, h}))
                      : e.cst(1.0);
        e.store(a, ac, {t, e.idx(0)});
        e.loop(K, [&](Value i) { e.store(e.load(kc, {t, i}), kt, {i, t}); });
      } else if (!elementwise) {
        e.loop(K, [&](Value i) {
          e.store(e.exp(e.load(f.g, {bIdx, tt, h, i})), ac, {t, i});
        });
      }
      Value inputScale = e.cst(tau);
      if (f.gain)
        inputScale = e.mul(inputScale, e.load(f.gain, {bIdx, tt, h}));
      Value betaHead = f.beta && !channelBeta ? e.load(f.beta, {bIdx, tt, h})
                                              : e.cst(1.0);
      Value kk;
      if (op.getDecay() == DecayKind::Longhorn)
        kk = e.sum(K, [&](Value i) {
          Value x = e.load(kc, {t, i});
          return e.mul(x, x);
        });
      e.loop(V, [&](Value j) {
        Value coef = betaHead;
        if (channelBeta)
          coef = e.load(f.beta, {bIdx, tt, h, j});
        if (op.getDecay() == DecayKind::Mamba)
          e.store(e.load(f.dt, {bIdx, tt, h, j}), dtc, {t, j});
        if (op.getDecay() == DecayKind::Longhorn) {
          Value d = e.load(f.dt, {bIdx, tt, h, j});
          coef = e.div(d, e.fma(d, kk, e.cst(1.0))); // dtn
          e.store(coef, dtc, {t, j});
        }
        Value w = e.mul(e.mul(inputScale, coef), e.load(f.v, {bIdx, tt, h, j}));
        e.store(w, wc, {t, j});
      });
      if (correction == Correction::Delta)
        e.store(e.mul(e.cst(op.getDeltaRule()->convertToDouble()), betaHead),
                bc, {t});
      if (correction == Correction::Error)
        e.store(e.mul(inputScale, betaHead), bc, {t});
    });
  }

  /// The column of the weight buffers holding key i's weight.
  Value column(Value i) { return scalarWeights ? e.idx(0) : i; }

  /// One chunk of a scan with decay none/scalar/diagonal (docs/chunking.md
  /// §2.1–2.3).
  void linear(Value bIdx, Value h, Value c0, Value len) {
    Value K = f.keyDim, V = f.valueDim;
    Value S = f.state, M = f.momentum;
    bool momentum = op.hasMomentum();
    Value one = e.cst(1.0), zero = e.cst(0.0);
    Value c1 = e.idx(1);

    // Λ_t = Π_{r≤t} a_r and Φ_t = a_t⊙Φ_{t−1} + γ^t, for t = 0..len, per key
    // (or in one column for scalar weights).
    Value W = scalarWeights ? e.idx(1) : K;
    e.loop(W, [&](Value i) {
      e.store(one, lam, {e.idx(0), i});
      if (momentum)
        e.store(zero, phi, {e.idx(0), i});
    });
    e.loop(len, [&](Value t) {
      Value t1 = e.iadd(t, c1);
      Value g1 = e.load(gpow, {t1});
      e.loop(W, [&](Value i) {
        Value a = e.load(ac, {t, i});
        e.store(e.mul(a, e.load(lam, {t, i})), lam, {t1, i});
        if (momentum)
          e.store(e.fma(a, e.load(phi, {t, i}), g1), phi, {t1, i});
      });
    });

    if (scalarWeights) {
      // QK[t][s] = q_t·k_s and KK[t][s] = k_t·k_s for s ≤ t, as row updates
      // over the transposed keys.
      e.loop(len, [&](Value t) {
        Value t1 = e.iadd(t, c1);
        e.loop(t1, [&](Value s) {
          e.store(zero, qk, {t, s});
          if (kk)
            e.store(zero, kk, {t, s});
        });
        e.loop(K, [&](Value i) {
          Value qi = e.load(qc, {t, i});
          Value ki = kk ? e.load(kc, {t, i}) : Value();
          e.loop(t1, [&](Value s) {
            Value ks = e.load(kt, {i, s});
            e.store(e.fma(qi, ks, e.load(qk, {t, s})), qk, {t, s});
            if (kk)
              e.store(e.fma(ki, ks, e.load(kk, {t, s})), kk, {t, s});
          });
        });
      });
    }

    // Column sweeps: for each source s, D_{ts} = a_t⊙D_{t−1,s} and
    // Ω_{ts} = a_t⊙Ω_{t−1,s} + γ^{t−s} for t = s..len−1, giving the kernels
    // P^E, P^F (t ≥ s), L^E, L^F (t > s) and the end weights E_{ns}, F_{ns}.
    Value last = e.isub(len, c1);
    Value E = momentum ? om : dw;
    e.loop(len, [&](Value s) {
      e.fill(dw, {W}, one);
      if (momentum)
        e.fill(om, {W}, one);
      e.loop(s, len, [&](Value t) {
        Value later = e.ult(s, t);
        Value gts = e.load(gpow, {e.isub(t, s)});
        e.when(later, [&] {
          e.loop(W, [&](Value i) {
            Value a = e.load(ac, {t, i});
            e.store(e.mul(a, e.load(dw, {i})), dw, {i});
            if (momentum)
              e.store(e.fma(a, e.load(om, {i}), gts), om, {i});
          });
        });
        Value F = correction == Correction::Error ? E : dw;
        // Primed weights E' = Ω − γ^{t−s} with momentum (docs §2.2).
        auto primed = [&](Value weights, Value i) {
          Value w = e.load(weights, {i});
          return momentum && weights == om ? e.sub(w, gts) : w;
        };
        if (scalarWeights) {
          Value c0 = e.idx(0);
          Value qts = e.load(qk, {t, s});
          e.store(e.mul(qts, e.load(E, {c0})), pe, {t, s});
          if (correction != Correction::None) {
            e.store(e.mul(qts, e.load(F, {c0})), pf, {t, s});
            e.when(later, [&] {
              Value kts = e.load(kk, {t, s});
              e.store(e.mul(kts, primed(E, c0)), le, {t, s});
              e.store(e.mul(kts, primed(F, c0)), lf, {t, s});
            });
          }
        } else {
          // Weighted inner products over the keys.
          auto kernel = [&](Value left, Value weights, bool isPrimed) {
            return e.sum(K, [&](Value i) {
              Value w = isPrimed ? primed(weights, i) : e.load(weights, {i});
              return e.mul(e.mul(e.load(left, {t, i}), w), e.load(kc, {s, i}));
            });
          };
          e.store(kernel(qc, E, false), pe, {t, s});
          if (correction != Correction::None) {
            e.store(kernel(qc, F, false), pf, {t, s});
            e.when(later, [&] {
              e.store(kernel(kc, E, true), le, {t, s});
              e.store(kernel(kc, F, true), lf, {t, s});
            });
          }
        }
        e.when(e.ieq(t, last), [&] {
          e.loop(W, [&](Value i) {
            e.store(e.load(E, {i}), en, {s, i});
            if (correction != Correction::None)
              e.store(e.load(F, {i}), fn, {s, i});
          });
        });
      });
    });

    // Corrections c_t = −b_t·r_t by forward substitution (§2.2).
    if (correction != Correction::None) {
      e.loop(len, [&](Value t) {
        Value t1 = e.iadd(t, c1);
        Value g1 = e.load(gpow, {t1});
        e.fill(row, {V}, zero);
        e.loop(K, [&](Value i) {
          Value kti = e.load(kc, {t, i});
          Value w = column(i);
          Value cS = e.mul(e.load(lam, {t1, w}), kti);
          Value cM = momentum ? e.mul(e.sub(e.load(phi, {t1, w}), g1), kti)
                              : Value();
          e.loop(V, [&](Value j) {
            Value r = e.fma(cS, e.load(S, {i, j}), e.load(row, {j}));
            if (cM)
              r = e.fma(cM, e.load(M, {i, j}), r);
            e.store(r, row, {j});
          });
        });
        e.loop(t, [&](Value s) {
          Value lE = e.load(le, {t, s}), lF = e.load(lf, {t, s});
          e.loop(V, [&](Value j) {
            Value r = e.fma(lE, e.load(wc, {s, j}), e.load(row, {j}));
            e.store(e.fma(lF, e.load(cc, {s, j}), r), row, {j});
          });
        });
        Value nb = e.sub(zero, e.load(bc, {t}));
        e.loop(V, [&](Value j) {
          e.store(e.mul(nb, e.load(row, {j})), cc, {t, j});
        });
      });
    }

    // Outputs o_t = scale·S_tᵀq_t from the closed form of S_t (§2.3).
    Value scale = e.cst(op.getScale().convertToDouble());
    e.loop(len, [&](Value t) {
      Value t1 = e.iadd(t, c1);
      e.fill(row, {V}, zero);
      e.loop(K, [&](Value i) {
        Value qti = e.load(qc, {t, i});
        Value w = column(i);
        Value cS = e.mul(e.load(lam, {t1, w}), qti);
        Value cM = momentum ? e.mul(e.load(phi, {t1, w}), qti) : Value();
        e.loop(V, [&](Value j) {
          Value o = e.fma(cS, e.load(S, {i, j}), e.load(row, {j}));
          if (cM)
            o = e.fma(cM, e.load(M, {i, j}), o);
          e.store(o, row, {j});
        });
      });
      e.loop(t1, [&](Value s) {
        Value pE = e.load(pe, {t, s});
        Value pF = correction != Correction::None ? e.load(pf, {t, s}) : Value();
        e.loop(V, [&](Value j) {
          Value o = e.fma(pE, e.load(wc, {s, j}), e.load(row, {j}));
          if (pF)
            o = e.fma(pF, e.load(cc, {s, j}), o);
          e.store(o, row, {j});
        });
      });
      Value tt = e.iadd(c0, t);
      e.loop(V, [&](Value j) {
        storeOutput(e, f, e.mul(scale, e.load(row, {j})), bIdx, tt, h, j);
      });
    });

    // State passing, row by row (S_n's row i needs only row i of S_0, M_0).
    Value gLen = e.load(gpow, {len});
    e.loop(K, [&](Value i) {
      Value w = column(i);
      Value ls = e.load(lam, {len, w});
      Value ph = momentum ? e.load(phi, {len, w}) : Value();
      e.loop(V, [&](Value j) {
        Value s = e.mul(ls, e.load(S, {i, j}));
        if (momentum) {
          Value m = e.load(M, {i, j});
          s = e.fma(ph, m, s);
          e.store(e.mul(gLen, m), M, {i, j});
        }
        e.store(s, S, {i, j});
      });
      e.loop(len, [&](Value s) {
        Value x = e.load(kc, {s, i});
        Value cE = e.mul(e.load(en, {s, w}), x);
        Value cF = correction != Correction::None
                       ? e.mul(e.load(fn, {s, w}), x)
                       : Value();
        Value cM = momentum
                       ? e.mul(e.load(gpow, {e.isub(last, s)}), x)
                       : Value();
        e.loop(V, [&](Value j) {
          Value w = e.load(wc, {s, j});
          Value sv = e.fma(cE, w, e.load(S, {i, j}));
          Value c;
          if (cF) {
            c = e.load(cc, {s, j});
            sv = e.fma(cF, c, sv);
          }
          e.store(sv, S, {i, j});
          if (cM) {
            Value input = correction == Correction::Error ? e.add(w, c) : w;
            e.store(e.fma(cM, input, e.load(M, {i, j})), M, {i, j});
          }
        });
      });
    });
  }

  /// One chunk of an elementwise decay as a blocked scan (§2.4): each state
  /// entry runs its local scan from zero with the carries P_t = Π F and
  /// Ψ_t = Σ γ^r Π F, then h_t = ℓ_t + P_t h_0 + Ψ_t v_0. One key row at a
  /// time, tokens in order, the value channels innermost (contiguous, so the
  /// loop vectorises); ℓ, ℓ_v, P, Ψ are rows of V values.
  void blocked(Value bIdx, Value h, Value c0, Value len) {
    Value K = f.keyDim, V = f.valueDim;
    Value S = f.state, M = f.momentum;
    bool momentum = op.hasMomentum();
    bool mamba = op.getDecay() == DecayKind::Mamba;
    Value zero = e.cst(0.0), one = e.cst(1.0);
    Value gamma = e.cst(momentum ? op.getMomentum()->convertToDouble() : 0.0);
    e.fill(oc, {len, V}, zero);
    e.loop(K, [&](Value i) {
      e.loop(V, [&](Value j) {
        e.store(zero, local, {j});
        e.store(one, carry, {j});
        if (momentum) {
          e.store(zero, localV, {j});
          e.store(zero, psi, {j});
        }
      });
      e.loop(len, [&](Value t) {
        Value kti = e.load(kc, {t, i});
        Value kSq = e.mul(kti, kti);
        Value qti = e.load(qc, {t, i});
        Value g1 = momentum ? e.load(gpow, {e.iadd(t, e.idx(1))}) : Value();
        e.loop(V, [&](Value j) {
          Value F = mamba ? e.exp(e.mul(e.load(dtc, {t, j}),
                                        e.load(f.a, {h, i, j})))
                          : e.sub(one, e.mul(e.load(dtc, {t, j}), kSq));
          Value x = e.mul(kti, e.load(wc, {t, j}));
          Value l = e.load(local, {j});
          Value P = e.mul(F, e.load(carry, {j}));
          Value state;
          if (momentum) {
            Value lv = e.fma(gamma, e.load(localV, {j}), x);
            l = e.fma(F, l, lv);
            Value ps = e.fma(F, e.load(psi, {j}), g1);
            e.store(lv, localV, {j});
            e.store(ps, psi, {j});
            state = e.fma(ps, e.load(M, {i, j}), e.fma(P, e.load(S, {i, j}), l));
          } else {
            l = e.fma(F, l, x);
            state = e.fma(P, e.load(S, {i, j}), l);
          }
          e.store(l, local, {j});
          e.store(P, carry, {j});
          e.store(state, hrow, {j});
          e.store(e.fma(state, qti, e.load(oc, {t, j})), oc, {t, j});
        });
      });
      // The chunk's end states: h_n, and v_n = ℓ_v + γ^n v_0.
      Value gLen = e.load(gpow, {len});
      e.loop(V, [&](Value j) {
        e.store(e.load(hrow, {j}), S, {i, j});
        if (momentum)
          e.store(e.fma(gLen, e.load(M, {i, j}), e.load(localV, {j})), M,
                  {i, j});
      });
    });
    Value scale = e.cst(op.getScale().convertToDouble());
    e.loop(len, [&](Value t) {
      Value tt = e.iadd(c0, t);
      e.loop(V, [&](Value j) {
        storeOutput(e, f, e.mul(scale, e.load(oc, {t, j})), bIdx, tt, h, j);
      });
    });
  }

  ScanOp op;
  Emitter e;
  int64_t chunk;
  Correction correction = Correction::None;
  bool elementwise = false;
  bool scalarWeights = false;
  ScanFrame f;
  Value kc, qc, wc, row, gpow, dtc, oc, ac, lam, phi, pe, pf, le, lf, en, fn,
      dw, om, cc, bc, kt, qk, kk, local, localV, carry, psi, hrow;
};

} // namespace

SmallVector<Value> cpu::emitChunkedScan(ScanOp op, ScanOp::Adaptor adaptor,
                                        ImplicitLocOpBuilder &b) {
  return ChunkedScanEmitter(op, b).run(adaptor);
}
