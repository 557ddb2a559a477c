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
// Schedule. A token has a momentum side (p, y → x, kᵀp → M', G', G'², R:
// three phases) and a state side (u partials → u → S update and o partials:
// three phases). With the update input, w = β⊙v does not depend on S, so the
// momentum side runs one token ahead: iteration t does token t's state side
// and token t + 1's momentum side phase by phase, 3 barriers a token instead
// of the 6 of the in-order schedule, with M and R double buffered (token
// t's in buffer t mod 2). Token inputs go through a ring of shared slots
// (three with the lookahead: t, t + 1, and t + 2 being stored; two in
// order), their global loads issued at the top of the iteration that stores
// them. In order (the error input, or sizes whose double buffers do not
// fit), u's partial sums share R's buffer, so the kernel covers the sizes it
// did before the lookahead.
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
/// Rows of R and M' per step of the R M' loop.
constexpr int64_t kUnroll = 2;

struct NSConfig {
  int64_t K, V;
  int64_t RG, Kp;   // 4-row groups of the state, K padded to 4·RG
  int64_t CG, Vp;   // 4-column groups, V padded to 4·CG
  int64_t CGT, NCG; // column groups per thread, thread columns (NCG·RG ≤ 256)
  bool square;      // the quintic's c ≠ 0: G² is kept
  // The momentum side runs one token ahead of the state side (possible when
  // w does not depend on S, i.e. the update input), with M and R double
  // buffered; otherwise both run in order on single buffers.
  bool lookahead;
  int64_t copies; // of M and R
  // Token inputs live in a ring of shared slots: with the lookahead three
  // (token t's state side, token t + 1's momentum side, token t + 2 being
  // stored), in order two (token t, token t + 1 being stored).
  int64_t ringSlots;
  // Shared memory (f32) offsets in floats; -1: not needed.
  int64_t offM, offG, offG2, offR, offRingK, offRingQ, offRingA, offRingBeta,
      offRingW, offRingScal, offU, offP, offX, offY, offPartU, offPartO,
      offScal, floats;
};

/// What a scan needs of the kernel's shared memory besides its sizes.
struct NSNeeds {
  bool square;    // the polynomial has a G² term
  bool diagonal;  // a decay per row: exp(g) in the token ring
  bool errorBeta; // the error input with β per channel: β in the token ring
};

NSNeeds nsNeeds(ScanOp op) {
  return {getNSCoefficients(op.getNewtonSchulz()->getPolynomial()).c != 0.0,
          op.getDecay() == DecayKind::Diagonal,
          op.getInput() == InputKind::Error && op.getBeta() &&
              op.hasChannelBeta()};
}

