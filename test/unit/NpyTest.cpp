//===- NpyTest.cpp - tests for lib/npy ------------------------------------===//
//
// The files read here are built byte by byte in the test, laid out the way
// numpy's format.py writes them, so the test needs no Python.
//
//===----------------------------------------------------------------------===//

#include "lib/npy/Npy.h"

#include "test/unit/ScratchFiles.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

using namespace muonssm::npy;
using namespace muonssm::test;
namespace fs = std::filesystem;

namespace {

// A .npy file as numpy lays it out: magic, version, header length, `dict`,
// spaces so that the data starts on a multiple of `align`, '\n', `data`.
// (numpy aligns to 64; releases before 1.13 aligned to 16.)
std::string npyFile(const std::string &dict, const std::string &data,
                    int major = 1, size_t align = 64) {
  size_t prefixLen = major == 1 ? 10 : 12;
  size_t hlen = dict.size() + 1;
  size_t pad = align - (prefixLen + hlen) % align;
  std::string bytes = std::string("\x93NUMPY") + static_cast<char>(major) +
                      '\0' + (major == 1 ? le16(hlen + pad) : le32(hlen + pad));
  return bytes + dict + std::string(pad, ' ') + "\n" + data;
}

std::string dictFor(const std::string &descr, const std::string &shape,
                    const char *fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran +
         ", 'shape': " + shape + ", }";
}

// The header numpy writes for a (2, 3) '<f4' array, spelled out: a 59-byte
// dict, 20 spaces of growth room (21 minus the digits of the first dim), 38
// spaces of padding and '\n', so 118 (0x76) header bytes and the data at 128.
const std::string kNumpyF32x2x3Header =
    std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
    std::string(20 + 38, ' ') + "\n";

class NpyTest : public ScratchDirTest {
protected:
  // Writes `bytes` as q.npy, reads it back and expects success.
  Array readOk(const std::string &bytes, bool expectBf16 = false) {
    std::string path = writeFile("q.npy", bytes);
    Array array;
    std::string error;
    EXPECT_TRUE(readNpy(path, array, error, expectBf16)) << error;
    EXPECT_TRUE(error.empty());
    return array;
  }

  // Writes `bytes` as q.npy and expects readNpy to fail with one line that
  // starts with the file's path.
  std::string readFails(const std::string &bytes, bool expectBf16 = false) {
    std::string path = writeFile("q.npy", bytes);
    Array array;
    std::string error;
    EXPECT_FALSE(readNpy(path, array, error, expectBf16));
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
    EXPECT_EQ(error.find('\n'), npos) << error;
    return error;
  }

};


// One element of `dtype` holding the bit pattern `bits`.
Array fromBits(DType dtype, uint64_t bits) {
  Array a = Array::zeros(dtype, {});
  for (size_t b = 0; b < dtypeSize(dtype); ++b)
    a.data[b] = static_cast<uint8_t>(bits >> (8 * b));
  return a;
}

uint64_t encode(DType dtype, double v) {
  Array a = Array::zeros(dtype, {});
  a.setFromDouble(0, v);
  return bitsOf(a, 0);
}

double decode(DType dtype, uint64_t bits) {
  return fromBits(dtype, bits).getAsDouble(0);
}

const DType kAllDTypes[] = {DType::F16, DType::BF16, DType::F32,
                            DType::F64, DType::I32,  DType::I64};

//===----------------------------------------------------------------------===//
// Basics
//===----------------------------------------------------------------------===//

TEST_F(NpyTest, DTypeNamesAndSizes) {
  EXPECT_STREQ(dtypeName(DType::F16), "f16");
  EXPECT_STREQ(dtypeName(DType::BF16), "bf16");
  EXPECT_STREQ(dtypeName(DType::F32), "f32");
  EXPECT_STREQ(dtypeName(DType::F64), "f64");
  EXPECT_STREQ(dtypeName(DType::I32), "i32");
  EXPECT_STREQ(dtypeName(DType::I64), "i64");
  EXPECT_EQ(dtypeSize(DType::F16), 2u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::F32), 4u);
  EXPECT_EQ(dtypeSize(DType::F64), 8u);
  EXPECT_EQ(dtypeSize(DType::I32), 4u);
  EXPECT_EQ(dtypeSize(DType::I64), 8u);
}

TEST_F(NpyTest, ZerosAndNumElements) {
  Array scalar = Array::zeros(DType::F64, {});
  EXPECT_EQ(scalar.numElements(), 1u);
  EXPECT_EQ(scalar.data.size(), 8u);
  Array empty = Array::zeros(DType::I32, {2, 0, 3});
  EXPECT_EQ(empty.numElements(), 0u);
  EXPECT_TRUE(empty.data.empty());
  Array a = Array::zeros(DType::BF16, {2, 3, 4});
  EXPECT_EQ(a.dtype, DType::BF16);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(a.numElements(), 24u);
  EXPECT_EQ(a.data, std::vector<uint8_t>(48, 0));
}

