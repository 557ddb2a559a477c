//===- FuzzInput.h - helpers shared by the libFuzzer harnesses --*- C++ -*-===//
//
// The readers under test take paths (they read headers first and data on
// demand), so a harness writes each input to a scratch file of its own.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_TEST_FUZZ_FUZZINPUT_H
#define MUONSSM_TEST_FUZZ_FUZZINPUT_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace muonssm::fuzz {

/// A directory private to this process, made once ($TMPDIR or /tmp) and
/// removed at exit (a crash leaves it, beside the input that caused it).
inline const std::string &scratchDir() {
  struct Scratch {
    std::string path;
    Scratch() {
      const char *tmp = std::getenv("TMPDIR");
      path = std::string(tmp && *tmp ? tmp : "/tmp") + "/muonssm-fuzz-XXXXXX";
      if (!mkdtemp(path.data())) {
        std::perror("mkdtemp");
        std::abort();
      }
    }
    ~Scratch() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Scratch scratch;
  return scratch.path;
}

/// Writes `data` to scratchDir()/`name` and returns the path.
inline std::string writeScratch(const std::string &name, const uint8_t *data,
                                size_t size) {
  std::string path = scratchDir() + "/" + name;
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

/// The readers' error contract: one line that starts with the path.
inline void checkErrorLine(const std::string &error, const std::string &path) {
  if (error.empty() || error.find('\n') != std::string::npos ||
      error.rfind(path, 0) != 0)
    std::abort();
}

} // namespace muonssm::fuzz

#endif // MUONSSM_TEST_FUZZ_FUZZINPUT_H
