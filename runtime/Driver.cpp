//===- Driver.cpp - libcuda loading, status, devices ----------------------===//
//
// libcuda.so.1 is opened with dlopen() the first time Driver::get() runs and
// every entry point is resolved with dlsym() under its versioned name (the
// one cuda.h #defines). A process without a driver gets one clean error,
// repeated by every operation.
//
//===----------------------------------------------------------------------===//

#include "runtime/Internal.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

using namespace muonssm::rt;
using namespace muonssm::rt::detail;

//===----------------------------------------------------------------------===//
// Status
//===----------------------------------------------------------------------===//

const char *muonssm::rt::errorCodeName(ErrorCode code) {
  switch (code) {
  case ErrorCode::Ok:
    return "ok";
  case ErrorCode::NoDriver:
    return "no-driver";
  case ErrorCode::NoDevice:
    return "no-device";
  case ErrorCode::InvalidArgument:
    return "invalid-argument";
  case ErrorCode::BadBundle:
    return "bad-bundle";
  case ErrorCode::NotFound:
    return "not-found";
  case ErrorCode::UnsupportedArch:
    return "unsupported-arch";
  case ErrorCode::OutOfMemory:
    return "out-of-memory";
  case ErrorCode::Timeout:
    return "timeout";
  case ErrorCode::Io:
    return "io";
  case ErrorCode::Cuda:
    return "cuda";
  }
  return "unknown";
}

Status Status::error(ErrorCode code, std::string message) {
  Status s;
  // An error always has a non-Ok code.
  s.code_ = code == ErrorCode::Ok ? ErrorCode::InvalidArgument : code;
  s.message_ = std::move(message);
  return s;
}

Status Status::withContext(const std::string &what) const {
  if (ok())
    return *this;
  return error(code_, what + ": " + message_);
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

Driver &Driver::get() {
  // Never destroyed: objects released during static destruction may still
  // call into the driver.
  static Driver *driver = new Driver();
  return *driver;
}

Driver::Driver() : api_(std::make_unique<DriverApi>()) {
  dlerror();
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    status_ = Status::error(
        ErrorCode::NoDriver,
        std::string("no CUDA driver: libcuda.so.1 could not be loaded (") +
            (why ? why : "unknown dlopen error") + ")");
    return;
  }

  std::string missing;
  auto resolve = [&](const char *symbol, bool required) -> void * {
    void *p = dlsym(lib, symbol);
    // cuEventElapsedTime_v2 is new in CUDA 12.8; older drivers have only
    // the unversioned function, with the same signature.
    if (!p && std::string(symbol) == "cuEventElapsedTime_v2")
      p = dlsym(lib, "cuEventElapsedTime");
    if (!p && required)
      missing += std::string(missing.empty() ? "" : ", ") + symbol;
    return p;
  };
  // One macro level only: a macro argument passed on to another macro would
  // be expanded (cuMemAlloc -> cuMemAlloc_v2) before reaching the ##.
#define MUONSSM_RT_RESOLVE_REQUIRED(name)                                      \
  api_->name##_ = reinterpret_cast<decltype(api_->name##_)>(                   \
      resolve(MUONSSM_RT_STR(name), true));
#define MUONSSM_RT_RESOLVE_OPTIONAL(name)                                      \
  api_->name##_ = reinterpret_cast<decltype(api_->name##_)>(                   \
      resolve(MUONSSM_RT_STR(name), false));
  MUONSSM_RT_REQUIRED_FUNCTIONS(MUONSSM_RT_RESOLVE_REQUIRED)
  MUONSSM_RT_OPTIONAL_FUNCTIONS(MUONSSM_RT_RESOLVE_OPTIONAL)
