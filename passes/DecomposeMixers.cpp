//===- DecomposeMixers.cpp - mixer ops into linalg and a scan -------------===//
//
// docs/dialect.md §7–§8: a mixer op is a block of projections, a short conv
// and gates around one muonssm.scan. The pass writes the block out as
// linalg.generic ops on tensors (in the accumulation precision) and the scan
// with the backbone's decay, so the scan goes through the scheduling passes
// and lowerings like any other, and the rest through upstream bufferization
// and linalg-to-loops. The model layers (linear, norms, conv stem, pooling,
// embedding, SwiGLU) are written out the same way.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::muonssm {
#define GEN_PASS_DEF_DECOMPOSEMIXERS
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;
using namespace mlir::muonssm;

namespace {

/// Builds the linalg pieces of a block on tensors of one float type.
class BlockBuilder {
public:
  BlockBuilder(ImplicitLocOpBuilder &b, FloatType acc) : b(b), acc(acc) {}

  /// The sizes of `t` as fold results (constants where static).
  SmallVector<OpFoldResult> sizes(Value t) {
    SmallVector<OpFoldResult> out;
    auto type = cast<RankedTensorType>(t.getType());
    for (int64_t i = 0; i < type.getRank(); ++i)
      out.push_back(type.isDynamicDim(i)
                        ? OpFoldResult(tensor::DimOp::create(b, t, i).getResult())
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(i))));
    return out;
  }
  Value empty(ArrayRef<OpFoldResult> dims, Type element) {
    return tensor::EmptyOp::create(b, dims, element);
  }
  Value zeros(ArrayRef<OpFoldResult> dims) {
    Value zero = arith::ConstantOp::create(b, acc, b.getFloatAttr(acc, 0.0));
    return linalg::FillOp::create(b, zero, empty(dims, acc)).getResult(0);
  }

  /// out[i…] = fn(inputs[map_k(i…)]…) over the iteration space of `init`.
  Value generic(ValueRange inputs, ArrayRef<AffineMap> inputMaps, Value init,
                ArrayRef<utils::IteratorType> iterators,
                function_ref<Value(ValueRange)> body) {
    unsigned rank = iterators.size();
    SmallVector<AffineMap> maps(inputMaps);
    if (maps.size() == inputs.size()) {
      // The output: the parallel dimensions, in order.
      SmallVector<AffineExpr> outs;
      for (unsigned i = 0; i < rank; ++i)
        if (iterators[i] == utils::IteratorType::parallel)
          outs.push_back(b.getAffineDimExpr(i));
      maps.push_back(AffineMap::get(rank, 0, outs, b.getContext()));
    }
    auto op = linalg::GenericOp::create(
        b, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
        iterators, [&](OpBuilder &nested, Location, ValueRange args) {
          // The body is built with `b` (its callers' builder), moved into
          // the region for the duration.
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(),
                              nested.getInsertionPoint());
          linalg::YieldOp::create(b, body(args));
        });
    return op.getResult(0);
  }

  /// Elementwise fn over tensors of one shape; the result has `element`.
  Value map(ValueRange inputs, Type element, function_ref<Value(ValueRange)> fn) {
    auto type = cast<RankedTensorType>(inputs[0].getType());
    unsigned rank = type.getRank();
    SmallVector<AffineMap> maps(inputs.size(),
                                b.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    return generic(inputs, maps, empty(sizes(inputs[0]), element), iterators,
                   [&](ValueRange args) {
                     return fn(args.drop_back());
                   });
  }

  /// `t` in float type `to` (extension or rounding to nearest even).
  Value convert(Value t, FloatType to) {
    auto from = cast<FloatType>(cast<RankedTensorType>(t.getType()).getElementType());
    if (from == to)
      return t;
    return map({t}, to, [&](ValueRange x) -> Value {
      if (from.getWidth() < to.getWidth())
        return arith::ExtFOp::create(b, to, x[0]);
      if (from.getWidth() > to.getWidth())
        return arith::TruncFOp::create(b, to, x[0]);
      return arith::TruncFOp::create(b, to, arith::ExtFOp::create(b, acc, x[0]));
    });
  }

  /// x [..., I] · wᵀ with w [O, I] → [..., O] (PyTorch's Linear, no bias),
  /// for x of rank 2 or 3.
  Value linear(Value x, Value w) {
    MLIRContext *ctx = b.getContext();
    unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
    // Dimensions: the leading ones, then o, then the reduction i.
    SmallVector<AffineExpr> lead;
    for (unsigned d = 0; d + 1 < rank; ++d)
      lead.push_back(b.getAffineDimExpr(d));
    AffineExpr o = b.getAffineDimExpr(rank - 1), i = b.getAffineDimExpr(rank);
    SmallVector<AffineExpr> xExprs = lead;
    xExprs.push_back(i);
    SmallVector<OpFoldResult> dims = sizes(x);
    dims.back() = sizes(w)[0];
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    iterators.push_back(utils::IteratorType::reduction);
    return generic({x, w},
                   {AffineMap::get(rank + 1, 0, xExprs, ctx),
                    AffineMap::get(rank + 1, 0, {o, i}, ctx)},
                   zeros(dims), iterators, [&](ValueRange a) -> Value {
                     return math::FmaOp::create(b, a[0], a[1], a[2]);
                   });
  }

  /// out[…, c] = fn(t[…, c], perChannel_k[c]…) over a tensor of any rank.
  Value perChannelMap(Value t, ValueRange perChannel,
                      function_ref<Value(ValueRange)> fn) {
    MLIRContext *ctx = b.getContext();
    unsigned rank = cast<RankedTensorType>(t.getType()).getRank();
    SmallVector<Value> inputs = {t};
    SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
    for (Value v : perChannel) {
      inputs.push_back(v);
      maps.push_back(
          AffineMap::get(rank, 0, {b.getAffineDimExpr(rank - 1)}, ctx));
    }
    return generic(inputs, maps, empty(sizes(t), acc),
                   SmallVector<utils::IteratorType>(
                       rank, utils::IteratorType::parallel),
                   [&](ValueRange a) { return fn(a.drop_back()); });
  }

  /// Σ over the last dimension of t (any rank ≥ 2) of fn(t): one rank less.
  Value sumLast(Value t, function_ref<Value(Value)> fn) {
    unsigned rank = cast<RankedTensorType>(t.getType()).getRank();
    SmallVector<OpFoldResult> dims = sizes(t);
    dims.pop_back();
    SmallVector<utils::IteratorType> iterators(rank - 1,
                                               utils::IteratorType::parallel);
    iterators.push_back(utils::IteratorType::reduction);
    return generic({t}, {b.getMultiDimIdentityMap(rank)}, zeros(dims),
                   iterators, [&](ValueRange a) -> Value {
                     return arith::AddFOp::create(b, fn(a[0]), a[1]);
                   });
  }

  /// out[…, c] = fn(t[…, c], s[…]) with s one rank less (broadcast over c).
  Value withRowValue(Value t, Value row, function_ref<Value(Value, Value)> fn) {
    MLIRContext *ctx = b.getContext();
    unsigned rank = cast<RankedTensorType>(t.getType()).getRank();
    SmallVector<AffineExpr> lead;
    for (unsigned d = 0; d + 1 < rank; ++d)
      lead.push_back(b.getAffineDimExpr(d));
    return generic({t, row},
                   {b.getMultiDimIdentityMap(rank),
                    AffineMap::get(rank, 0, lead, ctx)},
                   empty(sizes(t), acc),
                   SmallVector<utils::IteratorType>(
                       rank, utils::IteratorType::parallel),
                   [&](ValueRange a) { return fn(a[0], a[1]); });
  }

  /// x [B, L, C] with zero tokens around it along L: `front` before and
  /// `extra − front` after (`extra` in all), built elementwise (a tensor
  /// insert_slice would bufferize to a strided memref.copy, which needs the
  /// MLIR runner-utils library at run time). Without `boundedAfter` the
  /// caller promises nothing is read past the end (all padding in front).
  Value zeroPadded(Value x, Value front, Value extra, bool boundedAfter) {
    SmallVector<OpFoldResult> dims = sizes(x);
    Value length = getValueOrCreateConstantIndexOp(b, b.getLoc(), dims[1]);
    dims[1] = getAsOpFoldResult(b.createOrFold<arith::AddIOp>(length, extra));
    Value zero = arith::ConstantOp::create(b, acc, b.getFloatAttr(acc, 0.0));
    return generic(
        {}, {}, empty(dims, acc),
        SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
        [&](ValueRange) -> Value {
          Value bi = linalg::IndexOp::create(b, 0);
          Value l = linalg::IndexOp::create(b, 1);
          Value c = linalg::IndexOp::create(b, 2);
          Value inside = arith::CmpIOp::create(b, arith::CmpIPredicate::uge,
                                               l, front);
          if (boundedAfter)
            inside = arith::AndIOp::create(
                b, inside,
                arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                                      arith::SubIOp::create(b, l, front),
                                      length));
          // Clamped so that the (discarded) read outside is in bounds.
          Value src = arith::SelectOp::create(
              b, inside, arith::SubIOp::create(b, l, front),
              arith::ConstantIndexOp::create(b, 0));
          Value value = tensor::ExtractOp::create(b, x, ValueRange{bi, src, c});
          return arith::SelectOp::create(b, inside, value, zero);
        });
  }

  /// Depthwise conv along L of x [B, L, C] with w [C, W] and bias [C] (or
  /// none): out[b,l,c] = bias[c] + Σ_j w[c,j]·x[b, l − front + j, c], zero
  /// outside the sequence. Causal: front = W − 1 (PyTorch's Conv1d, padding
  /// W − 1, first L); `same`: front = ⌊(W − 1)/2⌋ (padding='same', the odd
  /// token of an even kernel after).
  Value depthwiseConv(Value x, Value w, Value bias, bool same = false) {
    MLIRContext *ctx = b.getContext();
    SmallVector<OpFoldResult> dims = sizes(x);
    Value one = arith::ConstantIndexOp::create(b, 1);
    Value span = b.createOrFold<arith::SubIOp>(
        getValueOrCreateConstantIndexOp(b, b.getLoc(), sizes(w)[1]), one);
    Value front =
        same ? b.createOrFold<arith::DivUIOp>(
                   span, arith::ConstantIndexOp::create(b, 2))
             : span;
    // W − 1 zero tokens around x: all in front (causal) or split.
    Value padded = zeroPadded(x, front, span, /*boundedAfter=*/same);
    // The bias, broadcast, is the accumulator's start (c is dimension 2 of
    // both iteration spaces).
    AffineExpr bi, l, c, j;
    bindDims(ctx, bi, l, c, j);
    Value init = !bias ? zeros(dims)
                       : generic({bias}, {AffineMap::get(3, 0, {c}, ctx)},
                                 empty(dims, acc),
                                 SmallVector<utils::IteratorType>(
                                     3, utils::IteratorType::parallel),
                                 [](ValueRange a) { return a[0]; });
    return generic(
        {padded, w},
        {AffineMap::get(4, 0, {bi, l + j, c}, ctx),
         AffineMap::get(4, 0, {c, j}, ctx)},
        init,
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::parallel, utils::IteratorType::reduction},
        [&](ValueRange a) -> Value {
          return math::FmaOp::create(b, a[0], a[1], a[2]);
        });
  }

  /// Columns [offset, offset + count) of the last dimension of x [B, L, D].
  Value columns(Value x, int64_t offset, int64_t count) {
    SmallVector<OpFoldResult> dims = sizes(x);
    dims[2] = b.getIndexAttr(count);
    return tensor::ExtractSliceOp::create(
        b, x,
        SmallVector<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0),
                                  b.getIndexAttr(offset)},
        dims, SmallVector<OpFoldResult>(3, b.getIndexAttr(1)));
  }

  /// Columns [offset, offset + count) of a weight w [O, I].
  Value weightColumns(Value w, int64_t offset, int64_t count) {
    SmallVector<OpFoldResult> dims = sizes(w);
    dims[1] = b.getIndexAttr(count);
    return tensor::ExtractSliceOp::create(
        b, w,
        SmallVector<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(offset)},
        dims, SmallVector<OpFoldResult>(2, b.getIndexAttr(1)));
  }

  /// [B, L, D] → [B, L, 1, D]: one head.
  Value oneHead(Value x) {
    auto type = cast<RankedTensorType>(x.getType());
    auto result = RankedTensorType::get(
        {type.getDimSize(0), type.getDimSize(1), 1, type.getDimSize(2)},
        type.getElementType());
    return tensor::ExpandShapeOp::create(
        b, result, x, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  }

  /// [B, L, H·X] → [B, L, H, X].
  Value splitHeads(Value x, int64_t heads) {
    auto type = cast<RankedTensorType>(x.getType());
    int64_t width = type.getDimSize(2) / heads;
    auto result = RankedTensorType::get(
        {type.getDimSize(0), type.getDimSize(1), heads, width},
        type.getElementType());
    return tensor::ExpandShapeOp::create(
        b, result, x, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  }

  /// Σ_x t[b,l,h,x]² → [B, L, H].
  Value sumOfSquares(Value t) {
    MLIRContext *ctx = b.getContext();
    SmallVector<OpFoldResult> dims = sizes(t);
    dims.pop_back();
    AffineExpr bi, l, h, x;
    bindDims(ctx, bi, l, h, x);
    return generic({t}, {AffineMap::get(4, 0, {bi, l, h, x}, ctx)},
                   zeros(dims),
                   {utils::IteratorType::parallel, utils::IteratorType::parallel,
                    utils::IteratorType::parallel,
                    utils::IteratorType::reduction},
                   [&](ValueRange a) -> Value {
                     return math::FmaOp::create(b, a[0], a[0], a[1]);
                   });
  }

  /// out[b,l,h,x] = fn(t[b,l,h,x], perHead[b,l,h], perX[x]…) for a 4-D t,
  /// tensors [B, L, H] and [X] broadcast.
  Value perHeadMap(Value t, ValueRange perHead, ValueRange perX,
                   function_ref<Value(ValueRange)> fn) {
    MLIRContext *ctx = b.getContext();
    AffineExpr bi, l, h, x;
    bindDims(ctx, bi, l, h, x);
    SmallVector<Value> inputs = {t};
    SmallVector<AffineMap> maps = {AffineMap::get(4, 0, {bi, l, h, x}, ctx)};
    for (Value v : perHead) {
      inputs.push_back(v);
      maps.push_back(AffineMap::get(4, 0, {bi, l, h}, ctx));
    }
    for (Value v : perX) {
      inputs.push_back(v);
      maps.push_back(AffineMap::get(4, 0, {x}, ctx));
    }
    return generic(inputs, maps, empty(sizes(t), acc),
                   SmallVector<utils::IteratorType>(
                       4, utils::IteratorType::parallel),
                   [&](ValueRange a) { return fn(a.drop_back()); });
  }

  Value cst(double value) {
    return arith::ConstantOp::create(b, acc, b.getFloatAttr(acc, value));
  }
  Value sigmoid(Value x) {
    Value one = cst(1.0);
    Value e = math::ExpOp::create(b, arith::NegFOp::create(b, x));
    return arith::DivFOp::create(b, one, arith::AddFOp::create(b, one, e));
  }
  /// PyTorch's softplus (threshold 20).
  Value softplus(Value x) {
    Value soft = math::Log1pOp::create(b, math::ExpOp::create(b, x));
    Value big =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, x, cst(20.0));
    return arith::SelectOp::create(b, big, x, soft);
  }

  Value silu(Value x) {
    // x·σ(x) = x / (1 + e^{−x})
    Value one = arith::ConstantOp::create(b, acc, b.getFloatAttr(acc, 1.0));
    Value e = math::ExpOp::create(b, arith::NegFOp::create(b, x));
    return arith::DivFOp::create(b, x, arith::AddFOp::create(b, one, e));
  }

  ImplicitLocOpBuilder &b;
  FloatType acc;
};

