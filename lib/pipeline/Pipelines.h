//===- Pipelines.h - named muonssm pass pipelines ---------------*- C++ -*-===//

#ifndef MUONSSM_LIB_PIPELINE_PIPELINES_H
#define MUONSSM_LIB_PIPELINE_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
namespace muonssm {

struct MuonSSMToCPUOptions
    : public PassPipelineOptions<MuonSSMToCPUOptions> {};

/// muonssm dialect → LLVM dialect for the host CPU: the ops become loops on
/// buffers (muonssm-lower-to-cpu), tensors become buffers with results as
/// out-parameters, and everything is converted to the LLVM dialect.
void buildMuonSSMToCPUPipeline(OpPassManager &pm,
                               const MuonSSMToCPUOptions &options);

/// Registers `muonssm-to-cpu` (and, as they are built, the other pipelines).
void registerMuonSSMPipelines();

} // namespace muonssm
} // namespace mlir

#endif // MUONSSM_LIB_PIPELINE_PIPELINES_H