#undef MUONSSM_RT_RESOLVE_OPTIONAL
#undef MUONSSM_RT_RESOLVE_REQUIRED
  if (!missing.empty()) {
    status_ = Status::error(ErrorCode::NoDriver,
                            "no CUDA driver: libcuda.so.1 is too old (it "
                            "lacks " +
                                missing + ")");
    return;
  }
  loaded_ = true;

  int version = 0;
  if (api_->cuDriverGetVersion_(&version) == CUDA_SUCCESS)
    version_ = version;

  CUresult r = api_->cuInit_(0);
  if (r == CUDA_ERROR_NO_DEVICE)
    status_ = Status::error(ErrorCode::NoDevice,
                            "no CUDA device: cuInit: " + cudaErrorText(r));
  else if (r != CUDA_SUCCESS)
    status_ =
        Status::error(ErrorCode::NoDriver,
                      "no usable CUDA driver: cuInit: " + cudaErrorText(r));
}

std::string Driver::versionString() const {
  if (!loaded_ || version_ <= 0)
    return "none";
  return std::to_string(version_ / 1000) + "." +
         std::to_string(version_ % 1000 / 10);
}

bool Driver::hasTensorMaps() const {
  return loaded_ && api_->cuTensorMapEncodeTiled_ != nullptr;
}

std::string detail::cudaErrorText(CUresult result) {
  const char *name = nullptr;
  const char *text = nullptr;
  const Driver &driver = Driver::get();
  if (driver.loaded()) {
    if (driver.api().cuGetErrorName_(result, &name) != CUDA_SUCCESS)
      name = nullptr;
    if (driver.api().cuGetErrorString_(result, &text) != CUDA_SUCCESS)
      text = nullptr;
  }
  std::string out =
      name ? std::string(name) : "CUDA error " + std::to_string(int(result));
  if (text)
    out += std::string(" (") + text + ")";
  return out;
}

Status detail::cudaStatus(CUresult result, const std::string &what) {
  if (result == CUDA_SUCCESS)
    return Status::success();
  ErrorCode code = ErrorCode::Cuda;
  switch (result) {
  case CUDA_ERROR_OUT_OF_MEMORY:
    code = ErrorCode::OutOfMemory;
    break;
  case CUDA_ERROR_NO_DEVICE:
  case CUDA_ERROR_INVALID_DEVICE:
    code = ErrorCode::NoDevice;
    break;
  case CUDA_ERROR_NOT_FOUND:
    code = ErrorCode::NotFound;
    break;
  case CUDA_ERROR_NO_BINARY_FOR_GPU:
  case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    code = ErrorCode::UnsupportedArch;
    break;
  default:
    break;
  }
  return Status::error(code, what + ": " + cudaErrorText(result));
}

Status detail::requireDriver() { return Driver::get().status(); }

//===----------------------------------------------------------------------===//
// Device
//===----------------------------------------------------------------------===//

DeviceState::~DeviceState() {
  if (context)
    api().cuDevicePrimaryCtxRelease_(device);
}

Status DeviceState::activate() const {
  return cudaStatus(api().cuCtxSetCurrent_(context),
                    "making device " + std::to_string(info.ordinal) +
                        "'s context current");
}

Status detail::requireDevice(const std::shared_ptr<DeviceState> &device,
                             const std::string &what) {
  if (Status s = requireDriver(); !s.ok())
    return s;
  if (!device)
    return Status::error(ErrorCode::InvalidArgument,
                         what + ": no device (empty Device handle)");
  return device->activate();
}

StatusOr<int> Device::count() {
  if (Status s = requireDriver(); !s.ok())
    return s;
  int n = 0;
  if (Status s = cudaStatus(api().cuDeviceGetCount_(&n), "cuDeviceGetCount");
      !s.ok())
    return s;
  return n;
}

