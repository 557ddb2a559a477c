//===- MuonSSMOps.cpp - ops of the muonssm dialect ------------------------===//
//
// Verifiers implement the rules of docs/dialect.md; each message states the
// rule and the offending value.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <tuple>

using namespace mlir;
using namespace mlir::muonssm;

#define GET_OP_CLASSES
#include "dialect/MuonSSMOps.cpp.inc"

namespace {
/// A named dimension (B, T, H, K, HV, V, N) whose size may be unknown.
struct Dim {
  const char *name;
  int64_t size = ShapedType::kDynamic;
};

/// Prints "[B, T, HV] = [2, 64, ?]".
std::string describe(ArrayRef<Dim> dims) {
  std::string names, sizes;
  llvm::raw_string_ostream n(names), s(sizes);
  llvm::interleaveComma(dims, n, [&](const Dim &d) { n << d.name; });
  llvm::interleaveComma(dims, s, [&](const Dim &d) {
    if (ShapedType::isDynamic(d.size))
      s << "?";
    else
      s << d.size;
  });
  return "[" + names + "] = [" + sizes + "]";
}

/// Merges the size of a dimension seen on a second operand into `dim`;
/// fails when both are static and differ.
bool mergeDim(Dim &dim, int64_t size) {
  if (ShapedType::isDynamic(size))
    return true;
  if (ShapedType::isDynamic(dim.size)) {
    dim.size = size;
    return true;
  }
  return dim.size == size;
}

/// Checks that `type` has the shape `dims` (dynamic sizes match anything).
LogicalResult checkShape(Operation *op, StringRef what, Type type,
                         ArrayRef<Dim> dims) {
  auto tensor = cast<RankedTensorType>(type);
  bool ok = tensor.getRank() == static_cast<int64_t>(dims.size());
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (!ok)
      break;
    int64_t actual = tensor.getDimSize(i);
    ok = ShapedType::isDynamic(actual) || ShapedType::isDynamic(d.size) ||
         actual == d.size;
  }
  if (ok)
    return success();
  return op->emitOpError() << what << " must have shape " << describe(dims)
                           << ", got " << type;
}

bool isFiniteAttr(std::optional<double> value) {
  return value && std::isfinite(*value);
}

/// The accumulation type for inputs of `element`: f64 for f64, else f32.
FloatType accumulationTypeOf(Type element) {
  MLIRContext *context = element.getContext();
  if (element.isF64())
    return Float64Type::get(context);
  return Float32Type::get(context);
}

/// Size `i` of a ranked tensor value (kDynamic past its rank).
int64_t dimOf(Value v, int64_t i) {
  auto type = cast<RankedTensorType>(v.getType());
  return i < type.getRank() ? type.getDimSize(i) : ShapedType::kDynamic;
}

/// γ ∈ [0, 1] when the op has momentum.
LogicalResult checkMomentum(Operation *op, FloatAttr momentum) {
  if (!momentum)
    return success();
  double gamma = momentum.getValueAsDouble();
  if (!(gamma >= 0.0 && gamma <= 1.0))
    return op->emitOpError() << "momentum γ must lie in [0, 1], got " << gamma;
  return success();
}

/// τ > 0 and finite.
LogicalResult checkTau(Operation *op, double tau) {
  if (!(tau > 0.0) || !std::isfinite(tau))
    return op->emitOpError() << "tau must be a finite number > 0, got " << tau;
  return success();
}

/// The sizes of the k [B, T, H, K] and v [B, T, HV, V] of the rank-1 update
/// ops (rank1_gain, chunk_newton_schulz).
struct UpdateDims {
  Dim b, t, h, kd, hv, vd;
};

/// k and v of rank 4 with one element type, the same B and T, HV a multiple
/// of H.
FailureOr<UpdateDims> checkKeysAndValues(Operation *op,
                                         RankedTensorType kType,
                                         RankedTensorType vType) {
  if (kType.getRank() != 4 || vType.getRank() != 4)
    return op->emitOpError() << "k and v must have rank 4 ([B, T, H, K] and "
                                "[B, T, HV, V]), got "
                             << kType << " and " << vType;
  if (kType.getElementType() != vType.getElementType())
    return op->emitOpError() << "k and v must share one element type, got "
                             << kType.getElementType() << " and "
                             << vType.getElementType();
  UpdateDims d{{"B", kType.getDimSize(0)},  {"T", kType.getDimSize(1)},
               {"H", kType.getDimSize(2)},  {"K", kType.getDimSize(3)},
               {"HV", vType.getDimSize(2)}, {"V", vType.getDimSize(3)}};
  if (!mergeDim(d.b, vType.getDimSize(0)) ||
      !mergeDim(d.t, vType.getDimSize(1)))
    return op->emitOpError()
           << "v must have the batch and time sizes of k: k is " << kType
           << ", v is " << vType;
  if (!ShapedType::isDynamic(d.h.size) && !ShapedType::isDynamic(d.hv.size) &&
      d.hv.size % d.h.size != 0)
    return op->emitOpError() << "the number of value heads HV = " << d.hv.size
                             << " must be a multiple of the number of key "
                                "heads H = "
                             << d.h.size << " (GQA)";
  return d;
}

