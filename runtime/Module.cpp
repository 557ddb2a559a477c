//===- Module.cpp - loading bundles on a device, launching kernels --------===//
//
// A bundle becomes a CUmodule from, in order of preference: a cubin built
// for the device's exact arch; a cached JIT result; the PTX JIT-compiled
// now (cuLinkCreate/cuLinkAddData/cuLinkComplete, whose cubin output is
// what the cache stores). PTX that cannot run on the device is refused
// before the driver sees it.
//
//===----------------------------------------------------------------------===//

#include "runtime/Internal.h"

#include <filesystem>
#include <sstream>

using namespace muonssm::rt;
using namespace muonssm::rt::detail;
namespace fs = std::filesystem;

const char *muonssm::rt::moduleSourceName(ModuleSource source) {
  switch (source) {
  case ModuleSource::Cubin:
    return "cubin";
  case ModuleSource::Jit:
    return "jit";
  case ModuleSource::JitCache:
    return "jit-cache";
  }
  return "?";
}

ModuleState::~ModuleState() {
  if (module && device.state()) {
    (void)device.state()->activate();
    api().cuModuleUnload_(module);
  }
}

namespace {

/// The first `limit` characters of a log, lines joined by " | ".
std::string oneLine(std::string log, size_t limit = 4000) {
  while (!log.empty() &&
         (log.back() == '\n' || log.back() == '\0' || log.back() == ' '))
    log.pop_back();
  std::string out;
  for (char c : log) {
    if (c == '\0')
      break;
    if (c == '\n')
      out += " | ";
    else
      out += c;
  }
  if (out.size() > limit)
    out = out.substr(0, limit) + "...";
  return out;
}

/// JIT-compiles `ptx` for the current context's device into a cubin.
Status jitCompile(const Bundle &bundle, const std::string &arch,
                  std::string &cubin, std::string &infoLog) {
  const DriverApi &d = api();
  std::string what = "JIT-compiling '" + bundle.ptxFile + "' (" +
                     bundle.ptxArch + ") for " + arch;
  std::vector<char> errorLog(1 << 16, '\0'), info(1 << 16, '\0');
  CUjit_option options[] = {
      CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
      CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
      CU_JIT_LOG_VERBOSE};
  void *values[] = {
      errorLog.data(), reinterpret_cast<void *>(uintptr_t(errorLog.size() - 1)),
      info.data(), reinterpret_cast<void *>(uintptr_t(info.size() - 1)),
      reinterpret_cast<void *>(uintptr_t(1))};
  CUlinkState link = nullptr;
  CUresult r = d.cuLinkCreate_(sizeof(options) / sizeof(options[0]), options,
                               values, &link);
  if (r != CUDA_SUCCESS)
    return cudaStatus(r, what + ": cuLinkCreate");
  r = d.cuLinkAddData_(
      link, CU_JIT_INPUT_PTX, const_cast<char *>(bundle.ptx.c_str()),
      bundle.ptx.size() + 1, bundle.ptxFile.c_str(), 0, nullptr, nullptr);
  void *image = nullptr;
  size_t imageSize = 0;
  if (r == CUDA_SUCCESS)
    r = d.cuLinkComplete_(link, &image, &imageSize);
  if (r == CUDA_SUCCESS)
    cubin.assign(static_cast<const char *>(image), imageSize);
  d.cuLinkDestroy_(link);
  infoLog = oneLine(std::string(info.data()));
  if (r != CUDA_SUCCESS) {
    Status s = cudaStatus(r, what);
    std::string log = oneLine(std::string(errorLog.data()));
    return log.empty()
               ? s
               : Status::error(s.code(), s.message() + "; JIT log: " + log);
  }
  return Status::success();
}

std::string joinKeys(const std::map<std::string, Bundle::Cubin> &cubins) {
  std::string out;
  for (const auto &entry : cubins)
    out += (out.empty() ? "" : ", ") + entry.first;
  return out;
}

} // namespace

