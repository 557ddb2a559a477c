//===- muonssm-run.cpp - run a muonssm model and check it -----------------===//
//
// Compiles FILE.mlir for the target, runs its entry function on inputs from
// .npy files or seeded random data, and optionally checks every result
// against the float64 oracle. The logic lives in lib/run/Runner.cpp.
//
//===----------------------------------------------------------------------===//

#include "RunCuda.h"
#include "lib/run/Runner.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::OptionCategory category("muonssm-run options");
  cl::opt<std::string> file(cl::Positional, cl::Required,
                            cl::desc("<model.mlir>"), cl::cat(category));
  cl::opt<std::string> entry("entry",
                             cl::desc("Entry function (default: main, or the "
                                      "file's only function)"),
                             cl::value_desc("NAME"), cl::cat(category));
  cl::opt<std::string> inputs(
      "inputs",
      cl::desc("Directory of NAME.npy inputs, one per named argument, and "
               "of *.safetensors checkpoints (tensors named as arguments); "
               "or one .safetensors file. Arguments without data get seeded "
               "random data"),
      cl::value_desc("DIR|FILE.safetensors"), cl::cat(category));
  cl::opt<uint64_t> seed("seed", cl::init(0),
                         cl::desc("Seed of the random inputs (default 0)"),
                         cl::cat(category));
  cl::opt<std::string> dump(
      "dump", cl::desc("Write every input used and every result as NAME.npy"),
      cl::value_desc("DIR"), cl::cat(category));
  cl::opt<bool> check(
      "check",
      cl::desc("Compare every result with the float64 oracle; exit 1 above "
               "the tolerance of its element type"),
      cl::cat(category));
  cl::opt<unsigned> bench(
      "bench", cl::init(0),
      cl::desc("Time N runs after the first; print the median and tokens/s"),
      cl::value_desc("N"), cl::cat(category));
  cl::opt<int64_t> chunkSize(
      "chunk-size", cl::init(64),
      cl::desc("Tokens per chunk of linear scans (a power of two); 0 runs "
               "every scan token by token"),
      cl::value_desc("C"), cl::cat(category));
  cl::opt<int64_t> nsPerChunk(
      "ns-per-chunk", cl::init(0),
      cl::desc("Approximate Newton-Schulz of rank-1 updates once per chunk "
               "of N tokens (a power of two; docs/chunking.md §3.2): --check "
               "then checks the approximated model and reports its "
               "distance from the per-token one. 0 (default): exact"),
      cl::value_desc("N"), cl::cat(category));
  cl::opt<int64_t> batch(
      "batch", cl::init(0),
      cl::desc("Sequences of a model card or config.json (replaces the "
               "card's [model] batch; a config.json's default is 1)"),
      cl::value_desc("B"), cl::cat(category));
  cl::opt<int64_t> length(
      "length", cl::init(0),
      cl::desc("Tokens per sequence of a model card or config.json "
               "(replaces [model] length; a config.json's default is 16)"),
      cl::value_desc("L"), cl::cat(category));
  cl::opt<std::string> target("target", cl::init("cpu"),
                              cl::desc("cpu (default), or cuda: the muonssm-to-gpu kernels "
                                       "through the runtime"),
                              cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "muonssm-run: compile a muonssm model, run it, check it against the "
      "float64 oracle\n");

  mlir::muonssm::run::RunOptions options;
  options.file = file;
  options.entry = entry;
  options.inputsDir = inputs;
  options.seed = seed;
  options.dumpDir = dump;
  options.check = check;
  options.bench = bench;
  options.target = target;
  options.batch = batch;
  options.length = length;
  options.chunkSize = chunkSize;
  options.nsPerChunk = nsPerChunk;
  if (std::string error = mlir::muonssm::run::checkOptions(options);
      !error.empty()) {
    llvm::errs() << "muonssm-run: error: " << error << "\n";
    return 1;
  }
  if (options.target == "cuda") {
#ifdef MUONSSM_HAVE_CUDA_RUNTIME
    return mlir::muonssm::run::runModelOnCuda(options);
#else
    llvm::errs() << "muonssm-run: error: --target cuda: this build has no "
                    "CUDA runtime (configured without the CUDA toolkit's "
                    "cuda.h); use --target cpu\n";
    return 1;
#endif
  }
  return mlir::muonssm::run::runModel(options);
}
