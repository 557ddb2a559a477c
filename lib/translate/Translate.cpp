//===- Translate.cpp - muonssm-translate's translations -------------------===//

#include "lib/translate/Translate.h"

#include "dialect/MuonSSMOps.h"
#include "lib/bundle/Plan.h"
#include "lib/run/Evaluate.h"
#include "lib/run/Inputs.h"
#include "lib/run/Runner.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Parser/Parser.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

using namespace mlir;
using namespace mlir::muonssm;
using namespace mlir::muonssm::translate;
using json = nlohmann::json;
namespace bundle = ::muonssm::bundle;

FailureOr<std::string> translate::extractPTX(ModuleOp module,
                                             std::string *chip) {
  auto binaries = llvm::to_vector(module.getOps<gpu::BinaryOp>());
  if (binaries.size() != 1)
    return emitError(module.getLoc())
           << "expected the output of muonssm-opt --muonssm-to-gpu: one "
              "gpu.binary, found "
           << binaries.size();
  ArrayAttr objects = binaries.front().getObjects();
  if (objects.empty())
    return binaries.front().emitError() << "the gpu.binary holds no object";
  auto object = cast<gpu::ObjectAttr>(objects[0]);
  if (object.getFormat() != gpu::CompilationTarget::Assembly)
    return binaries.front().emitError()
           << "the gpu.binary holds no PTX (compile with format=isa, as "
              "muonssm-to-gpu does)";
  if (chip)
    if (auto target = dyn_cast<NVVM::NVVMTargetAttr>(object.getTarget()))
      *chip = target.getChip().str();
  return object.getObject().getValue().str();
}

FailureOr<std::string> translate::assemble(Location loc, StringRef ptx,
                                           StringRef chip) {
  SmallVector<std::string> places;
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    places.push_back(*found);
  for (const char *var : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *root = std::getenv(var))
      places.push_back((llvm::Twine(root) + "/bin/ptxas").str());
  places.push_back("/usr/local/cuda/bin/ptxas");
  std::string ptxas;
  for (const std::string &p : places)
    if (llvm::sys::fs::can_execute(p)) {
      ptxas = p;
      break;
    }
  if (ptxas.empty())
    return emitError(loc) << "cannot find ptxas (looked in $PATH, "
                             "$CUDA_HOME/bin, $CUDA_PATH/bin, "
                             "/usr/local/cuda/bin)";
  SmallString<128> ptxPath, cubinPath, logPath;
  if (llvm::sys::fs::createTemporaryFile("muonssm", "ptx", ptxPath) ||
      llvm::sys::fs::createTemporaryFile("muonssm", "cubin", cubinPath) ||
      llvm::sys::fs::createTemporaryFile("muonssm", "log", logPath))
    return emitError(loc) << "cannot create temporary files for ptxas";
  llvm::scope_exit cleanup([&] {
    llvm::sys::fs::remove(ptxPath);
    llvm::sys::fs::remove(cubinPath);
    llvm::sys::fs::remove(logPath);
  });
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(ptxPath, ec);
    if (ec)
      return emitError(loc) << "cannot write " << ptxPath << ": "
                            << ec.message();
    os << ptx;
  }
  std::string arch = ("-arch=" + chip).str();
  SmallVector<StringRef> args{ptxas, arch, ptxPath, "-o", cubinPath};
  std::optional<StringRef> redirects[] = {std::nullopt, logPath.str(),
                                          logPath.str()};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/120, 0, &message);
  if (rc != 0) {
    auto log = llvm::MemoryBuffer::getFile(logPath);
    return emitError(loc) << "ptxas " << arch << " failed"
                          << (message.empty() ? "" : ": " + message) << ": "
                          << (log ? (*log)->getBuffer().trim() : "");
  }
  auto cubin = llvm::MemoryBuffer::getFile(cubinPath, /*IsText=*/false);
  if (!cubin)
    return emitError(loc) << "ptxas wrote no cubin";
  return (*cubin)->getBuffer().str();
}

//===----------------------------------------------------------------------===//
// Bundles
//===----------------------------------------------------------------------===//