/// β per head [B, T, HV] or per value channel [B, T, HV, V].
LogicalResult checkBeta(Operation *op, Value beta, const UpdateDims &d) {
  auto betaType = cast<RankedTensorType>(beta.getType());
  return betaType.getRank() == 3
             ? checkShape(op, "operand 'beta' (per head)", betaType,
                          {d.b, d.t, d.hv})
             : checkShape(op, "operand 'beta' (per value channel)", betaType,
                          {d.b, d.t, d.hv, d.vd});
}

/// τ_in and τ_out finite and > 0.
LogicalResult checkTauInOut(Operation *op, double tauIn, double tauOut) {
  for (auto [name, value] : {std::pair<StringRef, double>{"tau_in", tauIn},
                             {"tau_out", tauOut}})
    if (!(value > 0.0) || !std::isfinite(value))
      return op->emitOpError() << name << " must be a finite number > 0, got "
                               << value;
  return success();
}
} // namespace

FloatType ScanOp::getAccumulationType() {
  return accumulationTypeOf(getV().getType().getElementType());
}

bool ScanOp::hasChannelBeta() {
  return getBeta() && getBeta().getType().getRank() == 4;
}

LogicalResult ScanOp::verify() {
  Operation *op = getOperation();
  auto qType = getQ().getType();
  auto kType = getK().getType();
  auto vType = getV().getType();

  for (auto [name, type] :
       {std::pair<StringRef, RankedTensorType>{"q", qType}, {"k", kType},
        {"v", vType}})
    if (type.getRank() != 4)
      return emitOpError() << "operand '" << name
                           << "' must have rank 4 ([B, T, H, K] for q and k, "
                              "[B, T, HV, V] for v), got "
                           << type;
  if (qType.getElementType() != kType.getElementType() ||
      qType.getElementType() != vType.getElementType())
    return emitOpError() << "q, k and v must share one element type, got "
                         << qType.getElementType() << ", "
                         << kType.getElementType() << " and "
                         << vType.getElementType();

  Dim b{"B"}, t{"T"}, h{"H"}, kd{"K"}, hv{"HV"}, vd{"V"};
  b.size = qType.getDimSize(0);
  t.size = qType.getDimSize(1);
  h.size = qType.getDimSize(2);
  kd.size = qType.getDimSize(3);
  if (failed(checkShape(op, "operand 'k' (the shape of q)", kType,
                        {b, t, h, kd})))
    return failure();
  for (int i = 0; i < 4; ++i)
    if (!ShapedType::isDynamic(kType.getDimSize(i)))
      mergeDim(i == 0 ? b : i == 1 ? t : i == 2 ? h : kd, kType.getDimSize(i));
  if (!mergeDim(b, vType.getDimSize(0)) || !mergeDim(t, vType.getDimSize(1)))
    return emitOpError() << "v must have the batch and time sizes of q: "
                         << "q is " << qType << ", v is " << vType;
  hv.size = vType.getDimSize(2);
  vd.size = vType.getDimSize(3);
  if (!ShapedType::isDynamic(h.size) && !ShapedType::isDynamic(hv.size) &&
      (hv.size % h.size != 0))
    return emitOpError() << "the number of value heads HV = " << hv.size
                         << " must be a multiple of the number of key heads "
                            "H = "
                         << h.size << " (GQA)";

  // Decay operands.
  DecayKind decay = getDecay();
  StringRef decayName = stringifyDecayKind(decay);
  auto forbid = [&](Value value, StringRef name) -> LogicalResult {
    if (!value)
      return success();
    return emitOpError() << "decay = " << decayName << " takes no '" << name
                         << "' operand";
  };
  auto require = [&](Value value, StringRef name) -> LogicalResult {
    if (value)
      return success();
    return emitOpError() << "decay = " << decayName << " requires a '" << name
                         << "' operand";
  };
  switch (decay) {
  case DecayKind::None:
    if (failed(forbid(getG(), "g")) || failed(forbid(getDt(), "dt")) ||
        failed(forbid(getA(), "A")))
      return failure();
    break;
  case DecayKind::Scalar:
  case DecayKind::Diagonal:
    if (failed(require(getG(), "g")) || failed(forbid(getDt(), "dt")) ||
        failed(forbid(getA(), "A")))
      return failure();
    if (decay == DecayKind::Scalar &&
        failed(checkShape(op, "operand 'g' (decay = scalar)", getG().getType(),
                          {b, t, hv})))
      return failure();
    if (decay == DecayKind::Diagonal &&
        failed(checkShape(op, "operand 'g' (decay = diagonal)",
                          getG().getType(), {b, t, hv, kd})))
      return failure();
    break;
  case DecayKind::Mamba:
    if (failed(forbid(getG(), "g")) || failed(require(getDt(), "dt")) ||
        failed(require(getA(), "A")))
      return failure();
    if (failed(checkShape(op, "operand 'dt' (decay = mamba)",
                          getDt().getType(), {b, t, hv, vd})) ||
        failed(checkShape(op, "operand 'A' (decay = mamba)", getA().getType(),
                          {hv, kd, vd})))
      return failure();
    break;
  case DecayKind::Longhorn:
    if (failed(forbid(getG(), "g")) || failed(require(getDt(), "dt")) ||
        failed(forbid(getA(), "A")))
      return failure();
    if (failed(checkShape(op, "operand 'dt' (decay = longhorn)",
                          getDt().getType(), {b, t, hv, vd})))
      return failure();
    if (getBeta())
      return emitOpError()
             << "decay = longhorn derives the update gain dtn_t = dt_t / (1 + "
                "dt_t ‖k_t‖²) itself; it takes no 'beta' operand";
    break;
  }

  // β: per head or per value channel.
  if (Value beta = getBeta()) {
    auto betaType = cast<RankedTensorType>(beta.getType());
    if (betaType.getRank() == 3) {
      if (failed(checkShape(op, "operand 'beta' (per head)", betaType,
                            {b, t, hv})))
        return failure();
    } else if (failed(checkShape(op, "operand 'beta' (per value channel)",
                                 betaType, {b, t, hv, vd}))) {
      return failure();
    }
  }

  if (Value gain = getGain()) {
    if (failed(checkShape(op, "operand 'gain'", gain.getType(), {b, t, hv})))
      return failure();
    if (getNsTarget() == NSTarget::Update)
      return emitOpError() << "a 'gain' operand replaces Newton-Schulz on the "
                              "update (simplify-newton-schulz); the scan "
                              "cannot have both";
  }

  if (Value skip = getSkip())
    if (failed(checkShape(op, "operand 'skip' (D)", skip.getType(), {hv, vd})))
      return failure();
  if (Value gate = getGate())
    if (failed(checkShape(op, "operand 'gate' (z)", gate.getType(),
                          {b, t, hv, vd})))
      return failure();

  // Attributes.
  if (getInput() == InputKind::Error && hasDeltaRule())
    return emitOpError()
           << "input = error already is a delta rule (e_t = β_t(v_t − "
              "D(H)ᵀk_t)); it cannot be combined with delta_rule";
  if (getDecay() == DecayKind::Longhorn && hasDeltaRule())
    return emitOpError()
           << "decay = longhorn already is LongHorn's key-dependent "
              "transition (1 − dtn_t k_t²); it cannot be combined with "
              "delta_rule";
  if (hasDeltaRule()) {
    double eta = getDeltaRule()->convertToDouble();
    if (!(eta > 0.0) || !std::isfinite(eta))
      return emitOpError() << "delta_rule η must be a finite number > 0, got "
                           << eta;
    if (hasChannelBeta())
      return emitOpError() << "delta_rule needs β per head ([B, T, HV]); a "
                              "per-channel β has no rank-1 transition";
  }
  if (failed(checkMomentum(op, getMomentumAttr())))
    return failure();
  if (getNewtonSchulz().has_value() != getNsTarget().has_value() ||
      getNewtonSchulz().has_value() != getTauPlacement().has_value())
    return emitOpError() << "newton_schulz, ns_target and tau_placement come "
                            "together: all three or none";
  if (getNsTarget() == NSTarget::Momentum && !hasMomentum())
    return emitOpError() << "newton_schulz on momentum needs momentum = γ";
  if (failed(checkTau(op, getTau().convertToDouble())))
    return failure();
  if (!isFiniteAttr(getScale().convertToDouble()))
    return emitOpError() << "scale must be finite, got "
                         << getScale().convertToDouble();

  // Sequences: B of them, or N varlen sequences packed into B = 1.
  Dim n{"N", b.size};
  if (Value cu = getCuSeqlens()) {
    auto cuType = cast<RankedTensorType>(cu.getType());
    if (cuType.getRank() != 1)
      return emitOpError() << "cu_seqlens must be a rank-1 tensor of N + 1 "
                              "offsets, got "
                           << cuType;
    if (!ShapedType::isDynamic(b.size) && b.size != 1)
      return emitOpError() << "cu_seqlens packs all sequences into B = 1, got "
                              "B = "
                           << b.size;
    n.size = ShapedType::isDynamic(cuType.getDimSize(0))
                 ? ShapedType::kDynamic
                 : cuType.getDimSize(0) - 1;
    if (!ShapedType::isDynamic(n.size) && n.size < 1)
      return emitOpError() << "cu_seqlens must hold at least 2 offsets, got "
                           << cuType;
  }

  // States. With state pools, sequences select slots; the states have P
  // slots instead of N sequences.
  Dim stateRows = n;
  FloatType acc = getAccumulationType();
  auto checkState = [&](Value value, StringRef what) -> LogicalResult {
    if (!value)
      return success();
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getElementType() != acc)
      return emitOpError() << what << " must have the accumulation element "
                           << "type " << acc << " (f64 for f64 inputs, else "
                           << "f32), got " << type.getElementType();
    return checkShape(op, what, type, {stateRows, hv, kd, vd});
  };
  if (Value slots = getStateIndices()) {
    auto slotType = cast<RankedTensorType>(slots.getType());
    if (slotType.getRank() != 1)
      return emitOpError() << "state_indices must be a rank-1 tensor of one "
                              "slot per sequence, got "
                           << slotType;
    if (failed(checkShape(op, "operand 'state_indices'", slotType, {n})))
      return failure();
    if (!getInitialState())
      return emitOpError() << "state_indices selects slots of a state pool: "
                              "it needs initial_state (the pool)";
    if (hasMomentum() && getFinalMomentum() && !getInitialMomentum())
      return emitOpError() << "state_indices with final_momentum needs "
                              "initial_momentum (the momentum pool)";
    auto pool = cast<RankedTensorType>(getInitialState().getType());
    stateRows = Dim{"P", pool.getRank() == 4 ? pool.getDimSize(0)
                                             : ShapedType::kDynamic};
  }
  if (getInitialMomentum() && !hasMomentum())
    return emitOpError() << "initial_momentum needs momentum = γ";
  if (getFinalMomentum() && !hasMomentum())
    return emitOpError() << "result 'final_momentum' needs momentum = γ";
  if (failed(checkState(getInitialState(), "operand 'initial_state'")) ||
      failed(checkState(getInitialMomentum(), "operand 'initial_momentum'")) ||
      failed(checkState(getFinalState(), "result 'final_state'")) ||
      failed(checkState(getFinalMomentum(), "result 'final_momentum'")))
    return failure();

  if (isChunked()) {
    std::string why = whyNotChunkable();
    if (!why.empty())
      return emitOpError() << "a chunked schedule needs an exact chunked form: "
                           << why;
  }

  auto oType = getO().getType();
  if (oType.getElementType() != vType.getElementType())
    return emitOpError() << "result 'o' must have the element type of v, "
                         << vType.getElementType() << ", got "
                         << oType.getElementType();
  return checkShape(op, "result 'o'", oType, {b, t, hv, vd});
}

