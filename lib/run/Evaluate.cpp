//===- Evaluate.cpp - float64 evaluation of an entry function -------------===//

#include "lib/run/Evaluate.h"
#include "lib/run/Inputs.h"

#include "dialect/MuonSSMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::run;

reference::NSConfig run::toReference(NewtonSchulzAttr attr) {
  reference::NSConfig config;
  config.polynomial = attr.getPolynomial() == Polynomial::Quintic
                          ? reference::Polynomial::Quintic
                          : reference::Polynomial::Cubic;
  config.epsMode = attr.getEpsMode() == EpsMode::Add ? reference::EpsMode::Add
                                                     : reference::EpsMode::Max;
  config.eps = attr.getEpsValue();
  config.steps = attr.getSteps();
  return config;
}

reference::ScanConfig run::toReference(ScanOp op) {
  reference::ScanConfig config;
  switch (op.getDecay()) {
  case DecayKind::None:
    config.decay = reference::Decay::None;
    break;
  case DecayKind::Scalar:
    config.decay = reference::Decay::Scalar;
    break;
  case DecayKind::Diagonal:
    config.decay = reference::Decay::Diagonal;
    break;
  case DecayKind::Mamba:
    config.decay = reference::Decay::Mamba;
    break;
  case DecayKind::Longhorn:
    config.decay = reference::Decay::Longhorn;
    break;
  }
  config.input = op.getInput() == InputKind::Update ? reference::Input::Update
                                                    : reference::Input::Error;
  if (op.getDeltaRule())
    config.deltaRule = op.getDeltaRule()->convertToDouble();
  if (op.getMomentum())
    config.momentum = op.getMomentum()->convertToDouble();
  if (std::optional<NewtonSchulzAttr> ns = op.getNewtonSchulz()) {
    config.ns = toReference(*ns);
    config.nsTarget = op.getNsTarget() == NSTarget::Update
                          ? reference::NSTarget::Update
                          : reference::NSTarget::Momentum;
    config.tauPlacement = op.getTauPlacement() == TauPlacement::Inside
                              ? reference::TauPlacement::Inside
                              : reference::TauPlacement::After;
  }
  config.tau = op.getTau().convertToDouble();
  config.scale = op.getScale().convertToDouble();
  return config;
}

namespace {

using reference::shapeString;

/// One SSA value during the walk: its shape and, where known, its values.
struct Slot {
  Shape shape;
  std::optional<reference::Tensor> value;
};

/// Walks the entry's body. With `compute` false only shapes are propagated
/// (values travel only where arguments carry them).
class Walker {
public:
  Walker(func::FuncOp entry, bool compute) : entry(entry), compute(compute) {}

  FailureOr<std::vector<Slot>> run(ArrayRef<ArgumentValue> arguments) {
    Block &body = entry.getBody().front();
    for (auto [arg, value] : llvm::zip(body.getArguments(), arguments))
      slots[arg] = Slot{value.shape, value.value};
    for (Operation &op : body) {
      LogicalResult ok =
          llvm::TypeSwitch<Operation *, LogicalResult>(&op)
              .Case<ScanOp>([&](ScanOp scan) { return visit(scan); })
              .Case<NewtonSchulzOp>(
                  [&](NewtonSchulzOp ns) { return visit(ns); })
              .Case<Rank1GainOp>([&](Rank1GainOp op) { return visit(op); })
              .Case<ChunkNewtonSchulzOp>(
                  [&](ChunkNewtonSchulzOp op) { return visit(op); })
              .Case<SelectiveMixerOp>(
                  [&](SelectiveMixerOp op) { return visit(op); })
              .Case<GatedDeltaNetMixerOp>(
                  [&](GatedDeltaNetMixerOp op) { return visit(op); })
              .Case<LinearOp, RMSNormOp, Conv1dOp, BatchNormOp, MeanPoolOp,
                    EmbeddingOp, SwiGLUOp, arith::AddFOp>(
                  [&](Operation *op) { return visitLayer(op); })
              .Case<func::ReturnOp>([&](func::ReturnOp ret) {
                for (Value v : ret.getOperands())
                  results.push_back(slots[v]);
                return success();
              })
              .Default([&](Operation *other) {
                return other->emitError()
                       << "muonssm-run cannot evaluate '" << other->getName()
                       << "' in float64 (the oracle covers the muonssm ops)";
              });
      if (failed(ok))
        return failure();
    }
    return results;
  }

