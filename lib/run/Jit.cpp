//===- Jit.cpp - compile an entry function for the host and call it -------===//

#include "lib/run/Jit.h"

#include "lib/pipeline/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::run;

JitFunction::JitFunction(JitFunction &&) = default;
JitFunction::~JitFunction() = default;

FailureOr<JitFunction> JitFunction::compile(ModuleOp module, StringRef entry,
                                            int64_t chunkSize) {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;

  MLIRContext *context = module.getContext();
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  context->appendDialectRegistry(registry);

  OwningOpRef<ModuleOp> lowered(cast<ModuleOp>(module->clone()));
  auto func = lowered->lookupSymbol<func::FuncOp>(entry);
  if (!func)
    return emitError(module.getLoc()) << "no entry function @" << entry;
  func->setAttr("llvm.emit_c_interface", UnitAttr::get(context));
  // Argument names are muonssm-run's business; LLVM IR has no place for them.
  func.setAllArgAttrs(ArrayRef<DictionaryAttr>{});
  func.setAllResultAttrs(ArrayRef<DictionaryAttr>{});

  PassManager pm(context);
  MuonSSMToCPUOptions options;
  options.chunkSize = chunkSize;
  buildMuonSSMToCPUPipeline(pm, options);
  if (failed(pm.run(*lowered)))
    return emitError(func.getLoc()) << "lowering to the CPU failed";

  // The host's target machine: without it LLVM's cost models know no SIMD
  // and the loop vectoriser leaves every loop scalar.
  auto hostBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!hostBuilder)
    return emitError(module.getLoc())
           << "cannot describe the host CPU: "
           << llvm::toString(hostBuilder.takeError());
  hostBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto host = hostBuilder->createTargetMachine();
  if (!host)
    return emitError(module.getLoc())
           << "cannot create a target machine for the host: "
           << llvm::toString(host.takeError());
  ExecutionEngineOptions engineOptions;
  auto transformer = makeOptimizingTransformer(
      /*optLevel=*/3, /*sizeLevel=*/0, /*targetMachine=*/host->get());
  engineOptions.transformer = transformer;
  engineOptions.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  auto engine =
      ExecutionEngine::create(*lowered, engineOptions, std::move(*host));
  if (!engine)
    return emitError(module.getLoc())
           << "JIT compilation failed: " << llvm::toString(engine.takeError());

  // ORC optimizes and generates code on the first lookup: do it here, so
  // that compiling is done when compile() returns and a call only runs.
  if (auto fn = (*engine)->lookupPacked("_mlir_ciface_" + entry.str()); !fn)
    return emitError(module.getLoc())
           << "JIT compilation failed: " << llvm::toString(fn.takeError());

  JitFunction jit;
  jit.engine = std::move(*engine);
  jit.entry = entry.str();
  jit.loc = module.getLoc();
  return jit;
}

namespace {
/// A ranked memref descriptor {allocated, aligned, offset, sizes[r],
/// strides[r]}: every field is 8 bytes, so it is an array of words.
std::vector<int64_t> describe(const npy::Array &array) {
  size_t rank = array.shape.size();
  std::vector<int64_t> words(3 + 2 * rank);
  auto base = reinterpret_cast<intptr_t>(array.data.data());
  words[0] = words[1] = static_cast<int64_t>(base);
  words[2] = 0;
  int64_t stride = 1;
  for (size_t d = rank; d-- > 0;) {
    words[3 + d] = array.shape[d];
    words[3 + rank + d] = stride;
    stride *= array.shape[d];
  }
  return words;
}
} // namespace

LogicalResult JitFunction::call(ArrayRef<const npy::Array *> inputs,
                                ArrayRef<npy::Array *> outputs) {
  std::vector<std::vector<int64_t>> descriptors;
  for (const npy::Array *a : inputs)
    descriptors.push_back(describe(*a));
  for (npy::Array *a : outputs)
    descriptors.push_back(describe(*a));
  // The C interface takes a pointer to each descriptor; the packed wrapper
  // takes a pointer to each of those arguments.
  std::vector<void *> pointers;
  for (auto &d : descriptors)
    pointers.push_back(d.data());
  SmallVector<void *> args;
  for (void *&p : pointers)
    args.push_back(&p);
  if (llvm::Error error = engine->invokePacked("_mlir_ciface_" + entry, args))
    return emitError(loc) << "calling @" << entry
                          << " failed: " << llvm::toString(std::move(error));
  return success();
}
