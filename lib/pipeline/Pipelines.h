//===- Pipelines.h - named muonssm pass pipelines ---------------*- C++ -*-===//

#ifndef MUONSSM_LIB_PIPELINE_PIPELINES_H
#define MUONSSM_LIB_PIPELINE_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
namespace muonssm {

struct MuonSSMToCPUOptions : public PassPipelineOptions<MuonSSMToCPUOptions> {
  PassOptions::Option<int64_t> chunkSize{
      *this, "chunk-size",
      llvm::cl::desc("Tokens per chunk of chunked scans (a power of two); 0 "
                     "keeps every scan token by token"),
      llvm::cl::init(64)};
};

/// muonssm dialect → LLVM dialect for the host CPU: NS of rank-1 updates
/// becomes a gain, linear scans get a chunked schedule and NS of the
/// momentum a fused recurrent one (docs/chunking.md); the ops become loops
/// on buffers (muonssm-lower-to-cpu), tensors become buffers with results as
/// out-parameters, and everything is converted to the LLVM dialect.
void buildMuonSSMToCPUPipeline(OpPassManager &pm,
                               const MuonSSMToCPUOptions &options);

/// Registers `muonssm-to-cpu` (and, as they are built, the other pipelines).
void registerMuonSSMPipelines();

} // namespace muonssm
} // namespace mlir

#endif // MUONSSM_LIB_PIPELINE_PIPELINES_H
