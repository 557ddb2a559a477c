//===- Inputs.cpp - the entry function's arguments for muonssm-run --------===//

#include "lib/run/Inputs.h"

#include "lib/data/Random.h"
#include "lib/npy/Safetensors.h"

#include "dialect/MuonSSMOps.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::run;

Role run::roleOf(BlockArgument argument) {
  for (OpOperand &use : argument.getUses()) {
    if (auto gain = dyn_cast<Rank1GainOp>(use.getOwner())) {
      if (use.get() == gain.getBeta() || use.get() == gain.getDt())
        return Role::Sigmoid;
      continue; // k and v: their scan decides
    }
    if (auto chunk = dyn_cast<ChunkNewtonSchulzOp>(use.getOwner())) {
      if (use.get() == chunk.getCuSeqlens())
        return Role::Offsets;
      // k: drawn as the keys of the scan that reads the effective keys.
      if (use.get() == chunk.getK())
        for (Operation *user : chunk.getKeys().getUsers())
          if (auto scan = dyn_cast<ScanOp>(user))
            return scan.getDecay() == DecayKind::Mamba ||
                           scan.getDecay() == DecayKind::Longhorn
                       ? Role::Normal
                       : Role::UnitVector;
      continue; // v and β: their scan decides
    }
    if (auto mixer = dyn_cast<SelectiveMixerOp>(use.getOwner())) {
      Value v = use.get();
      // Projection and conv weights keep activations at unit scale; x,
      // biases, A_log and D are standard normal.
      if (v == mixer.getInProj() || v == mixer.getConvWeight() ||
          v == mixer.getConvZWeight() || v == mixer.getXProj() ||
          v == mixer.getDtProj() || v == mixer.getOutProj())
        return Role::Weight;
      return Role::Normal;
    }
    if (auto mixer = dyn_cast<GatedDeltaNetMixerOp>(use.getOwner())) {
      Value v = use.get();
      // A_log, dt_bias, the norm weight and x are standard normal.
      if (v == mixer.getALog() || v == mixer.getDtBias() ||
          v == mixer.getNormWeight() || v == mixer.getX())
        return Role::Normal;
      return Role::Weight;
    }
    Operation *owner = use.getOwner();
    if (isa<LinearOp, Conv1dOp>(owner) && use.getOperandNumber() == 1)
      return Role::Weight;
    if (isa<SwiGLUOp>(owner) && use.getOperandNumber() > 0)
      return Role::Weight;
    if (auto embedding = dyn_cast<EmbeddingOp>(owner))
      return use.get() == embedding.getIds() ? Role::TokenIds : Role::Normal;
    if (auto bn = dyn_cast<BatchNormOp>(owner))
      if (use.get() == bn.getVariance())
        return Role::Softplus; // a variance is positive
    auto scan = dyn_cast<ScanOp>(use.getOwner());
    if (!scan)
      continue;
    Value v = use.get();
    bool selective = scan.getDecay() == DecayKind::Mamba ||
                     scan.getDecay() == DecayKind::Longhorn;
    if (v == scan.getQ() || v == scan.getK())
      // Mamba's B, C and LongHorn's K, Q come from a linear projection; the
      // delta-rule family normalises its keys (unnormalised keys diverge).
      return selective ? Role::Normal : Role::UnitVector;
    if (v == scan.getG())
      return Role::LogDecay;
    if (v == scan.getDt())
      return scan.getDecay() == DecayKind::Mamba ? Role::Softplus
                                                 : Role::Sigmoid;
    if (v == scan.getA())
      return Role::NegativeExp;
    if (v == scan.getBeta())
      // Mamba's per-channel β is its Δ, as its decay's dt is.
      return scan.getDecay() == DecayKind::Mamba ? Role::Softplus
                                                 : Role::Sigmoid;
    if (v == scan.getCuSeqlens())
      return Role::Offsets;
    if (v == scan.getStateIndices())
      return Role::Slots;
    if (v == scan.getGain())
      return Role::Sigmoid;
  }
  return Role::Normal;
}

