//===- Npy.h - NumPy .npy reader and writer ---------------------*- C++ -*-===//
//
// Reads and writes NumPy .npy files (format versions 1.0, 2.0 and 3.0) for
// the dtypes the project's kernels use. Plain C++17, no MLIR or LLVM, built
// with -fno-exceptions: every failure is reported by return value with a
// one-line message that names the file, so a tool can print it as is.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_NPY_NPY_H
#define MUONSSM_LIB_NPY_NPY_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace muonssm::npy {

enum class DType { F16, BF16, F32, F64, I32, I64 };

/// "f16", "bf16", "f32", "f64", "i32" or "i64".
const char *dtypeName(DType dtype);

/// The data size of an array of `shape` with `elemSize`-byte elements, into
/// `bytes`, checked: dims non-negative, the size at most 2^63 − 1 (numpy's
/// npy_intp; like numpy, a zero dim does not excuse the others from
/// overflowing) and addressable here. Returns "" or the problem, naming the
/// shape as `shapeText` spells it and the element type as `typeName`.
std::string checkedDataBytes(const std::vector<int64_t> &shape,
                             const std::string &shapeText,
                             const std::string &typeName, uint64_t elemSize,
                             uint64_t &bytes);

/// Bytes per element.
size_t dtypeSize(DType dtype);

/// A dense C-ordered array. `data` holds the elements as little-endian bytes
/// (what the file holds), so reading and writing never convert values.
struct Array {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  /// Product of `shape` (1 for rank 0). Dims must be non-negative.
  size_t numElements() const;

  /// Element `i` (flat, C order). Exact for every dtype except i64 values
  /// beyond 2^53; f16 and bf16 are decoded bit-exactly (subnormals, signed
  /// zeros, infinities and NaNs included).
  double getAsDouble(size_t i) const;

  /// Stores `v` into element `i`, rounding to nearest, ties to even, directly
  /// from the double (no detour through float, which would round twice).
  /// Floats: out-of-range values become +-inf, NaN stays NaN. Integers: NaN
  /// becomes 0 and out-of-range values saturate.
  void setFromDouble(size_t i, double v);

  /// An array of `shape` (non-negative dims) filled with zero bits.
  static Array zeros(DType dtype, std::vector<int64_t> shape);
};

/// Reads the .npy file at `path` into `out`. On failure returns false, leaves
/// `out` unchanged and sets `error` to one line "<path>: <what is wrong>".
///
/// Accepted descrs: '<f2', '<f4', '<f8', '<i4', '<i8' ('=' is accepted for
/// '<': the project only runs on little-endian hosts). numpy has no bfloat16,
/// so by the project's convention bf16 arrays are stored as raw bits with
/// descr '<u2'; ml_dtypes' bfloat16 arrays are saved as '|V2' or '<V2'. With
/// `expectBf16` those three are read as DType::BF16; without it they are
/// rejected, since reading uint16 as anything else would be a guess. '<f2' is
/// F16 either way (the caller sees the dtype).
///
/// The declared data size is checked against the file size before anything
/// is allocated, so a corrupt header cannot cause a huge allocation.
bool readNpy(const std::string &path, Array &out, std::string &error,
             bool expectBf16 = false);

/// Writes `array` to `path` with the exact header bytes numpy writes: format
/// 1.0, or 2.0 when the header does not fit in 65535 bytes; bf16 is written
/// as descr '<u2'. The file is written to `path + ".tmp"` and renamed over
/// `path`, so a failure never leaves a half-written `path`. Returns false
/// with `error` set ("<path>: ...") on failure.
bool writeNpy(const std::string &path, const Array &array, std::string &error);

} // namespace muonssm::npy

#endif // MUONSSM_LIB_NPY_NPY_H