std::string ScanOp::whyNotChunkable() {
  if (getNewtonSchulz()) {
    if (getNsTarget() == NSTarget::Momentum)
      return "Newton-Schulz of the whole momentum is nonlinear in the state "
             "(muonssm-fuse-newton-schulz gives it a recurrent schedule)";
    if (getInput() == InputKind::Error)
      return "Newton-Schulz of the error input depends on the state";
    return "Newton-Schulz on the update must first become a per-token gain "
           "(muonssm-simplify-newton-schulz)";
  }
  bool elementwise =
      getDecay() == DecayKind::Mamba || getDecay() == DecayKind::Longhorn;
  if (elementwise && (hasDeltaRule() || getInput() == InputKind::Error))
    return "an elementwise decay with a state-dependent input (delta rule or "
           "error input) has no factored chunked form";
  if (getInput() == InputKind::Error && hasChannelBeta())
    return "the error input with a per-channel beta is not chunked";
  return "";
}

LogicalResult Rank1GainOp::verify() {
  Operation *op = getOperation();
  auto vType = getV().getType();
  FailureOr<UpdateDims> d = checkKeysAndValues(op, getK().getType(), vType);
  if (failed(d))
    return failure();
  if (getBeta() && getDt())
    return emitOpError() << "takes beta (w = β⊙v) or dt (LongHorn's "
                            "w = dtn⊙v), not both";
  if (getBeta() && failed(checkBeta(op, getBeta(), *d)))
    return failure();
  if (Value dt = getDt())
    if (failed(checkShape(op, "operand 'dt'", dt.getType(),
                          {d->b, d->t, d->hv, d->vd})))
      return failure();
  if (failed(checkTauInOut(op, getTauIn().convertToDouble(),
                           getTauOut().convertToDouble())))
    return failure();
  auto gainType = getGain().getType();
  Type acc = accumulationTypeOf(vType.getElementType());
  if (gainType.getElementType() != acc)
    return emitOpError() << "result must have the accumulation element type "
                         << acc << ", got " << gainType.getElementType();
  return checkShape(op, "result", gainType, {d->b, d->t, d->hv});
}

