//===- Chunk.cpp - chunked schedules for linear scans ---------------------===//
//
// docs/chunking.md §2: every scan that is linear in (S, M) has an exact
// chunked form; this pass schedules it. The closed forms themselves are
// emitted by the lowerings.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMOps.h"
#include "passes/Passes.h"

#include "llvm/Support/MathExtras.h"

namespace mlir::muonssm {
#define GEN_PASS_DEF_CHUNK
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;
using namespace mlir::muonssm;

namespace {

struct ChunkPass : muonssm::impl::ChunkBase<ChunkPass> {
  using ChunkBase::ChunkBase;

  void runOnOperation() override {
    if (chunkSize < 1 || chunkSize > 1024 ||
        !llvm::isPowerOf2_64(static_cast<uint64_t>(chunkSize))) {
      getOperation().emitError()
          << "muonssm-chunk: chunk-size must be a power of two in [1, 1024], "
             "got "
          << static_cast<int64_t>(chunkSize);
      return signalPassFailure();
    }
    auto schedule =
        ScheduleAttr::get(&getContext(), ScheduleKind::Chunked, chunkSize);
    getOperation().walk([&](ScanOp op) {
      // A scan already scheduled (by hand or an earlier pass) keeps its
      // schedule; one without an exact chunked form keeps its math.
      if (op.getSchedule() || !op.whyNotChunkable().empty())
        return;
      op.setScheduleAttr(schedule);
    });
  }
};

} // namespace
