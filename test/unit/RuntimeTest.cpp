//===- RuntimeTest.cpp - tests for runtime/ (the CUDA driver runtime) -----===//
//
// Two halves:
// - Without a GPU: manifest parsing and its errors, grid expressions, arch
//   names, the JIT cache (keys, directory, atomic writes), tensor map
//   validation, the C API's error paths, and the "no CUDA driver" error of
//   every device operation (skipped where a driver exists).
// - With a GPU (GpuTest, skipped without driver or device): a bundle built
//   here from test/data/runtime_test_kernels.ptx (MUONSSM_RT_TEST_PTX) and,
//   when ptxas ran at build time, its sm_90 cubin (MUONSSM_RT_TEST_CUBIN);
//   JIT and cache hits, launches and their argument checks, bounded waits on
//   a spinning kernel, large dynamic shared memory, TMA maps, the C API.
//
//===----------------------------------------------------------------------===//

#include "runtime/Runtime.h"
#include "runtime/muonssm_runtime.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#ifndef MUONSSM_RT_TEST_PTX
#define MUONSSM_RT_TEST_PTX ""
#endif
#ifndef MUONSSM_RT_TEST_CUBIN
#define MUONSSM_RT_TEST_CUBIN ""
#endif

using namespace muonssm::rt;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr auto npos = std::string::npos;

#define EXPECT_HAS(haystack, needle)                                           \
  EXPECT_NE(std::string(haystack).find(needle), npos)                          \
      << "message: " << (haystack)

/// A fresh directory, removed with its contents at the end of the test.
class TempDir {
public:
  TempDir() {
    std::string tmpl =
        (fs::temp_directory_path() / "muonssm-rt-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const fs::path &path() const { return path_; }
  std::string str() const { return path_.string(); }

private:
  fs::path path_;
};

/// Sets (or unsets, with nullptr) an environment variable for one scope.
class EnvGuard {
public:
  EnvGuard(const char *name, const char *value) : name_(name) {
    if (const char *old = std::getenv(name))
      old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~EnvGuard() {
    if (old_)
      setenv(name_.c_str(), old_->c_str(), 1);
    else
      unsetenv(name_.c_str());
  }
  EnvGuard(const EnvGuard &) = delete;
  EnvGuard &operator=(const EnvGuard &) = delete;

private:
  std::string name_;
  std::optional<std::string> old_;
};

void writeFile(const fs::path &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string readFile(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// The smallest image looksLikeCubin() accepts: an ELF64 little-endian
/// header for EM_CUDA (190) with no program or section headers.
std::string fakeCubin() {
  std::string h(64, '\0');
  h[0] = 0x7f;
  h[1] = 'E';
  h[2] = 'L';
  h[3] = 'F';
  h[4] = 2;  // ELFCLASS64
  h[5] = 1;  // little-endian
  h[6] = 1;  // EV_CURRENT
  h[16] = 2; // ET_EXEC
  h[18] = char(190);
  return h;
}

const char *kTinyPtx = ".version 8.0\n"
                       ".target sm_90a\n"
                       ".address_size 64\n"
                       ".visible .entry muonssm_scan_0() { ret; }\n";

/// The manifest of the brief's example.
json exampleManifest() {
  return json::parse(R"json({
    "format": "muonssm-bundle-1",
    "compiler": "muonssm 0.1 (LLVM 22.1.8)",
    "ir_hash": "0123456789abcdef",
    "ptx": "kernels.ptx",
    "ptx_arch": "sm_90a",
    "cubins": {"sm_90a": "kernels.sm_90a.cubin"},
    "kernels": [
      {"name": "muonssm_scan_0",
       "params": [{"name": "q", "type": "ptr"}, {"name": "T", "type": "i32"},
                  {"name": "scale", "type": "f32"},
                  {"name": "qmap", "type": "tensormap"}],
       "block": [128, 1, 1],
       "grid": ["N*HV", "ceil(V/64)", "1"],
       "shared_bytes": 49152}
    ]
  })json");
}

/// Writes manifest + kernels.ptx + a fake cubin into `dir`.
void writeExampleBundle(const fs::path &dir, const json &manifest) {
  writeFile(dir / "manifest.json", manifest.dump(2));
  writeFile(dir / "kernels.ptx", kTinyPtx);
  writeFile(dir / "kernels.sm_90a.cubin", fakeCubin());
}

//===----------------------------------------------------------------------===//
// Status
//===----------------------------------------------------------------------===//

TEST(StatusTest, OkErrorAndContext) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), ErrorCode::Ok);
  EXPECT_TRUE(ok.withContext("x").ok());
  Status e = Status::error(ErrorCode::Timeout, "timed out");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.code(), ErrorCode::Timeout);
  EXPECT_EQ(e.withContext("waiting").message(), "waiting: timed out");
  EXPECT_EQ(e.withContext("waiting").code(), ErrorCode::Timeout);
  // An "error" with code Ok is still an error.
  EXPECT_FALSE(Status::error(ErrorCode::Ok, "x").ok());
  EXPECT_STREQ(errorCodeName(ErrorCode::UnsupportedArch), "unsupported-arch");

  StatusOr<int> v = 7;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  StatusOr<int> err = Status::error(ErrorCode::NotFound, "gone");
  EXPECT_FALSE(err.ok());
  EXPECT_EQ(err.status().message(), "gone");
  StatusOr<int> bogus = Status::success();
  EXPECT_FALSE(bogus.ok());
}

//===----------------------------------------------------------------------===//
// Grid expressions
//===----------------------------------------------------------------------===//

int64_t evalOk(const std::string &text, const Sizes &sizes) {
  StatusOr<GridExpr> e = GridExpr::parse(text);
  EXPECT_TRUE(e.ok()) << e.status().message();
  if (!e.ok())
    return -999999;
  StatusOr<int64_t> v = e->evaluate(sizes);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().message();
  return v.ok() ? *v : -999999;
}

std::string parseError(const std::string &text) {
  StatusOr<GridExpr> e = GridExpr::parse(text);
  EXPECT_FALSE(e.ok()) << "'" << text << "' parsed";
  return e.ok() ? "" : e.status().message();
}

std::string evalError(const std::string &text, const Sizes &sizes) {
  StatusOr<GridExpr> e = GridExpr::parse(text);
  EXPECT_TRUE(e.ok()) << e.status().message();
  if (!e.ok())
    return "";
  StatusOr<int64_t> v = e->evaluate(sizes);
  EXPECT_FALSE(v.ok()) << "'" << text << "' evaluated to " << *v;
  return v.ok() ? "" : v.status().message();
}

TEST(GridExprTest, Evaluates) {
  Sizes s = {{"N", 2}, {"HV", 4}, {"V", 100}, {"T", 1000}, {"BT", 64}};
  EXPECT_EQ(evalOk("N*HV", s), 8);
  EXPECT_EQ(evalOk("ceil(V/64)", s), 2);
  EXPECT_EQ(evalOk("ceil(V/64)", {{"V", 128}}), 2);
  EXPECT_EQ(evalOk("ceil(V/64)", {{"V", 129}}), 3);
  EXPECT_EQ(evalOk("ceil(V/64)", {{"V", 0}}), 0);
  EXPECT_EQ(evalOk("1", {}), 1);
  EXPECT_EQ(evalOk("  42 ", {}), 42);
  EXPECT_EQ(evalOk("1+2*3", {}), 7);
  EXPECT_EQ(evalOk("(1+2)*3", {}), 9);
  EXPECT_EQ(evalOk("10-4-3", {}), 3);
  EXPECT_EQ(evalOk("7/2", {}), 3);
  EXPECT_EQ(evalOk("-7/2", {}), -4); // floor division
  EXPECT_EQ(evalOk("ceil(-7/2)", {}), -3);
  EXPECT_EQ(evalOk("ceil(7/-2)", {}), -3);
  EXPECT_EQ(evalOk("min(N, HV)", s), 2);
  EXPECT_EQ(evalOk("max(N,HV)", s), 4);
  EXPECT_EQ(evalOk("max(1, ceil(T / min(BT, 32)))", s), 32);
  EXPECT_EQ(evalOk("N*HV*ceil(T/BT)", s), 128);
  EXPECT_EQ(evalOk("ceil((T+1)/BT)", s), 16);
  EXPECT_EQ(evalOk("min", {{"min", 5}}), 5); // a name, not a call
  EXPECT_EQ(evalOk("--3", {}), 3);
}

TEST(GridExprTest, NamesAndDefault) {
  StatusOr<GridExpr> e = GridExpr::parse("ceil(V/BV)*N + V");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->names(), (std::vector<std::string>{"BV", "N", "V"}));
  EXPECT_EQ(e->text(), "ceil(V/BV)*N + V");
  GridExpr one;
  EXPECT_EQ(one.text(), "1");
  EXPECT_EQ(*one.evaluate({}), 1);
}

TEST(GridExprTest, ParseErrors) {
  EXPECT_HAS(parseError(""), "bad grid expression '': empty expression");
  EXPECT_HAS(parseError("   "), "empty expression");
  EXPECT_HAS(parseError("N*"), "expected a number, a size name or '('");
  EXPECT_HAS(parseError("ceil(V/"), "bad grid expression 'ceil(V/'");
  EXPECT_HAS(parseError("ceil(V)"), "ceil() takes a division, as in ceil(a/b)");
  EXPECT_HAS(parseError("ceil(V/2*3)"), "ceil() takes a division");
  EXPECT_HAS(parseError("floor(V/2)"),
             "unknown function 'floor' (expected ceil, min or max)");
  EXPECT_HAS(parseError("N HV"), "unexpected 'H' at column 3");
  EXPECT_HAS(parseError("(N"), "expected ')'");
  EXPECT_HAS(parseError("min(N)"), "expected ','");
  EXPECT_HAS(parseError("max(N,HV"), "expected ')'");
  EXPECT_HAS(parseError("2x"), "unexpected 'x' after a number");
  EXPECT_HAS(parseError("1.5"), "unexpected '.' after a number");
  EXPECT_HAS(parseError("N % 2"), "unexpected '%'");
  EXPECT_HAS(parseError("99999999999999999999"), "integer literal too large");
  EXPECT_HAS(parseError(std::string(100, '(') + "1" + std::string(100, ')')),
             "nested too deeply");
}