FloatType SelectiveMixerOp::getAccumulationType() {
  return accumulationTypeOf(getX().getType().getElementType());
}

SelectiveMixerOp::Sizes SelectiveMixerOp::getSizes() {
  auto dim = dimOf;
  Sizes s;
  s.batch = dim(getX(), 0);
  s.length = dim(getX(), 1);
  s.model = dim(getX(), 2);
  s.inner = dim(getConvWeight(), 0);
  s.conv = dim(getConvWeight(), 1);
  s.rank = dim(getDtProj(), 1);
  int64_t rows = dim(getXProj(), 0);
  if (getALog())
    s.state = dim(getALog(), 1);
  else if (!ShapedType::isDynamic(rows) && !ShapedType::isDynamic(s.rank))
    s.state = (rows - s.rank) / 2;
  else
    s.state = ShapedType::kDynamic;
  return s;
}

LogicalResult SelectiveMixerOp::verify() {
  Operation *op = getOperation();
  auto xType = getX().getType();
  Type element = xType.getElementType();
  // One element type for the input and every weight.
  for (auto [name, value] :
       {std::pair<StringRef, Value>{"in_proj", getInProj()},
        {"conv weight", getConvWeight()},
        {"conv bias", getConvBias()},
        {"conv_z weight", getConvZWeight()},
        {"conv_z bias", getConvZBias()},
        {"x_proj", getXProj()},
        {"dt_proj weight", getDtProj()},
        {"dt_proj bias", getDtBias()},
        {"A_log", getALog()},
        {"D", getD()},
        {"out_proj", getOutProj()}})
    if (value && cast<RankedTensorType>(value.getType()).getElementType() !=
                     element)
      return emitOpError() << name << " must have the element type of x, "
                           << element << ", got " << value.getType();
  if (xType.getRank() != 3)
    return emitOpError() << "x must have rank 3 ([B, L, d_model]), got "
                         << xType;
  bool mamba = getBackbone() == SelectiveBackbone::Mamba;
  if (mamba && !getALog())
    return emitOpError() << "the mamba block needs A_log (A = −exp(A_log))";
  if (!mamba && getALog())
    return emitOpError() << "the longhorn block takes no A_log (its decay "
                            "1 − dtn·K² comes from dt and the keys)";
  bool vision = getVision();
  if (vision != static_cast<bool>(getConvZWeight()))
    return emitOpError()
           << (vision ? "the vision layout needs conv_z (the z half's conv)"
                      : "conv_z belongs to the vision layout (add `vision`)");

  auto rank2 = [&](Value v, StringRef name) -> LogicalResult {
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getRank() == 2)
      return success();
    return emitOpError() << name << " must have rank 2, got " << type;
  };
  for (auto [name, value] :
       {std::pair<StringRef, Value>{"in_proj", getInProj()},
        {"conv weight", getConvWeight()},
        {"x_proj", getXProj()},
        {"dt_proj weight", getDtProj()},
        {"out_proj", getOutProj()}})
    if (failed(rank2(value, name)))
      return failure();
  if (getALog() && failed(rank2(getALog(), "A_log")))
    return failure();

  Sizes sizes = getSizes();
  auto times = [](int64_t n, int64_t m) {
    return ShapedType::isDynamic(m) ? ShapedType::kDynamic : n * m;
  };
  auto plus = [](int64_t a, int64_t b) {
    return ShapedType::isDynamic(a) || ShapedType::isDynamic(b)
               ? ShapedType::kDynamic
               : a + b;
  };
  Dim b{"B", sizes.batch}, l{"L", sizes.length}, dm{"d_model", sizes.model},
      di{"d_inner", sizes.inner}, di2{"2·d_inner", times(2, sizes.inner)},
      r{"dt_rank", sizes.rank},
      n{"d_state", sizes.state},
      xrows{"dt_rank + 2·d_state",
            plus(sizes.rank, times(2, sizes.state))};
  if (!mamba && !ShapedType::isDynamic(sizes.rank)) {
    int64_t rows = getXProj().getType().getDimSize(0);
    if (!ShapedType::isDynamic(rows) &&
        (rows <= sizes.rank || (rows - sizes.rank) % 2 != 0))
      return emitOpError()
             << "x_proj must have dt_rank + 2·d_state rows (dt_rank = "
             << sizes.rank << " from dt_proj, d_state ≥ 1), got " << rows;
  }
  for (auto [value, what, dims] :
       std::initializer_list<std::tuple<Value, StringRef, SmallVector<Dim>>>{
           {getInProj(), "in_proj", {di2, dm}},
           {getConvBias(), "conv bias", {di}},
           {getXProj(), "x_proj", {xrows, di}},
           {getDtProj(), "dt_proj weight", {di, r}},
           {getDtBias(), "dt_proj bias", {di}},
           {getD(), "D", {di}},
           {getOutProj(), "out_proj", {dm, vision ? di2 : di}},
           {getOut(), "result", {b, l, dm}}})
    if (failed(checkShape(op, what, value.getType(), dims)))
      return failure();
  if (getALog() &&
      failed(checkShape(op, "A_log", getALog().getType(), {di, n})))
    return failure();
  Dim w{"d_conv", sizes.conv};
  if (vision &&
      (failed(checkShape(op, "conv_z weight", getConvZWeight().getType(),
                         {di, w})) ||
       failed(checkShape(op, "conv_z bias", getConvZBias().getType(), {di}))))
    return failure();
  for (auto [name, size] : {std::pair<StringRef, int64_t>{"d_inner", sizes.inner},
                            {"d_conv", sizes.conv},
                            {"dt_rank", sizes.rank},
                            {"d_state", sizes.state}})
    if (!ShapedType::isDynamic(size) && size < 1)
      return emitOpError() << name << " must be >= 1, got " << size;
  if (getOut().getType().getElementType() != element)
    return emitOpError() << "result must have the element type of x, "
                         << element << ", got "
                         << getOut().getType().getElementType();
  if (failed(checkMomentum(op, getMomentumAttr())))
    return failure();
  return checkTau(op, getTau().convertToDouble());
}

