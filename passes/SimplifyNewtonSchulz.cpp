//===- SimplifyNewtonSchulz.cpp - NS of a rank-1 update as a gain ---------===//
//
// docs/chunking.md §1: τ_out·NS(τ_in·k wᵀ) = gain·k wᵀ in closed form. The
// pattern moves NS out of the scan into a muonssm.rank1_gain op.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMOps.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::muonssm {
#define GEN_PASS_DEF_SIMPLIFYNEWTONSCHULZ
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;
using namespace mlir::muonssm;

namespace {

struct NewtonSchulzOfUpdateToGain : OpRewritePattern<ScanOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ScanOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<NewtonSchulzAttr> ns = op.getNewtonSchulz();
    if (!ns || op.getNsTarget() != NSTarget::Update)
      return rewriter.notifyMatchFailure(op, "no Newton-Schulz on the update");
    if (op.getInput() != InputKind::Update)
      return rewriter.notifyMatchFailure(
          op, "the error input depends on the state: its gain cannot be "
              "computed ahead of the scan");

    Location loc = op.getLoc();
    double tau = op.getTau().convertToDouble();
    bool after = op.getTauPlacement() == TauPlacement::After;
    auto v = op.getV().getType();
    auto gainType = RankedTensorType::get(
        {v.getDimSize(0), v.getDimSize(1), v.getDimSize(2)},
        op.getAccumulationType());
    // LongHorn's update gain dtn is derived from dt; others use β.
    bool longhorn = op.getDecay() == DecayKind::Longhorn;
    Value gain = Rank1GainOp::create(
        rewriter, loc, gainType, op.getK(), op.getV(),
        longhorn ? Value() : op.getBeta(), longhorn ? op.getDt() : Value(),
        *ns, rewriter.getF64FloatAttr(after ? 1.0 : tau),
        rewriter.getF64FloatAttr(after ? tau : 1.0));

    rewriter.modifyOpInPlace(op, [&] {
      op.getGainMutable().assign(gain);
      op.removeNewtonSchulzAttr();
      op.removeNsTargetAttr();
      op.removeTauPlacementAttr();
      op.setTauAttr(rewriter.getF64FloatAttr(1.0));
    });
    return success();
  }
};

struct SimplifyNewtonSchulzPass
    : muonssm::impl::SimplifyNewtonSchulzBase<SimplifyNewtonSchulzPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateSimplifyNewtonSchulzPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::muonssm::populateSimplifyNewtonSchulzPatterns(
    RewritePatternSet &patterns) {
  patterns.add<NewtonSchulzOfUpdateToGain>(patterns.getContext());
}
