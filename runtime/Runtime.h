//===- Runtime.h - muonssm GPU runtime over the CUDA driver API -*- C++ -*-===//
//
// Loads the kernel bundles the compiler writes (a directory with
// manifest.json, one PTX file and optional cubins) and runs their kernels
// through the CUDA driver API.
//
// - Plain C++17: no MLIR, no LLVM, and no cuda.h in this header. libcuda.so.1
//   is opened with dlopen() on first use, so a binary linked with this
//   library starts on a machine without a driver, and every call then
//   returns the "no CUDA driver" error.
// - No exception leaves the API: every call returns a Status (or a StatusOr
//   holding either a value or the error). Messages are one line, name the
//   operation, the kernel or file involved, and CUDA errors by name:
//     launching muonssm_scan_0: CUDA_ERROR_ILLEGAL_ADDRESS (an illegal
//     memory access was encountered)
// - Waits are bounded: synchronize() polls and gives up after a timeout.
// - Handles (Device, Module, Kernel, Stream, Event) are cheap shared
//   references; DeviceBuffer and TensorMap own memory and are move-only.
//   Each handle keeps what it needs alive (a buffer keeps its device's
//   primary context, a kernel its module).
//
// The C API for foreign callers is runtime/muonssm_runtime.h.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_RUNTIME_RUNTIME_H
#define MUONSSM_RUNTIME_RUNTIME_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace muonssm::rt {

//===----------------------------------------------------------------------===//
// Status
//===----------------------------------------------------------------------===//

/// What kind of failure a Status reports. The values are the C API's error
/// codes (MUONSSM_ERROR_*), so they must not be renumbered.
enum class ErrorCode : int {
  Ok = 0,
  NoDriver = 1,        ///< libcuda.so.1 missing, too old, or cuInit failed
  NoDevice = 2,        ///< no CUDA device, or no device of that ordinal
  InvalidArgument = 3, ///< the caller passed something wrong
  BadBundle = 4,       ///< malformed manifest.json or bundle file
  NotFound = 5,        ///< unknown kernel, file, size name
  UnsupportedArch = 6, ///< no cubin and no usable PTX for the device
  OutOfMemory = 7,     ///< device allocation failed
  Timeout = 8,         ///< a bounded wait expired
  Io = 9,              ///< reading or writing a host file failed
  Cuda = 10,           ///< any other CUDA driver error
};

/// "ok", "no-driver", "no-device", "invalid-argument", ...
const char *errorCodeName(ErrorCode code);

/// The result of an operation: ok, or an error code with a one-line message.
class [[nodiscard]] Status {
public:
  Status() = default;
  static Status success() { return Status(); }
  static Status error(ErrorCode code, std::string message);

  bool ok() const { return code_ == ErrorCode::Ok; }
  explicit operator bool() const { return ok(); }
  ErrorCode code() const { return code_; }
  /// Empty when ok.
  const std::string &message() const { return message_; }

  /// The same error with "what: " in front of the message (ok stays ok).
  Status withContext(const std::string &what) const;

private:
  ErrorCode code_ = ErrorCode::Ok;
  std::string message_;
};

/// Either a T or an error Status. Check ok() before value(): value() of an
/// error aborts (a programming error, not a user-input error).
template <typename T> class [[nodiscard]] StatusOr {
public:
  /// An error. An ok Status here is a bug and becomes an error.
  StatusOr(Status status) : status_(std::move(status)) {
    if (status_.ok())
      status_ = Status::error(ErrorCode::InvalidArgument,
                              "internal error: StatusOr made from ok Status");
  }
  StatusOr(T value) : value_(std::move(value)) {}

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  /// Ok when a value is held.
  const Status &status() const { return status_; }

  T &value() & { return check(), *value_; }
  const T &value() const & { return check(), *value_; }
  T &&value() && { return check(), std::move(*value_); }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

private:
  void check() const {
    if (!value_)
      std::abort();
  }
  Status status_;
  std::optional<T> value_;
};

namespace detail {
struct DriverApi;
struct DeviceState;
struct ModuleState;
struct StreamState;
struct EventState;
} // namespace detail

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

/// The CUDA driver, loaded once per process with dlopen("libcuda.so.1") and
/// cuInit(0). Never unloaded.
class Driver {
public:
  /// Loads the driver on first call (thread-safe) and returns the singleton.
  static Driver &get();