FloatType GatedDeltaNetMixerOp::getAccumulationType() {
  return accumulationTypeOf(getX().getType().getElementType());
}

GatedDeltaNetMixerOp::Sizes GatedDeltaNetMixerOp::getSizes() {
  auto dim = dimOf;
  Sizes s;
  s.batch = dim(getX(), 0);
  s.length = dim(getX(), 1);
  s.model = dim(getX(), 2);
  s.heads = static_cast<int64_t>(getHeads());
  int64_t keys = dim(getQProj(), 0), values = dim(getVProj(), 0);
  auto per = [&](int64_t total) {
    return ShapedType::isDynamic(total) || s.heads < 1 ? ShapedType::kDynamic
                                                       : total / s.heads;
  };
  s.key = per(keys);
  s.value = per(values);
  s.conv = dim(getQConv(), 1);
  return s;
}

LogicalResult GatedDeltaNetMixerOp::verify() {
  Operation *op = getOperation();
  double normEps = getNormEps().convertToDouble();
  if (!(normEps > 0.0) || !std::isfinite(normEps))
    return emitOpError() << "norm_eps must be a finite number > 0, got "
                         << normEps;
  auto xType = getX().getType();
  Type element = xType.getElementType();
  std::initializer_list<std::pair<StringRef, Value>> weights = {
      {"q_proj", getQProj()},   {"k_proj", getKProj()},
      {"v_proj", getVProj()},   {"q conv", getQConv()},
      {"k conv", getKConv()},   {"v conv", getVConv()},
      {"b_proj", getBProj()},   {"a_proj", getAProj()},
      {"A_log", getALog()},     {"dt_bias", getDtBias()},
      {"g_proj", getGProj()},   {"norm weight", getNormWeight()},
      {"o_proj", getOProj()}};
  for (auto [name, value] : weights)
    if (cast<RankedTensorType>(value.getType()).getElementType() != element)
      return emitOpError() << name << " must have the element type of x, "
                           << element << ", got " << value.getType();
  if (xType.getRank() != 3)
    return emitOpError() << "x must have rank 3 ([B, L, d_model]), got "
                         << xType;
  int64_t heads = static_cast<int64_t>(getHeads());
  if (heads < 1)
    return emitOpError() << "heads must be >= 1, got " << heads;
  for (auto [name, value] : weights) {
    int64_t rank = cast<RankedTensorType>(value.getType()).getRank();
    bool vector = value == getALog() || value == getDtBias() ||
                  value == getNormWeight();
    if (rank != (vector ? 1 : 2))
      return emitOpError() << name << " must have rank " << (vector ? 1 : 2)
                           << ", got " << value.getType();
  }
  for (auto [name, value] : {std::pair<StringRef, Value>{"q_proj", getQProj()},
                             {"v_proj", getVProj()}}) {
    int64_t rows = cast<RankedTensorType>(value.getType()).getDimSize(0);
    if (!ShapedType::isDynamic(rows) && (rows < heads || rows % heads != 0))
      return emitOpError() << name << " has " << rows
                           << " rows, not a positive multiple of heads = "
                           << heads << " (H·K for q, k; H·V for v)";
  }
  Sizes sizes = getSizes();
  auto times = [](int64_t n, int64_t m) {
    return ShapedType::isDynamic(n) || ShapedType::isDynamic(m)
               ? ShapedType::kDynamic
               : n * m;
  };
  Dim b{"B", sizes.batch}, l{"L", sizes.length}, dm{"d_model", sizes.model},
      h{"H", heads}, hk{"H·K", times(heads, sizes.key)},
      hv{"H·V", times(heads, sizes.value)}, v{"V", sizes.value},
      w{"W", sizes.conv};
  for (auto [value, what, dims] :
       std::initializer_list<std::tuple<Value, StringRef, SmallVector<Dim>>>{
           {getQProj(), "q_proj", {hk, dm}},
           {getKProj(), "k_proj", {hk, dm}},
           {getVProj(), "v_proj", {hv, dm}},
           {getQConv(), "q conv", {hk, w}},
           {getKConv(), "k conv", {hk, w}},
           {getVConv(), "v conv", {hv, w}},
           {getBProj(), "b_proj", {h, dm}},
           {getAProj(), "a_proj", {h, dm}},
           {getALog(), "A_log", {h}},
           {getDtBias(), "dt_bias", {h}},
           {getGProj(), "g_proj", {hv, dm}},
           {getNormWeight(), "norm weight", {v}},
           {getOProj(), "o_proj", {dm, hv}},
           {getOut(), "result", {b, l, dm}}})
    if (failed(checkShape(op, what, value.getType(), dims)))
      return failure();
  if (!ShapedType::isDynamic(sizes.conv) && sizes.conv < 1)
    return emitOpError() << "the conv width W must be >= 1, got "
                         << sizes.conv;
  if (getOut().getType().getElementType() != element)
    return emitOpError() << "result must have the element type of x, "
                         << element << ", got "
                         << getOut().getType().getElementType();
  bool plain = getForm() == DeltaNetForm::Plain;
  if (plain && (getMomentumAttr() || getNewtonSchulzAttr()))
    return emitOpError() << "form plain (Gated DeltaNet) takes neither "
                            "momentum nor newton_schulz";
  if (plain && getTau().convertToDouble() != 1.0)
    return emitOpError() << "form plain (Gated DeltaNet) has no τ: tau must "
                            "be 1, got "
                         << getTau().convertToDouble();
  if (!plain && (!getMomentumAttr() || !getNewtonSchulzAttr()))
    return emitOpError() << "form " << stringifyDeltaNetForm(getForm())
                         << " (Muon) needs momentum and newton_schulz";
  if (failed(checkMomentum(op, getMomentumAttr())))
    return failure();
  return checkTau(op, getTau().convertToDouble());
}