//===----------------------------------------------------------------------===//
// Round trips through writeNpy and readNpy
//===----------------------------------------------------------------------===//

void expectRoundTrip(const std::string &path, const Array &a) {
  SCOPED_TRACE(std::string(dtypeName(a.dtype)) + " rank " +
               std::to_string(a.shape.size()));
  std::string error;
  ASSERT_TRUE(writeNpy(path, a, error)) << error;
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  Array b;
  ASSERT_TRUE(readNpy(path, b, error, a.dtype == DType::BF16)) << error;
  expectSameArray(a, b);
}

TEST_F(NpyTest, RoundTripEveryDType) {
  // Values exact in every dtype must survive unchanged.
  for (DType dtype : kAllDTypes) {
    Array a = exactArray(dtype);
    expectRoundTrip(pathOf(std::string(dtypeName(dtype)) + ".npy"), a);
  }
}

TEST_F(NpyTest, RoundTripRank0) {
  for (DType dtype : kAllDTypes) {
    Array a = Array::zeros(dtype, {});
    a.setFromDouble(0, -42);
    expectRoundTrip(pathOf(std::string(dtypeName(dtype)) + ".npy"), a);
  }
}

TEST_F(NpyTest, RoundTripRank4) {
  for (DType dtype : kAllDTypes) {
    Array a = Array::zeros(dtype, {2, 3, 1, 4});
    for (size_t i = 0; i < a.numElements(); ++i)
      a.setFromDouble(i, static_cast<double>(i) * 0.25 - 3);
    expectRoundTrip(pathOf(std::string(dtypeName(dtype)) + ".npy"), a);
  }
}

TEST_F(NpyTest, RoundTripEmptyAndRank1) {
  expectRoundTrip(pathOf("empty.npy"), Array::zeros(DType::F32, {0, 5}));
  Array v = Array::zeros(DType::F64, {5});
  for (size_t i = 0; i < 5; ++i)
    v.setFromDouble(i, 0.1 * static_cast<double>(i));
  expectRoundTrip(pathOf("v.npy"), v);
}

TEST_F(NpyTest, RoundTripSpecialValues) {
  const double inf = std::numeric_limits<double>::infinity();
  for (DType dtype : {DType::F16, DType::BF16, DType::F32, DType::F64}) {
    Array a = Array::zeros(dtype, {4});
    a.setFromDouble(0, inf);
    a.setFromDouble(1, -inf);
    a.setFromDouble(2, std::nan(""));
    a.setFromDouble(3, -0.0);
    expectRoundTrip(pathOf("s.npy"), a);
    Array b;
    std::string error;
    ASSERT_TRUE(readNpy(pathOf("s.npy"), b, error, true)) << error;
    EXPECT_EQ(b.getAsDouble(0), inf);
    EXPECT_EQ(b.getAsDouble(1), -inf);
    EXPECT_TRUE(std::isnan(b.getAsDouble(2)));
    EXPECT_TRUE(std::signbit(b.getAsDouble(3)));
  }
}

//===----------------------------------------------------------------------===//
// The writer's bytes are numpy's
//===----------------------------------------------------------------------===//

TEST_F(NpyTest, WriterMatchesNumpyBytes) {
  Array a = Array::zeros(DType::F32, {2, 3});
  std::string data;
  for (size_t i = 0; i < 6; ++i) {
    a.setFromDouble(i, 0.5 * static_cast<double>(i) - 1);
    data += f32Bytes(0.5f * static_cast<float>(i) - 1);
  }
  std::string error;
  ASSERT_TRUE(writeNpy(pathOf("a.npy"), a, error)) << error;
  std::string bytes = fileBytes(pathOf("a.npy"));
  ASSERT_EQ(kNumpyF32x2x3Header.size(), 128u);
  EXPECT_EQ(bytes, kNumpyF32x2x3Header + data);
}

TEST_F(NpyTest, WriterMatchesNumpyBytesRank0Rank1AndBf16) {
  std::string error;
  // Rank 0: no growth room. 55 + 62 + 1 = 118 header bytes.
  Array scalar = Array::zeros(DType::F64, {});
  scalar.setFromDouble(0, 2.5);
  ASSERT_TRUE(writeNpy(pathOf("s.npy"), scalar, error)) << error;
  EXPECT_EQ(fileBytes(pathOf("s.npy")),
            std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), }" +
                std::string(62, ' ') + "\n" + f64Bytes(2.5));

  // Rank 1 with a two-digit dim: 58 + 19 + 40 + 1 = 118.
  Array v = Array::zeros(DType::I64, {10});
  v.setFromDouble(9, -1);
  ASSERT_TRUE(writeNpy(pathOf("v.npy"), v, error)) << error;
  EXPECT_EQ(fileBytes(pathOf("v.npy")),
            std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                "{'descr': '<i8', 'fortran_order': False, 'shape': (10,), }" +
                std::string(19 + 40, ' ') + "\n" + std::string(72, '\0') +
                le64(~uint64_t(0)));

  // bf16 is stored as its raw bits under '<u2'.
  Array h = Array::zeros(DType::BF16, {1});
  h.setFromDouble(0, 1.0);
  ASSERT_TRUE(writeNpy(pathOf("h.npy"), h, error)) << error;
  std::string bytes = fileBytes(pathOf("h.npy"));
  EXPECT_HAS(bytes,
             "{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }");
  EXPECT_EQ(bytes.size(), 130u);
  EXPECT_EQ(bytes.substr(128), le16(0x3f80));
}

