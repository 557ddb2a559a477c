//===- ChunkedScanToGPU.cpp - the tensor-core chunked scan kernel ---------===//
//
// A chunked scan (docs/chunking.md §2) with decay none or scalar, with or
// without the delta rule, as one kernel with the state on chip
// (docs/gpu.md §3). One block of four warps per (sequence, value head,
// tile of BV value columns) walks the sequence in chunks of 64 tokens; the
// f32 state S (K×BV) stays in registers, in the accumulator layout of the
// product that updates it, with a bf16/f16 copy in shared memory as the
// operand of the next chunk's products. Per chunk, with Λ_t = exp(G_t) the
// cumulated decay, b_t = η·β_t and w_t = τ·gain_t·β_t:
//
//   A  = K Kᵀ,  Pq = Q Kᵀ                          (tensor cores)
//   L  = strict_lower(b_t·A_ts·Λ_t/Λ_s)             (f32, shared)
//   P  = lower(scale·Pq_ts·Λ_t/Λ_s)                  (registers → A operand)
//   O  = scale·Λ ⊙ (Q S),  R = K S                   (tensor cores)
//   W' = w ⊙ V − (b Λ) ⊙ R                           (shared)
//   T  = (I + L)⁻¹                                   (f32 block inversion)
//   U  = T W'                                        (tensor cores)
//   O += P U;  S = Λ_n S + Kᵀ((Λ_n/Λ) ⊙ U)           (tensor cores)
//
// U is the delta rule's effective update (u_t = w_t v_t − b_t r_t): the
// UT representation of flash-linear-attention's chunk kernels, fused so
// that nothing but the inputs and o crosses HBM. Without the delta rule
// T = I and U = w ⊙ V.
//
// Every product is mma.sync m16n8k16 (GPUMma.h); warp w owns rows
// 16w..16w+15 of every 64-row product and the state m-tiles w, w+4, ….
//
//===----------------------------------------------------------------------===//

#include "passes/GPULowering.h"
#include "passes/GPUMma.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::gpu_codegen;

namespace {

constexpr int64_t kChunk = 64; // tokens per chunk: 4 warps × 16 rows
constexpr int64_t kWarps = 4;
constexpr int64_t kThreads = 32 * kWarps;

/// Static shape of one kernel.
struct ChunkedConfig {
  int64_t K, Kp;  // key dim, padded to a multiple of 16
  int64_t V, BV;  // value dim, columns per block (multiple of 16)
  int64_t stateSlots; // state m-tiles per warp
  FloatType element;  // bf16 or f16 (q, k, v, o)

  // Shared memory: offsets in bytes.
  int64_t pitchK, pitchV; // row pitches in elements (+8: no ldmatrix conflicts)
  int64_t offK, offQ, offS, offV, offW, offT, offL, offG, offB, offWf,
      offZero, bytes;
};

/// The value tile: at most 64 columns (the registers of S, O and U grow with
/// it), a multiple of 16, and as even a split of V as possible; K = 256
/// halves it again so that S stays at 64 registers per lane.
ChunkedConfig chooseConfig(int64_t K, int64_t V, FloatType element) {
  ChunkedConfig c;
  c.K = K;
  c.Kp = (K + 15) / 16 * 16;
  int64_t cap = c.Kp > 128 ? 32 : 64;
  int64_t tiles = (V + cap - 1) / cap;
  c.BV = ((V + tiles - 1) / tiles + 15) / 16 * 16;
  c.V = V;
  c.stateSlots = (c.Kp / 16 + kWarps - 1) / kWarps;
  c.element = element;
  c.pitchK = c.Kp + 8;
  c.pitchV = c.BV + 8;
  int64_t off = 0;
  auto take = [&](int64_t bytes) {
    int64_t at = off;
    off += (bytes + 15) / 16 * 16;
    return at;
  };
  c.offK = take(kChunk * c.pitchK * 2);
  c.offQ = take(kChunk * c.pitchK * 2);
  c.offS = take(c.Kp * c.pitchV * 2);
  c.offV = take(kChunk * c.pitchV * 2);
  c.offW = take(kChunk * c.pitchV * 2);
  c.offT = take(kChunk * (kChunk + 8) * 2);
  c.offL = take(kChunk * (kChunk + 4) * 4);
  c.offG = take(kChunk * 4);
  c.offB = take(kChunk * 4);
  c.offWf = take(kChunk * 4);
  c.offZero = take(4);
  c.bytes = off;
  return c;
}

class ChunkedKernel {
public:
  ChunkedKernel(ScanOp op, const ChunkedConfig &c) : op(op), c(c) {}

  void emit(gpu::GPUFuncOp func, ArrayRef<std::string> names);

private:
  ScanOp op;
  ChunkedConfig c;
};

} // namespace

