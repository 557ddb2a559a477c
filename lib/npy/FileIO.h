//===- FileIO.h - file handling shared by the array formats -----*- C++ -*-===//
//
// What the .npy and .safetensors readers and writers do alike: open a
// regular file for reading and learn its size, write a file atomically,
// and little-endian integers. Internal to MuonSSMNpy; every failure comes
// back as the part of a message after "<path>: ", which the format code
// prefixes as its other errors.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_NPY_FILEIO_H
#define MUONSSM_LIB_NPY_FILEIO_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace muonssm::npy::detail {

struct FileCloser {
  void operator()(std::FILE *f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

/// Opens `path` for reading; it must be a regular file (fopen succeeds on a
/// directory on Linux, whose "size" is meaningless). On failure returns
/// false with `what` = "cannot open: …" or "cannot read: …".
bool openForReading(const std::string &path, FilePtr &file, uint64_t &size,
                    std::string &what);

/// "cannot read: <errno's text>", or that the file changed while being read
/// when `file` shows no error (a short read at end of file).
std::string readFailure(std::FILE *file);

/// Writes the byte ranges `pieces` in order to `path + ".tmp"`, then
/// renames it over `path`, so that a failure never leaves a half-written
/// `path` (nor the temporary file). On failure returns false with `what` =
/// "cannot create …", "cannot write …" or "cannot rename …".
bool writeAtomically(const std::string &path,
                     const std::vector<std::pair<const void *, size_t>> &pieces,
                     std::string &what);

// Elements are little-endian in memory and on disk whatever the host; these
// make that explicit instead of relying on memcpy into host integers.
inline uint64_t loadLE(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

inline void storeLE(uint8_t *p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}

} // namespace muonssm::npy::detail

#endif // MUONSSM_LIB_NPY_FILEIO_H
