//===- Safetensors.h - .safetensors reader and writer -----------*- C++ -*-===//
//
// Reads and writes Hugging Face .safetensors files for the dtypes of Npy.h.
// Like the .npy code: plain C++17, no MLIR or LLVM, built with
// -fno-exceptions, and every failure is reported by return value with a
// one-line message that names the file.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_NPY_SAFETENSORS_H
#define MUONSSM_LIB_NPY_SAFETENSORS_H

#include "lib/npy/Npy.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace muonssm::npy {

/// One tensor's entry in a .safetensors header.
struct SafetensorsEntry {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Byte offsets into the data section (not the file), end exclusive.
  uint64_t begin = 0, end = 0;
};

/// An open .safetensors file: the header parsed and checked, data read on
/// demand. Checkpoints are often larger than memory, so open() reads only the
/// header and read() only the bytes of the tensor asked for.
///
/// Accepted dtypes: "F16", "BF16", "F32", "F64", "I32" and "I64"; a tensor of
/// any other dtype makes open() fail rather than be silently skipped. The
/// "__metadata__" entry (string to string) is checked and ignored.
class SafetensorsFile {
public:
  /// Opens `path` and checks its header: every entry's fields, types and
  /// dtype, and that its data_offsets lie in the data section and hold
  /// exactly its shape's bytes. On failure returns false, leaves no tensors
  /// and sets `error` to one line "<path>: <what is wrong>".
  bool open(const std::string &path, std::string &error);

  /// The path given to open().
  const std::string &getPath() const { return path; }
  /// Tensor names in header order (excluding "__metadata__").
  const std::vector<std::string> &names() const { return tensorNames; }

  /// The entry of `name`, or nullptr.
  const SafetensorsEntry *find(const std::string &name) const;

  /// Reads tensor `name` into `out` (an Array with its dtype and shape). The
  /// file is reopened and only the tensor's bytes are read. On failure
  /// returns false, leaves `out` unchanged and sets `error` to
  /// "<path>: tensor '<name>': <what is wrong>".
  bool read(const std::string &name, Array &out, std::string &error) const;

private:
  std::string path;
  std::vector<std::string> tensorNames;
  std::map<std::string, SafetensorsEntry> entries;
  /// File offset of the data section: 8 + the header size.
  uint64_t dataStart = 0;
};

/// Writes the named arrays (in the given order) as a .safetensors file: the
/// header lists them in that order with contiguous data_offsets and is padded
/// with spaces to a multiple of 8 bytes, as the reference implementation
/// does; bf16 arrays are written as "BF16". Names must be distinct, valid
/// UTF-8 and not "__metadata__". The file is written to `path + ".tmp"` and
/// renamed over `path`, so a failure never leaves a half-written `path`.
/// Returns false with `error` set ("<path>: ...") on failure.
bool writeSafetensors(
    const std::string &path,
    const std::vector<std::pair<std::string, const Array *>> &tensors,
    std::string &error);

} // namespace muonssm::npy

#endif // MUONSSM_LIB_NPY_SAFETENSORS_H