  /// B·T of the largest scan seen.
  int64_t tokens = 0;

private:
  /// The static sizes of `type` must match the concrete `shape`.
  LogicalResult checkType(Operation *op, Type type, const Shape &shape,
                          StringRef what) {
    auto tensor = cast<RankedTensorType>(type);
    bool ok = tensor.getRank() == static_cast<int64_t>(shape.size());
    for (int64_t i = 0; ok && i < tensor.getRank(); ++i)
      ok = tensor.isDynamicDim(i) || tensor.getDimSize(i) == shape[i];
    if (ok)
      return success();
    return op->emitError() << what << " has type " << type
                           << " but the inputs give it shape "
                           << shapeString(shape);
  }

  LogicalResult visit(ScanOp op) {
    reference::ScanConfig config = toReference(op);
    reference::ScanShapes shapes;
    auto shapeOf = [&](Value v) -> const Shape * {
      return v ? &slots[v].shape : nullptr;
    };
    shapes.q = shapeOf(op.getQ()), shapes.k = shapeOf(op.getK()),
    shapes.v = shapeOf(op.getV()), shapes.g = shapeOf(op.getG()),
    shapes.dt = shapeOf(op.getDt()), shapes.a = shapeOf(op.getA()),
    shapes.beta = shapeOf(op.getBeta());
    shapes.gain = shapeOf(op.getGain());
    shapes.skip = shapeOf(op.getSkip()), shapes.gate = shapeOf(op.getGate());
    shapes.initialState = shapeOf(op.getInitialState());
    shapes.initialMomentum = shapeOf(op.getInitialMomentum());
    std::vector<int64_t> cu;
    if (Value cuValue = op.getCuSeqlens()) {
      const Slot &slot = slots[cuValue];
      if (slot.value) {
        for (double x : slot.value->data())
          cu.push_back(static_cast<int64_t>(x));
        shapes.cuSeqlens = &cu;
      } else if (compute) {
        return op.emitError() << "cu_seqlens has no values to evaluate with";
      }
    }
    std::vector<int64_t> stateIndices;
    if (Value indices = op.getStateIndices()) {
      const Slot &slot = slots[indices];
      if (slot.value) {
        for (double x : slot.value->data())
          stateIndices.push_back(static_cast<int64_t>(x));
      } else if (compute) {
        return op.emitError() << "state_indices has no values to evaluate with";
      } else {
        // Shapes only: any N distinct slots stand for the values.
        for (int64_t i = 0; i < slot.shape[0]; ++i)
          stateIndices.push_back(i);
      }
      shapes.stateIndices = &stateIndices;
    }
    std::string problem = reference::checkScan(config, shapes);
    if (!problem.empty())
      return op.emitError() << "the inputs do not fit this scan: " << problem;

    const Shape &q = *shapes.q, &v = *shapes.v;
    int64_t n = op.getCuSeqlens() ? slots[op.getCuSeqlens()].shape[0] - 1
                                  : q[0];
    if (op.getStateIndices()) // the pool's P slots
      n = slots[op.getInitialState()].shape[0];
    Shape oShape = {v[0], v[1], v[2], v[3]};
    Shape stateShape = {n, v[2], q[3], v[3]};
    tokens = std::max(tokens, q[0] * q[1]);
    if (failed(checkType(op, op.getO().getType(), oShape, "result 'o'")))
      return failure();
    for (Value state : {op.getFinalState(), op.getFinalMomentum()})
      if (state && failed(checkType(op, state.getType(), stateShape,
                                    "a final state result")))
        return failure();

    reference::ScanOutputs out;
    if (compute) {
      reference::ScanInputs in;
      auto valueOf = [&](Value v) -> const reference::Tensor * {
        return v ? &*slots[v].value : nullptr;
      };
      in.q = valueOf(op.getQ()), in.k = valueOf(op.getK()),
      in.v = valueOf(op.getV()), in.g = valueOf(op.getG()),
      in.dt = valueOf(op.getDt()), in.a = valueOf(op.getA()),
      in.beta = valueOf(op.getBeta()), in.cuSeqlens = shapes.cuSeqlens;
      in.gain = valueOf(op.getGain());
      in.skip = valueOf(op.getSkip()), in.gate = valueOf(op.getGate());
      in.initialState = valueOf(op.getInitialState());
      in.initialMomentum = valueOf(op.getInitialMomentum());
      in.stateIndices = shapes.stateIndices;
      out = reference::scan(config, in);
    }
    auto define = [&](Value result, Shape shape, reference::Tensor &value) {
      if (!result)
        return;
      Slot slot{std::move(shape), std::nullopt};
      if (compute)
        slot.value = std::move(value);
      slots[result] = std::move(slot);
    };
    define(op.getO(), oShape, out.o);
    define(op.getFinalState(), stateShape, out.finalState);
    define(op.getFinalMomentum(), stateShape, out.finalMomentum);
    return success();
  }

