//===- Npy.cpp - NumPy .npy reader and writer -----------------------------===//
//
// The format (numpy/lib/format.py): the magic "\x93NUMPY", a major and a
// minor version byte, the header length (uint16 for 1.0, uint32 for 2.0 and
// 3.0, little-endian), then the header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a final '\n' so that the data starts on a 64-byte
// boundary, then the raw elements.
//
//===----------------------------------------------------------------------===//

#include "lib/npy/Npy.h"
#include "lib/npy/FileIO.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

using namespace muonssm::npy;
using namespace muonssm::npy::detail;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy's ARRAY_ALIGN: the data starts on this boundary so it can be mmapped.
constexpr size_t kArrayAlign = 64;
// numpy's GROWTH_AXIS_MAX_DIGITS: spare spaces numpy leaves after the dict so
// the first dim can grow in place; the writer copies it to match numpy's
// bytes exactly.
constexpr size_t kGrowthAxisMaxDigits = 21;
// numpy's sizes are npy_intp; refuse anything a signed 64-bit size cannot
// hold rather than letting the product wrap.
constexpr uint64_t kMaxBytes = std::numeric_limits<int64_t>::max();

// Decodes an IEEE-style binary float with `expBits` exponent bits and
// `mantBits` stored fraction bits. Every such value with at most 11
// exponent bits and 52 fraction bits is exactly a double.
double decodeFloat(uint64_t bits, int expBits, int mantBits) {
  const int bias = (1 << (expBits - 1)) - 1;
  const uint64_t expMask = (uint64_t(1) << expBits) - 1;
  const uint64_t mantMask = (uint64_t(1) << mantBits) - 1;
  const bool negative = (bits >> (expBits + mantBits)) & 1;
  const uint64_t exp = (bits >> mantBits) & expMask;
  const uint64_t mant = bits & mantMask;
  double magnitude;
  if (exp == expMask)
    magnitude = mant ? std::numeric_limits<double>::quiet_NaN()
                     : std::numeric_limits<double>::infinity();
  else if (exp == 0)
    magnitude = std::ldexp(static_cast<double>(mant), 1 - bias - mantBits);
  else
    magnitude = std::ldexp(static_cast<double>(mant | (mantMask + 1)),
                           static_cast<int>(exp) - bias - mantBits);
  return std::copysign(magnitude, negative ? -1.0 : 1.0);
}

// Rounds a non-negative double to an integer, ties to even. Computed by hand
// so it does not depend on the floating-point rounding mode; `a - floor(a)`
// is exact for a >= 0.
double roundHalfEven(double a) {
  double fl = std::floor(a);
  double frac = a - fl;
  if (frac > 0.5 || (frac == 0.5 && std::fmod(fl, 2.0) != 0.0))
    fl += 1.0;
  return fl;
}

// Encodes `v` into a binary float format (see decodeFloat), rounding to
// nearest even directly from the double. Going through float first would
// round twice and can be off by one ulp for f16/bf16.
uint64_t encodeFloat(double v, int expBits, int mantBits) {
  const int bias = (1 << (expBits - 1)) - 1;
  const uint64_t infBits = ((uint64_t(1) << expBits) - 1) << mantBits;
  const uint64_t sign =
      std::signbit(v) ? uint64_t(1) << (expBits + mantBits) : 0;
  if (std::isnan(v))
    return sign | infBits | (uint64_t(1) << (mantBits - 1)); // quiet NaN
  double a = std::fabs(v);
  if (std::isinf(a))
    return sign | infBits;
  if (a == 0.0)
    return sign;
  const int minExp = 1 - bias; // exponent of the smallest normal
  int e;
  std::frexp(a, &e);
  e -= 1; // now a is in [2^e, 2^(e+1))
  // Subnormals share the smallest normal's spacing.
  if (e < minExp)
    e = minExp;
  // Scaling by a power of two is exact: q counts units of the target ulp.
  double q = roundHalfEven(std::ldexp(a, mantBits - e));
  // For normals q includes the implicit bit, so adding it to the exponent
  // field below yields the biased exponent; a round-up to 2^(mantBits+1)
  // carries into the next exponent, and one past the largest finite value
  // lands on the infinity pattern.
  uint64_t bits = (static_cast<uint64_t>(e - minExp) << mantBits) +
                  static_cast<uint64_t>(q);
  if (bits >= infBits)
    bits = infBits;
  return sign | bits;
}

