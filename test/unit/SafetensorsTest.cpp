//===- SafetensorsTest.cpp - tests for lib/npy/Safetensors ----------------===//
//
// The files read here are built byte by byte in the test, laid out as the
// safetensors reference implementation writes them (8-byte little-endian
// header size, JSON header padded with spaces to a multiple of 8, data), so
// the test needs no Python.
//
//===----------------------------------------------------------------------===//

#include "lib/npy/Safetensors.h"

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

// A .safetensors file: the header size, `json` padded with spaces to a
// multiple of `align` bytes (1: no padding), then `data`.
std::string stFile(const std::string &json, const std::string &data,
                   size_t align = 8) {
  std::string header = json;
  header.append((align - header.size() % align) % align, ' ');
  return le64(header.size()) + header + data;
}

// One entry's JSON, fields in the reference implementation's order.
std::string entryJson(const std::string &dtype, const std::string &shape,
                      uint64_t begin, uint64_t end) {
  return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":[" + std::to_string(begin) + "," +
         std::to_string(end) + "]}";
}

const DType kAllDTypes[] = {DType::F16, DType::BF16, DType::F32,
                            DType::F64, DType::I32,  DType::I64};


void setBits(Array &a, size_t i, uint64_t bits) {
  size_t size = dtypeSize(a.dtype);
  for (size_t b = 0; b < size; ++b)
    a.data[i * size + b] = static_cast<uint8_t>(bits >> (8 * b));
}

class SafetensorsTest : public ScratchDirTest {
protected:
  // Writes `bytes` as q.safetensors and expects open() to fail with one line
  // that starts with the file's path and leaves no tensors.
  std::string openFails(const std::string &bytes) {
    std::string path = writeFile("q.safetensors", bytes);
    SafetensorsFile file;
    std::string error;
    EXPECT_FALSE(file.open(path, error));
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
    EXPECT_EQ(error.find('\n'), npos) << error;
    EXPECT_TRUE(file.names().empty());
    return error;
  }

  // A header holding one entry `name` whose JSON is `entry`, with `dataBytes`
  // zero bytes of data; expects open() to fail and returns the message.
  std::string entryFails(const std::string &entry, size_t dataBytes = 8,
                         const std::string &name = "t") {
    return openFails(stFile("{\"" + name + "\":" + entry + "}",
                            std::string(dataBytes, '\0')));
  }

};

//===----------------------------------------------------------------------===//
// Round trips through writeSafetensors and SafetensorsFile
//===----------------------------------------------------------------------===//

// Writes `tensors` to `path`, reopens it and expects every tensor back bit
// for bit, in order, with contiguous data_offsets.
void expectRoundTrip(
    const std::string &path,
    const std::vector<std::pair<std::string, Array>> &tensors) {
  std::vector<std::pair<std::string, const Array *>> refs;
  std::vector<std::string> names;
  for (const auto &[name, array] : tensors) {
    refs.emplace_back(name, &array);
    names.push_back(name);
  }
  std::string error;
  ASSERT_TRUE(writeSafetensors(path, refs, error)) << error;
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  SafetensorsFile file;
  ASSERT_TRUE(file.open(path, error)) << error;
  EXPECT_EQ(file.names(), names);
  uint64_t offset = 0;
  for (const auto &[name, a] : tensors) {
    SCOPED_TRACE(name);
    const SafetensorsEntry *entry = file.find(name);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->dtype, a.dtype);
    EXPECT_EQ(entry->shape, a.shape);
    EXPECT_EQ(entry->begin, offset);
    EXPECT_EQ(entry->end, offset + a.data.size());
    offset += a.data.size();

    Array b;
    ASSERT_TRUE(file.read(name, b, error)) << error;
    expectSameArray(a, b);
  }
  // The header is padded to 8 bytes and the data section holds exactly the
  // tensors.
  std::string bytes;
  {
    std::ifstream is(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(is), {});
  }
  ASSERT_GE(bytes.size(), 8u);
  uint64_t headerSize = 0;
  for (int i = 0; i < 8; ++i)
    headerSize |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  EXPECT_EQ(headerSize % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + headerSize + offset);
}

TEST_F(SafetensorsTest, RoundTripEveryDType) {
  // Values exact in every dtype must survive unchanged.
  std::vector<std::pair<std::string, Array>> tensors;
  for (DType dtype : kAllDTypes) {
    Array a = exactArray(dtype);
    tensors.emplace_back(dtypeName(dtype), a);
  }
  expectRoundTrip(pathOf("all.safetensors"), tensors);

  // Each dtype alone too, so every one is also the first tensor at offset 0.
  for (auto &tensor : tensors) {
    SCOPED_TRACE(tensor.first);
    expectRoundTrip(pathOf(tensor.first + ".safetensors"), {tensor});
  }
}

