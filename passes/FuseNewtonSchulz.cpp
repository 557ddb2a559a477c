//===- FuseNewtonSchulz.cpp - recurrent schedule for nonlinear NS ---------===//
//
// docs/chunking.md §3: NS of the whole momentum (or of a state-dependent
// update) is nonlinear in the state, so such a scan is computed token by
// token with the state and momentum resident and NS fused in.
//
// With per-chunk=C, NS of rank-1 updates becomes the named per-chunk
// approximation of §3.2: a muonssm.chunk_newton_schulz op computes effective
// keys, and the scan, without NS, stays linear.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/MathExtras.h"

namespace mlir::muonssm {
#define GEN_PASS_DEF_FUSENEWTONSCHULZ
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;
using namespace mlir::muonssm;

namespace {

/// Why the per-chunk approximation cannot replace NS of `op`'s update, or
/// "" when it can: the effective keys replace k_t in the update only, so
/// nothing else may read k_t, and the chunk's update must not depend on the
/// state.
std::string whyNoPerChunkNS(ScanOp op) {
  if (op.getInput() == InputKind::Error)
    return "Newton-Schulz of the error input depends on the state, so a "
           "chunk's summed update is not known ahead of the scan";
  if (op.hasDeltaRule())
    return "the delta rule's transition reads the token's own key, which "
           "the effective keys replace";
  if (op.getDecay() == DecayKind::Longhorn)
    return "LongHorn's decay and update gain read the token's own key, "
           "which the effective keys replace";
  int64_t keyHeads = op.getK().getType().getDimSize(2);
  int64_t valueHeads = op.getV().getType().getDimSize(2);
  if (ShapedType::isDynamic(keyHeads) || keyHeads != valueHeads)
    return "the effective keys are per value head, so the scan needs as many "
           "key heads as value heads (static H = HV), got H = " +
           (ShapedType::isDynamic(keyHeads) ? std::string("?")
                                            : std::to_string(keyHeads)) +
           ", HV = " +
           (ShapedType::isDynamic(valueHeads) ? std::string("?")
                                              : std::to_string(valueHeads));
  return "";
}

/// k ← chunk_newton_schulz(k, v, β); the scan drops NS and τ.
void approximatePerChunk(ScanOp op, int64_t chunk) {
  OpBuilder b(op);
  double tau = op.getTau().convertToDouble();
  bool after = op.getTauPlacement() == TauPlacement::After;
  Value keys = ChunkNewtonSchulzOp::create(
      b, op.getLoc(), op.getK().getType(), op.getK(), op.getV(),
      op.getBeta(), op.getCuSeqlens(), *op.getNewtonSchulz(),
      b.getF64FloatAttr(after ? 1.0 : tau), b.getF64FloatAttr(after ? tau : 1.0),
      b.getI64IntegerAttr(chunk));
  op.getKMutable().assign(keys);
  op.removeNewtonSchulzAttr();
  op.removeNsTargetAttr();
  op.removeTauPlacementAttr();
  op.setTauAttr(b.getF64FloatAttr(1.0));
}

struct FuseNewtonSchulzPass
    : muonssm::impl::FuseNewtonSchulzBase<FuseNewtonSchulzPass> {
  using FuseNewtonSchulzBase::FuseNewtonSchulzBase;

  void runOnOperation() override {
    if (perChunk < 0 || perChunk > 1024 ||
        (perChunk > 0 && !llvm::isPowerOf2_64(static_cast<uint64_t>(perChunk)))) {
      getOperation().emitError()
          << "muonssm-fuse-newton-schulz: per-chunk must be 0 (per-token NS) "
             "or a power of two in [1, 1024], got "
          << static_cast<int64_t>(perChunk);
      return signalPassFailure();
    }
    auto recurrent =
        ScheduleAttr::get(&getContext(), ScheduleKind::Recurrent, 0);
    WalkResult walk = getOperation().walk([&](ScanOp op) {
      if (op.getSchedule() || !op.getNewtonSchulz())
        return WalkResult::advance();
      if (perChunk > 0 && op.getNsTarget() == NSTarget::Update) {
        if (std::string why = whyNoPerChunkNS(op); !why.empty()) {
          op.emitError() << "per-chunk Newton-Schulz (per-chunk="
                         << static_cast<int64_t>(perChunk)
                         << ") cannot replace this scan's: " << why;
          return WalkResult::interrupt();
        }
        approximatePerChunk(op, perChunk);
        return WalkResult::advance();
      }
      // NS on an update that simplify-newton-schulz could turn into a gain
      // is left for it: fusing would hide the linear (chunkable) form.
      if (op.getNsTarget() == NSTarget::Update &&
          op.getInput() == InputKind::Update)
        return WalkResult::advance();
      op.setScheduleAttr(recurrent);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
