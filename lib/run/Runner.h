//===- Runner.h - what muonssm-run does -------------------------*- C++ -*-===//

#ifndef MUONSSM_LIB_RUN_RUNNER_H
#define MUONSSM_LIB_RUN_RUNNER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <string>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir::muonssm::run {

struct RunOptions {
  std::string file;         ///< model description (.mlir)
  std::string entry;        ///< "": findEntry's default
  std::string inputsDir;    ///< NAME.npy per argument; others are random
  uint64_t seed = 0;
  std::string dumpDir;      ///< writes every input and result as NAME.npy
  bool check = false;       ///< compare with the float64 oracle
  unsigned bench = 0;       ///< timed runs after the first
  int64_t chunkSize = 64;   ///< chunk of chunked scans; 0: token by token
  /// > 0: NS of rank-1 updates approximated once per chunk of this many
  /// tokens (docs/chunking.md §3.2); 0: the exact per-token NS.
  int64_t nsPerChunk = 0;
  std::string target = "cpu";
  /// > 0: replace a card's (or set a config.json's) batch and length.
  int64_t batch = 0, length = 0;
};

/// Tolerance of `--check` on a result of the given element type: the
/// normwise relative error ‖out − ref‖/‖ref‖ may not exceed it.
double checkTolerance(const std::string &dtypeName);

/// What is wrong with the options (an unknown target, a chunk size or
/// per-chunk NS size that is not 0 or a power of two up to 1024, per-chunk
/// NS on CUDA), or "".
std::string checkOptions(const RunOptions &options);

/// Registers what a model may use: every upstream dialect and extension
/// and the muonssm dialect.
void registerModelDialects(DialectRegistry &registry);

/// The entry function of `module`: @name where `name` is given; otherwise
/// @main, or else the module's one defined top-level function (a card's
/// `[model] entry`, or a file with one function). Null where there is none,
/// with `why` ("no entry function @... (choose one with --entry NAME)").
func::FuncOp findEntry(ModuleOp module, StringRef name, std::string &why);

/// Parses options.file (diagnostics through `sourceMgr`, which must outlive
/// the module) and finds its entry function (findEntry with options.entry).
/// On failure it has printed where and why, and returns null.
OwningOpRef<ModuleOp> parseModel(const RunOptions &options,
                                 MLIRContext &context,
                                 llvm::SourceMgr &sourceMgr,
                                 func::FuncOp &entry);

/// Runs the model; returns the process exit code (0 ok, 1 error or check
/// above tolerance). Diagnostics go to stderr, results to stdout.
int runModel(const RunOptions &options);

} // namespace mlir::muonssm::run

#endif // MUONSSM_LIB_RUN_RUNNER_H