TEST_F(SafetensorsTest, RoundTripRank0AndZeroSizedDims) {
  std::vector<std::pair<std::string, Array>> tensors;
  for (DType dtype : kAllDTypes) {
    Array scalar = Array::zeros(dtype, {});
    scalar.setFromDouble(0, -42);
    tensors.emplace_back(std::string("scalar_") + dtypeName(dtype), scalar);
    tensors.emplace_back(std::string("empty_") + dtypeName(dtype),
                         Array::zeros(dtype, {2, 0, 3}));
  }
  // Zero-sized tensors at the start, in the middle and at the end.
  tensors.insert(tensors.begin(), {"first", Array::zeros(DType::F32, {0})});
  Array rank4 = Array::zeros(DType::F64, {2, 3, 1, 4});
  for (size_t i = 0; i < rank4.numElements(); ++i)
    rank4.setFromDouble(i, static_cast<double>(i) * 0.25 - 3);
  tensors.emplace_back("rank4", rank4);
  tensors.emplace_back("last", Array::zeros(DType::I64, {5, 0}));
  expectRoundTrip(pathOf("shapes.safetensors"), tensors);

  SafetensorsFile file;
  std::string error;
  ASSERT_TRUE(file.open(pathOf("shapes.safetensors"), error)) << error;
  Array scalar;
  ASSERT_TRUE(file.read("scalar_bf16", scalar, error)) << error;
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.getAsDouble(0), -42);
  Array empty;
  ASSERT_TRUE(file.read("empty_i32", empty, error)) << error;
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{2, 0, 3}));
  EXPECT_TRUE(empty.data.empty());
  EXPECT_EQ(file.find("empty_i32")->begin, file.find("empty_i32")->end);
}

TEST_F(SafetensorsTest, RoundTripBf16AndF16BitPatterns) {
  // Zeros, subnormals, the largest finite value, infinities, quiet and
  // signalling NaNs with payloads: every bit must survive.
  const uint16_t bf16Bits[] = {0x0000, 0x8000, 0x0001, 0x807f, 0x0080,
                               0x3f80, 0xc049, 0x7f7f, 0xff7f, 0x7f80,
                               0xff80, 0x7fc0, 0xffc1, 0x7f81, 0xffff};
  Array bf16 = Array::zeros(DType::BF16, {3, 5});
  for (size_t i = 0; i < 15; ++i)
    setBits(bf16, i, bf16Bits[i]);
  const uint16_t f16Bits[] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x3c00,
                              0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x7c01};
  Array f16 = Array::zeros(DType::F16, {10});
  for (size_t i = 0; i < 10; ++i)
    setBits(f16, i, f16Bits[i]);
  expectRoundTrip(pathOf("bits.safetensors"), {{"bf16", bf16}, {"f16", f16}});

  SafetensorsFile file;
  std::string error;
  ASSERT_TRUE(file.open(pathOf("bits.safetensors"), error)) << error;
  Array b;
  ASSERT_TRUE(file.read("bf16", b, error)) << error;
  ASSERT_EQ(b.dtype, DType::BF16);
  for (size_t i = 0; i < 15; ++i)
    EXPECT_EQ(bitsOf(b, i), bf16Bits[i]) << "element " << i;
  EXPECT_EQ(b.getAsDouble(5), 1.0);
  EXPECT_EQ(b.getAsDouble(9), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(b.getAsDouble(13)));
  // bf16 is written under the safetensors name, not as raw uint16.
  EXPECT_HAS(fileBytes(pathOf("bits.safetensors")),
             "{\"bf16\":{\"dtype\":\"BF16\",\"shape\":[3,5]");
}

TEST_F(SafetensorsTest, WriterReplacesExistingFile) {
  std::string path = writeFile("a.safetensors", "old contents, longer than it");
  Array a = Array::zeros(DType::I32, {3});
  a.setFromDouble(2, 5);
  std::string error;
  ASSERT_TRUE(writeSafetensors(path, {{"a", &a}}, error)) << error;
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  SafetensorsFile file;
  ASSERT_TRUE(file.open(path, error)) << error;
  Array b;
  ASSERT_TRUE(file.read("a", b, error)) << error;
  EXPECT_EQ(b.getAsDouble(2), 5);
}