/// (I + L)⁻¹ of the strictly lower triangular 64×64 L held in `sL` (f32,
/// pitch 68), in place, and its rounded copy in `sT` (docs/gpu.md §3.2).
/// Diagonal 16×16 blocks by forward substitution, one column per lane; the
/// 32×32 blocks [[A, 0], [B, C]]⁻¹ = [[A⁻¹, 0], [−C⁻¹BA⁻¹, C⁻¹]] by 16×16
/// products in f32, one block per warp. Every warp must call it.
static void solveUnitLower(KernelBuilder &e, WarpMma &mma, Value sL, Value sT,
                           Value warp, Value lane) {
  ImplicitLocOpBuilder &b = e.b;
  Value zero = e.cst(0.0);
  auto syncWarp = [&] {
    NVVM::SyncWarpOp::create(b, arith::ConstantIntOp::create(b, -1, 32));
  };
  auto storeBoth = [&](Value x, Value row, Value col, bool rounded) {
    memref::StoreOp::create(b, x, sL, ValueRange{row, col});
    if (rounded)
      memref::StoreOp::create(b, arith::TruncFOp::create(b, mma.element, x),
                              sT, ValueRange{row, col});
  };

  // Diagonal blocks: lane j (mod 16) solves column j of block `warp`.
  {
    Value base = e.imul(warp, e.idx(16));
    Value j = e.irem(lane, e.idx(16));
    SmallVector<Value> x;
    for (int64_t r = 0; r < 16; ++r) {
      Value sum = e.select(e.ieq(j, e.idx(r)), e.cst(1.0), zero);
      SmallVector<Value> row;
      for (int64_t q = 0; q * 4 < r; ++q) {
        Value four = e.vload(sL, {e.iadd(base, e.idx(r)),
                                  e.iadd(base, e.idx(4 * q))}, 4);
        for (int64_t i = 0; i < 4; ++i)
          row.push_back(e.element(four, i));
      }
      for (int64_t cc = 0; cc < r; ++cc)
        sum = e.sub(sum, e.mul(row[cc], x[cc]));
      x.push_back(sum);
    }
    syncWarp();
    e.when(e.ult(lane, e.idx(16)), [&] {
      for (int64_t r = 0; r < 16; ++r)
        storeBoth(x[r], e.iadd(base, e.idx(r)), e.iadd(base, j), true);
    });
  }
  e.barrier();

  // 16×16 block products: lane l owns row l/2, columns 8·(l%2) .. +8.
  Value row = e.idiv(lane, e.idx(2));
  Value col = e.imul(e.irem(lane, e.idx(2)), e.idx(8));
  struct Product {
    int64_t ar, ac, br, bc; // block coordinates of A and B
  };
  struct Job {
    int64_t warp;
    SmallVector<Product, 2> products;
    bool negate;
    int64_t dr, dc; // destination block
    bool final;     // T's value: also rounded into sT
  };
  auto compute = [&](const Job &job) -> SmallVector<Value> {
    SmallVector<Value> acc(8, zero);
    for (const Product &p : job.products)
      for (int64_t kq = 0; kq < 4; ++kq) {
        Value a4 = e.vload(sL, {e.iadd(e.idx(16 * p.ar), row),
                                e.idx(16 * p.ac + 4 * kq)}, 4);
        for (int64_t i = 0; i < 4; ++i) {
          Value a = e.element(a4, i);
          Value bRow = e.idx(16 * p.br + 4 * kq + i);
          Value bCol = e.iadd(e.idx(16 * p.bc), col);
          Value b0 = e.vload(sL, {bRow, bCol}, 4);
          Value b1 = e.vload(sL, {bRow, e.iadd(bCol, e.idx(4))}, 4);
          for (int64_t cc = 0; cc < 8; ++cc)
            acc[cc] = e.fma(a, e.element(cc < 4 ? b0 : b1, cc % 4), acc[cc]);
        }
      }
    if (job.negate)
      for (Value &x : acc)
        x = arith::NegFOp::create(b, x);
    return acc;
  };
  auto phase = [&](ArrayRef<Job> jobs, bool warpLocal) {
    SmallVector<Value> result(8, zero);
    for (const Job &job : jobs)
      result = e.ifElse(
          e.ieq(warp, e.idx(job.warp)),
          [&]() -> SmallVector<Value> { return compute(job); },
          [&]() -> SmallVector<Value> { return result; });
    // Results overwrite blocks other lanes (warpLocal) or warps read.
    if (warpLocal)
      syncWarp();
    else
      e.barrier();
    for (const Job &job : jobs)
      e.when(e.ieq(warp, e.idx(job.warp)), [&] {
        Value r = e.iadd(e.idx(16 * job.dr), row);
        for (int64_t half = 0; half < 2; ++half) {
          Value four = e.fromElements(ArrayRef<Value>(result).slice(4 * half, 4));
          Value cIndex = e.iadd(e.idx(16 * job.dc + 4 * half), col);
          e.vstore(four, sL, {r, cIndex});
          if (job.final)
            e.vstore(arith::TruncFOp::create(
                         b, VectorType::get({4}, mma.element), four),
                     sT, {r, cIndex});
        }
      });
  };
  // A⁻¹ and C⁻¹ of the two 32×32 diagonal blocks: T10 = −T11 L10 T00,
  // T32 = −T33 L32 T22 (each warp reads only what it writes).
  phase({{0, {{1, 0, 0, 0}}, false, 1, 0, false},
         {1, {{3, 2, 2, 2}}, false, 3, 2, false}},
        /*warpLocal=*/true);
  phase({{0, {{1, 1, 1, 0}}, true, 1, 0, true},
         {1, {{3, 3, 3, 2}}, true, 3, 2, true}},
        /*warpLocal=*/true);
  e.barrier();
  // X = B A⁻¹, then −C⁻¹ X.
  phase({{0, {{2, 0, 0, 0}, {2, 1, 1, 0}}, false, 2, 0, false},
         {1, {{2, 1, 1, 1}}, false, 2, 1, false},
         {2, {{3, 0, 0, 0}, {3, 1, 1, 0}}, false, 3, 0, false},
         {3, {{3, 1, 1, 1}}, false, 3, 1, false}},
        /*warpLocal=*/false);
  e.barrier();
  phase({{0, {{2, 2, 2, 0}}, true, 2, 0, true},
         {1, {{2, 2, 2, 1}}, true, 2, 1, true},
         {2, {{3, 2, 2, 0}, {3, 3, 3, 0}}, true, 3, 0, true},
         {3, {{3, 2, 2, 1}, {3, 3, 3, 1}}, true, 3, 1, true}},
        /*warpLocal=*/false);
}