StatusOr<Module> Module::load(const Device &device, const Bundle &bundle,
                              const ModuleOptions &options) {
  const DeviceInfo &info = device.info();
  std::string what = "loading bundle '" + bundle.dir + "' on device " +
                     std::to_string(info.ordinal);
  if (Status s = requireDevice(device.state(), what); !s.ok())
    return s;
  const DriverApi &d = api();
  auto state = std::make_shared<ModuleState>();
  state->device = device;
  state->bundleDir = bundle.dir;
  state->kernels = bundle.kernels;

  std::string cubinArch =
      options.preferCubin ? bundle.selectCubin(info.ccMajor, info.ccMinor) : "";
  std::string imageDescription;
  if (!cubinArch.empty()) {
    const Bundle::Cubin &cubin = bundle.cubins.at(cubinArch);
    imageDescription = "cubin '" + cubin.file + "'";
    CUmodule m = nullptr;
    if (Status s = cudaStatus(d.cuModuleLoadData_(&m, cubin.bytes.data()),
                              what + ": loading " + imageDescription);
        !s.ok())
      return s;
    state->module = m;
    state->source = ModuleSource::Cubin;
    state->imageArch = cubinArch;
  } else {
    if (!ptxRunsOn(bundle.ptxArch, info.ccMajor, info.ccMinor))
      return Status::error(
          ErrorCode::UnsupportedArch,
          "unsupported arch: bundle '" + bundle.dir + "' has PTX for " +
              bundle.ptxArch + " ('" + bundle.ptxFile + "')" +
              (bundle.cubins.empty()
                   ? std::string(" and no cubins")
                   : " and cubins for " + joinKeys(bundle.cubins)) +
              (options.preferCubin ? "" : " (cubins not wanted)") +
              ", but device " + std::to_string(info.ordinal) + " (" +
              info.name + ") is " + info.arch + " (compute capability " +
              std::to_string(info.ccMajor) + "." +
              std::to_string(info.ccMinor) + ")");
    state->imageArch = info.arch;
    imageDescription = "JIT image of '" + bundle.ptxFile + "'";

    // The disk cache.
    if (options.useCache) {
      StatusOr<std::string> dir = options.cacheDir.empty()
                                      ? cache::directory()
                                      : StatusOr<std::string>(options.cacheDir);
      if (!dir.ok()) {
        state->cacheNote = dir.status().message();
      } else {
        state->cachePath = cache::entryPath(
            *dir, cache::key(bundle.irHash, info.arch, bundle.compiler,
                             Driver::get().version(), bundle.ptx));
        std::error_code ec;
        if (fs::exists(state->cachePath, ec)) {
          StatusOr<std::string> bytes = cache::readFile(state->cachePath);
          CUmodule m = nullptr;
          if (bytes.ok() && cache::looksLikeCubin(*bytes) &&
              d.cuModuleLoadData_(&m, bytes->data()) == CUDA_SUCCESS) {
            state->module = m;
            state->source = ModuleSource::JitCache;
          } else {
            fs::remove(state->cachePath, ec);
            state->cacheNote =
                "removed corrupt cache entry '" + state->cachePath + "'";
          }
        }
      }
    }

    if (!state->module) {
      std::string cubin;
      if (Status s = jitCompile(bundle, info.arch, cubin, state->jitLog);
          !s.ok())
        return s.withContext(what);
      CUmodule m = nullptr;
      if (Status s = cudaStatus(d.cuModuleLoadData_(&m, cubin.data()),
                                what + ": loading the JIT output");
          !s.ok())
        return s;
      state->module = m;
      state->source = ModuleSource::Jit;
      if (!state->cachePath.empty()) {
        if (Status s = cache::writeAtomic(state->cachePath, cubin); !s.ok())
          state->cacheNote = "could not store the JIT result: " + s.message();
      }
    }
  }

  // Resolve every kernel of the manifest now, so that a bad bundle fails
  // here rather than at its first launch.
  for (const KernelInfo &k : state->kernels) {
    std::string kwhat = what + ": kernel '" + k.name + "'";
    LoadedKernel lk;
    if (Status s = cudaStatus(
            d.cuModuleGetFunction_(&lk.function, state->module, k.name.c_str()),
            kwhat + " of manifest.json is not in the " + imageDescription);
        !s.ok())
      return s;
    struct {
      CUfunction_attribute attribute;
      int *out;
    } attributes[] = {
        {CU_FUNC_ATTRIBUTE_NUM_REGS, &lk.numRegisters},
        {CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, &lk.staticSharedBytes},
        {CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &lk.maxThreadsPerBlock},
    };
    for (auto &a : attributes)
      if (Status s =
              cudaStatus(d.cuFuncGetAttribute_(a.out, a.attribute, lk.function),
                         kwhat + ": cuFuncGetAttribute");
          !s.ok())
        return s;

    int64_t threads = int64_t(k.block[0]) * k.block[1] * k.block[2];
    if (threads > lk.maxThreadsPerBlock)
      return Status::error(
          ErrorCode::InvalidArgument,
          kwhat + ": block " + std::to_string(k.block[0]) + "x" +
              std::to_string(k.block[1]) + "x" + std::to_string(k.block[2]) +
              " = " + std::to_string(threads) +
              " threads exceeds the kernel's limit of " +
              std::to_string(lk.maxThreadsPerBlock) + " (it uses " +
              std::to_string(lk.numRegisters) + " registers per thread)");

    int64_t shared = int64_t(k.sharedBytes) + lk.staticSharedBytes;
    if (shared > info.maxSharedPerBlockOptin)
      return Status::error(
          ErrorCode::InvalidArgument,
          kwhat + ": shared_bytes " + std::to_string(k.sharedBytes) + " (+ " +
              std::to_string(lk.staticSharedBytes) +
              " static) exceeds the device's opt-in limit of " +
              std::to_string(info.maxSharedPerBlockOptin) + " bytes per block");
    // Above the default limit (48 KiB) dynamic shared memory is opt-in.
    if (shared > info.maxSharedPerBlock)
      if (Status s = cudaStatus(
              d.cuFuncSetAttribute_(
                  lk.function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                  int(k.sharedBytes)),
              kwhat + ": allowing " + std::to_string(k.sharedBytes) +
                  " bytes of dynamic shared memory");
          !s.ok())
        return s;
    state->loaded.push_back(lk);
  }

  Module module;
  module.state_ = std::move(state);
  return module;
}