//===----------------------------------------------------------------------===//
// Model layers
//===----------------------------------------------------------------------===//

namespace {
/// Every operand of `op` has the element type of its first.
LogicalResult checkOneElementType(Operation *op) {
  Type element = getElementTypeOrSelf(op->getOperand(0).getType());
  for (Value v : llvm::concat<Value>(op->getOperands(), op->getResults()))
    if (getElementTypeOrSelf(v.getType()) != element)
      return op->emitOpError()
             << "every operand and the result must have the element type of "
                "the input, "
             << element << "; got " << v.getType();
  return success();
}
} // namespace

LogicalResult LinearOp::verify() {
  if (failed(checkOneElementType(*this)))
    return failure();
  auto x = getX().getType();
  if (x.getRank() != 2 && x.getRank() != 3)
    return emitOpError() << "x must have rank 2 or 3 ([..., in]), got " << x;
  if (getWeight().getType().getRank() != 2)
    return emitOpError() << "weight must be [out, in], got "
                         << getWeight().getType();
  Dim in{"in", x.getDimSize(x.getRank() - 1)},
      out{"out", getWeight().getType().getDimSize(0)};
  if (failed(checkShape(*this, "weight", getWeight().getType(), {out, in})))
    return failure();
  if (getBias() && failed(checkShape(*this, "bias", getBias().getType(), {out})))
    return failure();
  SmallVector<Dim> dims;
  for (int64_t i = 0; i + 1 < x.getRank(); ++i)
    dims.push_back({i == 0 ? "B" : "L", x.getDimSize(i)});
  dims.push_back(out);
  return checkShape(*this, "result", getY().getType(), dims);
}

