//===- RecurrentScanToGPU.cpp - the register-resident recurrent kernel ----===//
//
// A scan computed token by token on the GPU (docs/gpu.md §2). One block per
// (sequence, value head, tile of value columns); every value column j is
// owned by TPC consecutive lanes, each holding R of its K key rows of the
// state (and momentum) as vector<R x f32> values carried through the token
// loop, i.e. in registers. Everything of a token is column-local:
//   u_j = Σ_i S[i][j] k_i and o_j = Σ_i S[i][j] q_i
// are lane sums plus xor shuffles within the TPC lanes; the token loop has
// no shared memory and no barrier. Each token reads k, q (broadcast to all
// columns), v_j, the gates, one token ahead, and writes o_j; selective
// scans (Mamba, LongHorn) instead stage 32-token chunks of those inputs in
// shared memory, a chunk ahead, with one barrier per chunk, and a static
// short sequence (decode) stages all its tokens at once, with the initial
// state. Initial and final states pass through a shared tile so that their
// global accesses are coalesced (that is most of a decode step).
//
// It covers every linear scan: decays none/scalar/diagonal/mamba/longhorn,
// the delta rule, the error input, momentum, a per-token gain, Mamba's skip
// and gate, GQA, varlen, initial and final states. NS is not part of it
// (simplify-newton-schulz makes NS of an update a gain; NS of the momentum
// has its own kernel).
//
//===----------------------------------------------------------------------===//

#include "passes/GPULowering.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MathExtras.h"

#include <functional>

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::gpu_codegen;

namespace {

/// How a block maps onto columns and rows.
struct Tiling {
  int64_t threads = 128;
  int64_t lanesPerColumn; // TPC: a power of two ≤ 32
  int64_t rowsPerLane;    // R
  int64_t columnsPerBlock;
  /// Rows of the shared state tile are `pitch` floats apart.
  int64_t pitch;
  /// Lane l of a column holds rows l, l + TPC, … (a short sequence, whose
  /// cost is the state's staging: with the pitch below, the TPC lanes of a
  /// column read the tile without bank conflicts); otherwise rows
  /// l·R … l·R + R − 1 (which the staged chunks load as one vector).
  bool interleavedRows = false;
  /// TC > 0: the token loop walks chunks of TC tokens whose inputs the
  /// block stages in shared memory (double-buffered, loaded a chunk ahead,
  /// or all at once: singleChunk); 0: each thread loads its inputs from
  /// global memory one token ahead.
  int64_t stagedTokens = 0;
  /// The sequence is one chunk (a static short sequence, TC = T): one
  /// buffer, staged with the initial state.
  bool singleChunk = false;
  int64_t tileBytes(int64_t keyDim) const { return keyDim * pitch * 4; }
};

Tiling chooseTiling(int64_t keyDim, bool shortSequence) {
  // About 8 rows per lane (4 for small K): enough work per lane, few
  // shuffle steps, and enough columns per block that a (sequence, head)
  // spreads over blocks; small K (Mamba's d_state 16) gets more lanes per
  // column so that more warps hide the per-token load latency. A short
  // sequence (decode) is the state's load and store: 32 rows per lane give
  // blocks of 32 columns (K = 128), 128 contiguous bytes per state row
  // instead of 32, which is what DRAM bursts want.
  Tiling t;
  int64_t rows = keyDim <= 32 ? 4 : shortSequence ? 32 : 8;
  int64_t lanes = 1;
  while (lanes < 32 && lanes * rows < keyDim)
    lanes *= 2;
  t.lanesPerColumn = lanes;
  t.rowsPerLane = (keyDim + lanes - 1) / lanes;
  t.columnsPerBlock = t.threads / lanes;
  // Interleaved rows: lane l of column c reads tile row r·TPC + l at
  // (r·TPC + l)·pitch + c. A warp holds 32/TPC columns, and with 128
  // threads C·TPC = 128 ≡ 0 (mod 32), so a pitch of C + 32/TPC puts lane l
  // of a column l·32/TPC banks from lane 0 for TPC ≤ 4, and at 20·l mod 32
  // (still distinct) for TPC = 8: one wavefront per read instead of TPC
  // (blocked rows l·R + r with R = 32 put all TPC lanes on one bank). The
  // pitch is a multiple of 4 (TPC ≤ 8), so the tile's rows move as
  // float4s. Decode at B = 64, K = V = 128 on an H200: 61.1 → 52.7 µs
  // (bench/results/gpu-h200-stop13.md).
  t.interleavedRows = shortSequence && lanes > 1;
  t.pitch = t.interleavedRows ? t.columnsPerBlock + 32 / lanes
                              : t.columnsPerBlock + 1;
  return t;
}

/// What one token's inputs are, and so what a staged chunk holds: arrays of
/// K values per token (k, q, diagonal g: shared by the block's columns),
/// arrays of one value per column (v, dt, per-channel β) and per-token
/// scalars (scalar g, β per head, the NS gain).
struct StagedArrays {
  SmallVector<StringRef> rows, columns, scalars;
  bool betaIsDt = false;

