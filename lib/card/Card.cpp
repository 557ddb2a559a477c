//===- Card.cpp - TOML model cards → muonssm IR ---------------------------===//
//
// The schema is docs/cards.md. Every table rejects keys it does not know,
// every value is type- and range-checked where it is read, and every error
// is an MLIR diagnostic at the offending key's (or table's) line and column
// in the card. The module is built only once the whole card is valid, then
// verified, so the ops' verifiers report at the card's lines too.
//
//===----------------------------------------------------------------------===//

#include "lib/card/Card.h"
#include "lib/card/Model.h"
#include "lib/card/TomlppUnicode.h"

#include "dialect/MuonSSMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>

// Header-only and without exceptions: see lib/card/CMakeLists.txt.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

using namespace mlir;
using namespace mlir::muonssm;
using mlir::muonssm::card::CardModel;

bool card::isCardPath(StringRef path) {
  return path.ends_with(".toml") || path.ends_with(".json");
}

namespace {

class Importer {
public:
  Importer(StringRef path, MLIRContext *context, card::Sizes sizes,
           const card::TomlppUnicodeGuard &unicode)
      : path(path), context(context), sizes(sizes), unicode(unicode) {}

  Location locate(const toml::source_region &region) {
    return FileLineColLoc::get(context, path, region.begin.line,
                               region.begin.column);
  }
  InFlightDiagnostic error(const toml::source_region &region) {
    ok = false;
    return emitError(locate(region));
  }

  /// One table being read: the keys read so far, to reject the rest.
  struct Table {
    const toml::table *table;
    std::string name; ///< "[mixer]"
    std::set<std::string> known;
  };

  const toml::node *lookup(Table &t, const std::string &key) {
    t.known.insert(key);
    return t.table->get(key);
  }

  std::optional<int64_t> integer(Table &t, const std::string &key,
                                 std::optional<int64_t> fallback,
                                 int64_t least = 1) {
    const toml::node *node = lookup(t, key);
    if (!node) {
      if (!fallback)
        error(t.table->source()) << t.name << " needs '" << key << "'";
      return fallback;
    }
    std::optional<int64_t> value = node->value_exact<int64_t>();
    if (!node->is_integer() || !value) {
      error(node->source()) << t.name << " " << key
                            << " must be an integer, got a "
                            << typeName(*node);
      return std::nullopt;
    }
    if (*value < least || *value > card::kMaxSize) {
      error(node->source()) << t.name << " " << key << " must lie in ["
                            << least << ", " << card::kMaxSize << "], got "
                            << *value;
      return std::nullopt;
    }
    return value;
  }

  std::optional<double> number(Table &t, const std::string &key,
                               std::optional<double> fallback) {
    const toml::node *node = lookup(t, key);
    if (!node)
      return fallback;
    if (!node->is_number()) {
      error(node->source()) << t.name << " " << key
                            << " must be a number, got a " << typeName(*node);
      return std::nullopt;
    }
    return node->value<double>();
  }

  std::optional<bool> boolean(Table &t, const std::string &key,
                              bool fallback) {
    const toml::node *node = lookup(t, key);
    if (!node)
      return fallback;
    if (!node->is_boolean()) {
      error(node->source()) << t.name << " " << key
                            << " must be true or false, got a "
                            << typeName(*node);
      return std::nullopt;
    }
    return *node->value<bool>();
  }

  std::optional<std::string> choice(Table &t, const std::string &key,
                                    std::optional<std::string> fallback,
                                    ArrayRef<StringRef> allowed) {
    const toml::node *node = lookup(t, key);
    if (!node) {
      if (!fallback)
        error(t.table->source()) << t.name << " needs '" << key << "' (one of "
                                 << llvm::join(allowed, ", ") << ")";
      return fallback;
    }
    if (!node->is_string()) {
      error(node->source()) << t.name << " " << key
                            << " must be a string, got a " << typeName(*node);
      return std::nullopt;
    }
    std::string value = unicode.restore(*node->value<std::string>());
    if (!llvm::is_contained(allowed, value)) {
      error(node->source()) << t.name << " " << key << " = \"" << value
                            << "\" is not one of " << llvm::join(allowed, ", ");
      return std::nullopt;
    }
    return value;
  }