TEST_F(SafetensorsTest, WriterNoTensors) {
  std::string error;
  ASSERT_TRUE(writeSafetensors(pathOf("e.safetensors"), {}, error)) << error;
  EXPECT_EQ(fileBytes(pathOf("e.safetensors")), le64(8) + "{}      ");
  SafetensorsFile file;
  ASSERT_TRUE(file.open(pathOf("e.safetensors"), error)) << error;
  EXPECT_TRUE(file.names().empty());
}

//===----------------------------------------------------------------------===//
// The writer's bytes
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, WriterMatchesReferenceBytes) {
  Array a = Array::zeros(DType::F32, {2});
  a.setFromDouble(0, 1.5);
  a.setFromDouble(1, -2);
  std::string error;
  ASSERT_TRUE(writeSafetensors(pathOf("a.safetensors"), {{"a", &a}}, error))
      << error;
  // 54 bytes of compact JSON, 2 spaces of padding.
  const std::string json =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  ASSERT_EQ(json.size(), 54u);
  EXPECT_EQ(fileBytes(pathOf("a.safetensors")),
            std::string("\x38\0\0\0\0\0\0\0", 8) + json + "  " +
                f32Bytes(1.5f) + f32Bytes(-2.0f));
}

TEST_F(SafetensorsTest, WriterKeepsOrderAndContiguousOffsets) {
  Array w = Array::zeros(DType::BF16, {2, 1});
  w.setFromDouble(0, 1);
  w.setFromDouble(1, -2.5);
  Array b = Array::zeros(DType::I64, {});
  b.setFromDouble(0, -1);
  std::string error;
  // "w" before "b": the given order, not sorted by name.
  ASSERT_TRUE(
      writeSafetensors(pathOf("m.safetensors"), {{"w", &w}, {"b", &b}}, error))
      << error;
  const std::string json =
      "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[4,12]}}";
  ASSERT_EQ(json.size(), 110u);
  EXPECT_EQ(fileBytes(pathOf("m.safetensors")),
            le64(112) + json + "  " + le16(0x3f80) + le16(0xc020) +
                le64(~uint64_t(0)));
}

TEST_F(SafetensorsTest, WriterEscapesNames) {
  // JSON escapes in a name, and a UTF-8 name, survive the round trip.
  Array a = Array::zeros(DType::F32, {1});
  a.setFromDouble(0, 3);
  const std::string odd = "a \"quoted\"\\name\twith\ncontrols";
  const std::string utf8 = "poids.\xc3\xa9t\xc3\xa9.\xf0\x9f\x98\x80";
  std::string error;
  ASSERT_TRUE(
      writeSafetensors(pathOf("n.safetensors"), {{odd, &a}, {utf8, &a}}, error))
      << error;
  EXPECT_HAS(fileBytes(pathOf("n.safetensors")),
             "\"a \\\"quoted\\\"\\\\name\\twith\\ncontrols\"");
  SafetensorsFile file;
  ASSERT_TRUE(file.open(pathOf("n.safetensors"), error)) << error;
  EXPECT_EQ(file.names(), (std::vector<std::string>{odd, utf8}));
  Array b;
  ASSERT_TRUE(file.read(utf8, b, error)) << error;
  EXPECT_EQ(b.getAsDouble(0), 3);
}

//===----------------------------------------------------------------------===//
// Reading files laid out by hand
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, ReadsHandWrittenFile) {
  const std::string json =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  std::string path = writeFile("a.safetensors",
                               stFile(json, f32Bytes(1.0f) + f32Bytes(-2.5f)));
  SafetensorsFile file;
  std::string error;
  ASSERT_TRUE(file.open(path, error)) << error;
  EXPECT_EQ(file.names(), (std::vector<std::string>{"a"}));
  Array a;
  ASSERT_TRUE(file.read("a", a, error)) << error;
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2}));
  ASSERT_EQ(a.numElements(), 2u);
  EXPECT_EQ(a.getAsDouble(0), 1.0);
  EXPECT_EQ(a.getAsDouble(1), -2.5);

  // Unpadded headers are read too.
  path = writeFile("u.safetensors",
                   stFile(json, f32Bytes(7.0f) + f32Bytes(8.0f), 1));
  ASSERT_TRUE(file.open(path, error)) << error;
  ASSERT_TRUE(file.read("a", a, error)) << error;
  EXPECT_EQ(a.getAsDouble(1), 8.0);
}

