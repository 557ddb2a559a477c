//===- Internal.h - runtime-internal declarations ---------------*- C++ -*-===//
//
// The driver entry points (resolved with dlsym) and the state behind the
// public handles. Only runtime/*.cpp include this; it is the one place that
// includes cuda.h (types and enums only: nothing links -lcuda).
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_RUNTIME_INTERNAL_H
#define MUONSSM_RUNTIME_INTERNAL_H

#include "runtime/Runtime.h"

#include <cuda.h>

#include <mutex>
#include <string>

namespace muonssm::rt::detail {

// Every driver function the runtime calls. cuda.h #defines the versioned
// names (cuMemAlloc -> cuMemAlloc_v2, cuStreamDestroy -> cuStreamDestroy_v2),
// so `decltype(&::name)` is the versioned signature and MUONSSM_RT_STR(name)
// the versioned symbol; the member is `name_` (## stops the expansion).
#define MUONSSM_RT_REQUIRED_FUNCTIONS(X)                                       \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)                                                          \
  X(cuInit)                                                                    \
  X(cuDriverGetVersion)                                                        \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetName)                                                           \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDeviceTotalMem)                                                          \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease)                                                 \
  X(cuCtxSetCurrent)                                                           \
  X(cuMemGetInfo)                                                              \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemcpyHtoD)                                                              \
  X(cuMemcpyDtoH)                                                              \
  X(cuMemcpyHtoDAsync)                                                         \
  X(cuMemcpyDtoHAsync)                                                         \
  X(cuMemsetD8)                                                                \
  X(cuMemsetD8Async)                                                           \
  X(cuModuleLoadData)                                                          \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuFuncGetAttribute)                                                        \
  X(cuFuncSetAttribute)                                                        \
  X(cuLinkCreate)                                                              \
  X(cuLinkAddData)                                                             \
  X(cuLinkComplete)                                                            \
  X(cuLinkDestroy)                                                             \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy)                                                           \
  X(cuStreamQuery)                                                             \
  X(cuEventCreate)                                                             \
  X(cuEventDestroy)                                                            \
  X(cuEventRecord)                                                             \
  X(cuEventQuery)                                                              \
  X(cuEventElapsedTime)                                                        \
  X(cuLaunchKernel)

// Functions a driver may lack; callers check for nullptr.
#define MUONSSM_RT_OPTIONAL_FUNCTIONS(X)                                       \
  X(cuTensorMapEncodeTiled)                                                    \
  X(cuStreamBeginCapture)                                                      \
  X(cuStreamEndCapture)                                                        \
  X(cuGraphInstantiate)                                                        \
  X(cuGraphLaunch)                                                             \
  X(cuGraphExecDestroy)                                                        \
  X(cuGraphDestroy)

#define MUONSSM_RT_STR2(x) #x
#define MUONSSM_RT_STR(x) MUONSSM_RT_STR2(x)

struct DriverApi {
#define MUONSSM_RT_DECLARE(name) decltype(&::name) name##_ = nullptr;
  MUONSSM_RT_REQUIRED_FUNCTIONS(MUONSSM_RT_DECLARE)
  MUONSSM_RT_OPTIONAL_FUNCTIONS(MUONSSM_RT_DECLARE)
#undef MUONSSM_RT_DECLARE
};

/// The driver's API table. Only valid when Driver::get().loaded().
inline const DriverApi &api() { return Driver::get().api(); }

/// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)", or "CUDA error 2" when the
/// driver cannot name it.
std::string cudaErrorText(CUresult result);

/// Ok for CUDA_SUCCESS; otherwise "<what>: CUDA_ERROR_X (text)" with an
/// ErrorCode from the result (OutOfMemory, NoDevice, NotFound,
/// UnsupportedArch, else Cuda).
Status cudaStatus(CUresult result, const std::string &what);

/// Driver::get().status() unless the driver is available.
Status requireDriver();

struct DeviceState {
  CUdevice device = 0;
  CUcontext context = nullptr;
  DeviceInfo info;

  DeviceState() = default;
  DeviceState(const DeviceState &) = delete;
  DeviceState &operator=(const DeviceState &) = delete;
  ~DeviceState();
  /// cuCtxSetCurrent(context).
  Status activate() const;
};

/// requireDriver(), then "<what>: no device (empty Device handle)" for an
/// empty state, then activate().
Status requireDevice(const std::shared_ptr<DeviceState> &device,
                     const std::string &what);

struct StreamState {
  std::shared_ptr<DeviceState> device;
  CUstream stream = nullptr;
  bool owned = false;
  mutable std::mutex mutex;
  std::string lastWork; ///< guarded by mutex

  StreamState() = default;
  StreamState(const StreamState &) = delete;
  StreamState &operator=(const StreamState &) = delete;
  ~StreamState();
  void setLastWork(std::string work);
  std::string getLastWork() const;
};

/// Checks that `stream` is valid and belongs to `device`.
Status checkStream(const Stream &stream, const DeviceState &device,
                   const std::string &what);

struct EventState {
  std::shared_ptr<DeviceState> device;
  CUevent event = nullptr;
  bool recorded = false;
  std::string recordedOn; ///< the stream's last work when recorded

  EventState() = default;
  EventState(const EventState &) = delete;
  EventState &operator=(const EventState &) = delete;
  ~EventState();
};

struct LoadedKernel {
  CUfunction function = nullptr;
  int numRegisters = 0;
  int staticSharedBytes = 0;
  int maxThreadsPerBlock = 0;
};

struct ModuleState {
  Device device;
  std::string bundleDir;
  std::vector<KernelInfo> kernels;
  std::vector<LoadedKernel> loaded; ///< parallel to kernels
  CUmodule module = nullptr;
  ModuleSource source = ModuleSource::Jit;
  std::string imageArch;
  std::string cachePath;
  std::string cacheNote;
  std::string jitLog;

  ModuleState() = default;
  ModuleState(const ModuleState &) = delete;
  ModuleState &operator=(const ModuleState &) = delete;
  ~ModuleState();
};

/// Formats seconds the way messages print them: 0.1 -> "0.1", 30 -> "30".
std::string formatSeconds(double seconds);

/// Polls `query` (which returns CUDA_SUCCESS when done, CUDA_ERROR_NOT_READY
/// while busy, or an error) with a short sleep until done, an error, or
/// `timeoutSeconds`; `what` names what is waited for in messages.
Status pollUntilDone(const std::function<CUresult()> &query,
                     double timeoutSeconds, const std::string &what);

} // namespace muonssm::rt::detail

#endif // MUONSSM_RUNTIME_INTERNAL_H
