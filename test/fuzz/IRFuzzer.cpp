//===- IRFuzzer.cpp - libFuzzer harness for muonssm IR
//---------------------===//
//
// Any text that parses and verifies as a module of muonssm ops must be one
// that muonssm-run can draw inputs for, evaluate and compile, or that it
// rejects with an error; the verifiers are what stands between user IR and
// the passes, so a pass that crashes on verified IR is a verifier gap.
//
//===----------------------------------------------------------------------===//

#include "test/fuzz/ModelFuzzer.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

using namespace mlir;
namespace fuzz = ::muonssm::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // MLIR's lexer reads up to a NUL, as the tools' files (read through
  // MemoryBuffer) have; libFuzzer's bytes have none after them.
  std::string text(reinterpret_cast<const char *>(data), size);
  MLIRContext &context = fuzz::modelContext();
  OwningOpRef<ModuleOp> module;
  {
    fuzz::ErrorCounter errors(context);
    ParserConfig config(&context, /*verifyAfterParse=*/true);
    module = parseSourceString<ModuleOp>(text, config, "fuzz.mlir");
  }
  if (module)
    fuzz::exerciseModel(*module);
  return 0;
}