TEST_F(SafetensorsTest, ReadsMetadataOffsetsAndHeaderOrder) {
  // "__metadata__" first, names not in sorted order, data not in header
  // order, whitespace in the JSON and trailing padding.
  const std::string json =
      "{ \"__metadata__\": {\"format\": \"pt\", \"note\": \"x\"},\n"
      "  \"zeta\": {\"dtype\": \"I32\", \"shape\": [1, 2], "
      "\"data_offsets\": [16, 24]},\n"
      "  \"alpha\": {\"data_offsets\": [0, 16], \"shape\": [2], "
      "\"dtype\": \"F64\"},\n"
      "  \"mid\": {\"dtype\": \"BF16\", \"shape\": [], "
      "\"data_offsets\": [24, 26]} }";
  std::string data = std::string("\x00\x00\x00\x00\x00\x00\xf8\x3f", 8) +
                     std::string("\x00\x00\x00\x00\x00\x00\x04\xc0", 8) +
                     le32(7) + le32(uint32_t(-9)) + le16(0x4049);
  std::string path = writeFile("m.safetensors", stFile(json, data, 16));
  SafetensorsFile file;
  std::string error;
  ASSERT_TRUE(file.open(path, error)) << error;
  EXPECT_EQ(file.names(), (std::vector<std::string>{"zeta", "alpha", "mid"}));
  EXPECT_EQ(file.find("__metadata__"), nullptr);
  EXPECT_EQ(file.find("nope"), nullptr);
  const SafetensorsEntry *zeta = file.find("zeta");
  ASSERT_NE(zeta, nullptr);
  EXPECT_EQ(zeta->dtype, DType::I32);
  EXPECT_EQ(zeta->shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(zeta->begin, 16u);
  EXPECT_EQ(zeta->end, 24u);

  Array z, a, m;
  ASSERT_TRUE(file.read("zeta", z, error)) << error;
  EXPECT_EQ(z.getAsDouble(0), 7);
  EXPECT_EQ(z.getAsDouble(1), -9);
  ASSERT_TRUE(file.read("alpha", a, error)) << error;
  EXPECT_EQ(a.dtype, DType::F64);
  EXPECT_EQ(a.getAsDouble(0), 1.5);
  EXPECT_EQ(a.getAsDouble(1), -2.5);
  ASSERT_TRUE(file.read("mid", m, error)) << error;
  EXPECT_EQ(m.dtype, DType::BF16);
  EXPECT_TRUE(m.shape.empty());
  EXPECT_EQ(m.getAsDouble(0), 3.140625);
}

TEST_F(SafetensorsTest, DuplicateKeyKeepsFirstPositionLastValue) {
  // JSON objects should not repeat keys; nlohmann keeps the key where it
  // first appeared with the value it had last, so names() has no duplicates.
  const std::string json = "{\"a\":" + entryJson("I32", "[1]", 0, 4) +
                           ",\"b\":" + entryJson("I32", "[1]", 4, 8) +
                           ",\"a\":" + entryJson("I32", "[2]", 0, 8) + "}";
  std::string path =
      writeFile("d.safetensors", stFile(json, le32(5) + le32(6)));
  SafetensorsFile file;
  std::string error;
  ASSERT_TRUE(file.open(path, error)) << error;
  EXPECT_EQ(file.names(), (std::vector<std::string>{"a", "b"}));
  Array a;
  ASSERT_TRUE(file.read("a", a, error)) << error;
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(a.getAsDouble(1), 6);
}

TEST_F(SafetensorsTest, ReadsOnDemand) {
  // open() reads only the header: data truncated after open() shows up in
  // read(), and only for the tensors that lost their bytes.
  const std::string json = "{\"a\":" + entryJson("F32", "[1]", 0, 4) +
                           ",\"b\":" + entryJson("F32", "[1]", 4, 8) + "}";
  std::string full = stFile(json, f32Bytes(1.0f) + f32Bytes(2.0f));
  std::string path = writeFile("d.safetensors", full);
  SafetensorsFile file;
  std::string error;
  ASSERT_TRUE(file.open(path, error)) << error;
  writeFile("d.safetensors", full.substr(0, full.size() - 4));
  Array a, b = Array::zeros(DType::I64, {3});
  ASSERT_TRUE(file.read("a", a, error)) << error;
  EXPECT_EQ(a.getAsDouble(0), 1.0);
  EXPECT_FALSE(file.read("b", b, error));
  EXPECT_EQ(error, path + ": tensor 'b': cannot read: the file is shorter "
                          "than when it was opened");
  // A failed read leaves the output alone.
  EXPECT_EQ(b.dtype, DType::I64);
  EXPECT_EQ(b.shape, (std::vector<int64_t>{3}));
}

TEST_F(SafetensorsTest, ReopenReplacesTensors) {
  std::string path1 = writeFile(
      "1.safetensors",
      stFile("{\"x\":" + entryJson("I32", "[1]", 0, 4) + "}", le32(1)));
  std::string path2 = writeFile(
      "2.safetensors",
      stFile("{\"y\":" + entryJson("I32", "[1]", 0, 4) + "}", le32(2)));
  SafetensorsFile file;
  std::string error;
  ASSERT_TRUE(file.open(path1, error)) << error;
  ASSERT_TRUE(file.open(path2, error)) << error;
  EXPECT_EQ(file.names(), (std::vector<std::string>{"y"}));
  EXPECT_EQ(file.find("x"), nullptr);
  Array y;
  ASSERT_TRUE(file.read("y", y, error)) << error;
  EXPECT_EQ(y.getAsDouble(0), 2);

  // A failed open leaves nothing from the previous file.
  EXPECT_FALSE(file.open(pathOf("missing.safetensors"), error));
  EXPECT_TRUE(file.names().empty());
  EXPECT_EQ(file.find("y"), nullptr);
  EXPECT_FALSE(file.read("y", y, error));
  EXPECT_EQ(error,
            pathOf("missing.safetensors") + ": tensor 'y': no such tensor");
}

//===----------------------------------------------------------------------===//
// Reading errors
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, ErrorMissingFile) {
  std::string path = pathOf("nope.safetensors");
  SafetensorsFile file;
  std::string error;
  EXPECT_FALSE(file.open(path, error));
  EXPECT_EQ(error, path + ": cannot open: No such file or directory");
}

