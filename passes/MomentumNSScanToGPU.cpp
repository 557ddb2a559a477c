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
// costs O(KV + K²) for the Gram updates and one K×K·K×V product, R M':
//   S ← D(S) − ηβ k uᵀ + τ_out R M',   o = scale·Sᵀq.
// S lives in registers in the accumulator layout of mma.m16n8k8 (tf32),
// a warp owning whole columns of it, so R M' runs on tensor cores straight
// into S, and u = D(S)ᵀk and o are warp-local sums. Operands are rounded to
// tf32 for bf16/f16 inputs (as fine as f16, finer than bf16; recorded on
// the launch), split in two tf32 halves (3 products) for f32 inputs.
// Nothing per token leaves the chip but o.
//
// Schedule. A token has a momentum side (p, y → x, kᵀp → M', G', G'², R:
// three phases separated by barriers) and a state side (u, the S update,
// o; no barrier of its own). With the update input, w = β⊙v does not
// depend on S, so the momentum side runs one token ahead: iteration t runs
// token t + 1's momentum side with token t's state side beside its third
// phase, 3 barriers a token, M and R double buffered (token t's in buffer
// t mod 2). With the error input (w needs u) or where the double buffers do
// not fit, a token runs u, its momentum side, then its state update, on
// single buffers (5 barriers; 4 with the update input). Token inputs go
// through a ring of shared slots (three with the lookahead: t, t + 1, and
// t + 2 being stored; two in order), their global loads issued at the top
// of the iteration that stores them.
//
//===----------------------------------------------------------------------===//

#include "passes/GPULowering.h"
#include "passes/GPUMma.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::gpu_codegen;

namespace {

constexpr int64_t kThreads = 256;
constexpr int64_t kWarps = kThreads / 32;
constexpr int64_t kMaxShared = 227 * 1024;
/// Rounds of a strided loop whose loads are issued together (forEachBatched).
constexpr int64_t kBatch = 4;
/// R M' is unrolled over k up to this many mma (tile × k step) a thread.
constexpr int64_t kUnrolledMmas = 64;

struct NSConfig {
  int64_t K, V;
  int64_t Kp, RG; // K padded to the mma's k step (8); 4-row groups
  int64_t Vp, CG; // V padded to an n tile (8); 4-column groups
  // S in the accumulator layout of mma.m16n8k8: 16-row tiles (the last one
  // half padding when Kp % 16 = 8) by 8-column tiles; warp w owns the
  // column tiles w, w + 8, … (NTW of them, the last ones possibly past NT),
  // all their rows.
  int64_t MT, NT, NTW;
  // Row pitches (floats). G and R: ≡ 4 (mod 8), so that the eight rows of
  // a warp's row dots (four lanes a row, interleaved columns) and of an
  // ldmatrix block of R fall on distinct banks. M: ≡ 8 (mod 16), so that
  // the four rows and eight columns of a B fragment (b = M'[l + c][n + g],
  // g = lane / 4, c = lane % 4) do; the row dots over M then rotate the
  // columns of rows whose row / 4 is odd by one group of four.
  int64_t pitchM, pitchG, pitchR;
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
      offRingW, offRingScal, offP, offX, offY, offScal, floats;
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
  c.Kp = (K + 7) / 8 * 8;
  c.RG = c.Kp / 4;
  c.Vp = (V + 7) / 8 * 8;
  c.CG = c.Vp / 4;
  c.MT = (c.Kp + 15) / 16;
  c.NT = c.Vp / 8;
  c.NTW = (c.NT + kWarps - 1) / kWarps;
  c.pitchM = c.Vp % 16 == 8 ? c.Vp : c.Vp + 8;
  c.pitchG = c.Kp + 4;
  c.pitchR = c.Kp + 4;
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
  c.offM = take(c.copies * c.Kp * c.pitchM);
  c.offG = take(c.Kp * c.pitchG);
  c.offG2 = square ? take(c.Kp * c.pitchG) : -1;
  c.offR = take(c.copies * c.Kp * c.pitchR);
  c.offRingK = take(c.ringSlots * c.Kp);
  c.offRingQ = take(c.ringSlots * c.Kp);
  c.offRingA = needs.diagonal ? take(c.ringSlots * c.Kp) : -1;
  c.offRingBeta = needs.errorBeta ? take(c.ringSlots * c.Vp) : -1;
  // (the error input's v until the state side replaces it by w)
  c.offRingW = take(c.ringSlots * c.Vp);
  c.offRingScal = take(c.ringSlots * 4);
  c.offP = take(c.Kp);
  c.offX = take(c.Kp);
  c.offY = take(c.Kp);
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
  // The token inputs are loaded one thread per row of k and q and per
  // column of v.
  if (qType.getDimSize(3) > kThreads || vType.getDimSize(3) > kThreads)
    return "its head dimensions exceed 256 (one thread of the block per key "
           "row and value column)";
  NSConfig c = chooseNSConfig(qType.getDimSize(3), vType.getDimSize(3),
                              nsNeeds(op), /*lookahead=*/false);
  if (c.MT * c.NTW > 32)
    return "its state is too large for the registers of one block (128 "
           "floats of S a thread: K·V up to about 32768)";
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
  const int64_t Kp = c.Kp, Vp = c.Vp, RG = c.RG, MT = c.MT, NTW = c.NTW;
  // R M' on tensor cores: tf32 operands for bf16/f16 inputs (as fine as
  // f16; the bundle records the rounding), 3×tf32 for f32 inputs
  // (the f32 NS the project keeps to about 2^-21).
  const bool splitProducts =
      cast<ShapedType>(op.getQ().getType()).getElementType().isF32();
  Type f32 = b.getF32Type();