static std::string nameAttr(DictionaryAttr attrs, StringRef fallback) {
  if (attrs)
    if (auto name = attrs.getAs<StringAttr>("muonssm.name"))
      return name.str();
  return fallback.str();
}

std::string run::argumentName(func::FuncOp entry, unsigned index) {
  return nameAttr(entry.getArgAttrDict(index), "arg" + std::to_string(index));
}

std::string run::resultName(func::FuncOp entry, unsigned index) {
  return nameAttr(entry.getResultAttrDict(index),
                  "result" + std::to_string(index));
}

FailureOr<npy::DType> run::dtypeOf(Type type) {
  if (type.isF16())
    return npy::DType::F16;
  if (type.isBF16())
    return npy::DType::BF16;
  if (type.isF32())
    return npy::DType::F32;
  if (type.isF64())
    return npy::DType::F64;
  if (type.isInteger(32))
    return npy::DType::I32;
  if (type.isInteger(64))
    return npy::DType::I64;
  return failure();
}

reference::Tensor run::toTensor(const npy::Array &array) {
  reference::Tensor t(array.shape);
  for (size_t i = 0; i < array.numElements(); ++i)
    t.data()[i] = array.getAsDouble(i);
  return t;
}

std::vector<ArgumentValue> run::toArgumentValues(const std::vector<Input> &inputs,
                                                 bool withValues) {
  std::vector<ArgumentValue> values;
  for (const Input &input : inputs) {
    ArgumentValue value{input.data.shape, std::nullopt};
    bool integer = input.data.dtype == npy::DType::I32 ||
                   input.data.dtype == npy::DType::I64;
    if (withValues || integer)
      value.value = toTensor(input.data);
    values.push_back(std::move(value));
  }
  return values;
}

namespace {

/// Fills unknown (dynamic, not from a file) sizes of scan operands from the
/// sizes the other operands fix: B, T, H, K, HV, V, N are shared names.
void resolveSizes(func::FuncOp entry, std::vector<Shape> &shapes) {
  Block &body = entry.getBody().front();
  auto argIndex = [&](Value v) -> int {
    auto arg = dyn_cast_or_null<BlockArgument>(v);
    return arg && arg.getOwner() == &body ? arg.getArgNumber() : -1;
  };
  for (int round = 0; round < 3; ++round) {
    entry.walk([&](ScanOp op) {
      // Each operand's dimensions, by name (state pools have P slots).
      const char *rows = op.getStateIndices() ? "P" : "N";
      std::vector<std::pair<Value, std::vector<const char *>>> layout = {
          {op.getQ(), {"B", "T", "H", "K"}},
          {op.getK(), {"B", "T", "H", "K"}},
          {op.getV(), {"B", "T", "HV", "V"}},
          {op.getDt(), {"B", "T", "HV", "V"}},
          {op.getA(), {"HV", "K", "V"}},
          {op.getSkip(), {"HV", "V"}},
          {op.getGate(), {"B", "T", "HV", "V"}},
          {op.getInitialState(), {rows, "HV", "K", "V"}},
          {op.getInitialMomentum(), {rows, "HV", "K", "V"}}};
      if (op.getStateIndices())
        layout.push_back({op.getStateIndices(), {"N"}});
      if (op.getG())
        layout.push_back({op.getG(), op.getDecay() == DecayKind::Scalar
                                         ? std::vector<const char *>{"B", "T",
                                                                     "HV"}
                                         : std::vector<const char *>{
                                               "B", "T", "HV", "K"}});
      if (op.getBeta())
        layout.push_back(
            {op.getBeta(), op.hasChannelBeta()
                               ? std::vector<const char *>{"B", "T", "HV", "V"}
                               : std::vector<const char *>{"B", "T", "HV"}});
      std::map<std::string, int64_t> known;
      for (auto &[value, names] : layout) {
        int i = argIndex(value);
        if (!value || i < 0 || shapes[i].size() != names.size())
          continue;
        for (size_t d = 0; d < names.size(); ++d)
          if (shapes[i][d] >= 0)
            known.emplace(names[d], shapes[i][d]);
      }
      if (!op.getCuSeqlens() && known.count("B"))
        known.emplace("N", known["B"]);
      for (auto &[value, names] : layout) {
        int i = argIndex(value);
        if (!value || i < 0 || shapes[i].size() != names.size())
          continue;
        for (size_t d = 0; d < names.size(); ++d)
          if (shapes[i][d] < 0 && known.count(names[d]))
            shapes[i][d] = known[names[d]];
      }
    });
  }
}

} // namespace

