//===- ManifestFuzzer.cpp - libFuzzer harness for bundle manifests --------===//
//
// A kernel bundle's manifest.json is read twice: by the runtime (kernels,
// grids, files) and by the bundle plan (entry, launches, reference ops).
// Any text must give a bundle and a plan that the rest of the code can use
// (grids that evaluate or fail cleanly, shapes that infer or fail cleanly),
// or a one-line error; never a crash, undefined behaviour or a hang. And
// the executor's host half (muonssm-bundle-run --dry-run: random inputs,
// shapes checked with the oracle's rules, results and temporaries made)
// must run on it or stop with one error line.
//
//===----------------------------------------------------------------------===//

#include "lib/bundle/Executor.h"
#include "lib/bundle/Plan.h"
#include "runtime/Runtime.h"
#include "test/fuzz/FuzzInput.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <sstream>

using namespace muonssm;

namespace {
/// The bundle directory: a PTX file for manifests that name "kernels.ptx",
/// and a stand-in for the cubin that bundles name "kernels.sm_90a.cubin".
const std::string &bundleDir() {
  static const std::string dir = [] {
    static const char ptx[] = ".version 8.0\n.target sm_90a\n"
                              ".address_size 64\n";
    fuzz::writeScratch("kernels.ptx", reinterpret_cast<const uint8_t *>(ptx),
                       sizeof(ptx) - 1);
    // An ELF64 header for EM_CUDA (190) with no sections: all that the
    // runtime checks of a cubin before loading it.
    uint8_t cubin[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    cubin[18] = 190;
    fuzz::writeScratch("kernels.sm_90a.cubin", cubin, sizeof(cubin));
    return fuzz::scratchDir();
  }();
  return dir;
}

/// A size for `name`, as an input's dimension or a scalar argument may be:
/// small and large, so that overflow checks are reached.
int64_t sizeFor(const std::string &name) {
  static const int64_t values[] = {0,  1,     2,       3,
                                   64, 65535, 1 << 30, int64_t(1) << 40};
  return values[std::hash<std::string>()(name) % 8];
}

void fuzzBundle(const std::string &text) {
  rt::StatusOr<rt::Bundle> bundle = rt::Bundle::fromManifest(text, bundleDir());
  if (!bundle.ok()) {
    if (bundle.status().message().find('\n') != std::string::npos)
      std::abort();
    return;
  }
  for (const rt::KernelInfo &kernel : bundle->kernels) {
    rt::Sizes sizes;
    for (const rt::GridExpr &g : kernel.grid)
      for (const std::string &name : g.names())
        sizes[name] = sizeFor(name);
    rt::StatusOr<std::array<unsigned, 3>> dims = kernel.gridDims(sizes);
    if (dims.ok() && ((*dims)[0] < 1 || (*dims)[1] < 1 || (*dims)[2] < 1 ||
                      (*dims)[1] > 65535 || (*dims)[2] > 65535))
      std::abort(); // gridDims promises launchable dimensions
    (void)kernel.signature();
  }
  (void)bundle->selectCubin(9, 0);
}

void fuzzPlan(const std::string &text) {
  bundle::Plan plan;
  std::string error;
  if (!bundle::planFromJson(text, plan, error))
    return;
  // Argument shapes as the executor binds them from its inputs: literal
  // dimensions as written, named ones small.
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const bundle::TensorSpec &a : plan.args) {
    std::vector<int64_t> &shape = shapes[a.name];
    for (const std::string &d : a.shape) {
      char *end = nullptr;
      long long v = std::strtoll(d.c_str(), &end, 10);
      shape.push_back(!d.empty() && *end == '\0' && v >= 0 && v < 1 << 20 ? v
                                                                          : 2);
    }
  }
  (void)bundle::inferShapes(plan, shapes);
  (void)bundle::planToJson(plan);
}

/// The text as the bundle directory's manifest, through the executor's
/// host half; its arrays bounded to 64 MiB together.
void fuzzExecutor(const std::string &text) {
  fuzz::writeScratch("manifest.json",
                     reinterpret_cast<const uint8_t *>(text.data()),
                     text.size());
  bundle::ExecuteOptions options;
  options.dryRun = true;
  options.quiet = true;
  options.maxHostBytes = uint64_t(64) << 20;
  options.tool = "fuzz";
  std::ostringstream out, err;
  int code = bundle::executeBundle(bundleDir(), options, out, err);
  const std::string e = err.str();
  if (code == 0 ? !e.empty()
                : code != 1 || e.rfind("fuzz: error: ", 0) != 0 ||
                      std::count(e.begin(), e.end(), '\n') != 1)
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  fuzzBundle(text);
  fuzzPlan(text);
  fuzzExecutor(text);
  (void)rt::cache::looksLikeCubin(text);
  return 0;
}
