//===- Model.cpp - a model's IR -------------------------------------------===//
//
// Builds the entry function of a card's or config's model: one mixer layer
// (x → y), or a whole model (embedding, N × (RMSNorm → mixer → residual,
// [RMSNorm → SwiGLU → residual]), final RMSNorm, LM head), its arguments
// named as the checkpoints of the library it follows.
//
//===----------------------------------------------------------------------===//

#include "lib/card/Model.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::card;

namespace {

/// One weight of the mixer: the op's operand name (the argument name of a
/// one-layer card), its shape, and its name inside a layer of the
/// checkpoints a whole model follows (flash-linear-attention's
/// GatedDeltaNetForCausalLM; transformers' MambaForCausalLM for the
/// selective kinds, with the seed's conv1d_x/conv1d_z for the vision
/// layout).
struct Weight {
  std::string name;
  SmallVector<int64_t> shape;
  std::string checkpoint;
};

std::vector<Weight> mixerWeights(const CardModel &card) {
  int64_t dm = card.dModel, di = card.expand * card.dModel, n = card.dState,
          r = card.dtRank, w = card.dConv;
  int64_t hk = card.heads * card.keyDim, hv = card.heads * card.valueDim;
  if (card.gatedDeltaNet())
    return {{"q_proj", {hk, dm}, "attn.q_proj.weight"},
            {"k_proj", {hk, dm}, "attn.k_proj.weight"},
            {"v_proj", {hv, dm}, "attn.v_proj.weight"},
            {"q_conv", {hk, w}, "attn.q_conv1d.weight"},
            {"k_conv", {hk, w}, "attn.k_conv1d.weight"},
            {"v_conv", {hv, w}, "attn.v_conv1d.weight"},
            {"b_proj", {card.heads, dm}, "attn.b_proj.weight"},
            {"a_proj", {card.heads, dm}, "attn.a_proj.weight"},
            {"A_log", {card.heads}, "attn.A_log"},
            {"dt_bias", {card.heads}, "attn.dt_bias"},
            {"g_proj", {hv, dm}, "attn.g_proj.weight"},
            {"norm_weight", {card.valueDim}, "attn.o_norm.weight"},
            {"o_proj", {dm, hv}, "attn.o_proj.weight"}};
  // The vision layout's d_inner is the SSM half: in_proj still makes
  // expand·d_model channels, split into x and z.
  if (card.vision)
    di /= 2;
  std::string conv = card.vision ? "mixer.conv1d_x" : "mixer.conv1d";
  std::vector<Weight> weights = {
      {"in_proj", {2 * di, dm}, "mixer.in_proj.weight"},
      {"conv_weight", {di, w}, conv + ".weight"},
      {"conv_bias", {di}, conv + ".bias"}};
  if (card.vision)
    weights.insert(weights.end(),
                   {{"conv_z_weight", {di, w}, "mixer.conv1d_z.weight"},
                    {"conv_z_bias", {di}, "mixer.conv1d_z.bias"}});
  weights.insert(weights.end(),
                 {{"x_proj", {r + 2 * n, di}, "mixer.x_proj.weight"},
                  {"dt_proj_weight", {di, r}, "mixer.dt_proj.weight"},
                  {"dt_proj_bias", {di}, "mixer.dt_proj.bias"}});
  if (StringRef(card.kind).ends_with("mamba"))
    weights.push_back({"A_log", {di, n}, "mixer.A_log"});
  weights.push_back({"D", {di}, "mixer.D"});
  weights.push_back(
      {"out_proj", {dm, card.vision ? 2 * di : di}, "mixer.out_proj.weight"});
  return weights;
}

/// The mixer op of `card` on x, its weights given by operand name.
Value buildMixer(OpBuilder &b, const CardModel &card, Value x,
                 function_ref<Value(StringRef)> weight) {
  MLIRContext *context = b.getContext();
  Location loc = card.mixerLoc;
  Type type = x.getType();
  NewtonSchulzAttr ns;
  if (card.ns)
    ns = NewtonSchulzAttr::get(context, card.ns->polynomial, card.ns->epsMode,
                               llvm::APFloat(card.ns->eps), card.ns->steps);
  FloatAttr momentum =
      card.momentum ? b.getF64FloatAttr(*card.momentum) : FloatAttr();
  if (card.gatedDeltaNet())
    return GatedDeltaNetMixerOp::create(
        b, loc, type, DeltaNetFormAttr::get(context, card.form), x,
        weight("q_proj"), weight("k_proj"), weight("v_proj"), weight("q_conv"),
        weight("k_conv"), weight("v_conv"), weight("b_proj"), weight("a_proj"),
        weight("A_log"), weight("dt_bias"), weight("g_proj"),
        weight("norm_weight"), weight("o_proj"),
        b.getI64IntegerAttr(card.heads), momentum, ns,
        b.getF64FloatAttr(card.tau), b.getF64FloatAttr(card.outputNormEps));
  bool mamba = StringRef(card.kind).ends_with("mamba");
  return SelectiveMixerOp::create(
      b, loc, type,
      SelectiveBackboneAttr::get(context, mamba ? SelectiveBackbone::Mamba
                                                : SelectiveBackbone::Longhorn),
      card.vision ? b.getUnitAttr() : UnitAttr(), x, weight("in_proj"),
      weight("conv_weight"), weight("conv_bias"), weight("conv_z_weight"),
      weight("conv_z_bias"), weight("x_proj"), weight("dt_proj_weight"),
      weight("dt_proj_bias"), weight("A_log"), weight("D"), weight("out_proj"),
      momentum, ns, b.getF64FloatAttr(card.tau));
}

} // namespace