  /// libcuda.so.1 was loaded, every required function was found, and cuInit
  /// succeeded.
  bool available() const { return status_.ok(); }
  /// Ok when available(); otherwise why not, e.g. "no CUDA driver:
  /// libcuda.so.1 could not be loaded (...)" (NoDriver) or "no CUDA device:
  /// cuInit: CUDA_ERROR_NO_DEVICE (...)" (NoDevice).
  const Status &status() const { return status_; }
  /// libcuda.so.1 is loaded (even when cuInit failed).
  bool loaded() const { return loaded_; }
  /// cuDriverGetVersion(), e.g. 13000 for CUDA 13.0; 0 when not loaded.
  int version() const { return version_; }
  /// "13.0", or "none".
  std::string versionString() const;
  /// cuTensorMapEncodeTiled exists (drivers for CUDA >= 12.0).
  bool hasTensorMaps() const;
  /// The resolved entry points (runtime-internal; runtime/Internal.h).
  const detail::DriverApi &api() const { return *api_; }

  Driver(const Driver &) = delete;
  Driver &operator=(const Driver &) = delete;

private:
  Driver();
  std::unique_ptr<detail::DriverApi> api_;
  Status status_;
  bool loaded_ = false;
  int version_ = 0;
};

//===----------------------------------------------------------------------===//
// Architectures
//===----------------------------------------------------------------------===//

/// The arch string the project uses for compute capability major.minor:
/// "sm_XY" with the architecture-specific "a" suffix from Hopper (cc 9.0)
/// on: 9.0 -> "sm_90a", 10.0 -> "sm_100a", 8.6 -> "sm_86".
std::string archForComputeCapability(int major, int minor);

/// "sm_90a" -> {90, 'a'}; "sm_80" -> {80, 0}; "sm_100f" -> {100, 'f'}.
struct ArchName {
  int cc = 0;      ///< 10 * major + minor
  char suffix = 0; ///< 0, 'a' (arch-specific) or 'f' (family)
};
/// Parses "sm_<digits>[a|f]"; nullopt for anything else.
std::optional<ArchName> parseArch(const std::string &arch);

/// Whether PTX written for `ptxArch` can be JIT-compiled for a device of
/// compute capability major.minor: plain sm_XY PTX runs on cc >= X.Y;
/// sm_XYa only on cc X.Y exactly; sm_XYf on cc X.Z with Z >= Y.
bool ptxRunsOn(const std::string &ptxArch, int major, int minor);

//===----------------------------------------------------------------------===//
// Device
//===----------------------------------------------------------------------===//

struct DeviceInfo {
  int ordinal = -1;
  std::string name;
  int ccMajor = 0;
  int ccMinor = 0;
  std::string arch;            ///< archForComputeCapability()
  std::size_t totalMemory = 0; ///< bytes
  int smCount = 0;
  int maxThreadsPerBlock = 0;
  int maxSharedPerBlock = 0;      ///< bytes without opt-in (48 KiB)
  int maxSharedPerBlockOptin = 0; ///< bytes with opt-in (227 KiB on H100)
};

struct MemoryInfo {
  std::size_t free = 0;
  std::size_t total = 0;
};

/// One GPU and its primary context (the one CUDA runtime / PyTorch use).
/// A default-constructed Device is empty: operations on it fail.
class Device {
public:
  Device() = default;

  /// cuDeviceGetCount(); the driver's error when it is not available.
  static StatusOr<int> count();
  /// Opens device `ordinal`, retains its primary context and makes it
  /// current on the calling thread. "no CUDA device" when there is none.
  static StatusOr<Device> open(int ordinal = 0);

  bool valid() const { return state_ != nullptr; }
  /// Info of an open device (an empty DeviceInfo for an empty Device).
  const DeviceInfo &info() const;
  int ordinal() const { return info().ordinal; }
  const std::string &arch() const { return info().arch; }

  /// cuMemGetInfo() on this device.
  StatusOr<MemoryInfo> memoryInfo() const;
  /// Makes the primary context current on the calling thread. Every
  /// operation does this itself; call it before using the raw context.
  Status makeCurrent() const;
  /// The CUcontext (primary), or nullptr.
  void *context() const;

