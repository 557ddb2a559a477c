//===- LowerToGPU.cpp - muonssm ops to GPU kernels and launches -----------===//
//
// The module pass: one gpu.module @muonssm_kernels (target NVVM, sm_90a by
// default) holding a kernel per muonssm op, each op replaced by a
// gpu.launch_func on flat buffers. The kernels are described in docs/gpu.md;
// their emitters live beside this file.
//
//===----------------------------------------------------------------------===//

#include "passes/GPULowering.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::muonssm {
#define GEN_PASS_DEF_LOWERTOGPU
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::gpu_codegen;

//===----------------------------------------------------------------------===//
// LaunchBuilder
//===----------------------------------------------------------------------===//

LaunchBuilder::LaunchBuilder(Operation *op, gpu::GPUModuleOp kernels,
                             StringRef name)
    : op(op), kernels(kernels), name(name.str()), b(op->getLoc(), op) {}

Value LaunchBuilder::dim(Value tensor, int64_t d) {
  return tensor::DimOp::create(b, tensor, d);
}
Value LaunchBuilder::cst(int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}
Value LaunchBuilder::ceilDiv(Value x, int64_t d) {
  return arith::CeilDivUIOp::create(b, x, cst(d));
}
Value LaunchBuilder::sub(Value x, int64_t y) {
  return arith::SubIOp::create(b, x, cst(y));
}
Value LaunchBuilder::mul(Value x, Value y) {
  return arith::MulIOp::create(b, x, y);
}
Value LaunchBuilder::add(Value x, Value y) {
  return arith::AddIOp::create(b, x, y);
}
Value LaunchBuilder::div(Value x, int64_t d) {
  return arith::DivUIOp::create(b, x, cst(d));
}

/// A flat view memref<?xT> of an identity-layout buffer.
static Value flatten(ImplicitLocOpBuilder &b, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<ReassociationIndices> all(1);
  for (int64_t i = 0; i < type.getRank(); ++i)
    all[0].push_back(i);
  Value flat = buffer;
  if (type.getRank() != 1)
    flat = memref::CollapseShapeOp::create(b, buffer, all);
  auto dynamic =
      MemRefType::get({ShapedType::kDynamic}, type.getElementType());
  if (flat.getType() != dynamic)
    flat = memref::CastOp::create(b, dynamic, flat);
  return flat;
}

void LaunchBuilder::addBuffer(StringRef argName, Value tensor, bool isResult,
                              ArrayRef<Value> resultSizes) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  Buffer buffer{argName.str(), tensor, isResult, {}, {}};
  if (isResult) {
    SmallVector<Value> dynamic;
    for (auto [i, size] : llvm::enumerate(type.getShape()))
      if (ShapedType::isDynamic(size))
        dynamic.push_back(resultSizes[i]);
    buffer.alloc = memref::AllocOp::create(b, memrefType, dynamic);
    buffer.flat = flatten(b, buffer.alloc);
  } else {
    Value memref = bufferization::ToBufferOp::create(b, memrefType, tensor,
                                                     /*read_only=*/true);
    buffer.flat = flatten(b, memref);
  }
  buffers.push_back(buffer);
}

void LaunchBuilder::addInPlaceBuffer(StringRef argName, Value operand,
                                     Value result) {
  auto type = cast<RankedTensorType>(operand.getType());
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  // Not read_only: one-shot bufferization sees the write and keeps the
  // operand's value intact for any other reader.
  Value memref = bufferization::ToBufferOp::create(b, memrefType, operand);
  auto resultType = cast<RankedTensorType>(result.getType());
  auto resultMemref =
      MemRefType::get(resultType.getShape(), resultType.getElementType());
  Value alloc = memref;
  if (resultMemref != memrefType)
    alloc = memref::CastOp::create(b, resultMemref, memref);
  buffers.push_back({argName.str(), result, /*isResult=*/true,
                     flatten(b, memref), alloc});
}

void LaunchBuilder::addMemRef(StringRef argName, Value memref) {
  buffers.push_back({argName.str(), Value(), /*isResult=*/false,
                     flatten(b, memref), memref});
}

Value LaunchBuilder::temporary(Type element, ArrayRef<int64_t> shape,
                               ArrayRef<Value> dynamicSizes) {
  return flatten(b, memref::AllocOp::create(
                       b, MemRefType::get(shape, element), dynamicSizes));
}

