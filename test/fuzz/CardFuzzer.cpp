//===- CardFuzzer.cpp - libFuzzer harness for model cards
//------------------===//
//
// Any text given to the TOML card importer (and, from the same bytes, to the
// Hugging Face config.json importer) must give a verified module that
// muonssm-run can draw inputs for, evaluate and compile, or located errors;
// never a crash, a null module without an error, or a hang.
//
//===----------------------------------------------------------------------===//

#include "lib/card/Card.h"
#include "test/fuzz/ModelFuzzer.h"

#include <cstdlib>

using namespace mlir;
namespace fuzz = ::muonssm::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  StringRef text(reinterpret_cast<const char *>(data), size);
  MLIRContext &context = fuzz::modelContext();
  // Small sizes: the card's batch and length are replaced, so that the oracle
  // runs on every card that imports.
  mlir::muonssm::card::Sizes sizes{/*batch=*/1, /*length=*/3};
  for (StringRef path : {"fuzz.toml", "config.json"}) {
    OwningOpRef<ModuleOp> module;
    {
      fuzz::ErrorCounter errors(context);
      module =
          path.ends_with(".toml")
              ? mlir::muonssm::card::importCard(text, path, &context, sizes)
              : mlir::muonssm::card::importConfig(text, path, &context, sizes);
      if (!module && errors.errors() == 0)
        std::abort(); // "located errors and null on any problem"
    }
    if (module)
      fuzz::exerciseModel(*module);
  }
  return 0;
}