const char *descrFor(DType dtype) {
  switch (dtype) {
  case DType::F16:
    return "<f2";
  case DType::BF16:
    return "<u2"; // numpy has no bfloat16: the project stores the raw bits.
  case DType::F32:
    return "<f4";
  case DType::F64:
    return "<f8";
  case DType::I32:
    return "<i4";
  case DType::I64:
    return "<i8";
  }
  return "?";
}

// Python's repr of a shape tuple, as numpy writes it: "()", "(5,)", "(2, 3)".
std::string formatShape(const std::vector<int64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1)
    s += ",";
  return s + ")";
}

struct Header {
  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

/// Parses the header dict. numpy reads it with ast.literal_eval, so this
/// accepts the Python spellings of the three keys' values (either quote
/// style, any whitespace, optional trailing commas, Python 2's 'L' suffix)
/// and, like numpy, rejects anything else rather than guessing.
class HeaderParser {
public:
  explicit HeaderParser(const std::string &header) : text(header) {}

  /// On failure returns false and sets `error` to the whole message (minus
  /// the file name).
  bool parse(Header &header, std::string &error);

private:
  const std::string &text;
  size_t pos = 0;
  std::string message;

  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return atEnd() ? '\0' : text[pos]; }
  void skipSpace();
  bool consume(char c);
  bool fail(const std::string &what);
  bool parseString(std::string &out, const char *what);
  bool parseBool(bool &out, const char *what);
  bool parseDim(int64_t &out);
  bool parseShape(std::vector<int64_t> &out);
};

void HeaderParser::skipSpace() {
  while (!atEnd() && std::strchr(" \t\n\r\f\v", text[pos]) && text[pos])
    ++pos;
}

bool HeaderParser::consume(char c) {
  if (atEnd() || text[pos] != c)
    return false;
  ++pos;
  return true;
}