void LaunchBuilder::addScanOperands(ScanOp op, Value gain) {
  for (auto [argName, value] :
       SmallVector<std::pair<StringRef, Value>>{
           {"q", op.getQ()},
           {"k", op.getK()},
           {"v", op.getV()},
           {"g", op.getG()},
           {"dt", op.getDt()},
           {"a", op.getA()},
           {"beta", op.getBeta()},
           {"gain", op.getGain()},
           {"skip", op.getSkip()},
           {"gate", op.getGate()},
           {"cu_seqlens", op.getCuSeqlens()},
           {"initial_state", op.getInitialState()},
           {"initial_momentum", op.getInitialMomentum()},
           {"state_indices", op.getStateIndices()}})
    if (gain && argName == "gain")
      addMemRef(argName, gain);
    else if (value)
      addBuffer(argName, value, /*isResult=*/false);
  // Result sizes (for dynamic dimensions): o is v's shape, a final state
  // [N, HV, K, V] with N sequences (cu_seqlens: its size − 1).
  Value v = op.getV();
  addBuffer("o", op.getO(), /*isResult=*/true,
            {dim(v, 0), dim(v, 1), dim(v, 2), dim(v, 3)});
  Value sequences = op.getCuSeqlens() ? sub(dim(op.getCuSeqlens(), 0), 1)
                                      : dim(v, 0);
  SmallVector<Value> stateSizes = {sequences, dim(v, 2), dim(op.getQ(), 3),
                                   dim(v, 3)};
  // State pools are updated in place (decode): the final states are the
  // pools' own buffers, and only the selected slots are written.
  bool pools = static_cast<bool>(op.getStateIndices());
  for (auto [argName, result, pool] :
       SmallVector<std::tuple<StringRef, Value, Value>>{
           {"final_state", op.getFinalState(), op.getInitialState()},
           {"final_momentum", op.getFinalMomentum(),
            op.getInitialMomentum()}}) {
    if (!result)
      continue;
    if (pools)
      addInPlaceBuffer(argName, pool, result);
    else
      addBuffer(argName, result, /*isResult=*/true, stateSizes);
  }
  if (pools)
    addSize("P", op.getInitialState(), 0);
  addSize("T", op.getV(), 1);
  addSize("H", op.getQ(), 2);
  addSize("HV", op.getV(), 2);
}

void LaunchBuilder::addSize(StringRef argName, Value tensor, int64_t d) {
  Value size = arith::IndexCastUIOp::create(b, b.getI32Type(), dim(tensor, d));
  sizes.push_back({argName.str(), size});
}

SmallVector<std::string> LaunchBuilder::argNames() const {
  SmallVector<std::string> names;
  for (const Buffer &buffer : buffers)
    names.push_back(buffer.name);
  for (auto &[n, v] : sizes)
    names.push_back(n);
  return names;
}

gpu::GPUFuncOp LaunchBuilder::createKernel(int64_t blockThreads,
                                           int64_t dynamicShared) {
  threads = blockThreads;
  sharedBytes = dynamicShared;
  SmallVector<Type> types;
  for (const Buffer &buffer : buffers)
    types.push_back(buffer.flat.getType());
  for (auto &[n, v] : sizes)
    types.push_back(v.getType());
  OpBuilder kb(kernels.getBodyRegion());
  kb.setInsertionPointToEnd(&kernels.getBodyRegion().front());
  func = gpu::GPUFuncOp::create(kb, op->getLoc(), name,
                                kb.getFunctionType(types, {}));
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), kb.getUnitAttr());
  func.setKnownBlockSizeAttr(kb.getDenseI32ArrayAttr(
      {static_cast<int32_t>(threads), 1, 1}));
  // Argument names, for the bundle's manifest.
  SmallVector<std::string> names = argNames();
  for (auto [i, n] : llvm::enumerate(names))
    func.setArgAttr(i, "muonssm.arg", kb.getStringAttr(n));
  return func;
}

