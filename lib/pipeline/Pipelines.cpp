//===- Pipelines.cpp - named muonssm pass pipelines -----------------------===//

#include "lib/pipeline/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::muonssm;

/// The scheduling passes both targets share: NS of a rank-1 update becomes
/// a gain (or, with nsPerChunk, the per-chunk approximation), linear scans
/// get a chunked schedule (unless chunkSize is 0) and NS of the momentum a
/// fused recurrent one.
static void addSchedulingPasses(OpPassManager &pm, int64_t chunkSize,
                                int64_t nsPerChunk = 0) {
  if (nsPerChunk != 0)
    pm.addNestedPass<func::FuncOp>(
        createFuseNewtonSchulz(FuseNewtonSchulzOptions{nsPerChunk}));
  pm.addNestedPass<func::FuncOp>(createSimplifyNewtonSchulz());
  if (chunkSize != 0)
    pm.addNestedPass<func::FuncOp>(createChunk(ChunkOptions{chunkSize}));
  pm.addNestedPass<func::FuncOp>(createFuseNewtonSchulz());
}

/// Tensors → buffers. Function arguments and results get identity layouts
/// and results become caller-allocated out-parameters (the calling
/// convention of muonssm-run and of bundles); the GPU's dynamic result
/// allocations are hoisted too, since the runtime allocates them.
static void addBufferization(OpPassManager &pm, bool hoistDynamicAllocs) {
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.hoistStaticAllocs = true;
  outParams.hoistDynamicAllocs = hoistDynamicAllocs;
  outParams.modifyPublicFunctions = true; // the entry point is public
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
}

void mlir::muonssm::buildMuonSSMToCPUPipeline(
    OpPassManager &pm, const MuonSSMToCPUOptions &options) {
  // Each distinct layer in a function of its own (LLVM's time is
  // superlinear in a function's size), then the mixers: their scans then
  // take the scheduling passes.
  pm.addPass(createOutlineLayers());
  pm.addNestedPass<func::FuncOp>(createDecomposeMixers());
  addSchedulingPasses(pm, options.chunkSize, options.nsPerChunk);
  pm.addNestedPass<func::FuncOp>(createLowerToCPU());
  // A model's residual adds (arith.addf on tensors) → linalg, and the
  // arguments, the caller's inputs, never updated in place. (The GPU
  // pipeline keeps its arguments writable: it updates state pools in place
  // on purpose, and has no elementwise tensor ops.)
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addNestedPass<func::FuncOp>(createReadOnlyArguments());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  addBufferization(pm, /*hoistDynamicAllocs=*/false);
  // The mixers' linalg ops (projections, conv, gates) → loops.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
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

void mlir::muonssm::buildMuonSSMToGPUPipeline(
    OpPassManager &pm, const MuonSSMToGPUOptions &options) {
  addSchedulingPasses(pm, options.chunkSize);
  LowerToGPUOptions lower;
  lower.chip = options.chip;
  lower.features = options.features;
  lower.wgmmaOverlap = options.wgmmaOverlap;
  lower.leanBarriers = options.leanBarriers;
  lower.solve = options.solve;
  lower.valueTile = options.valueTile;
  lower.blocksPerSM = options.blocksPerSM;
  pm.addPass(createLowerToGPU(lower));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // Host: results as out-parameters the runtime allocates; the only copy
  // left is a state pool's into its result, which bundles turn into an
  // alias.
  addBufferization(pm, /*hoistDynamicAllocs=*/true);
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // Kernels: NVGPU/GPU → NVVM inside gpu.module, then PTX in a gpu.binary.
  OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
  device.addPass(createSCFToControlFlowPass());
  device.addPass(memref::createExpandStridedMetadataPass());
  device.addPass(createLowerAffinePass());
  device.addPass(createStripDebugInfoPass());
  // 32-bit indices in kernels (the launches keep 64-bit memref descriptors:
  // muonssm-translate writes each kernel's parameter types from its LLVM
  // signature). The NVGPU ops convert at the same width (NVGPUToNVVM.cpp).
  device.addPass(createNVGPUToNVVM());
  ConvertGpuOpsToNVVMOpsOptions nvvmOptions;
  nvvmOptions.indexBitwidth = 32;
  device.addPass(createConvertGpuOpsToNVVMOps(nvvmOptions));
  device.addPass(createCanonicalizerPass());
  device.addPass(createCSEPass());
  device.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createConvertNVVMToLLVMPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = "isa"; // PTX text; ptxas makes cubins later
  // libdevice provides the kernels' math (exp, sqrt): without a toolkit path
  // gpu-module-to-binary silently skips it and ptxas then fails on
  // __nv_expf, so the path never depends on the caller's environment alone.
  binary.toolkitPath = options.toolkit;
  for (const char *var : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (binary.toolkitPath.empty())
      if (const char *root = std::getenv(var))
        binary.toolkitPath = root;
#ifdef MUONSSM_CUDA_TOOLKIT_PATH
  if (binary.toolkitPath.empty())
    binary.toolkitPath = MUONSSM_CUDA_TOOLKIT_PATH;
#endif
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void mlir::muonssm::registerMuonSSMPipelines() {
  PassPipelineRegistration<MuonSSMToGPUOptions>(
      "muonssm-to-gpu",
      "Lower muonssm ops to GPU kernels (PTX in a gpu.binary) launched from "
      "a host function on buffers; muonssm-translate emits the PTX, cubins "
      "and a kernel bundle from it",
      buildMuonSSMToGPUPipeline);
  PassPipelineRegistration<MuonSSMToCPUOptions>(
      "muonssm-to-cpu",
      "Lower muonssm ops to the LLVM dialect for the host CPU (the embedded "
      "default of muonssm-run)",
      buildMuonSSMToCPUPipeline);
}