ModuleSource Module::source() const {
  return state_ ? state_->source : ModuleSource::Jit;
}

namespace {
const std::string &emptyString() {
  static const std::string empty;
  return empty;
}
} // namespace

const std::string &Module::imageArch() const {
  return state_ ? state_->imageArch : emptyString();
}
const std::string &Module::cachePath() const {
  return state_ ? state_->cachePath : emptyString();
}
const std::string &Module::cacheNote() const {
  return state_ ? state_->cacheNote : emptyString();
}
const std::string &Module::jitLog() const {
  return state_ ? state_->jitLog : emptyString();
}
const Device &Module::device() const {
  static const Device empty;
  return state_ ? state_->device : empty;
}

StatusOr<Kernel> Module::kernel(const std::string &name) const {
  if (!state_)
    return Status::error(ErrorCode::InvalidArgument,
                         "looking up kernel '" + name +
                             "': empty Module handle");
  for (size_t i = 0; i < state_->kernels.size(); ++i)
    if (state_->kernels[i].name == name)
      return Kernel(state_, i);
  std::string known;
  for (const KernelInfo &k : state_->kernels)
    known += (known.empty() ? "" : ", ") + k.name;
  return Status::error(ErrorCode::NotFound, "bundle '" + state_->bundleDir +
                                                "' has no kernel '" + name +
                                                "' (it has " + known + ")");
}

std::vector<std::string> Module::kernelNames() const {
  std::vector<std::string> names;
  if (state_)
    for (const KernelInfo &k : state_->kernels)
      names.push_back(k.name);
  return names;
}

//===----------------------------------------------------------------------===//
// Kernel
//===----------------------------------------------------------------------===//