LogicalResult RMSNormOp::verify() {
  if (failed(checkOneElementType(*this)))
    return failure();
  auto x = getX().getType();
  if (x.getRank() < 2)
    return emitOpError() << "x must have rank >= 2, got " << x;
  if (failed(checkShape(*this, "weight", getWeight().getType(),
                        {{"D", x.getDimSize(x.getRank() - 1)}})))
    return failure();
  double eps = getEps().convertToDouble();
  if (!(eps > 0.0) || !std::isfinite(eps))
    return emitOpError() << "eps must be a finite number > 0, got " << eps;
  return success();
}

LogicalResult Conv1dOp::verify() {
  if (failed(checkOneElementType(*this)))
    return failure();
  auto x = getX().getType(), w = getWeight().getType();
  if (x.getRank() != 3 || w.getRank() != 3)
    return emitOpError() << "x must be [B, L, in] and weight [out, in, W], got "
                         << x << " and " << w;
  int64_t padding = static_cast<int64_t>(getPadding());
  if (padding < 0)
    return emitOpError() << "padding must be >= 0, got " << padding;
  Dim in{"in", x.getDimSize(2)}, out{"out", w.getDimSize(0)},
      width{"W", w.getDimSize(2)};
  if (failed(checkShape(*this, "weight", w, {out, in, width})))
    return failure();
  int64_t length = x.getDimSize(1);
  int64_t outLength =
      ShapedType::isDynamic(length) || ShapedType::isDynamic(width.size)
          ? ShapedType::kDynamic
          : length + 2 * padding - width.size + 1;
  if (!ShapedType::isDynamic(outLength) && outLength < 1)
    return emitOpError() << "the output would be empty: L + 2·padding − W + 1 "
                            "= "
                         << outLength;
  return checkShape(*this, "result", getY().getType(),
                    {{"B", x.getDimSize(0)},
                     {"L + 2·padding − W + 1", outLength},
                     out});
}