void ChunkedKernel::emit(gpu::GPUFuncOp func, ArrayRef<std::string> names) {
  MLIRContext *ctx = op.getContext();
  ImplicitLocOpBuilder b(op.getLoc(), ctx);
  b.setInsertionPointToStart(&func.getBody().front());
  KernelBuilder e(b, b.getF32Type());
  auto arg = [&](StringRef name) -> Value {
    for (auto [i, n] : llvm::enumerate(names))
      if (n == name)
        return func.getArgument(i);
    return {};
  };
  Value q = arg("q"), k = arg("k"), v = arg("v"), g = arg("g"),
        beta = arg("beta"), gain = arg("gain"), cu = arg("cu_seqlens"),
        s0 = arg("initial_state"), o = arg("o"),
        finalState = arg("final_state");
  Value T = e.toIndex(arg("T")), H = e.toIndex(arg("H")),
        HV = e.toIndex(arg("HV"));
  const int64_t K = c.K, Kp = c.Kp, V = c.V, BV = c.BV;
  Value Kc = e.idx(K), Vc = e.idx(V);
  const bool delta = op.hasDeltaRule();
  const bool decay = op.getDecay() == DecayKind::Scalar;
  const double eta = delta ? op.getDeltaRule()->convertToDouble() : 0.0;
  const double tau = op.getTau().convertToDouble();
  const double scale = op.getScale().convertToDouble();
  FloatType et = c.element;

  // Shared memory: typed views of the dynamic shared buffer.
  auto addressSpace =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto rawType = MemRefType::get({c.bytes}, b.getI8Type(), AffineMap(),
                                 addressSpace);
  auto globalType =
      MemRefType::get({0}, b.getI8Type(), AffineMap(), addressSpace);
  Value raw = memref::GetGlobalOp::create(b, globalType, "muonssm_smem");
  raw = memref::ReinterpretCastOp::create(b, rawType, raw, 0,
                                          ArrayRef<int64_t>{c.bytes},
                                          ArrayRef<int64_t>{1});
  // Views at a byte shift: inside the chunk loop the shift is a value
  // loaded from shared memory (always 0). LLVM cannot hoist that load over
  // the loop's barriers, so every tile address is recomputed per chunk as
  // one lane base plus constants that ptxas folds into the ldmatrix/ld
  // immediates. With a constant shift, LICM hoists each of the ~250
  // distinct fragment addresses out of the loop into its own 64-bit
  // register, and the kernel spills.
  auto view = [&](Value shift, int64_t offset, ArrayRef<int64_t> shape,
                  Type element) {
    auto type = MemRefType::get(shape, element, AffineMap(), addressSpace);
    return memref::ViewOp::create(b, type, raw,
                                  e.iadd(shift, e.idx(offset)), ValueRange{})
        .getResult();
  };
  Value sK, sQ, sS, sV, sW, sT, sL, sG, sB, sWf;
  auto bindTiles = [&](Value shift) {
    sK = view(shift, c.offK, {kChunk, c.pitchK}, et);
    sQ = view(shift, c.offQ, {kChunk, c.pitchK}, et);
    sS = view(shift, c.offS, {Kp, c.pitchV}, et);
    sV = view(shift, c.offV, {kChunk, c.pitchV}, et);
    sW = view(shift, c.offW, {kChunk, c.pitchV}, et);
    sT = view(shift, c.offT, {kChunk, kChunk + 8}, et);
    sL = view(shift, c.offL, {kChunk, kChunk + 4}, b.getF32Type());
    sG = view(shift, c.offG, {kChunk}, b.getF32Type());
    sB = view(shift, c.offB, {kChunk}, b.getF32Type());
    sWf = view(shift, c.offWf, {kChunk}, b.getF32Type());
  };
  bindTiles(e.idx(0));
  Value sZero = view(e.idx(0), c.offZero, {1}, b.getI32Type());

  Value tid = e.threadId();
  Value warp = e.idiv(tid, e.idx(32));
  Value lane = e.irem(tid, e.idx(32));
  WarpMma mma(e, et, lane);
  Value m0 = e.imul(warp, e.idx(16)); // this warp's 16 rows of a chunk

  Value vt = e.blockId(gpu::Dimension::x);
  Value h = e.blockId(gpu::Dimension::y);
  Value n = e.blockId(gpu::Dimension::z);
  Value cb = e.imul(vt, e.idx(BV)); // first value column of the tile
  Value kh = e.idiv(h, e.idiv(HV, H));

  // The sequence's tokens [first, last) of batch row bIdx.
  Value bIdx = n, first = e.idx(0), last = T;
  if (cu) {
    Type index = b.getIndexType();
    Value lo = arith::IndexCastOp::create(b, index, e.loadRaw(cu, n));
    Value hi = arith::IndexCastOp::create(b, index,
                                          e.loadRaw(cu, e.iadd(n, e.idx(1))));
    bIdx = e.idx(0);
    first = e.imin(lo, T);
    last = e.imin(e.imax(hi, first), T);
  }

  Value zeroF = e.cst(0.0);
  auto zeroAcc = [&] { return e.vcst(0.0, 4); };
  auto eq = [&](Value x, int64_t y) { return e.ieq(x, e.idx(y)); };
  auto le = [&](int64_t x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ule, e.idx(x), y);
  };

  // T's upper blocks stay zero: clear it once.
  e.loop(tid, e.idx(kChunk * (kChunk + 8) / 8), e.idx(kThreads), {},
         [&](Value x, ValueRange) -> SmallVector<Value> {
           Value zero8 = arith::ConstantOp::create(
               b, DenseElementsAttr::get(VectorType::get({8}, et),
                                         b.getFloatAttr(et, 0.0)));
           Value flat = e.imul(x, e.idx(8));
           e.vstore(zero8, sT,
                    {e.idiv(flat, e.idx(kChunk + 8)),
                     e.irem(flat, e.idx(kChunk + 8))});
           return {};
         });

  // State slots of this warp: m-tile warp + 4·slot (clamped; a slot past the
  // last m-tile computes on the last one and stores nothing).
  const int64_t mTiles = Kp / 16, nTilesV = BV / 8;
  SmallVector<Value> slotTile, slotValid;
  for (int64_t s = 0; s < c.stateSlots; ++s) {
    Value mt = e.iadd(warp, e.idx(kWarps * s));
    slotValid.push_back(e.ult(mt, e.idx(mTiles)));
    slotTile.push_back(e.imin(mt, e.idx(mTiles - 1)));
  }
  auto stateIndex = [&](Value i, Value j) {
    return e.iadd(
        e.imul(e.iadd(e.imul(e.iadd(e.imul(n, HV), h), Kc), i), Vc), j);
  };

  // Initial state into the accumulators (f32).
  SmallVector<Value> S; // [slot][n-tile] vector<4xf32>
  for (int64_t s = 0; s < c.stateSlots; ++s)
    for (int64_t nt = 0; nt < nTilesV; ++nt) {
      if (!s0) {
        S.push_back(zeroAcc());
        continue;
      }
      SmallVector<Value> values;
      for (int64_t r = 0; r < 4; ++r) {
        Value i = e.iadd(e.imul(slotTile[s], e.idx(16)), mma.accRow(r));
        Value j = e.iadd(cb, e.iadd(e.idx(8 * nt), mma.accCol(r)));
        Value ok = e.iand(e.ult(i, Kc), e.ult(j, Vc));
        Value x = e.load(s0, stateIndex(e.imin(i, e.idx(K - 1)),
                                        e.imin(j, e.idx(V - 1))));
        values.push_back(e.select(ok, x, zeroF));
      }
      S.push_back(e.fromElements(values));
    }
  // The state's shared copy (the B operand of Q S and K S).
  auto storeStateCopy = [&](ArrayRef<Value> state) {
    for (int64_t s = 0; s < c.stateSlots; ++s)
      e.when(slotValid[s], [&] {
        for (int64_t nt = 0; nt < nTilesV; ++nt)
          for (int64_t half = 0; half < 2; ++half) {
            Value acc = state[s * nTilesV + nt];
            Value i = e.iadd(e.imul(slotTile[s], e.idx(16)),
                             mma.accRow(2 * half));
            Value j = e.iadd(e.idx(8 * nt), mma.accCol(0));
            e.vstore(mma.pair(e.element(acc, 2 * half),
                              e.element(acc, 2 * half + 1)),
                     sS, {i, j});
          }
      });
  };
  storeStateCopy(S);

  // Vector widths of the global loads (16 B when rows allow it).
  auto widthFor = [](int64_t d) -> int64_t {
    return d % 8 == 0 ? 8 : d % 4 == 0 ? 4 : d % 2 == 0 ? 2 : 1;
  };
  const int64_t wK = widthFor(K), wV = widthFor(V);

  e.when(e.ieq(tid, e.idx(0)), [&] {
    memref::StoreOp::create(b, arith::ConstantIntOp::create(b, 0, 32), sZero,
                            ValueRange{e.idx(0)});
  });
  e.barrier(); // T cleared, the state copy and the zero shift stored

  Value length = e.isub(last, first);
  Value chunks = arith::CeilDivUIOp::create(b, length, e.idx(kChunk));

  SmallVector<Value> end = e.loop(
      e.idx(0), chunks, e.idx(1), S,
      [&](Value chunk, ValueRange carried) -> SmallVector<Value> {
        SmallVector<Value> S(carried.begin(), carried.end());
        bindTiles(arith::IndexCastUIOp::create(
            b, b.getIndexType(),
            memref::LoadOp::create(b, sZero, ValueRange{e.idx(0)})));
        Value start = e.iadd(first, e.imul(chunk, e.idx(kChunk)));
        Value len = e.imin(e.isub(last, start), e.idx(kChunk));
        Value lastRow = e.isub(len, e.idx(1));
        auto token = [&](Value t) { // global token row of local t (clamped)
          return e.iadd(e.imul(bIdx, T), e.iadd(start, e.imin(t, lastRow)));
        };

        // ---- Load Q, K (64 × Kp) and the V tile (64 × BV), zero-padded.
        // rowBase(t): the global index of column 0 of local row t; columns
        // ≥ colLimit are padding (zero), and the clamped column keeps the
        // unused load of a padding vector inside the row.
        auto loadRows = [&](Value tile, Value buffer, int64_t width,
                            int64_t cols, function_ref<Value(Value)> rowBase,
                            Value colLimit) {
          int64_t perRow = cols / width;
          int64_t total = kChunk * perRow;
          Value zeros = arith::ConstantOp::create(
              b, DenseElementsAttr::get(VectorType::get({width}, et),
                                        b.getFloatAttr(et, 0.0)));
          Value lastCol = e.isub(colLimit, e.idx(width));
          e.loop(tid, e.idx(total), e.idx(kThreads), {},
                 [&](Value x, ValueRange) -> SmallVector<Value> {
                   Value t = e.idiv(x, e.idx(perRow));
                   Value col = e.imul(e.irem(x, e.idx(perRow)), e.idx(width));
                   Value ok = e.iand(e.ult(t, len), e.ult(col, colLimit));
                   Value value = e.vload(
                       buffer, {e.iadd(rowBase(t), e.imin(col, lastCol))},
                       width);
                   value = e.select(ok, value, zeros);
                   e.vstore(value, tile, {t, col});
                   return {};
                 });
        };
        auto qkRow = [&](Value t) {
          return e.imul(e.iadd(e.imul(token(t), H), kh), Kc);
        };
        loadRows(sQ, q, wK, Kp, qkRow, Kc);
        loadRows(sK, k, wK, Kp, qkRow, Kc);
        // The last tile may hang over V (V − cb is a multiple of wV).
        loadRows(
            sV, v, wV, BV,
            [&](Value t) {
              return e.iadd(e.imul(e.iadd(e.imul(token(t), HV), h), Vc), cb);
            },
            e.isub(Vc, cb));

        // ---- Gates: G (cumulated log decay), b = η·β, w = τ·gain·β.
        e.when(e.ult(tid, e.idx(kChunk)), [&] {
          Value t = tid;
          Value ok = e.ult(t, len);
          Value head = e.iadd(e.imul(token(t), HV), h);
          Value betaT = beta ? e.load(beta, head) : e.cst(1.0);
          Value gainT = gain ? e.load(gain, head) : e.cst(1.0);
          Value bT = e.mul(e.cst(eta), betaT);
          Value wT = e.mul(e.cst(tau), e.mul(gainT, betaT));
          memref::StoreOp::create(b, e.select(ok, bT, zeroF), sB,
                                  ValueRange{t});
          memref::StoreOp::create(b, e.select(ok, wT, zeroF), sWf,
                                  ValueRange{t});
        });
        if (decay)
          e.when(eq(warp, 0), [&] {
            // Lane l holds tokens 2l, 2l+1; an inclusive scan over lanes.
            Value t0 = e.imul(lane, e.idx(2)), t1 = e.iadd(t0, e.idx(1));
            auto gate = [&](Value t) {
              Value x = e.load(g, e.iadd(e.imul(token(t), HV), h));
              return e.select(e.ult(t, len), x, zeroF);
            };
            Value g0 = gate(t0), g1 = gate(t1);
            Value sum = e.add(g0, g1);
            Value inclusive = e.warpInclusiveScan(sum, lane);
            Value before = e.sub(inclusive, sum);
            memref::StoreOp::create(b, e.add(before, g0), sG, ValueRange{t0});
            memref::StoreOp::create(b, inclusive, sG, ValueRange{t1});
          });
        e.barrier();

        // Per-lane rows of the accumulators: t = m0 + g (+8).
        Value rowLo = e.iadd(m0, mma.g), rowHi = e.iadd(rowLo, e.idx(8));
        auto gAt = [&](Value t) -> Value {
          return decay ? memref::LoadOp::create(b, sG, ValueRange{t})
                             .getResult()
                       : zeroF;
        };
        Value gLo = gAt(rowLo), gHi = gAt(rowHi);
        Value gEnd = decay ? gAt(e.idx(kChunk - 1)) : zeroF;
        Value lamLo = decay ? e.exp(gLo) : e.cst(1.0);
        Value lamHi = decay ? e.exp(gHi) : e.cst(1.0);
        Value lamEnd = decay ? e.exp(gEnd) : e.cst(1.0);
        auto rowOf = [&](int64_t r) { return r < 2 ? rowLo : rowHi; };
        auto gRow = [&](int64_t r) { return r < 2 ? gLo : gHi; };
        auto lamRow = [&](int64_t r) { return r < 2 ? lamLo : lamHi; };

        // Causality per accumulator element: column s = 8·nt + c2 + r%2
        // against row t, as t − c2 against constants (no per-element
        // column registers).
        Value dLo = e.isub(rowLo, mma.c2), dHi = e.isub(rowHi, mma.c2);
        auto colLess = [&](int64_t nt, int64_t r, bool orEqual) {
          // s < t ⇔ 8nt + r%2 < t − c2 (signed: t − c2 may be negative)
          Value d = r < 2 ? dLo : dHi;
          return arith::CmpIOp::create(
              b, orEqual ? arith::CmpIPredicate::sge
                         : arith::CmpIPredicate::sgt,
              d, e.idx(8 * nt + r % 2));
        };
        Value bLo = memref::LoadOp::create(b, sB, ValueRange{rowLo});
        Value bHi = memref::LoadOp::create(b, sB, ValueRange{rowHi});

        // ---- A = K Kᵀ, Pq = Q Kᵀ per n-tile pair np ≤ warp (causal), each
        // turned at once into L (f32, shared) and the A fragment of P for
        // k-step np (registers): only 16 accumulators live at a time.
        SmallVector<WarpMma::Frag> P;
        for (int64_t np = 0; np < 4; ++np) {
          SmallVector<Value> frag = e.ifElse(
              le(np, warp),
              [&]() -> SmallVector<Value> {
                Value a[2] = {zeroAcc(), zeroAcc()};
                Value pq[2] = {zeroAcc(), zeroAcc()};
                for (int64_t ks = 0; ks < Kp / 16; ++ks) {
                  Value k0 = e.idx(16 * ks);
                  WarpMma::Frag fq = mma.loadA(sQ, m0, k0);
                  auto [b0, b1] = mma.loadBFromRows(sK, e.idx(16 * np), k0);
                  pq[0] = mma.mma(pq[0], fq, b0);
                  pq[1] = mma.mma(pq[1], fq, b1);
                  if (delta) {
                    WarpMma::Frag fk = mma.loadA(sK, m0, k0);
                    a[0] = mma.mma(a[0], fk, b0);
                    a[1] = mma.mma(a[1], fk, b1);
                  }
                }
                SmallVector<Value> weighted;
                for (int64_t half = 0; half < 2; ++half) {
                  int64_t nt = 2 * np + half;
                  SmallVector<Value> lValues, pValues;
                  for (int64_t r = 0; r < 4; ++r) {
                    Value w = e.cst(1.0);
                    if (decay) {
                      Value sIndex = e.iadd(mma.c2, e.idx(8 * nt + r % 2));
                      Value gs = memref::LoadOp::create(b, sG, ValueRange{sIndex});
                      w = e.exp(e.sub(gRow(r), gs));
                    }
                    pValues.push_back(e.select(
                        colLess(nt, r, /*orEqual=*/true),
                        e.mul(e.mul(e.cst(scale), e.element(pq[half], r)), w),
                        zeroF));
                    if (delta)
                      lValues.push_back(e.select(
                          colLess(nt, r, /*orEqual=*/false),
                          e.mul(e.mul(r < 2 ? bLo : bHi,
                                      e.element(a[half], r)),
                                w),
                          zeroF));
                  }
                  if (delta)
                    for (int64_t hr = 0; hr < 2; ++hr)
                      e.vstore(e.fromElements({lValues[2 * hr],
                                               lValues[2 * hr + 1]}),
                               sL,
                               {rowOf(2 * hr),
                                e.iadd(e.idx(8 * nt), mma.c2)});
                  weighted.push_back(e.fromElements(pValues));
                }
                WarpMma::Frag f = mma.accumulatorsToA(weighted[0], weighted[1]);
                return SmallVector<Value>(f.begin(), f.end());
              },
              [&]() -> SmallVector<Value> {
                WarpMma::Frag f = mma.accumulatorsToA(zeroAcc(), zeroAcc());
                return SmallVector<Value>(f.begin(), f.end());
              });
          P.push_back(WarpMma::Frag(frag.begin(), frag.end()));
        }

        // Products with the state's shared copy: X·S for a 64-row tile X.
        auto timesState = [&](Value tile) {
          SmallVector<Value> acc(nTilesV, Value());
          for (int64_t nt = 0; nt < nTilesV; ++nt)
            acc[nt] = zeroAcc();
          for (int64_t ks = 0; ks < Kp / 16; ++ks) {
            Value k0 = e.idx(16 * ks);
            WarpMma::Frag a = mma.loadA(tile, m0, k0);
            for (int64_t np = 0; np < nTilesV / 2; ++np) {
              auto [b0, b1] = mma.loadB(sS, k0, e.idx(16 * np));
              acc[2 * np] = mma.mma(acc[2 * np], a, b0);
              acc[2 * np + 1] = mma.mma(acc[2 * np + 1], a, b1);
            }
          }
          return acc;
        };
        // Pairs of accumulator elements to a 64-row shared tile, times an
        // optional per-row factor.
        auto storePairs = [&](ArrayRef<Value> acc, Value tile, Value fLo,
                              Value fHi) {
          for (int64_t nt = 0; nt < nTilesV; ++nt)
            for (int64_t half = 0; half < 2; ++half) {
              Value f = half ? fHi : fLo;
              Value x0 = e.element(acc[nt], 2 * half);
              Value x1 = e.element(acc[nt], 2 * half + 1);
              if (f) {
                x0 = e.mul(f, x0);
                x1 = e.mul(f, x1);
              }
              e.vstore(mma.pair(x0, x1), tile,
                       {rowOf(2 * half), e.iadd(e.idx(8 * nt), mma.c2)});
            }
        };
        // W' = w ⊙ V − (bΛ) ⊙ R for R = K S (or w ⊙ V alone).
        Value wLo = memref::LoadOp::create(b, sWf, ValueRange{rowLo});
        Value wHi = memref::LoadOp::create(b, sWf, ValueRange{rowHi});
        auto inputTimesV = [&](ArrayRef<Value> R) {
          SmallVector<Value> W(nTilesV);
          for (int64_t nt = 0; nt < nTilesV; ++nt) {
            SmallVector<Value> values;
            for (int64_t half = 0; half < 2; ++half) {
              Value vv = arith::ExtFOp::create(
                  b, VectorType::get({2}, b.getF32Type()),
                  e.vload(sV, {rowOf(2 * half), e.iadd(e.idx(8 * nt), mma.c2)},
                          2));
              Value wt = half ? wHi : wLo;
              Value bl = e.mul(half ? bHi : bLo, lamRow(2 * half));
              for (int64_t x = 0; x < 2; ++x) {
                Value w = e.mul(wt, e.element(vv, x));
                if (!R.empty())
                  w = e.sub(w, e.mul(bl, e.element(R[nt], 2 * half + x)));
                values.push_back(w);
              }
            }
            W[nt] = e.fromElements(values);
          }
          return W;
        };

        SmallVector<Value> U;
        if (delta) {
          storePairs(inputTimesV(timesState(sK)), sW, Value(), Value());
          e.barrier(); // L and W' complete

          // ---- T = (I + L)⁻¹ in place, 16×16 blocks (docs/gpu.md §3.2).
          solveUnitLower(e, mma, sL, sT, warp, lane);
          e.barrier(); // T complete

          // ---- U = T W' (T lower triangular: k-steps ≤ warp).
          U.assign(nTilesV, Value());
          for (int64_t nt = 0; nt < nTilesV; ++nt)
            U[nt] = zeroAcc();
          for (int64_t ks = 0; ks < 4; ++ks) {
            U = e.ifElse(
                le(ks, warp),
                [&]() -> SmallVector<Value> {
                  SmallVector<Value> acc(U);
                  WarpMma::Frag a = mma.loadA(sT, m0, e.idx(16 * ks));
                  for (int64_t np = 0; np < nTilesV / 2; ++np) {
                    auto [b0, b1] =
                        mma.loadB(sW, e.idx(16 * ks), e.idx(16 * np));
                    acc[2 * np] = mma.mma(acc[2 * np], a, b0);
                    acc[2 * np + 1] = mma.mma(acc[2 * np + 1], a, b1);
                  }
                  return acc;
                },
                [&]() -> SmallVector<Value> { return U; });
          }
        } else {
          U = inputTimesV({});
        }
        e.barrier(); // every read of V, W' and T is done

        // ---- U and (Λ_n/Λ_t)·U into shared memory.
        storePairs(U, sW, Value(), Value());
        Value uLo = decay ? e.exp(e.sub(gEnd, gLo)) : Value();
        Value uHi = decay ? e.exp(e.sub(gEnd, gHi)) : Value();
        storePairs(U, sV, uLo, uHi);
        e.barrier();

        // ---- O = scale·Λ ⊙ (Q S) + P U, then o.
        SmallVector<Value> O = timesState(sQ);
        for (int64_t nt = 0; nt < nTilesV; ++nt) {
          SmallVector<Value> values;
          for (int64_t r = 0; r < 4; ++r)
            values.push_back(e.mul(e.mul(e.cst(scale), lamRow(r)),
                                   e.element(O[nt], r)));
          O[nt] = e.fromElements(values);
        }
        for (int64_t ks = 0; ks < 4; ++ks) {
          O = e.ifElse(
              le(ks, warp),
              [&]() -> SmallVector<Value> {
                SmallVector<Value> acc(O);
                for (int64_t np = 0; np < nTilesV / 2; ++np) {
                  auto [b0, b1] =
                      mma.loadB(sW, e.idx(16 * ks), e.idx(16 * np));
                  acc[2 * np] = mma.mma(acc[2 * np], P[ks], b0);
                  acc[2 * np + 1] = mma.mma(acc[2 * np + 1], P[ks], b1);
                }
                return acc;
              },
              [&]() -> SmallVector<Value> { return O; });
        }
        for (int64_t nt = 0; nt < nTilesV; ++nt)
          for (int64_t half = 0; half < 2; ++half) {
            Value t = rowOf(2 * half);
            Value j = e.iadd(cb, e.iadd(e.idx(8 * nt), mma.c2));
            Value x0 = e.element(O[nt], 2 * half);
            Value x1 = e.element(O[nt], 2 * half + 1);
            Value index = e.iadd(
                e.imul(e.iadd(e.imul(token(t), HV), h), Vc), j);
            Value rowOk = e.ult(t, len);
            if (V % 2 == 0) {
              e.when(e.iand(rowOk, e.ult(j, Vc)),
                     [&] { e.vstore(mma.pair(x0, x1), o, {index}); });
            } else {
              e.when(e.iand(rowOk, e.ult(j, Vc)),
                     [&] { e.store(x0, o, index); });
              Value j1 = e.iadd(j, e.idx(1));
              e.when(e.iand(rowOk, e.ult(j1, Vc)),
                     [&] { e.store(x1, o, e.iadd(index, e.idx(1))); });
            }
          }

        // ---- S = Λ_n S + Kᵀ ((Λ_n/Λ) ⊙ U).
        for (int64_t s = 0; s < c.stateSlots; ++s) {
          Value mRow = e.imul(slotTile[s], e.idx(16));
          for (int64_t nt = 0; nt < nTilesV; ++nt)
            S[s * nTilesV + nt] =
                e.mul(S[s * nTilesV + nt], e.splat(lamEnd, 4));
          for (int64_t ks = 0; ks < 4; ++ks) {
            WarpMma::Frag a = mma.loadATransposed(sK, e.idx(16 * ks), mRow);
            for (int64_t np = 0; np < nTilesV / 2; ++np) {
              auto [b0, b1] = mma.loadB(sV, e.idx(16 * ks), e.idx(16 * np));
              Value &x0 = S[s * nTilesV + 2 * np];
              Value &x1 = S[s * nTilesV + 2 * np + 1];
              x0 = mma.mma(x0, a, b0);
              x1 = mma.mma(x1, a, b1);
            }
          }
        }
        e.barrier(); // every warp is done reading the state's copy
        storeStateCopy(S);
        e.barrier(); // the next chunk overwrites Q, K, V
        return S;
      });

  // Final state.
  if (finalState)
    for (int64_t s = 0; s < c.stateSlots; ++s)
      for (int64_t nt = 0; nt < nTilesV; ++nt)
        for (int64_t r = 0; r < 4; ++r) {
          Value i = e.iadd(e.imul(slotTile[s], e.idx(16)), mma.accRow(r));
          Value j = e.iadd(cb, e.iadd(e.idx(8 * nt), mma.accCol(r)));
          Value ok = e.iand(slotValid[s], e.iand(e.ult(i, Kc), e.ult(j, Vc)));
          e.when(ok, [&] {
            e.store(e.element(end[s * nTilesV + nt], r), finalState,
                    stateIndex(i, j));
          });
        }
  gpu::ReturnOp::create(b);
}