/// The model layers: each in the accumulation type, rounded back once.
template <typename Op>
struct DecomposeLayer : OpRewritePattern<Op> {
  using OpRewritePattern<Op>::OpRewritePattern;

  LogicalResult matchAndRewrite(Op op,
                                PatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Value result = op->getResult(0);
    auto element = cast<FloatType>(
        cast<RankedTensorType>(result.getType()).getElementType());
    FloatType acc = element.isF64() ? FloatType(b.getF64Type())
                                    : FloatType(b.getF32Type());
    BlockBuilder blk(b, acc);
    auto in = [&](Value v) { return v ? blk.convert(v, acc) : Value(); };
    Value y = build(op, blk, in);
    rewriter.replaceOp(op, blk.convert(y, element));
    return success();
  }

  using In = function_ref<Value(Value)>;
  static Value build(LinearOp op, BlockBuilder &blk, In in) {
    Value y = blk.linear(in(op.getX()), in(op.getWeight()));
    if (!op.getBias())
      return y;
    return blk.perChannelMap(y, {in(op.getBias())}, [&](ValueRange a) -> Value {
      return arith::AddFOp::create(blk.b, a[0], a[1]);
    });
  }
  static Value build(RMSNormOp op, BlockBuilder &blk, In in) {
    ImplicitLocOpBuilder &b = blk.b;
    Value x = in(op.getX());
    auto type = cast<RankedTensorType>(x.getType());
    double inverseD = 1.0 / static_cast<double>(type.getShape().back());
    Value eps = blk.cst(op.getEps().convertToDouble());
    Value sq = blk.sumLast(x, [&](Value v) -> Value {
      return arith::MulFOp::create(b, v, v);
    });
    Value normed = blk.withRowValue(x, sq, [&](Value v, Value s) -> Value {
      Value ms = arith::MulFOp::create(b, s, blk.cst(inverseD));
      return arith::MulFOp::create(
          b, v, math::RsqrtOp::create(b, arith::AddFOp::create(b, ms, eps)));
    });
    return blk.perChannelMap(normed, {in(op.getWeight())},
                             [&](ValueRange a) -> Value {
                               return arith::MulFOp::create(b, a[0], a[1]);
                             });
  }
  static Value build(Conv1dOp op, BlockBuilder &blk, In in) {
    ImplicitLocOpBuilder &b = blk.b;
    MLIRContext *ctx = b.getContext();
    Value x = in(op.getX()), w = in(op.getWeight());
    auto yType = cast<RankedTensorType>(op.getY().getType());
    int64_t padding = static_cast<int64_t>(op.getPadding());
    SmallVector<OpFoldResult> xDims = blk.sizes(x);
    // `padding` zero tokens on both sides.
    Value padded = blk.zeroPadded(
        x, arith::ConstantIndexOp::create(b, padding),
        arith::ConstantIndexOp::create(b, 2 * padding), /*boundedAfter=*/true);
    SmallVector<OpFoldResult> paddedDims = blk.sizes(padded);
    SmallVector<OpFoldResult> outDims = {
        xDims[0],
        yType.isDynamicDim(1)
            ? OpFoldResult(getAsOpFoldResult(b.createOrFold<arith::SubIOp>(
                  getValueOrCreateConstantIndexOp(b, b.getLoc(),
                                                  paddedDims[1]),
                  arith::ConstantIndexOp::create(
                      b, cast<RankedTensorType>(w.getType()).getDimSize(2) -
                             1))))
            : OpFoldResult(b.getIndexAttr(yType.getDimSize(1))),
        b.getIndexAttr(yType.getDimSize(2))};
    AffineExpr bi, l, o, i, j;
    bindDims(ctx, bi, l, o, i, j);
    return blk.generic(
        {padded, w},
        {AffineMap::get(5, 0, {bi, l + j, i}, ctx),
         AffineMap::get(5, 0, {o, i, j}, ctx)},
        blk.zeros(outDims),
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::parallel, utils::IteratorType::reduction,
         utils::IteratorType::reduction},
        [&](ValueRange a) -> Value {
          return math::FmaOp::create(b, a[0], a[1], a[2]);
        });
  }
  static Value build(BatchNormOp op, BlockBuilder &blk, In in) {
    ImplicitLocOpBuilder &b = blk.b;
    Value eps = blk.cst(op.getEps().convertToDouble());
    bool relu = op.getRelu();
    return blk.perChannelMap(
        in(op.getX()),
        {in(op.getMean()), in(op.getVariance()), in(op.getWeight()),
         in(op.getBias())},
        [&](ValueRange a) -> Value {
          Value centred = arith::SubFOp::create(b, a[0], a[1]);
          Value inv =
              math::RsqrtOp::create(b, arith::AddFOp::create(b, a[2], eps));
          Value y = math::FmaOp::create(
              b, arith::MulFOp::create(b, centred, inv), a[3], a[4]);
          return relu ? arith::MaximumFOp::create(b, y, blk.cst(0.0)) : y;
        });
  }
  static Value build(SwiGLUOp op, BlockBuilder &blk, In in) {
    ImplicitLocOpBuilder &b = blk.b;
    Value x = in(op.getX());
    Value gate = blk.linear(x, in(op.getGate()));
    Value up = blk.linear(x, in(op.getUp()));
    Value hidden = blk.map({gate, up}, blk.acc, [&](ValueRange a) -> Value {
      return arith::MulFOp::create(b, blk.silu(a[0]), a[1]);
    });
    return blk.linear(hidden, in(op.getDown()));
  }
  static Value build(EmbeddingOp op, BlockBuilder &blk, In in) {
    ImplicitLocOpBuilder &b = blk.b;
    // Rows are gathered in the table's type, not widened as a whole table.
    Value table = op.getTable(), ids = op.getIds();
    auto tableType = cast<RankedTensorType>(table.getType());
    SmallVector<OpFoldResult> dims = blk.sizes(ids);
    dims.push_back(blk.sizes(table)[1]);
    Value last = arith::SubIOp::create(
        b, getValueOrCreateConstantIndexOp(b, b.getLoc(), blk.sizes(table)[0]),
        arith::ConstantIndexOp::create(b, 1));
    MLIRContext *ctx = b.getContext();
    AffineExpr bi, l, d;
    bindDims(ctx, bi, l, d);
    return blk.generic(
        {ids}, {AffineMap::get(3, 0, {bi, l}, ctx)},
        blk.empty(dims, blk.acc),
        SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
        [&](ValueRange a) -> Value {
          // Clamped into the table: compiled code never reads outside it
          // (the oracle reports an id out of range).
          Value row = arith::IndexCastOp::create(b, b.getIndexType(), a[0]);
          row = arith::MaxSIOp::create(
              b, arith::MinSIOp::create(b, row, last),
              arith::ConstantIndexOp::create(b, 0));
          Value v = tensor::ExtractOp::create(
              b, table, ValueRange{row, linalg::IndexOp::create(b, 2)});
          return tableType.getElementType() == blk.acc
                     ? v
                     : Value(arith::ExtFOp::create(b, blk.acc, v));
        });
  }
  static Value build(MeanPoolOp op, BlockBuilder &blk, In in) {
    ImplicitLocOpBuilder &b = blk.b;
    MLIRContext *ctx = b.getContext();
    Value x = in(op.getX());
    SmallVector<OpFoldResult> dims = blk.sizes(x);
    Value length = getValueOrCreateConstantIndexOp(b, b.getLoc(), dims[1]);
    AffineExpr bi, d, l;
    bindDims(ctx, bi, d, l);
    Value sum = blk.generic(
        {x}, {AffineMap::get(3, 0, {bi, l, d}, ctx)},
        blk.zeros({dims[0], dims[2]}),
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::reduction},
        [&](ValueRange a) -> Value {
          return arith::AddFOp::create(b, a[0], a[1]);
        });
    Value count = arith::UIToFPOp::create(
        b, blk.acc,
        arith::IndexCastOp::create(b, b.getI64Type(), length));
    return blk.map({sum}, blk.acc, [&](ValueRange a) -> Value {
      return arith::DivFOp::create(b, a[0], count);
    });
  }
};

