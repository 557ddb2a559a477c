//===- TomlppUnicode.h - keeps toml++ 3.3.0 off its unreachable -*- C++ -*-===//
//
// Plain C++17 (no MLIR, no toml++), so that the test of the defect can
// build it with the sanitizer alone.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_CARD_TOMLPPUNICODE_H
#define MUONSSM_LIB_CARD_TOMLPPUNICODE_H

#include "lib/npy/Utf8.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace mlir::muonssm::card {

/// Works around toml++ 3.3.0 (Debian 12's libtomlplusplus-dev): its
/// generated is_non_ascii_horizontal_whitespace() reaches TOML_UNREACHABLE
/// (__builtin_unreachable: undefined behaviour) for the 3019 code points
/// U+00A1..U+0499 (Latin-1 letters, Greek and Cyrillic among them: a card
/// with `γ = 0.9`), U+2C5E..U+3057 but U+3000 (CJK punctuation among them)
/// and U+FB26..U+FEFE, wherever the parser asks whether one is
/// whitespace: outside strings, after a multi-line string's line-ending
/// backslash, and while it scans ahead to word an error
/// (marzer/tomlplusplus#190, #295; fixed upstream by PR #305, after 3.4.0).
///
/// So toml++ never sees them: each such code point is replaced by one of
/// the private-use area (U+E000..U+F8FF, for which the function returns
/// false, as it should for the originals) that the card does not use, and
/// every string that comes back out of toml++ (values, keys, error
/// descriptions) is mapped back. One code point for one keeps toml++'s
/// line:column positions (it counts code points) and its parse unchanged.
/// test/unit/TomlppUnicodeTest.cpp shows the defect (under UBSan, against
/// reachesUnreachable over every code point), test/tools/model-cards.test
/// the cards that hit it, and test/fuzz/corpus/fuzz-card the inputs the
/// fuzzer found (docs/fuzzing.md).
class TomlppUnicodeGuard {
public:
  explicit TomlppUnicodeGuard(std::string_view text) {
    std::set<uint32_t> used; // private-use code points already in the card
    forEachCodePoint(text, [&](uint32_t cp, std::string_view) {
      if (cp >= kFirstPrivate && cp <= kLastPrivate)
        used.insert(cp);
    });
    std::map<uint32_t, uint32_t> substitute; // original -> private use
    uint32_t next = kFirstPrivate;
    forEachCodePoint(text, [&](uint32_t cp, std::string_view bytes) {
      if (!reachesUnreachable(cp)) {
        safe += bytes;
        return;
      }
      auto [it, inserted] = substitute.try_emplace(cp, 0);
      if (inserted) {
        while (used.count(next))
          ++next;
        // 3019 code points reach it, against 6400 private ones: only a card
        // that itself holds thousands of private-use characters runs out.
        if (next > kLastPrivate) {
          exhausted = true;
          return;
        }
        it->second = next++;
        original[it->second] = cp;
      }
      ::muonssm::npy::appendUtf8(safe, it->second);
    });
  }

  /// Whether the private-use area ran out (the card is then refused).
  bool isExhausted() const { return exhausted; }

  /// The card as toml++ may read it.
  std::string_view text() const { return safe; }

  /// `s` (from toml++) with the original code points back.
  std::string restore(std::string_view s) const {
    if (original.empty())
      return std::string(s);
    std::string out;
    forEachCodePoint(s, [&](uint32_t cp, std::string_view bytes) {
      auto it = original.find(cp);
      if (it == original.end())
        out += bytes;
      else
        ::muonssm::npy::appendUtf8(out, it->second);
    });
    return out;
  }

private:
  static constexpr uint32_t kFirstPrivate = 0xE000, kLastPrivate = 0xF8FF;

public:
  /// Whether toml++ 3.3.0's is_non_ascii_horizontal_whitespace(cp) falls
  /// through to TOML_UNREACHABLE (its lookup, case by case).
  static bool reachesUnreachable(uint32_t cp) {
    if (cp < 0xA0 || cp > 0xFEFF)
      return false;
    uint64_t child = (cp - 0xA0) / 0x3FA;
    if ((uint64_t(1) << child) & 0x7FFFFFFFFFFFF75Eull)
      return false;
    if (cp == 0xA0 || cp == 0x3000 || cp == 0xFEFF)
      return false;
    // Of the children whose bit is clear, 5 and 7 have a case that returns;
    // 0, 11 and 63 fall through to the default.
    return child == 0 || child == 11 || child == 63;
  }

private:
  /// Calls fn(code point, its bytes) for each well-formed UTF-8 sequence of
  /// `text`, and fn(0xFFFFFFFF, byte) for each byte of a malformed one (left
  /// as it is, for toml++ to report).
  template <typename Fn>
  static void forEachCodePoint(std::string_view text, Fn fn) {
    for (size_t i = 0; i < text.size();) {
      uint32_t cp;
      size_t n = ::muonssm::npy::decodeUtf8(text, i, cp);
      if (n == 0) {
        fn(0xFFFFFFFFu, text.substr(i, 1));
        ++i;
        continue;
      }
      fn(cp, text.substr(i, n));
      i += n;
    }
  }

  std::string safe;
  std::map<uint32_t, uint32_t> original; // private use -> original
  bool exhausted = false;
};

} // namespace mlir::muonssm::card

#endif // MUONSSM_LIB_CARD_TOMLPPUNICODE_H