TEST_F(NpyTest, WriterUsesVersion2ForHugeHeaders) {
  // 30000 dims of 1 make a ~90 kB header, past version 1.0's uint16 length.
  Array a = Array::zeros(DType::F32, std::vector<int64_t>(30000, 1));
  a.setFromDouble(0, 7);
  std::string error;
  ASSERT_TRUE(writeNpy(pathOf("big.npy"), a, error)) << error;
  std::string bytes = fileBytes(pathOf("big.npy"));
  ASSERT_GT(bytes.size(), 12u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x02\x00", 8));
  uint32_t headerLen = 0;
  for (int i = 0; i < 4; ++i)
    headerLen |= uint32_t(uint8_t(bytes[8 + i])) << (8 * i);
  EXPECT_GT(headerLen, 65535u);
  EXPECT_EQ((12 + headerLen) % 64, 0u);
  EXPECT_EQ(bytes[12 + headerLen - 1], '\n');
  EXPECT_EQ(bytes.size(), 12 + headerLen + 4);
  Array b;
  ASSERT_TRUE(readNpy(pathOf("big.npy"), b, error)) << error;
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.getAsDouble(0), 7);
}

TEST_F(NpyTest, WriterReplacesExistingFile) {
  std::string path = writeFile("a.npy", "old contents");
  Array a = Array::zeros(DType::I32, {3});
  std::string error;
  ASSERT_TRUE(writeNpy(path, a, error)) << error;
  EXPECT_EQ(fileBytes(path).size(), 128u + 12u);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST_F(NpyTest, FailedWriteLeavesNoFile) {
  std::string error;
  // Missing directory.
  std::string path = pathOf("missing/a.npy");
  EXPECT_FALSE(writeNpy(path, Array::zeros(DType::F32, {2}), error));
  EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
  EXPECT_HAS(error, "No such file or directory");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  // Data that does not match the shape; an existing file stays untouched.
  path = writeFile("b.npy", "keep me");
  Array bad = Array::zeros(DType::F32, {2, 3});
  bad.data.resize(20);
  EXPECT_FALSE(writeNpy(path, bad, error));
  EXPECT_HAS(error, "holds 20 bytes of data but shape (2, 3) of f32 needs 24");
  EXPECT_EQ(fileBytes(path), "keep me");
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  Array negative;
  negative.shape = {2, -1};
  EXPECT_FALSE(writeNpy(pathOf("c.npy"), negative, error));
  EXPECT_HAS(error, "negative dimension -1");
  EXPECT_FALSE(fs::exists(pathOf("c.npy")));
}

//===----------------------------------------------------------------------===//
// Reading files laid out by hand
//===----------------------------------------------------------------------===//

TEST_F(NpyTest, ReadsNumpyV1File) {
  std::string data;
  for (float f : {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f})
    data += f32Bytes(f);
  Array a = readOk(kNumpyF32x2x3Header + data);
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(a.numElements(), 6u);
  EXPECT_EQ(a.getAsDouble(0), 1.0);
  EXPECT_EQ(a.getAsDouble(1), -2.5);
  EXPECT_EQ(a.getAsDouble(2), 3.25);
  EXPECT_EQ(a.getAsDouble(3), 0.0);
  EXPECT_EQ(a.getAsDouble(4), static_cast<double>(1e-3f));
  EXPECT_EQ(a.getAsDouble(5), 65504.0);
}

TEST_F(NpyTest, ReadsEveryDescr) {
  Array f8 = readOk(npyFile(dictFor("<f8", "()"), f64Bytes(0.1)));
  EXPECT_EQ(f8.dtype, DType::F64);
  EXPECT_TRUE(f8.shape.empty());
  EXPECT_EQ(f8.getAsDouble(0), 0.1);

  Array i4 = readOk(npyFile(dictFor("<i4", "(3,)"),
                            le32(7) + le32(uint32_t(-8)) + le32(0x80000000u)));
  EXPECT_EQ(i4.dtype, DType::I32);
  EXPECT_EQ(i4.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(i4.getAsDouble(0), 7);
  EXPECT_EQ(i4.getAsDouble(1), -8);
  EXPECT_EQ(i4.getAsDouble(2), -2147483648.0);

  Array i8 = readOk(npyFile(dictFor("<i8", "(2, 1)"),
                            le64(uint64_t(-5)) + le64(uint64_t(1) << 40)));
  EXPECT_EQ(i8.dtype, DType::I64);
  EXPECT_EQ(i8.getAsDouble(0), -5);
  EXPECT_EQ(i8.getAsDouble(1), 1099511627776.0);

  Array f2 =
      readOk(npyFile(dictFor("<f2", "(2,)"), le16(0x3c00) + le16(0xc100)));
  EXPECT_EQ(f2.dtype, DType::F16);
  EXPECT_EQ(f2.getAsDouble(0), 1.0);
  EXPECT_EQ(f2.getAsDouble(1), -2.5);

  // '<f2' is f16 even when the caller expects bf16; it can check the dtype.
  EXPECT_EQ(readOk(npyFile(dictFor("<f2", "(2,)"), le32(0)), true).dtype,
            DType::F16);
  // '=' is native order, little-endian here.
  EXPECT_EQ(readOk(npyFile(dictFor("=f4", "()"), f32Bytes(2))).getAsDouble(0),
            2.0);
}

TEST_F(NpyTest, ReadsBf16Descrs) {
  for (const char *descr : {"<u2", "|V2", "<V2"}) {
    SCOPED_TRACE(descr);
    Array a = readOk(npyFile(dictFor(descr, "(3,)"),
                             le16(0x3f80) + le16(0xc020) + le16(0x7f80)),
                     /*expectBf16=*/true);
    EXPECT_EQ(a.dtype, DType::BF16);
    EXPECT_EQ(a.getAsDouble(0), 1.0);
    EXPECT_EQ(a.getAsDouble(1), -2.5);
    EXPECT_EQ(a.getAsDouble(2), std::numeric_limits<double>::infinity());
  }
}

TEST_F(NpyTest, ReadsVersion2And3Headers) {
  for (int major : {2, 3}) {
    SCOPED_TRACE(major);
    std::string bytes =
        npyFile(dictFor("<f4", "(2,)"), f32Bytes(1.5f) + f32Bytes(-4), major);
    EXPECT_EQ(bytes.substr(0, 8),
              std::string("\x93NUMPY", 6) + char(major) + '\0');
    EXPECT_EQ((bytes.size() - 8) % 64, 0u);
    Array a = readOk(bytes);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2}));
    EXPECT_EQ(a.getAsDouble(0), 1.5);
    EXPECT_EQ(a.getAsDouble(1), -4.0);
  }
}

