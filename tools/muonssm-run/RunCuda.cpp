//===- RunCuda.cpp - muonssm-run --target cuda ----------------------------===//
//
// The tool, not lib/run, composes this path: the bundle writer
// (lib/translate) is built on lib/run, and the executor (lib/bundle) on the
// runtime, so only the tool sees all three.
//
//===----------------------------------------------------------------------===//

#include "RunCuda.h"

#include "lib/bundle/Executor.h"
#include "lib/pipeline/Pipelines.h"
#include "lib/translate/Translate.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <iostream>

using namespace mlir;
using namespace mlir::muonssm;

namespace {

int fail(const llvm::Twine &message) {
  llvm::errs() << "muonssm-run: error: " << message << "\n";
  return 1;
}

/// A temporary directory removed with everything in it on every exit path.
struct TemporaryDirectory {
  llvm::SmallString<128> path;
  ~TemporaryDirectory() {
    if (!path.empty())
      llvm::sys::fs::remove_directories(path);
  }
};

} // namespace

int run::runModelOnCuda(const RunOptions &options) {
  if (std::string error = checkOptions(options); !error.empty())
    return fail(error);
  DialectRegistry registry;
  registerModelDialects(registry);
  // gpu-module-to-binary: the NVVM target and LLVM IR translations.
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerAllToLLVMIRTranslations(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  func::FuncOp entry;
  OwningOpRef<ModuleOp> module =
      parseModel(options, context, sourceMgr, entry);
  if (!module)
    return 1;

  PassManager pm(&context);
  MuonSSMToGPUOptions pipeline;
  pipeline.chunkSize = options.chunkSize;
  buildMuonSSMToGPUPipeline(pm, pipeline);
  if (failed(pm.run(*module)))
    return 1; // the passes have reported where

  TemporaryDirectory bundle;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(
          "muonssm-bundle", bundle.path))
    return fail("cannot create a temporary bundle directory: " +
                ec.message());
  // No cubin: the driver compiles the PTX for whatever GPU it finds (the
  // runtime caches the result on disk), so no toolkit is needed here.
  if (failed(translate::emitBundle(*module, entry.getSymName(), bundle.path,
                                   /*withCubin=*/false)))
    return 1;

  llvm::outs() << "muonssm-run: " << options.file << " @" << entry.getSymName()
               << " on cuda (kernel bundle through the runtime)\n";
  llvm::outs().flush();
  ::muonssm::bundle::ExecuteOptions execute;
  execute.inputsDir = options.inputsDir;
  execute.seed = options.seed;
  execute.dumpDir = options.dumpDir;
  execute.check = options.check;
  execute.bench = options.bench;
  execute.tool = "muonssm-run";
  return ::muonssm::bundle::executeBundle(std::string(bundle.path), execute,
                                          std::cout, std::cerr);
}
