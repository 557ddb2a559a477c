//===- MomentumNSScanToGPU.cpp - the fused Newton–Schulz momentum kernel --===//
//
// The seed's Muon Gated DeltaNet: Newton–Schulz of the whole momentum every
// token (docs/chunking.md §3, docs/gpu.md §4). NS(M) is not linear in M, so
// there is no chunked form; this kernel runs the recurrence token by token
// with S, M and everything NS needs on chip, in f32 (the project's NS is
// f32: the seed's bf16 rounding of NS is an artifact, SEMANTICS.md §0).
//
// One block of 256 threads per (sequence, value head). Per token, with
// c = τ_in·gain_t, w_t = β⊙v_t (update) or β⊙(v_t − u_t) (error),
// p = γ·M w and M' = γM + c·k wᵀ:
//
//   G' = M'M'ᵀ  = γ²G + c(p kᵀ + k pᵀ) + c²(wᵀw)·k kᵀ           (K×K)
//   G'² kept the same way: γ⁴G² + γ²(GΔ + ΔG) + Δ² with Δ = G' − γ²G
//        rank 2 in span{p, k}, so GΔ needs only G p and G k
//   ν²  = ‖M'‖² = γ²ν² + 2c·kᵀp + c²(kᵀk)(wᵀw)
//   NS(M') = R M',  R = (aI + b·G'/n² + c'·G'²/n⁴)/n,  n = ν + ε | max(ν, ε)
//
// NS is a polynomial in the left Gram (X p(XᵀX) = p(XXᵀ) X), so one step
// costs O(KV + K²) for the Gram updates and one K×K·K×V product, R M', which
// every thread computes on a 4-row × 4c-column tile of S held in its
// registers:   S ← D(S) − ηβ k uᵀ + τ_out R M',   o = scale·Sᵀq.
// Nothing per token leaves the chip but o.
//
//===----------------------------------------------------------------------===//

#include "passes/GPULowering.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::gpu_codegen;

namespace {

constexpr int64_t kThreads = 256;
constexpr int64_t kMaxShared = 227 * 1024;

struct NSConfig {
  int64_t K, V;
  int64_t RG, Kp;   // 4-row groups of the state, K padded to 4·RG
  int64_t CG, Vp;   // 4-column groups, V padded to 4·CG
  int64_t CGT, NCG; // column groups per thread, thread columns (NCG·RG ≤ 256)
  bool square;      // the quintic's c ≠ 0: G² is kept
  // Shared memory (f32) offsets in floats.
  int64_t offM, offG, offG2, offR, offK, offQ, offV, offBetaCh, offA, offU,
      offW, offP, offX, offY, offPart, offScal, floats;
};

NSConfig chooseNSConfig(int64_t K, int64_t V, bool square) {
  NSConfig c;
  c.K = K;
  c.V = V;
  c.RG = (K + 3) / 4;
  c.Kp = 4 * c.RG;
  c.CG = (V + 3) / 4;
  c.Vp = 4 * c.CG;
  c.CGT = (c.RG * c.CG + kThreads - 1) / kThreads;
  c.NCG = (c.CG + c.CGT - 1) / c.CGT;
  c.square = square;
  int64_t off = 0;
  auto take = [&](int64_t n) {
    int64_t at = off;
    off += (n + 3) / 4 * 4; // float4 alignment
    return at;
  };
  c.offM = take(c.Kp * c.Vp);
  c.offG = take(c.Kp * c.Kp);
  c.offG2 = square ? take(c.Kp * c.Kp) : -1;
  c.offR = take(c.Kp * c.Kp);
  c.offK = take(c.Kp);
  c.offQ = take(c.Kp);
  c.offA = take(c.Kp);
  c.offP = take(c.Kp);
  c.offX = take(c.Kp);
  c.offY = take(c.Kp);
  c.offV = take(c.Vp);
  c.offBetaCh = take(c.Vp);
  c.offU = take(c.Vp);
  c.offW = take(c.Vp);
  c.offPart = take(c.RG * c.Vp);
  c.offScal = take(8);
  c.floats = off;
  return c;
}

} // namespace