TEST_F(NpyTest, ReadsHeaderSpellingVariants) {
  const std::string data = f32Bytes(1) + f32Bytes(2);
  const char *dicts[] = {
      // Double quotes, no trailing comma, keys in another order.
      "{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"<f4\"}",
      // Odd whitespace everywhere.
      "{ 'descr' :'<f4' ,'fortran_order':False,'shape':( 1 ,2 , ) , }",
      // Python 2 numpy's long ints.
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2L), }",
      "{'descr':'<f4','fortran_order':False,'shape':(1,2)}",
  };
  for (const char *dict : dicts) {
    SCOPED_TRACE(dict);
    Array a = readOk(npyFile(dict, data));
    EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(a.getAsDouble(1), 2.0);
  }
  // numpy before 1.13 aligned the data to 16 bytes, not 64.
  Array old = readOk(npyFile(dictFor("<f4", "(1, 2)"), data, 1, 16));
  EXPECT_EQ(old.getAsDouble(0), 1.0);
}

//===----------------------------------------------------------------------===//
// f16 / bf16 / f32 / int conversions
//===----------------------------------------------------------------------===//

TEST_F(NpyTest, DecodesF16BitPatterns) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(decode(DType::F16, 0x3c00), 1.0);
  EXPECT_EQ(decode(DType::F16, 0xc100), -2.5);
  EXPECT_EQ(decode(DType::F16, 0x7bff), 65504.0);
  EXPECT_EQ(decode(DType::F16, 0x0001), std::ldexp(1.0, -24));
  EXPECT_EQ(decode(DType::F16, 0x03ff), std::ldexp(1023.0, -24));
  EXPECT_EQ(decode(DType::F16, 0x0400), std::ldexp(1.0, -14));
  EXPECT_EQ(decode(DType::F16, 0x3555), 0.333251953125);
  EXPECT_EQ(decode(DType::F16, 0x7c00), inf);
  EXPECT_EQ(decode(DType::F16, 0xfc00), -inf);
  EXPECT_TRUE(std::isnan(decode(DType::F16, 0x7e00)));
  EXPECT_TRUE(std::isnan(decode(DType::F16, 0x7c01)));
  EXPECT_EQ(decode(DType::F16, 0x8000), 0.0);
  EXPECT_TRUE(std::signbit(decode(DType::F16, 0x8000)));
}