gpu::LaunchFuncOp LaunchBuilder::createLaunch(ArrayRef<Value> grid) {
  SmallVector<Value> operands;
  for (const Buffer &buffer : buffers)
    operands.push_back(buffer.flat);
  for (auto &[n, v] : sizes)
    operands.push_back(v);
  Value one = cst(1);
  gpu::KernelDim3 gridDims{grid[0], grid.size() > 1 ? grid[1] : one,
                           grid.size() > 2 ? grid[2] : one};
  gpu::KernelDim3 blockDims{cst(threads), one, one};
  Value shared = arith::ConstantIntOp::create(b, sharedBytes, 32);
  auto launchOp =
      gpu::LaunchFuncOp::create(b, func, gridDims, blockDims, shared, operands);
  if (products)
    launchOp->setAttr("muonssm.products", TypeAttr::get(products));
  return launchOp;
}

void LaunchBuilder::launchOnly(ArrayRef<Value> grid) { createLaunch(grid); }

void LaunchBuilder::launch(ArrayRef<Value> grid) {
  createLaunch(grid);
  SmallVector<Value> results;
  for (const Buffer &buffer : buffers)
    if (buffer.isResult)
      results.push_back(bufferization::ToTensorOp::create(
          b, buffer.tensor.getType(), buffer.alloc, /*restrict=*/true,
          /*writable=*/true));
  op->replaceAllUsesWith(results);
  op->erase();
}

//===----------------------------------------------------------------------===//
// muonssm.rank1_gain: a group of lanes per (b, t, h)
//===----------------------------------------------------------------------===//

int64_t gpu_codegen::rowVectorWidth(RankedTensorType type) {
  int64_t dim = type.getDimSize(type.getRank() - 1);
  if (ShapedType::isDynamic(dim))
    return 1;
  int64_t width = 128 / type.getElementTypeBitWidth();
  while (dim % width != 0)
    width /= 2;
  return width;
}

Value gpu_codegen::rank1GainFromSums(KernelBuilder &e, Rank1GainOp op,
                                     Value kk, Value ww) {
  double tauIn = op.getTauIn().convertToDouble();
  double tauOut = op.getTauOut().convertToDouble();
  NewtonSchulzAttr ns = op.getNewtonSchulz();
  NSCoefficients coef = getNSCoefficients(ns.getPolynomial());
  Value zero = e.cst(0.0);
  Value sigma = e.mul(e.cst(tauIn), e.mul(e.sqrt(kk), e.sqrt(ww)));
  Value eps = e.cst(ns.getEpsValue());
  Value s = e.div(sigma, ns.getEpsMode() == EpsMode::Add ? e.add(sigma, eps)
                                                         : e.maxf(sigma, eps));
  for (int64_t step = 0; step < ns.getSteps(); ++step) {
    Value s2 = e.mul(s, s);
    s = e.mul(s, e.fma(e.fma(e.cst(coef.c), s2, e.cst(coef.b)), s2,
                       e.cst(coef.a)));
  }
  Value isZero = arith::CmpFOp::create(e.b, arith::CmpFPredicate::OEQ,
                                       sigma, zero);
  return e.mul(e.cst(tauIn * tauOut), e.select(isZero, zero, e.div(s, sigma)));
}

