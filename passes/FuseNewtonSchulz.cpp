//===- FuseNewtonSchulz.cpp - recurrent schedule for nonlinear NS ---------===//
//
// docs/chunking.md §3: NS of the whole momentum (or of a state-dependent
// update) is nonlinear in the state, so such a scan is computed token by
// token with the state and momentum resident and NS fused in.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMOps.h"
#include "passes/Passes.h"

namespace mlir::muonssm {
#define GEN_PASS_DEF_FUSENEWTONSCHULZ
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;
using namespace mlir::muonssm;

namespace {

struct FuseNewtonSchulzPass
    : muonssm::impl::FuseNewtonSchulzBase<FuseNewtonSchulzPass> {
  void runOnOperation() override {
    auto recurrent =
        ScheduleAttr::get(&getContext(), ScheduleKind::Recurrent, 0);
    getOperation().walk([&](ScanOp op) {
      if (op.getSchedule() || !op.getNewtonSchulz())
        return;
      // NS on an update that simplify-newton-schulz could turn into a gain
      // is left for it: fusing would hide the linear (chunkable) form.
      if (op.getNsTarget() == NSTarget::Update &&
          op.getInput() == InputKind::Update)
        return;
      op.setScheduleAttr(recurrent);
    });
  }
};

} // namespace
