//===- RunCuda.h - muonssm-run --target cuda --------------------*- C++ -*-===//
#ifndef MUONSSM_TOOLS_MUONSSM_RUN_RUNCUDA_H
#define MUONSSM_TOOLS_MUONSSM_RUN_RUNCUDA_H

#include "lib/run/Runner.h"

namespace mlir::muonssm::run {

/// Compiles the model with muonssm-to-gpu, writes its kernel bundle to a
/// temporary directory and runs it through the runtime (lib/bundle), which
/// checks it against the float64 oracle and times it as muonssm-bundle-run
/// does. Returns the process exit code.
int runModelOnCuda(const RunOptions &options);

} // namespace mlir::muonssm::run

#endif // MUONSSM_TOOLS_MUONSSM_RUN_RUNCUDA_H
