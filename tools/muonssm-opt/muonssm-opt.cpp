//===- muonssm-opt.cpp - the muonssm optimiser driver ---------------------===//
//
// MlirOptMain with the muonssm dialect, every muonssm pass and pipeline, and
// the upstream dialects and passes they use.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMDialect.h"
#include "lib/pipeline/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::muonssm::registerMuonSSMPasses();
  mlir::muonssm::registerMuonSSMPipelines();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<mlir::muonssm::MuonSSMDialect>();
  // muonssm-to-gpu compiles kernels to PTX in process (gpu-module-to-binary).
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "muonssm optimiser driver\n", registry));
}