std::string gpu_codegen::whyNotTensorCoreChunked(ScanOp op) {
  if (!op.isChunked())
    return "it is not scheduled as chunked";
  if (op.getDecay() != DecayKind::None && op.getDecay() != DecayKind::Scalar)
    return "its decay is not none or scalar";
  if (op.getInput() != InputKind::Update)
    return "its input is the error";
  if (op.hasMomentum())
    return "it has momentum";
  if (op.getNewtonSchulz())
    return "it has Newton-Schulz inside";
  if (op.getBeta() && op.hasChannelBeta())
    return "its beta is per value channel";
  Type element = op.getV().getType().getElementType();
  if (!element.isBF16() && !element.isF16())
    return "its inputs are not bf16 or f16";
  for (Value x : {op.getQ(), op.getK()})
    if (cast<RankedTensorType>(x.getType()).getElementType() != element)
      return "q, k and v differ in element type";
  if (op.getO().getType().getElementType() != element)
    return "o differs from v in element type";
  auto qType = op.getQ().getType();
  auto vType = op.getV().getType();
  if (qType.isDynamicDim(3) || vType.isDynamicDim(3))
    return "its head dimensions are dynamic";
  if (qType.getDimSize(3) > 256 || vType.getDimSize(3) < 1)
    return "its key dimension is above 256";
  return "";
}

