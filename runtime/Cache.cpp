//===- Cache.cpp - the on-disk JIT cache and file helpers -----------------===//
//
// JIT results (cubins) are stored as <cache dir>/<key>.cubin, where the key
// hashes everything the result depends on. Entries are written to a unique
// temporary file in the same directory and renamed into place, so a reader
// (another process included) sees either no entry or a whole one.
//
//===----------------------------------------------------------------------===//

#include "runtime/Runtime.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

using namespace muonssm::rt;
namespace fs = std::filesystem;

//===----------------------------------------------------------------------===//
// SHA-256 (FIPS 180-4)
//===----------------------------------------------------------------------===//

namespace {

class Sha256 {
public:
  void update(const uint8_t *data, size_t size) {
    length_ += size;
    while (size > 0) {
      size_t n = std::min(size, sizeof(buffer_) - used_);
      std::memcpy(buffer_ + used_, data, n);
      used_ += n;
      data += n;
      size -= n;
      if (used_ == sizeof(buffer_)) {
        compress(buffer_);
        used_ = 0;
      }
    }
  }

  std::string hexDigest() {
    uint64_t bits = length_ * 8;
    const uint8_t one = 0x80, zero = 0;
    update(&one, 1);
    while (used_ != 56)
      update(&zero, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i)
      len[i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    update(len, 8);
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    for (uint32_t word : state_)
      for (int shift = 28; shift >= 0; shift -= 4)
        hex += digits[(word >> shift) & 0xf];
    return hex;
  }

private:
  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void compress(const uint8_t *block) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
        0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
        0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = uint32_t(block[4 * i]) << 24 | uint32_t(block[4 * i + 1]) << 16 |
             uint32_t(block[4 * i + 2]) << 8 | uint32_t(block[4 * i + 3]);
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3],
             e = state_[4], f = state_[5], g = state_[6], h = state_[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      uint32_t ch = (e & f) ^ (~e & g);
      uint32_t t1 = h + s1 + ch + k[i] + w[i];
      uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      uint32_t t2 = s0 + maj;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
    state_[4] += e;
    state_[5] += f;
    state_[6] += g;
    state_[7] += h;
  }

  uint32_t state_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  uint8_t buffer_[64] = {};
  size_t used_ = 0;
  uint64_t length_ = 0;
};

std::string env(const char *name) {
  const char *v = std::getenv(name);
  return v ? v : "";
}

uint64_t le(const std::string &bytes, size_t offset, int size) {
  uint64_t v = 0;
  for (int i = size - 1; i >= 0; --i)
    v = v << 8 | static_cast<uint8_t>(bytes[offset + i]);
  return v;
}

} // namespace

std::string cache::sha256Hex(const std::string &bytes) {
  Sha256 h;
  h.update(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
  return h.hexDigest();
}

//===----------------------------------------------------------------------===//
// Cache directory and keys
//===----------------------------------------------------------------------===//

StatusOr<std::string> cache::directory() {
  if (std::string dir = env("MUONSSM_CACHE_DIR"); !dir.empty())
    return dir;
  if (std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty())
    return (fs::path(xdg) / "muonssm").string();
  std::string home = env("HOME");
  if (home.empty())
    if (const passwd *pw = getpwuid(getuid()); pw && pw->pw_dir)
      home = pw->pw_dir;
  if (home.empty())
    return Status::error(ErrorCode::Io,
                         "no JIT cache directory: set MUONSSM_CACHE_DIR "
                         "(neither XDG_CACHE_HOME nor HOME is set)");
  return (fs::path(home) / ".cache" / "muonssm").string();
}

std::string cache::key(const std::string &irHash, const std::string &arch,
                       const std::string &compiler, int driverVersion,
                       const std::string &ptx) {
  // Length-prefixed fields: no two different tuples give the same text.
  std::string text = "muonssm-jit-cache-1\n";
  for (const std::string &field :
       {irHash, arch, compiler, std::to_string(driverVersion), sha256Hex(ptx)})
    text += std::to_string(field.size()) + ":" + field + "\n";
  return sha256Hex(text);
}

std::string cache::entryPath(const std::string &dir, const std::string &key) {
  return (fs::path(dir) / (key + ".cubin")).string();
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

StatusOr<std::string> cache::readFile(const std::string &path) {
  errno = 0;
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return Status::error(ErrorCode::Io,
                         "cannot read '" + path + "': " + std::strerror(errno));
  std::string bytes;
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0)
    bytes.append(chunk, n);
  int readErrno = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (readErrno != 0)
    return Status::error(ErrorCode::Io, "cannot read '" + path +
                                            "': " + std::strerror(readErrno));
  return bytes;
}

Status cache::writeAtomic(const std::string &path, const std::string &bytes) {
  fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty())
    dir = ".";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return Status::error(ErrorCode::Io, "cannot create directory '" +
                                            dir.string() +
                                            "': " + ec.message());
  static std::atomic<unsigned> counter{0};
  auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
  fs::path tmp =
      dir / ("." + target.filename().string() + ".tmp." +
             std::to_string(getpid()) + "." + std::to_string(counter++) + "." +
             std::to_string(static_cast<unsigned long long>(ticks) % 1000003));

  errno = 0;
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return Status::error(ErrorCode::Io, "cannot write '" + tmp.string() +
                                            "': " + std::strerror(errno));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = std::fflush(f) == 0 && ok;
  ok = ::fsync(fileno(f)) == 0 && ok;
  int writeErrno = errno;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    return Status::error(ErrorCode::Io, "cannot write '" + tmp.string() +
                                            "': " + std::strerror(writeErrno));
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    int renameErrno = errno;
    std::remove(tmp.c_str());
    return Status::error(ErrorCode::Io, "cannot rename '" + tmp.string() +
                                            "' to '" + path +
                                            "': " + std::strerror(renameErrno));
  }
  return Status::success();
}

bool cache::looksLikeCubin(const std::string &bytes) {
  // ELF64 header: e_ident (16), e_type (2), e_machine (2) = EM_CUDA (190),
  // ..., e_phoff @0x20, e_shoff @0x28, e_phentsize @0x36, e_phnum @0x38,
  // e_shentsize @0x3A, e_shnum @0x3C.
  const uint64_t size = bytes.size();
  if (size < 64 || bytes.compare(0, 4,
                                 "\x7f"
                                 "ELF") != 0)
    return false;
  if (bytes[4] != 2 /*ELFCLASS64*/ || bytes[5] != 1 /*little-endian*/)
    return false;
  if (le(bytes, 18, 2) != 190)
    return false;
  uint64_t phoff = le(bytes, 0x20, 8), shoff = le(bytes, 0x28, 8);
  uint64_t phentsize = le(bytes, 0x36, 2), phnum = le(bytes, 0x38, 2);
  uint64_t shentsize = le(bytes, 0x3A, 2), shnum = le(bytes, 0x3C, 2);
  if (phnum && (phoff > size || phnum * phentsize > size - phoff))
    return false;
  if (shnum) {
    if (shentsize < 64 || shoff > size || shnum * shentsize > size - shoff)
      return false;
    // Every section with contents lies inside the file.
    for (uint64_t i = 0; i < shnum; ++i) {
      size_t h = static_cast<size_t>(shoff + i * shentsize);
      uint64_t type = le(bytes, h + 4, 4);
      uint64_t offset = le(bytes, h + 0x18, 8), length = le(bytes, h + 0x20, 8);
      if (type != 8 /*SHT_NOBITS*/ && type != 0 &&
          (offset > size || length > size - offset))
        return false;
    }
  }
  return true;
}
