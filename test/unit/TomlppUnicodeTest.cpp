//===- TomlppUnicodeTest.cpp - toml++ 3.3.0's defect and its workaround ---===//
//
// Built with UndefinedBehaviorSanitizer, without recovery: a call of toml++'s
// is_non_ascii_horizontal_whitespace() that reaches its TOML_UNREACHABLE
// aborts the test. So the first test checks lib/card/TomlppUnicode.h's
// predicate against toml++ itself, over every code point, and the death test
// shows that the defect is still there: when a fixed toml++ (PR #305) lands
// in Debian it fails, and the workaround can go.
//
//===----------------------------------------------------------------------===//

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

#include "lib/card/TomlppUnicode.h"

#include <gtest/gtest.h>

using mlir::muonssm::card::TomlppUnicodeGuard;

namespace {

// toml++ declares the function const (TOML_CONST_GETTER), so a call whose
// result goes unused is dropped: the argument and the result go through
// volatiles.
volatile bool sink;
bool tomlppIsWhitespace(uint32_t cp) {
  volatile uint32_t opaque = cp;
  sink = toml::impl::is_non_ascii_horizontal_whitespace(char32_t(opaque));
  return sink;
}

TEST(TomlppUnicode, EveryCodePointButThePredicatesIsSafe) {
  int unsafe = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (TomlppUnicodeGuard::reachesUnreachable(cp)) {
      ++unsafe;
      continue;
    }
    (void)tomlppIsWhitespace(cp); // UBSan aborts here if the predicate errs
  }
  // U+00A1..U+0499, U+2C5E..U+3057 but U+3000, U+FB26..U+FEFE.
  EXPECT_EQ(unsafe, 1017 + 1017 + 985);
  EXPECT_TRUE(TomlppUnicodeGuard::reachesUnreachable(0x3B3));  // γ
  EXPECT_TRUE(TomlppUnicodeGuard::reachesUnreachable(0x3001)); // 、
  EXPECT_FALSE(TomlppUnicodeGuard::reachesUnreachable(0x3000));
  EXPECT_FALSE(TomlppUnicodeGuard::reachesUnreachable(0x2192)); // →
}

TEST(TomlppUnicodeDeathTest, TheDefectIsStillThere) {
  EXPECT_DEATH(tomlppIsWhitespace(0x3B3), "unreachable");
  EXPECT_DEATH(tomlppIsWhitespace(0xFEFE), "unreachable");
}

TEST(TomlppUnicode, GuardHidesAndRestores) {
  std::string card =
      "entry = \"\xCE\xB3\xEE\x80\x80\" # \xE3\x80\x81 \xE2\x86\x92\n"
      "\xCE\xB3 = 1\n";
  TomlppUnicodeGuard guard(card);
  ASSERT_FALSE(guard.isExhausted());
  std::string_view hidden = guard.text();
  EXPECT_NE(hidden, card);
  // No code point toml++ mishandles is left, and U+E000 (in the card) is not
  // reused as a stand-in.
  EXPECT_EQ(hidden.find("\xCE\xB3"), std::string_view::npos);
  EXPECT_EQ(hidden.find("\xE3\x80\x81"), std::string_view::npos);
  EXPECT_NE(hidden.find("\xE2\x86\x92"), std::string_view::npos); // kept
  EXPECT_EQ(guard.restore(hidden), card);
  // Malformed UTF-8 is left for toml++ to report.
  TomlppUnicodeGuard malformed("a = \"\xCE\"\n\xC0\xB3");
  EXPECT_EQ(malformed.text(), "a = \"\xCE\"\n\xC0\xB3");
}

TEST(TomlppUnicode, Utf8RoundTrips) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF)
      continue; // surrogates are not code points UTF-8 may carry
    std::string bytes;
    muonssm::npy::appendUtf8(bytes, cp);
    uint32_t back = 0xFFFFFFFF;
    ASSERT_EQ(muonssm::npy::decodeUtf8(bytes, 0, back), bytes.size()) << cp;
    ASSERT_EQ(back, cp);
  }
}

TEST(TomlppUnicode, GuardRunsOutOfStandIns) {
  std::string card = "# ";
  for (uint32_t cp = 0xE000; cp <= 0xF8FF; ++cp)
    muonssm::npy::appendUtf8(card, cp);
  EXPECT_FALSE(TomlppUnicodeGuard(card).isExhausted()); // nothing to hide
  card += "\n\xCE\xB3 = 1\n";
  EXPECT_TRUE(TomlppUnicodeGuard(card).isExhausted());
}

} // namespace
