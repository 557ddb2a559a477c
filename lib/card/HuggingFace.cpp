//===- HuggingFace.cpp - a checkpoint's config.json → muonssm IR ----------===//
//
// The subset of Hugging Face configs that the plain backbones' checkpoints
// use (docs/cards.md §config.json): flash-linear-attention's
// `gated_deltanet` (GatedDeltaNetForCausalLM) and transformers' `mamba`
// (MambaForCausalLM). A config becomes the same model a whole-model card
// describes, its weights named as in the checkpoint's model.safetensors.
//
// Every key is either read, or known not to change the forward pass
// (token ids, initialisation, training and kernel switches), or an error:
// a key this importer does not know may change the model, and ignoring it
// would give a silently different one. Errors point at the key's line.
//
//===----------------------------------------------------------------------===//

#include "lib/card/Card.h"
#include "lib/card/Model.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"

#include <cmath>

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::card;

namespace {

/// Keys of every transformers config that do not change the forward pass.
// clang-format off
constexpr StringRef kGenericKeys[] = {
    "architectures", "model_type", "transformers_version", "torch_dtype",
    "dtype", "bos_token_id", "eos_token_id", "pad_token_id",
    "initializer_range", "use_cache", "_name_or_path", "return_dict",
    "output_hidden_states", "output_attentions", "auto_map",
    "max_position_embeddings", "fuse_cross_entropy", "fuse_norm",
    "fuse_swiglu", "fuse_linear_cross_entropy", "use_l2warp"};
// clang-format on

class ConfigReader {
public:
  ConfigReader(StringRef text, StringRef path, MLIRContext *context,
               const llvm::json::Object &object)
      : text(text), path(path), context(context), object(object) {}

  /// The line and column of `"key":` in the text (the first one: a config
  /// is one flat object), else the start of the file.
  Location locate(StringRef key) {
    std::string quoted = ("\"" + key + "\"").str();
    size_t at = 0;
    while ((at = text.find(quoted, at)) != StringRef::npos) {
      size_t after = text.find_first_not_of(" \t\r\n", at + quoted.size());
      if (after != StringRef::npos && text[after] == ':')
        break;
      at += quoted.size();
    }
    if (at == StringRef::npos)
      return FileLineColLoc::get(context, path, 1, 1);
    StringRef before = text.take_front(at);
    unsigned line = 1 + before.count('\n');
    size_t lineStart = before.rfind('\n');
    unsigned column =
        at - (lineStart == StringRef::npos ? 0 : lineStart + 1) + 1;
    return FileLineColLoc::get(context, path, line, column);
  }
  InFlightDiagnostic error(StringRef key) {
    ok = false;
    return emitError(locate(key));
  }

  /// The value of `key`, marked as read; null where it is absent or null.
  const llvm::json::Value *present(StringRef key) {
    used.insert(key);
    const llvm::json::Value *value = object.get(key);
    return value && value->kind() != llvm::json::Value::Null ? value
                                                             : nullptr;
  }
  std::optional<int64_t> integer(StringRef key, std::optional<int64_t> fallback,
                                 int64_t least = 1) {
    const llvm::json::Value *value = present(key);
    if (!value) {
      if (!fallback)
        error(key) << "config.json needs '" << key << "'";
      return fallback;
    }
    std::optional<int64_t> n = value->getAsInteger();
    if (!n) {
      error(key) << "'" << key << "' must be an integer";
      return std::nullopt;
    }
    if (*n < least || *n > kMaxSize) {
      error(key) << "'" << key << "' must lie in [" << least << ", " << kMaxSize
                 << "], got " << *n;
      return std::nullopt;
    }
    return n;
  }
  std::optional<double> number(StringRef key, double fallback) {
    const llvm::json::Value *value = present(key);
    if (!value)
      return fallback;
    std::optional<double> x = value->getAsNumber();
    if (!x)
      error(key) << "'" << key << "' must be a number";
    return x;
  }
  std::optional<bool> boolean(StringRef key, bool fallback) {
    const llvm::json::Value *value = present(key);
    if (!value)
      return fallback;
    std::optional<bool> b = value->getAsBoolean();
    if (!b)
      error(key) << "'" << key << "' must be true or false";
    return b;
  }
  std::optional<std::string> string(StringRef key, StringRef fallback) {
    const llvm::json::Value *value = present(key);
    if (!value)
      return fallback.str();
    std::optional<StringRef> s = value->getAsString();
    if (!s) {
      error(key) << "'" << key << "' must be a string";
      return std::nullopt;
    }
    return s->str();
  }
  /// A setting muonssm supports in one value only.
  template <typename T>
  void require(StringRef key, std::optional<T> value, T supported,
               StringRef why) {
    if (!value || *value == supported)
      return;
    InFlightDiagnostic diag = error(key);
    diag << "'" << key << "' = ";
    if constexpr (std::is_same_v<T, bool>)
      diag << (*value ? "true" : "false");
    else
      diag << "\"" << *value << "\"";
    diag << " is not supported: " << why;
  }

