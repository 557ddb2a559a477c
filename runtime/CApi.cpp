//===- CApi.cpp - the C API (muonssm_runtime.h) ---------------------------===//
//
// Each handle owns one C++ object. Every entry point catches exceptions
// (std::bad_alloc, mostly) so that none crosses the C boundary.
//
//===----------------------------------------------------------------------===//

#include "runtime/Runtime.h"
#include "runtime/muonssm_runtime.h"

#include <exception>
#include <string>

using namespace muonssm::rt;

struct muonssm_device {
  Device device;
};
struct muonssm_bundle {
  Bundle bundle;
};
struct muonssm_module {
  Module module;
};
struct muonssm_stream {
  Stream stream;
};
struct muonssm_buffer {
  DeviceBuffer buffer;
};
struct muonssm_tensor_map {
  TensorMap map;
};

static_assert(int(ErrorCode::Cuda) == MUONSSM_ERROR_CUDA &&
                  int(ErrorCode::NoDriver) == MUONSSM_ERROR_NO_DRIVER &&
                  int(ErrorCode::Timeout) == MUONSSM_ERROR_TIMEOUT,
              "C error codes must match muonssm::rt::ErrorCode");

namespace {

thread_local std::string lastError;

int fail(const Status &status) {
  lastError = status.message();
  return static_cast<int>(status.code());
}

int invalid(const std::string &message) {
  return fail(Status::error(ErrorCode::InvalidArgument, message));
}

template <typename F> int guard(const char *function, F &&body) {
  try {
    return body();
  } catch (const std::exception &e) {
    lastError = std::string(function) + ": internal error: " + e.what();
  } catch (...) {
    lastError = std::string(function) + ": internal error";
  }
  return MUONSSM_ERROR_INTERNAL;
}

/// The Status of a StatusOr, or stores the value into a new handle.
template <typename Handle, typename T>
int store(StatusOr<T> result, Handle **out) {
  if (!result.ok())
    return fail(result.status());
  *out = new Handle{std::move(result).value()};
  return MUONSSM_OK;
}

} // namespace

