//===- ChunkedScanToGPU.cpp - the tensor-core chunked scan kernel ---------===//
//
// A chunked scan (docs/chunking.md §2) with decay none or scalar, with or
// without the delta rule and momentum, as one kernel with the states on chip
// (docs/gpu.md §3). One block of eight warps per (sequence, value head, tile
// of BV value columns) walks the sequence in chunks of 64 tokens. The f32
// state S (K×BV) and momentum M stay in registers, in the accumulator layout
// of the products that update them, with bf16/f16 copies in shared memory as
// operands of the next chunk's products. The next chunk's q, k, v and
// gates arrive by cp.async into a second buffer while a chunk computes.
//
// Per chunk, with Λ_t = exp(G_t) the cumulated decay, D_ts = Λ_t/Λ_s,
// b_t = η·β_t and w_t = τ·gain_t·β_t (no momentum):
//
//   Pq = Q Kᵀ, A = K Kᵀ                      (tensor cores)
//   P  = lower(scale·Pq ⊙ D),  L = strict_lower(b·A ⊙ D)
//   T  = (I + L)⁻¹   (f32, 3×tf32 blocks)  ‖  W' = w ⊙ V − (bΛ) ⊙ (K S)
//   U  = T W'                                 (the delta rule's updates)
//   o  = scale·Λ ⊙ (Q S) + P U
//   S  = Λ_n S + Kᵀ (D_n ⊙ U)
//
// This is the UT form of flash-linear-attention's chunk kernels, fused so
// that only q, k, v, the gates and o cross HBM. With momentum the same
// chunk carries the second state through the weights Ω_ts = Σ_{r=s..t}
// γ^{r−s} D_tr (docs/chunking.md §2.1–2.3):
//
//   RHS = −b ⊙ (Λ ⊙ K S + (Φ − γ^{t+1}) ⊙ K M + L^E (w ⊙ V)),  C = T RHS
//   o   = scale·(Λ ⊙ Q S + Φ ⊙ Q M + (Pq ⊙ Ω)(w ⊙ V) + (Pq ⊙ D) C)
//   S   = Λ_n S + Φ_n M + Kᵀ (Ω_n ⊙ w ⊙ V + D_n ⊙ C)
//   M   = γ^n M + Kᵀ (γ^{n−s} w ⊙ V)
//
// Products are mma.sync m16n8k16 (GPUMma.h); on sm_90a with 64- or
// 128-column value tiles and K a multiple of 64, all but Q Kᵀ and K Kᵀ are
// wgmma m64nNk16 of warpgroup cs (withWarpgroupProducts, docs/gpu.md §3.4),
// whose accumulators have the same layout. Warp w = 4·cs + rb owns token
// rows 16·rb.. of every 64-row product and half cs of the value columns;
// in the triangular solve warps 0-3 work while warps 4-7 form W' (or RHS).
// Where it pays (chooseConfig), a solve kernel computes every chunk's T
// beforehand and the chunk loads it with q, k and v instead.
//
//===----------------------------------------------------------------------===//

#include "passes/GPULowering.h"
#include "passes/GPUMma.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include <limits>
#include <optional>

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::gpu_codegen;

namespace {

constexpr int64_t kChunk = 64; // tokens per chunk: 4 row blocks of 16
constexpr int64_t kWarps = 8;
constexpr int64_t kThreads = 32 * kWarps;
// The solve kernel: four warps, one per 16-row block of T.
constexpr int64_t kSolveThreads = 128;
// The chunked kernel's gates as loaded (g, β, gain), a row of 64 f32 each.
constexpr int64_t kRawGates = 3;
// Rows of Ω computed together, their loads before their stores.
constexpr int64_t kOmegaBatch = 8;
// The most rounds of v loads (two lanes a token) that the solve kernel
// holds in registers for the paper form's gain: V = 256 bf16 is 16 rounds
// of 16 bytes; past that its 128 registers spill (V = 512: 88 bytes).
constexpr int64_t kMaxGainRounds = 16;
// Rounds of its 128-ary search for a slot's sequence: 128⁵ > 2³¹.
constexpr int64_t kSearchRounds = 5;
// The largest dynamic shared memory of a block on sm_90 (227 KiB).
constexpr int64_t kMaxShared = 227 * 1024;
// The tile-width choice counts waves on an H100 SXM (132 SMs; the PCIe
// part's 114 only shifts where a wider tile starts to pay) and tries value
// tiles up to 128 columns.
constexpr int64_t kSMs = 132;
constexpr int64_t kMaxTile = 128;
// An SM's shared memory (228 KiB), of which the driver reserves 1 KiB a block.
constexpr int64_t kSMShared = 228 * 1024, kReservedShared = 1024;

/// Static shape and shared-memory layout of one kernel.
struct ChunkedConfig {
  int64_t K, Kp;      // key dim, padded to a multiple of 16
  int64_t V, BV;      // value dim, columns per block (a multiple of 16)
  int64_t pairs;      // 16-column pairs of n-tiles in BV
  int64_t pairSlots;  // pairs per warp (half of them, rounded up)
  int64_t stateSlots; // state m-tiles per warp row block
  FloatType element;  // bf16 or f16 (q, k, v, o)
  bool momentum, delta, decay, doubleBuffer;
  // T = (I + L)⁻¹ of every chunk comes from the solve kernel (delta rule):
  // its tile arrives with q, k and v instead of being solved in the chunk.
  bool presolved;
  // Two blocks share an SM (≤ 128 registers, half the shared memory).
  bool twoPerSM = false;
  // The chunk's products but Q Kᵀ, K Kᵀ by wgmma, one warpgroup per half of
  // the value tile (withWarpgroupProducts): the operand tiles are then
  // swizzled (tileIndices), without padding.
  bool wgmma = false;
  // With wgmma: independent product groups run beside other work, waited
  // for where their results are read (docs/gpu.md §3.5): o's beside the
  // state update; where every warp forms the right-hand side (presolved),
  // K S and Q S from the chunk's start.
  bool overlap = false;
  // Step 3's barrier only where step 4 reads its tiles, and U's own tile
  // (offU) where it fits (ChunkedOptions::leanBarriers).
  bool leanBarriers = false;
  int64_t pitchK, pitchV; // row pitches in elements (+8: no ldmatrix conflicts)