  StagedArrays(ScanOp op) {
    rows = {"k", "q"};
    columns = {"v"};
    switch (op.getDecay()) {
    case DecayKind::None:
      break;
    case DecayKind::Scalar:
      scalars.push_back("g");
      break;
    case DecayKind::Diagonal:
      rows.push_back("g");
      break;
    case DecayKind::Mamba:
    case DecayKind::Longhorn:
      columns.push_back("dt");
      break;
    }
    // Mamba's β is its Δ (the same operand as dt): staged once.
    betaIsDt = op.getBeta() && op.getBeta() == op.getDt();
    if (op.getBeta() && op.hasChannelBeta() && !betaIsDt)
      columns.push_back("beta");
    else if (op.getBeta() && !op.hasChannelBeta())
      scalars.push_back("beta");
    if (op.getGain())
      scalars.push_back("gain");
    if (op.getGate())
      columns.push_back("gate");
  }
  /// Floats of one chunk buffer.
  int64_t floats(int64_t tokens, int64_t K, int64_t columns_) const {
    return tokens * (K * static_cast<int64_t>(rows.size()) +
                     columns_ * static_cast<int64_t>(columns.size()) +
                     static_cast<int64_t>(scalars.size()));
  }
};

/// Selective scans (Mamba's and LongHorn's elementwise decay, small K, long
/// sequences) do little arithmetic per token and lane, so waiting for a
/// token's loads bounds them (0.56 µs a token at d_state 16): they stage 32
/// tokens at a time in shared memory, loaded one chunk ahead, when the two
/// buffers fit the static 48 KiB with room to spare.
/// A static short sequence (decode) is staged whole, its loads issued with
/// the initial state's, so that the block waits for global memory once
/// rather than for the state and then for the first token, and its lanes
/// read their R rows of k and q from shared memory as they need them rather
/// than holding 2·R of them in registers; when it fits the static 48 KiB
/// beside the state tile (≤ 20 KiB).
void chooseStaging(Tiling &t, ScanOp op, int64_t keyDim,
                   int64_t staticTokens, bool shortSequence) {
  if (shortSequence) {
    int64_t bytes =
        StagedArrays(op).floats(staticTokens, keyDim, t.columnsPerBlock) * 4;
    if (staticTokens > 0 && bytes + t.tileBytes(keyDim) <= 48 * 1024) {
      t.stagedTokens = staticTokens;
      t.singleChunk = true;
    }
    return;
  }
  bool elementwise = op.getDecay() == DecayKind::Mamba ||
                     op.getDecay() == DecayKind::Longhorn;
  if (!elementwise || keyDim > 64)
    return;
  const int64_t tokens = 32;
  int64_t bytes =
      2 * StagedArrays(op).floats(tokens, keyDim, t.columnsPerBlock) * 4;
  if (bytes <= 40 * 1024)
    t.stagedTokens = tokens;
}

class RecurrentKernel {
public:
  RecurrentKernel(ScanOp op, const Tiling &tiling, int64_t keyDim)
      : op(op), tiling(tiling), K(keyDim) {}