TEST_F(NpyTest, DecodesBf16BitPatterns) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(decode(DType::BF16, 0x3f80), 1.0);
  EXPECT_EQ(decode(DType::BF16, 0xc020), -2.5);
  EXPECT_EQ(decode(DType::BF16, 0x4049), 3.140625);
  EXPECT_EQ(decode(DType::BF16, 0x477f), 65280.0);
  EXPECT_EQ(decode(DType::BF16, 0x7f7f), std::ldexp(255.0, 120));
  EXPECT_EQ(decode(DType::BF16, 0x0001), std::ldexp(1.0, -133));
  EXPECT_EQ(decode(DType::BF16, 0x0080), std::ldexp(1.0, -126));
  EXPECT_EQ(decode(DType::BF16, 0x7f80), inf);
  EXPECT_EQ(decode(DType::BF16, 0xff80), -inf);
  EXPECT_TRUE(std::isnan(decode(DType::BF16, 0x7fc0)));
  EXPECT_TRUE(std::signbit(decode(DType::BF16, 0x8000)));
}

TEST_F(NpyTest, F16RoundsToNearestEven) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(encode(DType::F16, 1.0), 0x3c00u);
  EXPECT_EQ(encode(DType::F16, -2.5), 0xc100u);
  EXPECT_EQ(encode(DType::F16, 65504), 0x7bffu);
  EXPECT_EQ(encode(DType::F16, 0.1), 0x2e66u);
  // Ties: 1 + 2^-11 lies halfway between 0x3c00 and 0x3c01 (goes to the even
  // one), 1 + 3 * 2^-11 halfway between 0x3c01 and 0x3c02.
  EXPECT_EQ(encode(DType::F16, 1 + std::ldexp(1, -11)), 0x3c00u);
  EXPECT_EQ(encode(DType::F16, 1 + 3 * std::ldexp(1, -11)), 0x3c02u);
  EXPECT_EQ(encode(DType::F16, 1 + std::ldexp(1, -11) + std::ldexp(1, -30)),
            0x3c01u);
  EXPECT_EQ(encode(DType::F16, -(1 + std::ldexp(1, -11))), 0xbc00u);
  // A tie that carries into the exponent: 2 - 2^-11 -> 2.0.
  EXPECT_EQ(encode(DType::F16, 2 - std::ldexp(1, -11)), 0x4000u);
  // Overflow: 65520 is halfway between 65504 and 2^16, and goes to even,
  // which is out of range.
  EXPECT_EQ(encode(DType::F16, 65519.99), 0x7bffu);
  EXPECT_EQ(encode(DType::F16, 65520), 0x7c00u);
  EXPECT_EQ(encode(DType::F16, -65520), 0xfc00u);
  EXPECT_EQ(encode(DType::F16, 1e300), 0x7c00u);
  EXPECT_EQ(encode(DType::F16, inf), 0x7c00u);
  EXPECT_EQ(encode(DType::F16, -inf), 0xfc00u);
  // Subnormals: 2^-25 is halfway between 0 and the smallest subnormal.
  EXPECT_EQ(encode(DType::F16, std::ldexp(1, -24)), 0x0001u);
  EXPECT_EQ(encode(DType::F16, std::ldexp(1, -25)), 0x0000u);
  EXPECT_EQ(encode(DType::F16, std::ldexp(1, -25) + std::ldexp(1, -40)),
            0x0001u);
  EXPECT_EQ(encode(DType::F16, 3 * std::ldexp(1, -25)), 0x0002u);
  // Halfway between the largest subnormal and the smallest normal.
  EXPECT_EQ(encode(DType::F16, std::ldexp(2047, -25)), 0x0400u);
  EXPECT_EQ(encode(DType::F16, 1e-30), 0x0000u);
  EXPECT_EQ(encode(DType::F16, -1e-30), 0x8000u);
  EXPECT_EQ(encode(DType::F16, -0.0), 0x8000u);
  EXPECT_TRUE(std::isnan(decode(DType::F16, encode(DType::F16, std::nan("")))));
}