TEST_F(SafetensorsTest, ErrorDirectory) {
  SafetensorsFile file;
  std::string error;
  EXPECT_FALSE(file.open(dir.string(), error));
  EXPECT_EQ(error, dir.string() + ": cannot read: not a regular file");
}

TEST_F(SafetensorsTest, ErrorShorterThan8Bytes) {
  EXPECT_HAS(openFails(""), "q.safetensors: truncated: the file holds only 0 "
                            "bytes, too few for the 8-byte header size");
  EXPECT_HAS(openFails(std::string("\x02\0\0\0\0\0\0", 7)),
             "q.safetensors: truncated: the file holds only 7 bytes, too few "
             "for the 8-byte header size");
}

TEST_F(SafetensorsTest, ErrorHeaderSizeBeyondFile) {
  EXPECT_HAS(openFails(le64(100) + "{}"),
             "q.safetensors: truncated: the header size field declares 100 "
             "bytes of header but only 2 follow");
  EXPECT_HAS(openFails(le64(3)), "q.safetensors: truncated: the header size "
                                 "field declares 3 bytes of header but only 0 "
                                 "follow");
  // The limit itself is allowed; only the file is too short.
  EXPECT_HAS(openFails(le64(100000000) + "{}"),
             "truncated: the header size field declares 100000000 bytes");
}

TEST_F(SafetensorsTest, ErrorHeaderSizeHuge) {
  // These must fail before allocating: a std::string of 2^63 bytes would
  // throw or abort.
  EXPECT_HAS(openFails(le64(uint64_t(1) << 63) + "{}"),
             "q.safetensors: the header size field declares "
             "9223372036854775808 bytes of header, more than the 100000000 a "
             ".safetensors header may have");
  EXPECT_HAS(openFails(le64(~uint64_t(0)) + "{}"),
             "declares 18446744073709551615 bytes of header, more than");
  EXPECT_HAS(openFails(le64(100000001) + "{}"),
             "declares 100000001 bytes of header, more than the 100000000");
  // A .npy file's magic read as a header size.
  EXPECT_HAS(openFails(std::string("\x93NUMPY\x01\x00\x76\x00{'descr'", 18)),
             "(not a .safetensors file?)");
}

TEST_F(SafetensorsTest, ErrorJsonNotParseable) {
  const std::pair<const char *, const char *> cases[] = {
      {"{\"a\":", "unexpected end of input"},
      {"{'a': 1}", "invalid literal"},
      {"{} x", "expected end of input"},
      {"{\"a\":{\"dtype\":\"F32\",}}", "parse error"},
      {"", "unexpected end of input"},
      {"{\"\xff\": 1}", "ill-formed UTF-8 byte"},
  };
  for (const auto &[json, problem] : cases) {
    SCOPED_TRACE(json);
    std::string error = openFails(stFile(json, ""));
    EXPECT_HAS(error, "q.safetensors: malformed header: parse error at ");
    EXPECT_HAS(error, problem);
  }
  // Padding must be spaces (JSON whitespace). nlohmann alone would stop at a
  // NUL and accept what precedes it.
  EXPECT_HAS(openFails(le64(8) + std::string("{}\0\0\0\0\0\0", 8)),
             "q.safetensors: malformed header: NUL byte at offset 2 (the "
             "header is JSON, padded only with spaces)");
  EXPECT_HAS(openFails(stFile(std::string("{\"a\":1}\0junk", 12), "")),
             "malformed header: NUL byte at offset 7");
}