TEST(GridExprTest, EvaluationErrors) {
  EXPECT_HAS(evalError("N*HV", {{"N", 2}, {"T", 8}}),
             "unknown size 'HV' (sizes given: N=2, T=8) in 'N*HV'");
  EXPECT_HAS(evalError("N", {}), "unknown size 'N' (sizes given: none)");
  EXPECT_HAS(evalError("N/(V-V)", {{"N", 1}, {"V", 3}}),
             "division by zero in 'N/(V-V)'");
  EXPECT_HAS(evalError("ceil(N/BV)", {{"N", 1}, {"BV", 0}}),
             "division by zero in 'ceil(N/BV)'");
  EXPECT_HAS(evalError("N*N", {{"N", int64_t(1) << 40}}), "integer overflow");
  EXPECT_HAS(evalError("N+N", {{"N", std::numeric_limits<int64_t>::max()}}),
             "integer overflow");
}

TEST(GridExprTest, KernelGridDims) {
  KernelInfo k;
  k.name = "k";
  k.grid = {*GridExpr::parse("N*HV"), *GridExpr::parse("ceil(V/64)"),
            GridExpr()};
  StatusOr<std::array<unsigned, 3>> g =
      k.gridDims({{"N", 2}, {"HV", 4}, {"V", 100}});
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(*g, (std::array<unsigned, 3>{8, 2, 1}));

  g = k.gridDims({{"N", 2}, {"HV", 4}, {"V", 0}});
  ASSERT_FALSE(g.ok());
  EXPECT_HAS(g.status().message(), "grid[1] 'ceil(V/64)' is 0");
  EXPECT_HAS(g.status().message(), "must be in [1, 65535]");
  g = k.gridDims({{"N", -1}, {"HV", 4}, {"V", 1}});
  ASSERT_FALSE(g.ok());
  EXPECT_HAS(g.status().message(), "grid[0] 'N*HV' is -4");
  g = k.gridDims({{"N", 2}, {"HV", 4}, {"V", 64 * 70000}});
  ASSERT_FALSE(g.ok());
  EXPECT_HAS(g.status().message(), "grid[1] 'ceil(V/64)' is 70000");
  g = k.gridDims({{"N", 2}, {"V", 1}});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), ErrorCode::NotFound);
  EXPECT_HAS(g.status().message(), "grid[0] 'N*HV': unknown size 'HV'");
}

//===----------------------------------------------------------------------===//
// Arch names
//===----------------------------------------------------------------------===//

TEST(ArchTest, ComputeCapabilityToArch) {
  EXPECT_EQ(archForComputeCapability(9, 0), "sm_90a");
  EXPECT_EQ(archForComputeCapability(8, 0), "sm_80");
  EXPECT_EQ(archForComputeCapability(8, 6), "sm_86");
  EXPECT_EQ(archForComputeCapability(8, 9), "sm_89");
  EXPECT_EQ(archForComputeCapability(10, 0), "sm_100a");
  EXPECT_EQ(archForComputeCapability(12, 0), "sm_120a");
}

TEST(ArchTest, Parse) {
  ASSERT_TRUE(parseArch("sm_90a"));
  EXPECT_EQ(parseArch("sm_90a")->cc, 90);
  EXPECT_EQ(parseArch("sm_90a")->suffix, 'a');
  EXPECT_EQ(parseArch("sm_80")->suffix, 0);
  EXPECT_EQ(parseArch("sm_100f")->cc, 100);
  EXPECT_EQ(parseArch("sm_100f")->suffix, 'f');
  for (const char *bad : {"", "sm_", "sm_9", "sm_a", "compute_90", "sm_90b",
                          "sm_90aa", "SM_90", "sm_12345"})
    EXPECT_FALSE(parseArch(bad)) << bad;
}

TEST(ArchTest, PtxRunsOn) {
  EXPECT_TRUE(ptxRunsOn("sm_90a", 9, 0));
  EXPECT_FALSE(ptxRunsOn("sm_90a", 8, 0));  // newer than the device
  EXPECT_FALSE(ptxRunsOn("sm_90a", 10, 0)); // arch-specific: exact only
  EXPECT_TRUE(ptxRunsOn("sm_90", 9, 0));
  EXPECT_TRUE(ptxRunsOn("sm_90", 10, 0));
  EXPECT_TRUE(ptxRunsOn("sm_80", 8, 6));
  EXPECT_FALSE(ptxRunsOn("sm_80", 7, 5));
  EXPECT_TRUE(ptxRunsOn("sm_100f", 10, 3));
  EXPECT_TRUE(ptxRunsOn("sm_100f", 10, 0));
  EXPECT_FALSE(ptxRunsOn("sm_100f", 12, 0));
  EXPECT_FALSE(ptxRunsOn("garbage", 9, 0));
}

TEST(ArchTest, SelectCubin) {
  Bundle b;
  b.cubins["sm_90a"].file = "a.cubin";
  b.cubins["sm_80"].file = "b.cubin";
  EXPECT_EQ(b.selectCubin(9, 0), "sm_90a");
  EXPECT_EQ(b.selectCubin(8, 0), "sm_80");
  EXPECT_EQ(b.selectCubin(8, 6), ""); // exact matches only: JIT the PTX
  EXPECT_EQ(b.selectCubin(10, 0), "");
  Bundle plain;
  plain.cubins["sm_90"].file = "c.cubin";
  EXPECT_EQ(plain.selectCubin(9, 0), "sm_90");
}

//===----------------------------------------------------------------------===//
// Bundles
//===----------------------------------------------------------------------===//

TEST(BundleTest, LoadsTheExample) {
  TempDir dir;
  writeExampleBundle(dir.path(), exampleManifest());
  StatusOr<Bundle> b = Bundle::load(dir.str());
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->format, "muonssm-bundle-1");
  EXPECT_EQ(b->compiler, "muonssm 0.1 (LLVM 22.1.8)");
  EXPECT_EQ(b->irHash, "0123456789abcdef");
  EXPECT_EQ(b->ptxFile, "kernels.ptx");
  EXPECT_EQ(b->ptxArch, "sm_90a");
  EXPECT_EQ(b->ptx, kTinyPtx);
  EXPECT_EQ(b->manifestPath, (dir.path() / "manifest.json").string());
  ASSERT_EQ(b->cubins.size(), 1u);
  EXPECT_EQ(b->cubins.at("sm_90a").file, "kernels.sm_90a.cubin");
  EXPECT_EQ(b->cubins.at("sm_90a").bytes, fakeCubin());
  ASSERT_EQ(b->kernels.size(), 1u);
  const KernelInfo &k = b->kernels[0];
  EXPECT_EQ(k.name, "muonssm_scan_0");
  ASSERT_EQ(k.params.size(), 4u);
  EXPECT_EQ(k.params[0].type, ParamType::Ptr);
  EXPECT_EQ(k.params[1].type, ParamType::I32);
  EXPECT_EQ(k.params[2].type, ParamType::F32);
  EXPECT_EQ(k.params[3].type, ParamType::TensorMap);
  EXPECT_EQ(k.params[3].name, "qmap");
  EXPECT_EQ(k.block, (std::array<unsigned, 3>{128, 1, 1}));
  EXPECT_EQ(k.grid[0].text(), "N*HV");
  EXPECT_EQ(k.grid[1].text(), "ceil(V/64)");
  EXPECT_EQ(k.grid[2].text(), "1");
  EXPECT_EQ(k.sharedBytes, 49152u);
  EXPECT_EQ(k.signature(),
            "muonssm_scan_0(q: ptr, T: i32, scale: f32, qmap: tensormap)");
  EXPECT_EQ(b->findKernel("muonssm_scan_0"), &b->kernels[0]);
  EXPECT_EQ(b->findKernel("nope"), nullptr);
  EXPECT_EQ(b->selectCubin(9, 0), "sm_90a");
}

TEST(BundleTest, OptionalFieldsAndIntegerGrid) {
  TempDir dir;
  json m = exampleManifest();
  m.erase("cubins");
  m["kernels"][0].erase("shared_bytes");
  m["kernels"][0]["grid"] = json::array({4, "2", 1});
  m["future_field"] = {{"ignored", true}};
  writeExampleBundle(dir.path(), m);
  StatusOr<Bundle> b = Bundle::load(dir.str());
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_TRUE(b->cubins.empty());
  EXPECT_EQ(b->kernels[0].sharedBytes, 0u);
  EXPECT_EQ(*b->kernels[0].gridDims({}), (std::array<unsigned, 3>{4, 2, 1}));
}

struct BadManifestCase {
  const char *name;
  std::function<void(json &, const fs::path &)> mutate;
  std::vector<std::string> expected; // substrings of the message
};

