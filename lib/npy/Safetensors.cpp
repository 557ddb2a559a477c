//===- Safetensors.cpp - .safetensors reader and writer -------------------===//
//
// The format (github.com/huggingface/safetensors): an unsigned 64-bit
// little-endian header size N, N bytes of UTF-8 JSON (possibly padded with
// trailing spaces), then the data section. The JSON is an object mapping each
// tensor name to
//   {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
// with offsets relative to the data section; elements are little-endian, C
// order. An optional "__metadata__" key maps to an object of strings.
//
// nlohmann::json is used without exceptions: parse() is called with
// allow_exceptions = false, and every value's type is checked before any
// accessor that would throw (which, built with -fno-exceptions, aborts).
//
//===----------------------------------------------------------------------===//

#include "lib/npy/Safetensors.h"
#include "lib/npy/FileIO.h"
#include "lib/npy/Utf8.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <set>

using namespace muonssm::npy;
using namespace muonssm::npy::detail;

// ordered_json keeps object keys in file order, which names() promises;
// nlohmann::json would sort them.
using Json = nlohmann::ordered_json;

namespace {

// The reference implementation's MAX_HEADER_SIZE. Checked before the header
// is allocated, so 8 corrupt bytes cannot ask for exabytes.
constexpr uint64_t kMaxHeaderBytes = 100000000;
// The reference implementation pads the header to this multiple.
constexpr size_t kHeaderAlign = 8;
// Longest name or string quoted in an error message.
constexpr size_t kMaxShown = 200;
constexpr char kMetadataKey[] = "__metadata__";


const char *safetensorsDTypeName(DType dtype) {
  switch (dtype) {
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  case DType::F32:
    return "F32";
  case DType::F64:
    return "F64";
  case DType::I32:
    return "I32";
  case DType::I64:
    return "I64";
  }
  return "?";
}

bool parseDType(const std::string &name, DType &dtype) {
  for (DType d : {DType::F16, DType::BF16, DType::F32, DType::F64, DType::I32,
                  DType::I64}) {
    if (name == safetensorsDTypeName(d)) {
      dtype = d;
      return true;
    }
  }
  return false;
}

// A name or string from the file as it appears in a message: control
// characters (JSON strings may hold newlines) become '?' so the message stays
// one line, and long strings are cut. With `asciiOnly`, so do bytes past
// 0x7f, for text that need not be valid UTF-8.
std::string shown(const std::string &s, bool asciiOnly = false) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool replace = c < 0x20 || c == 0x7f || (asciiOnly && c >= 0x80);
    out += replace ? '?' : static_cast<char>(c);
  }
  if (s.size() > kMaxShown)
    out += "...";
  return out;
}

// What a JSON value is, for "... is <this>, not ..." messages: numbers are
// shown (they are short), anything else by its type.
std::string describe(const Json &value) {
  if (value.is_number())
    return value.dump();
  if (value.is_string())
    return "the string \"" + shown(value.get_ref<const std::string &>()) + "\"";
  return std::string(value.is_array() || value.is_object() ? "an " : "a ") +
         value.type_name();
}

// JSON's spelling of a shape or of data_offsets, as in the file: "[2, 3]".
template <typename T> std::string formatList(const std::vector<T> &values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(values[i]);
  }
  return s + "]";
}

// The checked data size of `shape` of `dtype`, the shape as the file
// spells it.
std::string computeDataBytes(const std::vector<int64_t> &shape, DType dtype,
                             uint64_t &bytes) {
  return checkedDataBytes(shape, formatList(shape), safetensorsDTypeName(dtype),
                          dtypeSize(dtype), bytes);
}

/// A SAX handler that accepts everything and keeps the parse error. The DOM
/// parse without exceptions only says that the text is not JSON; on failure
/// the header is parsed again with this to say where and why.
class ParseErrorRecorder : public nlohmann::json_sax<Json> {
public:
  std::string message;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t &) override { return true; }
  bool string(string_t &) override { return true; }
  bool binary(binary_t &) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t &) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string &,
                   const Json::exception &ex) override {
    // Drop the "[json.exception.parse_error.101] " prefix. The rest quotes
    // the offending bytes, which may be the ill-formed UTF-8 complained of.
    std::string what = ex.what();
    size_t prefixEnd = what.find("] ");
    message = shown(prefixEnd == std::string::npos ? what
                                                   : what.substr(prefixEnd + 2),
                    /*asciiOnly=*/true);
    return false;
  }
};

