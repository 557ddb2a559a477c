//===- Utf8.h - one strict UTF-8 decoder for the readers --------*- C++ -*-===//
//
// Plain C++17, header only, so that both the safetensors writer (lib/npy) and
// the toml++ guard (lib/card/TomlppUnicode.h, whose test builds it with the
// sanitizer alone) use the same rules, and the guard the same encoder.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_NPY_UTF8_H
#define MUONSSM_LIB_NPY_UTF8_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace muonssm::npy {

/// Decodes the UTF-8 sequence at text[i] into `cp` and returns its length
/// (1 to 4), or 0 where it is malformed: a stray continuation byte, a lead
/// byte that no code point uses, a truncated sequence, an overlong form, a
/// UTF-16 surrogate or a code point past U+10FFFF (RFC 3629, as JSON and TOML
/// require).
inline size_t decodeUtf8(std::string_view text, size_t i, uint32_t &cp) {
  auto lead = static_cast<unsigned char>(text[i]);
  size_t n = lead < 0x80           ? 1
             : (lead >> 5) == 0x6  ? 2
             : (lead >> 4) == 0xE  ? 3
             : (lead >> 3) == 0x1E ? 4
                                   : 0;
  if (n == 0 || text.size() - i < n)
    return 0;
  uint32_t value = n == 1 ? lead : lead & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    auto d = static_cast<unsigned char>(text[i + k]);
    if ((d >> 6) != 0x2)
      return 0;
    value = (value << 6) | (d & 0x3F);
  }
  static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < least[n] || value > 0x10FFFF ||
      (value >= 0xD800 && value <= 0xDFFF))
    return 0;
  cp = value;
  return n;
}

/// Appends `cp` (a code point decodeUtf8 accepts) to `out` in UTF-8.
inline void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
    return;
  }
  static const uint32_t lead[] = {0, 0, 0xC0, 0xE0, 0xF0};
  size_t n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  out += static_cast<char>(lead[n] | (cp >> (6 * (n - 1))));
  for (size_t k = n - 1; k-- > 0;)
    out += static_cast<char>(0x80 | ((cp >> (6 * k)) & 0x3F));
}

/// Whether all of `text` is well-formed UTF-8 (decodeUtf8's rules).
inline bool isValidUtf8(std::string_view text) {
  uint32_t cp;
  for (size_t i = 0, n; i < text.size(); i += n)
    if ((n = decodeUtf8(text, i, cp)) == 0)
      return false;
  return true;
}

} // namespace muonssm::npy

#endif // MUONSSM_LIB_NPY_UTF8_H