TEST(BundleTest, EveryMalformedManifestNamesTheField) {
  auto kernel0 = [](json &m) -> json & { return m["kernels"][0]; };
  std::vector<BadManifestCase> cases = {
      {"missing format",
       [](json &m, auto &) { m.erase("format"); },
       {"format: missing (expected a string)"}},
      {"wrong format",
       [](json &m, auto &) { m["format"] = "muonssm-bundle-2"; },
       {"format: unsupported format 'muonssm-bundle-2' (expected "
        "'muonssm-bundle-1')"}},
      {"compiler not a string",
       [](json &m, auto &) { m["compiler"] = 1; },
       {"compiler: expected a string, got an integer"}},
      {"missing compiler",
       [](json &m, auto &) { m.erase("compiler"); },
       {"compiler: missing"}},
      {"empty compiler",
       [](json &m, auto &) { m["compiler"] = ""; },
       {"compiler: is empty"}},
      {"ir_hash not hex",
       [](json &m, auto &) { m["ir_hash"] = "xyz!"; },
       {"ir_hash: 'xyz!' is not a hex string"}},
      {"ir_hash null",
       [](json &m, auto &) { m["ir_hash"] = nullptr; },
       {"ir_hash: expected a string, got null"}},
      {"missing ptx",
       [](json &m, auto &) { m.erase("ptx"); },
       {"ptx: missing"}},
      {"missing ptx file",
       [](json &m, auto &) { m["ptx"] = "gone.ptx"; },
       {"ptx: cannot read '", "gone.ptx': No such file or directory"}},
      {"ptx without .target",
       [](json &, const fs::path &d) {
         writeFile(d / "kernels.ptx", ".version 8.0\n");
       },
       {"ptx: 'kernels.ptx' has no .target directive"}},
      {"bad ptx_arch",
       [](json &m, auto &) { m["ptx_arch"] = "hopper"; },
       {"ptx_arch: 'hopper' is not an arch name like sm_90 or sm_90a"}},
      {"ptx_arch disagrees with the PTX",
       [](json &m, auto &) { m["ptx_arch"] = "sm_80"; },
       {"ptx_arch: is sm_80 but 'kernels.ptx' says .target sm_90a"}},
      {"cubins not an object",
       [](json &m, auto &) { m["cubins"] = json::array({"a.cubin"}); },
       {"cubins: expected an object {arch: file}, got an array"}},
      {"cubins bad arch",
       [](json &m, auto &) {
         m["cubins"] = {{"hopper", "a.cubin"}};
       },
       {"cubins.hopper: 'hopper' is not an arch name"}},
      {"cubins file not a string",
       [](json &m, auto &) { m["cubins"]["sm_90a"] = 3; },
       {"cubins.sm_90a: expected a file name, got an integer"}},
      {"missing cubin file",
       [](json &m, auto &) { m["cubins"]["sm_90a"] = "gone.cubin"; },
       {"cubins.sm_90a: cannot read '", "gone.cubin'"}},
      {"cubin not ELF",
       [](json &, const fs::path &d) {
         writeFile(d / "kernels.sm_90a.cubin", "not an elf file at all");
       },
       {"cubins.sm_90a: 'kernels.sm_90a.cubin' is not an ELF CUDA cubin"}},
      {"missing kernels",
       [](json &m, auto &) { m.erase("kernels"); },
       {"kernels: missing (expected an array of kernel objects)"}},
      {"kernels not an array",
       [](json &m, auto &) { m["kernels"] = json::object(); },
       {"kernels: expected an array, got an object"}},
      {"no kernels",
       [](json &m, auto &) { m["kernels"] = json::array(); },
       {"kernels: is empty"}},
      {"kernel not an object",
       [](json &m, auto &) { m["kernels"] = json::array({"k"}); },
       {"kernels[0]: expected an object, got a string"}},
      {"missing kernel name",
       [&](json &m, auto &) { kernel0(m).erase("name"); },
       {"kernels[0].name: missing"}},
      {"bad kernel name",
       [&](json &m, auto &) { kernel0(m)["name"] = "scan-0"; },
       {"kernels[0].name: 'scan-0' is not a valid kernel name"}},
      {"duplicate kernel",
       [&](json &m, auto &) { m["kernels"].push_back(kernel0(m)); },
       {"kernels[1].name: duplicate kernel name 'muonssm_scan_0'"}},
      {"missing params",
       [&](json &m, auto &) { kernel0(m).erase("params"); },
       {"kernels[0].params: missing"}},
      {"params not an array",
       [&](json &m, auto &) { kernel0(m)["params"] = "q, T"; },
       {"kernels[0].params: expected an array, got a string"}},
      {"param not an object",
       [&](json &m, auto &) { kernel0(m)["params"][1] = "T"; },
       {"kernels[0].params[1]: expected an object, got a string"}},
      {"unknown param type",
       [&](json &m, auto &) { kernel0(m)["params"][2]["type"] = "f16"; },
       {"kernels[0].params[2].type: unknown param type 'f16' (expected ptr, "
        "i32, i64, f32, f64 or tensormap)"}},
      {"param type not a string",
       [&](json &m, auto &) { kernel0(m)["params"][0]["type"] = 8; },
       {"kernels[0].params[0].type: expected a string, got an integer"}},
      {"missing param type",
       [&](json &m, auto &) { kernel0(m)["params"][3].erase("type"); },
       {"kernels[0].params[3].type: missing"}},
      {"missing param name",
       [&](json &m, auto &) { kernel0(m)["params"][1].erase("name"); },
       {"kernels[0].params[1].name: missing"}},
      {"duplicate param name",
       [&](json &m, auto &) { kernel0(m)["params"][1]["name"] = "q"; },
       {"kernels[0].params[1].name: duplicate param name 'q'"}},
      {"missing block",
       [&](json &m, auto &) { kernel0(m).erase("block"); },
       {"kernels[0].block: missing (expected an array of 3 positive "
        "integers)"}},
      {"block of 2",
       [&](json &m, auto &) {
         kernel0(m)["block"] = json::array({128, 1});
       },
       {"kernels[0].block: expected an array of 3 positive integers, got an "
        "array [128,1]"}},
      {"block zero",
       [&](json &m, auto &) { kernel0(m)["block"][1] = 0; },
       {"kernels[0].block[1]: 0 is out of range [1, 1024]"}},
      {"block string",
       [&](json &m, auto &) { kernel0(m)["block"][0] = "128"; },
       {"kernels[0].block[0]: expected an integer, got a string \"128\""}},
      {"block float",
       [&](json &m, auto &) { kernel0(m)["block"][0] = 128.5; },
       {"kernels[0].block[0]: expected an integer, got a float"}},
      {"block too many threads",
       [&](json &m, auto &) {
         kernel0(m)["block"] = json::array({512, 4, 1});
       },
       {"kernels[0].block: [512,4,1] is 2048 threads (at most 1024)"}},
      {"missing grid",
       [&](json &m, auto &) { kernel0(m).erase("grid"); },
       {"kernels[0].grid: missing (expected an array of 3 expressions)"}},
      {"grid of 1",
       [&](json &m, auto &) { kernel0(m)["grid"] = json::array({"N"}); },
       {"kernels[0].grid: expected an array of 3 expressions"}},
      {"bad grid expression",
       [&](json &m, auto &) { kernel0(m)["grid"][1] = "ceil(V/"; },
       {"kernels[0].grid[1]: bad grid expression 'ceil(V/'"}},
      {"unknown grid function",
       [&](json &m, auto &) { kernel0(m)["grid"][0] = "floor(N/2)"; },
       {"kernels[0].grid[0]: bad grid expression 'floor(N/2)': unknown "
        "function 'floor'"}},
      {"grid entry boolean",
       [&](json &m, auto &) { kernel0(m)["grid"][2] = true; },
       {"kernels[0].grid[2]: expected an expression string or an integer, "
        "got a boolean"}},
      {"grid entry zero",
       [&](json &m, auto &) { kernel0(m)["grid"][2] = 0; },
       {"kernels[0].grid[2]: 0 is out of range"}},
      {"negative shared_bytes",
       [&](json &m, auto &) { kernel0(m)["shared_bytes"] = -1; },
       {"kernels[0].shared_bytes: -1 is out of range [0, 2147483647]"}},
      {"float shared_bytes",
       [&](json &m, auto &) { kernel0(m)["shared_bytes"] = 1.5; },
       {"kernels[0].shared_bytes: expected an integer, got a float"}},
      {"huge shared_bytes",
       [&](json &m, auto &) { kernel0(m)["shared_bytes"] = uint64_t(1) << 63; },
       {"kernels[0].shared_bytes: 9223372036854775808 is out of range"}},
  };
  for (const BadManifestCase &c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    json m = exampleManifest();
    writeExampleBundle(dir.path(), m);
    c.mutate(m, dir.path());
    writeFile(dir.path() / "manifest.json", m.dump(2));
    StatusOr<Bundle> b = Bundle::load(dir.str());
    ASSERT_FALSE(b.ok()) << "loaded";
    EXPECT_EQ(b.status().code(), ErrorCode::BadBundle);
    const std::string &msg = b.status().message();
    // Every message starts with the manifest's path.
    EXPECT_EQ(msg.rfind((dir.path() / "manifest.json").string() + ": ", 0), 0u)
        << msg;
    for (const std::string &e : c.expected)
      EXPECT_HAS(msg, e);
  }
}

TEST(BundleTest, BadJsonAndMissingManifest) {
  TempDir dir;
  writeExampleBundle(dir.path(), exampleManifest());
  std::string manifest = (dir.path() / "manifest.json").string();

  writeFile(manifest, "{\"format\": \"muonssm-bundle-1\",");
  StatusOr<Bundle> b = Bundle::load(dir.str());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), ErrorCode::BadBundle);
  EXPECT_HAS(b.status().message(), manifest + ": bad JSON: ");
  EXPECT_HAS(b.status().message(), "parse error");

  writeFile(manifest, "[1, 2]");
  b = Bundle::load(dir.str());
  ASSERT_FALSE(b.ok());
  EXPECT_HAS(b.status().message(),
             manifest + ": expected a JSON object at the top level, got an "
                        "array");

  b = Bundle::load((dir.path() / "nowhere").string());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), ErrorCode::BadBundle);
  EXPECT_HAS(b.status().message(), "not a kernel bundle: cannot read '");
  EXPECT_HAS(b.status().message(),
             "nowhere/manifest.json': No such file or directory");

  b = Bundle::fromManifest("{}", dir.str());
  ASSERT_FALSE(b.ok());
  EXPECT_HAS(b.status().message(), "manifest.json: format: missing");
}

//===----------------------------------------------------------------------===//
// The JIT cache
//===----------------------------------------------------------------------===//

