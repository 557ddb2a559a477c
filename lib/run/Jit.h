//===- Jit.h - compile an entry function for the host and call it -*- C++ -*-===//
//
// muonssm-to-cpu, then the MLIR ExecutionEngine: the entry is called through
// its C interface with one memref descriptor per argument and, after
// buffer-results-to-out-params, one caller-allocated descriptor per result.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_RUN_JIT_H
#define MUONSSM_LIB_RUN_JIT_H

#include "lib/npy/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <memory>

namespace mlir {
class ExecutionEngine;
namespace muonssm::run {
namespace npy = ::muonssm::npy;

class JitFunction {
public:
  /// Lowers a clone of `module` through muonssm-to-cpu (chunked scans in
  /// chunks of `chunkSize` tokens; 0: every scan token by token) and
  /// JIT-compiles it; errors are emitted as diagnostics.
  static FailureOr<JitFunction> compile(ModuleOp module, StringRef entry,
                                        int64_t chunkSize = 64);

  /// Calls the entry: `inputs` in argument order, `outputs` preallocated with
  /// the result shapes and element types.
  LogicalResult call(ArrayRef<const npy::Array *> inputs,
                     ArrayRef<npy::Array *> outputs);

  JitFunction(JitFunction &&);
  ~JitFunction();

private:
  JitFunction() = default;
  std::unique_ptr<ExecutionEngine> engine;
  std::string entry;
  Location loc = UnknownLoc();
};

} // namespace muonssm::run
} // namespace mlir

#endif // MUONSSM_LIB_RUN_JIT_H