bool HeaderParser::fail(const std::string &what) {
  // Quote the header (trimmed, non-printables replaced) so the message alone
  // shows what the file holds.
  std::string shown;
  size_t end = text.find_last_not_of(" \t\n\r\f\v");
  end = end == std::string::npos ? 0 : end + 1;
  const size_t maxShown = 200;
  for (size_t i = 0; i < end && i < maxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    shown += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (end > maxShown)
    shown += "...";
  message = "malformed header: " + what + " at offset " + std::to_string(pos) +
            " in \"" + shown + "\"";
  return false;
}

bool HeaderParser::parseString(std::string &out, const char *what) {
  char quote = peek();
  if (atEnd() || (quote != '\'' && quote != '"'))
    return fail(std::string("expected ") + what + " (a quoted string)");
  size_t start = ++pos;
  while (!atEnd() && text[pos] != quote) {
    if (text[pos] == '\\')
      return fail("escape sequences in strings are not supported");
    if (text[pos] == '\n')
      return fail("unterminated string");
    ++pos;
  }
  if (atEnd())
    return fail("unterminated string");
  out = text.substr(start, pos - start);
  ++pos;
  return true;
}

bool isIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool HeaderParser::parseBool(bool &out, const char *what) {
  for (const char *word : {"True", "False"}) {
    size_t len = std::strlen(word);
    if (text.compare(pos, len, word) == 0 &&
        (pos + len >= text.size() || !isIdentChar(text[pos + len]))) {
      out = word[0] == 'T';
      pos += len;
      return true;
    }
  }
  return fail(std::string("expected True or False for ") + what);
}

bool HeaderParser::parseDim(int64_t &out) {
  bool negative = false;
  if (consume('-'))
    negative = true;
  else
    consume('+');
  if (!std::isdigit(static_cast<unsigned char>(peek())))
    return fail("expected an integer dimension in 'shape'");
  uint64_t magnitude = 0;
  size_t start = pos;
  while (std::isdigit(static_cast<unsigned char>(peek()))) {
    uint64_t digit = static_cast<uint64_t>(text[pos] - '0');
    if (magnitude > (kMaxBytes - digit) / 10) {
      pos = start;
      return fail("dimension does not fit in 64 bits");
    }
    magnitude = magnitude * 10 + digit;
    ++pos;
  }
  // Python 2 numpy wrote long ints with an 'L' suffix.
  if (peek() == 'L' || peek() == 'l')
    ++pos;
  if (isIdentChar(peek()))
    return fail("unexpected character after a dimension in 'shape'");
  out = negative ? -static_cast<int64_t>(magnitude)
                 : static_cast<int64_t>(magnitude);
  return true;
}

bool HeaderParser::parseShape(std::vector<int64_t> &out) {
  if (!consume('('))
    return fail("expected a tuple for 'shape'");
  out.clear();
  skipSpace();
  if (consume(')'))
    return true; // () is rank 0
  bool sawComma = false;
  while (true) {
    int64_t dim;
    if (!parseDim(dim))
      return false;
    out.push_back(dim);
    skipSpace();
    if (consume(',')) {
      sawComma = true;
      skipSpace();
      if (consume(')'))
        return true;
      continue;
    }
    if (consume(')')) {
      // In Python "(5)" is the int 5; numpy rejects it, and so do we.
      if (!sawComma)
        return fail("'shape' is an int in parentheses, not a tuple (a "
                    "1-d shape is written (5,))");
      return true;
    }
    return fail("expected ',' or ')' in 'shape'");
  }
}

bool HeaderParser::parse(Header &header, std::string &error) {
  bool seenDescr = false, seenFortran = false, seenShape = false;
  auto done = [&](bool ok) {
    if (!ok)
      error = message;
    return ok;
  };
  skipSpace();
  if (!consume('{'))
    return done(fail("expected '{'"));
  while (true) {
    skipSpace();
    if (consume('}'))
      break;
    std::string key;
    if (!parseString(key, "a key"))
      return done(false);
    skipSpace();
    if (!consume(':'))
      return done(fail("expected ':' after key '" + key + "'"));
    skipSpace();
    bool *seen;
    if (key == "descr") {
      seen = &seenDescr;
      // A list is a structured (record) dtype: not malformed, unsupported.
      if (peek() == '[') {
        error = "unsupported dtype: structured (record) dtypes are not "
                "supported";
        return false;
      }
      if (!parseString(header.descr, "a string for 'descr'"))
        return done(false);
    } else if (key == "fortran_order") {
      seen = &seenFortran;
      if (!parseBool(header.fortranOrder, "'fortran_order'"))
        return done(false);
    } else if (key == "shape") {
      seen = &seenShape;
      if (!parseShape(header.shape))
        return done(false);
    } else {
      return done(fail("unexpected key '" + key + "'"));
    }
    if (*seen)
      return done(fail("duplicate key '" + key + "'"));
    *seen = true;
    skipSpace();
    if (consume(','))
      continue;
    if (consume('}'))
      break;
    return done(fail("expected ',' or '}' after the value of '" + key + "'"));
  }
  skipSpace();
  if (!atEnd())
    return done(fail("unexpected text after the closing '}'"));
  for (auto [seen, key] :
       {std::pair{seenDescr, "descr"}, std::pair{seenFortran, "fortran_order"},
        std::pair{seenShape, "shape"}})
    if (!seen)
      return done(fail(std::string("missing key '") + key + "'"));
  return true;
}

// Maps a descr to a DType, or returns the problem.
std::string resolveDescr(const std::string &descr, bool expectBf16,
                         DType &dtype) {
  std::string unsupported = "unsupported dtype '" + descr + "'";
  if (descr.size() != 3 || !std::strchr("<>|=", descr[0]) || !descr[0])
    return unsupported;
  char order = descr[0];
  std::string base = descr.substr(1);
  if (base == "f2")
    dtype = DType::F16;
  else if (base == "f4")
    dtype = DType::F32;
  else if (base == "f8")
    dtype = DType::F64;
  else if (base == "i4")
    dtype = DType::I32;
  else if (base == "i8")
    dtype = DType::I64;
  else if (base == "u2" || base == "V2")
    dtype = DType::BF16;
  else
    return unsupported;
  if (order == '>')
    return "big-endian arrays are not supported (descr '" + descr + "')";
  // '|' means "byte order not applicable": numpy writes it for void types,
  // never for multi-byte numbers.
  if (order == '|' && base != "V2")
    return unsupported;
  if (dtype == DType::BF16 && !expectBf16)
    return unsupported + (base == "u2"
                              ? " (uint16 is read only as bf16 bits)"
                              : " (2-byte void is read only as bf16 bits)");
  return "";
}

} // namespace