std::string gpu_codegen::whyNotMomentumNS(ScanOp op) {
  auto ns = op.getNewtonSchulz();
  if (!ns || op.getNsTarget() != NSTarget::Momentum)
    return "it has no Newton-Schulz of the momentum";
  if (ns->getSteps() != 1)
    return "it runs more than one Newton-Schulz step (the GPU kernel keeps "
           "the Gram polynomial of one step)";
  if (op.getDecay() != DecayKind::None && op.getDecay() != DecayKind::Scalar &&
      op.getDecay() != DecayKind::Diagonal)
    return "its decay is Mamba's or LongHorn's";
  if (op.getSkip() || op.getGate())
    return "it has Mamba's skip or gate";
  auto qType = op.getQ().getType();
  auto vType = op.getV().getType();
  if (qType.isDynamicDim(3) || vType.isDynamicDim(3))
    return "its head dimensions are dynamic";
  NSConfig c = chooseNSConfig(qType.getDimSize(3), vType.getDimSize(3), true);
  if (c.CGT > 8)
    return "its state is too large for the registers of one block (K·V up "
           "to 32768)";
  if (c.floats * 4 > kMaxShared)
    return "its momentum and Gram matrices exceed shared memory (227 KiB)";
  return "";
}

LogicalResult gpu_codegen::lowerMomentumNSScan(ScanOp op,
                                               gpu::GPUModuleOp kernels,
                                               StringRef name) {
  if (std::string why = whyNotMomentumNS(op); !why.empty())
    return op.emitError() << "the GPU kernel for Newton-Schulz of the "
                             "momentum does not cover this scan: "
                          << why;
  NewtonSchulzAttr ns = *op.getNewtonSchulz();
  NSCoefficients coef = getNSCoefficients(ns.getPolynomial());
  int64_t K = op.getQ().getType().getDimSize(3);
  int64_t V = op.getV().getType().getDimSize(3);
  NSConfig c = chooseNSConfig(K, V, coef.c != 0.0);

  // The dynamic shared buffer (LowerToGPU.cpp creates it once per module).
  ensureSharedBuffer(kernels, op.getLoc());

  LaunchBuilder launch(op, kernels, name);
  launch.addScanOperands(op);
  Value vTensor = op.getV();
  gpu::GPUFuncOp func = launch.createKernel(kThreads, c.floats * 4);
  SmallVector<std::string> names = launch.argNames();

  MLIRContext *ctx = op.getContext();
  ImplicitLocOpBuilder b(op.getLoc(), ctx);
  b.setInsertionPointToStart(&func.getBody().front());
  KernelBuilder e(b, b.getF32Type());
  auto arg = [&](StringRef n) { return kernelArg(func, names, n); };
  Value q = arg("q"), k = arg("k"), v = arg("v"), g = arg("g"),
        beta = arg("beta"), gain = arg("gain"), cu = arg("cu_seqlens"),
        s0 = arg("initial_state"), m0 = arg("initial_momentum"), o = arg("o"),
        sT = arg("final_state"), mT = arg("final_momentum");
  Value T = e.toIndex(arg("T")), H = e.toIndex(arg("H")),
        HV = e.toIndex(arg("HV"));
  Value Kc = e.idx(K), Vc = e.idx(V);
  const bool delta = op.hasDeltaRule();
  const bool channelBeta = beta && op.hasChannelBeta();
  const bool errorInput = op.getInput() == InputKind::Error;
  const DecayKind decay = op.getDecay();
  const bool after = op.getTauPlacement() == TauPlacement::After;
  const double tau = op.getTau().convertToDouble();
  const double tauIn = after ? 1.0 : tau, tauOut = after ? tau : 1.0;
  const double gamma = op.getMomentum()->convertToDouble();
  const double eta = delta ? op.getDeltaRule()->convertToDouble() : 0.0;
  const double scale = op.getScale().convertToDouble();
  const double eps = ns.getEpsValue();
  const bool addEps = ns.getEpsMode() == EpsMode::Add;
  const int64_t Kp = c.Kp, Vp = c.Vp, RG = c.RG, CGT = c.CGT;
  Type f32 = b.getF32Type();

  // ---- Shared memory views.
  auto space = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Value raw = memref::GetGlobalOp::create(
      b, MemRefType::get({0}, b.getI8Type(), AffineMap(), space),
      "muonssm_smem");
  raw = memref::ReinterpretCastOp::create(
      b, MemRefType::get({c.floats * 4}, b.getI8Type(), AffineMap(), space),
      raw, 0, ArrayRef<int64_t>{c.floats * 4}, ArrayRef<int64_t>{1});
  auto view = [&](int64_t offset, ArrayRef<int64_t> shape) -> Value {
    if (offset < 0)
      return {};
    return memref::ViewOp::create(
        b, MemRefType::get(shape, f32, AffineMap(), space), raw,
        e.idx(offset * 4), ValueRange{});
  };
  Value sM = view(c.offM, {Kp, Vp}), sG = view(c.offG, {Kp, Kp}),
        sG2 = view(c.offG2, {Kp, Kp}), sR = view(c.offR, {Kp, Kp});
  Value sK = view(c.offK, {Kp}), sQ = view(c.offQ, {Kp}),
        sA = view(c.offA, {Kp}), sP = view(c.offP, {Kp}),
        sX = view(c.offX, {Kp}), sY = view(c.offY, {Kp});
  Value sV = view(c.offV, {Vp}), sBetaCh = view(c.offBetaCh, {Vp}),
        sU = view(c.offU, {Vp}), sW = view(c.offW, {Vp});
  Value sPart = view(c.offPart, {RG, Vp}), sScal = view(c.offScal, {8});
  auto ld = [&](Value tile, ValueRange at) -> Value {
    return memref::LoadOp::create(b, tile, at);
  };
  auto st = [&](Value x, Value tile, ValueRange at) {
    memref::StoreOp::create(b, x, tile, at);
  };
  Value zero = e.cst(0.0), one = e.cst(1.0);

  // ---- Who am I: the state tile of rows 4·rg.. and columns
  // 4·CGT·cgi + 4·x.. (x < CGT) of value head h of sequence n.
  Value tid = e.threadId();
  Value lane = e.irem(tid, e.idx(32));
  Value rg = e.irem(tid, e.idx(RG)), cgi = e.idiv(tid, e.idx(RG));
  Value owner = e.ult(cgi, e.idx(c.NCG)); // threads past the tiles idle
  Value cgiSafe = e.imin(cgi, e.idx(c.NCG - 1));
  Value row0 = e.imul(rg, e.idx(4));
  auto tileCol = [&](int64_t x) { // first column of column group x
    return e.imul(e.iadd(e.imul(cgiSafe, e.idx(CGT)), e.idx(x)), e.idx(4));
  };
  auto colValid = [&](int64_t x) { return e.ult(tileCol(x), e.idx(Vp)); };
  Value h = e.blockId(gpu::Dimension::x);
  Value n = e.blockId(gpu::Dimension::y);
  Value kh = e.idiv(h, e.idiv(HV, H));
  KernelBuilder::Sequence sequence = e.sequence(cu, n, T);
  Value bIdx = sequence.row, first = sequence.first, last = sequence.last;
  // The state slot of sequence n (a pool's slot with state_indices; one
  // outside [0, P) is read clamped and never written).
  Value stateSlots = arg("state_indices");
  KernelBuilder::StateSlot stateSlot =
      e.stateSlot(stateSlots, n, stateSlots ? e.toIndex(arg("P")) : Value());
  Value slot = stateSlot.slot, slotValid = stateSlot.valid;
  auto stateIndex = [&](Value i, Value j) {
    return e.iadd(
        e.imul(e.iadd(e.imul(e.iadd(e.imul(slot, HV), h), Kc), i), Vc), j);
  };
  // Strided loops of every thread over [0, count).
  auto forEach = [&](int64_t count, function_ref<void(Value)> body) {
    e.loop(tid, e.idx(count), e.idx(kThreads), {},
           [&](Value x, ValueRange) -> SmallVector<Value> {
             body(x);
             return {};
           });
  };

  // ---- Initial states: S into the tiles' registers, M into shared memory
  // (zero padded), then G = M Mᵀ, G² = G G and ν² = tr G.
  SmallVector<Value> S; // [r][x]: vector<4xf32> of row 4rg+r, group x
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t x = 0; x < CGT; ++x) {
      SmallVector<Value> values;
      for (int64_t dj = 0; dj < 4; ++dj) {
        if (!s0) {
          values.push_back(zero);
          continue;
        }
        Value i = e.iadd(row0, e.idx(r));
        Value j = e.iadd(tileCol(x), e.idx(dj));
        Value ok = e.iand(e.ult(i, Kc), e.ult(j, Vc));
        Value value = e.load(s0, stateIndex(e.imin(i, e.idx(K - 1)),
                                            e.imin(j, e.idx(V - 1))));
        values.push_back(e.select(ok, value, zero));
      }
      S.push_back(e.fromElements(values));
    }
  forEach(Kp * Vp, [&](Value x) {
    Value i = e.idiv(x, e.idx(Vp)), j = e.irem(x, e.idx(Vp));
    Value value = zero;
    if (m0) {
      Value ok = e.iand(e.ult(i, Kc), e.ult(j, Vc));
      value = e.select(ok,
                       e.load(m0, stateIndex(e.imin(i, e.idx(K - 1)),
                                             e.imin(j, e.idx(V - 1)))),
                       zero);
    }
    st(value, sM, {i, j});
  });
  // The state's padding stays zero in these vectors.
  forEach(Kp, [&](Value x) {
    for (Value vec : {sK, sQ, sA, sP, sX, sY})
      st(zero, vec, {x});
  });
  forEach(Vp, [&](Value x) {
    for (Value vec : {sV, sBetaCh, sU, sW})
      st(zero, vec, {x});
  });
  e.barrier();
  forEach(Kp * Kp, [&](Value x) {
    Value i = e.idiv(x, e.idx(Kp)), l = e.irem(x, e.idx(Kp));
    Value sum = e.loop(e.idx(0), e.idx(Vp), e.idx(1), {zero},
                       [&](Value j, ValueRange acc) -> SmallVector<Value> {
                         return {e.fma(ld(sM, {i, j}), ld(sM, {l, j}), acc[0])};
                       })[0];
    st(sum, sG, {i, l});
  });
  e.barrier();
  if (c.square) {
    forEach(Kp * Kp, [&](Value x) {
      Value i = e.idiv(x, e.idx(Kp)), l = e.irem(x, e.idx(Kp));
      Value sum = e.loop(e.idx(0), e.idx(Kp), e.idx(1), {zero},
                         [&](Value m, ValueRange acc) -> SmallVector<Value> {
                           return {e.fma(ld(sG, {i, m}), ld(sG, {m, l}),
                                         acc[0])};
                         })[0];
      st(sum, sG2, {i, l});
    });
  }
  // ν² = tr G, the same in every thread.
  Value nu2 = e.loop(e.idx(0), e.idx(Kp), e.idx(1), {zero},
                     [&](Value i, ValueRange acc) -> SmallVector<Value> {
                       return {e.add(acc[0], ld(sG, {i, i}))};
                     })[0];
  e.barrier();

  // ---- Per-token inputs, loaded one token ahead: thread i < Kp holds k_i,
  // q_i (and g_i for the diagonal decay), thread j < Vp holds v_j (and β_j);
  // every thread holds the per-head scalars g, β, gain.
  Value lastToken = e.isub(e.imax(last, e.iadd(first, e.idx(1))), e.idx(1));
  auto loadToken = [&](Value t) -> SmallVector<Value> {
    t = e.imin(t, lastToken);
    Value bt = e.iadd(e.imul(bIdx, T), e.imin(t, e.isub(T, e.idx(1))));
    Value headIndex = e.iadd(e.imul(bt, HV), h);
    Value ki = e.imin(tid, e.idx(K - 1)), kOk = e.ult(tid, Kc);
    Value vj = e.imin(tid, e.idx(V - 1)), vOk = e.ult(tid, Vc);
    Value qkIndex = e.iadd(e.imul(e.iadd(e.imul(bt, H), kh), Kc), ki);
    Value vIndex = e.iadd(e.imul(headIndex, Vc), vj);
    SmallVector<Value> in;
    in.push_back(e.select(kOk, e.load(k, qkIndex), zero));
    in.push_back(e.select(kOk, e.load(q, qkIndex), zero));
    in.push_back(e.select(vOk, e.load(v, vIndex), zero));
    in.push_back(channelBeta ? e.select(vOk, e.load(beta, vIndex), zero)
                             : zero);
    Value gateValue = zero;
    if (decay == DecayKind::Scalar)
      gateValue = e.load(g, headIndex);
    if (decay == DecayKind::Diagonal)
      gateValue = e.select(
          kOk, e.load(g, e.iadd(e.imul(headIndex, Kc), ki)), zero);
    in.push_back(gateValue);
    in.push_back(beta && !channelBeta ? e.load(beta, headIndex) : one);
    in.push_back(gain ? e.load(gain, headIndex) : one);
    return in;
  };

  SmallVector<Value> inits(S);
  const size_t stateCount = S.size();
  inits.push_back(nu2);
  size_t inputsAt = inits.size();
  inits.append(loadToken(e.imin(first, lastToken)));
  SmallVector<Value> end = e.loop(
      first, last, e.idx(1), inits,
      [&](Value t, ValueRange carriedRange) -> SmallVector<Value> {
        SmallVector<Value> all(carriedRange.begin(), carriedRange.end());
        ArrayRef<Value> carried(all);
        SmallVector<Value> S(carried.take_front(stateCount));
        Value nu2 = carried[inputsAt - 1];
        SmallVector<Value> in(carried.drop_front(inputsAt));
        SmallVector<Value> next = loadToken(e.iadd(t, e.idx(1)));
        Value kIn = in[0], qIn = in[1], vIn = in[2], betaChIn = in[3],
              gateIn = in[4], betaIn = in[5], gainIn = in[6];
        Value bt = e.iadd(e.imul(bIdx, T), t);

        // -- T0: the token into shared memory.
        e.when(e.ult(tid, Kc), [&] {
          st(kIn, sK, {tid});
          st(qIn, sQ, {tid});
          if (decay == DecayKind::Diagonal)
            st(e.exp(gateIn), sA, {tid});
        });
        e.when(e.ult(tid, Vc), [&] {
          st(vIn, sV, {tid});
          if (channelBeta)
            st(betaChIn, sBetaCh, {tid});
        });
        e.barrier();
        Value aScalar = decay == DecayKind::Scalar ? e.exp(gateIn) : one;
        // The decay of row i (a vector over the 4 rows of the tile).
        SmallVector<Value> rowDecay;
        for (int64_t r = 0; r < 4; ++r)
          rowDecay.push_back(decay == DecayKind::Diagonal
                                 ? ld(sA, {e.iadd(row0, e.idx(r))})
                                 : aScalar);

        // -- T1: u = D(S)ᵀk, partial sums of the tile's 4 rows.
        SmallVector<Value> kRows;
        for (int64_t r = 0; r < 4; ++r)
          kRows.push_back(
              e.mul(rowDecay[r], ld(sK, {e.iadd(row0, e.idx(r))})));
        e.when(owner, [&] {
          for (int64_t x = 0; x < CGT; ++x)
            e.when(colValid(x), [&] {
              Value sum = e.vcst(0.0, 4);
              for (int64_t r = 0; r < 4; ++r)
                sum = e.fma(e.splat(kRows[r], 4), S[r * CGT + x], sum);
              e.vstore(sum, sPart, {rg, tileCol(x)});
            });
        });
        e.barrier();

        // -- T2: u and w.
        Value betaHead = betaIn;
        e.when(e.ult(tid, e.idx(Vp)), [&] {
          Value u = zero;
          for (int64_t r = 0; r < RG; ++r)
            u = e.add(u, ld(sPart, {e.idx(r), tid}));
          st(u, sU, {tid});
          Value bj = channelBeta ? ld(sBetaCh, {tid}) : betaHead;
          Value vj = ld(sV, {tid});
          Value w = e.mul(bj, errorInput ? e.sub(vj, u) : vj);
          st(e.select(e.ult(tid, Vc), w, zero), sW, {tid});
        });
        e.barrier();

        // -- T3: p = γ M w and y = G k, four lanes per row (xor-shuffle
        // sums); kᵀk and wᵀw by the last warp.
        auto rowDots = [&](Value matrix, int64_t cols, Value vec, Value out,
                           double factor) {
          for (int64_t base = 0; base < Kp; base += kThreads / 4) {
            Value i = e.iadd(e.idx(base), e.idiv(tid, e.idx(4)));
            Value part = e.irem(tid, e.idx(4));
            Value safe = e.imin(i, e.idx(Kp - 1));
            int64_t span = (cols + 3) / 4;
            Value sum = zero;
            for (int64_t jj = 0; jj < span; ++jj) {
              Value j = e.iadd(e.imul(part, e.idx(span)), e.idx(jj));
              Value jSafe = e.imin(j, e.idx(cols - 1));
              Value term = e.mul(ld(matrix, {safe, jSafe}), ld(vec, {jSafe}));
              sum = e.add(sum, e.select(e.ult(j, e.idx(cols)), term, zero));
            }
            sum = e.groupSum(sum, 4);
            e.when(e.iand(e.ult(i, e.idx(Kp)), e.ieq(part, e.idx(0))),
                   [&] { st(e.mul(e.cst(factor), sum), out, {i}); });
          }
        };
        rowDots(sM, Vp, sW, sP, gamma);
        if (c.square)
          rowDots(sG, Kp, sK, sY, 1.0);
        Value lastWarp = e.ieq(e.idiv(tid, e.idx(32)), e.idx(kThreads / 32 - 1));
        auto warpDot = [&](Value x, Value y, int64_t count) {
          Value sum = zero;
          for (int64_t base = 0; base < count; base += 32) {
            Value i = e.iadd(e.idx(base), lane);
            Value safe = e.imin(i, e.idx(count - 1));
            sum = e.add(sum, e.select(e.ult(i, e.idx(count)),
                                      e.mul(ld(x, {safe}), ld(y, {safe})),
                                      zero));
          }
          return e.groupSum(sum, 32);
        };
        e.when(lastWarp, [&] {
          Value kk = warpDot(sK, sK, Kp), ww = warpDot(sW, sW, Vp);
          e.when(e.ieq(lane, e.idx(0)), [&] {
            st(kk, sScal, {e.idx(0)});
            st(ww, sScal, {e.idx(1)});
          });
        });
        e.barrier();

        // -- T4: x = G p; kᵀp and pᵀp.
        if (c.square)
          rowDots(sG, Kp, sP, sX, 1.0);
        e.when(lastWarp, [&] {
          Value kp = warpDot(sK, sP, Kp), pp = warpDot(sP, sP, Kp);
          e.when(e.ieq(lane, e.idx(0)), [&] {
            st(kp, sScal, {e.idx(2)});
            st(pp, sScal, {e.idx(3)});
          });
        });
        e.barrier();

        // -- T5: M' = γM + c k wᵀ; G', G'²; R = (aI + b G'/n² + c' G'²/n⁴)/n
        // scaled by τ_out.
        Value cIn = e.mul(e.cst(tauIn), gainIn);
        Value kk = ld(sScal, {e.idx(0)}), ww = ld(sScal, {e.idx(1)});
        Value kp = ld(sScal, {e.idx(2)}), pp = ld(sScal, {e.idx(3)});
        Value nu2New = e.fma(e.mul(cIn, cIn), e.mul(kk, ww),
                             e.fma(e.cst(gamma * gamma), nu2,
                                   e.mul(e.mul(e.cst(2.0), cIn), kp)));
        nu2New = e.maxf(nu2New, zero);
        Value nu = e.sqrt(nu2New);
        Value norm = addEps ? e.add(nu, e.cst(eps)) : e.maxf(nu, e.cst(eps));
        Value inv = e.div(one, norm), inv2 = e.mul(inv, inv);
        forEach(Kp * Vp, [&](Value x) {
          Value i = e.idiv(x, e.idx(Vp)), j = e.irem(x, e.idx(Vp));
          st(e.fma(e.cst(gamma), ld(sM, {i, j}),
                   e.mul(cIn, e.mul(ld(sK, {i}), ld(sW, {j})))),
             sM, {i, j});
        });
        // Δ = c(p kᵀ + k pᵀ) + c²σ k kᵀ; Δ² = D00 ppᵀ + D01 (pkᵀ + kpᵀ) +
        // D11 kkᵀ with D = C Γ C, C = [[0, c], [c, c²σ]], Γ = Gram of (p, k).
        Value c2 = e.mul(cIn, cIn), c2s = e.mul(c2, ww);
        Value d00 = e.mul(c2, kk);
        Value d01 = e.add(e.mul(c2, kp), e.mul(e.mul(c2s, cIn), kk));
        Value d11 = e.add(e.mul(c2, pp),
                          e.add(e.mul(e.mul(e.cst(2.0), e.mul(c2s, cIn)), kp),
                                e.mul(e.mul(c2s, c2s), kk)));
        forEach(Kp * Kp, [&](Value x) {
          Value i = e.idiv(x, e.idx(Kp)), l = e.irem(x, e.idx(Kp));
          Value ki = ld(sK, {i}), kl = ld(sK, {l});
          Value pi = ld(sP, {i}), pl = ld(sP, {l});
          Value sym = e.fma(pi, kl, e.mul(ki, pl)); // (pkᵀ + kpᵀ)_il
          Value delta = e.fma(cIn, sym, e.mul(c2s, e.mul(ki, kl)));
          Value gOld = ld(sG, {i, l});
          Value gNew = e.fma(e.cst(gamma * gamma), gOld, delta);
          st(gNew, sG, {i, l});
          Value r = e.fma(e.cst(coef.b), e.mul(gNew, inv2),
                          e.select(e.ieq(i, l), e.cst(coef.a), zero));
          if (c.square) {
            Value xi = ld(sX, {i}), xl = ld(sX, {l});
            Value yi = ld(sY, {i}), yl = ld(sY, {l});
            // GΔ + ΔG = c(x kᵀ + k xᵀ + y pᵀ + p yᵀ) + c²σ(y kᵀ + k yᵀ)
            Value cross = e.mul(
                cIn, e.add(e.fma(xi, kl, e.mul(ki, xl)),
                           e.fma(yi, pl, e.mul(pi, yl))));
            cross = e.fma(c2s, e.fma(yi, kl, e.mul(ki, yl)), cross);
            Value sq = e.fma(d00, e.mul(pi, pl),
                             e.fma(d01, sym, e.mul(d11, e.mul(ki, kl))));
            Value g2 = e.fma(e.cst(gamma * gamma * gamma * gamma),
                             ld(sG2, {i, l}),
                             e.fma(e.cst(gamma * gamma), cross, sq));
            st(g2, sG2, {i, l});
            r = e.fma(e.cst(coef.c), e.mul(g2, e.mul(inv2, inv2)), r);
          }
          st(e.mul(e.mul(e.cst(tauOut), inv), r), sR, {i, l});
        });
        e.barrier();

        // -- T6: S ← D(S) − ηβ k uᵀ + R M' on the tile; o partial sums.
        // Threads without a tile keep S as it was (it is unused).
        S = e.ifElse(
            owner,
            [&]() -> SmallVector<Value> {
              SmallVector<Value> acc;
              for (int64_t r = 0; r < 4; ++r) {
                Value i = e.iadd(row0, e.idx(r));
                Value coefK =
                    e.mul(e.cst(eta), e.mul(betaHead, ld(sK, {i})));
                for (int64_t x = 0; x < CGT; ++x) {
                  Value col = e.imin(tileCol(x), e.idx(Vp - 4));
                  Value sv = e.mul(S[r * CGT + x], e.splat(rowDecay[r], 4));
                  if (delta)
                    sv = e.sub(sv, e.mul(e.splat(coefK, 4),
                                         e.vload(sU, {col}, 4)));
                  acc.push_back(sv);
                }
              }
              // R M': R is symmetric, so row l of R holds column l of the
              // tile's rows.
              return e.loop(
                  e.idx(0), e.idx(Kp), e.idx(1), acc,
                  [&](Value l, ValueRange a) -> SmallVector<Value> {
                    SmallVector<Value> next(a.begin(), a.end());
                    Value r4 = e.vload(sR, {l, row0}, 4);
                    SmallVector<Value> mRow;
                    for (int64_t x = 0; x < CGT; ++x)
                      mRow.push_back(e.vload(
                          sM, {l, e.imin(tileCol(x), e.idx(Vp - 4))}, 4));
                    for (int64_t r = 0; r < 4; ++r)
                      for (int64_t x = 0; x < CGT; ++x)
                        next[r * CGT + x] =
                            e.fma(e.splat(e.element(r4, r), 4), mRow[x],
                                  next[r * CGT + x]);
                    return next;
                  });
            },
            [&]() -> SmallVector<Value> { return S; });
        e.when(owner, [&] {
          for (int64_t x = 0; x < CGT; ++x)
            e.when(colValid(x), [&] {
              Value sum = e.vcst(0.0, 4);
              for (int64_t r = 0; r < 4; ++r)
                sum = e.fma(e.splat(ld(sQ, {e.iadd(row0, e.idx(r))}), 4),
                            S[r * CGT + x], sum);
              e.vstore(sum, sPart, {rg, tileCol(x)});
            });
        });
        e.barrier();

        // -- T7: o = scale·Sᵀq (the next token's T0 stores only k, q, v).
        e.when(e.ult(tid, Vc), [&] {
          Value sum = zero;
          for (int64_t r = 0; r < RG; ++r)
            sum = e.add(sum, ld(sPart, {e.idx(r), tid}));
          e.store(e.mul(e.cst(scale), sum), o,
                  e.iadd(e.imul(e.iadd(e.imul(bt, HV), h), Vc), tid));
        });
        SmallVector<Value> yield(S);
        yield.push_back(nu2New);
        yield.append(next);
        return yield;
      });

  // ---- Final states (M from shared memory after the last token).
  e.barrier();
  Value writer = slotValid ? e.iand(owner, slotValid) : owner;
  if (sT)
    e.when(writer, [&] {
      for (int64_t r = 0; r < 4; ++r)
        for (int64_t x = 0; x < CGT; ++x)
          for (int64_t dj = 0; dj < 4; ++dj) {
            Value i = e.iadd(row0, e.idx(r));
            Value j = e.iadd(tileCol(x), e.idx(dj));
            e.when(e.iand(e.ult(i, Kc), e.ult(j, Vc)), [&] {
              e.store(e.element(end[r * CGT + x], dj), sT, stateIndex(i, j));
            });
          }
    });
  if (mT)
    forEach(K * V, [&](Value x) {
      Value i = e.idiv(x, Vc), j = e.irem(x, Vc);
      auto store = [&] { e.store(ld(sM, {i, j}), mT, stateIndex(i, j)); };
      if (slotValid)
        e.when(slotValid, store);
      else
        store();
    });
  gpu::ReturnOp::create(b);

  Value sequences = op.getCuSeqlens()
                        ? launch.sub(launch.dim(op.getCuSeqlens(), 0), 1)
                        : launch.dim(vTensor, 0);
  launch.launch({launch.dim(vTensor, 2), sequences});
  return success();
}