TEST_F(SafetensorsTest, ErrorJsonNotAnObject) {
  EXPECT_HAS(openFails(stFile("[1, 2]", "")),
             "q.safetensors: malformed header: the JSON is an array, not an "
             "object");
  EXPECT_HAS(openFails(stFile("\"abc\"", "")),
             "malformed header: the JSON is the string \"abc\", not an object");
  EXPECT_HAS(openFails(stFile("42", "")),
             "malformed header: the JSON is 42, not an object");
  EXPECT_HAS(openFails(stFile("null", "")),
             "malformed header: the JSON is a null, not an object");
}

TEST_F(SafetensorsTest, ErrorEntryNotAnObject) {
  EXPECT_HAS(entryFails("[1]"),
             "q.safetensors: tensor 't': the entry is an array, not an object");
  EXPECT_HAS(entryFails("\"F32\""),
             "tensor 't': the entry is the string \"F32\", not an object");
  // Names are quoted on one line whatever they hold.
  EXPECT_HAS(entryFails("7", 0, "a\\nb"),
             "tensor 'a?b': the entry is 7, not an object");
}

TEST_F(SafetensorsTest, ErrorMissingField) {
  EXPECT_HAS(entryFails("{\"shape\":[2],\"data_offsets\":[0,8]}"),
             "q.safetensors: tensor 't': missing field 'dtype'");
  EXPECT_HAS(entryFails("{\"dtype\":\"F32\",\"data_offsets\":[0,8]}"),
             "q.safetensors: tensor 't': missing field 'shape'");
  EXPECT_HAS(entryFails("{\"dtype\":\"F32\",\"shape\":[2]}"),
             "q.safetensors: tensor 't': missing field 'data_offsets'");
  EXPECT_HAS(entryFails("{}"), "tensor 't': missing field 'dtype'");
}

TEST_F(SafetensorsTest, ErrorUnknownField) {
  EXPECT_HAS(entryFails("{\"dtype\":\"F32\",\"shape\":[2],"
                        "\"data_offsets\":[0,8],\"offset\":0}"),
             "q.safetensors: tensor 't': unknown field 'offset' (expected "
             "'dtype', 'shape' and 'data_offsets')");
}

TEST_F(SafetensorsTest, ErrorWronglyTypedField) {
  const std::pair<const char *, const char *> cases[] = {
      {"{\"dtype\":5,\"shape\":[2],\"data_offsets\":[0,8]}",
       "tensor 't': 'dtype' is 5, not a string"},
      {"{\"dtype\":[\"F32\"],\"shape\":[2],\"data_offsets\":[0,8]}",
       "tensor 't': 'dtype' is an array, not a string"},
      {"{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}",
       "tensor 't': 'shape' is the string \"2\", not an array"},
      {"{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}",
       "tensor 't': 'shape' is 2, not an array"},
      {"{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}",
       "tensor 't': 'shape' element 0 is 2.0, not a non-negative integer"},
      {"{\"dtype\":\"F32\",\"shape\":[1,-2],\"data_offsets\":[0,8]}",
       "tensor 't': 'shape' element 1 is -2, not a non-negative integer"},
      {"{\"dtype\":\"F32\",\"shape\":[true],\"data_offsets\":[0,8]}",
       "tensor 't': 'shape' element 0 is a boolean, not a non-negative "
       "integer"},
      {"{\"dtype\":\"F32\",\"shape\":[[2]],\"data_offsets\":[0,8]}",
       "tensor 't': 'shape' element 0 is an array, not a non-negative "
       "integer"},
      // Past 2^64 nlohmann falls back to a double.
      {"{\"dtype\":\"F32\",\"shape\":[18446744073709551616],"
       "\"data_offsets\":[0,8]}",
       "tensor 't': 'shape' element 0 is 1.8446744073709552e+19, not a "
       "non-negative integer"},
      // Array dims are int64_t.
      {"{\"dtype\":\"F32\",\"shape\":[9223372036854775808],"
       "\"data_offsets\":[0,8]}",
       "tensor 't': 'shape' element 0 is 9223372036854775808, more than "
       "9223372036854775807"},
      {"{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":null}",
       "tensor 't': 'data_offsets' is a null, not an array"},
      {"{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"begin\":0}}",
       "tensor 't': 'data_offsets' is an object, not an array"},
      {"{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}",
       "tensor 't': 'data_offsets' has 1 elements, not 2 ([begin, end])"},
      {"{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}",
       "tensor 't': 'data_offsets' has 3 elements, not 2 ([begin, end])"},
      {"{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",8]}",
       "tensor 't': 'data_offsets' element 0 is the string \"0\", not a "
       "non-negative integer"},
      {"{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}",
       "tensor 't': 'data_offsets' element 0 is -8, not a non-negative "
       "integer"},
  };
  for (const auto &[entry, problem] : cases) {
    SCOPED_TRACE(entry);
    std::string error = entryFails(entry);
    EXPECT_HAS(error, std::string("q.safetensors: ") + problem);
  }
}