std::string describeParseError(const std::string &text) {
  ParseErrorRecorder recorder;
  Json::sax_parse(text.data(), text.data() + text.size(), &recorder);
  return recorder.message.empty() ? "not valid JSON" : recorder.message;
}

// Checks `metadata`, the value of "__metadata__": an object of strings.
// Returns an empty string or the problem.
std::string checkMetadata(const Json &metadata) {
  if (!metadata.is_object())
    return std::string("'") + kMetadataKey + "' is " + describe(metadata) +
           ", not an object";
  for (const auto &[key, value] : metadata.items())
    if (!value.is_string())
      return std::string("'") + kMetadataKey + "' value of '" + shown(key) +
             "' is " + describe(value) + ", not a string";
  return "";
}

// Reads an array of non-negative integers that fit in `max`, or returns the
// problem. `field` names it in messages.
std::string parseUnsignedList(const Json &value, const char *field,
                              uint64_t max, std::vector<uint64_t> &out) {
  if (!value.is_array())
    return std::string("'") + field + "' is " + describe(value) +
           ", not an array";
  out.clear();
  for (size_t i = 0; i < value.size(); ++i) {
    const Json &element = value[i];
    // nlohmann stores non-negative integer literals as unsigned, negative
    // ones as integer, and anything with a fraction, an exponent or more
    // than 64 bits as float; only the first is accepted.
    if (!element.is_number_unsigned())
      return std::string("'") + field + "' element " + std::to_string(i) +
             " is " + describe(element) + ", not a non-negative integer";
    uint64_t v = element.get<uint64_t>();
    if (v > max)
      return std::string("'") + field + "' element " + std::to_string(i) +
             " is " + std::to_string(v) + ", more than " + std::to_string(max);
    out.push_back(v);
  }
  return "";
}

// Checks one tensor's entry and fills `entry`; `dataSize` is the size of the
// data section. Returns an empty string or the problem.
std::string parseEntry(const Json &value, uint64_t dataSize,
                       SafetensorsEntry &entry) {
  if (!value.is_object())
    return "the entry is " + describe(value) + ", not an object";
  for (auto it = value.begin(); it != value.end(); ++it)
    if (it.key() != "dtype" && it.key() != "shape" &&
        it.key() != "data_offsets")
      return "unknown field '" + shown(it.key()) +
             "' (expected 'dtype', 'shape' and 'data_offsets')";
  for (const char *key : {"dtype", "shape", "data_offsets"})
    if (!value.contains(key))
      return std::string("missing field '") + key + "'";

  const Json &dtype = value["dtype"];
  if (!dtype.is_string())
    return "'dtype' is " + describe(dtype) + ", not a string";
  const std::string &dtypeName = dtype.get_ref<const std::string &>();
  if (!parseDType(dtypeName, entry.dtype))
    return "unsupported dtype '" + shown(dtypeName) +
           "' (supported: F16, BF16, F32, F64, I32, I64)";

  std::vector<uint64_t> dims;
  std::string problem = parseUnsignedList(
      value["shape"], "shape", std::numeric_limits<int64_t>::max(), dims);
  if (!problem.empty())
    return problem;
  entry.shape.assign(dims.begin(), dims.end());

  std::vector<uint64_t> offsets;
  problem = parseUnsignedList(value["data_offsets"], "data_offsets",
                              std::numeric_limits<uint64_t>::max(), offsets);
  if (!problem.empty())
    return problem;
  if (offsets.size() != 2)
    return "'data_offsets' has " + std::to_string(offsets.size()) +
           " elements, not 2 ([begin, end])";
  entry.begin = offsets[0];
  entry.end = offsets[1];
  if (entry.end < entry.begin)
    return "data_offsets " + formatList(offsets) + " end before they begin";
  if (entry.end > dataSize)
    return "data_offsets " + formatList(offsets) +
           " extend past the end of the data section (" +
           std::to_string(dataSize) + " bytes)";

  uint64_t bytes;
  problem = computeDataBytes(entry.shape, entry.dtype, bytes);
  if (!problem.empty())
    return problem;
  if (entry.end - entry.begin != bytes)
    return "shape " + formatList(entry.shape) + " of " + dtypeName + " needs " +
           std::to_string(bytes) + " bytes but data_offsets " +
           formatList(offsets) + " hold " +
           std::to_string(entry.end - entry.begin);
  return "";
}

} // namespace

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