OwningOpRef<ModuleOp> card::buildModel(const CardModel &described,
                                       MLIRContext *context, Sizes sizes) {
  // The command line's sizes replace the description's.
  CardModel card = described;
  if (sizes.batch > 0)
    card.batch = sizes.batch;
  if (sizes.length > 0)
    card.length = sizes.length;
  OpBuilder b(context);
  Location modelLoc = card.modelLoc;
  OwningOpRef<ModuleOp> module = ModuleOp::create(modelLoc);
  b.setInsertionPointToEnd(module->getBody());

  Type element = card.dtype == "f64"    ? Type(b.getF64Type())
                 : card.dtype == "bf16" ? Type(b.getBF16Type())
                 : card.dtype == "f16"  ? Type(b.getF16Type())
                                        : Type(b.getF32Type());
  int64_t dm = card.dModel;
  bool whole = card.layers > 0, tokens = card.vocab > 0;
  auto hiddenType =
      RankedTensorType::get({card.batch, card.length, dm}, element);

  // The arguments: name and type, in order.
  std::vector<std::pair<std::string, Type>> args;
  auto add = [&](std::string name, ArrayRef<int64_t> shape) {
    args.push_back({std::move(name), RankedTensorType::get(shape, element)});
  };
  std::vector<Weight> mixer = mixerWeights(card);
  // Checkpoint names: fla's for Gated DeltaNet, transformers' Mamba's else.
  bool fla = card.gatedDeltaNet();
  std::string root = fla ? "model." : "backbone.";
  auto layerName = [&](int64_t i, StringRef what) {
    return root + "layers." + std::to_string(i) + "." + what.str();
  };
  if (!whole) {
    add("x", {card.batch, card.length, dm});
    for (const Weight &w : mixer)
      add(w.name, w.shape);
  } else {
    if (tokens) {
      args.push_back(
          {"input_ids", RankedTensorType::get({card.batch, card.length},
                                              b.getIntegerType(32))});
      add(root + "embeddings.weight", {card.vocab, dm});
    } else {
      add("x", {card.batch, card.length, dm});
    }
    for (int64_t i = 0; i < card.layers; ++i) {
      add(layerName(i, fla ? "attn_norm.weight" : "norm.weight"), {dm});
      for (const Weight &w : mixer)
        add(layerName(i, w.checkpoint), w.shape);
      if (card.mlpHidden > 0) {
        int64_t f = card.mlpHidden;
        add(layerName(i, "mlp_norm.weight"), {dm});
        add(layerName(i, "mlp.gate_proj.weight"), {f, dm});
        add(layerName(i, "mlp.up_proj.weight"), {f, dm});
        add(layerName(i, "mlp.down_proj.weight"), {dm, f});
      }
    }
    add(root + (fla ? "norm.weight" : "norm_f.weight"), {dm});
    if (tokens && !card.tieEmbeddings)
      add("lm_head.weight", {card.vocab, dm});
  }

  SmallVector<Type> types;
  for (auto &arg : args)
    types.push_back(arg.second);
  Type resultType = tokens ? RankedTensorType::get(
                                 {card.batch, card.length, card.vocab}, element)
                           : Type(hiddenType);
  auto func = func::FuncOp::create(b, modelLoc, card.entry,
                                   b.getFunctionType(types, {resultType}));
  for (auto [i, arg] : llvm::enumerate(args))
    func.setArgAttr(i, "muonssm.name", b.getStringAttr(arg.first));
  func.setResultAttr(0, "muonssm.name",
                     b.getStringAttr(tokens ? "logits" : "y"));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToEnd(body);
  auto arg = [&](StringRef name) -> Value {
    for (auto [i, a] : llvm::enumerate(args))
      if (a.first == name)
        return body->getArgument(i);
    return Value();
  };

  Value out;
  if (!whole) {
    out = buildMixer(b, card, arg("x"), arg);
  } else {
    Location mixerLoc = card.mixerLoc;
    Location mlpLoc = card.mlpLoc ? Location(card.mlpLoc) : modelLoc;
    FloatAttr eps = b.getF64FloatAttr(card.normEps);
    auto norm = [&](Value x, StringRef weight, Location loc) -> Value {
      return RMSNormOp::create(b, loc, hiddenType, x, arg(weight), eps);
    };
    Value h = tokens
                  ? Value(EmbeddingOp::create(b, modelLoc, hiddenType,
                                              arg("input_ids"),
                                              arg(root + "embeddings.weight")))
                  : arg("x");
    for (int64_t i = 0; i < card.layers; ++i) {
      Value a = norm(h, layerName(i, fla ? "attn_norm.weight" : "norm.weight"),
                     mixerLoc);
      Value m = buildMixer(b, card, a, [&](StringRef name) -> Value {
        for (const Weight &w : mixer)
          if (w.name == name)
            return arg(layerName(i, w.checkpoint));
        return Value();
      });
      h = arith::AddFOp::create(b, mixerLoc, h, m);
      if (card.mlpHidden > 0) {
        Value n = norm(h, layerName(i, "mlp_norm.weight"), mlpLoc);
        Value f = SwiGLUOp::create(b, mlpLoc, hiddenType, n,
                                   arg(layerName(i, "mlp.gate_proj.weight")),
                                   arg(layerName(i, "mlp.up_proj.weight")),
                                   arg(layerName(i, "mlp.down_proj.weight")));
        h = arith::AddFOp::create(b, mlpLoc, h, f);
      }
    }
    out = norm(h, root + (fla ? "norm.weight" : "norm_f.weight"), modelLoc);
    if (tokens)
      out = LinearOp::create(b, modelLoc, resultType, out,
                             arg(card.tieEmbeddings
                                     ? root + "embeddings.weight"
                                     : std::string("lm_head.weight")),
                             /*bias=*/Value());
  }
  func::ReturnOp::create(b, modelLoc, out);
  // The verifier reports at the card's lines; the op's generic form, which
  // MLIR appends by default, means nothing to a card's author.
  bool printOp = context->shouldPrintOpOnDiagnostic();
  context->printOpOnDiagnostic(false);
  LogicalResult verified = verify(*module);
  context->printOpOnDiagnostic(printOp);
  if (failed(verified))
    return nullptr;
  return module;
}