//===----------------------------------------------------------------------===//
// DType and Array
//===----------------------------------------------------------------------===//

const char *muonssm::npy::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::F32:
    return "f32";
  case DType::F64:
    return "f64";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  }
  return "?";
}

size_t muonssm::npy::dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F64:
  case DType::I64:
    return 8;
  }
  return 0;
}

std::string muonssm::npy::checkedDataBytes(const std::vector<int64_t> &shape,
                                           const std::string &shapeText,
                                           const std::string &typeName,
                                           uint64_t elemSize, uint64_t &bytes) {
  for (int64_t d : shape)
    if (d < 0)
      return "negative dimension " + std::to_string(d) + " in shape " +
             shapeText;
  uint64_t product = elemSize;
  bool zero = false;
  for (int64_t d : shape) {
    if (d == 0) {
      zero = true;
      continue;
    }
    if (product > kMaxBytes / static_cast<uint64_t>(d))
      return "shape " + shapeText + " of " + typeName +
             " is too large (its data size overflows 64 bits)";
    product *= static_cast<uint64_t>(d);
  }
  if (product > std::numeric_limits<size_t>::max())
    return "shape " + shapeText + " of " + typeName +
           " is too large for this host";
  bytes = zero ? 0 : product;
  return "";
}

size_t Array::numElements() const {
  size_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<size_t>(d);
  return n;
}

