//===- Runner.cpp - what muonssm-run does ---------------------------------===//

#include "lib/run/Runner.h"

#include "lib/card/Card.h"
#include "lib/data/Random.h"

#include "dialect/MuonSSMDialect.h"
#include "dialect/MuonSSMOps.h"
#include "lib/run/Evaluate.h"
#include "lib/run/Inputs.h"
#include "lib/run/Jit.h"
#include "passes/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::run;

double run::checkTolerance(const std::string &dtype) {
  return ::muonssm::data::checkTolerance(dtype);
}

namespace {

/// The slow stages of a run (drawing a model's inputs, compiling, running,
/// the float64 oracle): on a terminal, the stage being worked on, on one
/// line of stderr that each stage overwrites; the times go into the
/// summary printed at the end, so that logs and tests see stable output.
class Progress {
public:
  void start(const char *stage) {
    if (tty)
      llvm::errs() << "\r\033[Kmuonssm-run: " << stage << " ...";
    begin = std::chrono::steady_clock::now();
  }
  /// Seconds since start(); clears the line.
  double stop() {
    if (tty)
      llvm::errs() << "\r\033[K";
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - begin;
    return d.count();
  }

private:
  bool tty = llvm::sys::Process::StandardErrIsDisplayed();
  std::chrono::steady_clock::time_point begin;
};

using ::muonssm::reference::shapeString;

int fail(const llvm::Twine &message) {
  llvm::errs() << "muonssm-run: error: " << message << "\n";
  return 1;
}

double meanAbs(const npy::Array &a) {
  double s = 0.0;
  size_t n = a.numElements();
  for (size_t i = 0; i < n; ++i)
    s += std::fabs(a.getAsDouble(i));
  return n ? s / static_cast<double>(n) : 0.0;
}

} // namespace

std::string run::checkOptions(const RunOptions &options) {
  if (options.target != "cpu" && options.target != "cuda")
    return "unknown --target '" + options.target + "' (expected cpu or cuda)";
  if (options.chunkSize < 0 || options.chunkSize > 1024 ||
      (options.chunkSize & (options.chunkSize - 1)) != 0)
    return "--chunk-size must be 0 (token by token) or a power of two up to "
           "1024, got " +
           std::to_string(options.chunkSize);
  if (options.nsPerChunk < 0 || options.nsPerChunk > 1024 ||
      (options.nsPerChunk & (options.nsPerChunk - 1)) != 0)
    return "--ns-per-chunk must be 0 (per-token Newton-Schulz) or a power of "
           "two up to 1024, got " +
           std::to_string(options.nsPerChunk);
  if (options.nsPerChunk && options.target == "cuda")
    return "--ns-per-chunk runs on the CPU only (the GPU lowering has no "
           "kernel for the per-chunk approximation); use --target cpu";
  if (std::string why = card::checkSizes({options.batch, options.length});
      !why.empty())
    return why;
  if ((options.batch || options.length) && !card::isCardPath(options.file))
    return "--batch and --length size a model card or a config.json; an "
           "MLIR model's sizes are its types";
  return "";
}

void run::registerModelDialects(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<MuonSSMDialect>();
}

func::FuncOp run::findEntry(ModuleOp module, StringRef name, std::string &why) {
  if (!name.empty()) {
    auto named = module.lookupSymbol<func::FuncOp>(name);
    if (named && !named.isExternal())
      return named;
    why = ("no entry function @" + name + " (choose one with --entry NAME)")
              .str();
    return nullptr;
  }
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (main && !main.isExternal())
    return main;
  SmallVector<func::FuncOp> defined;
  for (func::FuncOp f : module.getOps<func::FuncOp>())
    if (!f.isExternal())
      defined.push_back(f);
  if (defined.size() == 1)
    return defined.front();
  why = "no entry function @main";
  if (defined.size() > 1)
    why += " but " + std::to_string(defined.size()) + " functions";
  why += " (choose one with --entry NAME)";
  return nullptr;
}

OwningOpRef<ModuleOp> run::parseModel(const RunOptions &options,
                                      MLIRContext &context,
                                      llvm::SourceMgr &sourceMgr,
                                      func::FuncOp &entry) {
  std::string openError;
  auto buffer = openInputFile(options.file, &openError);
  if (!buffer) {
    fail("cannot read '" + options.file + "': " + openError);
    return nullptr;
  }
  StringRef text = buffer->getBuffer();
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module =
      card::isCardPath(options.file)
          ? card::importCard(text, options.file, &context,
                             card::Sizes{options.batch, options.length})
          : parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return nullptr; // the parser has reported where
  std::string why;
  entry = findEntry(*module, options.entry, why);
  if (!entry) {
    fail("'" + options.file + "' has " + why);
    return nullptr;
  }
  return module;
}