  /// Runtime-internal.
  const std::shared_ptr<detail::DeviceState> &state() const { return state_; }

private:
  explicit Device(std::shared_ptr<detail::DeviceState> state)
      : state_(std::move(state)) {}
  std::shared_ptr<detail::DeviceState> state_;
};

//===----------------------------------------------------------------------===//
// Grid expressions and bundles
//===----------------------------------------------------------------------===//

/// Named problem sizes a launch supplies, e.g. {{"N", 2}, {"HV", 4}}.
using Sizes = std::map<std::string, std::int64_t, std::less<>>;

/// An integer expression over named sizes: identifiers, integer literals,
/// + - * / (floor division), unary -, parentheses, ceil(a/b) (ceiling
/// division), min(a,b), max(a,b). Evaluated in int64 with overflow checks.
class GridExpr {
public:
  struct Node;
  /// The constant 1.
  GridExpr();
  static StatusOr<GridExpr> parse(const std::string &text);
  /// Errors: unknown size name, division by zero, overflow.
  StatusOr<std::int64_t> evaluate(const Sizes &sizes) const;
  const std::string &text() const { return text_; }
  /// The size names it reads, sorted, without duplicates.
  std::vector<std::string> names() const;

private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

enum class ParamType { Ptr, I32, I64, F32, F64, TensorMap };
/// "ptr", "i32", "i64", "f32", "f64", "tensormap".
const char *paramTypeName(ParamType type);
std::optional<ParamType> parseParamType(const std::string &name);
/// Bytes the kernel parameter occupies (8 for ptr and tensormap).
std::size_t paramTypeSize(ParamType type);

struct KernelParam {
  std::string name;
  ParamType type = ParamType::Ptr;
};

/// One kernel of a bundle, as manifest.json describes it.
struct KernelInfo {
  std::string name;
  std::vector<KernelParam> params;
  std::array<unsigned, 3> block = {1, 1, 1};
  std::array<GridExpr, 3> grid;
  unsigned sharedBytes = 0; ///< dynamic shared memory per block

  /// Evaluates the grid; every dimension must be >= 1 (and y, z <= 65535).
  StatusOr<std::array<unsigned, 3>> gridDims(const Sizes &sizes) const;
  /// "name(q: ptr, T: i32)".
  std::string signature() const;
};

/// A kernel bundle read from disk. Plain data, no driver needed.
struct Bundle {
  static constexpr const char *kFormat = "muonssm-bundle-1";

  std::string dir;          ///< as given to load()
  std::string manifestPath; ///< dir + "/manifest.json"
  std::string format;
  std::string compiler;
  std::string irHash;
  std::string ptxFile; ///< relative to dir, as in the manifest
  std::string ptxArch; ///< e.g. "sm_90a"
  std::string ptx;     ///< the PTX text
  struct Cubin {
    std::string file;  ///< relative to dir
    std::string bytes; ///< the ELF image
  };
  std::map<std::string, Cubin> cubins; ///< arch -> cubin
  std::vector<KernelInfo> kernels;

  /// Reads and validates `dir`/manifest.json and the files it names. Every
  /// error names the file and the field:
  ///   "b/manifest.json: kernels[0].params[1].type: unknown param type 'f16'
  ///   (expected ptr, i32, i64, f32, f64 or tensormap)"
  static StatusOr<Bundle> load(const std::string &dir);
  /// The same from manifest text already read; files are read from `dir`.
  static StatusOr<Bundle> fromManifest(const std::string &manifestText,
                                       const std::string &dir);