LogicalResult gpu_codegen::lowerRank1Gain(Rank1GainOp op,
                                          gpu::GPUModuleOp kernels,
                                          StringRef name) {
  LaunchBuilder launch(op, kernels, name);
  Value k = op.getK(), v = op.getV();
  launch.addBuffer("k", k, false);
  launch.addBuffer("v", v, false);
  if (op.getBeta())
    launch.addBuffer("beta", op.getBeta(), false);
  if (op.getDt())
    launch.addBuffer("dt", op.getDt(), false);
  launch.addBuffer("gain", op.getGain(), true,
                   {launch.dim(v, 0), launch.dim(v, 1), launch.dim(v, 2)});
  launch.addSize("B", v, 0);
  launch.addSize("T", v, 1);
  launch.addSize("H", k, 2);
  launch.addSize("K", k, 3);
  launch.addSize("HV", v, 2);
  launch.addSize("V", v, 3);
  // The kernel is a few loads per (b, t, h), so its time is the
  // instructions around them (docs/gpu.md §1.1: the paper form's gain at
  // 32k tokens, H = 16, K = V = 128, bf16, took 159 µs on an H200 with a
  // warp per (b, t, h) and 2-byte loads, issue-bound; 68 µs now). So a
  // lane loads up to 16 bytes at once, and a group of `lanes` lanes serves
  // one (b, t, h): the fewest that cover a row of k and of v in at most
  // four rounds, or the whole warp (rows over 128 loads, or a dynamic head
  // dimension). Per-channel β and dt are still read an element at a time.
  auto kType = cast<RankedTensorType>(k.getType());
  auto vType = cast<RankedTensorType>(v.getType());
  const int64_t wK = rowVectorWidth(kType), wV = rowVectorWidth(vType);
  const int64_t dimK = kType.getDimSize(3), dimV = vType.getDimSize(3);
  const bool staticDims =
      !ShapedType::isDynamic(dimK) && !ShapedType::isDynamic(dimV);
  int64_t lanes = staticDims ? 1 : 32;
  while (lanes < 32 && std::max(llvm::divideCeil(dimK, lanes * wK),
                                llvm::divideCeil(dimV, lanes * wV)) > 4)
    lanes *= 2;
  const int64_t warps = 4, perWarp = 32 / lanes;
  gpu::GPUFuncOp func = launch.createKernel(32 * warps, 0);
  SmallVector<std::string> names = launch.argNames();
  {
    ImplicitLocOpBuilder b(op.getLoc(), func.getContext());
    b.setInsertionPointToStart(&func.getBody().front());
    KernelBuilder e(b, b.getF32Type());
    auto arg = [&](StringRef n) { return kernelArg(func, names, n); };
    Value kBuf = arg("k"), vBuf = arg("v"), beta = arg("beta"),
          dt = arg("dt"), out = arg("gain");
    Value B = e.toIndex(arg("B")), T = e.toIndex(arg("T")),
          H = e.toIndex(arg("H")), K = e.toIndex(arg("K")),
          HV = e.toIndex(arg("HV")), V = e.toIndex(arg("V"));
    Value tid = e.threadId();
    Value lane = e.irem(tid, e.idx(32));
    Value sub = e.irem(lane, e.idx(lanes));
    Value warp = e.iadd(e.imul(e.blockId(gpu::Dimension::x), e.idx(warps)),
                        e.idiv(tid, e.idx(32)));
    Value triple =
        e.iadd(e.imul(warp, e.idx(perWarp)), e.idiv(lane, e.idx(lanes)));
    Value count = e.imul(e.imul(B, T), HV);
    // Every lane runs the same loops (shuffles need the whole warp); a
    // group past the last (b, t, h) works on the last one and stores
    // nothing.
    Value p = e.imin(triple, e.isub(count, e.idx(1)));
    Value h = e.irem(p, HV), bt = e.idiv(p, HV);
    Value kh = e.idiv(h, e.idiv(HV, H));
    Value kBase = e.imul(e.iadd(e.imul(bt, H), kh), K);
    Value vBase = e.imul(p, V);
    Value zero = e.cst(0.0);
    Value betaHead;
    bool channelBeta =
        beta && cast<RankedTensorType>(op.getBeta().getType()).getRank() == 4;
    if (beta && !channelBeta)
      betaHead = e.load(beta, p);
    // Rounds of the group over a row of n: element j = (round·lanes + sub)·w.
    // Up to eight statically known rounds are unrolled; more (Mamba's
    // d_inner as V) or a dynamic head dimension take a loop, two rounds an
    // iteration so that their loads are in flight together.
    auto rounds = [&](Value n, int64_t dim,
                      int64_t w) -> std::pair<Value, int64_t> {
      if (staticDims && llvm::divideCeil(dim, lanes * w) <= 8)
        return {Value(), llvm::divideCeil(dim, lanes * w)};
      if (staticDims)
        return {e.idx(llvm::divideCeil(dim, lanes * w)), 0};
      return {e.idiv(e.iadd(n, e.idx(lanes * w - 1)), e.idx(lanes * w)), 0};
    };
    // Σ x_j² over this lane's w elements of round `round` of a row of n
    // (none past n; the load clamped in bounds), x_j = scale(at_j, raw x_j).
    auto squares = [&](Value round, Value n, int64_t w, Value buffer,
                       Value base, Value sum, auto scale) {
      Value j = e.imul(e.iadd(e.imul(round, e.idx(lanes)), sub), e.idx(w));
      Value at = e.iadd(base, e.imin(j, e.isub(n, e.idx(w))));
      SmallVector<Value> xs;
      if (w == 1) {
        xs.push_back(e.load(buffer, at));
      } else {
        Value row = e.convert(e.vload(buffer, {at}, w),
                              VectorType::get({w}, b.getF32Type()));
        for (int64_t i = 0; i < w; ++i)
          xs.push_back(vector::ExtractOp::create(b, row, ArrayRef<int64_t>{i}));
      }
      Value partial = zero;
      for (auto [i, x] : llvm::enumerate(xs)) {
        Value y = scale(e.iadd(at, e.idx(i)), x);
        partial = e.fma(y, y, partial);
      }
      return e.add(sum, e.select(e.ult(j, n), partial, zero));
    };
    auto identity = [](Value, Value x) { return x; };
    // w_j = β·v_j (β per head or per channel) or v_j.
    auto scaleV = [&](Value at, Value x) {
      if (betaHead)
        return e.mul(betaHead, x);
      if (beta)
        return e.mul(e.load(beta, at), x);
      return x;
    };
    // body(round, sums) over the rounds in [0, count).
    auto overRounds =
        [&](std::pair<Value, int64_t> count, ValueRange init,
            function_ref<SmallVector<Value>(Value, ValueRange)> body) {
          if (!count.first) {
            SmallVector<Value> sums(init);
            for (int64_t r = 0; r < count.second; ++r)
              sums = body(e.idx(r), sums);
            return sums;
          }
          const int64_t unroll = 2;
          return e.loop(e.idx(0), count.first, e.idx(unroll), init,
                        [&](Value r0, ValueRange acc) -> SmallVector<Value> {
                          SmallVector<Value> sums(acc);
                          for (int64_t u = 0; u < unroll; ++u)
                            sums = body(e.iadd(r0, e.idx(u)), sums);
                          return sums;
                        });
        };
    auto roundsK = rounds(K, dimK, wK), roundsV = rounds(V, dimV, wV);
    Value kk, ww;
    if (!dt && !roundsK.first && !roundsV.first) {
      // Without LongHorn's dt, whose w needs ‖k‖² first, k's and v's
      // unrolled rounds go together, each array's as many as it has.
      Value sumK = zero, sumV = zero;
      for (int64_t r = 0; r < std::max(roundsK.second, roundsV.second); ++r) {
        if (r < roundsK.second)
          sumK = squares(e.idx(r), K, wK, kBuf, kBase, sumK, identity);
        if (r < roundsV.second)
          sumV = squares(e.idx(r), V, wV, vBuf, vBase, sumV, scaleV);
      }
      kk = e.groupSum(sumK, lanes);
      ww = e.groupSum(sumV, lanes);
    } else {
      // k's rounds before v's: LongHorn's w = dt/(1 + dt·‖k‖²)⊙v needs
      // ‖k‖² first (and a loop runs no round where a dimension is 0).
      kk = e.groupSum(
          overRounds(roundsK, {zero},
                     [&](Value r, ValueRange acc) -> SmallVector<Value> {
                       return {
                           squares(r, K, wK, kBuf, kBase, acc[0], identity)};
                     })[0],
          lanes);
      auto scaleW = [&](Value at, Value x) {
        if (!dt)
          return scaleV(at, x);
        Value d = e.load(dt, at);
        return e.mul(e.divFast(d, e.fma(d, kk, e.cst(1.0))), x);
      };
      ww = e.groupSum(
          overRounds(roundsV, {zero},
                     [&](Value r, ValueRange acc) -> SmallVector<Value> {
                       return {squares(r, V, wV, vBuf, vBase, acc[0], scaleW)};
                     })[0],
          lanes);
    }
    Value gain = rank1GainFromSums(e, op, kk, ww);
    e.when(e.iand(e.ult(triple, count), e.ieq(sub, e.idx(0))),
           [&] { e.store(gain, out, p); });
    gpu::ReturnOp::create(b);
  }
  Value count = launch.mul(launch.mul(launch.dim(v, 0), launch.dim(v, 1)),
                           launch.dim(v, 2));
  launch.launch({launch.ceilDiv(count, warps * perWarp)});
  return success();
}

