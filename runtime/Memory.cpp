//===- Memory.cpp - device buffers, streams, events -----------------------===//

#include "runtime/Internal.h"

#include <sstream>

using namespace muonssm::rt;
using namespace muonssm::rt::detail;

namespace {

std::string hexAddress(DevicePtr p) {
  std::ostringstream os;
  os << "0x" << std::hex << p;
  return os.str();
}

std::string deviceName(const DeviceState &device) {
  return "device " + std::to_string(device.info.ordinal) + ", " +
         device.info.name;
}

} // namespace

//===----------------------------------------------------------------------===//
// DeviceBuffer
//===----------------------------------------------------------------------===//

StatusOr<DeviceBuffer> DeviceBuffer::allocate(const Device &device,
                                              size_t bytes) {
  std::string what = "allocating " + std::to_string(bytes) +
                     " bytes on device " + std::to_string(device.ordinal());
  if (Status s = requireDevice(device.state(), what); !s.ok())
    return s;
  DeviceBuffer buffer;
  buffer.device_ = device.state();
  if (bytes == 0)
    return buffer;
  CUdeviceptr p = 0;
  CUresult r = api().cuMemAlloc_(&p, bytes);
  if (r == CUDA_ERROR_OUT_OF_MEMORY) {
    size_t freeBytes = 0, totalBytes = 0;
    api().cuMemGetInfo_(&freeBytes, &totalBytes);
    return Status::error(ErrorCode::OutOfMemory,
                         "out of device memory: asked " +
                             std::to_string(bytes) + " bytes, " +
                             std::to_string(freeBytes) + " free (" +
                             deviceName(*device.state()) + ", " +
                             std::to_string(totalBytes) + " total)");
  }
  if (r != CUDA_SUCCESS)
    return cudaStatus(r, what);
  static_assert(sizeof(CUdeviceptr) == sizeof(DevicePtr),
                "DevicePtr must hold a CUdeviceptr");
  buffer.ptr_ = p;
  buffer.size_ = bytes;
  return buffer;
}

DeviceBuffer::~DeviceBuffer() { (void)release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : device_(std::move(other.device_)), ptr_(other.ptr_), size_(other.size_) {
  other.ptr_ = 0;
  other.size_ = 0;
}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  if (this != &other) {
    (void)release();
    device_ = std::move(other.device_);
    ptr_ = other.ptr_;
    size_ = other.size_;
    other.ptr_ = 0;
    other.size_ = 0;
  }
  return *this;
}

Status DeviceBuffer::release() {
  DevicePtr p = ptr_;
  size_t size = size_;
  std::shared_ptr<DeviceState> device = std::move(device_);
  ptr_ = 0;
  size_ = 0;
  device_.reset();
  if (!p || !device)
    return Status::success();
  std::string what =
      "freeing " + std::to_string(size) + " bytes at " + hexAddress(p);
  if (Status s = device->activate(); !s.ok())
    return s.withContext(what);
  return cudaStatus(api().cuMemFree_(p), what);
}

Status DeviceBuffer::checkRange(const char *what, size_t bytes,
                                size_t offset) const {
  if (offset > size_ || bytes > size_ - offset)
    return Status::error(
        ErrorCode::InvalidArgument,
        std::string(what) + ": bytes [" + std::to_string(offset) + ", " +
            std::to_string(offset) + " + " + std::to_string(bytes) +
            ") are outside the " + std::to_string(size_) + "-byte buffer");
  return Status::success();
}

namespace {

/// Shared checks of the copy and memset entry points.
Status prepare(const std::shared_ptr<DeviceState> &device,
               const std::string &what, const void *host, size_t bytes,
               const Stream *stream) {
  if (Status s = requireDevice(device, what); !s.ok())
    return s;
  if (bytes > 0 && host == nullptr)
    return Status::error(ErrorCode::InvalidArgument,
                         what + ": the host pointer is null");
  if (stream)
    return checkStream(*stream, *device, what);
  return Status::success();
}

const void *kNoHostPointer = &kNoHostPointer;

} // namespace