  /// Fills the kernel body. `args` are the kernel's block arguments in the
  /// order of `names`.
  void emit(gpu::GPUFuncOp func, ArrayRef<std::string> names) {
    ImplicitLocOpBuilder b(op.getLoc(), func.getContext());
    b.setInsertionPointToStart(&func.getBody().front());
    KernelBuilder e(b, b.getF32Type());
    auto arg = [&](StringRef n) { return kernelArg(func, names, n); };
    Value q = arg("q"), k = arg("k"), v = arg("v"), g = arg("g"),
          dt = arg("dt"), a = arg("a"), beta = arg("beta"),
          gain = arg("gain"), skip = arg("skip"), gate = arg("gate"),
          cu = arg("cu_seqlens"),
          s0 = arg("initial_state"), m0 = arg("initial_momentum"),
          o = arg("o"), sT = arg("final_state"), mT = arg("final_momentum");
    Value T = e.toIndex(arg("T")), H = e.toIndex(arg("H")),
          HV = e.toIndex(arg("HV")), V = e.toIndex(arg("V"));
    Value stateSlots = arg("state_indices");
    Value Kc = e.idx(K);
    const int64_t R = tiling.rowsPerLane, TPC = tiling.lanesPerColumn;
    bool momentum = op.hasMomentum();

    // Who am I: column j of value head h of sequence n; rows lane·R …
    // lane·R + R − 1, or lane, lane + TPC, … (Tiling::interleavedRows).
    Value tid = e.threadId();
    Value lane = e.irem(tid, e.idx(TPC));
    Value column =
        e.iadd(e.imul(e.blockId(gpu::Dimension::x), e.idx(tiling.columnsPerBlock)),
               e.idiv(tid, e.idx(TPC)));
    Value h = e.blockId(gpu::Dimension::y);
    Value n = e.blockId(gpu::Dimension::z);
    Value columnValid = e.ult(column, V);
    Value j = e.imin(column, e.isub(V, e.idx(1))); // clamped for loads
    Value kh = e.idiv(h, e.idiv(HV, H));
    Value firstRow = e.imul(lane, e.idx(R));
    SmallVector<Value> rows, rowValid;
    bool allRowsValid = K % (R * TPC) == 0;
    for (int64_t r = 0; r < R; ++r) {
      Value i = tiling.interleavedRows ? e.iadd(lane, e.idx(r * TPC))
                                       : e.iadd(firstRow, e.idx(r));
      rowValid.push_back(allRowsValid ? Value() : e.ult(i, Kc));
      rows.push_back(allRowsValid ? i : e.imin(i, e.idx(K - 1)));
    }
    // A vector of R values, each row's loaded at index(row) (0 where the row
    // is padding).
    auto rowVector = [&](Value buffer, function_ref<Value(Value)> index) {
      SmallVector<Value> values;
      for (int64_t r = 0; r < R; ++r) {
        Value x = e.load(buffer, index(rows[r]));
        if (rowValid[r])
          x = e.select(rowValid[r], x, e.cst(0.0));
        values.push_back(x);
      }
      return e.fromElements(values);
    };

    // The sequence's tokens [first, last) of batch row bIdx, and its state
    // slot (of the pools, with state_indices).
    KernelBuilder::Sequence sequence = e.sequence(cu, n, T);
    Value bIdx = sequence.row, first = sequence.first, last = sequence.last;
    KernelBuilder::StateSlot stateSlot =
        e.stateSlot(stateSlots, n, stateSlots ? e.toIndex(arg("P")) : Value());
    Value slot = stateSlot.slot, slotValid = stateSlot.valid;
    // State (and momentum) rows of this lane: [slot, h, i, j].
    auto stateIndex = [&](Value i, Value col) {
      return e.iadd(
          e.imul(e.iadd(e.imul(e.iadd(e.imul(slot, HV), h), Kc), i), V), col);
    };
    // States move through a shared tile (K rows × the block's columns,
    // rows `pitch` floats apart) so that global reads and writes are
    // coalesced along the value columns; this is most of a decode step.
    const int64_t C = tiling.columnsPerBlock, pitch = tiling.pitch;
    Value tile = func.getWorkgroupAttributions().front();
    Value colBase = e.imul(e.blockId(gpu::Dimension::x), e.idx(C));
    Value localColumn = e.idiv(tid, e.idx(TPC));
    // Every global access of the staging is issued before any is waited
    // for (the loops are unrolled: K·C/threads accesses per thread), 16
    // bytes at a time where V allows it.
    int64_t staticV = op.getV().getType().getDimSize(3);
    const int64_t width =
        !ShapedType::isDynamic(staticV) && staticV % 4 == 0 && C % 4 == 0 ? 4
                                                                          : 1;
    const int64_t perRow = C / width, total = K * perRow;
    // The tile's side moves as vectors too where its rows keep them aligned.
    const bool vectorTile = width > 1 && pitch % width == 0;
    struct Piece { // one staged element (or 4) of the K × C tile
      Value row, col, global, valid;
      Value inRange; // null when every thread's slot exists
    };
    auto pieces = [&] {
      SmallVector<Piece> out;
      for (int64_t x0 = 0; x0 < total; x0 += tiling.threads) {
        Value x = e.iadd(tid, e.idx(x0));
        Value inRange = x0 + tiling.threads <= total ? Value()
                                                     : e.ult(x, e.idx(total));
        Value xs = inRange ? e.imin(x, e.idx(total - 1)) : x;
        Value row = e.idiv(xs, e.idx(perRow));
        Value col = e.imul(e.irem(xs, e.idx(perRow)), e.idx(width));
        Value global = e.iadd(colBase, col);
        Value valid = e.ult(global, V);
        if (inRange)
          valid = e.iand(valid, inRange);
        out.push_back({row, col, global, valid, inRange});
      }
      return out;
    };
    auto tileIndex = [&](Value row, Value col, int64_t d) -> Value {
      return e.iadd(e.iadd(e.imul(row, e.idx(pitch)), col), e.idx(d));
    };
    // The staging of an initial state is split so that a block's global
    // loads (both states, a short sequence's tokens) are all issued before
    // it waits for any: loadTile issues them, storeTile puts them in the
    // tile, readTile (after a barrier) takes the thread's rows.
    auto loadTile = [&](Value buffer) {
      SmallVector<Value> loaded;
      for (const Piece &sl : pieces()) {
        Value cj = e.imin(sl.global, e.isub(V, e.idx(width)));
        Value index = stateIndex(sl.row, cj);
        Value value;
        if (width == 1)
          value = e.select(sl.valid, e.load(buffer, index), e.cst(0.0));
        else
          value = e.select(sl.valid,
                           e.convert(e.vload(buffer, {index}, width),
                                     VectorType::get({width}, e.acc)),
                           e.vcst(0.0, width));
        loaded.push_back(value);
      }
      return loaded;
    };
    auto storeTile = [&](ArrayRef<Value> loaded) {
      // Threads past the last slot were clamped onto it: they must not
      // store (columns past V do store their zeros).
      for (auto [sl, value] : llvm::zip(pieces(), loaded)) {
        auto store = [&, value = value, sl = &sl] {
          if (vectorTile) {
            e.vstore(value, tile, {tileIndex(sl->row, sl->col, 0)});
            return;
          }
          for (int64_t d = 0; d < width; ++d)
            memref::StoreOp::create(b,
                                    width == 1 ? value : e.element(value, d),
                                    tile, {tileIndex(sl->row, sl->col, d)});
        };
        if (sl.inRange)
          e.when(sl.inRange, store);
        else
          store();
      }
    };
    auto readTile = [&] {
      SmallVector<Value> values;
      for (int64_t r = 0; r < R; ++r)
        values.push_back(memref::LoadOp::create(
            b, tile,
            ValueRange{e.iadd(e.imul(rows[r], e.idx(pitch)), localColumn)}));
      return e.fromElements(values);
    };
    auto stageOut = [&](Value vec, Value buffer) {
      for (int64_t r = 0; r < R; ++r) {
        auto store = [&] {
          memref::StoreOp::create(
              b, e.element(vec, r), tile,
              ValueRange{e.iadd(e.imul(rows[r], e.idx(pitch)), localColumn)});
        };
        if (rowValid[r])
          e.when(rowValid[r], store);
        else
          store();
      }
      gpu::BarrierOp::create(b);
      Type element = cast<MemRefType>(buffer.getType()).getElementType();
      for (const Piece &sl : pieces()) {
        SmallVector<Value> values;
        if (vectorTile) {
          Value vec = e.vload(tile, {tileIndex(sl.row, sl.col, 0)}, width);
          for (int64_t d = 0; d < width; ++d)
            values.push_back(e.element(vec, d));
        } else {
          for (int64_t d = 0; d < width; ++d)
            values.push_back(memref::LoadOp::create(
                b, tile, ValueRange{tileIndex(sl.row, sl.col, d)}));
        }
        Value write = slotValid ? e.iand(sl.valid, slotValid) : sl.valid;
        e.when(write, [&] {
          Value index = stateIndex(sl.row, sl.global);
          if (width == 1)
            e.store(values[0], buffer, index);
          else
            e.vstore(e.convert(e.fromElements(values),
                               VectorType::get({width}, element)),
                     buffer, {index});
        });
      }
      gpu::BarrierOp::create(b);
    };
    double tau = op.getTau().convertToDouble();
    double scale = op.getScale().convertToDouble();
    double gamma = momentum ? op.getMomentum()->convertToDouble() : 0.0;
    bool readOut = op.hasDeltaRule() || op.getInput() == InputKind::Error;

    // D_j of the skip connection, per column.
    Value skipJ = skip ? e.load(skip, e.iadd(e.imul(h, V), j)) : Value();

    // Mamba's A rows do not change with the token (scaled by log₂e: the
    // decay is a power of 2).
    Value Arows;
    if (op.getDecay() == DecayKind::Mamba)
      Arows = e.mul(rowVector(a,
                              [&](Value i) {
                                return e.iadd(
                                    e.imul(e.iadd(e.imul(h, Kc), i), V), j);
                              }),
                    e.vcst(llvm::numbers::log2e, R));

    // silu(z) = z / (1 + e^{−z}) (the denominator is ≥ 1).
    auto silu = [&](Value z) {
      return e.divFast(z, e.add(e.cst(1.0), e.exp(e.sub(e.cst(0.0), z))));
    };

    // A token's inputs, in this order: k and q (R rows each), v_j, the
    // decay input (0, g, g's R rows, or dt_j), β (per head or channel; 1
    // without), the gain (1 without), z_j (with a gate).
    Value lastRow = e.isub(e.imax(T, e.idx(1)), e.idx(1));
    Value lastToken = e.isub(e.imax(last, e.iadd(first, e.idx(1))), e.idx(1));
    auto loadToken = [&](Value t) -> SmallVector<Value> {
      t = e.imin(t, lastRow); // an empty sequence at the very end reads T − 1
      Value bt = e.iadd(e.imul(bIdx, T), t);
      Value qkBase = e.imul(e.iadd(e.imul(bt, H), kh), Kc);
      Value headIndex = e.iadd(e.imul(bt, HV), h); // [b, t, h]
      Value vIndex = e.iadd(e.imul(headIndex, V), j);
      SmallVector<Value> in;
      in.push_back(rowVector(k, [&](Value i) { return e.iadd(qkBase, i); }));
      in.push_back(rowVector(q, [&](Value i) { return e.iadd(qkBase, i); }));
      in.push_back(e.load(v, vIndex));
      Value zero = e.cst(0.0);
      switch (op.getDecay()) {
      case DecayKind::None:
        in.push_back(zero);
        break;
      case DecayKind::Scalar:
        in.push_back(e.load(g, headIndex));
        break;
      case DecayKind::Diagonal:
        in.push_back(rowVector(
            g, [&](Value i) { return e.iadd(e.imul(headIndex, Kc), i); }));
        break;
      case DecayKind::Mamba:
      case DecayKind::Longhorn:
        in.push_back(e.load(dt, vIndex));
        break;
      }
      if (beta && op.hasChannelBeta())
        in.push_back(e.load(beta, vIndex));
      else if (beta)
        in.push_back(e.load(beta, headIndex));
      else
        in.push_back(e.cst(1.0));
      in.push_back(gain ? e.load(gain, headIndex) : e.cst(1.0));
      if (gate)
        in.push_back(e.load(gate, vIndex));
      return in;
    };

    // One token: decay, update, output; returns the new S (and M).
    auto step = [&](Value t, Value S, Value M,
                    ArrayRef<Value> in) -> SmallVector<Value> {
      Value kv = in[0], qv = in[1], vj = in[2], decayIn = in[3],
            betaIn = in[4], gainIn = in[5];
      Value bt = e.iadd(e.imul(bIdx, T), t);
      Value headIndex = e.iadd(e.imul(bt, HV), h);
      Value vIndex = e.iadd(e.imul(headIndex, V), j);

      // Decay: S ⊙ F, applied where S is next needed, so that without a
      // read-out it fuses with the update into one FMA per row.
      Value betaCol; // LongHorn's dtn or the per-channel β
      Value factor;
      switch (op.getDecay()) {
      case DecayKind::None:
        break;
      case DecayKind::Scalar:
        factor = e.splat(e.exp(decayIn), R);
        break;
      case DecayKind::Diagonal:
        factor = e.exp(decayIn);
        break;
      case DecayKind::Mamba: // exp(Δ·A) = 2^(Δ·A·log₂e), A pre-scaled
        factor = e.exp2Fast(e.mul(e.splat(decayIn, R), Arows));
        break;
      case DecayKind::Longhorn: {
        Value kk = e.groupSum(e.dot(kv, kv), TPC);
        // dtn = Δ/(1 + Δ‖k‖²): the denominator is ≥ 1 (Δ ≥ 0).
        betaCol = e.divFast(decayIn, e.fma(decayIn, kk, e.cst(1.0)));
        factor = e.sub(e.vcst(1.0, R),
                       e.mul(e.splat(betaCol, R), e.mul(kv, kv)));
        break;
      }
      }
      // S ⊙ F + x (or S + x without a decay).
      auto decayAdd = [&](Value x) {
        return factor ? e.fma(S, factor, x) : e.add(S, x);
      };
      if (factor && readOut) {
        S = e.mul(S, factor);
        factor = Value();
      }

      // β: per head, per value channel, LongHorn's dtn, or 1.
      Value betaHead = e.cst(1.0);
      if (beta && op.hasChannelBeta())
        betaCol = betaIn;
      else if (beta)
        betaHead = betaIn;
      Value betaJ = betaCol ? betaCol : betaHead;

      Value u;
      if (readOut)
        u = e.groupSum(e.dot(kv, S), TPC);
      Value w = op.getInput() == InputKind::Error
                    ? e.mul(betaJ, e.sub(vj, u))
                    : e.mul(betaJ, vj);
      if (op.hasDeltaRule()) {
        Value coef = e.mul(e.cst(-op.getDeltaRule()->convertToDouble()),
                           e.mul(betaHead, u));
        S = e.fma(e.splat(coef, R), kv, S);
      }
      Value coef = e.mul(e.cst(tau), gainIn);
      Value x = e.mul(e.splat(e.mul(coef, w), R), kv);
      if (momentum) {
        M = e.fma(e.vcst(gamma, R), M, x);
        S = decayAdd(M);
      } else {
        S = decayAdd(x);
      }

      Value out = e.mul(e.cst(scale), e.groupSum(e.dot(qv, S), TPC));
      // Mamba's epilogue: (y + D_j v_j) · silu(z_j).
      if (skipJ)
        out = e.fma(skipJ, vj, out);
      if (gate)
        out = e.mul(out, tiling.stagedTokens ? in[6] : silu(in[6]));
      e.when(e.iand(columnValid, e.ieq(lane, e.idx(0))),
             [&] { e.store(out, o, vIndex); });
      SmallVector<Value> next{S};
      if (momentum)
        next.push_back(M);
      return next;
    };

    // Chunks of TC tokens staged in shared memory (Tiling::stagedTokens):
    // per array a [token][element] tile, two buffers; the next chunk's global
    // loads are issued before the current chunk's arithmetic and stored into
    // the other buffer after it, so one barrier per chunk suffices. A short
    // sequence is one chunk in one buffer, staged with the initial state.
    const int64_t TC = tiling.stagedTokens;
    StagedArrays arrays(op);
    Value stage = TC ? Value(func.getWorkgroupAttributions()[1]) : Value();
    Value lastValid = TC ? e.imin(lastToken, lastRow) : Value();
    enum class Kind { Rows, Column, Scalar };
    struct Array {
      StringRef name;
      Kind kind;
      int64_t width, offset;
      std::function<Value(Value, Value)> index; // (token, element)
    };
    SmallVector<Array> staged;
    int64_t offset = 0;
    auto bt = [&](Value t) {
      return e.iadd(e.imul(bIdx, T), e.imin(t, lastValid));
    };
    for (StringRef name : arrays.rows) {
      // k and q per key head, a diagonal g per value head.
      bool perValueHead = name == "g";
      staged.push_back({name, Kind::Rows, K, offset, [&, perValueHead](Value t, Value w) {
                          Value head = perValueHead
                                           ? e.iadd(e.imul(bt(t), HV), h)
                                           : e.iadd(e.imul(bt(t), H), kh);
                          return e.iadd(e.imul(head, Kc), w);
                        }});
      offset += TC * K;
    }
    for (StringRef name : arrays.columns) {
      staged.push_back({name, Kind::Column, C, offset, [&](Value t, Value w) {
                          Value col = e.imin(e.iadd(colBase, w),
                                             e.isub(V, e.idx(1)));
                          return e.iadd(
                              e.imul(e.iadd(e.imul(bt(t), HV), h), V), col);
                        }});
      offset += TC * C;
    }
    for (StringRef name : arrays.scalars) {
      staged.push_back({name, Kind::Scalar, 1, offset, [&](Value t, Value) {
                          return e.iadd(e.imul(bt(t), HV), h);
                        }});
      offset += TC;
    }
    const int64_t bufferFloats = offset, threads = tiling.threads;

    auto loadChunk = [&](Value t0) {
      SmallVector<Value> values;
      for (const Array &a : staged) {
        int64_t count = TC * a.width;
        for (int64_t x0 = 0; x0 < count; x0 += threads) {
          Value x = e.iadd(tid, e.idx(x0));
          if (x0 + threads > count) // threads past the tile repeat its end
            x = e.imin(x, e.idx(count - 1));
          Value t = e.iadd(t0, e.idiv(x, e.idx(a.width)));
          values.push_back(
              e.load(arg(a.name), a.index(t, e.irem(x, e.idx(a.width)))));
        }
      }
      return values;
    };
    auto storeChunk = [&](ArrayRef<Value> values, Value base) {
      size_t p = 0;
      for (const Array &a : staged) {
        int64_t count = TC * a.width;
        for (int64_t x0 = 0; x0 < count; x0 += threads) {
          Value x = e.iadd(tid, e.idx(x0));
          Value at = e.iadd(base, e.iadd(e.idx(a.offset), x));
          // The gate is staged as silu(z): once per element and block
          // rather than once per token and lane (two MUFU operations).
          Value value = a.name == "gate" ? silu(values[p++]) : values[p++];
          auto store = [&] {
            memref::StoreOp::create(b, value, stage, ValueRange{at});
          };
          if (x0 + threads > count)
            e.when(e.ult(x, e.idx(count)), store);
          else
            store();
        }
      }
    };
    // Token i of the chunk in the buffer at `base`, as loadToken gives it
    // (but silu(z) for z); a lane's blocked rows as one vector load,
    // interleaved rows (a short sequence's) as R loads.
    bool vectorRows = allRowsValid && !tiling.interleavedRows &&
                      (R == 2 || R == 4 || R == 8);
    auto readToken = [&](Value base, Value i) {
      llvm::StringMap<Value> got;
      for (const Array &a : staged) {
        Value at = e.iadd(base, e.iadd(e.idx(a.offset),
                                       e.imul(i, e.idx(a.width))));
        if (a.kind == Kind::Rows)
          got[a.name] =
              vectorRows
                  ? e.vload(stage, {e.iadd(at, firstRow)}, R)
                  : rowVector(stage, [&](Value r) { return e.iadd(at, r); });
        else if (a.kind == Kind::Scalar)
          got[a.name] = e.loadRaw(stage, at);
        else
          got[a.name] = e.loadRaw(stage, e.iadd(at, localColumn));
      }
      SmallVector<Value> in{got["k"], got["q"], got["v"]};
      in.push_back(got.count("g")    ? got["g"]
                   : got.count("dt") ? got["dt"]
                                     : e.cst(0.0));
      in.push_back(got.count("beta")   ? got["beta"]
                   : arrays.betaIsDt ? got["dt"]
                                     : e.cst(1.0));
      in.push_back(got.count("gain") ? got["gain"] : e.cst(1.0));
      if (gate)
        in.push_back(got["gate"]);
      return in;
    };

    // Initial states (and a short sequence's tokens): every global load
    // issued before the first shared store, so that their latencies overlap
    // (a decode step is these loads, one round trip instead of two).
    SmallVector<Value> sIn = s0 ? loadTile(s0) : SmallVector<Value>();
    SmallVector<Value> mIn =
        momentum && m0 ? loadTile(m0) : SmallVector<Value>();
    SmallVector<Value> chunkIn = TC ? loadChunk(first) : SmallVector<Value>();
    if (s0)
      storeTile(sIn);
    if (TC)
      storeChunk(chunkIn, e.idx(0));
    if (s0 || TC)
      e.barrier();
    Value S = s0 ? readTile() : e.vcst(0.0, R);
    Value M = momentum ? e.vcst(0.0, R) : Value();
    if (!mIn.empty()) { // the same tile, once every thread has read S
      if (s0)
        e.barrier();
      storeTile(mIn);
      e.barrier();
      M = readTile();
    }
    if (s0 || !mIn.empty()) // before stageOut writes the tile
      e.barrier();

    SmallVector<Value> inits{S};
    if (momentum)
      inits.push_back(M);
    SmallVector<Value> end;
    if (TC == 0) {
      // Everything a token reads, loaded one token ahead (the loads of t + 1
      // are issued before the arithmetic of t, so their latency overlaps it).
      SmallVector<Value> firstInputs = loadToken(e.imin(first, lastToken));
      size_t inputsAt = inits.size();
      inits.append(firstInputs);
      end = e.loop(first, last, e.idx(1), inits,
                   [&](Value t, ValueRange carried) -> SmallVector<Value> {
                     SmallVector<Value> next =
                         loadToken(e.imin(e.iadd(t, e.idx(1)), lastToken));
                     SmallVector<Value> in(carried.drop_front(inputsAt));
                     SmallVector<Value> yield = step(
                         t, carried[0], momentum ? carried[1] : Value(), in);
                     yield.append(next);
                     return yield;
                   });
    } else {
      auto run = [&](Value t0, Value cur, Value i, ValueRange st) {
        return step(e.iadd(t0, i), st[0], momentum ? st[1] : Value(),
                    readToken(cur, i));
      };
      if (tiling.singleChunk) {
        // The whole (static, short) sequence, staged above, unrolled.
        SmallVector<Value> st(inits);
        for (int64_t i = 0; i < TC; ++i)
          st = run(first, e.idx(0), e.idx(i), st);
        end = st;
      } else {
        Value chunks = e.idiv(e.iadd(e.isub(last, first), e.idx(TC - 1)),
                              e.idx(TC));
        end = e.loop(
            e.idx(0), chunks, e.idx(1), inits,
            [&](Value c, ValueRange carried) -> SmallVector<Value> {
              Value t0 = e.iadd(first, e.imul(c, e.idx(TC)));
              SmallVector<Value> next = loadChunk(e.iadd(t0, e.idx(TC)));
              Value cur = e.imul(e.irem(c, e.idx(2)), e.idx(bufferFloats));
              Value count = e.imin(e.isub(last, t0), e.idx(TC));
              // Full chunks unrolled (their shared loads can be issued
              // early); the last one token by token.
              SmallVector<Value> state = e.ifElse(
                  e.ieq(count, e.idx(TC)),
                  [&] {
                    SmallVector<Value> st(carried);
                    for (int64_t i = 0; i < TC; ++i)
                      st = run(t0, cur, e.idx(i), st);
                    return st;
                  },
                  [&] {
                    return e.loop(e.idx(0), count, e.idx(1), carried,
                                  [&](Value i, ValueRange st) {
                                    return run(t0, cur, i, st);
                                  });
                  });
              storeChunk(next, e.isub(e.idx(bufferFloats), cur));
              e.barrier();
              return state;
            });
      }
    }

    // Final states.
    if (sT)
      stageOut(end[0], sT);
    if (mT)
      stageOut(end[1], mT);
    gpu::ReturnOp::create(b);
  }

private:
  ScanOp op;
  Tiling tiling;
  int64_t K;
};

} // namespace