  /// Errors for keys neither read nor in `ignored`.
  void rejectUnknown(ArrayRef<StringRef> ignored) {
    // In the file's order (a json::Object is a hash map).
    SmallVector<std::pair<Location, StringRef>> unknown;
    for (const auto &entry : object) {
      StringRef key = entry.first;
      if (!used.contains(key) && !llvm::is_contained(ignored, key))
        unknown.push_back({locate(key), key});
    }
    llvm::sort(unknown, [](auto &a, auto &b) {
      auto la = cast<FileLineColLoc>(a.first),
           lb = cast<FileLineColLoc>(b.first);
      return std::make_pair(la.getLine(), la.getColumn()) <
             std::make_pair(lb.getLine(), lb.getColumn());
    });
    for (auto &[loc, key] : unknown) {
      if (llvm::is_contained(kGenericKeys, key))
        continue;
      error(key) << "unknown key '" << key << "' in a " << modelType
                 << " config: muonssm does not know whether it changes the "
                    "model (docs/cards.md lists the keys it reads and "
                    "ignores)";
    }
  }

  std::optional<CardModel> readGatedDeltaNet();
  std::optional<CardModel> readMamba();
  void readCommon(CardModel &card);

  StringRef text, path;
  MLIRContext *context;
  const llvm::json::Object &object;
  llvm::StringSet<> used;
  std::string modelType;
  bool ok = true;
};

void ConfigReader::readCommon(CardModel &card) {
  card.modelLoc = locate("model_type");
  // The checkpoint's dtype, as written by save_pretrained (transformers 5
  // writes `dtype`, earlier versions `torch_dtype`).
  StringRef dtypeKey = present("dtype") ? "dtype" : "torch_dtype";
  std::string dtype = string(dtypeKey, "float32").value_or("float32");
  if (dtype == "float32")
    card.dtype = "f32";
  else if (dtype == "bfloat16")
    card.dtype = "bf16";
  else if (dtype == "float16")
    card.dtype = "f16";
  else if (dtype == "float64")
    card.dtype = "f64";
  else
    error(dtypeKey) << "'" << dtypeKey << "' = \"" << dtype
                    << "\" is not one of float32, bfloat16, float16, "
                       "float64";
  // A config has no batch or length: one sequence of 16 tokens unless the
  // command line says otherwise (importConfig's `sizes`).
  card.batch = 1;
  card.length = 16;
  card.dModel = integer("hidden_size", std::nullopt).value_or(1);
  card.layers = integer("num_hidden_layers", std::nullopt).value_or(1);
  card.vocab = integer("vocab_size", std::nullopt).value_or(1);
}

std::optional<CardModel> ConfigReader::readGatedDeltaNet() {
  // flash-linear-attention's GatedDeltaNetConfig: head_dim is K, V =
  // expand_v·head_dim, fla's defaults where a key is absent.
  CardModel card;
  card.kind = "gated_deltanet";
  readCommon(card);
  card.mixerLoc = locate("num_heads");
  card.heads = integer("num_heads", std::nullopt).value_or(1);
  card.keyDim = integer("head_dim", int64_t(256)).value_or(1);
  double expandV = number("expand_v", 2.0).value_or(1.0);
  double v = expandV * static_cast<double>(card.keyDim);
  if (!(v >= 1.0 && v <= static_cast<double>(kMaxSize)) || v != std::floor(v))
    error("expand_v") << "'expand_v'·head_dim = " << expandV << "·"
                      << card.keyDim << " must be a whole number in [1, "
                      << kMaxSize << "]";
  else
    card.valueDim = static_cast<int64_t>(v);
  card.dConv = integer("conv_size", int64_t(4)).value_or(1);
  card.normEps = number("norm_eps", 1e-6).value_or(1e-6);
  card.outputNormEps = card.normEps; // fla passes it to o_norm too
  if (!(card.normEps > 0.0 && std::isfinite(card.normEps)))
    error("norm_eps") << "'norm_eps' must be a finite number > 0";
  card.tieEmbeddings = boolean("tie_word_embeddings", false).value_or(false);
  // GatedMLP: intermediate_size, else 2/3·hidden_ratio·hidden_size rounded
  // up to a multiple of 256.
  std::optional<int64_t> intermediate =
      integer("intermediate_size", int64_t(0));
  int64_t ratio = integer("hidden_ratio", int64_t(4)).value_or(4);
  card.mlpLoc = locate("intermediate_size");
  if (intermediate && *intermediate > 0) {
    card.mlpHidden = *intermediate;
  } else {
    int64_t hidden = card.dModel * ratio * 2 / 3;
    card.mlpHidden = 256 * ((hidden + 255) / 256);
  }
  require("use_short_conv", boolean("use_short_conv", true), true,
          "the layer is built with its short convolutions");
  require("use_gate", boolean("use_gate", true), true,
          "the output is the gated RMSNorm");
  require("allow_neg_eigval", boolean("allow_neg_eigval", false), false,
          "β = 2·sigmoid is not implemented");
  require("hidden_act", string("hidden_act", "swish"), std::string("swish"),
          "the MLP is SwiGLU");
  if (std::optional<int64_t> vHeads = integer("num_v_heads", int64_t(0), 0))
    if (*vHeads != 0 && *vHeads != card.heads)
      error("num_v_heads") << "'num_v_heads' = " << *vHeads
                           << " differs from num_heads = " << card.heads
                           << ": grouped value heads are not supported";
  // The output gate: SiLU (fla's "swish" or "silu"); fla 0.6 also offers a
  // sigmoid gate.
  std::string gate =
      string("output_gate_activation", "swish").value_or("swish");
  if (gate != "swish" && gate != "silu")
    error("output_gate_activation")
        << "'output_gate_activation' = \"" << gate
        << "\" is not supported: the gated RMSNorm's gate is SiLU";
  if (present("attnres_block_size"))
    error("attnres_block_size")
        << "'attnres_block_size' (attention residuals) is not supported";
  rejectUnknown({"attn_mode", "attn", "elementwise_affine", "norm_first",
                 "residual_in_fp32"});
  require("conv_bias", boolean("conv_bias", false), false,
          "the short convolutions have no bias");
  if (present("attn"))
    error("attn") << "'attn' layers (hybrid attention) are not supported";
  if (!ok)
    return std::nullopt;
  return card;
}

std::optional<CardModel> ConfigReader::readMamba() {
  // transformers' MambaConfig.
  CardModel card;
  card.kind = "mamba";
  readCommon(card);
  card.mixerLoc = locate("state_size");
  card.dState = integer("state_size", int64_t(16)).value_or(1);
  card.expand = integer("expand", int64_t(2)).value_or(1);
  card.dConv = integer("conv_kernel", int64_t(4)).value_or(1);
  card.normEps = number("layer_norm_epsilon", 1e-5).value_or(1e-5);
  if (!(card.normEps > 0.0 && std::isfinite(card.normEps)))
    error("layer_norm_epsilon")
        << "'layer_norm_epsilon' must be a finite number > 0";
  card.tieEmbeddings = boolean("tie_word_embeddings", true).value_or(true);
  const llvm::json::Value *rank = present("time_step_rank");
  if (!rank || rank->getAsString() == std::optional<StringRef>("auto"))
    card.dtRank = (card.dModel + 15) / 16;
  else
    card.dtRank = integer("time_step_rank", std::nullopt).value_or(1);
  if (std::optional<int64_t> inner =
          integer("intermediate_size", int64_t(0), 0))
    if (*inner != 0 && *inner != card.expand * card.dModel)
      error("intermediate_size")
          << "'intermediate_size' = " << *inner
          << " is not expand·hidden_size = " << card.expand * card.dModel;
  // mamba_ssm's names, which converted checkpoints keep beside
  // transformers' own: they must agree.
  for (auto [alias, value] :
       {std::pair<StringRef, int64_t>{"d_model", card.dModel},
        {"n_layer", card.layers},
        {"d_inner", card.expand * card.dModel}})
    if (std::optional<int64_t> given = integer(alias, value))
      if (*given != value)
        error(alias) << "'" << alias << "' = " << *given
                     << " disagrees with the transformers key (" << value
                     << ")";
  require("rms_norm", boolean("rms_norm", true), true,
          "the blocks' norm is RMSNorm");
  if (const llvm::json::Value *ssm = present("ssm_cfg"))
    if (!ssm->getAsObject() || !ssm->getAsObject()->empty())
      error("ssm_cfg") << "'ssm_cfg' must be empty: the layer's settings are "
                          "state_size, expand, conv_kernel, time_step_rank";
  require("use_bias", boolean("use_bias", false), false,
          "in_proj and out_proj have no bias");
  require("use_conv_bias", boolean("use_conv_bias", true), true,
          "the causal conv has a bias");
  require("hidden_act", string("hidden_act", "silu"), std::string("silu"),
          "the block's activation is SiLU");
  rejectUnknown({"residual_in_fp32", "time_step_scale", "time_step_min",
                 "time_step_max", "time_step_init_scheme", "time_step_floor",
                 "rescale_prenorm_residual", "use_mambapy",
                 "use_associative_scan", "fused_add_norm",
                 "pad_vocab_size_multiple"});
  if (!ok)
    return std::nullopt;
  return card;
}

} // namespace