  // ---- Shared memory views. M and R have `copies` buffers: with the
  // lookahead, token t's M' and R are in buffer t mod 2.
  auto space = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Value raw = sharedBytes(b, c.floats * 4);
  auto view = [&](int64_t offset, ArrayRef<int64_t> shape) -> Value {
    if (offset < 0)
      return {};
    return memref::ViewOp::create(
        b, MemRefType::get(shape, f32, AffineMap(), space), raw,
        e.idx(offset * 4), ValueRange{});
  };
  Value sM = view(c.offM, {c.copies, Kp, c.pitchM}),
        sG = view(c.offG, {Kp, c.pitchG}), sG2 = view(c.offG2, {Kp, c.pitchG}),
        sR = view(c.offR, {c.copies, Kp, c.pitchR});
  Value ringK = view(c.offRingK, {c.ringSlots, Kp}),
        ringQ = view(c.offRingQ, {c.ringSlots, Kp}),
        ringA = view(c.offRingA, {c.ringSlots, Kp}),
        ringBeta = view(c.offRingBeta, {c.ringSlots, Vp}),
        ringW = view(c.offRingW, {c.ringSlots, Vp}),
        ringScal = view(c.offRingScal, {c.ringSlots, 4});
  Value sP = view(c.offP, {Kp}), sX = view(c.offX, {Kp}),
        sY = view(c.offY, {Kp}), sScal = view(c.offScal, {8});
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

  // ---- Who am I: lane (g, cq) = (lane / 4, lane % 4) of warp w holds,
  // of column tile nt = w + 8·slot (slot < NTW) and row tile m, the
  // accumulator registers r of rows 16m + g + 8·(r / 2) and column
  // 8·nt + 2cq + r % 2 of value head h of sequence n. Slots past the last
  // tile compute tile NT − 1 again and store nothing.
  Value tid = e.threadId();
  Value lane = e.irem(tid, e.idx(32));
  Value warp = e.idiv(tid, e.idx(32));
  Value gq = e.idiv(lane, e.idx(4)), cq = e.irem(lane, e.idx(4));
  SmallVector<Value> tileN, tileValid;
  for (int64_t slotN = 0; slotN < NTW; ++slotN) {
    Value nt = e.iadd(warp, e.idx(kWarps * slotN));
    tileValid.push_back(e.ult(nt, e.idx(c.NT)));
    tileN.push_back(e.imin(nt, e.idx(c.NT - 1)));
  }
  // The order in which the momentum side's strided loops hand out items
  // (forEachBatched): warps NT mod 8 … 7 first, the ones whose last column
  // tile slot recomputes tile NT − 1, so that a loop's partial last round
  // falls on them first. Measured on an H200 against plain thread order:
  // 9.28 → 9.13 ms at the README sizes, 13.07 → 12.78 ms at the code's
  // (bench/results/gpu-h200-stop20.md, run 5). Skipping those warps'
  // duplicate tile as well gained nothing (runs 3 and 5).
  const int64_t lightFirst = c.NT % kWarps;
  Value tidM =
      lightFirst == 0
          ? tid
          : e.iadd(e.imul(e.irem(e.iadd(warp, e.idx(kWarps - lightFirst)),
                                 e.idx(kWarps)),
                          e.idx(32)),
                   lane);
  // Row half `half` of row tile m: rows 16m + 8·half + g; past Kp (the
  // second half of a last tile when Kp % 16 = 8) it is padding, statically.
  auto halfPadded = [&](int64_t m, int64_t half) {
    return 16 * m + 8 * half >= Kp;
  };
  auto rowOf = [&](int64_t m, int64_t half) {
    return e.iadd(gq, e.idx(16 * m + 8 * half));
  };
  auto colOf = [&](int64_t slotN, int64_t parity) {
    return e.iadd(e.imul(tileN[slotN], e.idx(8)),
                  e.iadd(e.imul(cq, e.idx(2)), e.idx(parity)));
  };
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