bool gpu_codegen::isShortSequence(ScanOp op) {
  int64_t tokens = op.getV().getType().getDimSize(1);
  return !ShapedType::isDynamic(tokens) && tokens < 16 && !op.getCuSeqlens();
}

void gpu_codegen::ensureSharedBuffer(gpu::GPUModuleOp kernels,
                                     Location loc) {
  // A public global: a private one or gpu.dynamic_shared_memory becomes a
  // 1-byte static array (GPU-CODEGEN.md), a public one `.extern .shared`.
  // Aligned to 1024 bytes: wgmma's swizzled tiles (tileIndices) start at
  // multiples of 1024 from it.
  if (SymbolTable::lookupSymbolIn(kernels, "muonssm_smem"))
    return;
  OpBuilder gb(kernels.getBodyRegion());
  gb.setInsertionPointToStart(&kernels.getBodyRegion().front());
  auto type = MemRefType::get(
      {0}, gb.getI8Type(), AffineMap(),
      gpu::AddressSpaceAttr::get(gb.getContext(),
                                 gpu::AddressSpace::Workgroup));
  memref::GlobalOp::create(gb, loc, "muonssm_smem", gb.getStringAttr("public"),
                           type, Attribute(), /*constant=*/false,
                           gb.getI64IntegerAttr(1024));
}