OwningOpRef<ModuleOp> card::importConfig(StringRef text, StringRef path,
                                         MLIRContext *context, Sizes sizes) {
  context
      ->loadDialect<MuonSSMDialect, func::FuncDialect, arith::ArithDialect>();
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(text);
  if (!parsed) {
    emitError(FileLineColLoc::get(context, path, 1, 1))
        << "malformed JSON: " << llvm::toString(parsed.takeError());
    return nullptr;
  }
  const llvm::json::Object *object = parsed->getAsObject();
  if (!object) {
    emitError(FileLineColLoc::get(context, path, 1, 1))
        << "a config.json is one JSON object";
    return nullptr;
  }
  ConfigReader reader(text, path, context, *object);
  std::optional<StringRef> type = object->get("model_type")
                                      ? object->get("model_type")->getAsString()
                                      : std::nullopt;
  if (!type) {
    emitError(reader.locate("model_type"))
        << (object->get("model_type") ? "'model_type' must be a string"
                                      : "config.json needs 'model_type'")
        << " (\"gated_deltanet\" or \"mamba\")";
    return nullptr;
  }
  reader.modelType = type->str();
  std::optional<CardModel> card;
  if (*type == "gated_deltanet")
    card = reader.readGatedDeltaNet();
  else if (*type == "mamba")
    card = reader.readMamba();
  else {
    emitError(reader.locate("model_type"))
        << "model_type \"" << *type
        << "\" is not imported: muonssm reads \"gated_deltanet\" "
           "(flash-linear-attention) and \"mamba\" (transformers) configs";
    return nullptr;
  }
  if (!card)
    return nullptr;
  return buildModel(*card, context, sizes);
}