TEST_F(NpyTest, Bf16RoundsToNearestEvenWithoutDoubleRounding) {
  EXPECT_EQ(encode(DType::BF16, 1.0), 0x3f80u);
  EXPECT_EQ(encode(DType::BF16, -2.5), 0xc020u);
  EXPECT_EQ(encode(DType::BF16, 3.14159), 0x4049u);
  EXPECT_EQ(encode(DType::BF16, 1 + std::ldexp(1, -8)), 0x3f80u);
  EXPECT_EQ(encode(DType::BF16, 1 + 3 * std::ldexp(1, -8)), 0x3f82u);
  // Just above a tie by less than float's precision: rounding to float first
  // would make it an exact tie and round down to 0x3f80.
  EXPECT_EQ(encode(DType::BF16, 1 + std::ldexp(1, -8) + std::ldexp(1, -40)),
            0x3f81u);
  // Largest finite, and the tie above it that overflows.
  EXPECT_EQ(encode(DType::BF16, std::ldexp(255.0, 120)), 0x7f7fu);
  EXPECT_EQ(encode(DType::BF16, std::ldexp(511.0, 119)), 0x7f80u);
  EXPECT_EQ(encode(DType::BF16, std::ldexp(511.0, 119) - std::ldexp(1, 100)),
            0x7f7fu);
  EXPECT_EQ(encode(DType::BF16, std::ldexp(1, -134)), 0x0000u);
  EXPECT_EQ(encode(DType::BF16, 3 * std::ldexp(1, -134)), 0x0002u);
  EXPECT_EQ(encode(DType::BF16, -std::numeric_limits<double>::infinity()),
            0xff80u);
  EXPECT_TRUE(
      std::isnan(decode(DType::BF16, encode(DType::BF16, std::nan("")))));
}

TEST_F(NpyTest, F16AndBf16EveryBitPatternRoundTrips) {
  for (DType dtype : {DType::F16, DType::BF16}) {
    for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
      double v = decode(dtype, bits);
      if (std::isnan(v)) {
        ASSERT_TRUE(std::isnan(decode(dtype, encode(dtype, v)))) << bits;
        continue;
      }
      ASSERT_EQ(encode(dtype, v), bits) << dtypeName(dtype) << " " << bits;
    }
  }
}

TEST_F(NpyTest, F32RoundsToNearestEven) {
  const double fltMax = std::numeric_limits<float>::max();
  EXPECT_EQ(encode(DType::F32, 0.1), 0x3dcccccdu);
  EXPECT_EQ(encode(DType::F32, 1 + std::ldexp(1, -24)), 0x3f800000u);
  EXPECT_EQ(encode(DType::F32, 1 + 3 * std::ldexp(1, -24)), 0x3f800002u);
  EXPECT_EQ(encode(DType::F32, fltMax), 0x7f7fffffu);
  EXPECT_EQ(encode(DType::F32, fltMax + std::ldexp(1, 103)), 0x7f800000u);
  EXPECT_EQ(encode(DType::F32, 1e300), 0x7f800000u);
  EXPECT_EQ(encode(DType::F32, -1e300), 0xff800000u);
  EXPECT_EQ(encode(DType::F32, std::ldexp(1, -149)), 0x00000001u);
  EXPECT_EQ(encode(DType::F32, std::ldexp(1, -150)), 0x00000000u);
  EXPECT_EQ(decode(DType::F32, 0x00000001u), std::ldexp(1, -149));
}

