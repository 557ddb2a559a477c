//===- Card.h - TOML model cards → muonssm IR -------------------*- C++ -*-===//
//
// A model card is a declarative TOML description of a model (docs/cards.md):
// sizes, backbone, Muon settings, dtype. importCard turns it into a module
// with one entry function whose ops carry the card's file:line:column, so
// that importer and verifier errors point at the card, printed as MLIR
// diagnostics are (`CARD.toml:LINE:COL: error: …`).
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_CARD_CARD_H
#define MUONSSM_LIB_CARD_CARD_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace mlir::muonssm::card {

/// Sizes given on the command line: they replace a card's `[model] batch`
/// and `length`, and set a config.json's (which has none: 1 and 16).
struct Sizes {
  int64_t batch = 0;  ///< 0: the card's
  int64_t length = 0; ///< 0: the card's
};

/// Why `sizes` cannot size a card ("" when they can): each is 0 (the card's
/// own) or within [1, 2^24], the bound of the card's own keys (kMaxSize).
std::string checkSizes(Sizes sizes);

/// Parses and checks the card `text` read from `path` (a `.json` path: a
/// Hugging Face config, importConfig), and builds its module (verified).
/// On any problem it emits located errors and returns null; nothing is
/// half-built. `sizes` replaces the card's batch and length.
OwningOpRef<ModuleOp> importCard(StringRef text, StringRef path,
                                 MLIRContext *context, Sizes sizes = {});

/// Imports the subset of a Hugging Face `config.json` that the plain
/// backbones' checkpoints use (flash-linear-attention's `gated_deltanet`,
/// transformers' `mamba`; docs/cards.md): the whole model at batch 1 and 16
/// tokens unless `sizes` says otherwise, its arguments named as the
/// checkpoint's tensors. Located errors and null on any problem.
OwningOpRef<ModuleOp> importConfig(StringRef text, StringRef path,
                                   MLIRContext *context, Sizes sizes = {});

/// True for a path that names a model card (`.toml`) or a Hugging Face
/// config (`.json`).
bool isCardPath(StringRef path);

} // namespace mlir::muonssm::card

#endif // MUONSSM_LIB_CARD_CARD_H