TEST(CacheTest, Sha256KnownAnswers) {
  EXPECT_EQ(cache::sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(cache::sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(cache::sha256Hex(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(cache::sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(CacheTest, KeyIsStableAndCoversEveryInput) {
  const std::string k =
      cache::key("abc123", "sm_90a", "muonssm 0.1", 13000, kTinyPtx);
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, cache::key("abc123", "sm_90a", "muonssm 0.1", 13000, kTinyPtx));
  // Pinned: a key must not change between builds, or caches go cold.
  EXPECT_EQ(k,
            "141f3c5bca9aa3475ec7f3bb74732e513e885172291191616f137f90933f3776");
  std::set<std::string> keys = {
      k,
      cache::key("abc124", "sm_90a", "muonssm 0.1", 13000, kTinyPtx),
      cache::key("abc123", "sm_100a", "muonssm 0.1", 13000, kTinyPtx),
      cache::key("abc123", "sm_90a", "muonssm 0.2", 13000, kTinyPtx),
      cache::key("abc123", "sm_90a", "muonssm 0.1", 12080, kTinyPtx),
      cache::key("abc123", "sm_90a", "muonssm 0.1", 13000, "other ptx"),
      // Field boundaries matter: ("ab", "c") differs from ("a", "bc").
      cache::key("ab", "csm_90a", "muonssm 0.1", 13000, kTinyPtx),
  };
  EXPECT_EQ(keys.size(), 7u);
  EXPECT_EQ(cache::entryPath("/c", k), "/c/" + k + ".cubin");
}

TEST(CacheTest, DirectoryFromEnvironment) {
  {
    EnvGuard a("MUONSSM_CACHE_DIR", "/tmp/explicit");
    EnvGuard b("XDG_CACHE_HOME", "/tmp/xdg");
    EXPECT_EQ(*cache::directory(), "/tmp/explicit");
  }
  {
    EnvGuard a("MUONSSM_CACHE_DIR", nullptr);
    EnvGuard b("XDG_CACHE_HOME", "/tmp/xdg");
    EXPECT_EQ(*cache::directory(), "/tmp/xdg/muonssm");
  }
  {
    EnvGuard a("MUONSSM_CACHE_DIR", "");
    EnvGuard b("XDG_CACHE_HOME", nullptr);
    EnvGuard c("HOME", "/home/someone");
    EXPECT_EQ(*cache::directory(), "/home/someone/.cache/muonssm");
  }
}

TEST(CacheTest, AtomicWriteAndReadBack) {
  TempDir tmp;
  EnvGuard env("MUONSSM_CACHE_DIR", (tmp.path() / "nested" / "cache").c_str());
  StatusOr<std::string> dir = cache::directory();
  ASSERT_TRUE(dir.ok());
  std::string path =
      cache::entryPath(*dir, cache::key("ab", "sm_90a", "c", 13000, "ptx"));

  // Creates the missing directories.
  ASSERT_TRUE(cache::writeAtomic(path, fakeCubin()).ok());
  StatusOr<std::string> back = cache::readFile(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, fakeCubin());

  std::string bigger = fakeCubin() + std::string(100000, 'x');
  ASSERT_TRUE(cache::writeAtomic(path, bigger).ok());
  EXPECT_EQ(*cache::readFile(path), bigger);

  // No temporary file is left behind.
  std::vector<std::string> names;
  for (const auto &entry : fs::directory_iterator(*dir))
    names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{fs::path(path).filename()});

  // Concurrent writers: the entry is always one whole version.
  std::vector<std::string> versions;
  for (int i = 0; i < 4; ++i)
    versions.push_back(std::string(50000 + i * 1000, char('a' + i)));
  std::vector<std::thread> writers;
  for (int i = 0; i < 4; ++i)
    writers.emplace_back([&, i] {
      for (int j = 0; j < 20; ++j)
        EXPECT_TRUE(cache::writeAtomic(path, versions[i]).ok());
    });
  for (int j = 0; j < 50; ++j) {
    StatusOr<std::string> now = cache::readFile(path);
    ASSERT_TRUE(now.ok());
    EXPECT_TRUE(*now == bigger || std::find(versions.begin(), versions.end(),
                                            *now) != versions.end())
        << "torn read of " << now->size() << " bytes";
  }
  for (std::thread &t : writers)
    t.join();
  size_t count = 0;
  for (const auto &entry : fs::directory_iterator(*dir)) {
    (void)entry;
    ++count;
  }
  EXPECT_EQ(count, 1u);
}

TEST(CacheTest, WriteAndReadErrors) {
  TempDir tmp;
  writeFile(tmp.path() / "file", "x");
  Status s = cache::writeAtomic(
      (tmp.path() / "file" / "sub" / "e.cubin").string(), "bytes");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::Io);
  EXPECT_HAS(s.message(), "cannot create directory '");

  StatusOr<std::string> r = cache::readFile((tmp.path() / "missing").string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::Io);
  EXPECT_HAS(r.status().message(), "missing': No such file or directory");
  r = cache::readFile(tmp.str());
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(r.status().message(), "Is a directory");
}

TEST(CacheTest, LooksLikeCubin) {
  EXPECT_TRUE(cache::looksLikeCubin(fakeCubin()));
  EXPECT_FALSE(cache::looksLikeCubin(""));
  EXPECT_FALSE(cache::looksLikeCubin("garbage"));
  EXPECT_FALSE(cache::looksLikeCubin(fakeCubin().substr(0, 40)));
  std::string x86 = fakeCubin();
  x86[18] = 62; // EM_X86_64
  EXPECT_FALSE(cache::looksLikeCubin(x86));
  std::string elf32 = fakeCubin();
  elf32[4] = 1;
  EXPECT_FALSE(cache::looksLikeCubin(elf32));
  std::string badSections = fakeCubin();
  badSections[0x28] = 0x40; // e_shoff = 64: right at the end
  badSections[0x3A] = 64;   // e_shentsize
  badSections[0x3C] = 1;    // e_shnum = 1: the table lies past the end
  EXPECT_FALSE(cache::looksLikeCubin(badSections));

  std::string cubinPath = MUONSSM_RT_TEST_CUBIN;
  if (cubinPath.empty() || !fs::exists(cubinPath))
    return; // built without ptxas
  std::string real = readFile(cubinPath);
  EXPECT_TRUE(cache::looksLikeCubin(real));
  // A truncated image (a torn or partial cache entry) is refused.
  EXPECT_FALSE(cache::looksLikeCubin(real.substr(0, real.size() - 1)));
  EXPECT_FALSE(cache::looksLikeCubin(real.substr(0, real.size() / 2)));
}

//===----------------------------------------------------------------------===//
// Tensor map validation (no driver needed)
//===----------------------------------------------------------------------===//

constexpr DevicePtr kAddr = 0x7f0000010000;

std::string tmaError(const TensorMapDesc &d, DevicePtr addr = kAddr) {
  Status s = validateTensorMap(d, addr);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::InvalidArgument);
  return s.message();
}

TEST(TensorMapTest, ValidDescriptions) {
  TensorMapDesc m = TensorMapDesc::matrix(TmaDataType::BF16, 64, 64, 64, 64,
                                          TmaSwizzle::B128);
  EXPECT_EQ(m.globalDims, (std::vector<uint64_t>{64, 64}));
  EXPECT_EQ(m.globalStrides, (std::vector<uint64_t>{128}));
  EXPECT_EQ(m.boxDims, (std::vector<uint32_t>{64, 64}));
  EXPECT_TRUE(validateTensorMap(m, kAddr).ok());
  // f32: 32 elements = 128 bytes fit the 128B swizzle.
  EXPECT_TRUE(
      validateTensorMap(
          TensorMapDesc::matrix(TmaDataType::F32, 1000, 96, 64, 32), kAddr)
          .ok());
  // No swizzle: the inner box may be wider than 128 bytes.
  EXPECT_TRUE(validateTensorMap(TensorMapDesc::matrix(TmaDataType::F16, 8, 256,
                                                      8, 256, TmaSwizzle::None),
                                kAddr)
                  .ok());
  // Rank 4 (B, T, H, K as K, H, T, B) with element strides.
  TensorMapDesc r4;
  r4.dataType = TmaDataType::BF16;
  r4.globalDims = {64, 4, 128, 2};
  r4.globalStrides = {64 * 2, 64 * 2 * 4, 64 * 2 * 4 * 128};
  r4.boxDims = {64, 1, 64, 1};
  r4.elementStrides = {1, 1, 1, 1};
  EXPECT_TRUE(validateTensorMap(r4, kAddr).ok());
}

TEST(TensorMapTest, InvalidDescriptions) {
  auto base = [] {
    return TensorMapDesc::matrix(TmaDataType::BF16, 64, 64, 64, 64);
  };
  TensorMapDesc d = base();
  d.globalDims.clear();
  EXPECT_HAS(tmaError(d), "tensor map: rank 0 (globalDims.size()) must be in "
                          "[1, 5]");
  d = base();
  d.globalDims.assign(6, 16);
  EXPECT_HAS(tmaError(d), "rank 6");
  EXPECT_HAS(tmaError(base(), 0), "the global address is null");
  EXPECT_HAS(tmaError(base(), kAddr + 8),
             "the global address 0x7f0000010008 is not 16-byte aligned");
  d = base();
  d.globalDims[1] = 0;
  EXPECT_HAS(tmaError(d), "globalDims[1] = 0 must be in [1, 2^32]");
  d = base();
  d.globalStrides.push_back(4096);
  EXPECT_HAS(tmaError(d), "globalStrides has 2 entries; rank 2 needs 1");
  d = TensorMapDesc::matrix(TmaDataType::BF16, 64, 36, 64, 32);
  EXPECT_HAS(tmaError(d),
             "globalStrides[0] = 72 bytes is not a multiple of 16");
  d = base();
  d.globalStrides[0] = 64;
  EXPECT_HAS(tmaError(d), "globalStrides[0] = 64 bytes is smaller than a row "
                          "of globalDims[0] = 64 bf16 elements");
  d = base();
  d.globalStrides[0] = uint64_t(1) << 40;
  EXPECT_HAS(tmaError(d), "must be < 2^40");
  d = base();
  d.boxDims.pop_back();
  EXPECT_HAS(tmaError(d), "boxDims has 1 entries; rank is 2");
  d = base();
  d.boxDims[1] = 0;
  EXPECT_HAS(tmaError(d), "boxDims[1] = 0 must be in [1, 256]");
  d = base();
  d.boxDims[1] = 257;
  EXPECT_HAS(tmaError(d), "boxDims[1] = 257 must be in [1, 256]");
  d = base();
  d.boxDims[0] = 4;
  EXPECT_HAS(tmaError(d), "boxDims[0] = 4 bf16 elements = 8 bytes is not a "
                          "multiple of 16 bytes");
  d = TensorMapDesc::matrix(TmaDataType::BF16, 64, 256, 64, 128);
  EXPECT_HAS(tmaError(d), "boxDims[0] = 128 bf16 elements = 256 bytes exceeds "
                          "the 128B swizzle span (64 elements)");
  d = TensorMapDesc::matrix(TmaDataType::BF16, 64, 64, 64, 64, TmaSwizzle::B64);
  EXPECT_HAS(tmaError(d), "exceeds the 64B swizzle span (32 elements)");
  d = TensorMapDesc::matrix(TmaDataType::F32, 64, 64, 64, 16, TmaSwizzle::B32);
  EXPECT_HAS(tmaError(d), "boxDims[0] = 16 f32 elements = 64 bytes exceeds "
                          "the 32B swizzle span (8 elements)");
  d = base();
  d.elementStrides = {1, 9};
  EXPECT_HAS(tmaError(d), "elementStrides[1] = 9 must be in [1, 8]");
  d = base();
  d.elementStrides = {1};
  EXPECT_HAS(tmaError(d), "elementStrides has 1 entries; rank is 2");

  // Validation comes before any driver call, driver or not.
  StatusOr<std::array<uint8_t, 128>> enc = encodeTensorMap(base(), kAddr + 8);
  ASSERT_FALSE(enc.ok());
  EXPECT_HAS(enc.status().message(), "not 16-byte aligned");
  StatusOr<TensorMap> map = makeTensorMap(Device(), kAddr + 8, base());
  ASSERT_FALSE(map.ok());
  EXPECT_HAS(map.status().message(), "not 16-byte aligned");
}

//===----------------------------------------------------------------------===//
// Kernel arguments
//===----------------------------------------------------------------------===//

TEST(KernelArgTest, TypesAndBytes) {
  KernelArg i = KernelArg::i32(-7);
  EXPECT_EQ(i.type(), ParamType::I32);
  int32_t iv;
  std::memcpy(&iv, i.data(), 4);
  EXPECT_EQ(iv, -7);
  EXPECT_EQ(i.str(), "i32 -7");
  KernelArg f = KernelArg::f32(0.5f);
  float fv;
  std::memcpy(&fv, f.data(), 4);
  EXPECT_EQ(fv, 0.5f);
  KernelArg d = KernelArg::f64(0.25);
  double dv;
  std::memcpy(&dv, d.data(), 8);
  EXPECT_EQ(dv, 0.25);
  EXPECT_EQ(KernelArg::i64(int64_t(1) << 40).str(), "i64 1099511627776");
  EXPECT_EQ(KernelArg::ptr(0xdead00).str(), "ptr 0xdead00");
  EXPECT_EQ(KernelArg::tensorMap(0x100).type(), ParamType::TensorMap);
  DeviceBuffer empty;
  EXPECT_EQ(KernelArg(empty).type(), ParamType::Ptr);
  EXPECT_EQ(paramTypeSize(ParamType::I32), 4u);
  EXPECT_EQ(paramTypeSize(ParamType::TensorMap), 8u);
  EXPECT_EQ(parseParamType("tensormap"), ParamType::TensorMap);
  EXPECT_FALSE(parseParamType("bf16"));
}

//===----------------------------------------------------------------------===//
// Without a driver
//===----------------------------------------------------------------------===//

class NoDriverTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (Driver::get().available())
      GTEST_SKIP() << "a CUDA driver is available here";
  }
  // The driver's one message, repeated by every operation.
  static std::string why() { return Driver::get().status().message(); }
};