  LogicalResult visit(Rank1GainOp op) {
    const Shape &k = slots[op.getK()].shape, &v = slots[op.getV()].shape;
    std::string problem;
    if (k.size() != 4 || v.size() != 4 || k[0] != v[0] || k[1] != v[1] ||
        k[2] <= 0 || v[2] % k[2] != 0)
      problem = "k " + shapeString(k) + " and v " + shapeString(v) +
                " do not fit [B, T, H, K] and [B, T, HV, V]";
    Shape perHead = {v[0], v[1], v[2]};
    Shape perChannel = {v[0], v[1], v[2], v[3]};
    for (Value operand : {op.getBeta(), op.getDt()})
      if (operand && problem.empty() && slots[operand].shape != perHead &&
          slots[operand].shape != perChannel)
        problem = "an operand of shape " + shapeString(slots[operand].shape) +
                  " fits neither [B, T, HV] nor [B, T, HV, V]";
    if (!problem.empty())
      return op.emitError() << "the inputs do not fit this op: " << problem;
    if (failed(checkType(op, op.getGain().getType(), perHead, "the result")))
      return failure();
    Slot slot{perHead, std::nullopt};
    if (compute) {
      reference::Rank1GainConfig config{toReference(op.getNewtonSchulz()),
                                        op.getTauIn().convertToDouble(),
                                        op.getTauOut().convertToDouble()};
      slot.value = reference::rank1GainTensor(
          config, *slots[op.getK()].value, *slots[op.getV()].value,
          op.getBeta() ? &*slots[op.getBeta()].value : nullptr,
          op.getDt() ? &*slots[op.getDt()].value : nullptr);
    }
    slots[op.getGain()] = std::move(slot);
    return success();
  }