NSConfig chooseNSConfig(int64_t K, int64_t V, NSNeeds needs, bool lookahead) {
  const bool square = needs.square;
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
  c.lookahead = lookahead;
  c.copies = lookahead ? 2 : 1;
  c.ringSlots = lookahead ? 3 : 2;
  int64_t off = 0;
  auto take = [&](int64_t n) {
    int64_t at = off;
    off += (n + 3) / 4 * 4; // float4 alignment
    return at;
  };
  c.offM = take(c.copies * c.Kp * c.Vp);
  c.offG = take(c.Kp * c.Kp);
  c.offG2 = square ? take(c.Kp * c.Kp) : -1;
  c.offR = take(c.copies * c.Kp * c.Kp);
  c.offRingK = take(c.ringSlots * c.Kp);
  c.offRingQ = take(c.ringSlots * c.Kp);
  c.offRingA = needs.diagonal ? take(c.ringSlots * c.Kp) : -1;
  c.offRingBeta = needs.errorBeta ? take(c.ringSlots * c.Vp) : -1;
  // (the error input's v until phase B replaces it by w)
  c.offRingW = take(c.ringSlots * c.Vp);
  c.offRingScal = take(c.ringSlots * 4);
  c.offU = take(c.Vp);
  c.offP = take(c.Kp);
  c.offX = take(c.Kp);
  c.offY = take(c.Kp);
  // In order, R is dead from its use in phase C to its rewrite in phase 3,
  // which spans phases A and B, where u's partial sums live: they share R's
  // buffer, so that the in-order schedule needs no more shared memory than
  // the kernel did before the lookahead (K = V = 112, K = 96 with V = 192).
  c.offPartU = !lookahead && c.RG * c.Vp <= c.Kp * c.Kp
                   ? c.offR
                   : take(c.RG * c.Vp);
  c.offPartO = take(c.RG * c.Vp);
  c.offScal = take(8);
  c.floats = off;
  if (lookahead && c.floats * 4 > kMaxShared)
    return chooseNSConfig(K, V, needs, /*lookahead=*/false);
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
  // One thread per row of k and q and per column of v, u and o.
  if (qType.getDimSize(3) > kThreads || vType.getDimSize(3) > kThreads)
    return "its head dimensions exceed 256 (one thread of the block per key "
           "row and value column)";
  NSConfig c = chooseNSConfig(qType.getDimSize(3), vType.getDimSize(3),
                              nsNeeds(op), /*lookahead=*/false);
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
  NSConfig c =
      chooseNSConfig(K, V, nsNeeds(op), op.getInput() == InputKind::Update);

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

  // ---- Shared memory views. M and R have `copies` buffers: with the
  // lookahead, token t's M' and R are in buffer t mod 2.
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
  Value sM = view(c.offM, {c.copies, Kp, Vp}), sG = view(c.offG, {Kp, Kp}),
        sG2 = view(c.offG2, {Kp, Kp}), sR = view(c.offR, {c.copies, Kp, Kp});
  Value ringK = view(c.offRingK, {c.ringSlots, Kp}),
        ringQ = view(c.offRingQ, {c.ringSlots, Kp}),
        ringA = view(c.offRingA, {c.ringSlots, Kp}),
        ringBeta = view(c.offRingBeta, {c.ringSlots, Vp}),
        ringW = view(c.offRingW, {c.ringSlots, Vp}),
        ringScal = view(c.offRingScal, {c.ringSlots, 4});
  Value sU = view(c.offU, {Vp}), sP = view(c.offP, {Kp}),
        sX = view(c.offX, {Kp}), sY = view(c.offY, {Kp});
  Value sPartU = view(c.offPartU, {RG, Vp}),
        sPartO = view(c.offPartO, {RG, Vp}), sScal = view(c.offScal, {8});
  auto ld = [&](Value tile, ValueRange at) -> Value {
    return memref::LoadOp::create(b, tile, at);
  };
  auto st = [&](Value x, Value tile, ValueRange at) {
    memref::StoreOp::create(b, x, tile, at);
  };
  Value zero = e.cst(0.0), one = e.cst(1.0);
  // The ring slot of token t, and the M/R buffer of token t's M'.
  auto slotOf = [&](Value t) { return e.irem(t, e.idx(c.ringSlots)); };
  auto bufferOf = [&](Value t) {
    return c.lookahead ? e.irem(t, e.idx(2)) : e.idx(0);
  };

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
  // (the buffer of token first − 1, zero padded), then G = M Mᵀ, G² = G G
  // and ν² = tr G.
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
  Value initialBuffer = bufferOf(e.iadd(first, e.idx(1)));
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
    st(value, sM, {initialBuffer, i, j});
  });
  // The padding of the token vectors stays zero: stores touch i < K, j < V.
  forEach(c.ringSlots * Kp, [&](Value x) {
    Value s = e.idiv(x, e.idx(Kp)), i = e.irem(x, e.idx(Kp));
    for (Value vec : {ringK, ringQ, ringA})
      if (vec)
        st(zero, vec, {s, i});
  });
  forEach(c.ringSlots * Vp, [&](Value x) {
    Value s = e.idiv(x, e.idx(Vp)), j = e.irem(x, e.idx(Vp));
    for (Value vec : {ringBeta, ringW})
      if (vec)
        st(zero, vec, {s, j});
  });
  forEach(Kp, [&](Value x) {
    for (Value vec : {sP, sX, sY})
      st(zero, vec, {x});
  });
  e.barrier();
  forEach(Kp * Kp, [&](Value x) {
    Value i = e.idiv(x, e.idx(Kp)), l = e.irem(x, e.idx(Kp));
    Value sum = e.loop(
        e.idx(0), e.idx(Vp), e.idx(1), {zero},
        [&](Value j, ValueRange acc) -> SmallVector<Value> {
          return {e.fma(ld(sM, {initialBuffer, i, j}),
                        ld(sM, {initialBuffer, l, j}), acc[0])};
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

  // ---- Token inputs. Every thread loads: thread i < K k_i, q_i (and g_i
  // for the diagonal decay), thread j < V v_j (and β_j); the per-head
  // scalars g, β, gain. They are issued at the top of the iteration that
  // stores them into the token's ring slot at its end (ringSlots − 1 tokens
  // ahead).
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
  // Ring slot s: k, q, the diagonal decay's exp(g), w = β⊙v (update input;
  // the error input stores v there and phase B replaces it by β⊙(v − u),
  // with β per channel from its own array), and the scalars [exp(g) or 1,
  // β, gain].
  auto storeToken = [&](ArrayRef<Value> in, Value s) {
    Value kIn = in[0], qIn = in[1], vIn = in[2], betaChIn = in[3],
          gateIn = in[4], betaIn = in[5], gainIn = in[6];
    e.when(e.ult(tid, Kc), [&] {
      st(kIn, ringK, {s, tid});
      st(qIn, ringQ, {s, tid});
      if (decay == DecayKind::Diagonal)
        st(e.exp(gateIn), ringA, {s, tid});
    });
    e.when(e.ult(tid, Vc), [&] {
      if (errorInput) {
        st(vIn, ringW, {s, tid});
        if (channelBeta)
          st(betaChIn, ringBeta, {s, tid});
      } else {
        st(e.mul(channelBeta ? betaChIn : betaIn, vIn), ringW, {s, tid});
      }
    });
    e.when(e.ieq(tid, e.idx(0)), [&] {
      st(decay == DecayKind::Scalar ? e.exp(gateIn) : one, ringScal,
         {s, e.idx(0)});
      st(betaIn, ringScal, {s, e.idx(1)});
      st(gainIn, ringScal, {s, e.idx(2)});
    });
  };

  // ---- The momentum side of token τ, in three phases separated by
  // barriers; buffer `prev` holds M_{τ−1}, `next` receives M'_τ and R_τ.
  // Phase 1: p = γ M w and y = G k, four lanes per row (xor-shuffle sums);
  // kᵀk and wᵀw by the last warp.
  auto rowDots = [&](function_ref<Value(Value, Value)> matrix, int64_t cols,
                     function_ref<Value(Value)> vec, Value out,
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
        Value term = e.mul(matrix(safe, jSafe), vec(jSafe));
        sum = e.add(sum, e.select(e.ult(j, e.idx(cols)), term, zero));
      }
      sum = e.groupSum(sum, 4);
      e.when(e.iand(e.ult(i, e.idx(Kp)), e.ieq(part, e.idx(0))),
             [&] { st(e.mul(e.cst(factor), sum), out, {i}); });
    }
  };
  auto gramAt = [&](Value i, Value l) { return ld(sG, {i, l}); };
  Value lastWarp = e.ieq(e.idiv(tid, e.idx(32)), e.idx(kThreads / 32 - 1));
  auto warpDot = [&](function_ref<Value(Value)> x,
                     function_ref<Value(Value)> y, int64_t count) {
    Value sum = zero;
    for (int64_t base = 0; base < count; base += 32) {
      Value i = e.iadd(e.idx(base), lane);
      Value safe = e.imin(i, e.idx(count - 1));
      sum = e.add(sum, e.select(e.ult(i, e.idx(count)),
                                e.mul(x(safe), y(safe)), zero));
    }
    return e.groupSum(sum, 32);
  };
  // Two dot products by the last warp, into sScal[at] and sScal[at + 1].
  auto lastWarpDots = [&](int64_t at, function_ref<Value()> first,
                          function_ref<Value()> second) {
    e.when(lastWarp, [&] {
      Value x = first(), y = second();
      e.when(e.ieq(lane, e.idx(0)), [&] {
        st(x, sScal, {e.idx(at)});
        st(y, sScal, {e.idx(at + 1)});
      });
    });
  };
  auto momentumPhase1 = [&](Value s, Value prev) {
    auto kAt = [&](Value i) { return ld(ringK, {s, i}); };
    auto wAt = [&](Value j) { return ld(ringW, {s, j}); };
    rowDots([&](Value i, Value j) { return ld(sM, {prev, i, j}); }, Vp, wAt,
            sP, gamma);
    if (c.square)
      rowDots(gramAt, Kp, kAt, sY, 1.0);
    lastWarpDots(
        0, [&] { return warpDot(kAt, kAt, Kp); },
        [&] { return warpDot(wAt, wAt, Vp); });
  };
  // Phase 2: x = G p; kᵀp and pᵀp.
  auto momentumPhase2 = [&](Value s) {
    auto kAt = [&](Value i) { return ld(ringK, {s, i}); };
    auto pAt = [&](Value i) { return ld(sP, {i}); };
    if (c.square)
      rowDots(gramAt, Kp, pAt, sX, 1.0);
    lastWarpDots(
        2, [&] { return warpDot(kAt, pAt, Kp); },
        [&] { return warpDot(pAt, pAt, Kp); });
  };
  // Phase 3: M' = γM + c k wᵀ; G', G'²; R = (aI + b G'/n² + c' G'²/n⁴)/n
  // scaled by τ_out, four columns per thread and step. Returns ν'².
  auto momentumPhase3 = [&](Value s, Value prev, Value next,
                            Value nu2) -> Value {
    Value cIn = e.mul(e.cst(tauIn), ld(ringScal, {s, e.idx(2)}));
    Value kk = ld(sScal, {e.idx(0)}), ww = ld(sScal, {e.idx(1)});
    Value kp = ld(sScal, {e.idx(2)}), pp = ld(sScal, {e.idx(3)});
    Value nu2New = e.fma(e.mul(cIn, cIn), e.mul(kk, ww),
                         e.fma(e.cst(gamma * gamma), nu2,
                               e.mul(e.mul(e.cst(2.0), cIn), kp)));
    nu2New = e.maxf(nu2New, zero);
    Value nu = e.sqrt(nu2New);
    Value norm = addEps ? e.add(nu, e.cst(eps)) : e.maxf(nu, e.cst(eps));
    Value inv = e.div(one, norm), inv2 = e.mul(inv, inv);
    auto v4 = [&](Value x) { return e.splat(x, 4); };
    forEach(Kp * c.CG, [&](Value x) {
      Value i = e.idiv(x, e.idx(c.CG));
      Value j = e.imul(e.irem(x, e.idx(c.CG)), e.idx(4));
      Value ck = e.mul(cIn, ld(ringK, {s, i}));
      Value mOld = e.vload(sM, {prev, i, j}, 4);
      Value w4 = e.vload(ringW, {s, j}, 4);
      e.vstore(e.fma(v4(e.cst(gamma)), mOld, e.mul(v4(ck), w4)), sM,
               {next, i, j});
    });
    // Δ = c(p kᵀ + k pᵀ) + c²σ k kᵀ; Δ² = D00 ppᵀ + D01 (pkᵀ + kpᵀ) +
    // D11 kkᵀ with D = C Γ C, C = [[0, c], [c, c²σ]], Γ = Gram of (p, k).
    Value c2 = e.mul(cIn, cIn), c2s = e.mul(c2, ww);
    Value d00 = e.mul(c2, kk);
    Value d01 = e.add(e.mul(c2, kp), e.mul(e.mul(c2s, cIn), kk));
    Value d11 = e.add(e.mul(c2, pp),
                      e.add(e.mul(e.mul(e.cst(2.0), e.mul(c2s, cIn)), kp),
                            e.mul(e.mul(c2s, c2s), kk)));
    Value scaleR = e.mul(e.cst(tauOut), inv);
    forEach(Kp * RG, [&](Value x) {
      Value i = e.idiv(x, e.idx(RG));
      Value l = e.imul(e.irem(x, e.idx(RG)), e.idx(4));
      Value ki = v4(ld(ringK, {s, i})), pi = v4(ld(sP, {i}));
      Value kl = e.vload(ringK, {s, l}, 4), pl = e.vload(sP, {l}, 4);
      Value sym = e.fma(pi, kl, e.mul(ki, pl)); // (pkᵀ + kpᵀ)_il
      Value kkT = e.mul(ki, kl);
      Value delta = e.fma(v4(cIn), sym, e.mul(v4(c2s), kkT));
      Value gNew =
          e.fma(v4(e.cst(gamma * gamma)), e.vload(sG, {i, l}, 4), delta);
      e.vstore(gNew, sG, {i, l});
      SmallVector<Value> eye;
      for (int64_t d = 0; d < 4; ++d)
        eye.push_back(e.select(e.ieq(i, e.iadd(l, e.idx(d))),
                               e.cst(coef.a), zero));
      Value r = e.fma(v4(e.cst(coef.b)), e.mul(gNew, v4(inv2)),
                      e.fromElements(eye));
      if (c.square) {
        Value xi = v4(ld(sX, {i})), xl = e.vload(sX, {l}, 4);
        Value yi = v4(ld(sY, {i})), yl = e.vload(sY, {l}, 4);
        // GΔ + ΔG = c(x kᵀ + k xᵀ + y pᵀ + p yᵀ) + c²σ(y kᵀ + k yᵀ)
        Value cross = e.mul(v4(cIn), e.add(e.fma(xi, kl, e.mul(ki, xl)),
                                           e.fma(yi, pl, e.mul(pi, yl))));
        cross = e.fma(v4(c2s), e.fma(yi, kl, e.mul(ki, yl)), cross);
        Value sq = e.fma(v4(d00), e.mul(pi, pl),
                         e.fma(v4(d01), sym, e.mul(v4(d11), kkT)));
        Value g2 = e.fma(v4(e.cst(gamma * gamma * gamma * gamma)),
                         e.vload(sG2, {i, l}, 4),
                         e.fma(v4(e.cst(gamma * gamma)), cross, sq));
        e.vstore(g2, sG2, {i, l});
        r = e.fma(v4(e.cst(coef.c)), e.mul(g2, v4(e.mul(inv2, inv2))), r);
      }
      e.vstore(e.mul(v4(scaleR), r), sR, {next, i, l});
    });
    return nu2New;
  };

  // ---- The state side of token t (ring slot s, M'_t and R_t in `buffer`).
  // The decay of row i (a vector over the 4 rows of the tile).
  auto rowDecays = [&](Value s) {
    SmallVector<Value> rowDecay;
    Value aScalar = ld(ringScal, {s, e.idx(0)});
    for (int64_t r = 0; r < 4; ++r)
      rowDecay.push_back(decay == DecayKind::Diagonal
                             ? ld(ringA, {s, e.iadd(row0, e.idx(r))})
                             : aScalar);
    return rowDecay;
  };
  // Phase A: partial sums of u = D(S)ᵀk over the tile's 4 rows.
  auto statePhaseA = [&](Value s, ArrayRef<Value> S) {
    SmallVector<Value> rowDecay = rowDecays(s);
    SmallVector<Value> kRows;
    for (int64_t r = 0; r < 4; ++r)
      kRows.push_back(
          e.mul(rowDecay[r], ld(ringK, {s, e.iadd(row0, e.idx(r))})));
    e.when(owner, [&] {
      for (int64_t x = 0; x < CGT; ++x)
        e.when(colValid(x), [&] {
          Value sum = e.vcst(0.0, 4);
          for (int64_t r = 0; r < 4; ++r)
            sum = e.fma(e.splat(kRows[r], 4), S[r * CGT + x], sum);
          e.vstore(sum, sPartU, {rg, tileCol(x)});
        });
    });
  };
  // Phase B: u (and w for the error input, in place of v: each column's
  // thread reads its v and writes its w).
  auto statePhaseB = [&](Value s) {
    e.when(e.ult(tid, e.idx(Vp)), [&] {
      Value u = zero;
      for (int64_t r = 0; r < RG; ++r)
        u = e.add(u, ld(sPartU, {e.idx(r), tid}));
      st(u, sU, {tid});
      if (errorInput) {
        Value bj = channelBeta ? ld(ringBeta, {s, tid})
                               : ld(ringScal, {s, e.idx(1)});
        Value w = e.mul(bj, e.sub(ld(ringW, {s, tid}), u));
        st(e.select(e.ult(tid, Vc), w, zero), ringW, {s, tid});
      }
    });
  };
  // Phase C: S ← D(S) − ηβ k uᵀ + R M' on the tile; partial sums of o.
  // Threads without a tile keep S as it was (it is unused).
  auto statePhaseC = [&](Value s, Value buffer,
                         ArrayRef<Value> S) -> SmallVector<Value> {
    SmallVector<Value> rowDecay = rowDecays(s);
    Value betaHead = ld(ringScal, {s, e.idx(1)});
    SmallVector<Value> next = e.ifElse(
        owner,
        [&]() -> SmallVector<Value> {
          SmallVector<Value> acc;
          for (int64_t r = 0; r < 4; ++r) {
            Value i = e.iadd(row0, e.idx(r));
            Value coefK =
                e.mul(e.cst(eta), e.mul(betaHead, ld(ringK, {s, i})));
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
          // Two rows of R and M' per step, their loads issued together:
          // 16.4 → 15.5 ms at the README sizes on an H200 (four rows
          // measured no better). Kp is a multiple of 4.
          return e.loop(
              e.idx(0), e.idx(Kp), e.idx(kUnroll), acc,
              [&](Value l0, ValueRange a) -> SmallVector<Value> {
                SmallVector<Value> next(a.begin(), a.end());
                SmallVector<Value> r4s, mRows;
                for (int64_t dl = 0; dl < kUnroll; ++dl) {
                  Value l = e.iadd(l0, e.idx(dl));
                  r4s.push_back(e.vload(sR, {buffer, l, row0}, 4));
                  for (int64_t x = 0; x < CGT; ++x)
                    mRows.push_back(e.vload(
                        sM, {buffer, l, e.imin(tileCol(x), e.idx(Vp - 4))},
                        4));
                }
                for (int64_t dl = 0; dl < kUnroll; ++dl)
                  for (int64_t r = 0; r < 4; ++r)
                    for (int64_t x = 0; x < CGT; ++x)
                      next[r * CGT + x] =
                          e.fma(e.splat(e.element(r4s[dl], r), 4),
                                mRows[dl * CGT + x], next[r * CGT + x]);
                return next;
              });
        },
        [&]() -> SmallVector<Value> { return SmallVector<Value>(S); });
    e.when(owner, [&] {
      for (int64_t x = 0; x < CGT; ++x)
        e.when(colValid(x), [&] {
          Value sum = e.vcst(0.0, 4);
          for (int64_t r = 0; r < 4; ++r)
            sum = e.fma(e.splat(ld(ringQ, {s, e.iadd(row0, e.idx(r))}), 4),
                        next[r * CGT + x], sum);
          e.vstore(sum, sPartO, {rg, tileCol(x)});
        });
    });
    return next;
  };
  // o_t = scale·Sᵀq from the partial sums of phase C.
  auto storeOutput = [&](Value t) {
    Value bt = e.iadd(e.imul(bIdx, T), t);
    e.when(e.ult(tid, Vc), [&] {
      Value sum = zero;
      for (int64_t r = 0; r < RG; ++r)
        sum = e.add(sum, ld(sPartO, {e.idx(r), tid}));
      e.store(e.mul(e.cst(scale), sum), o,
              e.iadd(e.imul(e.iadd(e.imul(bt, HV), h), Vc), tid));
    });
  };

  // ---- The token loop. Prologue: tokens first … first + ringSlots − 2
  // into their slots; with the lookahead, token first's momentum side.
  const int64_t storeAhead = c.ringSlots - 1;
  {
    SmallVector<SmallVector<Value>> in;
    for (int64_t d = 0; d < storeAhead; ++d)
      in.push_back(loadToken(e.iadd(first, e.idx(d))));
    for (int64_t d = 0; d < storeAhead; ++d)
      storeToken(in[d], slotOf(e.iadd(first, e.idx(d))));
    e.barrier();
  }
  if (c.lookahead) {
    Value s = slotOf(first), prev = initialBuffer, next = bufferOf(first);
    momentumPhase1(s, prev);
    e.barrier();
    momentumPhase2(s);
    e.barrier();
    nu2 = momentumPhase3(s, prev, next, nu2);
    e.barrier();
  }
  // Iteration t: token t's state side and token t + 1's momentum side
  // (lookahead: 3 barriers), or token t's momentum side then its state side
  // (6 barriers); the inputs of token t + ringSlots − 1 are loaded at the top
  // and stored into their slot at the end; o_{t−1} is summed in phase A.
  SmallVector<Value> inits(S);
  const size_t stateCount = S.size();
  inits.push_back(nu2);
  SmallVector<Value> end = e.loop(
      first, last, e.idx(1), inits,
      [&](Value t, ValueRange carried) -> SmallVector<Value> {
        SmallVector<Value> S(carried.take_front(stateCount));
        Value nu2 = carried[stateCount];
        Value tAhead = e.iadd(t, e.idx(storeAhead));
        SmallVector<Value> ahead = loadToken(tAhead);
        Value t1 = e.iadd(t, e.idx(1));
        Value s = slotOf(t), s1 = slotOf(t1);
        Value buffer = bufferOf(t);

        e.when(e.ult(first, t), [&] { storeOutput(e.isub(t, e.idx(1))); });
        statePhaseA(s, S);
        if (c.lookahead)
          momentumPhase1(s1, buffer);
        e.barrier();
        statePhaseB(s);
        if (c.lookahead)
          momentumPhase2(s1);
        e.barrier();
        if (c.lookahead) {
          nu2 = momentumPhase3(s1, buffer, bufferOf(t1), nu2);
        } else {
          momentumPhase1(s, buffer);
          e.barrier();
          momentumPhase2(s);
          e.barrier();
          nu2 = momentumPhase3(s, buffer, buffer, nu2);
          e.barrier();
        }
        S = statePhaseC(s, buffer, S);
        storeToken(ahead, slotOf(tAhead));
        e.barrier();
        SmallVector<Value> yield(S);
        yield.push_back(nu2);
        return yield;
      });
  e.when(e.ult(first, last), [&] { storeOutput(e.isub(last, e.idx(1))); });

  // ---- Final states (M' of token last − 1, from shared memory).
  Value finalBuffer = bufferOf(e.iadd(last, e.idx(1)));
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
      auto store = [&] {
        e.store(ld(sM, {finalBuffer, i, j}), mT, stateIndex(i, j));
      };
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
