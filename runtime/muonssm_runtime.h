/*===- muonssm_runtime.h - C API of the muonssm GPU runtime ----------------===
 *
 * A thin C layer over runtime/Runtime.h for foreign callers (a PyTorch
 * custom op, ctypes). Opaque handles; every function that can fail returns
 * an int error code (MUONSSM_OK = 0) and, on failure, leaves a one-line
 * message for muonssm_last_error() (per thread). No call blocks without a
 * bound except the synchronous copies (see muonssm_copy_to_host).
 *
 * Typical use (error checks shortened):
 *   muonssm_device *dev; muonssm_bundle *b; muonssm_module *m;
 *   muonssm_stream *s;
 *   if (muonssm_device_open(0, &dev) ||
 *       muonssm_bundle_load("out/scan.bundle", &b) ||
 *       muonssm_module_load(dev, b, &m) ||
 *       muonssm_stream_wrap(dev, torch_stream, &s))
 *     fprintf(stderr, "%s\n", muonssm_last_error());
 *   muonssm_size sizes[] = {{"N", 2}, {"HV", 4}, {"V", 64}};
 *   muonssm_arg args[] = {muonssm_arg_ptr(q), muonssm_arg_i32(T)};
 *   muonssm_launch(m, "muonssm_scan_0", sizes, 3, args, 2, s);
 *   muonssm_synchronize(s, 30.0);
 *
 *===----------------------------------------------------------------------===*/

#ifndef MUONSSM_RUNTIME_MUONSSM_RUNTIME_H
#define MUONSSM_RUNTIME_MUONSSM_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: the values of muonssm::rt::ErrorCode. */
enum {
  MUONSSM_OK = 0,
  MUONSSM_ERROR_NO_DRIVER = 1,
  MUONSSM_ERROR_NO_DEVICE = 2,
  MUONSSM_ERROR_INVALID_ARGUMENT = 3,
  MUONSSM_ERROR_BAD_BUNDLE = 4,
  MUONSSM_ERROR_NOT_FOUND = 5,
  MUONSSM_ERROR_UNSUPPORTED_ARCH = 6,
  MUONSSM_ERROR_OUT_OF_MEMORY = 7,
  MUONSSM_ERROR_TIMEOUT = 8,
  MUONSSM_ERROR_IO = 9,
  MUONSSM_ERROR_CUDA = 10,
  MUONSSM_ERROR_INTERNAL = 11 /* a C++ exception reached the C boundary */
};

typedef struct muonssm_device muonssm_device;
typedef struct muonssm_bundle muonssm_bundle;
typedef struct muonssm_module muonssm_module;
typedef struct muonssm_stream muonssm_stream;
typedef struct muonssm_buffer muonssm_buffer;
typedef struct muonssm_tensor_map muonssm_tensor_map;

/* The message of the last failed call on this thread ("" if none). Valid
 * until the next failing call on the same thread. */
const char *muonssm_last_error(void);
/* "ok", "no-driver", ... for a code. */
const char *muonssm_error_name(int code);

/* --- Driver and devices ------------------------------------------------- */

/* 1 if libcuda.so.1 loaded and cuInit succeeded, else 0 (the reason is
 * then in muonssm_last_error()). */
int muonssm_driver_available(void);
/* cuDriverGetVersion(), e.g. 13000. */
int muonssm_driver_version(int *version);
int muonssm_device_count(int *count);
int muonssm_device_open(int ordinal, muonssm_device **out);
void muonssm_device_close(muonssm_device *device);
/* "sm_90a"; valid while the device is open. NULL for NULL. */
const char *muonssm_device_arch(const muonssm_device *device);
const char *muonssm_device_name(const muonssm_device *device);

/* --- Bundles and modules ------------------------------------------------ */

int muonssm_bundle_load(const char *dir, muonssm_bundle **out);
void muonssm_bundle_free(muonssm_bundle *bundle);
/* Loads the bundle on the device (cubin, JIT cache, or JIT). The module
 * keeps what it needs: the bundle may be freed afterwards. */
int muonssm_module_load(muonssm_device *device, const muonssm_bundle *bundle,
                        muonssm_module **out);
void muonssm_module_free(muonssm_module *module);

/* --- Streams ------------------------------------------------------------ */

int muonssm_stream_create(muonssm_device *device, muonssm_stream **out);
/* Wraps a CUstream / cudaStream_t (not owned); NULL is the legacy default
 * stream. */
int muonssm_stream_wrap(muonssm_device *device, void *cu_stream,
                        muonssm_stream **out);
void muonssm_stream_free(muonssm_stream *stream);
/* Waits at most timeout_seconds for the stream's work: MUONSSM_ERROR_TIMEOUT
 * when it is still running, the kernel's CUDA error if it failed. */