const KernelInfo &Kernel::info() const {
  static const KernelInfo empty;
  return module_ ? module_->kernels[index_] : empty;
}
void *Kernel::function() const {
  return module_ ? static_cast<void *>(module_->loaded[index_].function)
                 : nullptr;
}
int Kernel::numRegisters() const {
  return module_ ? module_->loaded[index_].numRegisters : 0;
}
int Kernel::staticSharedBytes() const {
  return module_ ? module_->loaded[index_].staticSharedBytes : 0;
}
int Kernel::maxThreadsPerBlock() const {
  return module_ ? module_->loaded[index_].maxThreadsPerBlock : 0;
}

//===----------------------------------------------------------------------===//
// Launch
//===----------------------------------------------------------------------===//

KernelArg KernelArg::ptr(DevicePtr p) {
  KernelArg a(ParamType::Ptr);
  a.value_.u64 = p;
  return a;
}
KernelArg KernelArg::i32(int32_t v) {
  KernelArg a(ParamType::I32);
  a.value_.i32 = v;
  return a;
}
KernelArg KernelArg::i64(int64_t v) {
  KernelArg a(ParamType::I64);
  a.value_.i64 = v;
  return a;
}
KernelArg KernelArg::f32(float v) {
  KernelArg a(ParamType::F32);
  a.value_.f32 = v;
  return a;
}
KernelArg KernelArg::f64(double v) {
  KernelArg a(ParamType::F64);
  a.value_.f64 = v;
  return a;
}
KernelArg KernelArg::tensorMap(DevicePtr mapInDeviceMemory) {
  KernelArg a(ParamType::TensorMap);
  a.value_.u64 = mapInDeviceMemory;
  return a;
}

std::string KernelArg::str() const {
  std::ostringstream os;
  os << paramTypeName(type_) << " ";
  switch (type_) {
  case ParamType::Ptr:
  case ParamType::TensorMap:
    os << "0x" << std::hex << value_.u64;
    break;
  case ParamType::I32:
    os << value_.i32;
    break;
  case ParamType::I64:
    os << value_.i64;
    break;
  case ParamType::F32:
    os << value_.f32;
    break;
  case ParamType::F64:
    os << value_.f64;
    break;
  }
  return os.str();
}

Status muonssm::rt::launch(const Kernel &kernel, const Sizes &sizes,
                           const std::vector<KernelArg> &args,
                           const Stream &stream) {
  if (Status s = requireDriver(); !s.ok())
    return s;
  if (!kernel.valid())
    return Status::error(ErrorCode::InvalidArgument,
                         "launching: empty Kernel handle");
  const KernelInfo &info = kernel.info();
  const ModuleState &module = *kernel.module();
  std::string what = "launching " + info.name;
  if (Status s = checkStream(stream, *module.device.state(), what); !s.ok())
    return s;

  if (args.size() != info.params.size())
    return Status::error(ErrorCode::InvalidArgument,
                         what + ": expected " +
                             std::to_string(info.params.size()) +
                             " arguments for " + info.signature() + ", got " +
                             std::to_string(args.size()));
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i].type() != info.params[i].type)
      return Status::error(ErrorCode::InvalidArgument,
                           what + ": argument " + std::to_string(i) + " '" +
                               info.params[i].name + "' must be " +
                               paramTypeName(info.params[i].type) + ", got " +
                               args[i].str());

  StatusOr<std::array<unsigned, 3>> grid = info.gridDims(sizes);
  if (!grid.ok())
    return grid.status().withContext(what);
  if (Status s = module.device.state()->activate(); !s.ok())
    return s.withContext(what);

  std::vector<void *> params(args.size());
  for (size_t i = 0; i < args.size(); ++i)
    params[i] = const_cast<void *>(args[i].data());
  const auto &g = *grid;
  CUresult r = api().cuLaunchKernel_(
      static_cast<CUfunction>(kernel.function()), g[0], g[1], g[2],
      info.block[0], info.block[1], info.block[2], info.sharedBytes,
      static_cast<CUstream>(stream.handle()),
      params.empty() ? nullptr : params.data(), nullptr);
  if (r != CUDA_SUCCESS)
    return cudaStatus(r, what);
  stream.state()->setLastWork(what);
  return Status::success();
}