TEST_F(NoDriverTest, DriverReportsWhy) {
  const Driver &d = Driver::get();
  EXPECT_FALSE(d.available());
  if (!d.loaded()) {
    EXPECT_EQ(d.status().code(), ErrorCode::NoDriver);
    EXPECT_HAS(why(), "no CUDA driver: libcuda.so.1 could not be loaded (");
    EXPECT_HAS(why(), "libcuda.so.1");
    EXPECT_EQ(d.version(), 0);
    EXPECT_EQ(d.versionString(), "none");
    EXPECT_FALSE(d.hasTensorMaps());
  } else {
    // A driver without a usable GPU: cuInit failed.
    EXPECT_HAS(why(), "cuInit");
  }
}

TEST_F(NoDriverTest, EveryDeviceOperationFailsCleanly) {
  const std::string msg = why();
  auto expectDriverError = [&](const Status &s, const char *what) {
    EXPECT_FALSE(s.ok()) << what;
    EXPECT_EQ(s.message(), msg) << what;
    EXPECT_TRUE(s.code() == ErrorCode::NoDriver ||
                s.code() == ErrorCode::NoDevice)
        << what;
  };
  expectDriverError(Device::count().status(), "count");
  expectDriverError(Device::open(0).status(), "open");
  Device none;
  EXPECT_FALSE(none.valid());
  EXPECT_EQ(none.arch(), "");
  expectDriverError(none.memoryInfo().status(), "memoryInfo");
  expectDriverError(none.makeCurrent(), "makeCurrent");
  expectDriverError(DeviceBuffer::allocate(none, 16).status(), "allocate");
  DeviceBuffer buffer;
  float x = 0;
  expectDriverError(buffer.copyFromHost(&x, 4), "copyFromHost");
  expectDriverError(buffer.copyToHost(&x, 4), "copyToHost");
  expectDriverError(buffer.memset(0, 4), "memset");
  expectDriverError(buffer.copyFromHostAsync(&x, 4, Stream()), "async copy");
  expectDriverError(Stream::create(none).status(), "Stream::create");
  expectDriverError(Stream::wrap(none, nullptr).status(), "Stream::wrap");
  expectDriverError(Stream().synchronize(0.1), "Stream::synchronize");
  expectDriverError(synchronize(Stream(), 0.1), "synchronize");
  expectDriverError(Event::create(none).status(), "Event::create");
  expectDriverError(Event().synchronize(1), "Event::synchronize");
  expectDriverError(Event::elapsedMs(Event(), Event()).status(), "elapsedMs");
  expectDriverError(launch(Kernel(), {}, {}, Stream()), "launch");
  TensorMapDesc tile = TensorMapDesc::matrix(TmaDataType::BF16, 64, 64, 64, 64);
  expectDriverError(encodeTensorMap(tile, kAddr).status(), "encodeTensorMap");
  expectDriverError(makeTensorMap(none, kAddr, tile).status(), "makeTensorMap");

  TempDir dir;
  writeExampleBundle(dir.path(), exampleManifest());
  StatusOr<Bundle> b = Bundle::load(dir.str());
  ASSERT_TRUE(b.ok()) << b.status().message();
  expectDriverError(Module::load(none, *b).status(), "Module::load");
  Module empty;
  EXPECT_FALSE(empty.kernel("muonssm_scan_0").ok());
}

//===----------------------------------------------------------------------===//
// The C API (error paths; the GPU path is in GpuTest.CApiEndToEnd)
//===----------------------------------------------------------------------===//

TEST(CApiTest, ErrorPaths) {
  EXPECT_STREQ(muonssm_error_name(MUONSSM_OK), "ok");
  EXPECT_STREQ(muonssm_error_name(MUONSSM_ERROR_TIMEOUT), "timeout");
  EXPECT_STREQ(muonssm_error_name(MUONSSM_ERROR_INTERNAL), "internal");
  EXPECT_STREQ(muonssm_error_name(99), "unknown");

  muonssm_bundle *bundle = reinterpret_cast<muonssm_bundle *>(0x1);
  EXPECT_EQ(muonssm_bundle_load("/nonexistent/bundle", &bundle),
            MUONSSM_ERROR_BAD_BUNDLE);
  EXPECT_EQ(bundle, nullptr);
  EXPECT_HAS(muonssm_last_error(),
             "not a kernel bundle: cannot read '/nonexistent/bundle/"
             "manifest.json'");
  EXPECT_EQ(muonssm_bundle_load(nullptr, &bundle),
            MUONSSM_ERROR_INVALID_ARGUMENT);
  EXPECT_HAS(muonssm_last_error(), "muonssm_bundle_load: dir is NULL");
  EXPECT_EQ(muonssm_bundle_load("x", nullptr), MUONSSM_ERROR_INVALID_ARGUMENT);

  TempDir dir;
  writeExampleBundle(dir.path(), exampleManifest());
  ASSERT_EQ(muonssm_bundle_load(dir.str().c_str(), &bundle), MUONSSM_OK)
      << muonssm_last_error();
  ASSERT_NE(bundle, nullptr);

  muonssm_module *module = nullptr;
  EXPECT_EQ(muonssm_module_load(nullptr, bundle, &module),
            MUONSSM_ERROR_INVALID_ARGUMENT);
  EXPECT_HAS(muonssm_last_error(), "device or bundle is NULL");
  muonssm_bundle_free(bundle);

  EXPECT_EQ(muonssm_synchronize(nullptr, 1.0), MUONSSM_ERROR_INVALID_ARGUMENT);
  EXPECT_HAS(muonssm_last_error(), "muonssm_synchronize: stream is NULL");
  EXPECT_EQ(muonssm_buffer_ptr(nullptr), 0u);
  EXPECT_EQ(muonssm_buffer_size(nullptr), 0u);
  EXPECT_EQ(muonssm_device_arch(nullptr), nullptr);
  EXPECT_EQ(muonssm_copy_to_device(nullptr, 0, nullptr, 0, nullptr),
            MUONSSM_ERROR_INVALID_ARGUMENT);
  muonssm_tensor_map *map = nullptr;
  uint64_t dims[2] = {64, 64}, strides[1] = {128};
  uint32_t box[2] = {64, 64};
  EXPECT_EQ(muonssm_tensor_map_create(nullptr, kAddr, MUONSSM_TMA_BF16, 2, dims,
                                      strides, box, MUONSSM_SWIZZLE_128B,
                                      MUONSSM_OOB_ZERO, &map),
            MUONSSM_ERROR_INVALID_ARGUMENT);
  // Freeing NULL handles is a no-op.
  muonssm_device_close(nullptr);
  muonssm_module_free(nullptr);
  muonssm_buffer_free(nullptr);
  muonssm_stream_free(nullptr);
  muonssm_tensor_map_free(nullptr);
}