Value gpu_codegen::sharedBytes(ImplicitLocOpBuilder &b, int64_t bytes) {
  auto space =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  Value raw = memref::GetGlobalOp::create(
      b, MemRefType::get({0}, b.getI8Type(), AffineMap(), space),
      "muonssm_smem");
  return memref::ReinterpretCastOp::create(
      b, MemRefType::get({bytes}, b.getI8Type(), AffineMap(), space), raw, 0,
      ArrayRef<int64_t>{bytes}, ArrayRef<int64_t>{1});
}

Value gpu_codegen::kernelArg(gpu::GPUFuncOp func, ArrayRef<std::string> names,
                             StringRef name) {
  for (auto [i, argName] : llvm::enumerate(names))
    if (argName == name)
      return func.getArgument(i);
  return {};
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {

struct LowerToGPUPass : muonssm::impl::LowerToGPUBase<LowerToGPUPass> {
  using LowerToGPUBase::LowerToGPUBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // A bad option value is no fault of the module: its error is not an
    // op's, whose note would print the whole module after it.
    auto optionError = [&] { return mlir::emitError(module.getLoc()); };
    ChunkedOptions chunked;
    chunked.wgmmaOverlap = wgmmaOverlap;
    chunked.leanBarriers = leanBarriers;
    auto placement =
        llvm::StringSwitch<std::optional<ChunkedOptions::Solve>>(solve)
            .Case("auto", ChunkedOptions::Solve::Auto)
            .Case("kernel", ChunkedOptions::Solve::Kernel)
            .Case("chunk", ChunkedOptions::Solve::Chunk)
            .Default(std::nullopt);
    if (!placement) {
      optionError() << "muonssm-lower-to-gpu: solve='" << solve
                    << "' is none of auto, kernel, chunk";
      return signalPassFailure();
    }
    chunked.solve = *placement;
    // (The options stream as characters to a diagnostic: read them first.)
    int64_t tile = valueTile, blocks = blocksPerSM;
    if (tile != 0 && (tile < 16 || tile > 128 || tile % 16 != 0)) {
      optionError() << "muonssm-lower-to-gpu: value-tile=" << tile
                    << " is not 0 or a multiple of 16 from 16 to 128";
      return signalPassFailure();
    }
    if (blocks < 0 || blocks > 2) {
      optionError() << "muonssm-lower-to-gpu: blocks-per-sm=" << blocks
                    << " is not 0, 1 or 2";
      return signalPassFailure();
    }
    chunked.valueTile = tile;
    chunked.blocksPerSM = blocks;
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<ScanOp, Rank1GainOp, NewtonSchulzOp, ChunkNewtonSchulzOp>(op) ||
          isModelLayer(op))
        ops.push_back(op);
    });
    if (ops.empty())
      return;

    // The float64 reference of every function that launches kernels, kept
    // as text for muonssm-translate --emit-bundle (the oracle checks the
    // kernels against the ops they replace).
    llvm::SmallPtrSet<Operation *, 4> funcs;
    for (Operation *op : ops)
      funcs.insert(op->getParentOfType<func::FuncOp>());
    for (Operation *f : funcs) {
      std::string text;
      llvm::raw_string_ostream os(text);
      f->print(os, OpPrintingFlags().printGenericOpForm(false));
      f->setAttr("muonssm.reference", StringAttr::get(&getContext(), text));
    }

    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(&getContext()));
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    auto target = NVVM::NVVMTargetAttr::get(&getContext(), /*optLevel=*/3,
                                            "nvptx64-nvidia-cuda", chip,
                                            features);
    auto kernels = gpu::GPUModuleOp::create(b, module.getLoc(),
                                            "muonssm_kernels",
                                            b.getArrayAttr({target}));

    // Kernels index with 32 bits (muonssm-to-gpu lowers them so, halving
    // their address registers); larger static tensors are rejected here,
    // dynamic ones when a bundle is launched.
    for (Operation *op : ops)
      for (Value v : llvm::concat<Value>(op->getOperands(), op->getResults()))
        if (auto type = dyn_cast<RankedTensorType>(v.getType()))
          if (type.hasStaticShape() && type.getNumElements() > INT32_MAX) {
            op->emitError() << "the GPU kernels index with 32 bits; " << type
                            << " has " << type.getNumElements()
                            << " elements (at most 2^31 - 1)";
            return signalPassFailure();
          }

    // Gains that a scan's solve kernel forms: no kernel of their own
    // (lowerChunkedScan erases them).
    llvm::SmallPtrSet<Operation *, 4> formedBySolve;
    for (Operation *op : ops)
      if (auto scan = dyn_cast<ScanOp>(op))
        if (Rank1GainOp gain = gainFormedBySolveKernel(scan, kernels, chunked))
          formedBySolve.insert(gain);

    int counter = 0;
    for (Operation *op : ops) {
      std::string name = "muonssm_k" + std::to_string(counter++);
      LogicalResult ok =
          llvm::TypeSwitch<Operation *, LogicalResult>(op)
              .Case<ScanOp>([&](ScanOp scan) -> LogicalResult {
                if (scan.getV().getType().getElementType().isF64())
                  return scan.emitError()
                         << "the GPU kernels compute in f32; f64 inputs run "
                            "on the CPU (--target cpu)";
                if (scan.getNewtonSchulz() &&
                    scan.getNsTarget() == NSTarget::Momentum)
                  return lowerMomentumNSScan(scan, kernels, name);
                if (scan.getNewtonSchulz())
                  return scan.emitError()
                         << "the GPU lowering needs Newton-Schulz of a rank-1 "
                            "update as a gain: run "
                            "muonssm-simplify-newton-schulz first (the "
                            "muonssm-to-gpu pipeline does)";
                // Tensor cores where the chunked kernel covers the scan;
                // every other scan runs token by token, and so do short
                // static sequences (decode, speculative decoding), where
                // the state's load and store are the whole cost.
                if (getsChunkedKernel(scan))
                  return lowerChunkedScan(scan, kernels, name, chunked);
                return lowerRecurrentScan(scan, kernels, name);
              })
              .Case<Rank1GainOp>([&](Rank1GainOp gain) -> LogicalResult {
                if (gain.getV().getType().getElementType().isF64())
                  return gain.emitError()
                         << "the GPU kernels compute in f32; f64 inputs run "
                            "on the CPU (--target cpu)";
                if (formedBySolve.contains(gain))
                  return success();
                return lowerRank1Gain(gain, kernels, name);
              })
              .Case<ChunkNewtonSchulzOp>(
                  [&](ChunkNewtonSchulzOp chunk) -> LogicalResult {
                    return chunk.emitError()
                           << "the per-chunk Newton-Schulz approximation "
                              "runs on the CPU only (--target cpu); the GPU "
                              "lowering has no kernel for it";
                  })
              .Case<SelectiveMixerOp, GatedDeltaNetMixerOp, LinearOp,
                    RMSNormOp, Conv1dOp, BatchNormOp, MeanPoolOp, EmbeddingOp,
                    SwiGLUOp>(
                  [&](Operation *mixer) -> LogicalResult {
                    return mixer->emitError()
                           << "muonssm-to-gpu does not lower mixer or "
                              "model-layer ops yet "
                              "(their projections would run on the host): "
                              "run the model on the CPU (--target cpu), or "
                              "give the GPU pipeline the scan alone";
                  })
              .Default([&](Operation *other) -> LogicalResult {
                return other->emitError()
                       << "the GPU lowering has no kernel for '"
                       << other->getName() << "' yet";
              });
      if (failed(ok))
        return signalPassFailure();
    }
  }
};

} // namespace
