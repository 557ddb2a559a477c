//===- ScratchFiles.h - what the file-format tests share --------*- C++ -*-===//
//
// The .npy and .safetensors tests build files byte by byte in a scratch
// directory per test, read them back, and look for phrases in messages.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_TEST_UNIT_SCRATCHFILES_H
#define MUONSSM_TEST_UNIT_SCRATCHFILES_H

#include "lib/npy/Npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace muonssm::test {

constexpr auto npos = std::string::npos;

#define EXPECT_HAS(haystack, needle)                                           \
  EXPECT_NE((haystack).find(needle), ::muonssm::test::npos)                   \
      << "message: " << (haystack)

inline std::string le16(uint16_t v) {
  return {static_cast<char>(v), static_cast<char>(v >> 8)};
}
inline std::string le32(uint32_t v) { return le16(v) + le16(v >> 16); }
inline std::string le64(uint64_t v) { return le32(v) + le32(v >> 32); }
inline std::string f32Bytes(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return le32(bits);
}
inline std::string f64Bytes(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return le64(bits);
}

/// Element `i` of `a` as its raw little-endian bits.
inline uint64_t bitsOf(const npy::Array &a, size_t i) {
  size_t size = npy::dtypeSize(a.dtype);
  uint64_t v = 0;
  for (size_t b = 0; b < size; ++b)
    v |= uint64_t(a.data[i * size + b]) << (8 * b);
  return v;
}

/// A fresh directory per test, removed afterwards.
/// A 2×3 array of `dtype` holding values exact in every dtype (so that a
/// round trip must keep them unchanged), checked as it is set.
inline npy::Array exactArray(npy::DType dtype) {
  const double values[] = {0, 1, -2, 3, 1024, -7};
  npy::Array a = npy::Array::zeros(dtype, {2, 3});
  for (size_t i = 0; i < 6; ++i)
    a.setFromDouble(i, values[i]);
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(a.getAsDouble(i), values[i]);
  return a;
}

/// `b` is `a` read back: the same dtype, shape and bytes, and (as a check of
/// getAsDouble) the same values, NaN matching NaN.
inline void expectSameArray(const npy::Array &a, const npy::Array &b) {
  EXPECT_EQ(b.dtype, a.dtype);
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.data, a.data);
  for (size_t i = 0; i < a.numElements(); ++i) {
    double x = a.getAsDouble(i), y = b.getAsDouble(i);
    if (!(std::isnan(x) && std::isnan(y))) {
      EXPECT_EQ(y, x) << "element " << i;
    }
  }
}

class ScratchDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir = std::filesystem::path(::testing::TempDir()) /
          (std::string("muonssm_") + info->test_suite_name() + "_" +
           info->name());
    std::filesystem::remove_all(dir);
    ASSERT_TRUE(std::filesystem::create_directories(dir));
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::string pathOf(const std::string &name) const {
    return (dir / name).string();
  }

  std::string writeFile(const std::string &name, const std::string &bytes) {
    std::string path = pathOf(name);
    std::ofstream os(path, std::ios::binary);
    os.write(bytes.data(), bytes.size());
    return path;
  }

  std::string fileBytes(const std::string &path) {
    std::ifstream is(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(is), {});
  }

  std::filesystem::path dir;
};

} // namespace muonssm::test

#endif // MUONSSM_TEST_UNIT_SCRATCHFILES_H