TEST(CApiTest, NoDriver) {
  if (Driver::get().available())
    GTEST_SKIP() << "a CUDA driver is available here";
  const std::string msg = Driver::get().status().message();
  EXPECT_EQ(muonssm_driver_available(), 0);
  EXPECT_EQ(muonssm_last_error(), msg);
  muonssm_device *device = reinterpret_cast<muonssm_device *>(0x1);
  int code = muonssm_device_open(0, &device);
  EXPECT_TRUE(code == MUONSSM_ERROR_NO_DRIVER ||
              code == MUONSSM_ERROR_NO_DEVICE);
  EXPECT_EQ(device, nullptr);
  EXPECT_EQ(muonssm_last_error(), msg);
  int count = -1;
  EXPECT_NE(muonssm_device_count(&count), MUONSSM_OK);
  EXPECT_EQ(count, -1);
  EXPECT_NE(muonssm_launch(nullptr, "k", nullptr, 0, nullptr, 0, nullptr),
            MUONSSM_OK);
  EXPECT_EQ(muonssm_last_error(), msg);
}

//===----------------------------------------------------------------------===//
// With a GPU
//===----------------------------------------------------------------------===//

constexpr unsigned kBigShared = 100 * 1024;

json testManifest(const std::string &ptxArch, bool withCubin) {
  json m = {
      {"format", "muonssm-bundle-1"},
      {"compiler", "RuntimeTest (hand-written PTX)"},
      {"ir_hash",
       cache::sha256Hex(
           std::to_string(getpid()) + "-" +
           std::to_string(
               std::chrono::steady_clock::now().time_since_epoch().count()))},
      {"ptx", "kernels.ptx"},
      {"ptx_arch", ptxArch},
      {"kernels",
       json::array(
           {{{"name", "muonssm_add_one"},
             {"params", json::array({{{"name", "x"}, {"type", "ptr"}},
                                     {{"name", "n"}, {"type", "i32"}}})},
             {"block", json::array({128, 1, 1})},
             {"grid", json::array({"ceil(n/128)", "1", "1"})}},
            {{"name", "muonssm_affine"},
             {"params", json::array({{{"name", "x"}, {"type", "ptr"}},
                                     {{"name", "n"}, {"type", "i32"}},
                                     {{"name", "a"}, {"type", "f32"}},
                                     {{"name", "b"}, {"type", "f64"}},
                                     {{"name", "c"}, {"type", "i64"}}})},
             {"block", json::array({256, 1, 1})},
             {"grid", json::array({"ceil(n/256)", 1, 1})}},
            {{"name", "muonssm_spin"},
             {"params", json::array({{{"name", "flag"}, {"type", "ptr"}},
                                     {{"name", "max_ns"}, {"type", "i64"}}})},
             {"block", json::array({32, 1, 1})},
             {"grid", json::array({1, 1, 1})}},
            {{"name", "muonssm_big_smem"},
             {"params", json::array({{{"name", "out"}, {"type", "ptr"}},
                                     {{"name", "nbytes"}, {"type", "i32"}}})},
             {"block", json::array({128, 1, 1})},
             {"grid", json::array({1, 1, 1})},
             {"shared_bytes", kBigShared}}})}};
  if (withCubin)
    m["cubins"] = {{"sm_90", "kernels.sm_90.cubin"}};
  return m;
}

class GpuTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!Driver::get().available())
      GTEST_SKIP() << "no CUDA driver/device: "
                   << Driver::get().status().message();
    StatusOr<Device> d = Device::open(0);
    if (!d.ok())
      GTEST_SKIP() << "no CUDA driver/device: " << d.status().message();
    device_ = *d;
    if (device_.info().ccMajor < 9)
      GTEST_SKIP() << "the test PTX targets sm_90; device is "
                   << device_.arch();
    ptxPath_ = MUONSSM_RT_TEST_PTX;
    ASSERT_FALSE(ptxPath_.empty()) << "built without MUONSSM_RT_TEST_PTX";
    ptx_ = readFile(ptxPath_);
    ASSERT_FALSE(ptx_.empty()) << "cannot read " << ptxPath_;
    std::string cubinPath = MUONSSM_RT_TEST_CUBIN;
    if (!cubinPath.empty() && fs::exists(cubinPath))
      cubin_ = readFile(cubinPath);
    ASSERT_TRUE(writeBundle(dir_.path(), "sm_90", true));
    cacheDir_ = (dir_.path() / "cache").string();
  }

  /// Writes the test bundle into `where` (the cubin only if there is one).
  bool writeBundle(const fs::path &where, const std::string &ptxArch,
                   bool withCubin) {
    withCubin = withCubin && !cubin_.empty();
    std::string ptx = ptx_;
    size_t t = ptx.find(".target sm_90");
    if (t == npos)
      return false;
    ptx.replace(t, std::strlen(".target sm_90"), ".target " + ptxArch);
    writeFile(where / "kernels.ptx", ptx);
    if (withCubin)
      writeFile(where / "kernels.sm_90.cubin", cubin_);
    writeFile(where / "manifest.json",
              testManifest(ptxArch, withCubin).dump(2));
    return true;
  }

  Bundle bundle() {
    StatusOr<Bundle> b = Bundle::load(dir_.str());
    EXPECT_TRUE(b.ok()) << b.status().message();
    return b.ok() ? *b : Bundle();
  }

  ModuleOptions jitOptions() const {
    ModuleOptions o;
    o.preferCubin = false;
    o.cacheDir = cacheDir_;
    return o;
  }

  /// Runs add_one over 0..n-1 on a fresh stream and checks the result.
  void runAddOne(const Module &module, int n = 1000) {
    StatusOr<Kernel> k = module.kernel("muonssm_add_one");
    ASSERT_TRUE(k.ok()) << k.status().message();
    std::vector<float> host(n);
    for (int i = 0; i < n; ++i)
      host[i] = float(i);
    StatusOr<DeviceBuffer> x = DeviceBuffer::allocate(device_, n * 4);
    ASSERT_TRUE(x.ok()) << x.status().message();
    ASSERT_TRUE(x->copyFromHost(host.data(), n * 4).ok());
    StatusOr<Stream> stream = Stream::create(device_);
    ASSERT_TRUE(stream.ok()) << stream.status().message();
    Status s = launch(*k, {{"n", n}}, {*x, KernelArg::i32(n)}, *stream);
    ASSERT_TRUE(s.ok()) << s.message();
    s = stream->synchronize(30);
    ASSERT_TRUE(s.ok()) << s.message();
    std::vector<float> out(n, -1);
    ASSERT_TRUE(x->copyToHost(out.data(), n * 4).ok());
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(out[i], float(i) + 1.0f) << "at " << i;
  }

  TempDir dir_;
  Device device_;
  std::string ptxPath_, ptx_, cubin_, cacheDir_;
};

TEST_F(GpuTest, DeviceInfo) {
  const DeviceInfo &info = device_.info();
  EXPECT_EQ(info.ordinal, 0);
  EXPECT_FALSE(info.name.empty());
  EXPECT_EQ(info.arch, archForComputeCapability(info.ccMajor, info.ccMinor));
  if (info.ccMajor == 9 && info.ccMinor == 0) {
    EXPECT_EQ(info.arch, "sm_90a");
  }
  EXPECT_GT(info.smCount, 0);
  EXPECT_GT(info.totalMemory, size_t(1) << 30);
  EXPECT_GE(info.maxSharedPerBlockOptin, info.maxSharedPerBlock);
  EXPECT_EQ(info.maxSharedPerBlock, 48 * 1024);
  StatusOr<MemoryInfo> mem = device_.memoryInfo();
  ASSERT_TRUE(mem.ok()) << mem.status().message();
  EXPECT_LE(mem->free, mem->total);
  EXPECT_GT(Driver::get().version(), 0);
  EXPECT_TRUE(Driver::get().hasTensorMaps());
  EXPECT_NE(device_.context(), nullptr);

  StatusOr<Device> missing = Device::open(1000);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::NoDevice);
  EXPECT_HAS(missing.status().message(), "no CUDA device 1000");
}

TEST_F(GpuTest, JitThenDiskCache) {
  Bundle b = bundle();
  StatusOr<Module> first = Module::load(device_, b, jitOptions());
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->source(), ModuleSource::Jit);
  EXPECT_EQ(first->imageArch(), device_.arch());
  EXPECT_EQ(first->cacheNote(), "");
  const std::string entry = first->cachePath();
  ASSERT_FALSE(entry.empty());
  EXPECT_EQ(fs::path(entry).parent_path(), fs::path(cacheDir_));
  ASSERT_TRUE(fs::exists(entry));
  EXPECT_TRUE(cache::looksLikeCubin(readFile(entry)));
  runAddOne(*first);

  // Second load: a cache hit, same entry.
  StatusOr<Module> second = Module::load(device_, b, jitOptions());
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->source(), ModuleSource::JitCache);
  EXPECT_EQ(second->cachePath(), entry);
  runAddOne(*second);

  // A corrupt entry is removed and rebuilt.
  writeFile(entry, "this is not a cubin");
  StatusOr<Module> third = Module::load(device_, b, jitOptions());
  ASSERT_TRUE(third.ok()) << third.status().message();
  EXPECT_EQ(third->source(), ModuleSource::Jit);
  EXPECT_HAS(third->cacheNote(), "removed corrupt cache entry");
  EXPECT_TRUE(cache::looksLikeCubin(readFile(entry)));
  runAddOne(*third);

  // So is a truncated one.
  std::string whole = readFile(entry);
  writeFile(entry, whole.substr(0, whole.size() / 2));
  StatusOr<Module> fourth = Module::load(device_, b, jitOptions());
  ASSERT_TRUE(fourth.ok()) << fourth.status().message();
  EXPECT_EQ(fourth->source(), ModuleSource::Jit);
  EXPECT_EQ(readFile(entry), whole);

  // The cache directory from the environment; no cache at all.
  {
    EnvGuard env("MUONSSM_CACHE_DIR", (dir_.path() / "envcache").c_str());
    ModuleOptions o;
    o.preferCubin = false;
    StatusOr<Module> m = Module::load(device_, b, o);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(fs::path(m->cachePath()).parent_path(), dir_.path() / "envcache");
    EXPECT_TRUE(fs::exists(m->cachePath()));
  }
  ModuleOptions noCache = jitOptions();
  noCache.useCache = false;
  StatusOr<Module> uncached = Module::load(device_, b, noCache);
  ASSERT_TRUE(uncached.ok()) << uncached.status().message();
  EXPECT_EQ(uncached->source(), ModuleSource::Jit);
  EXPECT_EQ(uncached->cachePath(), "");
}