Status DeviceBuffer::copyFromHost(const void *src, size_t bytes,
                                  size_t offset) {
  std::string what =
      "copying " + std::to_string(bytes) + " bytes to the device";
  if (Status s = prepare(device_, what, src, bytes, nullptr); !s.ok())
    return s;
  if (Status s = checkRange(what.c_str(), bytes, offset); !s.ok() || !bytes)
    return s;
  return cudaStatus(api().cuMemcpyHtoD_(ptr_ + offset, src, bytes), what);
}

Status DeviceBuffer::copyToHost(void *dst, size_t bytes, size_t offset) const {
  std::string what =
      "copying " + std::to_string(bytes) + " bytes from the device";
  if (Status s = prepare(device_, what, dst, bytes, nullptr); !s.ok())
    return s;
  if (Status s = checkRange(what.c_str(), bytes, offset); !s.ok() || !bytes)
    return s;
  return cudaStatus(api().cuMemcpyDtoH_(dst, ptr_ + offset, bytes), what);
}

Status DeviceBuffer::copyFromHostAsync(const void *src, size_t bytes,
                                       const Stream &stream, size_t offset) {
  std::string what =
      "queueing a copy of " + std::to_string(bytes) + " bytes to the device";
  if (Status s = prepare(device_, what, src, bytes, &stream); !s.ok())
    return s;
  if (Status s = checkRange(what.c_str(), bytes, offset); !s.ok() || !bytes)
    return s;
  if (Status s = cudaStatus(
          api().cuMemcpyHtoDAsync_(ptr_ + offset, src, bytes,
                                   static_cast<CUstream>(stream.handle())),
          what);
      !s.ok())
    return s;
  stream.state()->setLastWork("copying " + std::to_string(bytes) +
                              " bytes to the device");
  return Status::success();
}

Status DeviceBuffer::copyToHostAsync(void *dst, size_t bytes,
                                     const Stream &stream,
                                     size_t offset) const {
  std::string what =
      "queueing a copy of " + std::to_string(bytes) + " bytes from the device";
  if (Status s = prepare(device_, what, dst, bytes, &stream); !s.ok())
    return s;
  if (Status s = checkRange(what.c_str(), bytes, offset); !s.ok() || !bytes)
    return s;
  if (Status s = cudaStatus(
          api().cuMemcpyDtoHAsync_(dst, ptr_ + offset, bytes,
                                   static_cast<CUstream>(stream.handle())),
          what);
      !s.ok())
    return s;
  stream.state()->setLastWork("copying " + std::to_string(bytes) +
                              " bytes from the device");
  return Status::success();
}

Status DeviceBuffer::memset(uint8_t value, size_t bytes, size_t offset) {
  std::string what = "setting " + std::to_string(bytes) + " device bytes";
  if (Status s = prepare(device_, what, kNoHostPointer, bytes, nullptr);
      !s.ok())
    return s;
  if (Status s = checkRange(what.c_str(), bytes, offset); !s.ok() || !bytes)
    return s;
  return cudaStatus(api().cuMemsetD8_(ptr_ + offset, value, bytes), what);
}