  // Byte offsets. Q, K, V, the raw gates (and T when presolved) come twice
  // (buffer 1 at +bufferBytes) when double buffered; the rest once.
  int64_t offQ, offK, offV, offRaw, bufferBytes;
  // U (delta rule, no momentum) goes to a tile of its own where that fits
  // as the rest does, so that storing it need not wait for the reads of W'
  // (offU = offW where it shares W's tile). Y = D_e ⊙ U goes to the
  // chunk's own v tile (offY = offV, at the buffer's parity) where q/k/v fit
  // twice only so (the delta rule without momentum, whose v is last read in
  // forming W', before the barrier that completes W'; Y is stored after
  // it, last read by the state update, which is waited for before the
  // chunk's last barrier, and the next loads into this buffer are issued
  // after that barrier).
  int64_t offS, offM, offW, offU, offY, offZ, offT, offP, offPO, offLE, offL,
      offOm;
  int64_t offG, offA, offB, offWf, offGam, offZero, bytes;
};

/// The most shared memory c's block may take: all a block can have, or with
/// two blocks an SM half the SM's less the driver's reserve.
static int64_t sharedLimit(const ChunkedConfig &c) {
  return c.twoPerSM ? kSMShared / 2 - kReservedShared : kMaxShared;
}

/// The number of sequences, or ShapedType::kDynamic.
static int64_t sequencesOf(ScanOp op) {
  if (Value cu = op.getCuSeqlens()) {
    int64_t offsets = cast<RankedTensorType>(cu.getType()).getDimSize(0);
    return ShapedType::isDynamic(offsets) ? offsets : offsets - 1;
  }
  return op.getV().getType().getDimSize(0);
}

/// Registers bound the value tile: S (and M) take stateSlots·BV/8 floats
/// per lane each, kept ≤ 64 (and BV ≤ 64); within that, the tiles split V
/// as evenly as multiples of 16 allow. Shared memory bounds it too: q/k/v
/// are double buffered when that fits, and where even one buffer does not
/// (momentum at K = 256: 228.5 KiB at BV = 64), the value tile narrows.
static ChunkedConfig chooseConfig(ScanOp op, int64_t K, int64_t V,
                                  FloatType element, int64_t cap,
                                  bool presolved);
static void layoutShared(ChunkedConfig &c, bool separateU = false);
static ChunkedConfig withWarpgroupProducts(ChunkedConfig c, bool narrowPanels);
static ChunkedConfig chooseTiling(ScanOp op, int64_t K, int64_t V,
                                  FloatType element, bool presolved,
                                  int64_t valueTile) {
  // A tile asked for by the pass option is taken as asked (its width
  // split evenly over V, and narrowed where S and M would not fit the
  // registers); where it does not fit shared memory, the lowering says so.
  if (valueTile)
    return chooseConfig(op, K, V, element, valueTile, presolved);
  ChunkedConfig c = chooseConfig(op, K, V, element, /*cap=*/64, presolved);
  while (c.bytes > kMaxShared && c.BV > 16)
    c = chooseConfig(op, K, V, element, c.BV - 16, presolved);
  // With the number of (sequence, head) pairs known, count waves: a block
  // takes a whole SM (230-255 registers × 256 threads solving in the
  // chunk; presolved about 128, but mostly over half the shared memory),
  // and a chunk costs about (64 + BV) column-units (the C×C products and
  // the solve do not depend on BV). One wider tile in one wave beats two
  // narrow ones in two (the seed's 96 or 72 pairs, or 128 pairs of
  // K = V = 128 at B = 8).
  int64_t sequences = sequencesOf(op);
  int64_t heads = op.getV().getType().getDimSize(2);
  if (ShapedType::isDynamic(sequences) || ShapedType::isDynamic(heads) ||
      K > 128)
    return c;
  auto cost = [&](const ChunkedConfig &x) {
    int64_t tiles = (V + x.BV - 1) / x.BV;
    int64_t waves = (sequences * heads * tiles + kSMs - 1) / kSMs;
    return waves * (64 + x.BV) * (x.doubleBuffer ? 4 : 5);
  };
  for (int64_t cap = 80; cap <= kMaxTile; cap += 16) {
    ChunkedConfig wide = chooseConfig(op, K, V, element, cap, presolved);
    if (wide.BV > c.BV && wide.bytes <= kMaxShared &&
        wide.stateSlots * (wide.BV / 8) * (wide.momentum ? 2 : 1) <= 64 &&
        cost(wide) < cost(c))
      c = wide;
  }
  return c;
}

/// Where the chunks' T comes from (the delta rule only). The solve kernel
/// takes the solve off the chunked kernel's serial path, at the price of a
/// launch that reads K again and of T's round trip through HBM
/// (bench/results/gpu-h200-stop16.md; H200, bf16, H = 16, K = V = 128).
/// With momentum, whose value tiles each solved the same T, it pays at
/// every size measured (16 × 2048: 1.46 → 1.17 ms). Without, it pays where
/// the chunked kernel has at most one block per SM and the four warps
/// forming W' (K × BV) had finished long before the solve's four: at
/// K = 128 and BV = 64 (4 × 8192: 0.836 → 0.721 ms), Kp = 48, BV = 96
/// (the seed README's layer: 0.402 → 0.370). At BV = 128 (8 × 4096) W'
/// took as long as the solve, and the kernel lost 5 %; with more blocks
/// than SMs (16 × 2048, 512 blocks) the blocks hide each other's solves
/// and it lost 6 %. (Those were mma.sync kernels.) With wgmma and its
/// groups overlapped (§3.4, §3.5), the presolved kernel can start K S and
/// Q S from the chunk's start, and it won or tied there too
/// (bench/results/gpu-h200-stop23.md): 16 × 2048 0.489 → 0.486 ms,
/// 8 × 4096 0.489 → 0.472 (without the overlap it lost 1.6 % at 16 × 2048).
/// Without momentum, an unknown number of sequences or heads keeps the
/// in-chunk solve; so does a static T buffer (64·HV elements a token) past
/// the kernels' 32-bit indexing, whatever `solve` asks. `solve` = Kernel or
/// Chunk overrides the choice, to measure it again.
static ChunkedConfig chooseBySizes(ScanOp op, int64_t K, int64_t V,
                                   FloatType element,
                                   const ChunkedOptions &options,
                                   bool warpgroupMma) {
  ChunkedOptions::Solve solve = options.solve;
  auto tiling = [&](bool presolved) {
    return chooseTiling(op, K, V, element, presolved, options.valueTile);
  };
  if (!op.hasDeltaRule())
    return tiling(/*presolved=*/false);
  auto vType = op.getV().getType();
  int64_t sequences = sequencesOf(op), heads = vType.getDimSize(2);
  int64_t B = vType.getDimSize(0), T = vType.getDimSize(1);
  bool known = !ShapedType::isDynamic(sequences) &&
               !ShapedType::isDynamic(heads);
  // (With a dynamic length the bundle checks the buffer at launch.)
  if (solve == ChunkedOptions::Solve::Chunk ||
      (known && !ShapedType::isDynamic(B) && !ShapedType::isDynamic(T) &&
       (B * T / kChunk + sequences) * heads * kChunk * kChunk >
           std::numeric_limits<int32_t>::max()))
    return tiling(/*presolved=*/false);
  ChunkedConfig c = tiling(/*presolved=*/true);
  if (c.momentum)
    return c;
  int64_t pairs = known ? sequences * heads : 0;
  auto blocks = [&](const ChunkedConfig &x) {
    return pairs * ((V + x.BV - 1) / x.BV);
  };
  if (!known || blocks(c) > kSMs || c.Kp * c.BV > 128 * 64) {
    bool overlapped = warpgroupMma && options.wgmmaOverlap &&
                      withWarpgroupProducts(c, options.valueTile != 0).wgmma;
    return solve == ChunkedOptions::Solve::Kernel || (known && overlapped)
               ? c
               : tiling(/*presolved=*/false);
  }
  // At most one block an SM leaves SMs idle where the pairs are fewer
  // than the SMs. Narrow tiles of which two blocks fit an SM (presolved at
  // Kp ≤ 64 and BV 48 or 64: 121-128 registers, no spills; narrower ones
  // are not measured) can use them: counting a chunk as (64 + BV)
  // column-units as chooseTiling does, an SM running two blocks does
  // 2·(64 + BV') units about 1.4 times as fast as one (measured, H200,
  // B = 8, T = 4096: the seed code's layer, H = 9, K = 56, V = 112, one
  // tile of 112 against three of 48, 216 blocks: chunked kernel 390 → 347
  // µs, the layer 0.456 → 0.412 ms; the README's, H = 12, K = 42, V = 84,
  // 96 against two of 48, 192 blocks, was slower, 0.373 → 0.418 ms: the
  // count ties there at 160 units and keeps the wide tile, but the 1.4
  // fits the first layer only). The narrowest such tiles count cheapest.
  // (Not where the pass options fix the tile or the blocks an SM.)
  if (options.valueTile || options.blocksPerSM)
    return c;
  for (int64_t cap = 48; cap <= 64 && cap < c.BV; cap += 16) {
    ChunkedConfig narrow = chooseConfig(op, K, V, element, cap, true);
    narrow.twoPerSM = true;
    if (narrow.BV < 48 || narrow.BV > 64 || narrow.BV >= c.BV ||
        blocks(narrow) <= kSMs || blocks(narrow) > 2 * kSMs ||
        narrow.bytes > sharedLimit(narrow) || narrow.Kp > 64 ||
        2 * (64 + narrow.BV) * 10 >= (64 + c.BV) * 14)
      continue;
    return narrow;
  }
  return c;
}

ChunkedConfig chooseConfig(ScanOp op, int64_t K, int64_t V, FloatType element,
                           const ChunkedOptions &options, bool warpgroupMma) {
  ChunkedConfig c = chooseBySizes(op, K, V, element, options, warpgroupMma);
  // Two blocks an SM where the pass option asks for them: the layout within
  // half the SM's shared memory, q/k/v buffered once where twice does not
  // fit (whether it fits at all, the lowering checks).
  if (options.blocksPerSM == 2 && !c.twoPerSM) {
    c.twoPerSM = true;
    layoutShared(c);
  }
  return c;
}

static ChunkedConfig chooseConfig(ScanOp op, int64_t K, int64_t V,
                                  FloatType element, int64_t cap,
                                  bool presolved) {
  ChunkedConfig c;
  c.K = K;
  c.Kp = (K + 15) / 16 * 16;
  c.V = V;
  c.element = element;
  c.momentum = op.hasMomentum();
  c.delta = op.hasDeltaRule();
  c.decay = op.getDecay() == DecayKind::Scalar;
  c.presolved = presolved;
  c.stateSlots = (c.Kp / 16 + 3) / 4;
  // S and M within 64 floats per lane. (The wave count's wider caps, at
  // K ≤ 128, never narrow here: 2 slots × 16 × 2 = 64.)
  while (cap > 16 && c.stateSlots * (cap / 8) * (c.momentum ? 2 : 1) > 64)
    cap -= 16;
  int64_t tiles = (V + cap - 1) / cap;
  c.BV = ((V + tiles - 1) / tiles + 15) / 16 * 16;
  c.pairs = c.BV / 16;
  c.pairSlots = (c.pairs + 1) / 2;
  c.pitchK = c.Kp + 8;
  c.pitchV = c.BV + 8;
  layoutShared(c);
  return c;
}

/// Byte offsets of c's tiles in shared memory, and whether q/k/v fit twice.
/// `separateU` allows U a tile of its own (see offU) where that keeps the
/// buffering the layout without it has.
static void layoutShared(ChunkedConfig &c, bool separateU) {
  auto layout = [&](bool twice, bool ownU, bool yInV) {
    int64_t off = 0;
    auto take = [&](int64_t bytes) {
      int64_t at = off;
      off += (bytes + 127) / 128 * 128;
      return at;
    };
    // Swizzled tiles start at multiples of 1024 bytes (tileIndices): the
    // offset is aligned before each group of them (q, k; v; T; S, M and
    // the rest), and their sizes are multiples of 1024.
    auto align = [&] {
      if (c.wgmma)
        off = (off + 1023) / 1024 * 1024;
    };
    int64_t qkBytes = kChunk * (c.wgmma ? c.Kp : c.pitchK) * 2,
            vBytes = kChunk * (c.wgmma ? c.BV : c.pitchV) * 2;
    c.offQ = take(qkBytes);
    c.offK = take(qkBytes);
    align();
    c.offV = take(vBytes);
    int64_t tileC = kChunk * (c.wgmma ? kChunk : kChunk + 8) * 2;
    align();
    c.offT = c.presolved ? take(tileC) : -1;
    c.offRaw = take(kRawGates * kChunk * 4);
    if (twice)
      align();
    c.bufferBytes = off;
    if (twice)
      off *= 2;
    int64_t tileV = vBytes;
    int64_t f32C = kChunk * (kChunk + 4) * 4;
    int64_t stateBytes = c.Kp * (c.wgmma ? c.BV : c.pitchV) * 2;
    align();
    c.offS = take(stateBytes);
    c.offM = c.momentum ? take(stateBytes) : -1;
    c.offW = take(tileV);
    c.offU = ownU ? take(tileV) : c.offW;
    c.offY = yInV ? c.offV : take(tileV);
    c.offZ = c.momentum ? take(tileV) : -1;
    if (c.delta && !c.presolved)
      c.offT = take(tileC);
    c.offP = take(tileC);
    c.offPO = c.momentum ? take(tileC) : -1;
    c.offLE = c.momentum && c.delta ? take(tileC) : -1;
    c.offL = c.delta && !c.presolved ? take(f32C) : -1;
    c.offOm = c.momentum ? take(f32C) : -1;
    c.offG = take(kChunk * 4);
    c.offA = take(kChunk * 4);
    c.offB = take(kChunk * 4);
    c.offWf = take(kChunk * 4);
    c.offGam = take((kChunk + 1) * 4);
    c.offZero = take(4);
    c.bytes = off;
  };
  // U's own tile only where it costs no buffering, and Y in v's tile only
  // where q/k/v would not fit twice otherwise: the first of these that fits
  // (where none does, the last, and chooseTiling narrows the tile).
  const bool wantU = separateU && c.delta && !c.momentum;
  const bool canYInV = c.delta && !c.momentum;
  struct Try {
    bool twice, ownU, yInV;
  };
  const Try tries[] = {{true, wantU, false},   {true, false, false},
                       {true, wantU, canYInV}, {true, false, canYInV},
                       {false, wantU, false},  {false, false, false}};
  for (Try t : tries) {
    layout(t.twice, t.ownU, t.yInV);
    c.doubleBuffer = t.twice;
    if (c.bytes <= sharedLimit(c))
      break;
  }
}

/// c with its products on wgmma where the target has it (sm_90a), where
/// each warpgroup's half of the value tile is one panel of a swizzled
/// layout (BV = 128: 64 columns, 128-byte swizzle; BV = 64: 32 columns,
/// 64-byte swizzle; with narrowPanels also BV = 32: 16 columns, 32-byte
/// swizzle) and k fills whole 64-column panels (Kp a multiple of 64).
/// Decided after the tiling: the swizzled tiles have no padding, so the
/// layout needs no more shared memory than the padded one. (32-column
/// tiles take wgmma only where the value tile is set by hand, §3.7, until
/// a GPU has checked the 32-byte swizzle: by the sizes they keep mma.sync.)
static ChunkedConfig withWarpgroupProducts(ChunkedConfig c, bool narrowPanels) {
  if ((c.BV != 128 && c.BV != 64 && !(narrowPanels && c.BV == 32)) ||
      c.Kp % 64 != 0 || c.pairs != 2 * c.pairSlots)
    return c;
  ChunkedConfig w = c;
  w.wgmma = true;
  layoutShared(w);
  return w.bytes <= sharedLimit(w) ? w : c;
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

/// The 16×16 block X Kᵀ at rows m0, columns n0 of each row-major tile X in
/// `rowTiles` (q or k rows; Kp/16 k steps), K's B fragments loaded once for
/// all of them: result[i] holds columns n0.. and n0 + 8.. as accumulators.
static SmallVector<std::array<Value, 2>>
blockProductsWithRows(KernelBuilder &e, WarpMma &mma, ArrayRef<Value> rowTiles,
                      Value sK, Value m0, Value n0, int64_t Kp) {
  SmallVector<std::array<Value, 2>> acc;
  for (size_t i = 0; i < rowTiles.size(); ++i)
    acc.push_back({e.vcst(0.0, 4), e.vcst(0.0, 4)});
  for (int64_t ks = 0; ks < Kp / 16; ++ks) {
    Value k0 = e.idx(16 * ks);
    auto [b0, b1] = mma.loadBFromRows(sK, n0, k0);
    for (auto [tile, pair] : llvm::zip(rowTiles, acc)) {
      WarpMma::Frag f = mma.loadA(tile, m0, k0);
      pair[0] = mma.mma(pair[0], f, b0);
      pair[1] = mma.mma(pair[1], f, b1);
    }
  }
  return acc;
}

/// (I + L)⁻¹ of the strictly lower triangular 64×64 L held in `sL` (f32,
/// pitch 68), in place, and its rounded copy in `sT` (docs/gpu.md §3.2).
/// Diagonal 16×16 blocks by forward substitution, one column per lane; the
/// 32×32 blocks [[A, 0], [B, C]]⁻¹ = [[A⁻¹, 0], [−C⁻¹BA⁻¹, C⁻¹]] by 16×16
/// products on tensor cores (3×tf32), one block per warp. Warps 0-3 call
/// it; `barrier` synchronises exactly those.
static void solveUnitLower(KernelBuilder &e, WarpMma &mma, Value sL, Value sT,
                           Value warp, Value lane,
                           function_ref<void()> barrier) {
  ImplicitLocOpBuilder &b = e.b;
  Value zero = e.cst(0.0);
  auto syncWarp = [&] {
    NVVM::SyncWarpOp::create(b, arith::ConstantIntOp::create(b, -1, 32));
  };
  auto storeBoth = [&](Value x, Value row, Value col, bool rounded) {
    memref::StoreOp::create(b, x, sL, ValueRange{row, col});
    if (rounded)
      memref::StoreOp::create(b, arith::TruncFOp::create(b, mma.element, x), sT,
                              tileIndices(e, sT, row, col));
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
      // One FMA a term: the chain from x[r − 1] to x[r] is one FMA long.
      for (int64_t cc = 0; cc < r; ++cc)
        sum = e.fma(arith::NegFOp::create(b, row[cc]), x[cc], sum);
      x.push_back(sum);
    }
    syncWarp();
    e.when(e.ult(lane, e.idx(16)), [&] {
      for (int64_t r = 0; r < 16; ++r)
        storeBoth(x[r], e.iadd(base, e.idx(r)), e.iadd(base, j), true);
    });
  }
  barrier();

  // 16×16 block products on tensor cores: mma.m16n8k8 with the f32
  // operands split in two tf32 halves (3×tf32, at worst 3·2⁻²⁰: T is an f32
  // inverse whose blocks feed the later products; its rounded copy is what
  // U = T W' takes). A warp's 16×16 result is two 16×8 accumulators, lane
  // (g, c) holding rows g and g + 8 of columns 2c, 2c + 1 of each: eight
  // floats, as the CUDA-core products held (which took 128 dependent-ish
  // FMAs a lane and block, and most of a chunk's solve).
  Value g = mma.g, c = e.irem(lane, e.idx(4)), c2 = mma.c2;
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
  auto at = [&](int64_t blockRow, Value r, int64_t blockCol, Value col) {
    return SmallVector<Value>{e.iadd(e.idx(16 * blockRow), r),
                              e.iadd(e.idx(16 * blockCol), col)};
  };
  auto split = [&](Value row, Value col) {
    return splitTF32Truncated(
        e, memref::LoadOp::create(b, sL, ValueRange{row, col}));
  };
  auto compute = [&](const Job &job) -> SmallVector<Value> {
    Value acc[2] = {e.vcst(0.0, 4), e.vcst(0.0, 4)};
    for (const Product &p : job.products)
      for (int64_t ks = 0; ks < 2; ++ks) {
        // A 16×8 at k0 = 8·ks: (g, c), (g + 8, c), (g, c + 4), (g + 8, c + 4).
        SmallVector<Value> aHi, aLo;
        for (int64_t i = 0; i < 4; ++i) {
          Value r = i % 2 ? e.iadd(g, e.idx(8)) : g;
          Value k = e.iadd(c, e.idx(8 * ks + 4 * (i / 2)));
          SmallVector<Value> idx = at(p.ar, r, p.ac, k);
          auto [hi, lo] = split(idx[0], idx[1]);
          aHi.push_back(hi);
          aLo.push_back(lo);
        }
        for (int64_t nt = 0; nt < 2; ++nt) {
          // B 8×8 of n-tile nt: (k c, n g), (k c + 4, n g).
          SmallVector<Value> bHi, bLo;
          for (int64_t i = 0; i < 2; ++i) {
            SmallVector<Value> idx =
                at(p.br, e.iadd(c, e.idx(8 * ks + 4 * i)), p.bc,
                   e.iadd(g, e.idx(8 * nt)));
            auto [hi, lo] = split(idx[0], idx[1]);
            bHi.push_back(hi);
            bLo.push_back(lo);
          }
          // The small terms first.
          acc[nt] = mmaTF32(e, acc[nt], aHi, bLo);
          acc[nt] = mmaTF32(e, acc[nt], aLo, bHi);
          acc[nt] = mmaTF32(e, acc[nt], aHi, bHi);
        }
      }
    SmallVector<Value> out;
    for (Value x : acc)
      for (int64_t i = 0; i < 4; ++i) {
        Value v = e.element(x, i);
        out.push_back(job.negate ? arith::NegFOp::create(b, v) : v);
      }
    return out;
  };
  auto phase = [&](ArrayRef<Job> jobs, bool warpLocal) {
    // A warp-local phase reads what other lanes of its warp stored in the
    // previous one (a barrier orders the others).
    if (warpLocal)
      syncWarp();
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
      barrier();
    for (const Job &job : jobs)
      e.when(e.ieq(warp, e.idx(job.warp)), [&] {
        for (int64_t nt = 0; nt < 2; ++nt)
          for (int64_t half = 0; half < 2; ++half) {
            Value two = e.fromElements(
                ArrayRef<Value>(result).slice(4 * nt + 2 * half, 2));
            SmallVector<Value> idx =
                at(job.dr, half ? e.iadd(g, e.idx(8)) : g, job.dc,
                   e.iadd(c2, e.idx(8 * nt)));
            e.vstore(two, sL, idx);
            if (job.final)
              e.vstore(arith::TruncFOp::create(
                           b, VectorType::get({2}, mma.element), two),
                       sT, tileIndices(e, sT, idx[0], idx[1]));
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
  barrier();
  // X = B A⁻¹, then −C⁻¹ X.
  phase({{0, {{2, 0, 0, 0}, {2, 1, 1, 0}}, false, 2, 0, false},
         {1, {{2, 1, 1, 1}}, false, 2, 1, false},
         {2, {{3, 0, 0, 0}, {3, 1, 1, 0}}, false, 3, 0, false},
         {3, {{3, 1, 1, 1}}, false, 3, 1, false}},
        /*warpLocal=*/false);
  barrier();
  phase({{0, {{2, 2, 2, 0}}, true, 2, 0, true},
         {1, {{2, 2, 2, 1}}, true, 2, 1, true},
         {2, {{3, 2, 2, 0}, {3, 3, 3, 0}}, true, 3, 0, true},
         {3, {{3, 2, 2, 1}, {3, 3, 3, 1}}, true, 3, 1, true}},
        /*warpLocal=*/false);
}

/// Elements one cp.async moves along rows of d 16-bit elements: 16, 8 or 4
/// bytes, the widest that divides a row.
static int64_t asyncWidth(int64_t d) {
  return d % 8 == 0 ? 8 : d % 4 == 0 ? 4 : 2;
}

/// The 64 token rows of a chunk into `tile` ([64][pitch], 16-bit elements)
/// by cp.async, `threads` threads from `tid`, `width` elements a copy over
/// `cols` columns: element col of row t from buffer[rowBase(t) + col],
/// zero-filled (src-size 0) where t ≥ len or col ≥ colLimit.
static void copyRowsAsync(KernelBuilder &e, Value tid, int64_t threads,
                          Value tile, Value buffer, int64_t width,
                          int64_t cols, Value len,
                          function_ref<Value(Value)> rowBase, Value colLimit) {
  ImplicitLocOpBuilder &b = e.b;
  int64_t perRow = cols / width;
  Value lastCol = e.isub(colLimit, e.idx(width));
  for (int64_t x0 = 0; x0 < kChunk * perRow; x0 += threads) {
    Value x = e.iadd(tid, e.idx(x0));
    auto body = [&] {
      Value t = e.idiv(x, e.idx(perRow));
      Value col = e.imul(e.irem(x, e.idx(perRow)), e.idx(width));
      Value ok = e.iand(e.ult(t, len), e.ult(col, colLimit));
      Value src = e.iadd(rowBase(t), e.imin(col, lastCol));
      Value count = e.select(ok, e.idx(width), e.idx(0));
      nvgpu::DeviceAsyncCopyOp::create(
          b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), tile,
          tileIndices(e, tile, t, col), buffer, ValueRange{src},
          b.getIndexAttr(width), count,
          width * 2 == 16 ? b.getUnitAttr() : UnitAttr());
    };
    if (x0 + threads <= kChunk * perRow)
      body();
    else
      e.when(e.ult(x, e.idx(kChunk * perRow)), body);
  }
}

/// The first slot of the sequence whose tokens start at `first` (counted
/// over the whole flattened batch: n·T, or cu_seqlens[n]) in the solve
/// kernel's T buffer [slots, HV, 64, 64]: ⌊first/64⌋ + n. Sequence n's
/// chunks take slots ⌊first/64⌋ + n + c, c < ⌈length/64⌉, which end before
/// sequence n + 1's first (⌊(first + length)/64⌋ + n + 1 ≥ the last + 1),
/// and the largest is below ⌊tokens/64⌋ + N, the buffer's slot count.
static Value solveSlot(KernelBuilder &e, Value first, Value n) {
  return e.iadd(e.idiv(first, e.idx(kChunk)), n);
}

/// Shared-memory layout of the solve kernel.
struct SolveLayout {
  int64_t offK, offL, offT, offG, offB, offSeq, bytes;
};
static SolveLayout solveLayout(const ChunkedConfig &c) {
  SolveLayout l;
  int64_t off = 0;
  auto take = [&](int64_t bytes) {
    int64_t at = off;
    off += (bytes + 127) / 128 * 128;
    return at;
  };
  l.offK = take(kChunk * c.pitchK * 2);
  l.offL = take(kChunk * (kChunk + 4) * 4);
  l.offT = take(kChunk * (kChunk + 8) * 2);
  l.offG = take(kChunk * 4);
  l.offB = take(kChunk * 4);
  l.offSeq = take(4 * kSearchRounds);
  l.bytes = off;
  return l;
}

/// The solve kernel (docs/gpu.md §3.2): T = (I + L)⁻¹ of every chunk of
/// every sequence and value head at once, one block of four warps per
/// (slot, head), rounded to the input type into `t_inverse` [slots, HV,
/// 64, 64] (the blocks above the diagonal zero). T depends only on K and
/// the gates, not on the state, so this takes the solve off the chunked
/// kernel's serial path: that kernel walks a sequence's chunks one after
/// the other, and where there are fewer (sequence, head, tile) blocks than
/// SMs, its chunk latency is the run time. With `gain` (the paper form,
/// gainFormedBySolveKernel), it also writes that op's gain of every token
/// into `gain` [B, T, HV], which saves the gain kernel's launch and its
/// second read of K.
static void emitSolveKernel(ScanOp op, Rank1GainOp gain,
                            const ChunkedConfig &c, gpu::GPUFuncOp func,
                            ArrayRef<std::string> names) {
  MLIRContext *ctx = op.getContext();
  ImplicitLocOpBuilder b(op.getLoc(), ctx);
  b.setInsertionPointToStart(&func.getBody().front());
  KernelBuilder e(b, b.getF32Type());
  auto arg = [&](StringRef n) { return kernelArg(func, names, n); };
  Value k = arg("k"), g = arg("g"), beta = arg("beta"), cu = arg("cu_seqlens"),
        tInverse = arg("t_inverse"), vBuf = arg("v"), gainOut = arg("gain");
  Value T = e.toIndex(arg("T")), H = e.toIndex(arg("H")),
        HV = e.toIndex(arg("HV"));
  // N1: the sequences, or cu_seqlens' size (one more).
  Value N = e.toIndex(arg("N1"));
  if (cu)
    N = e.isub(N, e.idx(1));
  const int64_t K = c.K, Kp = c.Kp;
  const double eta = op.getDeltaRule()->convertToDouble();
  FloatType et = c.element;
  Type f32 = b.getF32Type();
  SolveLayout l = solveLayout(c);

  auto addressSpace =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Value raw = sharedBytes(b, l.bytes);
  auto view = [&](int64_t offset, ArrayRef<int64_t> shape, Type element) {
    auto type = MemRefType::get(shape, element, AffineMap(), addressSpace);
    return memref::ViewOp::create(b, type, raw, e.idx(offset), ValueRange{})
        .getResult();
  };
  Value sK = view(l.offK, {kChunk, c.pitchK}, et);
  Value sL = view(l.offL, {kChunk, kChunk + 4}, f32);
  Value sT = view(l.offT, {kChunk, kChunk + 8}, et);
  Value sG = view(l.offG, {kChunk}, f32);
  Value sB = view(l.offB, {kChunk}, f32);
  Value sSeq = view(l.offSeq, {kSearchRounds}, b.getI32Type());

  Value tid = e.threadId();
  Value warp = e.idiv(tid, e.idx(32)), lane = e.irem(tid, e.idx(32));
  Value rb = warp;
  WarpMma mma(e, et, e.threadId());
  mma.setLane(lane);
  Value slot = e.blockId(gpu::Dimension::x);
  Value h = e.blockId(gpu::Dimension::y);
  Value kh = e.idiv(h, e.idiv(HV, H));

  // Whose slot is it: the last n with firstSlot(n) ≤ slot (firstSlot
  // increases with n, and firstSlot(0) = 0). A 128-ary search: each round
  // the 128 threads test candidates spread evenly over [lo, hi), and the
  // largest that passes (an atomic max in shared memory, one word a
  // round so that no thread reads a word the next round writes) becomes
  // lo, hi = lo + the spread: one round up to 128 sequences, two up to
  // 16384. A slot past its sequence's chunks finds that sequence and
  // solves nothing below; invalid cu_seqlens (which the bundle rejects)
  // still give an n < N.
  auto globalFirst = [&](Value n) -> Value {
    if (!cu)
      return e.imul(n, T); // as KernelBuilder::sequence: row n, first 0
    Value first = arith::IndexCastOp::create(b, b.getIndexType(),
                                             e.loadRaw(cu, n));
    return e.imin(first, T);
  };
  e.when(e.ult(tid, e.idx(kSearchRounds)),
         [&] { e.storeRaw(e.toI32(e.idx(0)), sSeq, {tid}); });
  e.barrier();
  // Rounds: 1 + [N > 128] + [N > 128²] + …, the same in every thread.
  Value rounds = e.idx(1);
  for (int64_t r = 1, reach = kSolveThreads; r < kSearchRounds;
       ++r, reach *= kSolveThreads)
    rounds = e.iadd(rounds, e.select(e.ult(e.idx(reach), N), e.idx(1),
                                     e.idx(0)));
  SmallVector<Value> range = e.loop(
      e.idx(0), rounds, e.idx(1), {e.idx(0), N},
      [&](Value round, ValueRange lohi) -> SmallVector<Value> {
        Value lo = lohi[0], hi = lohi[1];
        Value spread =
            arith::CeilDivUIOp::create(b, e.isub(hi, lo), e.idx(kSolveThreads));
        Value n = e.iadd(lo, e.imul(tid, spread));
        e.when(e.ult(n, hi), [&] {
          e.when(e.ule(solveSlot(e, globalFirst(n), n), slot), [&] {
            memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::maxu,
                                        e.toI32(n), sSeq, ValueRange{round});
          });
        });
        e.barrier();
        Value found = e.toIndex(e.loadRaw(sSeq, {round}));
        return {found, e.imin(e.iadd(found, spread), hi)};
      });
  Value n = range[0];
  e.when(e.ult(n, N), [&] {
    KernelBuilder::Sequence sequence = e.sequence(cu, n, T);
    Value rowBase = e.imul(sequence.row, T);
    Value firstSlot = solveSlot(e, e.iadd(rowBase, sequence.first), n);
    Value chunk = e.isub(slot, firstSlot);
    Value start = e.iadd(sequence.first, e.imul(chunk, e.idx(kChunk)));
    // A slot past its sequence's chunks (or past the batch) has no T to
    // solve: the chunked kernel never reads it. (Nor has one before the
    // sequence's first, which only invalid cu_seqlens leave.)
    e.when(e.iand(e.ule(firstSlot, slot), e.ult(start, sequence.last)), [&] {
      Value len = e.imin(e.isub(sequence.last, start), e.idx(kChunk));
      auto tokenRow = [&](Value t) {
        return e.iadd(rowBase, e.iadd(start, e.imin(t, e.isub(len, e.idx(1)))));
      };
      // K's rows by cp.async, zero-filled past the sequence and K.
      copyRowsAsync(
          e, tid, kSolveThreads, sK, k, asyncWidth(K), Kp, len,
          [&](Value t) {
            return e.imul(e.iadd(e.imul(tokenRow(t), H), kh), e.idx(K));
          },
          e.idx(K));
      Value token = nvgpu::DeviceAsyncCreateGroupOp::create(
          b, nvgpu::DeviceAsyncTokenType::get(ctx), ValueRange{});
      // The paper form's gain (§1.1) beside T, two lanes a token: v's rows
      // loaded from global memory while K and the gates arrive (16 bytes
      // a load where the rows allow), their squares summed below with
      // K's from shared memory. (Summed as they arrived, their latency
      // came before the gates' loads instead of beside them: the kernel
      // took 172 µs instead of 163 at 16 × 2048, K = V = 128; 126 without
      // the gain, whose own kernel took 68.)
      auto squares = [&](Value row, int64_t width) {
        Value x = e.convert(row, VectorType::get({width}, f32));
        return e.dot(x, x);
      };
      Value gainToken, gainHalf, gainRow, gainBeta;
      SmallVector<Value> vRows;
      const int64_t V = c.V, w = rowVectorWidth(op.getV().getType());
      if (gain) {
        gainToken = e.idiv(tid, e.idx(2));
        gainHalf = e.irem(tid, e.idx(2));
        gainRow = e.iadd(e.imul(tokenRow(gainToken), HV), h);
        for (int64_t j0 = 0; j0 < V; j0 += 2 * w) {
          // The second lane of a last round past V loads the row's last
          // vector, and drops it below.
          Value j = e.iadd(e.idx(j0), e.imul(gainHalf, e.idx(w)));
          Value at = e.iadd(e.imul(gainRow, e.idx(V)), e.imin(j, e.idx(V - w)));
          vRows.push_back(e.vload(vBuf, {at}, w));
        }
        if (beta)
          gainBeta = e.load(beta, gainRow);
      }
      // The gates: b_t = η·β_t (0 past the sequence), and G the cumulated
      // log decay (warp 0 lane l: tokens 2l and 2l + 1).
      auto gate = [&](Value buffer, Value t, Value fallback) -> Value {
        Value x = buffer ? e.load(buffer, e.iadd(e.imul(tokenRow(t), HV), h))
                         : fallback;
        return e.select(e.ult(t, len), x, e.cst(0.0));
      };
      e.when(e.ult(tid, e.idx(kChunk)), [&] {
        e.storeRaw(e.mul(e.cst(eta), gate(beta, tid, e.cst(1.0))), sB, {tid});
      });
      if (c.decay)
        e.when(e.ieq(warp, e.idx(0)), [&] {
          Value t0 = e.imul(lane, e.idx(2)), t1 = e.iadd(t0, e.idx(1));
          Value g0 = gate(g, t0, e.cst(0.0)), g1 = gate(g, t1, e.cst(0.0));
          Value sum = e.add(g0, g1);
          Value inclusive = e.warpInclusiveScan(sum, lane);
          e.storeRaw(e.add(e.sub(inclusive, sum), g0), sG, {t0});
          e.storeRaw(inclusive, sG, {t1});
        });
      nvgpu::DeviceAsyncWaitOp::create(b, token, b.getI32IntegerAttr(0));
      e.barrier();

      if (gain) {
        // K's rows are zero past K (and Kp is a multiple of 16).
        Value kk = e.cst(0.0);
        for (int64_t j0 = 0; j0 < Kp; j0 += 16) {
          Value col = e.iadd(e.idx(j0), e.imul(gainHalf, e.idx(8)));
          kk = e.add(kk, squares(e.vload(sK, {gainToken, col}, 8), 8));
        }
        Value vv = e.cst(0.0);
        for (auto [r, row] : llvm::enumerate(vRows)) {
          Value part = squares(row, w);
          if (int64_t(r) * 2 * w + w >= V)
            part = e.select(e.ieq(gainHalf, e.idx(0)), part, e.cst(0.0));
          vv = e.add(vv, part);
        }
        Value ww = e.groupSum(vv, 2);
        if (beta)
          ww = e.mul(e.mul(gainBeta, gainBeta), ww);
        Value result = rank1GainFromSums(e, gain, e.groupSum(kk, 2), ww);
        e.when(e.iand(e.ieq(gainHalf, e.idx(0)), e.ult(gainToken, len)),
               [&] { e.store(result, gainOut, gainRow); });
      }

      // L = strict_lower(b·A ⊙ D), A = K Kᵀ, on the pairs np ≤ rb, as the
      // chunked kernel forms it.
      Value m0 = e.imul(rb, e.idx(16));
      Value rowLo = e.iadd(m0, mma.g), rowHi = e.iadd(rowLo, e.idx(8));
      Value bRow[2] = {e.loadRaw(sB, {rowLo}), e.loadRaw(sB, {rowHi})};
      Value gRow[2] = {c.decay ? e.loadRaw(sG, {rowLo}) : Value(),
                       c.decay ? e.loadRaw(sG, {rowHi}) : Value()};
      for (int64_t pair = 0; pair < 4; ++pair) {
        Value np = e.idx(pair);
        e.when(e.ule(np, rb), [&] {
          Value n0 = e.idx(16 * pair);
          std::array<Value, 2> a =
              blockProductsWithRows(e, mma, {sK}, sK, m0, n0, Kp)[0];
          Value dd[2] = {e.isub(e.isub(rowLo, mma.c2), n0),
                         e.isub(e.isub(rowHi, mma.c2), n0)};
          for (int64_t hf = 0; hf < 2; ++hf) {
            SmallVector<Value> lF;
            for (int64_t r = 0; r < 4; ++r) {
              Value s = e.iadd(n0, e.iadd(e.idx(8 * hf), mma.accCol(r)));
              Value below =
                  arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, dd[r / 2],
                                        e.idx(8 * hf + r % 2));
              Value dw = c.decay ? e.exp(e.sub(gRow[r / 2], e.loadRaw(sG, {s})))
                                 : e.cst(1.0);
              lF.push_back(e.select(
                  below, e.mul(e.mul(bRow[r / 2], e.element(a[hf], r)), dw),
                  e.cst(0.0)));
            }
            for (int64_t half = 0; half < 2; ++half)
              e.vstore(e.fromElements({lF[2 * half], lF[2 * half + 1]}), sL,
                       {half ? rowHi : rowLo,
                        e.iadd(n0, e.iadd(e.idx(8 * hf), mma.c2))});
          }
        });
      }
      e.barrier();
      solveUnitLower(e, mma, sL, sT, warp, lane, [&] { e.barrier(); });
      e.barrier();

      // T's rows, 16 bytes a thread and store; the blocks above the diagonal
      // (never written by the solve, never read by the chunked kernel) zero.
      Value base = e.imul(e.iadd(e.imul(slot, HV), h), e.idx(kChunk * kChunk));
      auto vecType = VectorType::get({8}, et);
      Value zeros = arith::ConstantOp::create(
          b, vecType, DenseElementsAttr::get(vecType, b.getFloatAttr(et, 0.0)));
      for (int64_t x0 = 0; x0 < kChunk * kChunk / 8; x0 += kSolveThreads) {
        Value x = e.iadd(tid, e.idx(x0));
        Value t = e.idiv(x, e.idx(kChunk / 8));
        Value col = e.imul(e.irem(x, e.idx(kChunk / 8)), e.idx(8));
        Value above = e.ult(e.idiv(t, e.idx(16)), e.idiv(col, e.idx(16)));
        Value row = e.select(above, zeros, e.vload(sT, {t, col}, 8));
        e.vstore(row, tInverse,
                 {e.iadd(base, e.iadd(e.imul(t, e.idx(kChunk)), col))});
      }
    });
  });
  gpu::ReturnOp::create(b);
}

void ChunkedKernel::emit(gpu::GPUFuncOp func, ArrayRef<std::string> names) {
  MLIRContext *ctx = op.getContext();
  ImplicitLocOpBuilder b(op.getLoc(), ctx);
  b.setInsertionPointToStart(&func.getBody().front());
  KernelBuilder e(b, b.getF32Type());
  auto arg = [&](StringRef n) { return kernelArg(func, names, n); };
  Value q = arg("q"), k = arg("k"), v = arg("v"), g = arg("g"),
        beta = arg("beta"), gain = arg("gain"), cu = arg("cu_seqlens"),
        s0 = arg("initial_state"), m0in = arg("initial_momentum"),
        o = arg("o"), finalState = arg("final_state"),
        finalMomentum = arg("final_momentum"), tInverse = arg("t_inverse");
  Value T = e.toIndex(arg("T")), H = e.toIndex(arg("H")),
        HV = e.toIndex(arg("HV"));
  const int64_t K = c.K, Kp = c.Kp, V = c.V, BV = c.BV;
  Value Kc = e.idx(K), Vc = e.idx(V);
  const bool delta = c.delta, decay = c.decay, momentum = c.momentum;
  const double eta = delta ? op.getDeltaRule()->convertToDouble() : 0.0;
  const double tau = op.getTau().convertToDouble();
  const double scale = op.getScale().convertToDouble();
  const double gamma = momentum ? op.getMomentum()->convertToDouble() : 0.0;
  FloatType et = c.element;
  Type f32 = b.getF32Type();

  // ---- Shared memory: typed views of the dynamic shared buffer.
  auto addressSpace =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Value raw = sharedBytes(b, c.bytes);
  auto view = [&](Value shift, int64_t offset, ArrayRef<int64_t> shape,
                  Type element) -> Value {
    if (offset < 0)
      return {};
    auto type = MemRefType::get(shape, element, AffineMap(), addressSpace);
    return memref::ViewOp::create(b, type, raw, e.iadd(shift, e.idx(offset)),
                                  ValueRange{})
        .getResult();
  };
  // The products' operand tiles: padded rows, or where c.wgmma swizzled
  // panels, of 64 columns for q, k and the C×C tiles (`keyPanels`), and for
  // the tiles of value columns (S, M, v, W', Y, Z) of BV/2, one a
  // warpgroup.
  auto operandView = [&](Value shift, int64_t offset, int64_t rows,
                         int64_t cols, int64_t pitch, bool keyPanels) -> Value {
    if (offset < 0)
      return {};
    if (!c.wgmma)
      return view(shift, offset, {rows, pitch}, et);
    return memref::ViewOp::create(
               b,
               swizzledTileType(ctx, rows, cols, et, keyPanels ? 64 : BV / 2),
               raw, e.iadd(shift, e.idx(offset)), ValueRange{})
        .getResult();
  };
  // Inside the chunk loop every view sits at a loop-variant byte shift: the
  // buffer parity for Q, K, V, and for the others a value loaded from shared
  // memory (always 0). LLVM cannot hoist that load over the loop's barriers,
  // so each tile address is one lane base plus constants that ptxas folds
  // into the ldmatrix/ld immediates. With a constant shift, LICM hoists each
  // of the hundreds of distinct fragment addresses out of the loop into its
  // own register, and the kernel spills.
  Value sQ, sK, sV, sRaw, sS, sM, sW, sU, sY, sZ, sT, sP, sPO, sLE, sL, sOm, sG,
      sA, sB, sWf, sGam;
  const int64_t pK = c.pitchK, pV = c.pitchV;
  // Y in the chunk's own v tile (offY, layoutShared): bound with v.
  const bool yInV = c.offY == c.offV;
  // wgmma's descriptors take each tile's address from the shared buffer's
  // base plus constants and the buffer parity: values the same in every
  // thread, which ptxas keeps in uniform registers, where the views' own
  // addresses (with the zero loaded from shared memory) would each cost a
  // move to one per product step.
  DenseMap<Value, Value> uniformAddress;
  Value sharedBase =
      c.wgmma
          ? memref::ExtractAlignedPointerAsIndexOp::create(b, raw).getResult()
          : Value();
  auto wgmmaAddress = [&](Value tile, int64_t offset, Value uniformShift) {
    if (c.wgmma && tile)
      uniformAddress[tile] =
          e.iadd(sharedBase, e.iadd(uniformShift, e.idx(offset)));
  };
  auto bindBuffers = [&](Value shift, Value uniformShift) {
    sQ = operandView(shift, c.offQ, kChunk, Kp, pK, true);
    sK = operandView(shift, c.offK, kChunk, Kp, pK, true);
    sV = operandView(shift, c.offV, kChunk, BV, pV, false);
    if (yInV)
      sY = sV;
    sRaw = view(shift, c.offRaw, {kRawGates, kChunk}, f32);
    if (c.presolved)
      sT = operandView(shift, c.offT, kChunk, kChunk, kChunk + 8, true);
    for (auto [tile, offset] :
         {std::pair(sQ, c.offQ), std::pair(sK, c.offK), std::pair(sV, c.offV)})
      wgmmaAddress(tile, offset, uniformShift);
    if (c.presolved)
      wgmmaAddress(sT, c.offT, uniformShift);
  };
  auto bindTiles = [&](Value shift, Value uniformShift) {
    sS = operandView(shift, c.offS, Kp, BV, pV, false);
    sM = operandView(shift, c.offM, Kp, BV, pV, false);
    sW = operandView(shift, c.offW, kChunk, BV, pV, false);
    sU = c.offU == c.offW ? sW
                          : operandView(shift, c.offU, kChunk, BV, pV, false);
    if (!yInV)
      sY = operandView(shift, c.offY, kChunk, BV, pV, false);
    sZ = operandView(shift, c.offZ, kChunk, BV, pV, false);
    if (!c.presolved)
      sT = operandView(shift, c.offT, kChunk, kChunk, kChunk + 8, true);
    sP = operandView(shift, c.offP, kChunk, kChunk, kChunk + 8, true);
    sPO = operandView(shift, c.offPO, kChunk, kChunk, kChunk + 8, true);
    sLE = operandView(shift, c.offLE, kChunk, kChunk, kChunk + 8, true);
    sL = view(shift, c.offL, {kChunk, kChunk + 4}, f32);
    sOm = view(shift, c.offOm, {kChunk, kChunk + 4}, f32);
    sG = view(shift, c.offG, {kChunk}, f32);
    sA = view(shift, c.offA, {kChunk}, f32);
    sB = view(shift, c.offB, {kChunk}, f32);
    sWf = view(shift, c.offWf, {kChunk}, f32);
    sGam = view(shift, c.offGam, {kChunk + 1}, f32);
    for (auto [tile, offset] :
         {std::pair(sS, c.offS), std::pair(sM, c.offM), std::pair(sW, c.offW),
          std::pair(sU, c.offU), std::pair(sY, yInV ? -1 : c.offY),
          std::pair(sZ, c.offZ), std::pair(sP, c.offP), std::pair(sPO, c.offPO),
          std::pair(sLE, c.offLE)})
      if (offset >= 0)
        wgmmaAddress(tile, offset, uniformShift);
    if (!c.presolved)
      wgmmaAddress(sT, c.offT, uniformShift);
  };
  bindBuffers(e.idx(0), e.idx(0));
  bindTiles(e.idx(0), e.idx(0));
  Value sZero = view(e.idx(0), c.offZero, {1}, b.getI32Type());

  // ---- Who am I. bindLane derives every per-lane value from a thread id:
  // inside the chunk loop from tid + (a loop-variant zero), so that LLVM
  // recomputes them in the loop instead of hoisting hundreds of per-lane
  // constants (predicates, offsets) into registers for the whole loop.
  const int64_t PS = c.pairSlots, mTiles = Kp / 16;
  Value tid, warp, lane, rb, cs, m0, rowLo, rowHi;
  WarpMma mma(e, et, e.threadId());
  SmallVector<Value> pairN0, pairValid, slotRow, slotValid;
  auto bindLane = [&](Value threadId) {
    tid = threadId;
    warp = e.idiv(tid, e.idx(32));
    lane = e.irem(tid, e.idx(32));
    rb = e.irem(warp, e.idx(4)); // row block: tokens 16·rb ..
    cs = e.idiv(warp, e.idx(4)); // column half
    mma.setLane(lane);
    m0 = e.imul(rb, e.idx(16));
    rowLo = e.iadd(m0, mma.g);
    rowHi = e.iadd(rowLo, e.idx(8));
    // Column pairs: pair slot j of this warp is pair cs·pairSlots + j
    // (clamped: a slot past the last pair computes on the last one and
    // stores nothing). State m-tiles: rb + 4·slot, likewise.
    pairN0.clear();
    pairValid.clear();
    for (int64_t j = 0; j < PS; ++j) {
      Value pj = e.iadd(e.imul(cs, e.idx(PS)), e.idx(j));
      pairValid.push_back(e.ult(pj, e.idx(c.pairs)));
      pairN0.push_back(e.imul(e.imin(pj, e.idx(c.pairs - 1)), e.idx(16)));
    }
    slotRow.clear();
    slotValid.clear();
    for (int64_t s = 0; s < c.stateSlots; ++s) {
      Value mt = e.iadd(rb, e.idx(4 * s));
      slotValid.push_back(e.ult(mt, e.idx(mTiles)));
      slotRow.push_back(e.imul(e.imin(mt, e.idx(mTiles - 1)), e.idx(16)));
    }
  };
  bindLane(e.threadId());
  auto rowOf = [&](int64_t r) { return r < 2 ? rowLo : rowHi; };

  Value vt = e.blockId(gpu::Dimension::x);
  Value h = e.blockId(gpu::Dimension::y);
  Value n = e.blockId(gpu::Dimension::z);
  Value cb = e.imul(vt, e.idx(BV)); // first value column of the tile
  Value kh = e.idiv(h, e.idiv(HV, H));

  // The sequence's tokens [first, last) of batch row bIdx.
  KernelBuilder::Sequence sequence = e.sequence(cu, n, T);
  Value bIdx = sequence.row, first = sequence.first, last = sequence.last;
  Value length = e.isub(last, first);
  Value chunks = arith::CeilDivUIOp::create(b, length, e.idx(kChunk));
  // The sequence's first slot in the solve kernel's T buffer (solveSlot).
  Value firstSlot =
      c.presolved ? solveSlot(e, e.iadd(e.imul(bIdx, T), first), n) : Value();

  Value zeroF = e.cst(0.0), oneF = e.cst(1.0);
  auto zeroAcc = [&] { return e.vcst(0.0, 4); };

  SmallVector<Value> allN0;
  for (int64_t j = 0; j < c.pairs; ++j)
    allN0.push_back(e.idx(16 * j));
  // Column (within the tile) of accumulator register r of n-tile half hf of
  // a pair at n0.
  auto accColumn = [&](Value n0, int64_t hf, int64_t r) {
    return e.iadd(n0, e.iadd(e.idx(8 * hf), mma.accCol(r)));
  };

  // acc += A·B over kSteps k16 steps for rows m0: A row-major in aTile
  // ([m][k]), B from bTile stored [k][n], for the pairs at n0s (two
  // accumulators each). causal: only k-steps ks ≤ rb (A lower triangular).
  // Where c.wgmma, by the warpgroup (the pairs at n0s are then the
  // warpgroup's, contiguous from a panel's first column) over every k
  // step: the blocks of a causal A above its diagonal hold zeros there.
  WarpgroupMma wg(e, et);
  // The warpgroup's first value column (its pairs' n0 where the pairs
  // are the warp's own), broadcast from lane 0: ptxas then knows it is the
  // same in every lane, and so are the descriptors made from it (CUTLASS
  // broadcasts its warp-group index likewise).
  Value wgColumn;
  if (c.wgmma) {
    Value group = e.toI32(e.idiv(e.threadId(), e.idx(128)));
    Value first =
        gpu::ShuffleOp::create(b, group, arith::ConstantIntOp::create(b, 0, 32),
                               arith::ConstantIntOp::create(b, 32, 32),
                               gpu::ShuffleMode::IDX)
            .getShuffleResult();
    wgColumn = e.imul(e.toIndex(first), e.idx(16 * PS));
  }
  auto withAddresses = [&](WarpgroupMma::Product p) {
    p.aAddress = uniformAddress.lookup(p.a);
    p.bAddress = uniformAddress.lookup(p.b);
    if (p.n0 == pairN0.front())
      p.n0 = wgColumn;
    return p;
  };
  auto product = [&](SmallVector<Value> acc, Value aTile, int64_t kSteps,
                     Value bTile, ArrayRef<Value> n0s, bool causal,
                     ArrayRef<WarpMma::Frag> aFrags = {}) {
    if (c.wgmma && aTile)
      return wg.run(
          {withAddresses({aTile, bTile, n0s.front(), 16 * int64_t(n0s.size()),
                          kSteps, acc})})[0];
    for (int64_t ks = 0; ks < kSteps; ++ks) {
      auto step = [&]() -> SmallVector<Value> {
        SmallVector<Value> out(acc);
        Value k0 = e.idx(16 * ks);
        WarpMma::Frag a =
            aFrags.empty() ? mma.loadA(aTile, m0, k0) : aFrags[ks];
        for (auto [j, n0] : llvm::enumerate(n0s)) {
          auto [b0, b1] = mma.loadB(bTile, k0, n0);
          out[2 * j] = mma.mma(out[2 * j], a, b0);
          out[2 * j + 1] = mma.mma(out[2 * j + 1], a, b1);
        }
        return out;
      };
      if (causal)
        acc = e.ifElse(e.ule(e.idx(ks), rb), step,
                       [&]() -> SmallVector<Value> { return acc; });
      else
        acc = step();
    }
    return acc;
  };
  auto zeros = [&](size_t count) {
    SmallVector<Value> acc;
    for (size_t i = 0; i < count; ++i)
      acc.push_back(zeroAcc());
    return acc;
  };
  // X S and (with momentum) X M for the row tile X (q or k), Kp/16 k
  // steps, on the pairs at n0s: by wgmma one product each, in one group.
  auto stateProductList = [&](Value xTile, ArrayRef<Value> n0s) {
    int64_t n = 16 * n0s.size();
    SmallVector<WarpgroupMma::Product> products = {
        withAddresses({xTile, sS, n0s.front(), n, Kp / 16, zeros(n / 8)})};
    if (momentum)
      products.push_back(
          withAddresses({xTile, sM, n0s.front(), n, Kp / 16, zeros(n / 8)}));
    return products;
  };
  auto splitStateProducts = [&](SmallVector<SmallVector<Value>> results) {
    std::pair<SmallVector<Value>, SmallVector<Value>> out;
    out.first = std::move(results[0]);
    if (momentum)
      out.second = std::move(results[1]);
    return out;
  };
  // Issued now, waited for by waitStateProducts (c.overlap).
  auto issueStateProducts = [&](Value xTile, ArrayRef<Value> n0s) {
    return wg.issue(stateProductList(xTile, n0s));
  };
  auto waitStateProducts = [&](const WarpgroupMma::Group &group,
                               int64_t laterGroups) {
    return splitStateProducts(wg.wait(group, laterGroups));
  };
  // The products, waited for at once.
  auto stateProducts = [&](Value xTile, ArrayRef<Value> n0s) {
    if (c.wgmma)
      return splitStateProducts(wg.run(stateProductList(xTile, n0s)));
    std::pair<SmallVector<Value>, SmallVector<Value>> out;
    out.first = product(zeros(2 * n0s.size()), xTile, Kp / 16, sS, n0s, false);
    if (momentum)
      out.second =
          product(zeros(2 * n0s.size()), xTile, Kp / 16, sM, n0s, false);
    return out;
  };
  // Stores, for every pair at n0s (when valid), both n-tiles and both row
  // halves: fn(accumulator index, row half, t, column) gives the two f32
  // values at columns col, col + 1 of row t, rounded into the tile.
  auto storeRows =
      [&](ArrayRef<Value> n0s, ArrayRef<Value> valid, Value tile,
          function_ref<std::pair<Value, Value>(int64_t, int64_t, Value, Value)>
              fn) {
        for (size_t j = 0; j < n0s.size(); ++j) {
          Value n0 = n0s[j]; // not a structured binding: body captures it
          auto body = [&] {
            for (int64_t hf = 0; hf < 2; ++hf)
              for (int64_t half = 0; half < 2; ++half) {
                Value t = rowOf(2 * half), col = accColumn(n0, hf, 0);
                auto [x0, x1] = fn(2 * j + hf, half, t, col);
                e.vstore(mma.pair(x0, x1), tile, tileIndices(e, tile, t, col));
              }
          };
          if (!valid.empty())
            e.when(valid[j], body);
          else
            body();
        }
      };
  // Two neighbouring 16-bit elements of a tile as f32.
  auto vPair = [&](Value tile, Value t, Value col) {
    Value two =
        arith::ExtFOp::create(b, VectorType::get({2}, f32),
                              e.vload(tile, tileIndices(e, tile, t, col), 2));
    return std::make_pair(e.element(two, 0), e.element(two, 1));
  };

  // ---- γ^k for k = 0..64 (momentum), once.
  if (momentum)
    e.when(e.ult(tid, e.idx(kChunk + 1)), [&] {
      Value kf = arith::UIToFPOp::create(b, f32, e.toI32(tid));
      Value pw = e.exp(e.mul(kf, e.cst(gamma > 0 ? std::log(gamma) : -1e30)));
      e.storeRaw(e.select(e.ieq(tid, e.idx(0)), oneF, pw), sGam, {tid});
    });

  // ---- Initial states into the accumulators (f32) and their copies.
  auto stateIndex = [&](Value i, Value j) {
    return e.iadd(
        e.imul(e.iadd(e.imul(e.iadd(e.imul(n, HV), h), Kc), i), Vc), j);
  };
  auto loadState = [&](Value buffer) {
    SmallVector<Value> acc;
    for (int64_t s = 0; s < c.stateSlots; ++s)
      for (int64_t j = 0; j < PS; ++j)
        for (int64_t hf = 0; hf < 2; ++hf) {
          if (!buffer) {
            acc.push_back(zeroAcc());
            continue;
          }
          SmallVector<Value> values;
          for (int64_t r = 0; r < 4; ++r) {
            Value i = e.iadd(slotRow[s], mma.accRow(r));
            Value jj = e.iadd(cb, accColumn(pairN0[j], hf, r));
            Value ok = e.iand(e.ult(i, Kc), e.ult(jj, Vc));
            Value x = e.load(buffer, stateIndex(e.imin(i, e.idx(K - 1)),
                                                e.imin(jj, e.idx(V - 1))));
            values.push_back(e.select(ok, x, zeroF));
          }
          acc.push_back(e.fromElements(values));
        }
    return acc;
  };
  const int64_t stateRegs = c.stateSlots * PS * 2;
  auto storeStateCopy = [&](ArrayRef<Value> acc, Value tile) {
    for (int64_t s = 0; s < c.stateSlots; ++s)
      for (int64_t j = 0; j < PS; ++j)
        e.when(e.iand(slotValid[s], pairValid[j]), [&] {
          for (int64_t hf = 0; hf < 2; ++hf)
            for (int64_t half = 0; half < 2; ++half) {
              Value x = acc[(s * PS + j) * 2 + hf];
              e.vstore(
                  mma.pair(e.element(x, 2 * half), e.element(x, 2 * half + 1)),
                  tile,
                  tileIndices(e, tile, e.iadd(slotRow[s], mma.accRow(2 * half)),
                              accColumn(pairN0[j], hf, 0)));
            }
        });
  };
  SmallVector<Value> S = loadState(s0);
  SmallVector<Value> M = momentum ? loadState(m0in) : SmallVector<Value>();
  storeStateCopy(S, sS);
  if (momentum)
    storeStateCopy(M, sM);

  // ---- Loads of a chunk: q, k and the v tile by cp.async (zero-filled
  // past the sequence and the tile), and the gates into the f32 tile sRaw
  // (f32 gates by cp.async, 16-bit ones through a register).
  const int64_t wK = asyncWidth(K), wV = asyncWidth(V);
  auto chunkStart = [&](Value chunk) {
    return e.iadd(first, e.imul(chunk, e.idx(kChunk)));
  };
  auto tokenRow = [&](Value start, Value len, Value t) {
    // global token row of local row t (clamped to the chunk)
    return e.iadd(e.imul(bIdx, T),
                  e.iadd(start, e.imin(t, e.isub(len, e.idx(1)))));
  };
  auto issueLoads = [&](Value chunk, Value shift) {
    Value start = chunkStart(chunk);
    Value len = e.imin(e.isub(last, start), e.idx(kChunk));
    Value tQ = operandView(shift, c.offQ, kChunk, Kp, pK, true);
    Value tK = operandView(shift, c.offK, kChunk, Kp, pK, true);
    Value tV = operandView(shift, c.offV, kChunk, BV, pV, false);
    auto copyRows = [&](Value tile, Value buffer, int64_t width, int64_t cols,
                        function_ref<Value(Value)> rowBase, Value colLimit) {
      copyRowsAsync(e, tid, kThreads, tile, buffer, width, cols, len, rowBase,
                    colLimit);
    };
    auto qkRow = [&](Value t) {
      return e.imul(e.iadd(e.imul(tokenRow(start, len, t), H), kh), Kc);
    };
    copyRows(tQ, q, wK, Kp, qkRow, Kc);
    copyRows(tK, k, wK, Kp, qkRow, Kc);
    copyRows(
        tV, v, wV, BV,
        [&](Value t) {
          return e.iadd(
              e.imul(e.iadd(e.imul(tokenRow(start, len, t), HV), h), Vc), cb);
        },
        e.isub(Vc, cb));
    if (c.presolved) {
      // The chunk's T from the solve kernel: 64 rows of 128 bytes, every
      // row there (rows past the sequence hold the identity's).
      Value tT = operandView(shift, c.offT, kChunk, kChunk, kChunk + 8, true);
      Value base = e.imul(e.iadd(e.imul(e.iadd(firstSlot, chunk), HV), h),
                          e.idx(kChunk * kChunk));
      for (int64_t x0 = 0; x0 < kChunk * kChunk / 8; x0 += kThreads) {
        Value x = e.iadd(tid, e.idx(x0));
        Value t = e.idiv(x, e.idx(kChunk / 8));
        Value col = e.imul(e.irem(x, e.idx(kChunk / 8)), e.idx(8));
        nvgpu::DeviceAsyncCopyOp::create(
            b, nvgpu::DeviceAsyncTokenType::get(ctx), tT,
            tileIndices(e, tT, t, col), tInverse,
            ValueRange{e.iadd(base, e.iadd(e.imul(t, e.idx(kChunk)), col))},
            b.getIndexAttr(8), Value(), b.getUnitAttr());
      }
    }
    // The gates (zero past the sequence), each copied by the thread that
    // reads it at the top of the chunk, whose own wait then makes it
    // visible: thread t < 64 β_t and gain_t, warp 0 lane l g of tokens 2l
    // and 2l + 1. (Loaded a chunk ahead into registers instead, they were
    // live across the whole chunk; at 255 registers, the paper form's
    // kernel spilled them, and each spill store waited for its load.)
    Value tRaw = view(shift, c.offRaw, {kRawGates, kChunk}, f32);
    auto copyGate = [&](Value buffer, int64_t which, Value t) {
      if (!buffer)
        return;
      Value ok = e.ult(t, len);
      Value at = e.iadd(e.imul(tokenRow(start, len, t), HV), h);
      if (cast<MemRefType>(buffer.getType()).getElementType().isF32()) {
        nvgpu::DeviceAsyncCopyOp::create(
            b, nvgpu::DeviceAsyncTokenType::get(ctx), tRaw,
            ValueRange{e.idx(which), t}, buffer, ValueRange{at},
            b.getIndexAttr(1), e.select(ok, e.idx(1), e.idx(0)), UnitAttr());
        return;
      }
      // cp.async moves at least 4 bytes: 16-bit gates pass through a
      // register, stored at once. (Loaded at step 2 but stored after
      // step 3, so that no store waits for its load, GDN with bf16 g and β
      // took 0.710 ms against 0.705 at 4 × 8192: not kept.)
      e.storeRaw(e.select(ok, e.load(buffer, at), zeroF), tRaw,
                 {e.idx(which), t});
    };
    e.when(e.ult(tid, e.idx(kChunk)), [&] {
      copyGate(beta, 1, tid);
      copyGate(gain, 2, tid);
    });
    if (decay)
      e.when(e.ieq(warp, e.idx(0)), [&] {
        Value t0 = e.imul(lane, e.idx(2));
        copyGate(g, 0, t0);
        copyGate(g, 0, e.iadd(t0, e.idx(1)));
      });
    nvgpu::DeviceAsyncCreateGroupOp::create(
        b, nvgpu::DeviceAsyncTokenType::get(ctx), ValueRange{});
  };
  e.when(e.ieq(tid, e.idx(0)), [&] {
    e.storeRaw(arith::ConstantIntOp::create(b, 0, 32), sZero, {e.idx(0)});
  });
  // wgmma multiplies the causal C×C operands over every k step: their
  // 16×16 blocks above the diagonal, which no chunk writes (in-chunk T, P,
  // PΩ, L^E), must hold zeros. (The solve kernel's T has them.)
  if (c.wgmma) {
    auto eightZeros = VectorType::get({8}, et);
    Value zero8 = arith::ConstantOp::create(
        b, DenseElementsAttr::get(eightZeros, b.getFloatAttr(et, 0.0)));
    for (Value tile : {c.presolved ? Value() : sT, sP, sPO, sLE}) {
      if (!tile)
        continue;
      for (int64_t x0 = 0; x0 < kChunk * kChunk / 8; x0 += kThreads) {
        Value x = e.iadd(tid, e.idx(x0));
        e.vstore(zero8, tile,
                 {e.idx(0), e.idiv(x, e.idx(8)),
                  e.imul(e.irem(x, e.idx(8)), e.idx(8))});
      }
    }
  }
  if (c.doubleBuffer)
    e.when(e.ult(e.idx(0), chunks), [&] { issueLoads(e.idx(0), e.idx(0)); });
  e.barrier(); // γ powers, state copies and the zero shift stored

  // ---- The chunks. wgmma reads shared memory through the async proxy:
  // before each of the chunk's barriers every thread fences its own
  // earlier writes (stores, cp.async copies waited for) for it.
  auto chunkBarrier = [&] {
    if (c.wgmma)
      wg.fenceSharedWrites();
    e.barrier();
  };
  SmallVector<Value> carried(S);
  carried.append(M);
  SmallVector<Value> end = e.loop(
      e.idx(0), chunks, e.idx(1), carried,
      [&](Value chunk, ValueRange in) -> SmallVector<Value> {
        SmallVector<Value> all(in.begin(), in.end());
        ArrayRef<Value> inputs(all);
        SmallVector<Value> S(inputs.take_front(stateRegs));
        SmallVector<Value> M;
        if (momentum)
          M.assign(inputs.slice(stateRegs, stateRegs).begin(),
                   inputs.slice(stateRegs, stateRegs).end());
        Value parity = c.doubleBuffer ? e.irem(chunk, e.idx(2)) : e.idx(0);
        Value zeroShift = arith::IndexCastUIOp::create(
            b, b.getIndexType(), e.loadRaw(sZero, {e.idx(0)}));
        // The descriptors' zero: an inline `mov` with side effects, which
        // LLVM neither folds nor hoists and every lane holds alike. From a
        // constant (or chunk / 2^30, which LLVM folds too, knowing chunks <
        // 2^26) LICM hoists every step's descriptor out of the loop into
        // registers of its own, and the kernel spills (as with the views).
        Value uniformZero = e.toIndex(
            LLVM::InlineAsmOp::create(
                b, b.getI32Type(), ValueRange{}, "mov.u32 $0, 0;", "=r",
                /*has_side_effects=*/true, /*is_align_stack=*/false,
                LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
                .getResult(0));
        Value bufferShift = e.imul(parity, e.idx(c.bufferBytes));
        bindBuffers(e.iadd(zeroShift, bufferShift),
                    e.iadd(uniformZero, bufferShift));
        bindTiles(zeroShift, uniformZero);
        bindLane(e.iadd(e.threadId(), zeroShift));
        Value start = chunkStart(chunk);
        Value len = e.imin(e.isub(last, start), e.idx(kChunk));
        Value lastRow = e.isub(len, e.idx(1)); // the chunk's last token

        // -- 1. This chunk's tiles have landed; gates into shared memory.
        if (!c.doubleBuffer)
          issueLoads(chunk, e.idx(0)); // one buffer: load, then wait
        // Wait until no copy group is pending (the op wants a group token:
        // an empty group of its own serves).
        Value token = nvgpu::DeviceAsyncCreateGroupOp::create(
            b, nvgpu::DeviceAsyncTokenType::get(ctx), ValueRange{});
        nvgpu::DeviceAsyncWaitOp::create(b, token, b.getI32IntegerAttr(0));
        // A missing β or gain is 1 within the sequence (0 past it).
        auto rawGate = [&](Value buffer, int64_t which, Value t) {
          return buffer ? e.loadRaw(sRaw, {e.idx(which), t})
                        : e.select(e.ult(t, len), oneF, zeroF);
        };
        e.when(e.ult(tid, e.idx(kChunk)), [&] {
          Value betaT = rawGate(beta, 1, tid), gainT = rawGate(gain, 2, tid);
          e.storeRaw(e.mul(e.cst(eta), betaT), sB, {tid});
          e.storeRaw(e.mul(e.cst(tau), e.mul(gainT, betaT)), sWf, {tid});
        });
        if (decay)
          e.when(e.ieq(warp, e.idx(0)), [&] {
            Value t0 = e.imul(lane, e.idx(2));
            Value t1 = e.iadd(t0, e.idx(1));
            Value g0 = e.loadRaw(sRaw, {e.idx(0), t0});
            Value g1 = e.loadRaw(sRaw, {e.idx(0), t1});
            Value sum = e.add(g0, g1);
            Value inclusive = e.warpInclusiveScan(sum, lane);
            Value before = e.sub(inclusive, sum);
            e.storeRaw(e.add(before, g0), sG, {t0});
            e.storeRaw(inclusive, sG, {t1});
            e.storeRaw(e.exp(g0), sA, {t0});
            e.storeRaw(e.exp(g1), sA, {t1});
          });
        chunkBarrier();

        // K S and Q S (and K M, Q M) read only q, k and the state copies:
        // they start here and run beside the chunk's weights and Q Kᵀ (and
        // the in-chunk solve). K S where every warp forms the right-hand
        // side (presolved; else warpgroup 1 forms it inside its branch),
        // and there only where K S and Q S take at most 64 accumulators a
        // thread (BV/4 each): the paper form at BV = 128 (128) spilled, as
        // it did with K's or Q's alone (ptxas then serialised every wgmma).
        std::optional<WarpgroupMma::Group> earlyK, earlyQ;
        if (c.overlap && c.presolved && (momentum ? 4 : 2) * BV / 4 <= 64)
          earlyK = issueStateProducts(sK, pairN0);
        if (c.overlap && (earlyK || !c.presolved))
          earlyQ = issueStateProducts(sQ, pairN0);

        // -- 2. The next chunk's loads, in flight while this one computes.
        Value next = e.iadd(chunk, e.idx(1));
        if (c.doubleBuffer)
          e.when(e.ult(next, chunks), [&] {
            issueLoads(next, e.imul(e.isub(e.idx(1), parity),
                                    e.idx(c.bufferBytes)));
          });

        // Per-row quantities of this lane's rows t and the last token e.
        auto gAt = [&](Value t) { return decay ? e.loadRaw(sG, {t}) : zeroF; };
        Value gLo = gAt(rowLo), gHi = gAt(rowHi), gEnd = gAt(lastRow);
        auto gRow = [&](int64_t r) { return r < 2 ? gLo : gHi; };
        Value lamLo = decay ? e.exp(gLo) : oneF;
        Value lamHi = decay ? e.exp(gHi) : oneF;
        auto lamRow = [&](int64_t r) { return r < 2 ? lamLo : lamHi; };
        Value lamEnd = decay ? e.exp(gEnd) : oneF;
        Value bLo = e.loadRaw(sB, {rowLo}), bHi = e.loadRaw(sB, {rowHi});
        Value wLo = e.loadRaw(sWf, {rowLo}), wHi = e.loadRaw(sWf, {rowHi});
        auto bRow = [&](int64_t r) { return r < 2 ? bLo : bHi; };
        auto wRow = [&](int64_t r) { return r < 2 ? wLo : wHi; };

        // -- Ω_ts = a_t·Ω_{t−1,s} + γ^{t−s} (Ω_ss = 1): one column s per
        // thread of warps 0-1 (momentum). Eight rows' a_t and γ^{t−s} are
        // loaded before their stores: every tile is a view of one shared
        // buffer, so no load moves above a store of Ω, and loaded row by
        // row each step waited for its loads.
        if (momentum) {
          e.when(e.ult(tid, e.idx(kChunk)), [&] {
            Value s = tid;
            Value om = zeroF;
            for (int64_t t0 = 0; t0 < kChunk; t0 += kOmegaBatch) {
              SmallVector<Value> on, gp, a;
              for (int64_t t = t0; t < t0 + kOmegaBatch; ++t) {
                Value tc = e.idx(t);
                on.push_back(e.ule(s, tc));
                gp.push_back(e.loadRaw(
                    sGam, {e.select(on.back(), e.isub(tc, s), e.idx(0))}));
                a.push_back(decay ? e.loadRaw(sA, {tc}) : oneF);
              }
              for (int64_t i = 0; i < kOmegaBatch; ++i) {
                om = e.select(on[i], e.fma(a[i], om, gp[i]), zeroF);
                e.storeRaw(om, sOm, {e.idx(t0 + i), s});
              }
            }
          });
          chunkBarrier();
        }
        Value phiLo, phiHi, phiEnd;
        auto phiRow = [&](int64_t r) { return r < 2 ? phiLo : phiHi; };
        if (momentum) {
          phiLo = e.mul(e.cst(gamma), e.loadRaw(sOm, {rowLo, e.idx(0)}));
          phiHi = e.mul(e.cst(gamma), e.loadRaw(sOm, {rowHi, e.idx(0)}));
          phiEnd = e.mul(e.cst(gamma), e.loadRaw(sOm, {lastRow, e.idx(0)}));
        }

        // -- 3. Pq = Q Kᵀ and A = K Kᵀ on the pairs np ∈ {cs, cs + 2} with
        // np ≤ rb (causal), weighted into the C×C operands:
        //   sP  = scale·Pq ⊙ D (s ≤ t)          sL  = b·A ⊙ D (s < t, f32)
        //   sPO = scale·Pq ⊙ Ω ⊙ w_s (s ≤ t)   sLE = A ⊙ (Ω − γ^{t−s}) ⊙ w_s
        // (sL only where this kernel solves; A only where sL or sLE need it.)
        const bool needL = delta && !c.presolved;
        const bool needA = needL || (delta && momentum);
        for (int64_t which = 0; which < 2; ++which) {
          Value np = e.iadd(cs, e.idx(2 * which));
          e.when(e.ule(np, rb), [&] {
            Value n0 = e.imul(np, e.idx(16));
            // Pq = Q Kᵀ and (where needed) A = K Kᵀ, sharing K's fragments.
            SmallVector<Value, 2> rowTiles = {sQ};
            if (needA)
              rowTiles.push_back(sK);
            SmallVector<std::array<Value, 2>> products =
                blockProductsWithRows(e, mma, rowTiles, sK, m0, n0, Kp);
            std::array<Value, 2> pq = products[0];
            std::array<Value, 2> a =
                needA ? products[1] : std::array<Value, 2>{};
            // Causality as (t − c2 − n0) against constants: no registers
            // per element column.
            Value dd[2] = {e.isub(e.isub(rowLo, mma.c2), n0),
                           e.isub(e.isub(rowHi, mma.c2), n0)};
            for (int64_t hf = 0; hf < 2; ++hf) {
              SmallVector<Value> pD, pO, lF, lE;
              for (int64_t r = 0; r < 4; ++r) {
                Value s = accColumn(n0, hf, r);
                Value t = rowOf(r);
                Value offset = e.idx(8 * hf + r % 2);
                Value onOrBelow = arith::CmpIOp::create(
                    b, arith::CmpIPredicate::sge, dd[r / 2], offset);
                Value below = arith::CmpIOp::create(
                    b, arith::CmpIPredicate::sgt, dd[r / 2], offset);
                Value dw =
                    decay ? e.exp(e.sub(gRow(r), e.loadRaw(sG, {s}))) : oneF;
                Value qk = e.mul(e.cst(scale), e.element(pq[hf], r));
                pD.push_back(e.select(onOrBelow, e.mul(qk, dw), zeroF));
                Value om, gp, ws;
                if (momentum) {
                  om = e.loadRaw(sOm, {t, s});
                  gp = e.loadRaw(sGam,
                                 {e.select(below, e.isub(t, s), e.idx(0))});
                  ws = e.loadRaw(sWf, {s});
                  pO.push_back(
                      e.select(onOrBelow, e.mul(qk, e.mul(om, ws)), zeroF));
                }
                if (needA) {
                  Value kk = e.element(a[hf], r);
                  if (needL)
                    lF.push_back(e.select(
                        below, e.mul(e.mul(bRow(r), kk), dw), zeroF));
                  if (momentum)
                    lE.push_back(e.select(
                        below, e.mul(kk, e.mul(e.sub(om, gp), ws)), zeroF));
                }
              }
              for (int64_t half = 0; half < 2; ++half) {
                Value t = rowOf(2 * half);
                Value col = accColumn(n0, hf, 0);
                int64_t r0 = 2 * half, r1 = 2 * half + 1;
                e.vstore(mma.pair(pD[r0], pD[r1]), sP,
                         tileIndices(e, sP, t, col));
                if (momentum)
                  e.vstore(mma.pair(pO[r0], pO[r1]), sPO,
                           tileIndices(e, sPO, t, col));
                if (needA) {
                  if (needL)
                    e.vstore(e.fromElements({lF[r0], lF[r1]}), sL, {t, col});
                  if (momentum)
                    e.vstore(mma.pair(lE[r0], lE[r1]), sLE,
                             tileIndices(e, sLE, t, col));
                }
              }
            }
          });
        }
        // Step 4 reads sL (the in-chunk solve) and sLE (momentum); sP is
        // first read by o's product (step 6), after a later barrier.
        if (needL || momentum || !c.leanBarriers)
          chunkBarrier();

        // -- 4. The corrections' right-hand side ‖ T = (I + L)⁻¹:
        //   W'  = w ⊙ V − (bΛ) ⊙ (K S)                         (no momentum)
        //   RHS = −b ⊙ (Λ ⊙ K S + (Φ − γ^{t+1}) ⊙ K M + L^E V)  (momentum)
        // into sW, for the pairs at n0s of row block rb. One accumulator
        // set at a time: R = Λ ⊙ K S (+ (Φ − γ^{t+1}) ⊙ K M, then + L^E V
        // accumulated onto it).
        auto formRHS = [&](ArrayRef<Value> n0s, ArrayRef<Value> valid) {
          // (An early K S waits for itself alone: Q S, issued after it,
          // may still run.)
          auto [kS, kM] = earlyK ? waitStateProducts(*earlyK, 1)
                                 : stateProducts(sK, n0s);
          SmallVector<Value> R = std::move(kS), X2 = std::move(kM);
          auto scaleRows = [&](ArrayRef<Value> acc, Value lo, Value hi) {
            SmallVector<Value> out;
            for (Value x : acc)
              out.push_back(e.mul(x, e.fromElements({lo, lo, hi, hi})));
            return out;
          };
          R = scaleRows(R, lamLo, lamHi);
          if (momentum) {
            Value fLo =
                e.sub(phiLo, e.loadRaw(sGam, {e.iadd(rowLo, e.idx(1))}));
            Value fHi =
                e.sub(phiHi, e.loadRaw(sGam, {e.iadd(rowHi, e.idx(1))}));
            X2 = scaleRows(X2, fLo, fHi);
            for (size_t x = 0; x < R.size(); ++x)
              R[x] = e.add(R[x], X2[x]);
            R = product(R, sLE, 4, sV, n0s, true);
          }
          storeRows(n0s, valid, sW,
                    [&](int64_t idx, int64_t half, Value t, Value col) {
                      int64_t r0 = 2 * half;
                      Value nb = e.sub(zeroF, bRow(r0));
                      Value x0 = e.element(R[idx], r0);
                      Value x1 = e.element(R[idx], r0 + 1);
                      if (momentum) // RHS = −b ⊙ R
                        return std::make_pair(e.mul(nb, x0), e.mul(nb, x1));
                      // W' = w ⊙ V − b ⊙ R
                      auto [v0, v1] = vPair(sV, t, col);
                      return std::make_pair(
                          e.fma(nb, x0, e.mul(wRow(r0), v0)),
                          e.fma(nb, x1, e.mul(wRow(r0), v1)));
                    });
        };
        if (delta && c.presolved) {
          // T arrived with the tiles: every warp forms its own pairs.
          formRHS(pairN0, pairValid);
          chunkBarrier(); // sW complete
        } else if (delta) {
          // Warps 0-3 invert I + L (their own barrier 1) while warps 4-7
          // form every pair of their row block.
          e.when(e.ult(warp, e.idx(4)), [&] {
            solveUnitLower(e, mma, sL, sT, warp, lane, [&] {
              NVVM::BarrierOp::create(
                  b, Type(), arith::ConstantIntOp::create(b, 1, 32),
                  arith::ConstantIntOp::create(b, 128, 32),
                  NVVM::BarrierReductionAttr(), Value());
            });
          });
          e.when(e.ule(e.idx(4), warp), [&] { formRHS(allN0, {}); });
          chunkBarrier(); // T and sW complete
        }

        // -- 5. U = T W' (no momentum) or C = T RHS, rows rb, this warp's
        // pairs; without the delta rule U = w ⊙ V and there is no C.
        SmallVector<Value> U;
        if (delta)
          U = product(zeros(2 * PS), sT, 4, sW, pairN0, true);
        else if (!momentum)
          for (int64_t j = 0; j < PS; ++j)
            for (int64_t hf = 0; hf < 2; ++hf) {
              SmallVector<Value> values;
              for (int64_t half = 0; half < 2; ++half) {
                auto [v0, v1] = vPair(sV, rowOf(2 * half),
                                      accColumn(pairN0[j], hf, 0));
                values.push_back(e.mul(wRow(2 * half), v0));
                values.push_back(e.mul(wRow(2 * half), v1));
              }
              U.push_back(e.fromElements(values));
            }
        if (delta && sU == sW)
          chunkBarrier(); // every read of sW is done

        // The operands of the state updates (and U, C for o), with the end
        // weights of row e = len − 1: D_es = exp(G_e − G_s), Ω_es, γ^{e−s}.
        auto endDecay = [&](int64_t r) {
          return decay ? e.exp(e.sub(gEnd, gRow(r))) : oneF;
        };
        Value dEnd[2] = {endDecay(0), endDecay(2)};
        if (!momentum) {
          // sU = U, sY = D_e ⊙ U.
          storeRows(pairN0, pairValid, sU,
                    [&](int64_t idx, int64_t half, Value, Value) {
                      return std::make_pair(e.element(U[idx], 2 * half),
                                            e.element(U[idx], 2 * half + 1));
                    });
          storeRows(pairN0, pairValid, sY,
                    [&](int64_t idx, int64_t half, Value, Value) {
                      return std::make_pair(
                          e.mul(dEnd[half], e.element(U[idx], 2 * half)),
                          e.mul(dEnd[half], e.element(U[idx], 2 * half + 1)));
                    });
        } else {
          Value omEnd[2], gpEnd[2];
          for (int64_t half = 0; half < 2; ++half) {
            Value t = rowOf(2 * half);
            Value on = e.ule(t, lastRow);
            omEnd[half] = e.select(on, e.loadRaw(sOm, {lastRow, t}), zeroF);
            gpEnd[half] = e.select(
                on,
                e.loadRaw(sGam, {e.select(on, e.isub(lastRow, t), e.idx(0))}),
                zeroF);
          }
          if (delta)
            storeRows(pairN0, pairValid, sU,
                      [&](int64_t idx, int64_t half, Value, Value) {
                        return std::make_pair(
                            e.element(U[idx], 2 * half),
                            e.element(U[idx], 2 * half + 1));
                      });
          // sY = Ω_e ⊙ w ⊙ V + D_e ⊙ C, sZ = γ^{e−s} ⊙ w ⊙ V.
          storeRows(pairN0, pairValid, sY,
                    [&](int64_t idx, int64_t half, Value t, Value col) {
                      auto [v0, v1] = vPair(sV, t, col);
                      Value wv[2] = {e.mul(wRow(2 * half), v0),
                                     e.mul(wRow(2 * half), v1)};
                      Value out[2];
                      for (int64_t x = 0; x < 2; ++x) {
                        out[x] = e.mul(omEnd[half], wv[x]);
                        if (delta)
                          out[x] = e.fma(dEnd[half],
                                         e.element(U[idx], 2 * half + x),
                                         out[x]);
                      }
                      return std::make_pair(out[0], out[1]);
                    });
          storeRows(pairN0, pairValid, sZ,
                    [&](int64_t idx, int64_t half, Value t, Value col) {
                      auto [v0, v1] = vPair(sV, t, col);
                      Value f = e.mul(gpEnd[half], wRow(2 * half));
                      return std::make_pair(e.mul(f, v0), e.mul(f, v1));
                    });
        }
        chunkBarrier();

        // -- 6. o = scale·(Λ ⊙ Q S [+ Φ ⊙ Q M]) + P U [+ PΩ V + PD C].
        auto [qS, qM] =
            earlyQ ? waitStateProducts(*earlyQ, 0) : stateProducts(sQ, pairN0);
        SmallVector<Value> O = std::move(qS), OM = std::move(qM);
        for (size_t idx = 0; idx < O.size(); ++idx) {
          SmallVector<Value> values;
          for (int64_t r = 0; r < 4; ++r) {
            Value x = e.mul(e.mul(e.cst(scale), lamRow(r)),
                            e.element(O[idx], r));
            if (momentum)
              x = e.fma(e.mul(e.cst(scale), phiRow(r)),
                        e.element(OM[idx], r), x);
            values.push_back(x);
          }
          O[idx] = e.fromElements(values);
        }
        // With c.overlap P U and PΩ V go on accumulating onto O without a
        // wait, and the state update follows them before o is waited for.
        std::optional<WarpgroupMma::Group> oGroup;
        if (c.overlap) {
          auto accumulate = [&](Value a, Value bTile) {
            WarpgroupMma::Product p =
                withAddresses({a, bTile, pairN0.front(), 16 * PS, 4,
                               oGroup ? SmallVector<Value>() : O});
            if (oGroup)
              p.onto = oGroup->accumulators[0];
            oGroup = wg.issue({p});
          };
          if (!momentum || delta)
            accumulate(sP, sU);
          if (momentum)
            accumulate(sPO, sV);
        } else {
          if (!momentum || delta)
            O = product(O, sP, 4, sU, pairN0, true);
          if (momentum)
            O = product(O, sPO, 4, sV, pairN0, true);
        }
        auto storeO = [&](ArrayRef<Value> O) {
          for (int64_t j = 0; j < PS; ++j)
            for (int64_t hf = 0; hf < 2; ++hf)
              for (int64_t half = 0; half < 2; ++half) {
                Value t = rowOf(2 * half);
                Value jj = e.iadd(cb, accColumn(pairN0[j], hf, 0));
                Value x0 = e.element(O[2 * j + hf], 2 * half);
                Value x1 = e.element(O[2 * j + hf], 2 * half + 1);
                Value index = e.iadd(
                    e.imul(e.iadd(e.imul(tokenRow(start, len, t), HV), h), Vc),
                    jj);
                Value ok = e.iand(pairValid[j], e.ult(t, len));
                if (V % 2 == 0) {
                  e.when(e.iand(ok, e.ult(jj, Vc)),
                         [&] { e.vstore(mma.pair(x0, x1), o, {index}); });
                } else {
                  e.when(e.iand(ok, e.ult(jj, Vc)),
                         [&] { e.store(x0, o, index); });
                  e.when(e.iand(ok, e.ult(e.iadd(jj, e.idx(1)), Vc)),
                         [&] { e.store(x1, o, e.iadd(index, e.idx(1))); });
                }
              }
        };
        if (!c.overlap)
          storeO(O);

        // -- 7. S = Λ_e S [+ Φ_e M] + Kᵀ sY;  M = γ^len M + Kᵀ sZ.
        Value gammaLen;
        if (momentum)
          gammaLen = e.loadRaw(sGam, {len});
        // Where c.wgmma, every slot's S and M update is one M-major wgmma
        // of 64 rows of Kᵀ (slot s: the k panel s) in one commit group.
        SmallVector<WarpgroupMma::Product> updates;
        for (int64_t s = 0; s < c.stateSlots; ++s) {
          SmallVector<WarpMma::Frag> kT;
          if (!c.wgmma)
            for (int64_t ks = 0; ks < 4; ++ks)
              kT.push_back(mma.loadATransposed(sK, e.idx(16 * ks), slotRow[s]));
          SmallVector<Value> sAcc, mAcc;
          for (int64_t x = 0; x < 2 * PS; ++x) {
            Value sv = e.mul(S[s * 2 * PS + x], e.splat(lamEnd, 4));
            if (momentum) {
              Value mv = M[s * 2 * PS + x];
              sv = e.fma(e.splat(phiEnd, 4), mv, sv);
              mAcc.push_back(e.mul(e.splat(gammaLen, 4), mv));
            }
            sAcc.push_back(sv);
          }
          if (c.wgmma) {
            auto update = [&](Value tile, SmallVector<Value> init) {
              WarpgroupMma::Product p{sK,      tile, pairN0.front(),
                                      16 * PS, 4,    std::move(init)};
              p.aTransposed = true;
              p.m0 = e.idx(64 * s);
              updates.push_back(withAddresses(std::move(p)));
            };
            update(sY, sAcc);
            if (momentum)
              update(sZ, mAcc);
            continue;
          }
          sAcc = product(sAcc, Value(), 4, sY, pairN0, false, kT);
          if (momentum)
            mAcc = product(mAcc, Value(), 4, sZ, pairN0, false, kT);
          for (int64_t x = 0; x < 2 * PS; ++x) {
            S[s * 2 * PS + x] = sAcc[x];
            if (momentum)
              M[s * 2 * PS + x] = mAcc[x];
          }
        }
        if (c.wgmma) {
          SmallVector<SmallVector<Value>> updated;
          if (c.overlap) {
            // o's stores to global memory while the state update runs.
            WarpgroupMma::Group update = wg.issue(updates);
            storeO(wg.wait(*oGroup, 1)[0]);
            updated = wg.wait(update, 0);
          } else {
            updated = wg.run(updates);
          }
          for (int64_t s = 0, u = 0; s < c.stateSlots; ++s) {
            llvm::copy(updated[u++], S.begin() + s * 2 * PS);
            if (momentum)
              llvm::copy(updated[u++], M.begin() + s * 2 * PS);
          }
        }
        chunkBarrier(); // every read of the state copies, K, V, sY, sZ done
        storeStateCopy(S, sS);
        if (momentum)
          storeStateCopy(M, sM);

        SmallVector<Value> yield(S);
        yield.append(M);
        return yield;
      });

  bindLane(e.threadId()); // the loop's lane values do not reach here

  // ---- Final states.
  auto storeFinal = [&](ArrayRef<Value> acc, Value buffer) {
    for (int64_t s = 0; s < c.stateSlots; ++s)
      for (int64_t j = 0; j < PS; ++j)
        for (int64_t hf = 0; hf < 2; ++hf)
          for (int64_t r = 0; r < 4; ++r) {
            Value i = e.iadd(slotRow[s], mma.accRow(r));
            Value jj = e.iadd(cb, accColumn(pairN0[j], hf, r));
            Value ok = e.iand(e.iand(slotValid[s], pairValid[j]),
                              e.iand(e.ult(i, Kc), e.ult(jj, Vc)));
            e.when(ok, [&] {
              e.store(e.element(acc[(s * PS + j) * 2 + hf], r), buffer,
                      stateIndex(i, jj));
            });
          }
  };
  if (finalState)
    storeFinal(ArrayRef<Value>(end).take_front(stateRegs), finalState);
  if (finalMomentum)
    storeFinal(ArrayRef<Value>(end).slice(stateRegs, stateRegs),
               finalMomentum);
  gpu::ReturnOp::create(b);
}

std::string gpu_codegen::whyNotTensorCoreChunked(ScanOp op) {
  if (!op.isChunked())
    return "it is not scheduled as chunked";
  if (op.getStateIndices())
    return "it updates state pools (decode): the recurrent kernel does that "
           "in place";
  if (op.getDecay() != DecayKind::None && op.getDecay() != DecayKind::Scalar)
    return "its decay is not none or scalar";
  if (op.getInput() != InputKind::Update)
    return "its input is the error";
  if (op.getNewtonSchulz())
    return "it has Newton-Schulz inside";
  if (op.getSkip() || op.getGate())
    return "it has Mamba's skip or gate (the recurrent kernel fuses them)";
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

bool gpu_codegen::getsChunkedKernel(ScanOp op) {
  return whyNotTensorCoreChunked(op).empty() && !isShortSequence(op);
}

/// wgmma is sm_90a's alone (not sm_90's, nor later chips').
static bool hasWarpgroupMma(gpu::GPUModuleOp kernels) {
  ArrayAttr targets = kernels.getTargetsAttr();
  return targets && llvm::all_of(targets, [](Attribute a) {
           auto nvvm = dyn_cast<NVVM::NVVMTargetAttr>(a);
           return nvvm && nvvm.getChip() == "sm_90a";
         });
}

Rank1GainOp
gpu_codegen::gainFormedBySolveKernel(ScanOp op, gpu::GPUModuleOp kernels,
                                     const ChunkedOptions &options) {
  auto gain =
      op.getGain() ? op.getGain().getDefiningOp<Rank1GainOp>() : Rank1GainOp();
  if (!gain || !gain.getGain().hasOneUse() || gain.getDt() ||
      gain.getK() != op.getK() || gain.getV() != op.getV() ||
      gain.getBeta() != op.getBeta() || !getsChunkedKernel(op))
    return {};
  int64_t K = op.getQ().getType().getDimSize(3);
  int64_t V = op.getV().getType().getDimSize(3);
  if (llvm::divideCeil(V, 2 * rowVectorWidth(op.getV().getType())) >
      kMaxGainRounds)
    return {};
  auto element = cast<FloatType>(op.getV().getType().getElementType());
  return chooseConfig(op, K, V, element, options, hasWarpgroupMma(kernels))
                 .presolved
             ? gain
             : Rank1GainOp();
}

LogicalResult gpu_codegen::lowerChunkedScan(ScanOp op, gpu::GPUModuleOp kernels,
                                            StringRef name,
                                            const ChunkedOptions &options) {
  int64_t K = op.getQ().getType().getDimSize(3);
  int64_t V = op.getV().getType().getDimSize(3);
  auto element = cast<FloatType>(op.getV().getType().getElementType());
  bool warpgroupMma = hasWarpgroupMma(kernels);
  ChunkedConfig config = chooseConfig(op, K, V, element, options, warpgroupMma);
  if (warpgroupMma)
    config = withWarpgroupProducts(config, options.valueTile != 0);
  config.overlap = config.wgmma && options.wgmmaOverlap;
  // U's own tile, laid out after the tiling so that it changes no choice
  // of tile or buffering (layoutShared keeps the buffering it finds
  // without U); two blocks an SM come before it.
  config.leanBarriers = options.leanBarriers;
  if (config.leanBarriers)
    layoutShared(config, /*separateU=*/true);
  if (config.bytes > sharedLimit(config)) {
    if (config.twoPerSM)
      return op.emitOpError()
             << "two tensor-core chunked blocks an SM (blocks-per-sm=2) "
             << "need " << config.bytes << " bytes of shared memory each, "
             << "above the " << sharedLimit(config) << " of half an sm_90 SM";
    return op.emitOpError() << "the tensor-core chunked kernel needs "
                            << config.bytes << " bytes of shared memory, "
                            << "above the " << kMaxShared << " of sm_90";
  }

  ensureSharedBuffer(kernels, op.getLoc());

  // The solve kernel first, into temporaries the chunked kernel reads: T,
  // and the paper form's gain where the solve kernel forms it.
  Value v = op.getV(), cu = op.getCuSeqlens();
  Value tInverse, gainTemp;
  Rank1GainOp gain = gainFormedBySolveKernel(op, kernels, options);
  assert((!gain || config.presolved) && "the gain needs the solve kernel");
  if (config.presolved) {
    LaunchBuilder solve(op, kernels, (name + "_solve").str());
    solve.addBuffer("k", op.getK(), /*isResult=*/false);
    if (gain)
      solve.addBuffer("v", v, /*isResult=*/false);
    if (op.getG())
      solve.addBuffer("g", op.getG(), /*isResult=*/false);
    if (op.getBeta())
      solve.addBuffer("beta", op.getBeta(), /*isResult=*/false);
    if (cu)
      solve.addBuffer("cu_seqlens", cu, /*isResult=*/false);
    Value sequences = cu ? solve.sub(solve.dim(cu, 0), 1) : solve.dim(v, 0);
    Value slots = solve.add(
        solve.div(solve.mul(solve.dim(v, 0), solve.dim(v, 1)), kChunk),
        sequences);
    Value heads = solve.dim(v, 2);
    tInverse = solve.temporary(
        element, {ShapedType::kDynamic, ShapedType::kDynamic, kChunk, kChunk},
        {slots, heads});
    solve.addMemRef("t_inverse", tInverse);
    if (gain) {
      auto type = gain.getGain().getType();
      gainTemp = solve.temporary(type.getElementType(),
                                 SmallVector<int64_t>(3, ShapedType::kDynamic),
                                 {solve.dim(v, 0), solve.dim(v, 1), heads});
      solve.addMemRef("gain", gainTemp);
    }
    solve.addSize("T", v, 1);
    solve.addSize("H", op.getQ(), 2);
    solve.addSize("HV", v, 2);
    solve.addSize("N1", cu ? cu : v, 0);
    SolveLayout layout = solveLayout(config);
    gpu::GPUFuncOp solveFunc = solve.createKernel(kSolveThreads, layout.bytes);
    // Four blocks an SM (128 registers, no spills at K = 128): the solve
    // is a chain of dependent steps that only more warps hide.
    solveFunc->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                       IntegerAttr::get(IntegerType::get(op.getContext(), 32), 4));
    emitSolveKernel(op, gain, config, solveFunc, solve.argNames());
    solve.setProducts(element);
    solve.launchOnly({slots, heads});
  }

  LaunchBuilder launch(op, kernels, name);
  launch.addScanOperands(op, gainTemp);
  if (tInverse)
    launch.addMemRef("t_inverse", tInverse);
  gpu::GPUFuncOp func = launch.createKernel(kThreads, config.bytes);
  ChunkedKernel(op, config).emit(func, launch.argNames());
  if (config.twoPerSM)
    func->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                  IntegerAttr::get(IntegerType::get(op.getContext(), 32), 2));

  Value tiles = launch.cst((V + config.BV - 1) / config.BV);
  Value sequences =
      cu ? launch.sub(launch.dim(cu, 0), 1) : launch.dim(v, 0);
  launch.setProducts(element);
  launch.launch({tiles, launch.dim(v, 2), sequences});
  if (gain) {
    assert(gain->use_empty() && "the scan was the gain's only reader");
    gain.erase();
  }
  return success();
}