TEST_F(GpuTest, Cubin) {
  if (cubin_.empty())
    GTEST_SKIP() << "no cubin: ptxas did not run at build time";
  if (device_.info().ccMajor != 9 || device_.info().ccMinor != 0)
    GTEST_SKIP() << "the test cubin is for sm_90";
  StatusOr<Module> m = Module::load(device_, bundle());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->source(), ModuleSource::Cubin);
  EXPECT_EQ(m->imageArch(), "sm_90");
  EXPECT_EQ(m->cachePath(), "");
  runAddOne(*m);
}

TEST_F(GpuTest, EveryParamType) {
  StatusOr<Module> m = Module::load(device_, bundle(), jitOptions());
  ASSERT_TRUE(m.ok()) << m.status().message();
  StatusOr<Kernel> k = m->kernel("muonssm_affine");
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_GT(k->numRegisters(), 0);
  EXPECT_GE(k->maxThreadsPerBlock(), 256);
  const int n = 777;
  std::vector<float> host(n);
  for (int i = 0; i < n; ++i)
    host[i] = float(i);
  StatusOr<DeviceBuffer> x = DeviceBuffer::allocate(device_, n * 4);
  ASSERT_TRUE(x.ok());
  StatusOr<Stream> stream = Stream::create(device_, /*nonBlocking=*/true);
  ASSERT_TRUE(stream.ok());
  // Asynchronous copies on the stream, then one bounded wait.
  ASSERT_TRUE(x->copyFromHostAsync(host.data(), n * 4, *stream).ok());
  Status s = launch(*k, {{"n", n}},
                    {*x, KernelArg::i32(n), KernelArg::f32(2.0f),
                     KernelArg::f64(0.5), KernelArg::i64(3)},
                    *stream);
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<float> out(n, -1);
  ASSERT_TRUE(x->copyToHostAsync(out.data(), n * 4, *stream).ok());
  s = stream->synchronize(30);
  ASSERT_TRUE(s.ok()) << s.message();
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(out[i], float(i) * 2.0f + 3.5f) << "at " << i;
}

TEST_F(GpuTest, LaunchChecksArguments) {
  StatusOr<Module> m = Module::load(device_, bundle(), jitOptions());
  ASSERT_TRUE(m.ok()) << m.status().message();
  StatusOr<Kernel> k = m->kernel("muonssm_add_one");
  ASSERT_TRUE(k.ok());
  StatusOr<DeviceBuffer> x = DeviceBuffer::allocate(device_, 4096);
  ASSERT_TRUE(x.ok());
  StatusOr<Stream> stream = Stream::wrap(device_, nullptr);
  ASSERT_TRUE(stream.ok());

  Status s = launch(*k, {{"n", 16}}, {*x}, *stream);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(s.message(), "launching muonssm_add_one: expected 2 arguments "
                         "for muonssm_add_one(x: ptr, n: i32), got 1");
  s = launch(*k, {{"n", 16}}, {*x, KernelArg::f32(16)}, *stream);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "launching muonssm_add_one: argument 1 'n' must be "
                         "i32, got f32 16");
  s = launch(*k, {{"n", 16}}, {KernelArg::i32(1), KernelArg::i32(16)}, *stream);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS(s.message(), "argument 0 'x' must be ptr, got i32 1");
  s = launch(*k, {{"N", 16}}, {*x, KernelArg::i32(16)}, *stream);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::NotFound);
  EXPECT_HAS(s.message(), "launching muonssm_add_one: grid[0] 'ceil(n/128)': "
                          "unknown size 'n'");
  s = launch(*k, {{"n", 0}}, {*x, KernelArg::i32(0)}, *stream);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS(s.message(), "grid[0] 'ceil(n/128)' is 0");
  s = launch(*k, {{"n", 16}}, {*x, KernelArg::i32(16)}, Stream());
  ASSERT_FALSE(s.ok());
  EXPECT_HAS(s.message(), "launching muonssm_add_one: no stream");
  StatusOr<Kernel> missing = m->kernel("muonssm_nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::NotFound);
  EXPECT_HAS(missing.status().message(), "has no kernel 'muonssm_nope' (it "
                                         "has muonssm_add_one, ");

  Status r = x->copyFromHost(nullptr, 0);
  EXPECT_TRUE(r.ok()) << r.message();
  float f[4] = {};
  r = x->copyFromHost(f, 16, 4090);
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(r.message(), "are outside the 4096-byte buffer");

  // The context is unharmed: a good launch still works.
  runAddOne(*m, 300);
}

TEST_F(GpuTest, BoundedWaitTimesOut) {
  StatusOr<Module> m = Module::load(device_, bundle(), jitOptions());
  ASSERT_TRUE(m.ok()) << m.status().message();
  StatusOr<Kernel> spin = m->kernel("muonssm_spin");
  ASSERT_TRUE(spin.ok());
  StatusOr<DeviceBuffer> flag = DeviceBuffer::allocate(device_, 4);
  ASSERT_TRUE(flag.ok());
  ASSERT_TRUE(flag->memset(0, 4).ok());
  StatusOr<Stream> stream = Stream::create(device_);
  StatusOr<Stream> other = Stream::create(device_);
  ASSERT_TRUE(stream.ok() && other.ok());
  StatusOr<Event> start = Event::create(device_), stop = Event::create(device_);
  ASSERT_TRUE(start.ok() && stop.ok());

  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(start->record(*stream).ok());
  // Spins until the flag is set, or 10 s at most.
  Status s =
      launch(*spin, {}, {*flag, KernelArg::i64(10'000'000'000)}, *stream);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(stop->record(*stream).ok());
  s = stream->synchronize(0.1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::Timeout);
  EXPECT_EQ(s.message(), "timed out after 0.1 s waiting for stream (last "
                         "work: launching muonssm_spin)");
  double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_LT(waited, 2.0);
  s = stop->synchronize(0.05);
  EXPECT_EQ(s.code(), ErrorCode::Timeout) << s.message();
  EXPECT_HAS(s.message(), "waiting for event (recorded after launching "
                          "muonssm_spin)");
  EXPECT_EQ(stream->synchronize(-1).code(), ErrorCode::InvalidArgument);

  // Release the kernel from another stream.
  ASSERT_TRUE(flag->memsetAsync(1, 4, *other).ok());
  s = other->synchronize(10);
  ASSERT_TRUE(s.ok()) << s.message();
  s = stream->synchronize(15);
  ASSERT_TRUE(s.ok()) << s.message();
  waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
               .count();
  EXPECT_LT(waited, 9.0) << "the flag did not stop the kernel";
  StatusOr<float> ms = Event::elapsedMs(*start, *stop);
  ASSERT_TRUE(ms.ok()) << ms.status().message();
  EXPECT_GE(*ms, 50.0f);
}

TEST_F(GpuTest, LargeDynamicSharedMemory) {
  if (device_.info().maxSharedPerBlockOptin < int(kBigShared))
    GTEST_SKIP() << "device has less than 100 KiB of opt-in shared memory";
  StatusOr<Module> m = Module::load(device_, bundle(), jitOptions());
  ASSERT_TRUE(m.ok()) << m.status().message();
  StatusOr<Kernel> k = m->kernel("muonssm_big_smem");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->info().sharedBytes, kBigShared);
  StatusOr<DeviceBuffer> out = DeviceBuffer::allocate(device_, 4);
  ASSERT_TRUE(out.ok());
  StatusOr<Stream> stream = Stream::create(device_);
  ASSERT_TRUE(stream.ok());
  Status s = launch(*k, {}, {*out, KernelArg::i32(int(kBigShared))}, *stream);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(stream->synchronize(30).ok());
  uint32_t v = 0;
  ASSERT_TRUE(out->copyToHost(&v, 4).ok());
  EXPECT_EQ(v, kBigShared + 42);

  // More than the device allows: refused at load, naming the kernel.
  json manifest = testManifest("sm_90", false);
  manifest["kernels"][3]["shared_bytes"] =
      device_.info().maxSharedPerBlockOptin + 1024;
  writeFile(dir_.path() / "manifest.json", manifest.dump());
  StatusOr<Module> tooBig = Module::load(device_, bundle(), jitOptions());
  ASSERT_FALSE(tooBig.ok());
  EXPECT_HAS(tooBig.status().message(), "kernel 'muonssm_big_smem': "
                                        "shared_bytes");
  EXPECT_HAS(tooBig.status().message(), "exceeds the device's opt-in limit");
}

TEST_F(GpuTest, UnsupportedArch) {
  // PTX for an arch the device cannot run (arch-specific PTX of another
  // generation): refused before the driver sees it.
  std::string other = device_.info().ccMajor == 10 ? "sm_90a" : "sm_100a";
  TempDir d;
  ASSERT_TRUE(writeBundle(d.path(), other, false));
  StatusOr<Bundle> b = Bundle::load(d.str());
  ASSERT_TRUE(b.ok()) << b.status().message();
  StatusOr<Module> m = Module::load(device_, *b, jitOptions());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), ErrorCode::UnsupportedArch);
  EXPECT_HAS(m.status().message(), "unsupported arch: bundle '");
  EXPECT_HAS(m.status().message(), "has PTX for " + other);
  EXPECT_HAS(m.status().message(),
             "but device 0 (" + device_.info().name + ") is " + device_.arch());
}

TEST_F(GpuTest, JitErrorsCarryTheLog) {
  // Bad PTX: the JIT's error log is part of the message.
  std::string bad = readFile(dir_.path() / "kernels.ptx");
  size_t at = bad.find("add.f32");
  ASSERT_NE(at, npos);
  bad.replace(at, 7, "add.f99");
  writeFile(dir_.path() / "kernels.ptx", bad);
  StatusOr<Module> m = Module::load(device_, bundle(), jitOptions());
  ASSERT_FALSE(m.ok());
  EXPECT_HAS(m.status().message(), "JIT-compiling 'kernels.ptx' (sm_90) for " +
                                       device_.arch() + ": CUDA_ERROR_");
  EXPECT_HAS(m.status().message(), "; JIT log: ");
  EXPECT_HAS(m.status().message(), "f99");
}