extern "C" {

const char *muonssm_last_error(void) { return lastError.c_str(); }

const char *muonssm_error_name(int code) {
  if (code == MUONSSM_ERROR_INTERNAL)
    return "internal";
  if (code < 0 || code > MUONSSM_ERROR_CUDA)
    return "unknown";
  return errorCodeName(static_cast<ErrorCode>(code));
}

int muonssm_driver_available(void) {
  return guard(__func__, [] {
    const Status &s = Driver::get().status();
    if (!s.ok())
      lastError = s.message();
    return s.ok() ? 1 : 0;
  });
}

int muonssm_driver_version(int *version) {
  return guard(__func__, [&] {
    if (!version)
      return invalid("muonssm_driver_version: version is NULL");
    const Driver &driver = Driver::get();
    if (!driver.loaded())
      return fail(driver.status());
    *version = driver.version();
    return int(MUONSSM_OK);
  });
}

int muonssm_device_count(int *count) {
  return guard(__func__, [&] {
    if (!count)
      return invalid("muonssm_device_count: count is NULL");
    StatusOr<int> n = Device::count();
    if (!n.ok())
      return fail(n.status());
    *count = *n;
    return int(MUONSSM_OK);
  });
}

int muonssm_device_open(int ordinal, muonssm_device **out) {
  return guard(__func__, [&] {
    if (!out)
      return invalid("muonssm_device_open: out is NULL");
    *out = nullptr;
    return store(Device::open(ordinal), out);
  });
}

void muonssm_device_close(muonssm_device *device) { delete device; }

const char *muonssm_device_arch(const muonssm_device *device) {
  return device ? device->device.arch().c_str() : nullptr;
}

const char *muonssm_device_name(const muonssm_device *device) {
  return device ? device->device.info().name.c_str() : nullptr;
}

int muonssm_bundle_load(const char *dir, muonssm_bundle **out) {
  return guard(__func__, [&] {
    if (!out)
      return invalid("muonssm_bundle_load: out is NULL");
    *out = nullptr;
    if (!dir)
      return invalid("muonssm_bundle_load: dir is NULL");
    return store(Bundle::load(dir), out);
  });
}

void muonssm_bundle_free(muonssm_bundle *bundle) { delete bundle; }

int muonssm_module_load(muonssm_device *device, const muonssm_bundle *bundle,
                        muonssm_module **out) {
  return guard(__func__, [&] {
    if (!out)
      return invalid("muonssm_module_load: out is NULL");
    *out = nullptr;
    if (!device || !bundle)
      return invalid("muonssm_module_load: device or bundle is NULL");
    return store(Module::load(device->device, bundle->bundle), out);
  });
}

void muonssm_module_free(muonssm_module *module) { delete module; }

int muonssm_stream_create(muonssm_device *device, muonssm_stream **out) {
  return guard(__func__, [&] {
    if (!out)
      return invalid("muonssm_stream_create: out is NULL");
    *out = nullptr;
    if (!device)
      return invalid("muonssm_stream_create: device is NULL");
    return store(Stream::create(device->device), out);
  });
}

int muonssm_stream_wrap(muonssm_device *device, void *cu_stream,
                        muonssm_stream **out) {
  return guard(__func__, [&] {
    if (!out)
      return invalid("muonssm_stream_wrap: out is NULL");
    *out = nullptr;
    if (!device)
      return invalid("muonssm_stream_wrap: device is NULL");
    return store(Stream::wrap(device->device, cu_stream), out);
  });
}

void muonssm_stream_free(muonssm_stream *stream) { delete stream; }

int muonssm_synchronize(muonssm_stream *stream, double timeout_seconds) {
  return guard(__func__, [&] {
    if (!stream)
      return invalid("muonssm_synchronize: stream is NULL (for the default "
                     "stream, use muonssm_stream_wrap(device, NULL, &s))");
    Status s = stream->stream.synchronize(timeout_seconds);
    return s.ok() ? int(MUONSSM_OK) : fail(s);
  });
}

int muonssm_buffer_alloc(muonssm_device *device, size_t bytes,
                         muonssm_buffer **out) {
  return guard(__func__, [&] {
    if (!out)
      return invalid("muonssm_buffer_alloc: out is NULL");
    *out = nullptr;
    if (!device)
      return invalid("muonssm_buffer_alloc: device is NULL");
    return store(DeviceBuffer::allocate(device->device, bytes), out);
  });
}

void muonssm_buffer_free(muonssm_buffer *buffer) { delete buffer; }

uint64_t muonssm_buffer_ptr(const muonssm_buffer *buffer) {
  return buffer ? buffer->buffer.ptr() : 0;
}

size_t muonssm_buffer_size(const muonssm_buffer *buffer) {
  return buffer ? buffer->buffer.size() : 0;
}

int muonssm_copy_to_device(muonssm_buffer *dst, size_t offset, const void *src,
                           size_t bytes, muonssm_stream *stream) {
  return guard(__func__, [&] {
    if (!dst)
      return invalid("muonssm_copy_to_device: dst is NULL");
    Status s = stream ? dst->buffer.copyFromHostAsync(src, bytes,
                                                      stream->stream, offset)
                      : dst->buffer.copyFromHost(src, bytes, offset);
    return s.ok() ? int(MUONSSM_OK) : fail(s);
  });
}

int muonssm_copy_to_host(void *dst, const muonssm_buffer *src, size_t offset,
                         size_t bytes, muonssm_stream *stream) {
  return guard(__func__, [&] {
    if (!src)
      return invalid("muonssm_copy_to_host: src is NULL");
    Status s =
        stream ? src->buffer.copyToHostAsync(dst, bytes, stream->stream, offset)
               : src->buffer.copyToHost(dst, bytes, offset);
    return s.ok() ? int(MUONSSM_OK) : fail(s);
  });
}

int muonssm_memset(muonssm_buffer *buffer, size_t offset, uint8_t value,
                   size_t bytes, muonssm_stream *stream) {
  return guard(__func__, [&] {
    if (!buffer)
      return invalid("muonssm_memset: buffer is NULL");
    Status s = stream ? buffer->buffer.memsetAsync(value, bytes, stream->stream,
                                                   offset)
                      : buffer->buffer.memset(value, bytes, offset);
    return s.ok() ? int(MUONSSM_OK) : fail(s);
  });
}

int muonssm_launch(muonssm_module *module, const char *kernel,
                   const muonssm_size *sizes, size_t num_sizes,
                   const muonssm_arg *args, size_t num_args,
                   muonssm_stream *stream) {
  return guard(__func__, [&] {
    if (Status s = Driver::get().status(); !s.ok())
      return fail(s);
    if (!module || !kernel)
      return invalid("muonssm_launch: module or kernel is NULL");
    if ((num_sizes && !sizes) || (num_args && !args))
      return invalid("muonssm_launch: sizes or args is NULL");
    Sizes sizeMap;
    for (size_t i = 0; i < num_sizes; ++i) {
      if (!sizes[i].name)
        return invalid("muonssm_launch: sizes[" + std::to_string(i) +
                       "].name is NULL");
      sizeMap[sizes[i].name] = sizes[i].value;
    }
    std::vector<KernelArg> argList;
    argList.reserve(num_args);
    for (size_t i = 0; i < num_args; ++i) {
      const muonssm_arg &a = args[i];
      switch (a.type) {
      case MUONSSM_ARG_PTR:
        argList.push_back(KernelArg::ptr(a.value.ptr));
        break;
      case MUONSSM_ARG_I32:
        argList.push_back(KernelArg::i32(a.value.i32));
        break;
      case MUONSSM_ARG_I64:
        argList.push_back(KernelArg::i64(a.value.i64));
        break;
      case MUONSSM_ARG_F32:
        argList.push_back(KernelArg::f32(a.value.f32));
        break;
      case MUONSSM_ARG_F64:
        argList.push_back(KernelArg::f64(a.value.f64));
        break;
      case MUONSSM_ARG_TENSORMAP:
        argList.push_back(KernelArg::tensorMap(a.value.ptr));
        break;
      default:
        return invalid("muonssm_launch: args[" + std::to_string(i) + "].type " +
                       std::to_string(a.type) +
                       " is not a MUONSSM_ARG_* value");
      }
    }
    StatusOr<Kernel> k = module->module.kernel(kernel);
    if (!k.ok())
      return fail(k.status());
    Stream defaultStream;
    if (!stream) {
      StatusOr<Stream> wrapped = Stream::wrap(module->module.device(), nullptr);
      if (!wrapped.ok())
        return fail(wrapped.status());
      defaultStream = *wrapped;
    }
    Status s =
        launch(*k, sizeMap, argList, stream ? stream->stream : defaultStream);
    return s.ok() ? int(MUONSSM_OK) : fail(s);
  });
}

int muonssm_tensor_map_create(muonssm_device *device, uint64_t global,
                              int data_type, int rank, const uint64_t *dims,
                              const uint64_t *strides, const uint32_t *box,
                              int swizzle, int oob_fill,
                              muonssm_tensor_map **out) {
  return guard(__func__, [&] {
    const char *fn = "muonssm_tensor_map_create";
    if (!out)
      return invalid(std::string(fn) + ": out is NULL");
    *out = nullptr;
    if (!device)
      return invalid(std::string(fn) + ": device is NULL");
    if (rank < 1 || rank > 5)
      return invalid(std::string(fn) + ": rank " + std::to_string(rank) +
                     " must be in [1, 5]");
    if (!dims || !box || (rank > 1 && !strides))
      return invalid(std::string(fn) + ": dims, strides or box is NULL");
    if (data_type < MUONSSM_TMA_BF16 || data_type > MUONSSM_TMA_F32)
      return invalid(std::string(fn) + ": data_type " +
                     std::to_string(data_type) +
                     " is not a MUONSSM_TMA_* value");
    if (swizzle < MUONSSM_SWIZZLE_NONE || swizzle > MUONSSM_SWIZZLE_128B)
      return invalid(std::string(fn) + ": swizzle " + std::to_string(swizzle) +
                     " is not a MUONSSM_SWIZZLE_* value");
    if (oob_fill != MUONSSM_OOB_ZERO && oob_fill != MUONSSM_OOB_NAN)
      return invalid(std::string(fn) + ": oob_fill " +
                     std::to_string(oob_fill) +
                     " is not a MUONSSM_OOB_* value");
    TensorMapDesc desc;
    desc.dataType = static_cast<TmaDataType>(data_type);
    desc.swizzle = static_cast<TmaSwizzle>(swizzle);
    desc.oobFill =
        oob_fill == MUONSSM_OOB_NAN ? TmaOobFill::Nan : TmaOobFill::Zero;
    desc.globalDims.assign(dims, dims + rank);
    if (rank > 1)
      desc.globalStrides.assign(strides, strides + rank - 1);
    desc.boxDims.assign(box, box + rank);
    return store(makeTensorMap(device->device, global, desc), out);
  });
}

void muonssm_tensor_map_free(muonssm_tensor_map *map) { delete map; }

uint64_t muonssm_tensor_map_ptr(const muonssm_tensor_map *map) {
  return map ? map->map.ptr() : 0;
}

} // extern "C"
