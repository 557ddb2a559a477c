//===- Pipelines.cpp - named muonssm pass pipelines -----------------------===//

#include "lib/pipeline/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::muonssm;

void mlir::muonssm::buildMuonSSMToCPUPipeline(
    OpPassManager &pm, const MuonSSMToCPUOptions &options) {
  pm.addNestedPass<func::FuncOp>(createSimplifyNewtonSchulz());
  if (options.chunkSize != 0)
    pm.addNestedPass<func::FuncOp>(createChunk(ChunkOptions{options.chunkSize}));
  pm.addNestedPass<func::FuncOp>(createFuseNewtonSchulz());
  pm.addNestedPass<func::FuncOp>(createLowerToCPU());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // Tensors → buffers. Function arguments and results get identity layouts
  // and results become caller-allocated out-parameters, the calling
  // convention muonssm-run uses.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.hoistStaticAllocs = true;
  outParams.modifyPublicFunctions = true; // the entry point is public
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createLoopInvariantCodeMotionPass());

  // Buffers and loops → LLVM dialect.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true; // bf16 <-> f32 as integer ops, no libcalls
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void mlir::muonssm::registerMuonSSMPipelines() {
  PassPipelineRegistration<MuonSSMToCPUOptions>(
      "muonssm-to-cpu",
      "Lower muonssm ops to the LLVM dialect for the host CPU (the embedded "
      "default of muonssm-run)",
      buildMuonSSMToCPUPipeline);
}