bool SafetensorsFile::open(const std::string &filePath, std::string &error) {
  // A failed open leaves no tensors, whatever was open before; the path is
  // kept so that a later read() names the file.
  *this = SafetensorsFile();
  path = filePath;
  auto fail = [&](const std::string &what) {
    error = filePath + ": " + what;
    return false;
  };
  auto readError = [&](std::FILE *f) { return fail(readFailure(f)); };

  FilePtr file;
  uint64_t fileSize = 0;
  std::string what;
  if (!openForReading(filePath, file, fileSize, what))
    return fail(what);

  uint8_t sizeField[8];
  size_t got = std::fread(sizeField, 1, 8, file.get());
  if (got < 8) {
    if (std::ferror(file.get()))
      return readError(file.get());
    return fail("truncated: the file holds only " + std::to_string(got) +
                " bytes, too few for the 8-byte header size");
  }
  const uint64_t headerSize = loadLE(sizeField, 8);
  if (headerSize > kMaxHeaderBytes)
    return fail("the header size field declares " + std::to_string(headerSize) +
                " bytes of header, more than the " +
                std::to_string(kMaxHeaderBytes) +
                " a .safetensors header may have (not a .safetensors file?)");
  // Only a file that shrank since file_size() can fail this.
  const uint64_t afterSize = fileSize >= 8 ? fileSize - 8 : 0;
  if (headerSize > afterSize)
    return fail("truncated: the header size field declares " +
                std::to_string(headerSize) + " bytes of header but only " +
                std::to_string(afterSize) + " follow");
  std::string text(headerSize, '\0');
  if (std::fread(text.data(), 1, headerSize, file.get()) != headerSize)
    return readError(file.get());
  // The data is read on demand by read().
  file.reset();

  // nlohmann's lexer takes a NUL byte for the end of the input, so
  // "{}\0garbage" would parse; JSON allows no NUL anywhere (not even in
  // strings, unescaped), and the reference implementation rejects it.
  size_t nul = text.find('\0');
  if (nul != std::string::npos)
    return fail("malformed header: NUL byte at offset " + std::to_string(nul) +
                " (the header is JSON, padded only with spaces)");
  const Json header = Json::parse(text.data(), text.data() + text.size(),
                                  /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded())
    return fail("malformed header: " + describeParseError(text));
  if (!header.is_object())
    return fail("malformed header: the JSON is " + describe(header) +
                ", not an object");

  const uint64_t dataSize = afterSize - headerSize;
  std::vector<std::string> names;
  std::map<std::string, SafetensorsEntry> parsed;
  for (const auto &[name, value] : header.items()) {
    if (name == kMetadataKey) {
      std::string problem = checkMetadata(value);
      if (!problem.empty())
        return fail("malformed header: " + problem);
      continue;
    }
    SafetensorsEntry entry;
    std::string problem = parseEntry(value, dataSize, entry);
    if (!problem.empty())
      return fail("tensor '" + shown(name) + "': " + problem);
    names.push_back(name);
    parsed.emplace(name, std::move(entry));
  }

  tensorNames = std::move(names);
  entries = std::move(parsed);
  dataStart = 8 + headerSize;
  return true;
}

const SafetensorsEntry *SafetensorsFile::find(const std::string &name) const {
  auto it = entries.find(name);
  return it == entries.end() ? nullptr : &it->second;
}