/// Why `op` cannot be written out, or "".
std::string whyNotDecomposable(GatedDeltaNetMixerOp op) {
  GatedDeltaNetMixerOp::Sizes s = op.getSizes();
  if (ShapedType::isDynamic(s.key) || ShapedType::isDynamic(s.value) ||
      ShapedType::isDynamic(s.conv))
    return "decompose-mixers needs static head sizes K and V and conv width "
           "W (the shapes of the weights); only B and L may be dynamic";
  return "";
}

/// q, k, v projections and short convs, per-head L2 norms, β and g, one
/// scalar-decay scan in the form's configuration, gated RMSNorm, o_proj.
struct DecomposeGatedDeltaNetMixer : OpRewritePattern<GatedDeltaNetMixerOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GatedDeltaNetMixerOp op,
                                PatternRewriter &rewriter) const override {
    if (!whyNotDecomposable(op).empty())
      return rewriter.notifyMatchFailure(op, "dynamic weight shapes");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    MLIRContext *ctx = rewriter.getContext();
    FloatType acc = op.getAccumulationType();
    GatedDeltaNetMixerOp::Sizes s = op.getSizes();
    BlockBuilder blk(b, acc);
    auto in = [&](Value v) { return blk.convert(v, acc); };
    Value x = in(op.getX());

    auto branch = [&](Value proj, Value conv) {
      Value c = blk.depthwiseConv(blk.linear(x, in(proj)), in(conv), Value());
      return blk.map({c}, acc, [&](ValueRange a) { return blk.silu(a[0]); });
    };
    // x/√(Σx² + 1e-6) per head (fla's l2_norm).
    auto l2norm = [&](Value t) {
      Value heads = blk.splitHeads(t, s.heads);
      return blk.perHeadMap(heads, {blk.sumOfSquares(heads)}, {},
                            [&](ValueRange a) -> Value {
                              Value norm = math::SqrtOp::create(
                                  b, arith::AddFOp::create(b, a[1],
                                                           blk.cst(1e-6)));
                              return arith::DivFOp::create(b, a[0], norm);
                            });
    };
    Value q = l2norm(branch(op.getQProj(), op.getQConv()));
    Value k = l2norm(branch(op.getKProj(), op.getKConv()));
    Value v = blk.splitHeads(branch(op.getVProj(), op.getVConv()), s.heads);

    Value beta = blk.map({blk.linear(x, in(op.getBProj()))}, acc,
                         [&](ValueRange a) { return blk.sigmoid(a[0]); });
    // g = −exp(A_log[h])·softplus(x·a_projᵀ + dt_bias[h])
    Value gPre = blk.linear(x, in(op.getAProj()));
    AffineExpr bi, l, h;
    bindDims(ctx, bi, l, h);
    Value g = blk.generic(
        {gPre, in(op.getALog()), in(op.getDtBias())},
        {AffineMap::get(3, 0, {bi, l, h}, ctx), AffineMap::get(3, 0, {h}, ctx),
         AffineMap::get(3, 0, {h}, ctx)},
        blk.empty(blk.sizes(gPre), acc),
        SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
        [&](ValueRange a) -> Value {
          Value rate = arith::NegFOp::create(b, math::ExpOp::create(b, a[1]));
          return arith::MulFOp::create(
              b, rate, blk.softplus(arith::AddFOp::create(b, a[0], a[2])));
        });

    DeltaNetForm form = op.getForm();
    bool seed = form == DeltaNetForm::Seed;
    std::optional<NewtonSchulzAttr> ns = op.getNewtonSchulz();
    auto scan = ScanOp::create(
        b, v.getType(), Type(), Type(), q, k, v, g, /*dt=*/Value(),
        /*A=*/Value(), beta, /*gain=*/Value(), /*skip=*/Value(),
        /*gate=*/Value(), Value(), Value(), Value(), Value(),
        DecayKindAttr::get(ctx, DecayKind::Scalar),
        InputKindAttr::get(ctx, seed ? InputKind::Error : InputKind::Update),
        seed ? FloatAttr() : b.getF64FloatAttr(1.0), op.getMomentumAttr(),
        ns ? *ns : NewtonSchulzAttr(),
        ns ? NSTargetAttr::get(ctx, seed ? NSTarget::Momentum
                                         : NSTarget::Update)
           : NSTargetAttr(),
        ns ? TauPlacementAttr::get(ctx, TauPlacement::Inside)
           : TauPlacementAttr(),
        ScheduleAttr(), op.getTauAttr(),
        b.getF64FloatAttr(1.0 / std::sqrt(static_cast<double>(s.key))));

    // RMSNorm over each head's V values (eps norm_eps), · weight · SiLU(gate).
    Value o = scan.getO();
    Value gate = blk.splitHeads(blk.linear(x, in(op.getGProj())), s.heads);
    Value meanSquare = blk.sumOfSquares(o);
    double inverseV = 1.0 / static_cast<double>(s.value);
    Value gated = blk.perHeadMap(
        o, {meanSquare}, {in(op.getNormWeight())}, [&](ValueRange a) -> Value {
          Value ms = arith::MulFOp::create(b, a[1], blk.cst(inverseV));
          Value inv = math::RsqrtOp::create(
              b, arith::AddFOp::create(
                     b, ms, blk.cst(op.getNormEps().convertToDouble())));
          return arith::MulFOp::create(
              b, arith::MulFOp::create(b, a[0], inv), a[2]);
        });
    // · SiLU(gate), elementwise on [B, L, H, V].
    gated = blk.map({gated, gate}, acc, [&](ValueRange a) -> Value {
      return arith::MulFOp::create(b, a[0], blk.silu(a[1]));
    });
    Value flat = tensor::CollapseShapeOp::create(
        b, gated, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value out = blk.linear(flat, in(op.getOProj()));
    rewriter.replaceOp(
        op, blk.convert(out, cast<FloatType>(
                                 op.getOut().getType().getElementType())));
    return success();
  }
};