  LogicalResult visit(ChunkNewtonSchulzOp op) {
    const Shape &k = slots[op.getK()].shape, &v = slots[op.getV()].shape;
    std::string problem;
    if (k.size() != 4 || v.size() != 4 || k[0] != v[0] || k[1] != v[1] ||
        k[2] <= 0 || v[2] % k[2] != 0)
      problem = "k " + shapeString(k) + " and v " + shapeString(v) +
                " do not fit [B, T, H, K] and [B, T, HV, V]";
    Shape perHead = {v[0], v[1], v[2]};
    Shape perChannel = {v[0], v[1], v[2], v[3]};
    if (Value beta = op.getBeta(); beta && problem.empty() &&
                                   slots[beta].shape != perHead &&
                                   slots[beta].shape != perChannel)
      problem = "beta of shape " + shapeString(slots[beta].shape) +
                " fits neither [B, T, HV] nor [B, T, HV, V]";
    std::vector<int64_t> cu;
    if (Value cuValue = op.getCuSeqlens(); cuValue && problem.empty()) {
      const Slot &slot = slots[cuValue];
      if (slot.value)
        for (double x : slot.value->data())
          cu.push_back(static_cast<int64_t>(x));
      else if (compute)
        return op.emitError() << "cu_seqlens has no values to evaluate with";
      for (size_t i = 0; i < cu.size(); ++i)
        if (cu[i] < 0 || cu[i] > v[1] || (i > 0 && cu[i] < cu[i - 1]))
          problem = "cu_seqlens must rise from 0 to at most T = " +
                    std::to_string(v[1]);
      if (v[0] != 1)
        problem = "cu_seqlens packs all sequences into B = 1, got B = " +
                  std::to_string(v[0]);
    }
    if (!problem.empty())
      return op.emitError() << "the inputs do not fit this op: " << problem;
    Shape keysShape = {v[0], v[1], v[2], k.size() == 4 ? k[3] : 0};
    if (failed(checkType(op, op.getKeys().getType(), keysShape, "the result")))
      return failure();
    Slot slot{keysShape, std::nullopt};
    if (compute) {
      reference::ChunkNSConfig config{toReference(op.getNewtonSchulz()),
                                      op.getTauIn().convertToDouble(),
                                      op.getTauOut().convertToDouble(),
                                      static_cast<int64_t>(op.getChunkSize())};
      reference::Tensor keys = reference::chunkNewtonSchulzKeys(
          config, *slots[op.getK()].value, *slots[op.getV()].value,
          op.getBeta() ? &*slots[op.getBeta()].value : nullptr,
          op.getCuSeqlens() ? &cu : nullptr);
      // The op's result is rounded to its element type: the scan reads the
      // keys as the IR stores them.
      roundTo(op.getKeys().getType(), keys);
      slot.value = std::move(keys);
    }
    slots[op.getKeys()] = std::move(slot);
    return success();
  }

  /// The layer oracle (reference::selectiveMixer), one batch of rows.
  LogicalResult visit(SelectiveMixerOp op) {
    const Shape &x = slots[op.getX()].shape;
    auto shapeOf = [&](Value v) { return slots[v].shape; };
    // Concrete sizes: the verifier has matched the static ones.
    int64_t inner = shapeOf(op.getConvWeight())[0];
    int64_t rank = shapeOf(op.getDtProj())[1];
    int64_t rows = shapeOf(op.getXProj())[0];
    int64_t model = x[2], state = (rows - rank) / 2;
    std::string problem;
    auto expect = [&](Value v, const char *name, Shape shape) {
      if (v && problem.empty() && shapeOf(v) != shape)
        problem = std::string(name) + " has shape " + shapeString(shapeOf(v)) +
                  ", expected " + shapeString(shape);
    };
    expect(op.getInProj(), "in_proj", {2 * inner, model});
    expect(op.getConvBias(), "conv bias", {inner});
    expect(op.getXProj(), "x_proj", {rank + 2 * state, inner});
    expect(op.getDtBias(), "dt_proj bias", {inner});
    expect(op.getALog(), "A_log", {inner, state});
    expect(op.getD(), "D", {inner});
    expect(op.getConvZWeight(), "conv_z weight",
           {inner, shapeOf(op.getConvWeight())[1]});
    expect(op.getConvZBias(), "conv_z bias", {inner});
    expect(op.getOutProj(), "out_proj",
           {model, op.getVision() ? 2 * inner : inner});
    if (!problem.empty())
      return op.emitError() << "the inputs do not fit this mixer: " << problem;
    Shape outShape = {x[0], x[1], model};
    if (failed(checkType(op, op.getOut().getType(), outShape, "the result")))
      return failure();
    tokens = std::max(tokens, x[0] * x[1]);
    Slot slot{outShape, std::nullopt};
    if (compute) {
      reference::SelectiveMixerConfig config;
      config.mamba = op.getBackbone() == SelectiveBackbone::Mamba;
      config.vision = op.getVision();
      if (FloatAttr momentum = op.getMomentumAttr())
        config.gamma = momentum.getValueAsDouble();
      if (std::optional<NewtonSchulzAttr> ns = op.getNewtonSchulz())
        config.ns = toReference(*ns);
      config.tau = op.getTau().convertToDouble();
      auto valueOf = [&](Value v) -> const reference::Tensor * {
        return v ? &*slots[v].value : nullptr;
      };
      reference::SelectiveMixerWeights w;
      w.inProj = valueOf(op.getInProj());
      w.convWeight = valueOf(op.getConvWeight());
      w.convBias = valueOf(op.getConvBias());
      w.convZWeight = valueOf(op.getConvZWeight());
      w.convZBias = valueOf(op.getConvZBias());
      w.xProj = valueOf(op.getXProj());
      w.dtProj = valueOf(op.getDtProj());
      w.dtBias = valueOf(op.getDtBias());
      w.aLog = valueOf(op.getALog());
      w.d = valueOf(op.getD());
      w.outProj = valueOf(op.getOutProj());
      slot.value =
          reference::selectiveMixer(config, *slots[op.getX()].value, w);
      roundTo(op.getOut().getType(), *slot.value);
    }
    slots[op.getOut()] = std::move(slot);
    return success();
  }