TEST_F(NpyTest, IntegersRoundToNearestEvenAndSaturate) {
  auto i32 = [](double v) { return decode(DType::I32, encode(DType::I32, v)); };
  auto i64 = [](double v) { return decode(DType::I64, encode(DType::I64, v)); };
  EXPECT_EQ(i32(2.5), 2);
  EXPECT_EQ(i32(3.5), 4);
  EXPECT_EQ(i32(-2.5), -2);
  EXPECT_EQ(i32(-3.5), -4);
  EXPECT_EQ(i32(2.4999), 2);
  EXPECT_EQ(i32(2.5000001), 3);
  EXPECT_EQ(i32(-0.4), 0);
  EXPECT_EQ(i32(2147483647.0), 2147483647.0);
  EXPECT_EQ(i32(-2147483648.0), -2147483648.0);
  EXPECT_EQ(i32(1e20), 2147483647.0);
  EXPECT_EQ(i32(-1e20), -2147483648.0);
  EXPECT_EQ(i32(std::numeric_limits<double>::infinity()), 2147483647.0);
  EXPECT_EQ(i32(std::nan("")), 0);
  EXPECT_EQ(encode(DType::I32, -1), 0xffffffffu);
  EXPECT_EQ(i64(std::ldexp(1, 62)), std::ldexp(1, 62));
  EXPECT_EQ(i64(-4.5), -4);
  EXPECT_EQ(encode(DType::I64, 1e19), 0x7fffffffffffffffu);
  EXPECT_EQ(encode(DType::I64, -1e19), 0x8000000000000000u);
  EXPECT_EQ(encode(DType::I64, -std::ldexp(1, 63)), 0x8000000000000000u);
  EXPECT_EQ(encode(DType::I64, std::nan("")), 0u);
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

TEST_F(NpyTest, ErrorMissingFile) {
  std::string path = pathOf("nope.npy");
  Array a;
  std::string error;
  EXPECT_FALSE(readNpy(path, a, error));
  EXPECT_EQ(error, path + ": cannot open: No such file or directory");
}

TEST_F(NpyTest, ErrorDirectory) {
  Array a;
  std::string error;
  EXPECT_FALSE(readNpy(dir.string(), a, error));
  EXPECT_EQ(error.rfind(dir.string() + ": ", 0), 0u) << error;
  EXPECT_HAS(error, "not a regular file");
}

TEST_F(NpyTest, ErrorBadMagic) {
  EXPECT_HAS(readFails("PK\x03\x04 this is a zip file"),
             "not a .npy file (bad magic)");
  EXPECT_HAS(readFails(std::string("\x93NUMPX\x01\x00", 8)),
             "not a .npy file (bad magic)");
  EXPECT_HAS(readFails(""), "truncated: the file holds only 0 bytes");
  EXPECT_HAS(readFails("\x93NUM"), "truncated: the file holds only 4 bytes");
}

TEST_F(NpyTest, ErrorUnsupportedVersion) {
  std::string bytes = kNumpyF32x2x3Header + std::string(24, '\0');
  bytes[6] = 4;
  EXPECT_HAS(readFails(bytes), "unsupported .npy format version 4.0");
  bytes[6] = 1;
  bytes[7] = 1;
  EXPECT_HAS(readFails(bytes), "unsupported .npy format version 1.1");
}

TEST_F(NpyTest, ErrorTruncatedHeader) {
  EXPECT_HAS(readFails(kNumpyF32x2x3Header.substr(0, 9)),
             "truncated: the file ends inside the header length field");
  EXPECT_HAS(readFails(kNumpyF32x2x3Header.substr(0, 60)),
             "truncated: the header length field declares 118 bytes of "
             "header but only 50 follow");
  // A v2 length near 4 GiB must fail before allocating anything.
  EXPECT_HAS(readFails(std::string("\x93NUMPY\x02\x00", 8) + le32(0xfffffff0u) +
                       "{'descr'"),
             "declares 4294967280 bytes of header but only 8 follow");
}

TEST_F(NpyTest, ErrorTruncatedData) {
  std::string error = readFails(kNumpyF32x2x3Header + std::string(20, '\0'));
  EXPECT_HAS(error, "q.npy: truncated: the header declares shape (2, 3) of "
                    "<f4 (24 bytes of data) but the file holds 20");
}

TEST_F(NpyTest, ErrorTrailingBytes) {
  std::string error = readFails(kNumpyF32x2x3Header + std::string(28, '\0'));
  EXPECT_HAS(error, "q.npy: trailing bytes: the header declares shape (2, 3) "
                    "of <f4 (24 bytes of data) but the file holds 28");
}

TEST_F(NpyTest, ErrorFortranOrder) {
  EXPECT_HAS(readFails(npyFile(dictFor("<f4", "(2, 3)", "True"),
                               std::string(24, '\0'))),
             "q.npy: Fortran-ordered arrays are not supported");
}

TEST_F(NpyTest, ErrorBigEndian) {
  EXPECT_HAS(readFails(npyFile(dictFor(">f4", "(2,)"), std::string(8, '\0'))),
             "big-endian arrays are not supported (descr '>f4')");
  EXPECT_HAS(readFails(npyFile(dictFor(">i8", "()"), std::string(8, '\0'))),
             "big-endian arrays are not supported (descr '>i8')");
}

TEST_F(NpyTest, ErrorUnsupportedDType) {
  for (const char *descr : {"<c8", "|b1", "|u1", "<u4", "<f16", "|f4", "f4"}) {
    SCOPED_TRACE(descr);
    EXPECT_HAS(readFails(npyFile(dictFor(descr, "(1,)"), std::string(8, '\0'))),
               std::string("unsupported dtype '") + descr + "'");
  }
  EXPECT_HAS(readFails(npyFile("{'descr': [('a', '<f4')], 'fortran_order': "
                               "False, 'shape': (1,), }",
                               std::string(4, '\0'))),
             "unsupported dtype: structured");
}

TEST_F(NpyTest, ErrorUint16WithoutExpectBf16) {
  std::string bytes = npyFile(dictFor("<u2", "(2,)"), le32(0));
  EXPECT_HAS(readFails(bytes),
             "unsupported dtype '<u2' (uint16 is read only as bf16 bits)");
  EXPECT_EQ(readOk(bytes, true).dtype, DType::BF16);
  EXPECT_HAS(readFails(npyFile(dictFor("|V2", "(2,)"), le32(0))),
             "unsupported dtype '|V2'");
}

TEST_F(NpyTest, ErrorMalformedHeader) {
  const std::pair<const char *, const char *> cases[] = {
      {"", "expected '{'"},
      {"descr: '<f4'", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ",
       "expected a key"},
      {"{'descr' '<f4', 'fortran_order': False, 'shape': (2,), }",
       "expected ':' after key 'descr'"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }",
       "expected ',' or '}' after the value of 'descr'"},
      {"{'descr': <f4, 'fortran_order': False, 'shape': (2,), }",
       "expected a string for 'descr'"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }",
       "expected ',' or '}' after the value of 'descr'"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }",
       "expected True or False for 'fortran_order'"},
      {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,), }",
       "expected True or False for 'fortran_order'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [2], }",
       "expected a tuple for 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2), }",
       "'shape' is an int in parentheses, not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }",
       "expected ',' or ')' in 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2x,), }",
       "unexpected character after a dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }",
       "expected ',' or ')' in 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (,), }",
       "expected an integer dimension"},
      {"{'descr': '<f4', 'fortran_order': False, "
       "'shape': (99999999999999999999,), }",
       "dimension does not fit in 64 bits"},
      {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
      {"{'fortran_order': False, 'shape': (2,)}", "missing key 'descr'"},
      {"{'descr': '<f4', 'shape': (2,)}", "missing key 'fortran_order'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
       "unexpected key 'x'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
       "'shape': (2,)}",
       "duplicate key 'descr'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk",
       "unexpected text after the closing '}'"},
      {"{'descr': '<\\x66\\x34', 'fortran_order': False, 'shape': (2,)}",
       "escape sequences in strings are not supported"},
  };
  for (const auto &[dict, problem] : cases) {
    SCOPED_TRACE(dict);
    std::string error = readFails(npyFile(dict, std::string(8, '\0')));
    EXPECT_HAS(error, "q.npy: malformed header: ");
    EXPECT_HAS(error, problem);
  }
}