int muonssm_synchronize(muonssm_stream *stream, double timeout_seconds);

/* --- Memory ------------------------------------------------------------- */

int muonssm_buffer_alloc(muonssm_device *device, size_t bytes,
                         muonssm_buffer **out);
void muonssm_buffer_free(muonssm_buffer *buffer);
uint64_t muonssm_buffer_ptr(const muonssm_buffer *buffer);
size_t muonssm_buffer_size(const muonssm_buffer *buffer);
/* Copies bytes [offset, offset + bytes) of the buffer. With stream NULL the
 * copy is synchronous (legacy default stream); otherwise it is queued on
 * the stream and the host memory must stay valid until it completes. */
int muonssm_copy_to_device(muonssm_buffer *dst, size_t offset, const void *src,
                           size_t bytes, muonssm_stream *stream);
int muonssm_copy_to_host(void *dst, const muonssm_buffer *src, size_t offset,
                         size_t bytes, muonssm_stream *stream);
int muonssm_memset(muonssm_buffer *buffer, size_t offset, uint8_t value,
                   size_t bytes, muonssm_stream *stream);

/* --- Launch ------------------------------------------------------------- */

typedef struct muonssm_size {
  const char *name;
  int64_t value;
} muonssm_size;

enum {
  MUONSSM_ARG_PTR = 0,
  MUONSSM_ARG_I32 = 1,
  MUONSSM_ARG_I64 = 2,
  MUONSSM_ARG_F32 = 3,
  MUONSSM_ARG_F64 = 4,
  MUONSSM_ARG_TENSORMAP = 5
};

typedef struct muonssm_arg {
  int type; /* MUONSSM_ARG_* */
  union {
    uint64_t ptr; /* PTR and TENSORMAP: a device address */
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
  } value;
} muonssm_arg;

static inline muonssm_arg muonssm_arg_ptr(uint64_t p) {
  muonssm_arg a;
  a.type = MUONSSM_ARG_PTR;
  a.value.ptr = p;
  return a;
}
static inline muonssm_arg muonssm_arg_i32(int32_t v) {
  muonssm_arg a;
  a.type = MUONSSM_ARG_I32;
  a.value.i64 = 0;
  a.value.i32 = v;
  return a;
}
static inline muonssm_arg muonssm_arg_i64(int64_t v) {
  muonssm_arg a;
  a.type = MUONSSM_ARG_I64;
  a.value.i64 = v;
  return a;
}
static inline muonssm_arg muonssm_arg_f32(float v) {
  muonssm_arg a;
  a.type = MUONSSM_ARG_F32;
  a.value.i64 = 0;
  a.value.f32 = v;
  return a;
}
static inline muonssm_arg muonssm_arg_f64(double v) {
  muonssm_arg a;
  a.type = MUONSSM_ARG_F64;
  a.value.f64 = v;
  return a;
}
static inline muonssm_arg muonssm_arg_tensor_map(uint64_t map_ptr) {
  muonssm_arg a;
  a.type = MUONSSM_ARG_TENSORMAP;
  a.value.ptr = map_ptr;
  return a;
}

/* Launches kernel `kernel` of the module: grid from the manifest's
 * expressions over `sizes`, block and shared memory from the manifest, args
 * checked against its params. stream NULL: the legacy default stream. */
int muonssm_launch(muonssm_module *module, const char *kernel,
                   const muonssm_size *sizes, size_t num_sizes,
                   const muonssm_arg *args, size_t num_args,
                   muonssm_stream *stream);

/* --- TMA ---------------------------------------------------------------- */

enum { MUONSSM_TMA_BF16 = 0, MUONSSM_TMA_F16 = 1, MUONSSM_TMA_F32 = 2 };
enum {
  MUONSSM_SWIZZLE_NONE = 0,
  MUONSSM_SWIZZLE_32B = 1,
  MUONSSM_SWIZZLE_64B = 2,
  MUONSSM_SWIZZLE_128B = 3
};
enum { MUONSSM_OOB_ZERO = 0, MUONSSM_OOB_NAN = 1 };

/* A tiled tensor map over `global` (innermost dimension first): dims[rank]
 * elements, strides[rank - 1] bytes of dims 1..rank-1, box[rank] elements.
 * Pass muonssm_tensor_map_ptr() as a MUONSSM_ARG_TENSORMAP argument. */
int muonssm_tensor_map_create(muonssm_device *device, uint64_t global,
                              int data_type, int rank, const uint64_t *dims,
                              const uint64_t *strides, const uint32_t *box,
                              int swizzle, int oob_fill,
                              muonssm_tensor_map **out);
void muonssm_tensor_map_free(muonssm_tensor_map *map);
uint64_t muonssm_tensor_map_ptr(const muonssm_tensor_map *map);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MUONSSM_RUNTIME_MUONSSM_RUNTIME_H */