LogicalResult gpu_codegen::lowerRecurrentScan(ScanOp op,
                                              gpu::GPUModuleOp kernels,
                                              StringRef name) {
  auto qType = op.getQ().getType();
  if (qType.isDynamicDim(3))
    return op.emitError() << "the GPU lowering needs a static key dimension K";
  int64_t K = qType.getDimSize(3);
  // K sets the registers each lane holds (K / lanes rows of S and M); V is
  // only the number of value columns, tiled over blocks (Mamba's d_inner).
  if (K > 256)
    return op.emitError()
           << "the GPU kernels support key dimensions K up to 256, got "
           << qType;
  Tiling tiling = chooseTiling(K, isShortSequence(op));
  chooseStaging(tiling, op, K, op.getV().getType().getDimSize(1),
                isShortSequence(op));

  // Arguments: present operands and results as flat buffers, then sizes.
  LaunchBuilder launch(op, kernels, name);
  launch.addScanOperands(op);
  Value v = op.getV();
  launch.addSize("V", v, 3);
  gpu::GPUFuncOp func = launch.createKernel(tiling.threads, /*sharedBytes=*/0);
  // The state tile: K rows of the block's columns plus padding, 16-byte
  // aligned (its rows move as float4s: ld/st.shared.v4).
  auto f32 = Float32Type::get(op.getContext());
  auto workgroup = gpu::AddressSpaceAttr::get(op.getContext(),
                                              gpu::AddressSpace::Workgroup);
  func.addWorkgroupAttribution(
      MemRefType::get({K * tiling.pitch}, f32, AffineMap(), workgroup),
      op.getLoc());
  func.setWorkgroupAttributionAttr(
      0, StringAttr::get(op.getContext(), LLVM::LLVMDialect::getAlignAttrName()),
      IntegerAttr::get(IntegerType::get(op.getContext(), 64), 16));
  if (tiling.stagedTokens) {
    func.addWorkgroupAttribution(
        MemRefType::get({(tiling.singleChunk ? 1 : 2) *
                         StagedArrays(op).floats(tiling.stagedTokens, K,
                                                 tiling.columnsPerBlock)},
                        f32, AffineMap(), workgroup),
        op.getLoc());
    // Aligned for the vector loads of a lane's rows (readToken).
    func.setWorkgroupAttributionAttr(
        1, StringAttr::get(op.getContext(), LLVM::LLVMDialect::getAlignAttrName()),
        IntegerAttr::get(IntegerType::get(op.getContext(), 64), 16));
  }
  RecurrentKernel(op, tiling, K).emit(func, launch.argNames());

  // Grid: (value tiles, value heads, sequences).
  Value columns = launch.dim(v, 3);
  Value tiles = launch.ceilDiv(columns, tiling.columnsPerBlock);
  Value sequences = op.getCuSeqlens()
                        ? launch.sub(launch.dim(op.getCuSeqlens(), 0), 1)
                        : launch.dim(v, 0);
  launch.launch({tiles, launch.dim(v, 2), sequences});
  return success();
}