Status DeviceBuffer::memsetAsync(uint8_t value, size_t bytes,
                                 const Stream &stream, size_t offset) {
  std::string what =
      "queueing a memset of " + std::to_string(bytes) + " device bytes";
  if (Status s = prepare(device_, what, kNoHostPointer, bytes, &stream);
      !s.ok())
    return s;
  if (Status s = checkRange(what.c_str(), bytes, offset); !s.ok() || !bytes)
    return s;
  if (Status s = cudaStatus(
          api().cuMemsetD8Async_(ptr_ + offset, value, bytes,
                                 static_cast<CUstream>(stream.handle())),
          what);
      !s.ok())
    return s;
  stream.state()->setLastWork("setting " + std::to_string(bytes) +
                              " device bytes");
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Stream
//===----------------------------------------------------------------------===//

StreamState::~StreamState() {
  if (owned && stream && device) {
    (void)device->activate();
    api().cuStreamDestroy_(stream);
  }
}

void StreamState::setLastWork(std::string work) {
  std::lock_guard<std::mutex> lock(mutex);
  lastWork = std::move(work);
}

std::string StreamState::getLastWork() const {
  std::lock_guard<std::mutex> lock(mutex);
  return lastWork;
}

Status detail::checkStream(const Stream &stream, const DeviceState &device,
                           const std::string &what) {
  if (!stream.valid())
    return Status::error(ErrorCode::InvalidArgument,
                         what + ": no stream (empty Stream handle; "
                                "Stream::wrap(device, nullptr) gives the "
                                "default stream)");
  int streamDevice = stream.state()->device->info.ordinal;
  if (streamDevice != device.info.ordinal)
    return Status::error(ErrorCode::InvalidArgument,
                         what + ": the stream belongs to device " +
                             std::to_string(streamDevice) + ", not device " +
                             std::to_string(device.info.ordinal));
  return Status::success();
}

StatusOr<Stream> Stream::create(const Device &device, bool nonBlocking) {
  std::string what =
      "creating a stream on device " + std::to_string(device.ordinal());
  if (Status s = requireDevice(device.state(), what); !s.ok())
    return s;
  CUstream handle = nullptr;
  if (Status s = cudaStatus(
          api().cuStreamCreate_(&handle, nonBlocking ? CU_STREAM_NON_BLOCKING
                                                     : CU_STREAM_DEFAULT),
          what);
      !s.ok())
    return s;
  Stream stream;
  stream.state_ = std::make_shared<StreamState>();
  stream.state_->device = device.state();
  stream.state_->stream = handle;
  stream.state_->owned = true;
  return stream;
}

StatusOr<Stream> Stream::wrap(const Device &device, void *cuStream) {
  if (Status s = requireDevice(device.state(), "wrapping a stream"); !s.ok())
    return s;
  Stream stream;
  stream.state_ = std::make_shared<StreamState>();
  stream.state_->device = device.state();
  stream.state_->stream = static_cast<CUstream>(cuStream);
  stream.state_->owned = false;
  return stream;
}

void *Stream::handle() const { return state_ ? state_->stream : nullptr; }

std::string Stream::lastWork() const {
  return state_ ? state_->getLastWork() : "";
}

Status Stream::synchronize(double timeoutSeconds) const {
  if (Status s = requireDriver(); !s.ok())
    return s;
  if (!state_)
    return Status::error(ErrorCode::InvalidArgument,
                         "synchronizing: empty Stream handle");
  if (Status s = state_->device->activate(); !s.ok())
    return s.withContext("synchronizing a stream");
  std::string what = state_->stream ? "stream" : "the default stream";
  if (std::string work = state_->getLastWork(); !work.empty())
    what += " (last work: " + work + ")";
  CUstream handle = state_->stream;
  return pollUntilDone([handle] { return api().cuStreamQuery_(handle); },
                       timeoutSeconds, what);
}

Status muonssm::rt::synchronize(const Stream &stream, double timeoutSeconds) {
  return stream.synchronize(timeoutSeconds);
}

//===----------------------------------------------------------------------===//
// Event
//===----------------------------------------------------------------------===//

EventState::~EventState() {
  if (event && device) {
    (void)device->activate();
    api().cuEventDestroy_(event);
  }
}

StatusOr<Event> Event::create(const Device &device) {
  std::string what =
      "creating an event on device " + std::to_string(device.ordinal());
  if (Status s = requireDevice(device.state(), what); !s.ok())
    return s;
  CUevent handle = nullptr;
  if (Status s =
          cudaStatus(api().cuEventCreate_(&handle, CU_EVENT_DEFAULT), what);
      !s.ok())
    return s;
  Event event;
  event.state_ = std::make_shared<EventState>();
  event.state_->device = device.state();
  event.state_->event = handle;
  return event;
}

Status Event::record(const Stream &stream) {
  const std::string what = "recording an event";
  if (Status s = requireDriver(); !s.ok())
    return s;
  if (!state_)
    return Status::error(ErrorCode::InvalidArgument,
                         what + ": empty Event handle");
  if (Status s = checkStream(stream, *state_->device, what); !s.ok())
    return s;
  if (Status s = state_->device->activate(); !s.ok())
    return s.withContext(what);
  if (Status s =
          cudaStatus(api().cuEventRecord_(
                         state_->event, static_cast<CUstream>(stream.handle())),
                     what);
      !s.ok())
    return s;
  state_->recorded = true;
  state_->recordedOn = stream.lastWork();
  return Status::success();
}

Status Event::synchronize(double timeoutSeconds) const {
  if (Status s = requireDriver(); !s.ok())
    return s;
  if (!state_)
    return Status::error(ErrorCode::InvalidArgument,
                         "waiting for an event: empty Event handle");
  if (Status s = state_->device->activate(); !s.ok())
    return s.withContext("waiting for an event");
  std::string what = "event";
  if (!state_->recordedOn.empty())
    what += " (recorded after " + state_->recordedOn + ")";
  CUevent handle = state_->event;
  return pollUntilDone([handle] { return api().cuEventQuery_(handle); },
                       timeoutSeconds, what);
}

StatusOr<float> Event::elapsedMs(const Event &start, const Event &end) {
  const std::string what = "timing between events";
  if (Status s = requireDriver(); !s.ok())
    return s;
  if (!start.state_ || !end.state_)
    return Status::error(ErrorCode::InvalidArgument,
                         what + ": empty Event handle");
  if (!start.state_->recorded || !end.state_->recorded)
    return Status::error(ErrorCode::InvalidArgument,
                         what + ": both events must be recorded first");
  if (Status s = start.state_->device->activate(); !s.ok())
    return s.withContext(what);
  float ms = 0;
  if (Status s = cudaStatus(api().cuEventElapsedTime_(&ms, start.state_->event,
                                                      end.state_->event),
                            what);
      !s.ok())
    return s;
  return ms;
}

//===----------------------------------------------------------------------===//
// Graph
//===----------------------------------------------------------------------===//

namespace muonssm::rt {
struct GraphState {
  std::shared_ptr<detail::DeviceState> device;
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  ~GraphState() {
    if (!Driver::get().available())
      return;
    if (device)
      (void)device->activate();
    if (exec)
      detail::api().cuGraphExecDestroy_(exec);
    if (graph)
      detail::api().cuGraphDestroy_(graph);
  }
};
} // namespace muonssm::rt

StatusOr<Graph> Graph::capture(const Stream &stream,
                               const std::function<Status()> &record) {
  const std::string what = "capturing a CUDA graph";
  if (Status s = requireDriver(); !s.ok())
    return s;
  const detail::DriverApi &d = detail::api();
  if (!d.cuStreamBeginCapture_ || !d.cuStreamEndCapture_ ||
      !d.cuGraphInstantiate_ || !d.cuGraphLaunch_)
    return Status::error(ErrorCode::Cuda,
                         what + ": the driver has no stream capture");
  if (!stream.valid() || !stream.handle())
    return Status::error(ErrorCode::InvalidArgument,
                         what + ": needs a created (not the default) stream");
  auto state = std::make_shared<GraphState>();
  state->device = stream.state()->device;
  if (Status s = state->device->activate(); !s.ok())
    return s.withContext(what);
  CUstream cu = static_cast<CUstream>(stream.handle());
  if (Status s = cudaStatus(
          d.cuStreamBeginCapture_(cu, CU_STREAM_CAPTURE_MODE_RELAXED), what);
      !s.ok())
    return s;
  Status recorded = record();
  CUresult end = d.cuStreamEndCapture_(cu, &state->graph);
  if (!recorded.ok())
    return recorded.withContext(what);
  if (Status s = cudaStatus(end, what); !s.ok())
    return s;
  if (Status s = cudaStatus(d.cuGraphInstantiate_(&state->exec, state->graph,
                                                  0),
                            what + ": instantiating");
      !s.ok())
    return s;
  Graph graph;
  graph.state_ = std::move(state);
  return graph;
}

Status Graph::launch(const Stream &stream) const {
  const std::string what = "launching a CUDA graph";
  if (Status s = requireDriver(); !s.ok())
    return s;
  if (!state_)
    return Status::error(ErrorCode::InvalidArgument,
                         what + ": empty Graph handle");
  if (Status s = state_->device->activate(); !s.ok())
    return s.withContext(what);
  stream.state()->setLastWork("a CUDA graph");
  return cudaStatus(detail::api().cuGraphLaunch_(
                        state_->exec, static_cast<CUstream>(stream.handle())),
                    what);
}