FailureOr<std::vector<Input>> run::prepareInputs(func::FuncOp entry,
                                                 StringRef inputsDir,
                                                 uint64_t seed) {
  unsigned count = entry.getNumArguments();
  std::vector<Input> inputs(count);
  std::vector<Shape> shapes(count);
  std::vector<RankedTensorType> types(count);

  // Checkpoints: --inputs names a .safetensors file, or a directory whose
  // *.safetensors files (a sharded checkpoint's too) are read after its
  // NAME.npy files.
  std::vector<npy::SafetensorsFile> checkpoints;
  std::vector<std::string> notInCheckpoint;
  bool inputsIsDirectory = llvm::sys::fs::is_directory(inputsDir);
  if (!inputsDir.empty()) {
    std::vector<std::string> paths;
    if (inputsDir.ends_with(".safetensors")) {
      paths.push_back(inputsDir.str());
    } else if (inputsIsDirectory) {
      std::error_code ec;
      for (llvm::sys::fs::directory_iterator it(inputsDir, ec), end;
           it != end && !ec; it.increment(ec))
        if (StringRef(it->path()).ends_with(".safetensors"))
          paths.push_back(it->path());
      llvm::sort(paths);
    } else {
      return emitError(entry.getLoc())
             << "--inputs '" << inputsDir
             << "' is neither a directory nor a .safetensors file";
    }
    for (const std::string &path : paths) {
      std::string error;
      if (!checkpoints.emplace_back().open(path, error))
        return emitError(entry.getLoc()) << error;
    }
  }

  for (unsigned i = 0; i < count; ++i) {
    BlockArgument arg = entry.getArgument(i);
    Input &input = inputs[i];
    input.name = argumentName(entry, i);
    input.role = roleOf(arg);
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    FailureOr<npy::DType> dtype = type ? dtypeOf(type.getElementType())
                                       : FailureOr<npy::DType>(failure());
    if (failed(dtype))
      return emitError(entry.getLoc())
             << "argument '" << input.name << "' has type " << arg.getType()
             << "; muonssm-run takes ranked tensors of f16, bf16, f32, f64, "
                "i32 or i64";
    types[i] = type;
    shapes[i] = Shape(type.getShape().begin(), type.getShape().end());

    if (inputsDir.empty())
      continue;
    llvm::SmallString<256> path(inputsDir);
    llvm::sys::path::append(path, input.name + ".npy");
    std::string error;
    if (inputsIsDirectory && llvm::sys::fs::exists(path)) {
      if (!npy::readNpy(path.str().str(), input.data, error,
                        /*expectBf16=*/*dtype == npy::DType::BF16))
        return emitError(entry.getLoc())
               << "argument '" << input.name << "': " << error;
    } else {
      const npy::SafetensorsFile *file = nullptr;
      for (const npy::SafetensorsFile &checkpoint : checkpoints)
        if (!file && checkpoint.find(input.name))
          file = &checkpoint;
      if (!file) {
        // A checkpoint must hold every weight: a name it spells otherwise
        // (another library's convention) would silently run on random
        // weights. The data inputs may still be drawn.
        if (!checkpoints.empty() && input.role != Role::TokenIds &&
            input.name != "x")
          notInCheckpoint.push_back(input.name);
        continue;
      }
      if (!file->read(input.name, input.data, error))
        return emitError(entry.getLoc())
               << "argument '" << input.name << "': " << error;
      path = file->getPath();
      // A checkpoint stored narrower than the model is widened exactly
      // (bf16 weights into an f32 model); narrowing would round.
      auto isFloat = [](npy::DType t) {
        return t != npy::DType::I32 && t != npy::DType::I64;
      };
      if (isFloat(input.data.dtype) && isFloat(*dtype) &&
          npy::dtypeSize(input.data.dtype) < npy::dtypeSize(*dtype)) {
        npy::Array wide = npy::Array::zeros(*dtype, input.data.shape);
        for (size_t e = 0; e < wide.numElements(); ++e)
          wide.setFromDouble(e, input.data.getAsDouble(e));
        input.data = std::move(wide);
      }
      // PyTorch's depthwise Conv1d weights are [C, 1, W] where the ops take
      // [C, W]: the same elements in the same order, so dimensions of size
      // 1 may differ.
      auto squeezed = [](const Shape &shape) {
        Shape out;
        for (int64_t d : shape)
          if (d != 1)
            out.push_back(d);
        return out;
      };
      if (!llvm::is_contained(shapes[i], ShapedType::kDynamic) &&
          squeezed(input.data.shape) == squeezed(shapes[i]))
        input.data.shape = shapes[i];
    }
    if (input.data.dtype != *dtype)
      return emitError(entry.getLoc())
             << "argument '" << input.name << "' is " << type << " but "
             << path << " holds " << npy::dtypeName(input.data.dtype)
             << (StringRef(path).ends_with(".npy")
                     ? " (bf16 is stored as '<u2' bits)"
                     : "");
    bool fits = input.data.shape.size() == shapes[i].size();
    for (size_t d = 0; fits && d < shapes[i].size(); ++d)
      fits = shapes[i][d] < 0 || shapes[i][d] == input.data.shape[d];
    if (!fits) {
      std::string got;
      llvm::raw_string_ostream os(got);
      llvm::interleave(input.data.shape, os, "x");
      return emitError(entry.getLoc())
             << "argument '" << input.name << "' is " << type << " but "
             << path << " has shape " << got;
    }
    shapes[i] = input.data.shape;
    input.fromFile = true;
  }

  if (!notInCheckpoint.empty()) {
    InFlightDiagnostic diag = emitError(entry.getLoc());
    diag << notInCheckpoint.size()
         << " weight(s) are neither in the checkpoint nor NAME.npy files of '"
         << inputsDir << "': ";
    for (size_t i = 0; i < std::min<size_t>(notInCheckpoint.size(), 4); ++i)
      diag << (i ? ", " : "") << "'" << notInCheckpoint[i] << "'";
    if (notInCheckpoint.size() > 4)
      diag << ", …";
    diag << " (the checkpoint's tensors are named as the arguments; "
            "docs/cards.md)";
    return diag;
  }

  resolveSizes(entry, shapes);

  // What drawing the inputs would allocate, against the machine's memory:
  // a clear error rather than an allocation failure mid-way (a card may ask
  // for a model far larger than the machine).
  double bytes = 0.0;
  for (unsigned i = 0; i < count; ++i) {
    double elements = 1.0;
    for (int64_t d : shapes[i])
      elements *= static_cast<double>(std::max<int64_t>(d, 0));
    bytes += elements * static_cast<double>(npy::dtypeSize(
                            *dtypeOf(types[i].getElementType())));
  }
  double memory = static_cast<double>(::muonssm::data::hostMemoryBytes());
  if (memory > 0.0 && bytes > memory)
    return emitError(entry.getLoc())
           << "the inputs need "
           << llvm::formatv("{0:F1}", bytes / (1 << 30)).str()
           << " GiB, more than this machine's "
           << llvm::formatv("{0:F1}", memory / (1 << 30)).str()
           << " GiB of memory";

  std::vector<unsigned> plain; // drawn by randomArray, below
  for (unsigned i = 0; i < count; ++i) {
    Input &input = inputs[i];
    if (input.fromFile)
      continue;
    for (int64_t d : shapes[i])
      if (d < 0)
        return emitError(entry.getLoc())
               << "argument '" << input.name << "' (" << types[i]
               << ") has a dynamic size that no other input fixes: give "
               << input.name << ".npy with --inputs DIR, or a static type";
    if (input.role != Role::Offsets && input.role != Role::Slots &&
        input.role != Role::TokenIds) {
      plain.push_back(i);
      continue;
    }
    // One generator per argument, so adding an argument leaves the others'
    // data unchanged.
    ::muonssm::data::Normal normal = ::muonssm::data::generatorFor(seed, i);
    npy::DType dtype = *dtypeOf(types[i].getElementType());
    if (input.role == Role::Offsets) {
      // Offsets into the T of the scan the argument feeds.
      int64_t total = -1;
      for (OpOperand &use : entry.getArgument(i).getUses())
        if (auto scan = dyn_cast<ScanOp>(use.getOwner()))
          if (auto arg = dyn_cast<BlockArgument>(scan.getV()))
            total = arg.getOwner() == &entry.getBody().front()
                        ? shapes[arg.getArgNumber()][1]
                        : -1;
      if (total < 0 || shapes[i].size() != 1 || shapes[i][0] < 2)
        return emitError(entry.getLoc())
               << "cannot draw cu_seqlens '" << input.name
               << "' at random: give " << input.name << ".npy";
      input.data = ::muonssm::data::randomOffsets(dtype, shapes[i][0], total, normal);
      continue;
    }
    if (input.role == Role::Slots) {
      // Distinct slots of the pool (initial_state) of the scan it feeds.
      int64_t pool = -1;
      for (OpOperand &use : entry.getArgument(i).getUses())
        if (auto scan = dyn_cast<ScanOp>(use.getOwner()))
          if (auto arg = dyn_cast_or_null<BlockArgument>(scan.getInitialState()))
            pool = arg.getOwner() == &entry.getBody().front()
                       ? shapes[arg.getArgNumber()][0]
                       : -1;
      if (pool < 0 || shapes[i].size() != 1 || shapes[i][0] > pool)
        return emitError(entry.getLoc())
               << "cannot draw state_indices '" << input.name
               << "' at random (it needs a pool of at least as many slots as "
                  "sequences): give "
               << input.name << ".npy";
      input.data =
          ::muonssm::data::randomSlots(dtype, shapes[i][0], pool, normal);
      continue;
    }
    if (input.role == Role::TokenIds) {
      // Uniform ids below the vocabulary size (the embedding table's rows).
      int64_t vocab = -1;
      for (OpOperand &use : entry.getArgument(i).getUses())
        if (auto embedding = dyn_cast<EmbeddingOp>(use.getOwner()))
          if (auto arg = dyn_cast<BlockArgument>(embedding.getTable()))
            vocab = arg.getOwner() == &entry.getBody().front()
                        ? shapes[arg.getArgNumber()][0]
                        : -1;
      if (vocab < 1)
        return emitError(entry.getLoc())
               << "cannot draw token ids '" << input.name
               << "' at random (no embedding table of known size): give "
               << input.name << ".npy";
      input.data = npy::Array::zeros(dtype, shapes[i]);
      for (size_t e = 0; e < input.data.numElements(); ++e)
        input.data.setFromDouble(
            e, static_cast<double>(normal.below(static_cast<uint64_t>(vocab))));
    }
  }
  // The plain draws in parallel: each argument has its own generator, so
  // the data do not depend on the order (a language model's 10^8 weights
  // took most of a run's input time on one core).
  llvm::parallelFor(0, plain.size(), [&](size_t p) {
    unsigned i = plain[p];
    ::muonssm::data::Normal normal = ::muonssm::data::generatorFor(seed, i);
    inputs[i].data = ::muonssm::data::randomArray(
        inputs[i].role, *dtypeOf(types[i].getElementType()), shapes[i],
        normal);
  });
  return inputs;
}