LogicalResult gpu_codegen::lowerChunkedScan(ScanOp op,
                                            gpu::GPUModuleOp kernels,
                                            StringRef name) {
  int64_t K = op.getQ().getType().getDimSize(3);
  int64_t V = op.getV().getType().getDimSize(3);
  auto element = cast<FloatType>(op.getV().getType().getElementType());
  ChunkedConfig config = chooseConfig(K, V, element);

  // The dynamic shared buffer every chunked kernel views (a public global:
  // a private one or gpu.dynamic_shared_memory becomes a 1-byte static
  // array, GPU-CODEGEN.md).
  MLIRContext *ctx = op.getContext();
  if (!SymbolTable::lookupSymbolIn(kernels, "muonssm_smem")) {
    OpBuilder gb(kernels.getBodyRegion());
    gb.setInsertionPointToStart(&kernels.getBodyRegion().front());
    auto type = MemRefType::get(
        {0}, gb.getI8Type(), AffineMap(),
        gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup));
    memref::GlobalOp::create(gb, op.getLoc(), "muonssm_smem",
                             gb.getStringAttr("public"), type, Attribute(),
                             /*constant=*/false, gb.getI64IntegerAttr(16));
  }

  SmallVector<std::pair<std::string, Value>> buffers = {
      {"q", op.getQ()}, {"k", op.getK()}, {"v", op.getV()}};
  auto optional = [&](StringRef argName, Value value) {
    if (value)
      buffers.push_back({argName.str(), value});
  };
  optional("g", op.getG());
  optional("beta", op.getBeta());
  optional("gain", op.getGain());
  optional("cu_seqlens", op.getCuSeqlens());
  optional("initial_state", op.getInitialState());
  size_t numInputs = buffers.size();
  optional("o", op.getO());
  optional("final_state", op.getFinalState());

  LaunchBuilder launch(op, kernels, name);
  for (auto [argName, value] : buffers)
    launch.addBuffer(argName, value,
                     /*isResult=*/launch.numBuffers() >= numInputs);
  Value v = op.getV();
  launch.addSize("T", v, 1);
  launch.addSize("H", op.getQ(), 2);
  launch.addSize("HV", v, 2);
  gpu::GPUFuncOp func = launch.createKernel(kThreads, config.bytes);
  ChunkedKernel(op, config).emit(func, launch.argNames());

  Value tiles = launch.cst((V + config.BV - 1) / config.BV);
  Value sequences = op.getCuSeqlens()
                        ? launch.sub(launch.dim(op.getCuSeqlens(), 0), 1)
                        : launch.dim(v, 0);
  launch.setProducts(element);
  launch.launch({tiles, launch.dim(v, 2), sequences});
  return success();
}
