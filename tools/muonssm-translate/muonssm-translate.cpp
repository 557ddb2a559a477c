//===- muonssm-translate.cpp - PTX, cubins and kernel bundles -------------===//
//
// Reads the output of `muonssm-opt FILE --muonssm-to-gpu` and writes its
// PTX (--emit-ptx), a cubin (--emit-cubin, through ptxas) or a kernel bundle
// directory (--emit-bundle); or imports a TOML model card as muonssm IR
// (--import-card). The logic lives in lib/translate and lib/card.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMDialect.h"
#include "lib/card/Card.h"
#include "lib/translate/Translate.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

namespace cl = llvm::cl;
using namespace mlir;

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::OptionCategory category("muonssm-translate options");
  cl::opt<std::string> input(cl::Positional, cl::desc("<input.mlir>"),
                             cl::init("-"), cl::cat(category));
  cl::opt<std::string> output("o", cl::desc("Output file (a directory for "
                                            "--emit-bundle)"),
                              cl::value_desc("PATH"), cl::init("-"),
                              cl::cat(category));
  enum Action { EmitPTX, EmitCubin, EmitBundle, ImportCard };
  cl::opt<Action> action(
      cl::desc("Translation:"), cl::Required,
      cl::values(clEnumValN(EmitPTX, "emit-ptx",
                            "One PTX file holding every kernel"),
                 clEnumValN(EmitCubin, "emit-cubin",
                            "The cubin ptxas makes of it"),
                 clEnumValN(EmitBundle, "emit-bundle",
                            "A kernel bundle directory: manifest.json, the "
                            "PTX, cubins"),
                 clEnumValN(ImportCard, "import-card",
                            "muonssm IR of a model card (TOML) or a "
                            "Hugging Face config.json (docs/cards.md)")),
      cl::cat(category));
  cl::opt<std::string> entry("entry",
                             cl::desc("Entry function of the bundle (default: "
                                      "main, or the file's only function)"),
                             cl::cat(category));
  cl::opt<int64_t> batch(
      "batch", cl::init(0),
      cl::desc("--import-card: sequences (replaces [model] batch; a "
               "config.json's default is 1)"),
      cl::value_desc("B"), cl::cat(category));
  cl::opt<int64_t> length(
      "length", cl::init(0),
      cl::desc("--import-card: tokens per sequence (replaces [model] "
               "length; a config.json's default is 16)"),
      cl::value_desc("L"), cl::cat(category));
  cl::opt<bool> noCubin("no-cubin",
                        cl::desc("Bundles: PTX only (JIT-compiled at load)"),
                        cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "muonssm-translate: PTX, cubins and kernel "
                              "bundles from muonssm-opt --muonssm-to-gpu\n");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<muonssm::MuonSSMDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerAllToLLVMIRTranslations(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  std::string error;
  auto file = openInputFile(input, &error);
  if (!file) {
    llvm::errs() << "muonssm-translate: error: " << error << "\n";
    return 1;
  }
  StringRef text = file->getBuffer();
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  if (action != ImportCard && (batch != 0 || length != 0)) {
    llvm::errs() << "muonssm-translate: error: --batch and --length size a "
                    "model card (--import-card)\n";
    return 1;
  }
  if (action == ImportCard) {
    if (std::string why = muonssm::card::checkSizes({batch, length});
        !why.empty()) {
      llvm::errs() << "muonssm-translate: error: " << why << "\n";
      return 1;
    }
    // Errors print as CARD.toml:LINE:COL through the source manager; the
    // output is written only for a valid card.
    OwningOpRef<ModuleOp> card = muonssm::card::importCard(
        text, input == "-" ? StringRef("<stdin>") : StringRef(input),
        &context, muonssm::card::Sizes{batch, length});
    if (!card)
      return 1;
    auto out = openOutputFile(output, &error);
    if (!out) {
      llvm::errs() << "muonssm-translate: error: " << error << "\n";
      return 1;
    }
    // With the card's locations, so that later tools still report errors
    // at the card's lines.
    card->print(out->os(), OpPrintingFlags().enableDebugInfo());
    out->keep();
    return 0;
  }
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;

  if (action == EmitBundle) {
    if (output == "-") {
      llvm::errs() << "muonssm-translate: error: --emit-bundle needs -o DIR\n";
      return 1;
    }
    return failed(muonssm::translate::emitBundle(*module, entry, output,
                                                  !noCubin));
  }
  std::string chip;
  FailureOr<std::string> ptx = muonssm::translate::extractPTX(*module, &chip);
  if (failed(ptx))
    return 1;
  std::string bytes = *ptx;
  if (action == EmitCubin) {
    FailureOr<std::string> cubin =
        muonssm::translate::assemble(module->getLoc(), *ptx, chip);
    if (failed(cubin))
      return 1;
    bytes = *cubin;
  }
  auto out = openOutputFile(output, &error);
  if (!out) {
    llvm::errs() << "muonssm-translate: error: " << error << "\n";
    return 1;
  }
  out->os() << bytes;
  out->keep();
  return 0;
}
