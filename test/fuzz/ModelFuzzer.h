//===- ModelFuzzer.h - what the model harnesses do with a module -*- C++
//-*-===//
//
// The card and IR harnesses differ only in how bytes become a module; what
// muonssm-run then does with it is the same: draw inputs, infer shapes, run
// the float64 oracle and compile for the CPU. Each step must succeed or
// report an error diagnostic; a step that fails silently aborts the run.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_TEST_FUZZ_MODELFUZZER_H
#define MUONSSM_TEST_FUZZ_MODELFUZZER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <cstddef>

namespace muonssm::fuzz {

/// A context with the dialects muonssm-run registers, reused across inputs
/// (making one per input would dominate the time), single-threaded.
mlir::MLIRContext &modelContext();

/// Counts the error diagnostics emitted while alive and drops every
/// diagnostic (libFuzzer's output stays readable).
class ErrorCounter {
public:
  explicit ErrorCounter(mlir::MLIRContext &context);
  ~ErrorCounter();
  size_t errors() const { return count; }

private:
  mlir::MLIRContext &context;
  mlir::DiagnosticEngine::HandlerID id;
  size_t count = 0;
};

/// Verifies `module` (it must verify: the importer and parser promise it)
/// and exercises its entry as muonssm-run would. Aborts where a step fails
/// without an error.
void exerciseModel(mlir::ModuleOp module);

} // namespace muonssm::fuzz

#endif // MUONSSM_TEST_FUZZ_MODELFUZZER_H
