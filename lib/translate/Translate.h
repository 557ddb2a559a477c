//===- Translate.h - muonssm-translate's translations -----------*- C++ -*-===//
//
// From the output of `muonssm-opt FILE --muonssm-to-gpu`: the PTX of its
// gpu.binary, cubins through ptxas, and kernel bundles (runtime/ reads them;
// lib/bundle/ runs and checks them).
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_TRANSLATE_TRANSLATE_H
#define MUONSSM_LIB_TRANSLATE_TRANSLATE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace mlir::muonssm::translate {

/// The PTX of the module's gpu.binary (one PTX holding every kernel), and
/// its target chip ("sm_90a"). Errors are emitted at the module.
FailureOr<std::string> extractPTX(ModuleOp module, std::string *chip = nullptr);

/// ptxas `ptx` for `chip`: the cubin bytes. ptxas is looked up in $PATH,
/// $CUDA_HOME/bin, $CUDA_PATH/bin and /usr/local/cuda/bin.
FailureOr<std::string> assemble(Location loc, StringRef ptx, StringRef chip);

/// Writes a bundle directory for the entry function (run::findEntry: @entry,
/// or where `entry` is empty @main or the module's only function):
/// manifest.json (kernels, the entry's arguments, results and launches, its
/// float64 reference), kernels.ptx and, unless `withCubin` is false,
/// kernels.<chip>.cubin.
LogicalResult emitBundle(ModuleOp module, StringRef entry, StringRef dir,
                         bool withCubin = true);

} // namespace mlir::muonssm::translate

#endif // MUONSSM_LIB_TRANSLATE_TRANSLATE_H
