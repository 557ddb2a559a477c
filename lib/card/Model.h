//===- Model.h - what a card or a config describes --------------*- C++ -*-===//
//
// The model a TOML card (Card.cpp) or a Hugging Face config.json
// (HuggingFace.cpp) describes, once read and checked, and the IR built from
// it (Model.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_CARD_MODEL_H
#define MUONSSM_LIB_CARD_MODEL_H

#include "dialect/MuonSSMOps.h"
#include "lib/card/Card.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <optional>
#include <string>

namespace mlir::muonssm::card {

/// What a card describes, once read and checked.
struct CardModel {
  std::string entry = "main";
  std::string dtype = "f32";
  int64_t batch = 1, length = 1;
  // [mixer]
  std::string kind; // mamba, muon_mamba, longhorn, muon_longhorn,
                    // gated_deltanet, muon_gated_deltanet
  int64_t dModel = 0, dState = 16, expand = 2, dConv = 4, dtRank = 0;
  // Gated DeltaNet: heads, K and V per head, the recurrence's form.
  int64_t heads = 0, keyDim = 0, valueDim = 0;
  DeltaNetForm form = DeltaNetForm::Plain;
  bool gatedDeltaNet() const {
    return StringRef(kind).ends_with("gated_deltanet");
  }
  std::optional<double> momentum;
  double tau = 1.0;
  struct NS {
    Polynomial polynomial = Polynomial::Quintic;
    EpsMode epsMode = EpsMode::Add;
    double eps = 1e-7;
    int64_t steps = 1;
  };
  std::optional<NS> ns;
  bool vision = false; ///< the MambaVision layout (selective kinds)

  // A whole model ([model] layers): token ids → embedding (with a
  // vocabulary; else x [B, L, d_model] in), N × (RMSNorm → mixer →
  // residual, then RMSNorm → SwiGLU → residual with an [mlp]), a final
  // RMSNorm, and the LM head (with a vocabulary; else the hidden state out).
  int64_t layers = 0; ///< 0: the card is one mixer layer, x → y
  int64_t vocab = 0;
  bool tieEmbeddings = false;
  double normEps = 1e-5;
  /// Gated DeltaNet's gated output RMSNorm: the seed's 1e-5; fla's layer
  /// takes its config's norm_eps.
  double outputNormEps = 1e-5;
  int64_t mlpHidden = 0; ///< 0: no MLP

  /// Where diagnostics point: the card's [model], [mixer] and [mlp] tables.
  LocationAttr modelLoc, mixerLoc, mlpLoc;
};

/// The largest size a card or config may give (a width, a vocabulary, a
/// count of layers): 2^24 keeps every product of sizes the importer forms
/// far inside int64_t, and no model of this family comes near it.
constexpr int64_t kMaxSize = int64_t(1) << 24;

/// The module of `card`: one entry function, its arguments named after the
/// weights (checkpoint names for whole models), verified, at the batch and
/// length `sizes` gives where it gives them. Null after located errors.
OwningOpRef<ModuleOp> buildModel(const CardModel &card, MLIRContext *context,
                                 Sizes sizes = {});

} // namespace mlir::muonssm::card

#endif // MUONSSM_LIB_CARD_MODEL_H