TEST_F(NpyTest, ErrorNegativeDim) {
  EXPECT_HAS(readFails(npyFile(dictFor("<f4", "(2, -3)"), "")),
             "q.npy: negative dimension -3 in shape (2, -3)");
}

TEST_F(NpyTest, ErrorAbsurdShape) {
  // 2^124 elements: the size overflows, reported without allocating.
  EXPECT_HAS(readFails(npyFile(dictFor("<f4", "(4611686018427387904, "
                                              "4611686018427387904)"),
                               std::string(16, '\0'))),
             "q.npy: shape (4611686018427387904, 4611686018427387904) of <f4 "
             "is too large (its data size overflows 64 bits)");
  // A zero dim does not make the other dims' overflow acceptable (numpy
  // agrees: "array is too big").
  EXPECT_HAS(
      readFails(npyFile(dictFor("<f8", "(0, 4611686018427387904, 4)"), "")),
      "is too large");
  // 2^62 bytes fits in 64 bits but not in the file: caught before any
  // allocation.
  EXPECT_HAS(readFails(npyFile(dictFor("<f4", "(1099511627776, 1048576)"),
                               std::string(16, '\0'))),
             "truncated: the header declares shape (1099511627776, 1048576) "
             "of <f4 (4611686018427387904 bytes of data) but the file holds "
             "16");
}

TEST(CheckedDataBytes, BoundsAndWraps) {
  uint64_t bytes = 7;
  EXPECT_EQ(checkedDataBytes({2, 3}, "[2, 3]", "f32", 4, bytes), "");
  EXPECT_EQ(bytes, 24u);
  EXPECT_EQ(checkedDataBytes({}, "[]", "f64", 8, bytes), ""); // a scalar
  EXPECT_EQ(bytes, 8u);
  EXPECT_EQ(checkedDataBytes({5, 0}, "[5, 0]", "f32", 4, bytes), "");
  EXPECT_EQ(bytes, 0u);
  // 2^63 − 1 bytes is the largest size; 2^63 (2^62 f16s) is refused, and
  // so is 2^62 · 2 · 64 · 2 bytes, which wraps to 0 in 64 bits.
  EXPECT_EQ(checkedDataBytes({INT64_MAX}, "[max]", "i8", 1, bytes), "");
  EXPECT_EQ(bytes, uint64_t(INT64_MAX));
  EXPECT_EQ(checkedDataBytes({int64_t(1) << 62}, "[2^62]", "f16", 2, bytes),
            "shape [2^62] of f16 is too large (its data size overflows 64 "
            "bits)");
  bytes = 7;
  EXPECT_NE(
      checkedDataBytes({1, int64_t(1) << 62, 2, 64}, "s", "bf16", 2, bytes),
      "");
  EXPECT_EQ(bytes, 7u) << "left unchanged on failure";
  EXPECT_NE(checkedDataBytes({0, int64_t(1) << 62, 8}, "s", "f64", 8, bytes),
            "");
  EXPECT_EQ(checkedDataBytes({3, -1}, "[3, -1]", "f32", 4, bytes),
            "negative dimension -1 in shape [3, -1]");
}

TEST_F(NpyTest, FailedReadLeavesOutputUnchanged) {
  Array a = Array::zeros(DType::I64, {3});
  a.setFromDouble(1, 9);
  std::string path = writeFile("q.npy", kNumpyF32x2x3Header);
  std::string error;
  EXPECT_FALSE(readNpy(path, a, error));
  EXPECT_EQ(a.dtype, DType::I64);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(a.getAsDouble(1), 9);
}

} // namespace