TEST_F(SafetensorsTest, ErrorUnsupportedDType) {
  for (const char *dtype : {"F8_E4M3", "F8_E5M2", "U8", "I8", "BOOL", "I16",
                            "U16", "U32", "U64", "C64", "f32", "float32", ""}) {
    SCOPED_TRACE(dtype);
    EXPECT_HAS(entryFails(entryJson(dtype, "[2]", 0, 8)),
               std::string("q.safetensors: tensor 't': unsupported dtype '") +
                   dtype + "' (supported: F16, BF16, F32, F64, I32, I64)");
  }
}

TEST_F(SafetensorsTest, ErrorEndBeforeBegin) {
  EXPECT_HAS(entryFails(entryJson("F32", "[1]", 8, 4)),
             "q.safetensors: tensor 't': data_offsets [8, 4] end before they "
             "begin");
}

TEST_F(SafetensorsTest, ErrorEndBeyondDataSection) {
  EXPECT_HAS(entryFails(entryJson("F32", "[3]", 0, 12)),
             "q.safetensors: tensor 't': data_offsets [0, 12] extend past the "
             "end of the data section (8 bytes)");
  EXPECT_HAS(entryFails(entryJson("F32", "[0]", 9, 9)),
             "data_offsets [9, 9] extend past the end of the data section (8 "
             "bytes)");
  // 2^64 - 1 must not wrap around when added to the data section's start.
  EXPECT_HAS(entryFails(entryJson("I64", "[1]", 18446744073709551607u,
                                  18446744073709551615u)),
             "data_offsets [18446744073709551607, 18446744073709551615] "
             "extend past the end of the data section (8 bytes)");
}

TEST_F(SafetensorsTest, ErrorSizeMismatch) {
  EXPECT_HAS(entryFails(entryJson("F32", "[3]", 0, 8)),
             "q.safetensors: tensor 't': shape [3] of F32 needs 12 bytes but "
             "data_offsets [0, 8] hold 8");
  EXPECT_HAS(entryFails(entryJson("BF16", "[2, 3]", 0, 8), 12),
             "tensor 't': shape [2, 3] of BF16 needs 12 bytes but "
             "data_offsets [0, 8] hold 8");
  EXPECT_HAS(entryFails(entryJson("F64", "[]", 0, 4)),
             "tensor 't': shape [] of F64 needs 8 bytes but data_offsets [0, "
             "4] hold 4");
  EXPECT_HAS(entryFails(entryJson("I32", "[0, 5]", 0, 4)),
             "tensor 't': shape [0, 5] of I32 needs 0 bytes but data_offsets "
             "[0, 4] hold 4");
}

TEST_F(SafetensorsTest, ErrorShapeOverflows) {
  // 2^124 elements: the size overflows, reported without allocating.
  EXPECT_HAS(entryFails(entryJson(
                 "F32", "[4611686018427387904, 4611686018427387904]", 0, 8)),
             "q.safetensors: tensor 't': shape [4611686018427387904, "
             "4611686018427387904] of F32 is too large (its data size "
             "overflows 64 bits)");
  // 2^62 * 8 bytes = 2^65: a product that wraps to 0 must not pass as an
  // empty tensor.
  EXPECT_HAS(entryFails(entryJson("F64", "[4611686018427387904]", 0, 0)),
             "shape [4611686018427387904] of F64 is too large");
  // A zero dim does not make the other dims' overflow acceptable.
  EXPECT_HAS(entryFails(entryJson("F64", "[0, 4611686018427387904, 4]", 0, 0)),
             "shape [0, 4611686018427387904, 4] of F64 is too large");
}

TEST_F(SafetensorsTest, ErrorMetadata) {
  EXPECT_HAS(openFails(stFile("{\"__metadata__\":[\"pt\"]}", "")),
             "q.safetensors: malformed header: '__metadata__' is an array, "
             "not an object");
  EXPECT_HAS(openFails(stFile("{\"__metadata__\":{\"format\":\"pt\","
                              "\"step\":3}}",
                              "")),
             "q.safetensors: malformed header: '__metadata__' value of 'step' "
             "is 3, not a string");
  // Empty metadata and an empty header are fine.
  std::string path =
      writeFile("ok.safetensors", stFile("{\"__metadata__\":{}}", ""));
  SafetensorsFile file;
  std::string error;
  EXPECT_TRUE(file.open(path, error)) << error;
  EXPECT_TRUE(file.names().empty());
}