bool SafetensorsFile::read(const std::string &name, Array &out,
                           std::string &error) const {
  auto fail = [&](const std::string &what) {
    error = path + ": tensor '" + shown(name) + "': " + what;
    return false;
  };
  if (path.empty()) {
    error = "tensor '" + shown(name) + "': no .safetensors file is open";
    return false;
  }
  const SafetensorsEntry *entry = find(name);
  if (!entry)
    return fail("no such tensor");

  // open() checked the size against the shape, so this cannot overflow.
  const uint64_t bytes = entry->end - entry->begin;
  const uint64_t offset = dataStart + entry->begin;
  if (offset > static_cast<uint64_t>(LONG_MAX))
    return fail("its data offset " + std::to_string(offset) +
                " is beyond what this host can seek to");

  errno = 0;
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file)
    return fail(std::string("cannot open: ") + std::strerror(errno));
  if (std::fseek(file.get(), static_cast<long>(offset), SEEK_SET) != 0)
    return fail(std::string("cannot seek: ") + std::strerror(errno));

  Array result;
  result.dtype = entry->dtype;
  result.shape = entry->shape;
  result.data.resize(bytes);
  // An empty tensor's data() may be null, which fread must not see.
  if (bytes != 0 &&
      std::fread(result.data.data(), 1, bytes, file.get()) != bytes)
    return fail(std::string("cannot read: ") +
                (std::ferror(file.get())
                     ? std::strerror(errno)
                     : "the file is shorter than when it was opened"));
  out = std::move(result);
  return true;
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

bool muonssm::npy::writeSafetensors(
    const std::string &path,
    const std::vector<std::pair<std::string, const Array *>> &tensors,
    std::string &error) {
  auto fail = [&](const std::string &what) {
    error = path + ": " + what;
    return false;
  };

  Json header = Json::object();
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto &tensor : tensors) {
    // Not a structured binding: C++17 lambdas cannot capture those.
    const std::string &name = tensor.first;
    const Array *array = tensor.second;
    auto failTensor = [&](const std::string &what) {
      return fail("tensor '" + shown(name) + "': " + what);
    };
    if (!array)
      return failTensor("no array (null pointer)");
    if (name == kMetadataKey)
      return failTensor("the name is reserved for the header's metadata");
    // JSON strings must be UTF-8, and nlohmann's dump() would throw (abort,
    // here) on anything else.
    if (!isValidUtf8(name))
      return failTensor("the name is not valid UTF-8");
    if (!seen.insert(name).second)
      return failTensor("duplicate name");
    uint64_t bytes;
    std::string problem = computeDataBytes(array->shape, array->dtype, bytes);
    if (!problem.empty())
      return failTensor(problem);
    if (array->data.size() != bytes)
      return failTensor("the array holds " +
                        std::to_string(array->data.size()) +
                        " bytes of data but shape " + formatList(array->shape) +
                        " of " + safetensorsDTypeName(array->dtype) +
                        " needs " + std::to_string(bytes));

    // Field order as the reference implementation writes it.
    Json entry = Json::object();
    entry["dtype"] = safetensorsDTypeName(array->dtype);
    entry["shape"] = Json::array();
    for (int64_t d : array->shape)
      entry["shape"].push_back(d);
    entry["data_offsets"] = Json::array({offset, offset + bytes});
    header[name] = std::move(entry);
    offset += bytes;
  }

  std::string text = header.dump();
  text.append((kHeaderAlign - text.size() % kHeaderAlign) % kHeaderAlign, ' ');
  if (text.size() > kMaxHeaderBytes)
    return fail("the header would take " + std::to_string(text.size()) +
                " bytes, more than the " + std::to_string(kMaxHeaderBytes) +
                " a .safetensors header may have");
  uint8_t sizeField[8];
  storeLE(sizeField, text.size(), 8);

  std::vector<std::pair<const void *, size_t>> pieces = {
      {sizeField, 8}, {text.data(), text.size()}};
  for (const auto &tensor : tensors)
    pieces.push_back({tensor.second->data.data(), tensor.second->data.size()});
  std::string what;
  if (!writeAtomically(path, pieces, what))
    return fail(what);
  return true;
}