/// Why `op` cannot be written out, or "".
std::string whyNotDecomposable(SelectiveMixerOp op) {
  SelectiveMixerOp::Sizes s = op.getSizes();
  if (ShapedType::isDynamic(s.inner) || ShapedType::isDynamic(s.rank) ||
      ShapedType::isDynamic(s.state) || ShapedType::isDynamic(s.conv))
    return "decompose-mixers needs static d_inner, d_conv, dt_rank and "
           "d_state (the shapes of the weights); only B and L may be dynamic";
  return "";
}

struct DecomposeSelectiveMixer : OpRewritePattern<SelectiveMixerOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SelectiveMixerOp op,
                                PatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    FloatType acc = op.getAccumulationType();
    SelectiveMixerOp::Sizes s = op.getSizes();
    if (!whyNotDecomposable(op).empty())
      return rewriter.notifyMatchFailure(op, "dynamic weight shapes");
    bool mamba = op.getBackbone() == SelectiveBackbone::Mamba;
    BlockBuilder blk(b, acc);
    auto in = [&](Value v) { return v ? blk.convert(v, acc) : Value(); };
    Value x = in(op.getX());

    Value xz = blk.linear(x, in(op.getInProj()));
    Value xin = blk.columns(xz, 0, s.inner);
    Value z = blk.columns(xz, s.inner, s.inner);
    bool vision = op.getVision();
    auto convolved = [&](Value t, Value w, Value bias) {
      return blk.map({blk.depthwiseConv(t, in(w), in(bias), vision)}, acc,
                     [&](ValueRange a) { return blk.silu(a[0]); });
    };
    Value u = convolved(xin, op.getConvWeight(), op.getConvBias());
    Value dbl = blk.linear(u, in(op.getXProj()));
    Value delta = blk.columns(dbl, 0, s.rank);
    Value keys = blk.columns(dbl, s.rank, s.state);
    Value queries = blk.columns(dbl, s.rank + s.state, s.state);

    // dt = δ·dt_projᵀ + dt_bias, then softplus (Mamba's Δ, PyTorch's
    // threshold 20) or sigmoid (LongHorn's dt).
    Value dtBias = in(op.getDtBias());
    Value dtLinear = blk.linear(delta, in(op.getDtProj()));
    MLIRContext *ctx = rewriter.getContext();
    AffineExpr bi, l, c;
    bindDims(ctx, bi, l, c);
    Value dt = blk.generic(
        {dtLinear, dtBias},
        {AffineMap::get(3, 0, {bi, l, c}, ctx), AffineMap::get(3, 0, {c}, ctx)},
        blk.empty(blk.sizes(dtLinear), acc),
        SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
        [&](ValueRange a) -> Value {
          Value pre = arith::AddFOp::create(b, a[0], a[1]);
          // The Mamba vision mixer adds the bias twice (dialect.md §7).
          if (mamba && vision)
            pre = arith::AddFOp::create(b, pre, a[1]);
          return mamba ? blk.softplus(pre) : blk.sigmoid(pre);
        });

    // Mamba's A = −exp(A_log) as the scan's [1, d_state, d_inner].
    Value a;
    if (mamba) {
      Value aLog = in(op.getALog());
      AffineExpr n, ch;
      bindDims(ctx, n, ch);
      Value t = blk.generic(
          {aLog}, {AffineMap::get(2, 0, {ch, n}, ctx)},
          blk.empty({b.getIndexAttr(s.state), b.getIndexAttr(s.inner)}, acc),
          SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
          [&](ValueRange v) -> Value {
            return arith::NegFOp::create(b, math::ExpOp::create(b, v[0]));
          });
      a = tensor::ExpandShapeOp::create(
          b, RankedTensorType::get({1, s.state, s.inner}, acc), t,
          SmallVector<ReassociationIndices>{{0, 1}, {2}});
    }
    Value skip = tensor::ExpandShapeOp::create(
        b, RankedTensorType::get({1, s.inner}, acc), in(op.getD()),
        SmallVector<ReassociationIndices>{{0, 1}});

    Value q = blk.oneHead(queries), k = blk.oneHead(keys), v = blk.oneHead(u);
    Value dt4 = blk.oneHead(dt);
    Value gate = vision ? Value() : blk.oneHead(z);
    std::optional<NewtonSchulzAttr> ns = op.getNewtonSchulz();
    auto scan = ScanOp::create(
        b, v.getType(), Type(), Type(), q, k, v, /*g=*/Value(), dt4,
        mamba ? a : Value(), /*beta=*/mamba ? dt4 : Value(), /*gain=*/Value(),
        skip, gate, /*cu_seqlens=*/Value(), Value(), Value(), Value(),
        DecayKindAttr::get(ctx, mamba ? DecayKind::Mamba : DecayKind::Longhorn),
        InputKindAttr::get(ctx, InputKind::Update), FloatAttr(),
        op.getMomentumAttr(), ns ? *ns : NewtonSchulzAttr(),
        ns ? NSTargetAttr::get(ctx, NSTarget::Update) : NSTargetAttr(),
        ns ? TauPlacementAttr::get(ctx, mamba ? TauPlacement::Inside
                                              : TauPlacement::After)
           : TauPlacementAttr(),
        ScheduleAttr(), op.getTauAttr(), b.getF64FloatAttr(1.0));
    Value y = tensor::CollapseShapeOp::create(
        b, scan.getO(), SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value outProj = in(op.getOutProj());
    Value out;
    if (!vision) {
      out = blk.linear(y, outProj);
    } else {
      // cat(y, zc)·out_projᵀ as the sum of the two halves' products (a
      // concat would bufferize to a strided copy, see depthwiseConv).
      Value zc = convolved(z, op.getConvZWeight(), op.getConvZBias());
      Value yPart = blk.linear(y, blk.weightColumns(outProj, 0, s.inner));
      Value zPart =
          blk.linear(zc, blk.weightColumns(outProj, s.inner, s.inner));
      out = blk.map({yPart, zPart}, acc, [&](ValueRange a) -> Value {
        return arith::AddFOp::create(b, a[0], a[1]);
      });
    }
    rewriter.replaceOp(
        op, blk.convert(out, cast<FloatType>(
                                 op.getOut().getType().getElementType())));
    return success();
  }
};

struct DecomposeMixersPass
    : muonssm::impl::DecomposeMixersBase<DecomposeMixersPass> {
  void runOnOperation() override {
    WalkResult walk = getOperation().walk([](Operation *op) {
      std::string why;
      if (auto mixer = dyn_cast<SelectiveMixerOp>(op))
        why = whyNotDecomposable(mixer);
      else if (auto mixer = dyn_cast<GatedDeltaNetMixerOp>(op))
        why = whyNotDecomposable(mixer);
      if (why.empty())
        return WalkResult::advance();
      op->emitOpError() << why;
      return WalkResult::interrupt();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    patterns.add<DecomposeSelectiveMixer, DecomposeGatedDeltaNetMixer,
                 DecomposeLayer<LinearOp>, DecomposeLayer<RMSNormOp>,
                 DecomposeLayer<Conv1dOp>, DecomposeLayer<BatchNormOp>,
                 DecomposeLayer<MeanPoolOp>, DecomposeLayer<SwiGLUOp>,
                 DecomposeLayer<EmbeddingOp>>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