TEST_F(SafetensorsTest, ErrorReadUnknownTensor) {
  std::string path = writeFile(
      "a.safetensors",
      stFile("{\"a\":" + entryJson("I32", "[1]", 0, 4) + "}", le32(1)));
  SafetensorsFile file;
  std::string error;
  ASSERT_TRUE(file.open(path, error)) << error;
  Array out = Array::zeros(DType::F16, {2});
  EXPECT_FALSE(file.read("b", out, error));
  EXPECT_EQ(error, path + ": tensor 'b': no such tensor");
  EXPECT_FALSE(file.read("__metadata__", out, error));
  EXPECT_EQ(error, path + ": tensor '__metadata__': no such tensor");
  EXPECT_EQ(out.dtype, DType::F16);
  EXPECT_EQ(out.data.size(), 4u);

  SafetensorsFile closed;
  EXPECT_FALSE(closed.read("a", out, error));
  EXPECT_EQ(error, "tensor 'a': no .safetensors file is open");
}

TEST_F(SafetensorsTest, ErrorReadFileGone) {
  std::string path = writeFile(
      "a.safetensors",
      stFile("{\"a\":" + entryJson("I32", "[1]", 0, 4) + "}", le32(1)));
  SafetensorsFile file;
  std::string error;
  ASSERT_TRUE(file.open(path, error)) << error;
  fs::remove(path);
  Array out;
  EXPECT_FALSE(file.read("a", out, error));
  EXPECT_EQ(error,
            path + ": tensor 'a': cannot open: No such file or directory");
}

//===----------------------------------------------------------------------===//
// Writing errors
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, FailedWriteLeavesNoFile) {
  Array a = Array::zeros(DType::F32, {2});
  std::string error;
  // Missing directory.
  std::string path = pathOf("missing/a.safetensors");
  EXPECT_FALSE(writeSafetensors(path, {{"a", &a}}, error));
  EXPECT_EQ(error.rfind(path + ": cannot create " + path + ".tmp: ", 0), 0u)
      << error;
  EXPECT_HAS(error, "No such file or directory");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST_F(SafetensorsTest, ErrorWriteBadTensors) {
  Array a = Array::zeros(DType::F32, {2});
  Array shortData = Array::zeros(DType::F32, {2, 3});
  shortData.data.resize(20);
  Array negative;
  negative.shape = {2, -1};
  // A stray continuation byte, overlong 2-, 3- and 4-byte forms, a
  // surrogate, a truncated sequence, past U+10FFFF.
  const std::string badUtf8[] = {"\xff",
                                 "\x80",
                                 "a\xc0\x80",
                                 "\xe0\x80\xaf",
                                 "\xf0\x82\x82\xac",
                                 "\xed\xa0\x80",
                                 "\xe2\x82",
                                 "\xf4\x90\x80\x80"};

  struct Case {
    std::vector<std::pair<std::string, const Array *>> tensors;
    std::string problem;
  };
  std::vector<Case> cases = {
      {{{"a", &a}, {"b", &a}, {"a", &a}}, "tensor 'a': duplicate name"},
      {{{"__metadata__", &a}},
       "tensor '__metadata__': the name is reserved for the header's "
       "metadata"},
      {{{"a", &a}, {"n", nullptr}}, "tensor 'n': no array (null pointer)"},
      {{{"s", &shortData}},
       "tensor 's': the array holds 20 bytes of data but shape [2, 3] of F32 "
       "needs 24"},
      {{{"neg", &negative}},
       "tensor 'neg': negative dimension -1 in shape [2, -1]"},
  };
  for (const std::string &name : badUtf8)
    cases.push_back({{{name, &a}}, "the name is not valid UTF-8"});

  // An existing file stays untouched and no .tmp is left behind.
  std::string path = writeFile("keep.safetensors", "keep me");
  for (const Case &c : cases) {
    SCOPED_TRACE(c.problem);
    std::string error;
    EXPECT_FALSE(writeSafetensors(path, c.tensors, error));
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
    EXPECT_EQ(error.find('\n'), npos) << error;
    EXPECT_HAS(error, c.problem);
    EXPECT_EQ(fileBytes(path), "keep me");
    EXPECT_FALSE(fs::exists(path + ".tmp"));
  }
}

} // namespace
