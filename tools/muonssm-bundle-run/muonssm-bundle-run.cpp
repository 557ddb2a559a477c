//===- muonssm-bundle-run.cpp - run a kernel bundle on a GPU --------------===//
//
// The GPU half of muonssm-run for machines without MLIR: runs a bundle from
// `muonssm-translate --emit-bundle`, checks it against the float64 oracle and
// times it. The logic lives in lib/bundle/Executor.cpp.
//
//===----------------------------------------------------------------------===//

#include "lib/bundle/Executor.h"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

static int usage() {
  std::cerr << "usage: muonssm-bundle-run BUNDLE_DIR [--inputs DIR] [--seed N] "
               "[--dump DIR] [--check] [--bench N] [--device N] [--timeout S] "
               "[--quiet] [--dry-run]\n"
               "  --dry-run  check the bundle and the inputs, then stop before "
               "opening a device\n";
  return 2;
}

int main(int argc, char **argv) {
  muonssm::bundle::ExecuteOptions options;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *flag) -> const char * {
      if (i + 1 >= argc) {
        std::cerr << "muonssm-bundle-run: " << flag << " needs a value\n";
        std::exit(usage());
      }
      return argv[++i];
    };
    auto number = [&](const char *flag) -> long long {
      const char *text = value(flag);
      char *end = nullptr;
      long long n = std::strtoll(text, &end, 10);
      if (!*text || *end || n < 0) {
        std::cerr << "muonssm-bundle-run: " << flag
                  << " needs a non-negative integer, got '" << text << "'\n";
        std::exit(usage());
      }
      return n;
    };
    if (a == "--inputs")
      options.inputsDir = value("--inputs");
    else if (a == "--seed")
      options.seed = static_cast<uint64_t>(number("--seed"));
    else if (a == "--dump")
      options.dumpDir = value("--dump");
    else if (a == "--check")
      options.check = true;
    else if (a == "--bench")
      options.bench = static_cast<unsigned>(number("--bench"));
    else if (a == "--device")
      options.device = static_cast<int>(number("--device"));
    else if (a == "--timeout")
      options.timeoutSeconds = static_cast<double>(number("--timeout"));
    else if (a == "--quiet")
      options.quiet = true;
    else if (a == "--dry-run")
      options.dryRun = true;
    else if (!a.empty() && a[0] == '-')
      return std::cerr << "muonssm-bundle-run: unknown option " << a << "\n",
             usage();
    else if (dir.empty())
      dir = a;
    else
      return usage();
  }
  if (dir.empty())
    return usage();
  return muonssm::bundle::executeBundle(dir, options, std::cout, std::cerr);
}