  /// The layer oracle (reference::gatedDeltaNetMixer).
  LogicalResult visit(GatedDeltaNetMixerOp op) {
    const Shape &x = slots[op.getX()].shape;
    auto shapeOf = [&](Value v) { return slots[v].shape; };
    int64_t heads = static_cast<int64_t>(op.getHeads());
    int64_t hk = shapeOf(op.getQProj())[0], hv = shapeOf(op.getVProj())[0];
    int64_t width = shapeOf(op.getQConv())[1], model = x[2];
    std::string problem;
    auto expect = [&](Value v, const char *name, Shape shape) {
      if (problem.empty() && shapeOf(v) != shape)
        problem = std::string(name) + " has shape " + shapeString(shapeOf(v)) +
                  ", expected " + shapeString(shape);
    };
    expect(op.getQProj(), "q_proj", {hk, model});
    expect(op.getKProj(), "k_proj", {hk, model});
    expect(op.getVProj(), "v_proj", {hv, model});
    expect(op.getKConv(), "k conv", {hk, width});
    expect(op.getVConv(), "v conv", {hv, width});
    expect(op.getBProj(), "b_proj", {heads, model});
    expect(op.getAProj(), "a_proj", {heads, model});
    expect(op.getALog(), "A_log", {heads});
    expect(op.getDtBias(), "dt_bias", {heads});
    expect(op.getGProj(), "g_proj", {hv, model});
    expect(op.getNormWeight(), "norm weight", {hv / heads});
    expect(op.getOProj(), "o_proj", {model, hv});
    if (!problem.empty())
      return op.emitError() << "the inputs do not fit this mixer: " << problem;
    Shape outShape = {x[0], x[1], model};
    if (failed(checkType(op, op.getOut().getType(), outShape, "the result")))
      return failure();
    tokens = std::max(tokens, x[0] * x[1]);
    Slot slot{outShape, std::nullopt};
    if (compute) {
      reference::GatedDeltaNetMixerConfig config;
      config.form = op.getForm() == DeltaNetForm::Seed
                        ? reference::DeltaNetForm::Seed
                    : op.getForm() == DeltaNetForm::Paper
                        ? reference::DeltaNetForm::Paper
                        : reference::DeltaNetForm::Plain;
      config.heads = heads;
      config.normEps = op.getNormEps().convertToDouble();
      if (FloatAttr momentum = op.getMomentumAttr())
        config.gamma = momentum.getValueAsDouble();
      if (std::optional<NewtonSchulzAttr> ns = op.getNewtonSchulz())
        config.ns = toReference(*ns);
      config.tau = op.getTau().convertToDouble();
      auto valueOf = [&](Value v) { return &*slots[v].value; };
      reference::GatedDeltaNetMixerWeights w{
          valueOf(op.getQProj()),  valueOf(op.getKProj()),
          valueOf(op.getVProj()),  valueOf(op.getQConv()),
          valueOf(op.getKConv()),  valueOf(op.getVConv()),
          valueOf(op.getBProj()),  valueOf(op.getAProj()),
          valueOf(op.getALog()),   valueOf(op.getDtBias()),
          valueOf(op.getGProj()),  valueOf(op.getNormWeight()),
          valueOf(op.getOProj())};
      slot.value =
          reference::gatedDeltaNetMixer(config, *slots[op.getX()].value, w);
      roundTo(op.getOut().getType(), *slot.value);
    }
    slots[op.getOut()] = std::move(slot);
    return success();
  }