  // forEach with the loads and arithmetic of up to kBatch rounds of a
  // thread before their stores: `compute` returns what `commit` stores. The
  // rounds are unrolled, so their shared loads issue together rather than
  // one round's latency after another's. A partial last round runs on its
  // own, only in the threads it covers (in the order of tidM): whole warps
  // skip it rather than compute a clamped item and store nothing.
  // `compute` also gets the round's number (for loads issued earlier).
  auto forEachBatched =
      [&](int64_t count,
          function_ref<SmallVector<Value>(Value, int64_t)> compute,
          function_ref<void(Value, ArrayRef<Value>)> commit) {
        int64_t full = count / kThreads, tail = count % kThreads;
        for (int64_t batch = 0; batch < full; batch += kBatch) {
          SmallVector<Value> items;
          SmallVector<SmallVector<Value>> results;
          for (int64_t r = batch; r < std::min(full, batch + kBatch); ++r) {
            items.push_back(e.iadd(tidM, e.idx(r * kThreads)));
            results.push_back(compute(items.back(), r));
          }
          for (auto [x, result] : llvm::zip(items, results))
            commit(x, result);
        }
        if (tail)
          e.when(e.ult(tidM, e.idx(tail)), [&] {
            Value x = e.iadd(tidM, e.idx(full * kThreads));
            commit(x, compute(x, full));
          });
      };