TEST_F(GpuTest, ManifestKernelMissingFromModule) {
  json manifest = testManifest("sm_90", false);
  manifest["kernels"][0]["name"] = "muonssm_not_there";
  writeFile(dir_.path() / "manifest.json", manifest.dump());
  StatusOr<Module> m = Module::load(device_, bundle(), jitOptions());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), ErrorCode::NotFound);
  EXPECT_HAS(m.status().message(),
             "kernel 'muonssm_not_there' of manifest.json is not in the JIT "
             "image of 'kernels.ptx': CUDA_ERROR_NOT_FOUND");
}

// A faulting kernel poisons its context for good, so it runs in a child
// that re-executes this binary ("threadsafe" death tests do not fork a
// process that already initialized CUDA).
using GpuDeathTest = GpuTest;

TEST_F(GpuDeathTest, IllegalAddressIsReportedByName) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        StatusOr<Module> m = Module::load(device_, bundle(), jitOptions());
        if (!m.ok())
          std::exit(2);
        StatusOr<Kernel> k = m->kernel("muonssm_add_one");
        StatusOr<Stream> stream = Stream::create(device_);
        if (!k.ok() || !stream.ok())
          std::exit(3);
        Status s =
            launch(*k, {{"n", 4096}},
                   {KernelArg::ptr(0x10), KernelArg::i32(4096)}, *stream);
        if (s.ok())
          s = stream->synchronize(30);
        std::fprintf(stderr, "%s\n", s.message().c_str());
        std::exit(s.ok() ? 4 : 0);
      },
      ::testing::ExitedWithCode(0),
      "waiting for stream \\(last work: launching muonssm_add_one\\): "
      "CUDA_ERROR_ILLEGAL_ADDRESS \\(an illegal memory access was "
      "encountered\\)");
}

TEST_F(GpuTest, TensorMap64x64Bf16) {
  const uint64_t rows = 64, cols = 64;
  StatusOr<DeviceBuffer> tile =
      DeviceBuffer::allocate(device_, rows * cols * 2);
  ASSERT_TRUE(tile.ok());
  TensorMapDesc desc = TensorMapDesc::matrix(TmaDataType::BF16, rows, cols, 64,
                                             64, TmaSwizzle::B128);
  StatusOr<TensorMap> map = makeTensorMap(device_, tile->ptr(), desc);
  ASSERT_TRUE(map.ok()) << map.status().message();
  EXPECT_NE(map->ptr(), 0u);
  EXPECT_EQ(map->ptr() % 64, 0u);
  bool nonzero = false;
  for (uint8_t byte : map->hostBytes())
    nonzero |= byte != 0;
  EXPECT_TRUE(nonzero);
  // Encoding is deterministic: the map in device memory is this one.
  StatusOr<std::array<uint8_t, 128>> again = encodeTensorMap(desc, tile->ptr());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, map->hostBytes());
  KernelArg arg = *map;
  EXPECT_EQ(arg.type(), ParamType::TensorMap);

  // f32 and rank 3 too.
  TensorMapDesc r3;
  r3.dataType = TmaDataType::F32;
  r3.globalDims = {32, 16, 4};
  r3.globalStrides = {32 * 4, 32 * 4 * 16};
  r3.boxDims = {32, 16, 1};
  StatusOr<DeviceBuffer> vol = DeviceBuffer::allocate(device_, 32 * 16 * 4 * 4);
  ASSERT_TRUE(vol.ok());
  StatusOr<TensorMap> m3 = makeTensorMap(device_, vol->ptr(), r3);
  EXPECT_TRUE(m3.ok()) << m3.status().message();
}

TEST_F(GpuTest, OutOfMemory) {
  StatusOr<DeviceBuffer> huge =
      DeviceBuffer::allocate(device_, size_t(1) << 50);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), ErrorCode::OutOfMemory);
  EXPECT_HAS(huge.status().message(),
             "out of device memory: asked 1125899906842624 bytes, ");
  EXPECT_HAS(huge.status().message(), " free");
  // Zero bytes is an empty buffer, not an error.
  StatusOr<DeviceBuffer> none = DeviceBuffer::allocate(device_, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->ptr(), 0u);
  EXPECT_TRUE(none->release().ok());
}

TEST_F(GpuTest, CApiEndToEnd) {
  EnvGuard env("MUONSSM_CACHE_DIR", cacheDir_.c_str());
  ASSERT_EQ(muonssm_driver_available(), 1);
  int version = 0;
  ASSERT_EQ(muonssm_driver_version(&version), MUONSSM_OK);
  EXPECT_EQ(version, Driver::get().version());
  muonssm_device *dev = nullptr;
  ASSERT_EQ(muonssm_device_open(0, &dev), MUONSSM_OK) << muonssm_last_error();
  EXPECT_EQ(std::string(muonssm_device_arch(dev)), device_.arch());
  muonssm_bundle *b = nullptr;
  ASSERT_EQ(muonssm_bundle_load(dir_.str().c_str(), &b), MUONSSM_OK)
      << muonssm_last_error();
  muonssm_module *m = nullptr;
  ASSERT_EQ(muonssm_module_load(dev, b, &m), MUONSSM_OK)
      << muonssm_last_error();
  muonssm_bundle_free(b); // the module does not need it

  const int n = 500;
  std::vector<float> host(n);
  for (int i = 0; i < n; ++i)
    host[i] = float(2 * i);
  muonssm_buffer *x = nullptr;
  ASSERT_EQ(muonssm_buffer_alloc(dev, n * 4, &x), MUONSSM_OK);
  EXPECT_EQ(muonssm_buffer_size(x), size_t(n * 4));
  muonssm_stream *s = nullptr;
  ASSERT_EQ(muonssm_stream_create(dev, &s), MUONSSM_OK);
  ASSERT_EQ(muonssm_copy_to_device(x, 0, host.data(), n * 4, s), MUONSSM_OK);
  muonssm_size sizes[] = {{"n", n}};
  muonssm_arg args[] = {muonssm_arg_ptr(muonssm_buffer_ptr(x)),
                        muonssm_arg_i32(n)};
  ASSERT_EQ(muonssm_launch(m, "muonssm_add_one", sizes, 1, args, 2, s),
            MUONSSM_OK)
      << muonssm_last_error();
  std::vector<float> out(n, -1);
  ASSERT_EQ(muonssm_copy_to_host(out.data(), x, 0, n * 4, s), MUONSSM_OK);
  ASSERT_EQ(muonssm_synchronize(s, 30.0), MUONSSM_OK) << muonssm_last_error();
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(out[i], float(2 * i) + 1.0f) << "at " << i;

  // Errors come back as codes with messages.
  muonssm_arg wrong[] = {muonssm_arg_ptr(muonssm_buffer_ptr(x)),
                         muonssm_arg_f32(1.0f)};
  EXPECT_EQ(muonssm_launch(m, "muonssm_add_one", sizes, 1, wrong, 2, nullptr),
            MUONSSM_ERROR_INVALID_ARGUMENT);
  EXPECT_HAS(muonssm_last_error(), "argument 1 'n' must be i32, got f32 1");
  EXPECT_EQ(muonssm_launch(m, "nope", sizes, 1, args, 2, nullptr),
            MUONSSM_ERROR_NOT_FOUND);
  muonssm_arg badType = args[1];
  badType.type = 42;
  EXPECT_EQ(
      muonssm_launch(m, "muonssm_add_one", sizes, 1, &badType, 1, nullptr),
      MUONSSM_ERROR_INVALID_ARGUMENT);
  EXPECT_HAS(muonssm_last_error(), "args[0].type 42 is not a MUONSSM_ARG_*");
  muonssm_buffer *huge = nullptr;
  EXPECT_EQ(muonssm_buffer_alloc(dev, size_t(1) << 50, &huge),
            MUONSSM_ERROR_OUT_OF_MEMORY);
  EXPECT_HAS(muonssm_last_error(), "out of device memory: asked");

  // The default stream, and a TMA map through the C API.
  muonssm_stream *def = nullptr;
  ASSERT_EQ(muonssm_stream_wrap(dev, nullptr, &def), MUONSSM_OK);
  ASSERT_EQ(muonssm_launch(m, "muonssm_add_one", sizes, 1, args, 2, nullptr),
            MUONSSM_OK);
  ASSERT_EQ(muonssm_synchronize(def, 30.0), MUONSSM_OK);
  muonssm_buffer *tile = nullptr;
  ASSERT_EQ(muonssm_buffer_alloc(dev, 64 * 64 * 2, &tile), MUONSSM_OK);
  uint64_t dims[2] = {64, 64}, strides[1] = {128};
  uint32_t box[2] = {64, 64};
  muonssm_tensor_map *map = nullptr;
  ASSERT_EQ(muonssm_tensor_map_create(
                dev, muonssm_buffer_ptr(tile), MUONSSM_TMA_BF16, 2, dims,
                strides, box, MUONSSM_SWIZZLE_128B, MUONSSM_OOB_ZERO, &map),
            MUONSSM_OK)
      << muonssm_last_error();
  EXPECT_NE(muonssm_tensor_map_ptr(map), 0u);
  box[0] = 128;
  muonssm_tensor_map *bad = nullptr;
  EXPECT_EQ(muonssm_tensor_map_create(
                dev, muonssm_buffer_ptr(tile), MUONSSM_TMA_BF16, 2, dims,
                strides, box, MUONSSM_SWIZZLE_128B, MUONSSM_OOB_ZERO, &bad),
            MUONSSM_ERROR_INVALID_ARGUMENT);
  EXPECT_HAS(muonssm_last_error(), "exceeds the 128B swizzle span");

  muonssm_tensor_map_free(map);
  muonssm_buffer_free(tile);
  muonssm_stream_free(def);
  muonssm_stream_free(s);
  muonssm_buffer_free(x);
  muonssm_module_free(m);
  muonssm_device_close(dev);
}

} // namespace