  /// Rounds `t` to the element type of `type`, as the IR stores a result
  /// that later ops read (a no-op for f64).
  static void roundTo(Type type, reference::Tensor &t) {
    FailureOr<npy::DType> dtype =
        dtypeOf(cast<RankedTensorType>(type).getElementType());
    if (failed(dtype) || *dtype == npy::DType::F64)
      return;
    npy::Array rounded = npy::Array::zeros(*dtype, t.shape());
    for (size_t i = 0; i < t.size(); ++i) {
      rounded.setFromDouble(i, t.data()[i]);
      t.data()[i] = rounded.getAsDouble(i);
    }
  }

  /// The model layers and residual adds: shapes by their rules, values
  /// from the layer oracles, rounded to the result's element type (the IR
  /// stores every layer's output in it).
  LogicalResult visitLayer(Operation *op) {
    Value result = op->getResult(0);
    auto shapeOf = [&](Value v) -> const Shape & { return slots[v].shape; };
    const Shape &x = shapeOf(op->getOperand(0));
    Shape shape = x;
    std::string problem;
    if (auto linear = dyn_cast<LinearOp>(op)) {
      const Shape &w = shapeOf(linear.getWeight());
      if (x.back() != w[1])
        problem = "x " + shapeString(x) + " does not fit weight " +
                  shapeString(w);
      shape.back() = w[0];
    } else if (auto conv = dyn_cast<Conv1dOp>(op)) {
      const Shape &w = shapeOf(conv.getWeight());
      int64_t p = static_cast<int64_t>(conv.getPadding());
      if (x[2] != w[1] || x[1] + 2 * p - w[2] + 1 < 1)
        problem = "x " + shapeString(x) + " does not fit weight " +
                  shapeString(w) + " with padding " + std::to_string(p);
      shape = {x[0], x[1] + 2 * p - w[2] + 1, w[0]};
    } else if (isa<MeanPoolOp>(op)) {
      shape = {x[0], x[2]};
    } else if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
      const Shape &table = shapeOf(embedding.getTable());
      shape = {x[0], x[1], table[1]};
      if (compute)
        for (size_t i = 0; i < slots[embedding.getIds()].value->size(); ++i) {
          double id = slots[embedding.getIds()].value->data()[i];
          if (id < 0 || id >= static_cast<double>(table[0]))
            return op->emitError()
                   << "token id " << static_cast<int64_t>(id) << " (element "
                   << i << " of ids) lies outside the table's " << table[0]
                   << " rows";
        }
    } else if (auto mlp = dyn_cast<SwiGLUOp>(op)) {
      const Shape &gate = shapeOf(mlp.getGate());
      if (x.back() != gate[1])
        problem = "x " + shapeString(x) + " does not fit gate " +
                  shapeString(gate);
    } else if (isa<arith::AddFOp>(op)) {
      if (shapeOf(op->getOperand(1)) != x)
        problem = "the summands have shapes " + shapeString(x) + " and " +
                  shapeString(shapeOf(op->getOperand(1)));
    } else {
      for (Value v : op->getOperands().drop_front())
        if (problem.empty() && shapeOf(v) != Shape{x.back()})
          problem = "a per-channel operand has shape " +
                    shapeString(shapeOf(v)) + ", expected [" +
                    std::to_string(x.back()) + "]";
    }
    if (!problem.empty())
      return op->emitError() << "the inputs do not fit this op: " << problem;
    if (!isa<RankedTensorType>(result.getType()))
      return op->emitError() << "muonssm-run evaluates tensor adds only";
    if (failed(checkType(op, result.getType(), shape, "the result")))
      return failure();
    Slot slot{shape, std::nullopt};
    if (compute) {
      auto v = [&](Value value) -> const reference::Tensor & {
        return *slots[value].value;
      };
      reference::Tensor y;
      if (auto linear = dyn_cast<LinearOp>(op))
        y = reference::linear(v(linear.getX()), v(linear.getWeight()),
                              linear.getBias() ? &v(linear.getBias()) : nullptr);
      else if (auto norm = dyn_cast<RMSNormOp>(op))
        y = reference::rmsNorm(v(norm.getX()), v(norm.getWeight()),
                               norm.getEps().convertToDouble());
      else if (auto conv = dyn_cast<Conv1dOp>(op))
        y = reference::conv1d(v(conv.getX()), v(conv.getWeight()),
                              static_cast<int64_t>(conv.getPadding()));
      else if (auto bn = dyn_cast<BatchNormOp>(op))
        y = reference::batchNorm(v(bn.getX()), v(bn.getMean()),
                                 v(bn.getVariance()), v(bn.getWeight()),
                                 v(bn.getBias()), bn.getEps().convertToDouble(),
                                 bn.getRelu());
      else if (auto pool = dyn_cast<MeanPoolOp>(op))
        y = reference::meanPool(v(pool.getX()));
      else if (auto embedding = dyn_cast<EmbeddingOp>(op))
        y = reference::embedding(v(embedding.getIds()),
                                 v(embedding.getTable()));
      else if (auto mlp = dyn_cast<SwiGLUOp>(op))
        y = reference::swiglu(v(mlp.getX()), v(mlp.getGate()), v(mlp.getUp()),
                              v(mlp.getDown()));
      else {
        y = v(op->getOperand(0));
        const reference::Tensor &other = v(op->getOperand(1));
        for (size_t i = 0; i < y.size(); ++i)
          y.data()[i] += other.data()[i];
      }
      roundTo(result.getType(), y);
      slot.value = std::move(y);
    }
    slots[result] = std::move(slot);
    return success();
  }