LogicalResult BatchNormOp::verify() {
  if (failed(checkOneElementType(*this)))
    return failure();
  auto x = getX().getType();
  if (x.getRank() < 2)
    return emitOpError() << "x must have rank >= 2, got " << x;
  Dim c{"C", x.getDimSize(x.getRank() - 1)};
  for (auto [name, v] : {std::pair<StringRef, Value>{"mean", getMean()},
                         {"variance", getVariance()},
                         {"weight", getWeight()},
                         {"bias", getBias()}})
    if (failed(checkShape(*this, name, v.getType(), {c})))
      return failure();
  double eps = getEps().convertToDouble();
  if (!(eps > 0.0) || !std::isfinite(eps))
    return emitOpError() << "eps must be a finite number > 0, got " << eps;
  return success();
}

LogicalResult EmbeddingOp::verify() {
  auto ids = getIds().getType(), table = getTable().getType();
  if (ids.getRank() != 2 || table.getRank() != 2)
    return emitOpError() << "ids must be [B, L] and the table [V, D], got "
                         << ids << " and " << table;
  if (getY().getType().getElementType() != table.getElementType())
    return emitOpError() << "result must have the table's element type, "
                         << table.getElementType();
  return checkShape(*this, "result", getY().getType(),
                    {{"B", ids.getDimSize(0)},
                     {"L", ids.getDimSize(1)},
                     {"D", table.getDimSize(1)}});
}

LogicalResult SwiGLUOp::verify() {
  if (failed(checkOneElementType(*this)))
    return failure();
  auto x = getX().getType();
  if (x.getRank() < 2)
    return emitOpError() << "x must have rank >= 2, got " << x;
  Dim d{"D", x.getDimSize(x.getRank() - 1)},
      f{"F", getGate().getType().getDimSize(0)};
  for (auto [name, value, dims] :
       std::initializer_list<std::tuple<StringRef, Value, SmallVector<Dim>>>{
           {"gate", getGate(), {f, d}},
           {"up", getUp(), {f, d}},
           {"down", getDown(), {d, f}}})
    if (failed(checkShape(*this, name, value.getType(), dims)))
      return failure();
  return success();
}

LogicalResult MeanPoolOp::verify() {
  if (failed(checkOneElementType(*this)))
    return failure();
  auto x = getX().getType();
  if (x.getRank() != 3)
    return emitOpError() << "x must be [B, L, D], got " << x;
  return checkShape(*this, "result", getY().getType(),
                    {{"B", x.getDimSize(0)}, {"D", x.getDimSize(2)}});
}

LogicalResult ChunkNewtonSchulzOp::verify() {
  Operation *op = getOperation();
  auto kType = getK().getType();
  FailureOr<UpdateDims> d = checkKeysAndValues(op, kType, getV().getType());
  if (failed(d))
    return failure();
  if (getBeta() && failed(checkBeta(op, getBeta(), *d)))
    return failure();
  if (Value cu = getCuSeqlens()) {
    auto cuType = cast<RankedTensorType>(cu.getType());
    if (cuType.getRank() != 1)
      return emitOpError() << "cu_seqlens must be a rank-1 tensor of N + 1 "
                              "offsets, got "
                           << cuType;
    if (!ShapedType::isDynamic(d->b.size) && d->b.size != 1)
      return emitOpError() << "cu_seqlens packs all sequences into B = 1, got "
                              "B = "
                           << d->b.size;
  }
  if (failed(checkTauInOut(op, getTauIn().convertToDouble(),
                           getTauOut().convertToDouble())))
    return failure();
  // Signed: I64Attr reads back unsigned. The bound keeps the C×C scratch
  // of the lowerings small (1024² accumulators).
  int64_t chunk = static_cast<int64_t>(getChunkSize());
  if (chunk < 1 || chunk > 1024)
    return emitOpError() << "chunk_size must lie in [1, 1024], got " << chunk;
  auto keysType = getKeys().getType();
  if (keysType.getElementType() != kType.getElementType())
    return emitOpError() << "result must have the element type of k, "
                         << kType.getElementType() << ", got "
                         << keysType.getElementType();
  return checkShape(op, "result (effective keys)", keysType,
                    {d->b, d->t, d->hv, d->kd});
}

LogicalResult NewtonSchulzOp::verify() {
  auto type = getInput().getType();
  if (type.getRank() < 2)
    return emitOpError() << "input must have rank >= 2 (a batch of matrices), "
                            "got "
                         << type;
  return success();
}