  // ---- Initial states: S into the tiles' registers, M into shared memory
  // (the buffer of token first − 1, zero padded), then G = M Mᵀ, G² = G G
  // and ν² = tr G.
  SmallVector<Value> S; // [slot·MT + m]: vector<4xf32> accumulators
  for (int64_t slotN = 0; slotN < NTW; ++slotN)
    for (int64_t m = 0; m < MT; ++m) {
      SmallVector<Value> values;
      for (int64_t r = 0; r < 4; ++r) {
        if (!s0 || halfPadded(m, r / 2)) {
          values.push_back(zero);
          continue;
        }
        Value i = rowOf(m, r / 2), j = colOf(slotN, r % 2);
        Value ok = e.iand(e.ult(i, Kc), e.ult(j, Vc));
        Value value = e.load(s0, stateIndex(e.imin(i, e.idx(K - 1)),
                                            e.imin(j, e.idx(V - 1))));
        values.push_back(e.select(ok, value, zero));
      }
      S.push_back(e.fromElements(values));
    }
  Value initialBuffer = bufferOf(e.iadd(first, e.idx(1)));
  // Every buffer of M is written, the other one zero: the token loop writes
  // rows < K only, so the padding rows must start zero in both; R likewise.
  forEach(c.copies * Kp * Vp, [&](Value x) {
    Value buf = e.idiv(x, e.idx(Kp * Vp)), ij = e.irem(x, e.idx(Kp * Vp));
    Value i = e.idiv(ij, e.idx(Vp)), j = e.irem(ij, e.idx(Vp));
    Value value = zero;
    if (m0) {
      Value ok =
          e.iand(e.iand(e.ult(i, Kc), e.ult(j, Vc)), e.ieq(buf, initialBuffer));
      value = e.select(ok,
                       e.load(m0, stateIndex(e.imin(i, e.idx(K - 1)),
                                             e.imin(j, e.idx(V - 1)))),
                       zero);
    }
    st(value, sM, {buf, i, j});
  });
  forEach(c.copies * Kp * Kp, [&](Value x) {
    Value buf = e.idiv(x, e.idx(Kp * Kp)), il = e.irem(x, e.idx(Kp * Kp));
    st(zero, sR, {buf, e.idiv(il, e.idx(Kp)), e.irem(il, e.idx(Kp))});
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
  // the error input stores v there and stateU replaces it by β⊙(v − u),
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
                     function_ref<Value(Value)> vec, Value out, double factor,
                     bool rotate) {
    for (int64_t base = 0; base < K; base += kThreads / 4) {
      // Warps whose eight rows are all past K skip the pass (the last warp,
      // for K ≤ 56, is then free for lastWarpDots).
      Value warpRows = e.ult(e.iadd(e.idx(base), e.imul(warp, e.idx(8))), Kc);
      e.when(warpRows, [&] {
        Value i = e.iadd(e.idx(base), e.idiv(tid, e.idx(4)));
        Value part = e.irem(tid, e.idx(4));
        Value safe = e.imin(i, e.idx(K - 1));
        // The lanes of a row take interleaved columns part, part + 4, …: with
        // G's pitch ≡ 4 (mod 8) a warp's eight rows and four lanes fall on
        // 32 distinct banks, every address is the row's plus a constant, and
        // as cols (Kp or Vp) is a multiple of 8 no column needs a mask (the
        // padding is zero). Two partial sums halve the dependent chain.
        // With `rotate` (M, pitch ≡ 8 mod 16: rows r and r + 4 of a warp
        // start on the same bank) the rows whose row / 4 is odd take the
        // column groups 1, 2, …, n − 1, 0 instead, which separates them
        // (measured on an H200 with the conflict-free B fragments it buys:
        // 9.21 → 8.87 ms at the README sizes, 12.95 → 12.73 at the code's).
        const int64_t n = cols / 4;
        Value rot = rotate ? e.irem(e.idiv(tid, e.idx(16)), e.idx(2)) : Value();
        Value start = rotate ? e.iadd(part, e.imul(rot, e.idx(4))) : part;
        Value sums[2] = {zero, zero};
        for (int64_t jj = 0; jj < n; ++jj) {
          Value j = e.iadd(start, e.idx(4 * jj));
          if (rotate && jj == n - 1)
            j = e.select(e.ieq(rot, e.idx(1)), part, j);
          sums[jj % 2] = e.fma(matrix(safe, j), vec(j), sums[jj % 2]);
        }
        Value sum = e.groupSum(e.add(sums[0], sums[1]), 4);
        // Rows K … Kp − 1 of the result stay zero, as stored at the start.
        e.when(e.iand(e.ult(i, Kc), e.ieq(part, e.idx(0))),
               [&] { st(e.mul(e.cst(factor), sum), out, {i}); });
      });
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
    rowDots(
        [&](Value i, Value j) {
          return ld(sM, {prev, i, j});
        },
        Vp, wAt, sP, gamma, /*rotate=*/true);
    if (c.square)
      rowDots(gramAt, Kp, kAt, sY, 1.0, /*rotate=*/false);
    lastWarpDots(
        0, [&] { return warpDot(kAt, kAt, Kp); },
        [&] { return warpDot(wAt, wAt, Vp); });
  };
  // Phase 2: x = G p; kᵀp and pᵀp.
  auto momentumPhase2 = [&](Value s) {
    auto kAt = [&](Value i) { return ld(ringK, {s, i}); };
    auto pAt = [&](Value i) { return ld(sP, {i}); };
    if (c.square)
      rowDots(gramAt, Kp, pAt, sX, 1.0, /*rotate=*/false);
    lastWarpDots(
        2, [&] { return warpDot(kAt, pAt, Kp); },
        [&] { return warpDot(pAt, pAt, Kp); });
  };
  // M' = γM + c k wᵀ reads only M, k, w and the gain, none of them written
  // in phase 2: the loads of its first batch of rounds are issued before
  // phase 3's barrier (prefetchM), so that they overlap the wait rather
  // than stall every warp right after it (measured on an H200: 8.86 →
  // 8.74 ms at the README sizes, 12.69 → 12.35 at the code's).
  struct MLoads {
    Value k, m, w;
  };
  const int64_t mCount = K * c.CG;
  auto mRowCol = [&](Value x) -> std::pair<Value, Value> {
    return {e.idiv(x, e.idx(c.CG)), e.imul(e.irem(x, e.idx(c.CG)), e.idx(4))};
  };
  auto loadMItem = [&](Value s, Value prev, Value x) -> MLoads {
    auto [i, j] = mRowCol(x);
    return {ld(ringK, {s, i}), e.vload(sM, {prev, i, j}, 4),
            e.vload(ringW, {s, j}, 4)};
  };
  auto prefetchM = [&](Value s, Value prev) {
    SmallVector<MLoads> loads;
    for (int64_t r = 0; r < std::min(mCount / kThreads, kBatch); ++r)
      loads.push_back(loadMItem(s, prev, e.iadd(tidM, e.idx(r * kThreads))));
    return loads;
  };
  // Phase 3: M' = γM + c k wᵀ; G', G'²; R = (aI + b G'/n² + c' G'²/n⁴)/n
  // scaled by τ_out (buffer `prev` holds M, `next` receives M' and R).
  // Returns ν'². (M' needs neither p nor the Gram sums, but moved into
  // phase 2 it was slower on an H200: 9.27 → 10.05 ms at the README sizes,
  // 12.92 → 13.27 at the code's; here it overlaps the state side.)
  auto momentumPhase3 = [&](Value s, Value prev, Value next, Value nu2,
                            ArrayRef<MLoads> prefetched) -> Value {
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
    // Rows K … Kp − 1 of M', G, G² and R are padding, zero from the start
    // (k, p, x and y are zero there; R's zero rows give S's padding rows
    // zero products): the loops cover rows < K only.
    // The first batch of rounds on the prefetched loads.
    forEachBatched(
        mCount,
        [&](Value x, int64_t round) -> SmallVector<Value> {
          MLoads in = round < static_cast<int64_t>(prefetched.size())
                          ? prefetched[round]
                          : loadMItem(s, prev, x);
          Value ck = e.mul(cIn, in.k);
          return {e.fma(v4(e.cst(gamma)), in.m, e.mul(v4(ck), in.w))};
        },
        [&](Value x, ArrayRef<Value> mNew) {
          auto [i, j] = mRowCol(x);
          e.vstore(mNew[0], sM, {next, i, j});
        });
    // Δ = c(p kᵀ + k pᵀ) + c²σ k kᵀ; Δ² = D00 ppᵀ + D01 (pkᵀ + kpᵀ) +
    // D11 kkᵀ with D = C Γ C, C = [[0, c], [c, c²σ]], Γ = Gram of (p, k).
    Value c2 = e.mul(cIn, cIn), c2s = e.mul(c2, ww);
    Value d00 = e.mul(c2, kk);
    Value d01 = e.add(e.mul(c2, kp), e.mul(e.mul(c2s, cIn), kk));
    Value d11 = e.add(e.mul(c2, pp),
                      e.add(e.mul(e.mul(e.cst(2.0), e.mul(c2s, cIn)), kp),
                            e.mul(e.mul(c2s, c2s), kk)));
    // Collected by the left index, each of G' − γ²G and G'² − γ⁴G² is a
    // sum of products (left vector)_i (right vector)_l:
    //   G'  − γ²G  = p (c k)ᵀ + k (c p + c²σ k)ᵀ
    //   G'² − γ⁴G² = x (γ²c k)ᵀ + y (γ²c p + γ²c²σ k)ᵀ
    //              + p (γ²c y + D00 p + D01 k)ᵀ
    //              + k (γ²c x + γ²c²σ y + D01 p + D11 k)ᵀ
    // A thread takes two rows by four columns a round and forms the four
    // columns' right vectors once for both rows.
    const double g2c = gamma * gamma, g4c = g2c * g2c;
    Value sa = e.mul(e.mul(e.cst(tauOut), inv), e.cst(coef.a));
    Value sb = e.mul(e.mul(e.cst(tauOut * coef.b), inv), inv2);
    Value sc = e.mul(e.mul(e.cst(tauOut * coef.c), inv), e.mul(inv2, inv2));
    Value g2cIn = e.mul(e.cst(g2c), cIn), g2c2s = e.mul(e.cst(g2c), c2s);
    const int64_t pairs = (K + 1) / 2;
    auto pairOf = [&](Value x) -> std::pair<Value, Value> {
      return {e.imul(e.idiv(x, e.idx(RG)), e.idx(2)),
              e.imul(e.irem(x, e.idx(RG)), e.idx(4))};
    };
    forEachBatched(
        pairs * RG,
        [&](Value x, int64_t) -> SmallVector<Value> {
          auto [i0, l] = pairOf(x);
          Value kl = e.vload(ringK, {s, l}, 4), pl = e.vload(sP, {l}, 4);
          Value rightK = e.mul(v4(cIn), kl);
          Value rightP = e.fma(v4(cIn), pl, e.mul(v4(c2s), kl));
          Value rX, rY, rP, rK;
          if (c.square) {
            Value xl = e.vload(sX, {l}, 4), yl = e.vload(sY, {l}, 4);
            rX = e.mul(v4(e.cst(g2c)), rightK);
            rY = e.mul(v4(e.cst(g2c)), rightP);
            rP = e.fma(v4(g2cIn), yl, e.fma(v4(d00), pl, e.mul(v4(d01), kl)));
            rK = e.fma(
                v4(g2cIn), xl,
                e.fma(v4(g2c2s), yl, e.fma(v4(d01), pl, e.mul(v4(d11), kl))));
          }
          SmallVector<Value> results; // per row: G', (G'²), R
          for (int64_t d = 0; d < 2; ++d) {
            Value i = e.iadd(i0, e.idx(d));
            Value ki = v4(ld(ringK, {s, i})), pi = v4(ld(sP, {i}));
            Value gNew =
                e.fma(pi, rightK,
                      e.fma(ki, rightP,
                            e.mul(v4(e.cst(g2c)), e.vload(sG, {i, l}, 4))));
            results.push_back(gNew);
            // τ_out (a I + b G'/n² + c G'²/n⁴)/n; row K (odd K) is padding,
            // and R's padding rows stay zero.
            SmallVector<Value> eye;
            Value real = e.ult(i, Kc);
            for (int64_t dl = 0; dl < 4; ++dl)
              eye.push_back(e.select(
                  e.iand(real, e.ieq(i, e.iadd(l, e.idx(dl)))), sa, zero));
            Value r = e.fma(v4(sb), gNew, e.fromElements(eye));
            if (c.square) {
              Value xi = v4(ld(sX, {i})), yi = v4(ld(sY, {i}));
              Value g2 =
                  e.fma(xi, rX,
                        e.fma(yi, rY,
                              e.fma(pi, rP,
                                    e.fma(ki, rK,
                                          e.mul(v4(e.cst(g4c)),
                                                e.vload(sG2, {i, l}, 4))))));
              results.push_back(g2);
              r = e.fma(v4(sc), g2, r);
            }
            results.push_back(r);
          }
          return results;
        },
        [&](Value x, ArrayRef<Value> results) {
          auto [i0, l] = pairOf(x);
          const size_t per = c.square ? 3 : 2;
          for (int64_t d = 0; d < 2; ++d) {
            Value i = e.iadd(i0, e.idx(d));
            ArrayRef<Value> row = results.slice(d * per, per);
            e.vstore(row[0], sG, {i, l});
            if (c.square)
              e.vstore(row[1], sG2, {i, l});
            // R is only ever an A operand: with tf32 products it is stored
            // rounded (the bits toTF32 gives), once, instead of by every warp
            // at each load.
            Value r = row.back();
            if (!splitProducts) // as f32 bits, for the f32 buffer
              r = arith::BitcastOp::create(b, r.getType(), toTF32(e, r));
            e.vstore(r, sR, {next, i, l});
          }
        });
    return nu2New;
  };

  // ---- The state side of token t (ring slot s, M'_t and R_t in `buffer`).
  // A warp holds whole columns of S, so u = D(S)ᵀk and o = scale·S'ᵀq are
  // sums over its own registers and the 8 lanes of a column (xor shuffles
  // 4, 8, 16): the state side needs no shared memory of its own and no
  // barrier.
  // A ring vector at the thread's rows ([2m + half]; padding rows 0).
  auto rowValues = [&](Value vec, Value s) {
    SmallVector<Value> values;
    for (int64_t m = 0; m < MT; ++m)
      for (int64_t half = 0; half < 2; ++half)
        values.push_back(halfPadded(m, half) ? zero
                                             : ld(vec, {s, rowOf(m, half)}));
    return values;
  };
  auto rowDecays = [&](Value s) {
    if (decay == DecayKind::Diagonal)
      return rowValues(ringA, s);
    return SmallVector<Value>(2 * MT, ld(ringScal, {s, e.idx(0)}));
  };
  // Σ_i x_i·S_ij for the thread's columns ([2·slot + parity]).
  auto columnSums = [&](ArrayRef<Value> x, ArrayRef<Value> S) {
    SmallVector<Value> sums;
    for (int64_t slotN = 0; slotN < NTW; ++slotN)
      for (int64_t parity = 0; parity < 2; ++parity) {
        Value sum = zero;
        for (int64_t m = 0; m < MT; ++m)
          for (int64_t half = 0; half < 2; ++half)
            if (!halfPadded(m, half))
              sum = e.fma(x[2 * m + half],
                          e.element(S[slotN * MT + m], 2 * half + parity),
                          sum);
        sums.push_back(e.groupSum(sum, 8, /*stride=*/4));
      }
    return sums;
  };
  // Lane g = 0 of the warp owning column j (< V) runs body(j, sum index).
  auto forOwnColumns = [&](function_ref<void(Value, int64_t)> body) {
    for (int64_t slotN = 0; slotN < NTW; ++slotN)
      for (int64_t parity = 0; parity < 2; ++parity) {
        Value j = colOf(slotN, parity);
        Value mine = e.iand(e.iand(tileValid[slotN], e.ieq(gq, e.idx(0))),
                            e.ult(j, Vc));
        e.when(mine, [&] { body(j, 2 * slotN + parity); });
      }
  };
  // u = D(S)ᵀk (kRows: k at the thread's rows); with the error input,
  // w = β⊙(v − u) replaces v in the slot.
  auto stateU = [&](Value s, ArrayRef<Value> S, ArrayRef<Value> rowDecay,
                    ArrayRef<Value> kRows) -> SmallVector<Value> {
    SmallVector<Value> kd;
    for (auto [k, a] : llvm::zip(kRows, rowDecay))
      kd.push_back(e.mul(a, k));
    SmallVector<Value> u = columnSums(kd, S);
    if (errorInput)
      forOwnColumns([&](Value j, int64_t at) {
        Value bj = channelBeta ? ld(ringBeta, {s, j})
                               : ld(ringScal, {s, e.idx(1)});
        st(e.mul(bj, e.sub(ld(ringW, {s, j}), u[at])), ringW, {s, j});
      });
    return u;
  };
  // The operands of R M' as tf32 (hi, and lo with split products).
  auto operand = [&](Value x) -> std::pair<Value, Value> {
    if (splitProducts)
      return splitTF32(e, x);
    return {toTF32(e, x), Value()};
  };
  // acc + R M' on tensor cores, one k step of 8 rows of M' at a time:
  // a = R[16m + g (+8)][l + c (+4)], b = M'[l + c (+4)][8nt + g].
  // A fragment by one ldmatrix.x4 per row tile: for 32-bit data its 8×8
  // b16 matrices are 8×4 f32 blocks, lane (g, c) receiving element (g, c),
  // so the blocks at (rows +0, +8) × (columns +0, +4) are a0 … a3; lane L
  // gives the address of row L % 8 of block L / 8. (R's row pitch is a
  // multiple of 16 bytes and ≡ 4 floats mod 8: the eight rows of a block
  // fall on distinct banks.)
  Value ldRow =
      e.iadd(e.irem(lane, e.idx(8)),
             e.imul(e.irem(e.idiv(lane, e.idx(8)), e.idx(2)), e.idx(8)));
  Value ldCol = e.imul(e.idiv(lane, e.idx(16)), e.idx(4));
  auto productRM = [&](Value buffer, SmallVector<Value> acc) {
    Value zeroBits = arith::ConstantIntOp::create(b, 0, 32);
    auto kStep = [&](Value l0, MutableArrayRef<Value> acc) {
      Value lA = e.iadd(l0, cq), lB = e.iadd(lA, e.idx(4));
      SmallVector<SmallVector<Value, 2>> bHi, bLo;
      for (int64_t slotN = 0; slotN < NTW; ++slotN) {
        Value col = e.iadd(e.imul(tileN[slotN], e.idx(8)), gq);
        auto [h0, lo0] = operand(ld(sM, {buffer, lA, col}));
        auto [h1, lo1] = operand(ld(sM, {buffer, lB, col}));
        bHi.push_back({h0, h1});
        bLo.push_back({lo0, lo1});
      }
      for (int64_t m = 0; m < MT; ++m) {
        // A half-padded tile (Kp % 16 = 8) reads its last real row for the
        // padding half, whose registers are then zero.
        Value row = e.iadd(ldRow, e.idx(16 * m));
        if (halfPadded(m, 1))
          row = e.imin(row, e.idx(Kp - 1));
        Value blocks = nvgpu::LdMatrixOp::create(
            b, VectorType::get({4, 1}, f32), sR,
            ValueRange{buffer, row, e.iadd(l0, ldCol)}, /*transpose=*/false,
            /*numTiles=*/4);
        SmallVector<Value, 4> aHi, aLo;
        for (int64_t r = 0; r < 4; ++r) {
          if (halfPadded(m, r % 2)) {
            aHi.push_back(zeroBits);
            aLo.push_back(zeroBits);
            continue;
          }
          Value x =
              vector::ExtractOp::create(b, blocks, ArrayRef<int64_t>{r, 0});
          if (splitProducts) {
            auto [hi, lo] = operand(x);
            aHi.push_back(hi);
            aLo.push_back(lo);
          } else {
            aHi.push_back(arith::BitcastOp::create(b, b.getI32Type(), x));
          }
        }
        for (int64_t slotN = 0; slotN < NTW; ++slotN) {
          Value &x = acc[slotN * MT + m];
          if (splitProducts) { // small terms first
            x = mmaTF32(e, x, aLo, bHi[slotN]);
            x = mmaTF32(e, x, aHi, bLo[slotN]);
          }
          x = mmaTF32(e, x, aHi, bHi[slotN]);
        }
      }
    };
    // Small products are unrolled (their fragment loads issue early); the
    // large ones loop over k.
    if (Kp / 8 * MT * NTW <= kUnrolledMmas) {
      for (int64_t l0 = 0; l0 < Kp; l0 += 8)
        kStep(e.idx(l0), acc);
      return acc;
    }
    return e.loop(e.idx(0), e.idx(Kp), e.idx(8), acc,
                  [&](Value l0, ValueRange carried) -> SmallVector<Value> {
                    SmallVector<Value> next(carried.begin(), carried.end());
                    kStep(l0, next);
                    return next;
                  });
  };
  // S ← D(S) − ηβ k uᵀ + R M' and o_t = scale·Sᵀq, stored by the column
  // owners.
  auto stateUpdate = [&](Value s, Value buffer, Value t, ArrayRef<Value> S,
                         ArrayRef<Value> rowDecay, ArrayRef<Value> kRows,
                         ArrayRef<Value> u) -> SmallVector<Value> {
    Value etaBeta = e.mul(e.cst(eta), ld(ringScal, {s, e.idx(1)}));
    SmallVector<Value> coefK;
    for (Value k : kRows)
      coefK.push_back(e.mul(etaBeta, k));
    SmallVector<Value> acc;
    for (int64_t slotN = 0; slotN < NTW; ++slotN)
      for (int64_t m = 0; m < MT; ++m) {
        SmallVector<Value> regs;
        for (int64_t r = 0; r < 4; ++r) {
          int64_t half = r / 2, row = 2 * m + half;
          Value x = e.element(S[slotN * MT + m], r);
          if (!halfPadded(m, half)) {
            x = e.mul(x, rowDecay[row]);
            if (delta)
              x = e.sub(x, e.mul(coefK[row], u[2 * slotN + r % 2]));
          }
          regs.push_back(x);
        }
        acc.push_back(e.fromElements(regs));
      }
    acc = productRM(buffer, acc);
    SmallVector<Value> out = columnSums(rowValues(ringQ, s), acc);
    Value bt = e.iadd(e.imul(bIdx, T), t);
    forOwnColumns([&](Value j, int64_t at) {
      e.store(e.mul(e.cst(scale), out[at]), o,
              e.iadd(e.imul(e.iadd(e.imul(bt, HV), h), Vc), j));
    });
    return acc;
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
    SmallVector<MLoads> mLoads = prefetchM(s, prev);
    e.barrier();
    nu2 = momentumPhase3(s, prev, next, nu2, mLoads);
    e.barrier();
  }
  // Iteration t: token t's state side and token t + 1's momentum side
  // (lookahead: 3 barriers, the state side beside phase 3), or u_t (and
  // w_t), token t's momentum side, then its state update (5 barriers, 4
  // without the error input's w); the inputs of token t + ringSlots − 1 are
  // loaded at the top and stored into their slot at the end.
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

        if (c.lookahead) {
          momentumPhase1(s1, buffer);
          e.barrier();
          momentumPhase2(s1);
          SmallVector<MLoads> mLoads = prefetchM(s1, buffer);
          e.barrier();
          nu2 = momentumPhase3(s1, buffer, bufferOf(t1), nu2, mLoads);
          // Beside phase 3 rather than the lighter phase 2: 14.8 → 14.3 ms
          // at the README sizes on an H200 (19.1 → 19.0 at the code's).
          SmallVector<Value> rowDecay = rowDecays(s);
          SmallVector<Value> kRows = rowValues(ringK, s);
          SmallVector<Value> u = stateU(s, S, rowDecay, kRows);
          S = stateUpdate(s, buffer, t, S, rowDecay, kRows, u);
        } else {
          SmallVector<Value> rowDecay = rowDecays(s);
          SmallVector<Value> kRows = rowValues(ringK, s);
          SmallVector<Value> u = stateU(s, S, rowDecay, kRows);
          if (errorInput) // w, written by stateU, feeds phase 1
            e.barrier();
          momentumPhase1(s, buffer);
          e.barrier();
          momentumPhase2(s);
          SmallVector<MLoads> mLoads = prefetchM(s, buffer);
          e.barrier();
          nu2 = momentumPhase3(s, buffer, buffer, nu2, mLoads);
          e.barrier();
          S = stateUpdate(s, buffer, t, S, rowDecay, kRows, u);
        }
        storeToken(ahead, slotOf(tAhead));
        e.barrier();
        SmallVector<Value> yield(S);
        yield.push_back(nu2);
        return yield;
      });

  // ---- Final states (M' of token last − 1, from shared memory).
  Value finalBuffer = bufferOf(e.iadd(last, e.idx(1)));
  if (sT)
    for (int64_t slotN = 0; slotN < NTW; ++slotN)
      for (int64_t m = 0; m < MT; ++m)
        for (int64_t r = 0; r < 4; ++r) {
          if (halfPadded(m, r / 2))
            continue;
          Value i = rowOf(m, r / 2), j = colOf(slotN, r % 2);
          Value mine = e.iand(tileValid[slotN],
                              e.iand(e.ult(i, Kc), e.ult(j, Vc)));
          if (slotValid)
            mine = e.iand(mine, slotValid);
          e.when(mine, [&] {
            e.store(e.element(end[slotN * MT + m], r), sT, stateIndex(i, j));
          });
        }
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
  if (!splitProducts)
    launch.setProducts(b.getTF32Type());
  launch.launch({launch.dim(vTensor, 2), sequences});
  return success();
}