  const KernelInfo *findKernel(const std::string &name) const;
  /// The cubin arch to use on a device of cc major.minor: an exact
  /// architecture-specific match ("sm_90a") first, then "sm_90"; "" when the
  /// bundle has neither (then the PTX is JIT-compiled).
  std::string selectCubin(int major, int minor) const;
};

//===----------------------------------------------------------------------===//
// The JIT cache
//===----------------------------------------------------------------------===//

namespace cache {
/// SHA-256 of `bytes` as 64 lowercase hex digits.
std::string sha256Hex(const std::string &bytes);
/// The cache directory: $MUONSSM_CACHE_DIR, else $XDG_CACHE_HOME/muonssm,
/// else $HOME/.cache/muonssm (not created here).
StatusOr<std::string> directory();
/// The key of a JIT result: SHA-256 hex of the IR hash, the device arch,
/// the compiler string, the driver version and the PTX text itself (so two
/// bundles that reuse an ir_hash by mistake cannot share an entry).
std::string key(const std::string &irHash, const std::string &arch,
                const std::string &compiler, int driverVersion,
                const std::string &ptx);
/// `dir`/`key`.cubin
std::string entryPath(const std::string &dir, const std::string &key);
/// Writes `bytes` to a unique temporary file next to `path` and renames it
/// over `path`, so readers see the old file or the whole new one. Creates
/// the parent directories.
Status writeAtomic(const std::string &path, const std::string &bytes);
StatusOr<std::string> readFile(const std::string &path);
/// A structural check of an ELF64 CUDA image (magic, class, machine, section
/// table inside the file), so a truncated file never reaches the driver.
bool looksLikeCubin(const std::string &bytes);
} // namespace cache

//===----------------------------------------------------------------------===//
// Modules and kernels
//===----------------------------------------------------------------------===//

struct ModuleOptions {
  /// Use a cubin of the device's arch when the bundle has one; false always
  /// JIT-compiles the PTX.
  bool preferCubin = true;
  /// Look up and store JIT results in the disk cache.
  bool useCache = true;
  /// Cache directory; empty means cache::directory().
  std::string cacheDir;
};

enum class ModuleSource { Cubin, Jit, JitCache };
/// "cubin", "jit", "jit-cache".
const char *moduleSourceName(ModuleSource source);

class Module;

/// A kernel of a loaded module, with its manifest entry.
class Kernel {
public:
  Kernel() = default;
  bool valid() const { return module_ != nullptr; }
  const KernelInfo &info() const;
  const std::string &name() const { return info().name; }
  /// The CUfunction.
  void *function() const;
  int numRegisters() const;
  int staticSharedBytes() const;
  /// CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK (depends on registers).
  int maxThreadsPerBlock() const;
  const std::shared_ptr<detail::ModuleState> &module() const { return module_; }

private:
  friend class Module;
  Kernel(std::shared_ptr<detail::ModuleState> module, std::size_t index)
      : module_(std::move(module)), index_(index) {}
  std::shared_ptr<detail::ModuleState> module_;
  std::size_t index_ = 0;
};

/// A bundle loaded on a device: the cubin matching the device exactly, else
/// the PTX JIT-compiled (through the disk cache). Every kernel of the
/// manifest is resolved at load, and dynamic shared memory above 48 KiB is
/// enabled for it, so load() fails early on a bad bundle.
class Module {
public:
  Module() = default;
  static StatusOr<Module> load(const Device &device, const Bundle &bundle,
                               const ModuleOptions &options = {});

  bool valid() const { return state_ != nullptr; }
  ModuleSource source() const;
  /// The arch of the image loaded (cubin's arch, or the device's for JIT).
  const std::string &imageArch() const;
  /// The cache entry read or written ("" when the cache was not used).
  const std::string &cachePath() const;
  /// What happened with the cache when it was not a plain hit or store
  /// (e.g. "removed corrupt cache entry ...", "could not write ..."), or "".
  const std::string &cacheNote() const;
  /// The JIT compiler's info log ("" for cubins).
  const std::string &jitLog() const;
  const Device &device() const;

  /// A kernel of the manifest, e.g. "muonssm_scan_0".
  StatusOr<Kernel> kernel(const std::string &name) const;
  std::vector<std::string> kernelNames() const;

private:
  std::shared_ptr<detail::ModuleState> state_;
};

//===----------------------------------------------------------------------===//
// Memory, streams, events
//===----------------------------------------------------------------------===//

/// A device address (CUdeviceptr).
using DevicePtr = std::uint64_t;

class Stream;

/// Device memory from cuMemAlloc, freed on destruction. Move-only.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;

  /// `bytes` of device memory (0 gives an empty buffer with ptr() 0). Out of
  /// memory: "out of device memory: asked N bytes, M free".
  static StatusOr<DeviceBuffer> allocate(const Device &device,
                                         std::size_t bytes);

  DevicePtr ptr() const { return ptr_; }
  std::size_t size() const { return size_; }
  const std::shared_ptr<detail::DeviceState> &device() const { return device_; }