double Array::getAsDouble(size_t i) const {
  const size_t size = dtypeSize(dtype);
  assert(i < numElements() && (i + 1) * size <= data.size() &&
         "element index out of range");
  uint64_t bits = loadLE(data.data() + i * size, size);
  switch (dtype) {
  case DType::F16:
    return decodeFloat(bits, 5, 10);
  case DType::BF16:
    return decodeFloat(bits, 8, 7);
  case DType::F32: {
    uint32_t b32 = static_cast<uint32_t>(bits);
    float f;
    std::memcpy(&f, &b32, sizeof f);
    return f;
  }
  case DType::F64: {
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  case DType::I32:
    return static_cast<int32_t>(static_cast<uint32_t>(bits));
  case DType::I64:
    return static_cast<double>(static_cast<int64_t>(bits));
  }
  return 0.0;
}

void Array::setFromDouble(size_t i, double v) {
  const size_t size = dtypeSize(dtype);
  assert(i < numElements() && (i + 1) * size <= data.size() &&
         "element index out of range");
  uint64_t bits = 0;
  switch (dtype) {
  case DType::F16:
    bits = encodeFloat(v, 5, 10);
    break;
  case DType::BF16:
    bits = encodeFloat(v, 8, 7);
    break;
  case DType::F32:
    // In range, the cast is one IEEE conversion (round to nearest even in
    // the default mode, which nothing here changes) and many times faster
    // than the encoder: a language model's random weights are 10^8 of
    // them. Out of range the cast is undefined behaviour, so the encoder
    // rounds those (to ±FLT_MAX or ±inf) and NaN.
    if (std::fabs(v) <=
        static_cast<double>(std::numeric_limits<float>::max())) {
      float f = static_cast<float>(v);
      uint32_t word;
      std::memcpy(&word, &f, sizeof f);
      bits = word;
    } else {
      bits = encodeFloat(v, 8, 23);
    }
    break;
  case DType::F64:
    std::memcpy(&bits, &v, sizeof v);
    break;
  case DType::I32:
  case DType::I64: {
    double r =
        std::isnan(v) ? 0.0 : std::copysign(roundHalfEven(std::fabs(v)), v);
    int64_t value;
    if (dtype == DType::I32) {
      if (r >= 2147483647.0)
        value = std::numeric_limits<int32_t>::max();
      else if (r <= -2147483648.0)
        value = std::numeric_limits<int32_t>::min();
      else
        value = static_cast<int64_t>(r);
    } else {
      // 2^63 is exactly representable; INT64_MAX is not.
      if (r >= 9223372036854775808.0)
        value = std::numeric_limits<int64_t>::max();
      else if (r <= -9223372036854775808.0)
        value = std::numeric_limits<int64_t>::min();
      else
        value = static_cast<int64_t>(r);
    }
    bits = static_cast<uint64_t>(value);
    break;
  }
  }
  storeLE(data.data() + i * size, bits, size);
}

Array Array::zeros(DType dtype, std::vector<int64_t> shape) {
  Array array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  for ([[maybe_unused]] int64_t d : array.shape)
    assert(d >= 0 && "negative dimension");
  array.data.assign(array.numElements() * dtypeSize(dtype), 0);
  return array;
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

bool muonssm::npy::readNpy(const std::string &path, Array &out,
                           std::string &error, bool expectBf16) {
  auto fail = [&](const std::string &what) {
    error = path + ": " + what;
    return false;
  };
  auto readError = [&](std::FILE *f) { return fail(readFailure(f)); };

  FilePtr file;
  uint64_t fileSize = 0;
  std::string what;
  if (!openForReading(path, file, fileSize, what))
    return fail(what);

  // Magic and version.
  uint8_t prefix[12];
  size_t got = std::fread(prefix, 1, 8, file.get());
  if (std::memcmp(prefix, kMagic, std::min(got, kMagicLen)) != 0)
    return fail("not a .npy file (bad magic)");
  if (got < 8) {
    if (std::ferror(file.get()))
      return readError(file.get());
    return fail("truncated: the file holds only " + std::to_string(got) +
                " bytes, too few for the magic string and version");
  }
  const unsigned major = prefix[6], minor = prefix[7];
  if (major < 1 || major > 3 || minor != 0)
    return fail("unsupported .npy format version " + std::to_string(major) +
                "." + std::to_string(minor) +
                " (only 1.0, 2.0 and 3.0 are supported)");

  // Header length: uint16 in 1.0, uint32 from 2.0 on.
  const size_t lenSize = major == 1 ? 2 : 4;
  if (std::fread(prefix + 8, 1, lenSize, file.get()) != lenSize) {
    if (std::ferror(file.get()))
      return readError(file.get());
    return fail("truncated: the file ends inside the header length field");
  }
  const uint64_t headerLen = loadLE(prefix + 8, lenSize);
  const uint64_t prefixLen = 8 + lenSize;
  // Only a file that grew since file_size() can fail this.
  const uint64_t afterPrefix = fileSize >= prefixLen ? fileSize - prefixLen : 0;
  // Checked before allocating: a v2 length can claim up to 4 GiB.
  if (afterPrefix < headerLen)
    return fail("truncated: the header length field declares " +
                std::to_string(headerLen) + " bytes of header but only " +
                std::to_string(afterPrefix) + " follow");
  std::string text(headerLen, '\0');
  if (std::fread(text.data(), 1, headerLen, file.get()) != headerLen)
    return readError(file.get());

  Header header;
  std::string problem;
  if (!HeaderParser(text).parse(header, problem))
    return fail(problem);

  Array result;
  problem = resolveDescr(header.descr, expectBf16, result.dtype);
  if (!problem.empty())
    return fail(problem);
  if (header.fortranOrder)
    return fail("Fortran-ordered arrays are not supported");
  uint64_t dataBytes;
  problem = checkedDataBytes(header.shape, formatShape(header.shape),
                             header.descr, dtypeSize(result.dtype), dataBytes);
  if (!problem.empty())
    return fail(problem);

  // Compared before allocating, so a corrupt shape cannot ask for more
  // memory than the file could fill.
  const uint64_t available = afterPrefix - headerLen;
  if (available != dataBytes)
    return fail(
        std::string(available < dataBytes ? "truncated" : "trailing bytes") +
        ": the header declares shape " + formatShape(header.shape) + " of " +
        header.descr + " (" + std::to_string(dataBytes) +
        " bytes of data) but the file holds " + std::to_string(available));

  result.shape = std::move(header.shape);
  result.data.resize(dataBytes);
  if (dataBytes != 0 &&
      std::fread(result.data.data(), 1, dataBytes, file.get()) != dataBytes)
    return readError(file.get());
  if (std::fgetc(file.get()) != EOF)
    return fail("trailing bytes: the file grew while being read");
  out = std::move(result);
  return true;
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

namespace {

// The magic, version, header length and header, byte for byte what numpy's
// _write_array_header writes (keys sorted, growth padding, 64-byte
// alignment, a full 64 bytes of padding when already aligned).
std::string buildHeader(const char *descr, const std::vector<int64_t> &shape) {
  std::string dict =
      std::string("{'descr': '") + descr +
      "', 'fortran_order': False, 'shape': " + formatShape(shape) + ", }";
  if (!shape.empty()) {
    size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthAxisMaxDigits)
      dict.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  const size_t hlen = dict.size() + 1; // + the final '\n'
  size_t lenSize = 2;
  size_t padLen = kArrayAlign - (kMagicLen + 2 + lenSize + hlen) % kArrayAlign;
  unsigned major = 1;
  if (hlen + padLen > 0xffff) {
    lenSize = 4;
    padLen = kArrayAlign - (kMagicLen + 2 + lenSize + hlen) % kArrayAlign;
    major = 2;
  }
  std::string bytes(kMagic, kMagicLen);
  bytes += static_cast<char>(major);
  bytes += '\0';
  uint8_t len[4];
  storeLE(len, hlen + padLen, lenSize);
  bytes.append(reinterpret_cast<const char *>(len), lenSize);
  bytes += dict;
  bytes.append(padLen, ' ');
  bytes += '\n';
  return bytes;
}

} // namespace

bool muonssm::npy::writeNpy(const std::string &path, const Array &array,
                            std::string &error) {
  auto fail = [&](const std::string &what) {
    error = path + ": " + what;
    return false;
  };
  uint64_t dataBytes;
  std::string problem = checkedDataBytes(array.shape, formatShape(array.shape),
                                         dtypeName(array.dtype),
                                         dtypeSize(array.dtype), dataBytes);
  if (!problem.empty())
    return fail(problem);
  if (array.data.size() != dataBytes)
    return fail("the array holds " + std::to_string(array.data.size()) +
                " bytes of data but shape " + formatShape(array.shape) +
                " of " + dtypeName(array.dtype) + " needs " +
                std::to_string(dataBytes));

  const std::string header = buildHeader(descrFor(array.dtype), array.shape);
  std::string what;
  if (!writeAtomically(path,
                       {{header.data(), header.size()},
                        {array.data.data(), dataBytes}},
                       what))
    return fail(what);
  return true;
}