namespace {

bool isIdentifier(StringRef name) {
  if (name.empty() || !(llvm::isAlpha(name[0]) || name[0] == '_'))
    return false;
  return llvm::all_of(name, [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

std::string dtypeName(Type t) {
  if (t.isBF16())
    return "bf16";
  if (t.isF16())
    return "f16";
  if (t.isF32())
    return "f32";
  if (t.isF64())
    return "f64";
  if (t.isInteger(32))
    return "i32";
  if (t.isInteger(64))
    return "i64";
  return "";
}

/// Reads the host function: names for buffers, size expressions for index
/// values. Only what muonssm-lower-to-gpu produces is understood; anything
/// else is a located error.
class HostReader {
public:
  explicit HostReader(func::FuncOp host) : host(host) {}

  func::FuncOp host;
  std::vector<std::string> argNames;
  std::vector<bundle::TensorSpec> temporaries;
  llvm::DenseMap<Value, std::string> bufferNames;

  /// The buffer a memref value views.
  FailureOr<std::string> buffer(Value v) {
    if (auto it = bufferNames.find(v); it != bufferNames.end())
      return it->second;
    if (auto arg = dyn_cast<BlockArgument>(v))
      return argNames[arg.getArgNumber()];
    Operation *def = v.getDefiningOp();
    if (auto cast = dyn_cast<memref::CastOp>(def))
      return buffer(cast.getSource());
    if (auto collapse = dyn_cast<memref::CollapseShapeOp>(def))
      return buffer(collapse.getSrc());
    if (auto expand = dyn_cast<memref::ExpandShapeOp>(def))
      return buffer(expand.getSrc());
    if (auto alloc = dyn_cast<memref::AllocOp>(def)) {
      bundle::TensorSpec t;
      t.name = "tmp" + std::to_string(temporaries.size());
      t.dtype = dtypeName(alloc.getType().getElementType());
      unsigned dynamic = 0;
      for (int64_t d : alloc.getType().getShape()) {
        if (!ShapedType::isDynamic(d)) {
          t.shape.push_back(std::to_string(d));
          continue;
        }
        FailureOr<std::string> e = size(alloc.getDynamicSizes()[dynamic++]);
        if (failed(e))
          return failure();
        t.shape.push_back(*e);
      }
      temporaries.push_back(t);
      bufferNames[v] = t.name;
      return t.name;
    }
    return def->emitError() << "muonssm-translate: cannot name the buffer "
                               "this op defines in a bundle";
  }

  /// An index or integer value as a size expression.
  FailureOr<std::string> size(Value v) {
    if (auto arg = dyn_cast<BlockArgument>(v))
      return emitError(host.getLoc())
             << "muonssm-translate: a scalar function argument cannot be a "
                "size in a bundle";
    Operation *def = v.getDefiningOp();
    if (auto c = dyn_cast<arith::ConstantOp>(def))
      if (auto i = dyn_cast<IntegerAttr>(c.getValue()))
        return std::to_string(i.getInt());
    if (auto dim = dyn_cast<memref::DimOp>(def)) {
      std::optional<int64_t> index = dim.getConstantIndex();
      FailureOr<std::string> name = buffer(dim.getSource());
      if (!index || failed(name))
        return def->emitError() << "muonssm-translate: cannot read this size";
      auto type = cast<MemRefType>(dim.getSource().getType());
      if (!type.isDynamicDim(*index))
        return std::to_string(type.getDimSize(*index));
      return *name + "_d" + std::to_string(*index);
    }
    if (isa<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtUIOp,
            arith::ExtSIOp, arith::TruncIOp>(def))
      return size(def->getOperand(0));
    auto binary = [&](const char *op) -> FailureOr<std::string> {
      FailureOr<std::string> a = size(def->getOperand(0)),
                             b = size(def->getOperand(1));
      if (failed(a) || failed(b))
        return failure();
      return "(" + *a + op + *b + ")";
    };
    if (isa<arith::AddIOp>(def))
      return binary("+");
    if (isa<arith::SubIOp>(def))
      return binary("-");
    if (isa<arith::MulIOp>(def))
      return binary("*");
    if (isa<arith::DivUIOp, arith::DivSIOp>(def))
      return binary("/");
    if (isa<arith::CeilDivUIOp, arith::CeilDivSIOp>(def)) {
      FailureOr<std::string> a = size(def->getOperand(0)),
                             b = size(def->getOperand(1));
      if (failed(a) || failed(b))
        return failure();
      return "ceil(" + *a + "/" + *b + ")";
    }
    return def->emitError() << "muonssm-translate: cannot express this size "
                               "in a bundle";
  }
};

/// The reference function's muonssm ops as oracle configurations.
LogicalResult readReference(func::FuncOp reference, bundle::Plan &plan) {
  llvm::DenseMap<Value, std::string> names;
  for (unsigned i = 0; i < reference.getNumArguments(); ++i)
    names[reference.getArgument(i)] = run::argumentName(reference, i);
  Operation *ret = reference.getBody().front().getTerminator();
  for (auto [i, v] : llvm::enumerate(ret->getOperands()))
    if (!names.count(v))
      names[v] = run::resultName(reference, i);
  int counter = 0;
  auto nameOf = [&](Value v) -> std::string {
    auto it = names.find(v);
    if (it != names.end())
      return it->second;
    std::string n = "value" + std::to_string(counter++);
    names[v] = n;
    return n;
  };
  for (Operation &op : reference.getBody().front()) {
    bundle::ReferenceOp r;
    auto operand = [&](const char *key, Value v) {
      if (v)
        r.operands[key] = nameOf(v);
    };
    auto result = [&](const char *key, Value v) {
      if (v)
        r.results[key] = nameOf(v);
    };
    if (auto scan = dyn_cast<ScanOp>(op)) {
      r.kind = bundle::ReferenceOp::Kind::Scan;
      r.scan = run::toReference(scan);
      operand("q", scan.getQ());
      operand("k", scan.getK());
      operand("v", scan.getV());
      operand("g", scan.getG());
      operand("dt", scan.getDt());
      operand("A", scan.getA());
      operand("beta", scan.getBeta());
      operand("gain", scan.getGain());
      operand("D", scan.getSkip());
      operand("z", scan.getGate());
      operand("cu_seqlens", scan.getCuSeqlens());
      operand("initial_state", scan.getInitialState());
      operand("initial_momentum", scan.getInitialMomentum());
      operand("state_indices", scan.getStateIndices());
      result("o", scan.getO());
      result("final_state", scan.getFinalState());
      result("final_momentum", scan.getFinalMomentum());
    } else if (auto gain = dyn_cast<Rank1GainOp>(op)) {
      r.kind = bundle::ReferenceOp::Kind::Rank1Gain;
      r.gain = {run::toReference(gain.getNewtonSchulz()),
                gain.getTauIn().convertToDouble(),
                gain.getTauOut().convertToDouble()};
      operand("k", gain.getK());
      operand("v", gain.getV());
      operand("beta", gain.getBeta());
      operand("dt", gain.getDt());
      result("gain", gain.getGain());
    } else if (auto ns = dyn_cast<NewtonSchulzOp>(op)) {
      r.kind = bundle::ReferenceOp::Kind::NewtonSchulz;
      r.ns = run::toReference(ns.getConfig());
      operand("input", ns.getInput());
      result("result", ns.getResult());
    } else if (isa<func::ReturnOp>(op)) {
      continue;
    } else {
      return op.emitError() << "muonssm-translate: the bundle's reference "
                               "cannot evaluate '"
                            << op.getName() << "'";
    }
    plan.reference.push_back(r);
  }
  return success();
}

/// The parameter widths of every .entry in a PTX module, in order: 32 or 64
/// bits. The kernels' index bitwidth (32, muonssm-to-gpu) decides how wide a
/// memref's offset, size and stride are; the PTX is the authority.
std::map<std::string, std::vector<int>> ptxParameterWidths(StringRef ptx) {
  std::map<std::string, std::vector<int>> entries;
  size_t at = 0;
  while ((at = ptx.find(".entry ", at)) != StringRef::npos) {
    size_t open = ptx.find('(', at), close = ptx.find(')', at);
    if (open == StringRef::npos || close == StringRef::npos || close < open)
      break;
    std::string name = ptx.slice(at + 7, open).trim().str();
    std::vector<int> &widths = entries[name];
    StringRef list = ptx.slice(open + 1, close);
    SmallVector<StringRef> params;
    list.split(params, ',');
    for (StringRef p : params) {
      p = p.trim();
      if (p.empty())
        continue;
      widths.push_back(
          p.contains(".u64") || p.contains(".b64") || p.contains(".s64") ? 64
                                                                         : 32);
    }
    at = close;
  }
  return entries;
}

} // namespace

LogicalResult translate::emitBundle(ModuleOp module, StringRef entry,
                                    StringRef dir, bool withCubin) {
  std::string chip;
  FailureOr<std::string> ptx = extractPTX(module, &chip);
  if (failed(ptx))
    return failure();
  std::string why;
  func::FuncOp host = run::findEntry(module, entry, why);
  if (!host)
    return emitError(module.getLoc()) << why;
  entry = host.getSymName();
  auto referenceText = host->getAttrOfType<StringAttr>("muonssm.reference");
  if (!referenceText)
    return host.emitError() << "@" << entry
                            << " launches no muonssm kernels (run "
                               "muonssm-opt --muonssm-to-gpu first)";
  // The reference: the function before lowering, parsed in this context.
  OwningOpRef<ModuleOp> refModule = parseSourceString<ModuleOp>(
      referenceText.getValue(), module.getContext());
  if (!refModule)
    return host.emitError() << "muonssm.reference does not parse";
  auto reference = *refModule->getOps<func::FuncOp>().begin();

  bundle::Plan plan;
  plan.entry = entry.str();
  unsigned inputs = reference.getNumArguments();
  if (host.getNumArguments() != inputs + reference.getNumResults())
    return host.emitError() << "expected " << inputs << " arguments and "
                            << reference.getNumResults()
                            << " result buffers (out-parameters)";
  HostReader reader(host);
  std::set<std::string> seen;
  for (unsigned i = 0; i < host.getNumArguments(); ++i) {
    bool isInput = i < inputs;
    std::string name = isInput ? run::argumentName(reference, i)
                               : run::resultName(reference, i - inputs);
    if (!isIdentifier(name) || !seen.insert(name).second)
      return host.emitError() << "bundle names must be distinct identifiers "
                                 "(muonssm.name), got '"
                              << name << "'";
    reader.argNames.push_back(name);
    auto type = dyn_cast<MemRefType>(host.getArgument(i).getType());
    if (!type || dtypeName(type.getElementType()).empty())
      return host.emitError() << "argument " << i << " has type "
                              << host.getArgument(i).getType()
                              << "; bundles take buffers of f16, bf16, f32, "
                                 "f64, i32 or i64";
    bundle::TensorSpec t;
    t.name = name;
    t.dtype = dtypeName(type.getElementType());
    for (auto [d, size] : llvm::enumerate(type.getShape()))
      t.shape.push_back(ShapedType::isDynamic(size)
                            ? name + "_d" + std::to_string(d)
                            : std::to_string(size));
    if (isInput)
      t.role = run::roleOf(reference.getArgument(i));
    (isInput ? plan.args : plan.results).push_back(t);
  }

  json kernels = json::array();
  std::map<std::string, std::vector<int>> widths = ptxParameterWidths(*ptx);
  WalkResult walked = host.walk([&](gpu::LaunchFuncOp launch) {
    auto func = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
        module, launch.getKernel());
    // After gpu-module-to-binary the kernels are gone; their signatures are
    // in the launch operands.
    bundle::Launch l;
    l.kernel = launch.getKernelName().str();
    // The rounding's type as MLIR spells it (bf16, f16, tf32): the plan
    // checks it against the ones it knows.
    if (auto products = launch->getAttrOfType<TypeAttr>("muonssm.products"))
      llvm::raw_string_ostream(l.products) << products.getValue();
    json params = json::array();
    std::map<std::string, int> uses; // a buffer may be passed twice (Δ as dt and β)
    for (Value operand : launch.getKernelOperands()) {
      if (isa<MemRefType>(operand.getType())) {
        FailureOr<std::string> name = reader.buffer(operand);
        if (failed(name))
          return WalkResult::interrupt();
        l.args.push_back({*name, "", ""});
        int use = uses[*name]++;
        std::string param = use ? *name + "." + std::to_string(use + 1) : *name;
        for (const char *field : {".allocated", ".aligned"})
          params.push_back({{"name", param + field}, {"type", "ptr"}});
        for (const char *field : {".offset", ".size", ".stride"})
          params.push_back({{"name", param + field}, {"type", "i64"}});
        continue;
      }
      FailureOr<std::string> value = reader.size(operand);
      if (failed(value))
        return WalkResult::interrupt();
      std::string type = operand.getType().isInteger(64) ? "i64" : "i32";
      l.args.push_back({"", type, *value});
      params.push_back({{"name", "s" + std::to_string(params.size())},
                        {"type", type}});
    }
    json grid = json::array();
    for (Value g : {launch.getGridSizeX(), launch.getGridSizeY(),
                    launch.getGridSizeZ()}) {
      FailureOr<std::string> e = reader.size(g);
      if (failed(e))
        return WalkResult::interrupt();
      grid.push_back(*e);
    }
    // Block sizes and dynamic shared memory: constants within CUDA's
    // limits (1024 threads a block; cuLaunchKernel's unsigned int bytes).
    json block = json::array();
    int64_t threads = 1;
    for (Value bd : {launch.getBlockSizeX(), launch.getBlockSizeY(),
                     launch.getBlockSizeZ()}) {
      FailureOr<std::string> e = reader.size(bd);
      int64_t n;
      if (failed(e) || StringRef(*e).getAsInteger(10, n)) {
        launch.emitError() << "muonssm-translate: block sizes must be "
                              "constants";
        return WalkResult::interrupt();
      }
      if (n < 1 || n > 1024 || (threads *= n) > 1024) {
        launch.emitError() << "muonssm-translate: a block of "
                           << (n < 1 || n > 1024 ? n : threads)
                           << " threads is outside CUDA's 1 to 1024";
        return WalkResult::interrupt();
      }
      block.push_back(n);
    }
    int64_t shared = 0;
    if (Value s = launch.getDynamicSharedMemorySize()) {
      FailureOr<std::string> e = reader.size(s);
      if (failed(e) || StringRef(*e).getAsInteger(10, shared) || shared < 0 ||
          shared > INT32_MAX) {
        launch.emitError() << "muonssm-translate: the dynamic shared memory "
                              "size must be a constant from 0 to 2^31 - 1 "
                              "bytes";
        return WalkResult::interrupt();
      }
    }
    (void)func;
    // Sizes, offsets and strides take the kernels' index width.
    auto found = widths.find(l.kernel);
    if (found == widths.end() || found->second.size() != params.size()) {
      launch.emitError() << "muonssm-translate: kernel " << l.kernel
                         << " has " << (found == widths.end()
                                            ? 0
                                            : found->second.size())
                         << " PTX parameters, the launch passes "
                         << params.size();
      return WalkResult::interrupt();
    }
    for (auto [param, width] : llvm::zip(params, found->second))
      if (param["type"] != "ptr")
        param["type"] = width == 64 ? "i64" : "i32";
    kernels.push_back({{"name", l.kernel},
                       {"params", params},
                       {"block", block},
                       {"grid", grid},
                       {"shared_bytes", shared}});
    plan.launches.push_back(l);
    return WalkResult::advance();
  });
  if (walked.wasInterrupted())
    return failure();

  // Every other host op must be one the bundle expresses: views and sizes
  // (read through above), allocations of temporaries, and copies of an
  // argument into a result after the last launch, which make the result an
  // alias of the argument's buffer (kernels that update state pools in
  // place). Anything else would be silently dropped, so it is an error.
  Operation *lastLaunch = nullptr;
  host.walk([&](gpu::LaunchFuncOp launch) { lastLaunch = launch; });
  for (Operation &op : host.getBody().front()) {
    if (isa<gpu::LaunchFuncOp, func::ReturnOp, memref::AllocOp,
            memref::DeallocOp, memref::CastOp, memref::CollapseShapeOp,
            memref::ExpandShapeOp, memref::DimOp>(op) ||
        op.getDialect() == module->getContext()->getLoadedDialect("arith"))
      continue;
    auto copy = dyn_cast<memref::CopyOp>(op);
    if (!copy)
      return op.emitError() << "muonssm-translate: the host op '"
                            << op.getName() << "' has no form in a bundle";
    auto source = dyn_cast<BlockArgument>(copy.getSource());
    auto target = dyn_cast<BlockArgument>(copy.getTarget());
    if (!source || !target || source.getArgNumber() >= inputs ||
        target.getArgNumber() < inputs ||
        (lastLaunch && copy->isBeforeInBlock(lastLaunch)) ||
        copy.getSource().getType() != copy.getTarget().getType())
      return op.emitError() << "muonssm-translate: a bundle copies only an "
                               "argument into a result of its type, after "
                               "the last launch (a state pool updated in "
                               "place)";
    bundle::TensorSpec &result = plan.results[target.getArgNumber() - inputs];
    if (!result.aliasOf.empty())
      return op.emitError() << "muonssm-translate: result '" << result.name
                            << "' is copied into twice";
    result.aliasOf = reader.argNames[source.getArgNumber()];
  }
  plan.temporaries = reader.temporaries;
  if (failed(readReference(reference, plan)))
    return failure();

  // Files.
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return emitError(module.getLoc())
           << "cannot create " << dir << ": " << ec.message();
  auto write = [&](StringRef name, StringRef bytes) -> LogicalResult {
    SmallString<256> path(dir);
    llvm::sys::path::append(path, name);
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
    if (ec)
      return emitError(module.getLoc())
             << "cannot write " << path << ": " << ec.message();
    os << bytes;
    return success();
  };
  json cubins = json::object();
  if (withCubin) {
    FailureOr<std::string> cubin = assemble(module.getLoc(), *ptx, chip);
    if (failed(cubin))
      return failure();
    std::string file = "kernels." + chip + ".cubin";
    if (failed(write(file, *cubin)))
      return failure();
    cubins[chip] = file;
  }
  // The hash keys the runtime's JIT cache, so identical compiles must give
  // the same one: hashed without the compile times that gpu-module-to-binary
  // records in each object's properties (LLVMIRToISATimeInMs, ...).
  OwningOpRef<ModuleOp> stable = module.clone();
  stable->walk([](gpu::BinaryOp binary) {
    SmallVector<Attribute> objects;
    for (auto object : binary.getObjects().getAsRange<gpu::ObjectAttr>()) {
      DictionaryAttr properties = object.getProperties();
      if (properties) {
        SmallVector<NamedAttribute> kept;
        for (NamedAttribute p : properties)
          if (!p.getName().getValue().ends_with("TimeInMs"))
            kept.push_back(p);
        properties = DictionaryAttr::get(binary.getContext(), kept);
      }
      objects.push_back(gpu::ObjectAttr::get(
          binary.getContext(), object.getTarget(), object.getFormat(),
          object.getObject(), properties, object.getKernels()));
    }
    binary.setObjectsAttr(ArrayAttr::get(binary.getContext(), objects));
  });
  std::string text;
  llvm::raw_string_ostream os(text);
  stable->print(os);
  std::array<uint8_t, 32> digest = llvm::SHA256::hash(
      ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(text.data()),
                        text.size()));
  json manifest = {{"format", "muonssm-bundle-1"},
                   {"compiler", "muonssm 0.1 (LLVM " LLVM_VERSION_STRING ")"},
                   {"ir_hash", llvm::toHex(digest, /*LowerCase=*/true)},
                   {"ptx", "kernels.ptx"},
                   {"ptx_arch", chip},
                   {"cubins", cubins},
                   {"kernels", kernels}};
  std::string head = manifest.dump(2);
  head.pop_back(); // splice the plan in before the closing brace
  while (!head.empty() && (head.back() == '\n' || head.back() == ' '))
    head.pop_back();
  std::string full = head + ",\n" + bundle::planToJson(plan) + "\n}\n";
  if (failed(write("kernels.ptx", *ptx)) || failed(write("manifest.json", full)))
    return failure();
  return success();
}
