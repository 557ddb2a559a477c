//===- ModelFuzzer.cpp - what the model harnesses do with a module --------===//

#include "test/fuzz/ModelFuzzer.h"

#include "lib/pipeline/Pipelines.h"
#include "lib/run/Evaluate.h"
#include "lib/run/Inputs.h"
#include "lib/run/Runner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::muonssm;

namespace {
/// Inputs larger than this are not drawn: the oracle's time and memory grow
/// with them, and small ones reach the same code.
constexpr int64_t kMaxElements = 1 << 15;

void check(bool condition) {
  if (!condition)
    std::abort();
}

bool smallStaticArguments(func::FuncOp entry) {
  int64_t total = 0;
  for (Type type : entry.getArgumentTypes()) {
    auto shaped = dyn_cast<ShapedType>(type);
    if (!shaped)
      continue;
    if (!shaped.hasStaticShape())
      return false;
    total += shaped.getNumElements();
    if (total > kMaxElements)
      return false;
  }
  return true;
}
} // namespace

MLIRContext & ::muonssm::fuzz::modelContext() {
  static MLIRContext *context = [] {
    DialectRegistry registry;
    run::registerModelDialects(registry);
    auto *c = new MLIRContext(registry, MLIRContext::Threading::DISABLED);
    c->loadAllAvailableDialects();
    return c;
  }();
  return *context;
}

::muonssm::fuzz::ErrorCounter::ErrorCounter(MLIRContext &context)
    : context(context) {
  id = context.getDiagEngine().registerHandler([this](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error)
      ++count;
    return success();
  });
}

::muonssm::fuzz::ErrorCounter::~ErrorCounter() {
  context.getDiagEngine().eraseHandler(id);
}

void ::muonssm::fuzz::exerciseModel(ModuleOp module) {
  MLIRContext &context = *module.getContext();
  check(succeeded(verify(module)));

  func::FuncOp entry;
  for (auto f : module.getOps<func::FuncOp>())
    if (!f.isExternal() && f.isPublic()) {
      entry = f;
      break;
    }
  if (!entry)
    return;

  // The oracle on random inputs, as `muonssm-run --check` runs it.
  if (smallStaticArguments(entry)) {
    ErrorCounter errors(context);
    FailureOr<std::vector<run::Input>> inputs =
        run::prepareInputs(entry, "", /*seed=*/1);
    check(succeeded(inputs) || errors.errors() > 0);
    if (succeeded(inputs)) {
      std::vector<run::ArgumentValue> args =
          run::toArgumentValues(*inputs, /*withValues=*/true);
      FailureOr<std::vector<run::Shape>> shapes =
          run::inferResultShapes(entry, args);
      check(succeeded(shapes) || errors.errors() > 0);
      if (succeeded(shapes)) {
        int64_t total = 0;
        for (const run::Shape &s : *shapes) {
          int64_t n = 1;
          for (int64_t d : s)
            n *= d;
          total += n;
        }
        if (total <= kMaxElements)
          check(succeeded(run::evaluate(entry, args)) || errors.errors() > 0);
      }
    }
  }

  // The CPU pipeline's muonssm passes on a copy (they rewrite in place).
  OwningOpRef<ModuleOp> copy = module.clone();
  ErrorCounter errors(context);
  PassManager pm(&context);
  MuonSSMToCPUOptions options;
  buildMuonSSMToCPUPipeline(pm, options);
  check(succeeded(pm.run(*copy)) || errors.errors() > 0);
}