  /// Synchronous copies on the legacy default stream: they wait for earlier
  /// work of blocking streams (Stream::create's default), without a
  /// timeout; use the Async forms + synchronize() for a bounded wait.
  /// [offset, offset + bytes) must lie inside the buffer.
  Status copyFromHost(const void *src, std::size_t bytes,
                      std::size_t offset = 0);
  Status copyToHost(void *dst, std::size_t bytes, std::size_t offset = 0) const;
  Status copyFromHostAsync(const void *src, std::size_t bytes,
                           const Stream &stream, std::size_t offset = 0);
  Status copyToHostAsync(void *dst, std::size_t bytes, const Stream &stream,
                         std::size_t offset = 0) const;
  /// Sets `bytes` bytes from `offset` to `value`.
  Status memset(std::uint8_t value, std::size_t bytes, std::size_t offset = 0);
  Status memsetAsync(std::uint8_t value, std::size_t bytes,
                     const Stream &stream, std::size_t offset = 0);

  /// Frees now and reports the driver's answer (the destructor ignores it).
  Status release();

private:
  Status checkRange(const char *what, std::size_t bytes,
                    std::size_t offset) const;
  std::shared_ptr<detail::DeviceState> device_;
  DevicePtr ptr_ = 0;
  std::size_t size_ = 0;
};

/// A CUDA stream. Shared handle: the stream is destroyed with the last copy
/// (unless it was wrapped, not created).
class Stream {
public:
  Stream() = default;
  /// A new stream. Blocking by default (it synchronizes with the legacy
  /// default stream, like cudaStreamCreate); `nonBlocking` does not.
  static StatusOr<Stream> create(const Device &device,
                                 bool nonBlocking = false);
  /// Wraps an existing CUstream (e.g. PyTorch's current stream) without
  /// owning it; nullptr is the legacy default stream.
  static StatusOr<Stream> wrap(const Device &device, void *cuStream);

  bool valid() const { return state_ != nullptr; }
  /// The CUstream (nullptr for the legacy default stream).
  void *handle() const;
  /// Bounded wait: polls cuStreamQuery until the stream is idle, an error is
  /// reported, or `timeoutSeconds` (finite, >= 0) passes: "timed out after
  /// 0.1 s waiting for stream (last work: launching muonssm_spin)".
  Status synchronize(double timeoutSeconds) const;
  /// A description of the last work queued through this runtime.
  std::string lastWork() const;
  const std::shared_ptr<detail::StreamState> &state() const { return state_; }

private:
  std::shared_ptr<detail::StreamState> state_;
};

/// The same as stream.synchronize(timeoutSeconds).
Status synchronize(const Stream &stream, double timeoutSeconds);

/// A CUDA event with timing enabled. Shared handle.
class Event {
public:
  Event() = default;
  static StatusOr<Event> create(const Device &device);
  Status record(const Stream &stream);
  /// Bounded wait for the event (see Stream::synchronize).
  Status synchronize(double timeoutSeconds) const;
  /// Milliseconds between two recorded, completed events.
  static StatusOr<float> elapsedMs(const Event &start, const Event &end);
  bool valid() const { return state_ != nullptr; }

private:
  std::shared_ptr<detail::EventState> state_;
};

struct GraphState;

/// A CUDA graph captured from the work queued on a stream, replayed as one
/// launch (what benchmarks time, like torch.cuda.CUDAGraph). Shared handle.
class Graph {
public:
  Graph() = default;
  /// Captures what `record` queues on `stream` (a stream from
  /// Stream::create; relaxed capture mode) and instantiates it.
  static StatusOr<Graph> capture(const Stream &stream,
                                 const std::function<Status()> &record);
  /// Replays the graph on `stream`.
  Status launch(const Stream &stream) const;
  bool valid() const { return state_ != nullptr; }

private:
  std::shared_ptr<GraphState> state_;
};

//===----------------------------------------------------------------------===//
// TMA tensor maps
//===----------------------------------------------------------------------===//

enum class TmaDataType { BF16, F16, F32 };
enum class TmaSwizzle { None, B32, B64, B128 };
/// Out-of-bounds fill: zeros (the driver's FLOAT_OOB_FILL_NONE) or NaN
/// (FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA).
enum class TmaOobFill { Zero, Nan };
enum class TmaL2Promotion { None, B64, B128, B256 };