int run::runModel(const RunOptions &options) {
  // Results (stdout) and diagnostics (stderr) interleave in the order they
  // happen.
  llvm::outs().SetUnbuffered();
  if (std::string error = checkOptions(options); !error.empty())
    return fail(error);
  if (options.target == "cuda")
    return fail("--target cuda runs through the runtime: the muonssm-run "
                "tool does that (tools/muonssm-run/RunCuda.cpp)");

  DialectRegistry registry;
  registerModelDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  func::FuncOp entry;
  OwningOpRef<ModuleOp> module =
      parseModel(options, context, sourceMgr, entry);
  if (!module)
    return 1;

  // The per-chunk NS approximation is a different model: rewrite it into
  // the IR first, so that --check compares the compiled code with the
  // float64 oracle of the same (approximated) model, and keep the original
  // to report how far the approximation is from the per-token model.
  OwningOpRef<ModuleOp> perToken;
  if (options.nsPerChunk) {
    // A mixer's oracle is its whole layer (reference::selectiveMixer), which
    // has no per-chunk form: rewriting only after decomposition would leave
    // --check comparing against the per-token model.
    WalkResult mixers = entry.walk([](Operation *op) {
      if (!isa<SelectiveMixerOp, GatedDeltaNetMixerOp>(op))
        return WalkResult::advance();
      op->emitError() << "--ns-per-chunk rewrites scans, and --check evaluates "
                         "a mixer as one layer with per-token Newton-Schulz; "
                         "run the per-chunk approximation on the scan itself "
                         "(muonssm-opt --muonssm-decompose-mixers gives it)";
      return WalkResult::interrupt();
    });
    if (mixers.wasInterrupted())
      return 1;
    perToken = module->clone();
    PassManager pm(&context);
    pm.addNestedPass<func::FuncOp>(createFuseNewtonSchulz(
        FuseNewtonSchulzOptions{options.nsPerChunk}));
    if (failed(pm.run(*module)))
      return 1; // the pass has reported where
  }

  // Names must be unique: they are file names under --inputs and --dump.
  std::set<std::string> names;
  for (unsigned i = 0; i < entry.getNumArguments(); ++i)
    if (!names.insert(argumentName(entry, i)).second) {
      emitError(entry.getLoc()) << "two arguments are named '"
                                << argumentName(entry, i) << "'";
      return 1;
    }
  for (unsigned i = 0; i < entry.getNumResults(); ++i)
    if (!names.insert(resultName(entry, i)).second) {
      emitError(entry.getLoc())
          << "the name '" << resultName(entry, i)
          << "' is used twice (names of arguments and results are file "
             "names under --inputs and --dump)";
      return 1;
    }

  Progress progress;
  progress.start("reading and drawing the inputs");
  FailureOr<std::vector<Input>> inputs =
      prepareInputs(entry, options.inputsDir, options.seed);
  double inputSeconds = progress.stop();
  if (failed(inputs))
    return 1;
  FailureOr<std::vector<Shape>> resultShapes =
      inferResultShapes(entry, toArgumentValues(*inputs, false));
  if (failed(resultShapes))
    return 1;

  llvm::outs() << "muonssm-run: " << options.file << " @" << entry.getSymName()
               << " on " << options.target;
  if (options.chunkSize)
    llvm::outs() << ", linear scans in chunks of " << options.chunkSize;
  else
    llvm::outs() << ", every scan token by token";
  if (options.nsPerChunk)
    llvm::outs() << ", Newton-Schulz of rank-1 updates approximated per "
                    "chunk of "
                 << options.nsPerChunk << " tokens";
  llvm::outs() << "\n";
  for (const Input &in : *inputs)
    llvm::outs() << llvm::format("  input  %-18s %-5s ", in.name.c_str(),
                                 npy::dtypeName(in.data.dtype))
                 << shapeString(in.data.shape) << "  "
                 << (in.fromFile ? "from file"
                                 : std::string("random: ") + roleName(in.role))
                 << "\n";

  // Outputs, allocated by the caller.
  std::vector<npy::Array> outputs;
  for (unsigned i = 0; i < entry.getNumResults(); ++i) {
    auto type = dyn_cast<RankedTensorType>(entry.getResultTypes()[i]);
    FailureOr<npy::DType> dtype = type ? dtypeOf(type.getElementType())
                                       : FailureOr<npy::DType>(failure());
    if (failed(dtype)) {
      emitError(entry.getLoc())
          << "result " << i << " has type " << entry.getResultTypes()[i]
          << "; muonssm-run returns ranked tensors of f16, bf16, f32, f64, "
             "i32 or i64";
      return 1;
    }
    outputs.push_back(npy::Array::zeros(*dtype, (*resultShapes)[i]));
  }

  progress.start("compiling");
  FailureOr<JitFunction> jit =
      JitFunction::compile(*module, entry.getSymName(), options.chunkSize);
  double compileSeconds = progress.stop();
  if (failed(jit))
    return 1;
  std::vector<const npy::Array *> inPtrs;
  for (const Input &in : *inputs)
    inPtrs.push_back(&in.data);
  std::vector<npy::Array *> outPtrs;
  for (npy::Array &out : outputs)
    outPtrs.push_back(&out);
  progress.start("running");
  LogicalResult ran = jit->call(inPtrs, outPtrs);
  double runSeconds = progress.stop();
  if (failed(ran))
    return 1;
  int64_t tokens = countTokens(entry, toArgumentValues(*inputs, false));

  for (unsigned i = 0; i < outputs.size(); ++i)
    llvm::outs() << llvm::format("  result %-18s %-5s ",
                                 resultName(entry, i).c_str(),
                                 npy::dtypeName(outputs[i].dtype))
                 << shapeString(outputs[i].shape)
                 << llvm::format("  mean|x| %.6e", meanAbs(outputs[i])) << "\n";

  if (options.bench) {
    std::vector<double> times;
    for (unsigned r = 0; r < options.bench; ++r) {
      auto start = std::chrono::steady_clock::now();
      if (failed(jit->call(inPtrs, outPtrs)))
        return 1;
      std::chrono::duration<double> d =
          std::chrono::steady_clock::now() - start;
      times.push_back(d.count());
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    if (times.size() % 2 == 0)
      median = 0.5 * (times[times.size() / 2 - 1] + times[times.size() / 2]);
    llvm::outs() << llvm::format(
        "bench: %u runs after 1 warm-up, median %.3f ms, %.0f tokens/s "
        "(%lld tokens per run)\n",
        options.bench, median * 1e3,
        median > 0 ? static_cast<double>(tokens) / median : 0.0,
        static_cast<long long>(tokens));
  }

  if (!options.dumpDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(options.dumpDir))
      return fail("cannot create '" + options.dumpDir + "': " + ec.message());
    auto write = [&](const std::string &name, const npy::Array &array) {
      llvm::SmallString<256> path(options.dumpDir);
      llvm::sys::path::append(path, name + ".npy");
      std::string error;
      if (npy::writeNpy(path.str().str(), array, error))
        return true;
      fail(error);
      return false;
    };
    for (const Input &in : *inputs)
      if (!write(in.name, in.data))
        return 1;
    for (unsigned i = 0; i < outputs.size(); ++i)
      if (!write(resultName(entry, i), outputs[i]))
        return 1;
  }

  // The first call's time includes first-touch page faults; --bench
  // gives medians.
  auto summary = [&](std::optional<double> oracleSeconds) {
    llvm::outs() << llvm::format(
        "time: inputs %.2f s, compile %.2f s, run %.3f s (%.0f tokens/s, "
        "%lld tokens)",
        inputSeconds, compileSeconds, runSeconds,
        runSeconds > 0 ? static_cast<double>(tokens) / runSeconds : 0.0,
        static_cast<long long>(tokens));
    if (oracleSeconds)
      llvm::outs() << llvm::format(", float64 oracle %.2f s", *oracleSeconds);
    llvm::outs() << "\n";
  };
  if (!options.check) {
    summary(std::nullopt);
    return 0;
  }
  progress.start("evaluating the float64 oracle");
  FailureOr<std::vector<reference::Tensor>> expected =
      evaluate(entry, toArgumentValues(*inputs, true));
  double oracleSeconds = progress.stop();
  if (failed(expected))
    return 1;
  summary(oracleSeconds);
  llvm::outs() << "check against the float64 oracle (normwise relative "
                  "error ‖out − ref‖/‖ref‖):\n";
  bool ok = true;
  for (unsigned i = 0; i < outputs.size(); ++i) {
    ::muonssm::data::Comparison c =
        ::muonssm::data::compare(outputs[i], (*expected)[i].data());
    std::string dtype = npy::dtypeName(outputs[i].dtype);
    double tolerance = checkTolerance(dtype);
    bool pass = c.relative <= tolerance;
    ok &= pass;
    llvm::outs() << llvm::format(
        "  %-18s max abs err %.3e  rel err %.3e  tolerance %.1e (%s)  %s\n",
        resultName(entry, i).c_str(), c.maxAbs, c.relative, tolerance,
        dtype.c_str(), pass ? "ok" : "FAIL");
  }
  if (perToken) {
    // Informational: the approximation's distance from the per-token model
    // (no tolerance applies; docs/chunking.md §3.2 reports typical values).
    auto original = perToken->lookupSymbol<func::FuncOp>(entry.getSymName());
    FailureOr<std::vector<reference::Tensor>> exact =
        evaluate(original, toArgumentValues(*inputs, true));
    if (failed(exact))
      return 1;
    llvm::outs() << "per-chunk Newton-Schulz vs the per-token model "
                    "(float64, normwise relative difference):\n";
    for (unsigned i = 0; i < outputs.size(); ++i) {
      const std::vector<double> &approx = (*expected)[i].data(),
                                &model = (*exact)[i].data();
      double diff = 0.0, norm = 0.0;
      for (size_t j = 0; j < model.size(); ++j) {
        diff += (approx[j] - model[j]) * (approx[j] - model[j]);
        norm += model[j] * model[j];
      }
      llvm::outs() << llvm::format(
          "  %-18s rel diff %.3e\n", resultName(entry, i).c_str(),
          norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff));
    }
  }
  if (!ok) {
    llvm::errs() << "muonssm-run: error: results differ from the float64 "
                    "oracle by more than the tolerance\n";
    return 1;
  }
  return 0;
}