  /// Errors for every key of `t` that was not read.
  void rejectUnknown(Table &t) {
    for (auto &&[key, node] : *t.table)
      if (!t.known.count(std::string(key.str())))
        error(key.source())
            << "unknown key '" << unicode.restore(key.str()) << "' in "
            << t.name << " (known: " << llvm::join(t.known, ", ") << ")";
  }

  const toml::table *subtable(Table &t, const std::string &key) {
    const toml::node *node = lookup(t, key);
    if (!node)
      return nullptr;
    if (!node->is_table()) {
      error(node->source()) << t.name << " " << key
                            << " must be a table, got a " << typeName(*node);
      return nullptr;
    }
    return node->as_table();
  }

  static const char *typeName(const toml::node &node) {
    switch (node.type()) {
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    default:
      return "date or time";
    }
  }

  std::optional<CardModel> read(const toml::table &root);

  StringRef path;
  MLIRContext *context;
  card::Sizes sizes; ///< the command line's, replacing the card's
  const card::TomlppUnicodeGuard &unicode; ///< maps toml++'s strings back
  bool ok = true;
};

std::optional<CardModel> Importer::read(const toml::table &root) {
  CardModel card;
  Table top{&root, "the card", {}};
  const toml::table *model = subtable(top, "model");
  const toml::table *mixer = subtable(top, "mixer");
  const toml::table *mlp = subtable(top, "mlp");
  rejectUnknown(top); // reported, and the tables are still read
  if (!model || !mixer) {
    error(root.source()) << "the card needs a [model] and a [mixer] table";
    return std::nullopt;
  }

  Table m{model, "[model]", {}};
  card.modelLoc = locate(model->source());
  if (const toml::node *entry = lookup(m, "entry")) {
    if (!entry->is_string() || entry->value<std::string>()->empty())
      error(entry->source()) << "[model] entry must be a non-empty string";
    else
      card.entry = unicode.restore(*entry->value<std::string>());
  }
  card.dtype = choice(m, "dtype", std::string("f32"),
                      {"f32", "f64", "bf16", "f16"})
                   .value_or("f32");
  card.batch = integer(m, "batch", int64_t(1)).value_or(1);
  // --length stands in for a missing [model] length.
  card.length = integer(m, "length",
                        sizes.length > 0 ? std::optional<int64_t>(sizes.length)
                                         : std::nullopt)
                    .value_or(1);
  // The whole-model keys; without `layers` the card is one mixer layer.
  card.layers = integer(m, "layers", int64_t(0)).value_or(1);
  card.vocab = integer(m, "vocab", int64_t(0)).value_or(1);
  card.normEps = number(m, "norm_eps", 1e-5).value_or(1e-5);
  card.tieEmbeddings = boolean(m, "tie_embeddings", false).value_or(false);
  if (const toml::node *eps = model->get("norm_eps"))
    if (eps->is_number() &&
        !(card.normEps > 0.0 && std::isfinite(card.normEps)))
      error(eps->source())
          << "[model] norm_eps must be a finite number > 0, got "
          << card.normEps;
  // A whole model's every RMSNorm, Gated DeltaNet's gated output norm
  // included (as fla's models do); one mixer layer keeps the seed's 1e-5.
  if (card.layers > 0)
    card.outputNormEps = card.normEps;
  if (card.layers == 0)
    for (const char *key : {"vocab", "norm_eps", "tie_embeddings"})
      if (const toml::node *node = model->get(key))
        error(node->source()) << "[model] " << key
                              << " belongs to a whole model: give [model] "
                                 "layers (the card is one mixer layer without)";
  if (const toml::node *tie = model->get("tie_embeddings"))
    if (card.tieEmbeddings && card.vocab == 0 && card.layers != 0)
      error(tie->source()) << "[model] tie_embeddings needs a vocabulary "
                              "([model] vocab)";
  rejectUnknown(m);

  if (mlp) {
    Table f{mlp, "[mlp]", {}};
    card.mlpLoc = locate(mlp->source());
    choice(f, "kind", std::string("swiglu"), {"swiglu"});
    card.mlpHidden = integer(f, "hidden", std::nullopt).value_or(1);
    rejectUnknown(f);
    if (card.layers == 0)
      error(mlp->source()) << "[mlp] belongs to a whole model: give [model] "
                              "layers";
  }

  Table x{mixer, "[mixer]", {}};
  card.mixerLoc = locate(mixer->source());
  card.kind = choice(x, "kind", std::nullopt,
                     {"mamba", "muon_mamba", "longhorn", "muon_longhorn",
                      "gated_deltanet", "muon_gated_deltanet"})
                  .value_or("");
  card.dModel = integer(x, "d_model", std::nullopt).value_or(1);
  card.dConv = integer(x, "d_conv", int64_t(4)).value_or(1);
  bool muon = StringRef(card.kind).starts_with("muon_");
  if (card.gatedDeltaNet()) {
    // fla's GatedDeltaNet: K = expand_k·d_model/heads, V =
    // expand_v·d_model/heads (the seed's 0.75 and 1.5).
    const toml::node *headsNode = x.table->get("heads");
    card.heads = integer(x, "heads", std::nullopt).value_or(1);
    auto perHead = [&](const char *key, double fallback) -> int64_t {
      std::optional<double> expand = number(x, key, fallback);
      if (!expand)
        return 1;
      double total = *expand * static_cast<double>(card.dModel);
      // Bounded before rounding: llround of a huge value is unspecified.
      bool inRange =
          total > 0.0 && total <= static_cast<double>(card::kMaxSize);
      int64_t rounded = inRange ? static_cast<int64_t>(std::llround(total)) : 0;
      const toml::node *at = x.table->get(key);
      if (!inRange || std::fabs(total - rounded) > 1e-9 ||
          rounded < card.heads || rounded % card.heads != 0) {
        error(at ? at->source()
                 : (headsNode ? headsNode->source() : x.table->source()))
            << "[mixer] " << key << "·d_model = " << *expand << "·"
            << card.dModel << " must be a whole multiple of heads = "
            << card.heads;
        return 1;
      }
      return rounded / card.heads;
    };
    card.keyDim = perHead("expand_k", 0.75);
    card.valueDim = perHead("expand_v", 1.5);
    if (muon)
      card.form = choice(x, "form", std::string("seed"), {"seed", "paper"})
                              .value_or("seed") == "paper"
                      ? DeltaNetForm::Paper
                      : DeltaNetForm::Seed;
  } else {
    card.dState = integer(x, "d_state", int64_t(16)).value_or(1);
    card.expand = integer(x, "expand", int64_t(2)).value_or(1);
    // dt_rank = ⌈d_model/16⌉ unless given (the seed's "auto").
    card.dtRank =
        integer(x, "dt_rank", (card.dModel + 15) / 16).value_or(1);
    card.vision = boolean(x, "vision", false).value_or(false);
    // The vision layout splits in_proj's expand·d_model channels in halves.
    if (card.vision && (card.expand * card.dModel) % 2 != 0)
      error(x.table->get("vision")->source())
          << "[mixer] vision splits expand·d_model = " << card.expand << "·"
          << card.dModel << " channels in two halves: it must be even";
  }
  // Gated DeltaNet has no τ (the layer's update is β(v − Sᵀk) as is).
  bool plainDeltaNet = card.gatedDeltaNet() && !muon;
  if (plainDeltaNet) {
    if (const toml::node *tau = x.table->get("tau"))
      error(tau->source()) << "[mixer] kind = \"gated_deltanet\" has no tau "
                              "(use kind = \"muon_gated_deltanet\")";
    x.known.insert("tau");
  } else {
    card.tau = number(x, "tau", 1.0).value_or(1.0);
  }
  // Ranges at the key, where the card's author looks (the op verifier
  // checks them again, at the [mixer] table).
  if (const toml::node *tau = x.table->get("tau"))
    if (tau->is_number() && !(card.tau > 0.0 && std::isfinite(card.tau)))
      error(tau->source()) << "[mixer] tau must be a finite number > 0, got "
                           << card.tau;
  const toml::node *gamma = x.table->get("momentum");
  const toml::node *nsNode = x.table->get("newton_schulz");
  if (!muon && !card.kind.empty()) {
    // A plain block has neither; saying so beats ignoring the key.
    for (const toml::node *node : {gamma, nsNode})
      if (node)
        error(node->source())
            << "[mixer] kind = \"" << card.kind
            << "\" is the plain block, without momentum or Newton-Schulz; "
               "use kind = \"muon_"
            << card.kind << "\"";
    x.known.insert("momentum");
    x.known.insert("newton_schulz");
  } else if (muon) {
    card.momentum = number(x, "momentum", 0.9);
    if (card.momentum && !(*card.momentum >= 0.0 && *card.momentum <= 1.0))
      error(gamma->source()) << "[mixer] momentum must lie in [0, 1], got "
                             << *card.momentum;
    CardModel::NS ns;
    if (card.form == DeltaNetForm::Paper)
      ns = {Polynomial::Cubic, EpsMode::Max, 1e-6, 1};
    if (const toml::table *nsTable = subtable(x, "newton_schulz")) {
      Table n{nsTable, "[mixer.newton_schulz]", {}};
      // The paper's form defaults to the paper's cubic.
      bool paperForm = card.form == DeltaNetForm::Paper;
      std::string poly =
          choice(n, "polynomial", std::string(paperForm ? "cubic" : "quintic"),
                 {"quintic", "cubic"})
              .value_or("quintic");
      ns.polynomial = poly == "cubic" ? Polynomial::Cubic : Polynomial::Quintic;
      // The paper's cubic normalises by max(‖X‖, 1e-6), Muon's quintic by
      // ‖X‖ + 1e-7: each polynomial defaults to its own.
      bool cubic = ns.polynomial == Polynomial::Cubic;
      std::string mode =
          choice(n, "eps_mode", std::string(cubic ? "max" : "add"),
                 {"add", "max"})
              .value_or("add");
      ns.epsMode = mode == "max" ? EpsMode::Max : EpsMode::Add;
      ns.eps = number(n, "eps", cubic ? 1e-6 : 1e-7).value_or(1.0);
      if (const toml::node *eps = nsTable->get("eps"))
        if (eps->is_number() && !(*eps->value<double>() > 0.0))
          error(eps->source()) << "[mixer.newton_schulz] eps must be > 0";
      ns.steps = integer(n, "steps", int64_t(1)).value_or(1);
      rejectUnknown(n);
    }
    card.ns = ns;
  }
  rejectUnknown(x);
  if (!ok)
    return std::nullopt;
  return card;
}

} // namespace