  LogicalResult visit(NewtonSchulzOp op) {
    const Slot &input = slots[op.getInput()];
    if (failed(checkType(op, op.getResult().getType(), input.shape,
                         "the result")))
      return failure();
    Slot slot{input.shape, std::nullopt};
    if (compute)
      slot.value =
          reference::newtonSchulzBatched(*input.value, toReference(op.getConfig()));
    slots[op.getResult()] = std::move(slot);
    return success();
  }

  func::FuncOp entry;
  bool compute;
  llvm::DenseMap<Value, Slot> slots;
  std::vector<Slot> results;
};

} // namespace

FailureOr<std::vector<Shape>>
run::inferResultShapes(func::FuncOp entry, ArrayRef<ArgumentValue> arguments) {
  Walker walker(entry, /*compute=*/false);
  FailureOr<std::vector<Slot>> slots = walker.run(arguments);
  if (failed(slots))
    return failure();
  std::vector<Shape> shapes;
  for (Slot &slot : *slots)
    shapes.push_back(slot.shape);
  return shapes;
}

FailureOr<std::vector<reference::Tensor>>
run::evaluate(func::FuncOp entry, ArrayRef<ArgumentValue> arguments) {
  Walker walker(entry, /*compute=*/true);
  FailureOr<std::vector<Slot>> slots = walker.run(arguments);
  if (failed(slots))
    return failure();
  std::vector<reference::Tensor> values;
  for (Slot &slot : *slots)
    values.push_back(std::move(*slot.value));
  return values;
}

int64_t run::countTokens(func::FuncOp entry,
                         ArrayRef<ArgumentValue> arguments) {
  Walker walker(entry, /*compute=*/false);
  if (failed(walker.run(arguments)))
    return 0;
  return walker.tokens;
}