/// Arguments of cuTensorMapEncodeTiled (no interleave). Everything is
/// innermost dimension first.
struct TensorMapDesc {
  TmaDataType dataType = TmaDataType::BF16;
  std::vector<std::uint64_t> globalDims;     ///< elements; rank = size (1..5)
  std::vector<std::uint64_t> globalStrides;  ///< bytes of dims 1..rank-1
  std::vector<std::uint32_t> boxDims;        ///< elements per dimension
  std::vector<std::uint32_t> elementStrides; ///< empty: all 1
  TmaSwizzle swizzle = TmaSwizzle::B128;
  TmaOobFill oobFill = TmaOobFill::Zero;
  TmaL2Promotion l2Promotion = TmaL2Promotion::None;

  /// A row-major rows x cols matrix (row pitch cols * element size) read in
  /// boxRows x boxCols tiles.
  static TensorMapDesc matrix(TmaDataType type, std::uint64_t rows,
                              std::uint64_t cols, std::uint32_t boxRows,
                              std::uint32_t boxCols,
                              TmaSwizzle swizzle = TmaSwizzle::B128);
};

std::size_t tmaElementSize(TmaDataType type);

/// The driver's documented rules, checked before calling it: rank 1..5,
/// 16-byte aligned non-null address, dims in [1, 2^32], strides multiples of
/// 16 below 2^40, box dims in [1, 256] with the inner box a multiple of 16
/// bytes and at most the swizzle span, element strides in [1, 8].
Status validateTensorMap(const TensorMapDesc &desc, DevicePtr globalAddress);

/// The 128-byte CUtensorMap (for by-value kernel parameters).
StatusOr<std::array<std::uint8_t, 128>>
encodeTensorMap(const TensorMapDesc &desc, DevicePtr globalAddress);

/// A tensor map in device memory (128 bytes, 256-byte aligned), passed to a
/// kernel as a `tensormap` parameter. Move-only.
class TensorMap {
public:
  TensorMap() = default;
  DevicePtr ptr() const { return buffer_.ptr(); }
  const std::array<std::uint8_t, 128> &hostBytes() const { return bytes_; }
  const TensorMapDesc &desc() const { return desc_; }

private:
  friend StatusOr<TensorMap> makeTensorMap(const Device &, DevicePtr,
                                           const TensorMapDesc &);
  DeviceBuffer buffer_;
  std::array<std::uint8_t, 128> bytes_{};
  TensorMapDesc desc_;
};

/// Validates, encodes with cuTensorMapEncodeTiled and copies the map to a
/// new device buffer.
StatusOr<TensorMap> makeTensorMap(const Device &device, DevicePtr globalAddress,
                                  const TensorMapDesc &desc);

//===----------------------------------------------------------------------===//
// Launch
//===----------------------------------------------------------------------===//

/// One kernel argument with its type; checked against the manifest.
class KernelArg {
public:
  static KernelArg ptr(DevicePtr p);
  static KernelArg i32(std::int32_t v);
  static KernelArg i64(std::int64_t v);
  static KernelArg f32(float v);
  static KernelArg f64(double v);
  static KernelArg tensorMap(DevicePtr mapInDeviceMemory);
  KernelArg(const DeviceBuffer &buffer) : KernelArg(ptr(buffer.ptr())) {}
  KernelArg(const TensorMap &map) : KernelArg(tensorMap(map.ptr())) {}

  ParamType type() const { return type_; }
  /// Points at the value (what cuLaunchKernel's kernelParams holds).
  const void *data() const { return &value_; }
  /// "i32 7", "ptr 0x7f...".
  std::string str() const;

private:
  explicit KernelArg(ParamType type) : type_(type) { value_.u64 = 0; }
  ParamType type_;
  union {
    std::uint64_t u64;
    std::int32_t i32;
    std::int64_t i64;
    float f32;
    double f64;
  } value_;
};

/// Evaluates the kernel's grid over `sizes`, checks `args` against the
/// manifest's params (count and types), and calls cuLaunchKernel with the
/// manifest's block and dynamic shared memory on `stream`. Asynchronous:
/// errors of the kernel itself surface in synchronize().
Status launch(const Kernel &kernel, const Sizes &sizes,
              const std::vector<KernelArg> &args, const Stream &stream);

} // namespace muonssm::rt

#endif // MUONSSM_RUNTIME_RUNTIME_H