StatusOr<Device> Device::open(int ordinal) {
  StatusOr<int> n = count();
  if (!n.ok())
    return n.status();
  if (*n == 0)
    return Status::error(ErrorCode::NoDevice,
                         "no CUDA device: cuDeviceGetCount found none");
  if (ordinal < 0 || ordinal >= *n)
    return Status::error(ErrorCode::NoDevice,
                         "no CUDA device " + std::to_string(ordinal) +
                             " (there are " + std::to_string(*n) +
                             ", numbered from 0)");
  const DriverApi &d = api();
  std::string what = "opening device " + std::to_string(ordinal);
  auto state = std::make_shared<DeviceState>();
  DeviceInfo &info = state->info;
  info.ordinal = ordinal;
  if (Status s = cudaStatus(d.cuDeviceGet_(&state->device, ordinal),
                            what + ": cuDeviceGet");
      !s.ok())
    return s;
  CUcontext context = nullptr;
  if (Status s =
          cudaStatus(d.cuDevicePrimaryCtxRetain_(&context, state->device),
                     what + ": cuDevicePrimaryCtxRetain");
      !s.ok())
    return s;
  state->context = context; // released by ~DeviceState from here on
  if (Status s = state->activate(); !s.ok())
    return s;

  char name[256] = {};
  if (Status s = cudaStatus(
          d.cuDeviceGetName_(name, int(sizeof(name)) - 1, state->device),
          what + ": cuDeviceGetName");
      !s.ok())
    return s;
  info.name = name;
  size_t total = 0;
  if (Status s = cudaStatus(d.cuDeviceTotalMem_(&total, state->device),
                            what + ": cuDeviceTotalMem");
      !s.ok())
    return s;
  info.totalMemory = total;
  struct {
    CUdevice_attribute attribute;
    int *out;
    const char *name;
  } attributes[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &info.ccMajor,
       "compute capability"},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &info.ccMinor,
       "compute capability"},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &info.smCount, "SM count"},
      {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &info.maxThreadsPerBlock,
       "max threads per block"},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, &info.maxSharedPerBlock,
       "max shared memory per block"},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
       &info.maxSharedPerBlockOptin, "max opt-in shared memory per block"},
  };
  for (auto &a : attributes)
    if (Status s = cudaStatus(
            d.cuDeviceGetAttribute_(a.out, a.attribute, state->device),
            what + ": querying the " + a.name);
        !s.ok())
      return s;
  info.arch = archForComputeCapability(info.ccMajor, info.ccMinor);
  return Device(std::move(state));
}

const DeviceInfo &Device::info() const {
  static const DeviceInfo empty;
  return state_ ? state_->info : empty;
}

StatusOr<MemoryInfo> Device::memoryInfo() const {
  if (Status s = requireDevice(state_, "querying device memory"); !s.ok())
    return s;
  MemoryInfo m;
  if (Status s = cudaStatus(api().cuMemGetInfo_(&m.free, &m.total),
                            "querying device memory (cuMemGetInfo)");
      !s.ok())
    return s;
  return m;
}

Status Device::makeCurrent() const {
  return requireDevice(state_, "making the device current");
}

void *Device::context() const {
  return state_ ? static_cast<void *>(state_->context) : nullptr;
}

//===----------------------------------------------------------------------===//
// Bounded waits
//===----------------------------------------------------------------------===//

std::string detail::formatSeconds(double seconds) {
  std::ostringstream os;
  os << seconds;
  return os.str();
}

Status detail::pollUntilDone(const std::function<CUresult()> &query,
                             double timeoutSeconds, const std::string &what) {
  if (!std::isfinite(timeoutSeconds) || timeoutSeconds < 0)
    return Status::error(ErrorCode::InvalidArgument,
                         "waiting for " + what +
                             ": the timeout must be a finite number of "
                             "seconds >= 0, got " +
                             formatSeconds(timeoutSeconds));
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(timeoutSeconds));
  std::chrono::microseconds nap(20);
  const std::chrono::microseconds maxNap(1000);
  for (;;) {
    CUresult r = query();
    if (r == CUDA_SUCCESS)
      return Status::success();
    if (r != CUDA_ERROR_NOT_READY)
      return cudaStatus(r, "waiting for " + what);
    Clock::time_point now = Clock::now();
    if (now >= deadline)
      return Status::error(ErrorCode::Timeout,
                           "timed out after " + formatSeconds(timeoutSeconds) +
                               " s waiting for " + what);
    std::this_thread::sleep_for(std::min<Clock::duration>(nap, deadline - now));
    nap = std::min(nap * 2, maxNap);
  }
}