std::string card::checkSizes(Sizes sizes) {
  for (int64_t size : {sizes.batch, sizes.length})
    if (size < 0 || size > kMaxSize)
      return "--batch and --length must be within [1, " +
             std::to_string(kMaxSize) + "]";
  return "";
}

OwningOpRef<ModuleOp> card::importCard(StringRef text, StringRef path,
                                       MLIRContext *context, Sizes sizes) {
  if (path.ends_with(".json"))
    return importConfig(text, path, context, sizes);
  context
      ->loadDialect<MuonSSMDialect, func::FuncDialect, arith::ArithDialect>();
  card::TomlppUnicodeGuard unicode(std::string_view(text.data(), text.size()));
  Importer importer(path, context, sizes, unicode);
  if (unicode.isExhausted()) {
    importer.error({{1, 1}, {1, 1}, nullptr})
        << "the card uses too many different private-use characters "
           "(U+E000..U+F8FF) beside Greek, Cyrillic or other characters "
           "toml++ 3.3.0 cannot read safely (docs/fuzzing.md)";
    return nullptr;
  }
  toml::parse_result parsed =
      toml::parse(unicode.text(), std::string_view(path.data(), path.size()));
  if (!parsed) {
    const toml::parse_error &e = parsed.error();
    importer.error(e.source())
        << "malformed TOML: " << unicode.restore(e.description());
    return nullptr;
  }
  std::optional<CardModel> card = importer.read(parsed.table());
  if (!card)
    return nullptr;
  return buildModel(*card, context, sizes);
}
