//===- CpuNumericsTest.cpp - generated CPU code against the oracle --------===//
//
// For every variant of DESIGN.md §1 (each decay kind with and without the
// delta rule, both inputs, momentum, both NS polynomials, targets and τ
// placements, per-channel β), with grouped-query heads and initial states:
// build the scan as IR, compile it with muonssm-to-cpu, run it on seeded
// inputs from the model domains and compare each result with the float64
// per-token oracle. Three suites:
//  - PerToken: every scan token by token (chunk-size 0), f32/f64,
//    T ∈ {1, 7, 64, 1000};
//  - Chunked: the default pipeline (simplify-newton-schulz, chunk,
//    fuse-newton-schulz) with C ∈ {16, 32, 64}, one compile per variant with
//    a dynamic T, run at T ∈ {1, C−1, C, C+1, 3C+5}, varlen included; the
//    test also checks which schedule the passes chose;
//  - Long (T = 4096) and SixteenBitInputs (bf16/f16 at T = 64);
//  - Mixers: muonssm.selective_mixer (Mamba, LongHorn; Muon seed, paper
//    cubic, momentum only, plain) and muonssm.gated_deltanet_mixer (plain,
//    seed, paper) decomposed and compiled, f32/f64/bf16,
//    L ∈ {1, 37}, token by token and chunked, against the float64 layer
//    oracle (bf16: the layer's output is rounded once from f32, so 8e-3
//    holds, given its weights and activations are read exactly);
//  - ModelLayers: conv1d, batch_norm, rms_norm, a mixer, a residual
//    arith.addf, mean_pool and linear in one small model, f32/f64/bf16;
//  - PerChunkNewtonSchulz: the named approximation of docs/chunking.md
//    §3.2 (NS once per chunk of C_ns ∈ {1, 16, 64} tokens), rewritten into
//    the IR first, so the compiled code is checked against the float64
//    oracle of the approximated model at the same tolerances, with the
//    scan itself chunked (C = 32) at T ∈ {1, C_ns−1, C_ns+1, 3C_ns+5}; the
//    suite prints how far the approximation is from the per-token model.
//
// Tolerances (normwise relative, as `muonssm-run --check`): f64 1e-10 (the
// double-rounding error here is ~1e-15); f32 1e-4 (f32 rounding is ~6e-8
// per operation and grows like √T: ~2e-6 at T = 1000); 16-bit outputs 2u of
// their format (f16 1e-3, bf16 8e-3), since o is rounded once from f32.
//
// Some variants are ill-conditioned over long sequences: with no decay the
// state grows without bound, and the error input feeds it back through the
// nonlinear NS of the momentum, so any f32 implementation inherits an error
// far above f32's unit roundoff. The test measures that floor instead of
// assuming it away: the oracle is run again on inputs perturbed by relative
// 2^-24 (f32 rounding of the inputs) and the spread δ of its results is the
// intrinsic error of f32 arithmetic on this problem. A result passes when its
// error is within max(tolerance, 10·δ); the summary names every case where δ
// decided.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMDialect.h"
#include "dialect/MuonSSMOps.h"
#include "lib/run/Evaluate.h"
#include "lib/run/Inputs.h"
#include "lib/run/Jit.h"
#include "lib/run/Runner.h"
#include "passes/Passes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>

using namespace mlir;
using namespace mlir::muonssm;
namespace ref = ::muonssm::reference;
namespace npy = ::muonssm::npy;

namespace {

struct Variant {
  std::string name;
  std::string decay;      // none, scalar, diagonal, mamba, longhorn
  std::string attributes; // between input = ... and tau
  std::string input = "update";
  bool channelBeta = false;
  bool momentum = false;
  bool varlen = false;
  bool pool = false; ///< states in pools of N + 3 slots (state_indices)
  /// The schedule muonssm-to-cpu gives it: "chunked" or "recurrent" (NS of
  /// the momentum or of a state-dependent update), "" (unscheduled: an
  /// elementwise decay with a state-dependent input).
  std::string schedule = "chunked";
  /// As many key heads as value heads (the per-chunk NS approximation needs
  /// H = HV); otherwise H = 2, HV = 4.
  bool sameHeads = false;
};

void PrintTo(const Variant &v, std::ostream *os) { *os << v.name; }

std::vector<Variant> variants() {
  std::vector<Variant> all;
  for (std::string decay : {"none", "scalar", "diagonal", "mamba", "longhorn"}) {
    bool elementwise = decay == "mamba" || decay == "longhorn";
    auto add = [&](std::string name, std::string attrs, std::string input,
                   bool momentum, bool channelBeta = false,
                   bool varlen = false) {
      Variant v{decay + "_" + name, decay, attrs, input, channelBeta,
                momentum, varlen};
      if (attrs.find("on momentum") != std::string::npos)
        v.schedule = "recurrent";
      else if (elementwise && (input == "error" ||
                               attrs.find("delta_rule") != std::string::npos))
        v.schedule = "";
      all.push_back(v);
    };
    add("plain", "", "update", false);
    add("momentum", "momentum = 0.8, ", "update", true);
    add("cubic_update_inside",
        "momentum = 0.9, newton_schulz = <cubic, max, eps = 1.0e-06, steps = "
        "1> on update with tau inside, ",
        "update", true);
    add("quintic2_update_after",
        "momentum = 0.95, newton_schulz = <quintic, add, eps = 1.0e-07, "
        "steps = 2> on update with tau after, ",
        "update", true);
    add("seed_error_momentum_ns",
        "momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, steps "
        "= 1> on momentum with tau inside, ",
        "error", true);
    add("error_plain", "", "error", false);
    add("cubic_momentum_after",
        "momentum = 0.5, newton_schulz = <cubic, add, eps = 1.0e-05, steps = "
        "3> on momentum with tau after, ",
        "update", true);
    if (decay != "longhorn") {
      add("delta", "delta_rule = 1.0, ", "update", false);
      add("delta_momentum_ns",
          "delta_rule = 0.7, momentum = 0.6, newton_schulz = <quintic, max, "
          "eps = 1.0e-07, steps = 1> on update with tau inside, ",
          "update", true);
      add("channel_beta", "momentum = 0.3, ", "update", true, true);
      add("delta_varlen", "delta_rule = 1.0, ", "update", false, false, true);
      add("seed_pool",
          "momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, "
          "steps = 1> on momentum with tau inside, ",
          "error", true);
      all.back().pool = true;
    }
    add("momentum_pool", "momentum = 0.8, ", "update", true);
    all.back().pool = true;
  }
  return all;
}

/// A func.func @main holding one scan of the variant, with static sizes.
std::string scanModule(const Variant &v, const std::string &type, int64_t T) {
  int64_t B = v.varlen ? 1 : 2, HV = 4, H = v.sameHeads ? HV : 2;
  // Alternate K < V and K > V so both Gram orientations of NS are used.
  bool wide = v.name.size() % 2 == 0;
  int64_t K = wide ? 4 : 6, V = wide ? 6 : 4;
  int64_t N = v.varlen ? 3 : B;
  std::string acc = type == "f64" ? "f64" : "f32";
  auto t = [](std::initializer_list<int64_t> dims, const std::string &e) {
    std::string s = "tensor<";
    for (int64_t d : dims)
      s += (d < 0 ? std::string("?") : std::to_string(d)) + "x";
    return s + e + ">";
  };
  std::string qk = t({B, T, H, K}, type), vt = t({B, T, HV, V}, type),
              st = t({v.pool ? N + 3 : N, HV, K, V}, acc);
  std::vector<std::pair<std::string, std::string>> args = {
      {"q", qk}, {"k", qk}, {"v", vt}};
  std::string operands = "q(%q : " + qk + ") k(%k : " + qk + ") v(%v : " +
                         vt + ")";
  auto operand = [&](const std::string &name, const std::string &keyword,
                     const std::string &type) {
    args.push_back({name, type});
    operands += " " + keyword + "(%" + name + " : " + type + ")";
  };
  if (v.decay == "scalar")
    operand("g", "g", t({B, T, HV}, "f32"));
  if (v.decay == "diagonal")
    operand("g", "g", t({B, T, HV, K}, "f32"));
  if (v.decay == "mamba") {
    operand("dt", "dt", t({B, T, HV, V}, "f32"));
    operand("a", "A", t({HV, K, V}, "f32"));
  }
  if (v.decay == "longhorn")
    operand("dt", "dt", t({B, T, HV, V}, "f32"));
  else
    operand("beta", "beta",
            v.channelBeta ? t({B, T, HV, V}, type) : t({B, T, HV}, type));
  if (v.varlen)
    operand("cu", "cu_seqlens", t({N + 1}, "i32"));
  operand("s0", "initial_state", st);
  if (v.momentum)
    operand("m0", "initial_momentum", st);
  if (v.pool)
    operand("slots", "state_indices", t({N}, "i32"));

  std::ostringstream os;
  os << "func.func @main(";
  for (size_t i = 0; i < args.size(); ++i)
    os << (i ? ", " : "") << "%" << args[i].first << ": " << args[i].second
       << " {muonssm.name = \"" << args[i].first << "\"}";
  os << ") -> (" << vt << ", " << st << (v.momentum ? ", " + st : "")
     << ") {\n  %o, %s" << (v.momentum ? ", %m" : "")
     << " = muonssm.scan " << operands << "\n    decay = " << v.decay
     << ", input = " << v.input << ", " << v.attributes
     << "tau = 0.75, scale = 0.5\n    -> o " << vt << " final_state " << st
     << (v.momentum ? " final_momentum " + st : "") << "\n  return %o, %s"
     << (v.momentum ? ", %m" : "") << " : " << vt << ", " << st
     << (v.momentum ? ", " + st : "") << "\n}\n";
  return os.str();
}

struct Worst {
  double relative = 0.0;
  std::string where;
};
std::map<std::string, Worst> &worstByType() {
  static std::map<std::string, Worst> worst;
  return worst;
}
/// Cases whose tolerance came from the measured conditioning floor.
std::vector<std::string> &conditioned() {
  static std::vector<std::string> cases;
  return cases;
}

DialectRegistry &registry() {
  static DialectRegistry *r = [] {
    auto *r = new DialectRegistry;
    registerAllDialects(*r);
    registerAllExtensions(*r);
    r->insert<MuonSSMDialect>();
    return r;
  }();
  return *r;
}

void printSummary() {
  for (auto &[type, w] : worstByType())
    std::printf("[ summary ] worst normwise relative error, %s outputs: "
                "%.3e (%s)\n",
                type.c_str(), w.relative, w.where.c_str());
  for (const std::string &c : conditioned())
    std::printf("[ summary ] ill-conditioned, checked against 10x the floor: "
                "%s\n",
                c.c_str());
}

/// Runs `jit` on seeded inputs for `staticModule` (the same scan with static
/// sizes) and compares every result with the oracle.
void checkAgainstOracle(run::JitFunction &jit, ModuleOp staticModule,
                        const std::string &label, uint64_t seed) {
  auto entry = staticModule.lookupSymbol<func::FuncOp>("main");
  FailureOr<std::vector<run::Input>> inputs =
      run::prepareInputs(entry, "", seed);
  ASSERT_TRUE(succeeded(inputs));
  FailureOr<std::vector<run::Shape>> shapes =
      run::inferResultShapes(entry, run::toArgumentValues(*inputs, false));
  ASSERT_TRUE(succeeded(shapes));
  std::vector<npy::Array> outputs;
  for (unsigned i = 0; i < entry.getNumResults(); ++i) {
    auto tensor = cast<RankedTensorType>(entry.getResultTypes()[i]);
    outputs.push_back(npy::Array::zeros(
        *run::dtypeOf(tensor.getElementType()), (*shapes)[i]));
  }
  std::vector<const npy::Array *> in;
  for (const run::Input &input : *inputs)
    in.push_back(&input.data);
  std::vector<npy::Array *> out;
  for (npy::Array &o : outputs)
    out.push_back(&o);
  ASSERT_TRUE(succeeded(jit.call(in, out)));

  std::vector<run::ArgumentValue> exact = run::toArgumentValues(*inputs, true);
  FailureOr<std::vector<ref::Tensor>> expected = run::evaluate(entry, exact);
  ASSERT_TRUE(succeeded(expected));

  // The conditioning floor: the oracle on inputs perturbed by f32 rounding.
  std::vector<run::ArgumentValue> perturbed = exact;
  uint64_t state = 0x2545F4914F6CDD1Dull ^ seed;
  for (size_t a = 0; a < perturbed.size(); ++a) {
    if ((*inputs)[a].role == run::Role::Offsets ||
        (*inputs)[a].role == run::Role::Slots)
      continue;
    for (double &x : perturbed[a].value->data()) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      double r = static_cast<double>(state >> 11) * 0x1.0p-52 - 1.0; // [-1, 1)
      x *= 1.0 + r * 0x1.0p-24;
    }
  }
  FailureOr<std::vector<ref::Tensor>> nearby = run::evaluate(entry, perturbed);
  ASSERT_TRUE(succeeded(nearby));

  const char *names[] = {"o", "final_state", "final_momentum"};
  for (size_t r = 0; r < outputs.size(); ++r) {
    double diff2 = 0.0, ref2 = 0.0, spread2 = 0.0;
    for (size_t i = 0; i < (*expected)[r].size(); ++i) {
      double x = (*expected)[r].data()[i];
      double d = outputs[r].getAsDouble(i) - x;
      diff2 += d * d;
      ref2 += x * x;
      spread2 += ((*nearby)[r].data()[i] - x) * ((*nearby)[r].data()[i] - x);
    }
    ASSERT_GT(ref2, 0.0) << names[r] << " is all zeros: the test proves nothing";
    double relative = std::sqrt(diff2 / ref2);
    double floor = std::sqrt(spread2 / ref2);
    std::string dtype = npy::dtypeName(outputs[r].dtype);
    double tolerance = run::checkTolerance(dtype);
    if (dtype != "f64" && 10.0 * floor > tolerance) {
      tolerance = 10.0 * floor;
      conditioned().push_back(label + " " + names[r] + ": error " +
                              std::to_string(relative) + ", floor " +
                              std::to_string(floor));
    }
    EXPECT_LE(relative, tolerance)
        << label << " " << names[r] << " (conditioning floor " << floor << ")";
    Worst &w = worstByType()[dtype];
    if (relative > w.relative)
      w = {relative, label + " " + names[r]};
  }
}

OwningOpRef<ModuleOp> parse(const std::string &text, MLIRContext &context) {
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &context);
  EXPECT_TRUE(module) << text;
  return module;
}

using PerTokenParam = std::tuple<Variant, std::string, int64_t>;

class PerToken : public ::testing::TestWithParam<PerTokenParam> {
protected:
  static void TearDownTestSuite() { printSummary(); }
};

TEST_P(PerToken, MatchesTheOracle) {
  auto [variant, type, T] = GetParam();
  MLIRContext context(registry());
  context.loadAllAvailableDialects();
  std::string text = scanModule(variant, type, T);
  OwningOpRef<ModuleOp> module = parse(text, context);
  ASSERT_TRUE(module);
  FailureOr<run::JitFunction> jit =
      run::JitFunction::compile(*module, "main", /*chunkSize=*/0);
  ASSERT_TRUE(succeeded(jit)) << text;
  checkAgainstOracle(*jit, *module,
                     variant.name + " " + type + " T=" + std::to_string(T),
                     T * 31 + variant.name.size());
}

using ChunkedParam = std::tuple<Variant, std::string, int64_t>;

class Chunked : public ::testing::TestWithParam<ChunkedParam> {
protected:
  static void TearDownTestSuite() { printSummary(); }
};

/// The schedule muonssm-to-cpu's scheduling passes give the module's scan.
std::string scheduleOf(ModuleOp module, int64_t chunkSize) {
  OwningOpRef<ModuleOp> copy(cast<ModuleOp>(module->clone()));
  PassManager pm(module.getContext());
  pm.addNestedPass<func::FuncOp>(createSimplifyNewtonSchulz());
  pm.addNestedPass<func::FuncOp>(createChunk(ChunkOptions{chunkSize}));
  pm.addNestedPass<func::FuncOp>(createFuseNewtonSchulz());
  if (failed(pm.run(*copy)))
    return "<pass failure>";
  std::string kind;
  copy->walk([&](ScanOp op) {
    if (auto schedule = op.getSchedule())
      kind = stringifyScheduleKind(schedule->getKind()).str();
  });
  return kind;
}

TEST_P(Chunked, MatchesTheOracle) {
  auto [variant, type, chunk] = GetParam();
  MLIRContext context(registry());
  context.loadAllAvailableDialects();
  // One compile with a dynamic T, run at every T around chunk boundaries.
  std::string text = scanModule(variant, type, /*T=*/-1);
  OwningOpRef<ModuleOp> module = parse(text, context);
  ASSERT_TRUE(module);
  EXPECT_EQ(scheduleOf(*module, chunk), variant.schedule) << variant.name;
  FailureOr<run::JitFunction> jit =
      run::JitFunction::compile(*module, "main", chunk);
  ASSERT_TRUE(succeeded(jit)) << text;
  for (int64_t T : {int64_t(1), chunk - 1, chunk, chunk + 1, 3 * chunk + 5}) {
    if (T < 1 || (variant.varlen && T < 3))
      continue;
    OwningOpRef<ModuleOp> fixed = parse(scanModule(variant, type, T), context);
    ASSERT_TRUE(fixed);
    checkAgainstOracle(*jit, *fixed,
                       variant.name + " " + type + " C=" +
                           std::to_string(chunk) + " T=" + std::to_string(T),
                       T * 131 + chunk + variant.name.size());
  }
}

class Long : public ::testing::TestWithParam<Variant> {
protected:
  static void TearDownTestSuite() { printSummary(); }
};

TEST_P(Long, MatchesTheOracleAtT4096) {
  const Variant &variant = GetParam();
  MLIRContext context(registry());
  context.loadAllAvailableDialects();
  std::string text = scanModule(variant, "f32", 4096);
  OwningOpRef<ModuleOp> module = parse(text, context);
  ASSERT_TRUE(module);
  for (int64_t chunk : {int64_t(0), int64_t(64)}) {
    FailureOr<run::JitFunction> jit =
        run::JitFunction::compile(*module, "main", chunk);
    ASSERT_TRUE(succeeded(jit));
    checkAgainstOracle(*jit, *module,
                       variant.name + " f32 C=" + std::to_string(chunk) +
                           " T=4096",
                       4096 + chunk);
  }
}

class SixteenBitInputs : public ::testing::TestWithParam<PerTokenParam> {
protected:
  static void TearDownTestSuite() { printSummary(); }
};

TEST_P(SixteenBitInputs, MatchesTheOracle) {
  auto [variant, type, T] = GetParam();
  MLIRContext context(registry());
  context.loadAllAvailableDialects();
  OwningOpRef<ModuleOp> module = parse(scanModule(variant, type, T), context);
  ASSERT_TRUE(module);
  FailureOr<run::JitFunction> jit = run::JitFunction::compile(*module, "main");
  ASSERT_TRUE(succeeded(jit));
  checkAgainstOracle(*jit, *module,
                     variant.name + " " + type + " T=" + std::to_string(T),
                     T * 7 + variant.name.size());
}

/// Worst normwise distance of the approximated model's o from the
/// per-token model's, per NS chunk size (float64 oracles, both).
std::map<int64_t, Worst> &approximationByChunk() {
  static std::map<int64_t, Worst> worst;
  return worst;
}

using PerChunkParam = std::tuple<Variant, std::string, int64_t>;

class PerChunkNewtonSchulz : public ::testing::TestWithParam<PerChunkParam> {
protected:
  static void TearDownTestSuite() {
    printSummary();
    for (auto &[chunk, w] : approximationByChunk())
      std::printf("[ summary ] per-chunk NS, %lld tokens per chunk: worst "
                  "distance of o from the per-token model %.3e (%s)\n",
                  static_cast<long long>(chunk), w.relative, w.where.c_str());
  }
};

/// Rewrites NS of the module's rank-1 updates into the per-chunk
/// approximation (muonssm-run --ns-per-chunk does the same).
LogicalResult approximatePerChunk(ModuleOp module, int64_t chunk) {
  PassManager pm(module.getContext());
  pm.addNestedPass<func::FuncOp>(
      createFuseNewtonSchulz(FuseNewtonSchulzOptions{chunk}));
  return pm.run(module);
}

TEST_P(PerChunkNewtonSchulz, MatchesTheOracleOfTheApproximation) {
  auto [variant, type, nsChunk] = GetParam();
  MLIRContext context(registry());
  context.loadAllAvailableDialects();
  const int64_t scanChunk = 32;
  OwningOpRef<ModuleOp> module =
      parse(scanModule(variant, type, /*T=*/-1), context);
  ASSERT_TRUE(module);
  ASSERT_TRUE(succeeded(approximatePerChunk(*module, nsChunk)));
  int ops = 0;
  module->walk([&](ChunkNewtonSchulzOp) { ++ops; });
  ASSERT_EQ(ops, 1);
  // Without NS the scan is linear: muonssm-chunk chunks it.
  EXPECT_EQ(scheduleOf(*module, scanChunk), "chunked");
  FailureOr<run::JitFunction> jit =
      run::JitFunction::compile(*module, "main", scanChunk);
  ASSERT_TRUE(succeeded(jit));
  for (int64_t T : {int64_t(1), nsChunk - 1, nsChunk + 1, 3 * nsChunk + 5}) {
    if (T < 1 || (variant.varlen && T < 3))
      continue;
    std::string label = variant.name + " " + type + " Cns=" +
                        std::to_string(nsChunk) + " T=" + std::to_string(T);
    uint64_t seed = T * 17 + nsChunk + variant.name.size();
    OwningOpRef<ModuleOp> perToken =
        parse(scanModule(variant, type, T), context);
    ASSERT_TRUE(perToken);
    OwningOpRef<ModuleOp> fixed(cast<ModuleOp>((*perToken)->clone()));
    ASSERT_TRUE(succeeded(approximatePerChunk(*fixed, nsChunk)));
    checkAgainstOracle(*jit, *fixed, label, seed);

    // The approximation's distance from the per-token model, on the same
    // inputs (drawn for the per-token module: the same roles and seed).
    auto original = perToken->lookupSymbol<func::FuncOp>("main");
    FailureOr<std::vector<run::Input>> inputs =
        run::prepareInputs(original, "", seed);
    ASSERT_TRUE(succeeded(inputs));
    std::vector<run::ArgumentValue> values =
        run::toArgumentValues(*inputs, true);
    FailureOr<std::vector<ref::Tensor>> exact =
        run::evaluate(original, values);
    FailureOr<std::vector<ref::Tensor>> approx =
        run::evaluate(fixed->lookupSymbol<func::FuncOp>("main"), values);
    ASSERT_TRUE(succeeded(exact) && succeeded(approx));
    double diff2 = 0.0, ref2 = 0.0;
    for (size_t i = 0; i < (*exact)[0].size(); ++i) {
      double d = (*approx)[0].data()[i] - (*exact)[0].data()[i];
      diff2 += d * d;
      ref2 += (*exact)[0].data()[i] * (*exact)[0].data()[i];
    }
    double distance = std::sqrt(diff2 / ref2);
    if (nsChunk == 1 || T == 1) {
      // One token per chunk (or a one-token sequence) is the per-token
      // model: the two float64 oracles differ only by the rounding of the
      // effective keys to the op's element type (f32: 6e-8 per key; f64:
      // 1e-16), far below a real chunk's distance (1e-1).
      EXPECT_LE(distance, type == "f64" ? 1e-12 : 1e-6) << label;
    }
    Worst &w = approximationByChunk()[nsChunk];
    if (distance > w.relative)
      w = {distance, label};
  }
}

std::vector<Variant> perChunkVariants() {
  std::vector<Variant> chosen;
  for (Variant v : variants())
    if (v.decay != "longhorn" && v.input == "update" &&
        v.attributes.find("on update") != std::string::npos &&
        v.attributes.find("delta_rule") == std::string::npos) {
      v.sameHeads = true;
      chosen.push_back(v);
      // Per-channel β and varlen (chunks restart at every sequence).
      v.name += "_channel_beta_varlen";
      v.channelBeta = v.varlen = true;
      chosen.push_back(v);
    }
  return chosen;
}

/// A selective mixer (Mamba or LongHorn block) at small sizes: d_model 12,
/// d_inner 16, d_state 4, d_conv 3, dt_rank 2.
struct MixerVariant {
  std::string name;
  std::string backbone;   // mamba, longhorn
  std::string attributes; // before `tau`
};
void PrintTo(const MixerVariant &v, std::ostream *os) { *os << v.name; }

std::string mixerModule(const MixerVariant &v, const std::string &type,
                        int64_t L) {
  const int64_t B = 2, Dm = 12, Di = 16, N = 4, W = 3, R = 2;
  auto t = [&](std::initializer_list<int64_t> dims) {
    std::string s = "tensor<";
    for (int64_t d : dims)
      s += std::to_string(d) + "x";
    return s + type + ">";
  };
  bool mamba = v.backbone == "mamba";
  std::ostringstream os;
  os << "func.func @main(%x: " << t({B, L, Dm}) << ", %wi: " << t({2 * Di, Dm})
     << ", %wc: " << t({Di, W}) << ", %bc: " << t({Di})
     << ", %wx: " << t({R + 2 * N, Di}) << ", %wd: " << t({Di, R})
     << ", %bd: " << t({Di});
  if (mamba)
    os << ", %al: " << t({Di, N});
  os << ", %d: " << t({Di}) << ", %wo: " << t({Dm, Di}) << ") -> "
     << t({B, L, Dm}) << " {\n  %y = muonssm.selective_mixer " << v.backbone
     << " x(%x : " << t({B, L, Dm}) << ") in_proj(%wi : " << t({2 * Di, Dm})
     << ") conv(%wc : " << t({Di, W}) << ", %bc : " << t({Di})
     << ") x_proj(%wx : " << t({R + 2 * N, Di}) << ") dt_proj(%wd : "
     << t({Di, R}) << ", %bd : " << t({Di}) << ") ";
  if (mamba)
    os << "A_log(%al : " << t({Di, N}) << ") ";
  os << "D(%d : " << t({Di}) << ") out_proj(%wo : " << t({Dm, Di}) << ") "
     << v.attributes << "tau = 0.8 -> " << t({B, L, Dm})
     << "\n  return %y : " << t({B, L, Dm}) << "\n}\n";
  return os.str();
}

using MixerParam = std::tuple<MixerVariant, std::string, int64_t>;

class Mixers : public ::testing::TestWithParam<MixerParam> {
protected:
  static void TearDownTestSuite() { printSummary(); }
};

/// decompose-mixers + muonssm-to-cpu against the float64 layer oracle
/// (reference::selectiveMixer, built on the seed transcriptions), token by
/// token and chunked, at L = 1 and at L = 37 (not a multiple of the chunk).
TEST_P(Mixers, MatchesTheLayerOracle) {
  auto [variant, type, L] = GetParam();
  MLIRContext context(registry());
  context.loadAllAvailableDialects();
  OwningOpRef<ModuleOp> module = parse(mixerModule(variant, type, L), context);
  ASSERT_TRUE(module);
  for (int64_t chunk : {int64_t(0), int64_t(16)}) {
    FailureOr<run::JitFunction> jit =
        run::JitFunction::compile(*module, "main", chunk);
    ASSERT_TRUE(succeeded(jit));
    checkAgainstOracle(*jit, *module,
                       variant.name + " " + type + " C=" +
                           std::to_string(chunk) + " L=" + std::to_string(L),
                       L * 3 + chunk + variant.name.size());
  }
}

/// A Gated DeltaNet layer at small sizes: d_model 10, 2 heads, K = 4,
/// V = 6, conv width 3. `backbone` holds the form.
std::string gatedDeltaNetModule(const MixerVariant &v, const std::string &type,
                                int64_t L) {
  const int64_t B = 2, Dm = 10, H = 2, K = 4, V = 6, W = 3;
  auto t = [&](std::initializer_list<int64_t> dims) {
    std::string s = "tensor<";
    for (int64_t d : dims)
      s += std::to_string(d) + "x";
    return s + type + ">";
  };
  std::vector<std::pair<std::string, std::string>> args = {
      {"x", t({B, L, Dm})},      {"wq", t({H * K, Dm})},
      {"wk", t({H * K, Dm})},    {"wv", t({H * V, Dm})},
      {"cq", t({H * K, W})},     {"ck", t({H * K, W})},
      {"cv", t({H * V, W})},     {"wb", t({H, Dm})},
      {"wa", t({H, Dm})},        {"al", t({H})},
      {"db", t({H})},            {"wg", t({H * V, Dm})},
      {"nw", t({V})},            {"wo", t({Dm, H * V})}};
  std::map<std::string, std::string> ty(args.begin(), args.end());
  std::ostringstream os;
  os << "func.func @main(";
  for (size_t i = 0; i < args.size(); ++i)
    os << (i ? ", " : "") << "%" << args[i].first << ": " << args[i].second;
  os << ") -> " << ty["x"] << " {\n  %y = muonssm.gated_deltanet_mixer "
     << v.backbone << " x(%x : " << ty["x"] << ") q_proj(%wq : " << ty["wq"]
     << ") k_proj(%wk : " << ty["wk"] << ") v_proj(%wv : " << ty["wv"]
     << ") conv(%cq : " << ty["cq"] << ", %ck : " << ty["ck"] << ", %cv : "
     << ty["cv"] << ") b_proj(%wb : " << ty["wb"] << ") a_proj(%wa : "
     << ty["wa"] << ") A_log(%al : " << ty["al"] << ") dt_bias(%db : "
     << ty["db"] << ") g_proj(%wg : " << ty["wg"] << ") norm(%nw : "
     << ty["nw"] << ") o_proj(%wo : " << ty["wo"] << ") heads = " << H
     << ", " << v.attributes << "-> " << ty["x"]
     << "\n  return %y : " << ty["x"] << "\n}\n";
  return os.str();
}

class GatedDeltaNetMixers : public ::testing::TestWithParam<MixerParam> {
protected:
  static void TearDownTestSuite() { printSummary(); }
};

/// decompose-mixers + muonssm-to-cpu against the float64 layer oracle
/// (reference::gatedDeltaNetMixer: muonGdn, paper or the plain loop per
/// head), token by token and chunked, L = 1 and 37.
TEST_P(GatedDeltaNetMixers, MatchesTheLayerOracle) {
  auto [variant, type, L] = GetParam();
  MLIRContext context(registry());
  context.loadAllAvailableDialects();
  OwningOpRef<ModuleOp> module =
      parse(gatedDeltaNetModule(variant, type, L), context);
  ASSERT_TRUE(module);
  for (int64_t chunk : {int64_t(0), int64_t(16)}) {
    FailureOr<run::JitFunction> jit =
        run::JitFunction::compile(*module, "main", chunk);
    ASSERT_TRUE(succeeded(jit));
    checkAgainstOracle(*jit, *module,
                       variant.name + " " + type + " C=" +
                           std::to_string(chunk) + " L=" + std::to_string(L),
                       L * 5 + chunk + variant.name.size());
  }
}

std::vector<MixerVariant> gatedDeltaNetVariants() {
  return {{"gdn_plain", "plain", "tau = 1.0 "},
          {"gdn_seed", "seed",
           "momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, "
           "steps = 1>, tau = 0.8 "},
          {"gdn_paper", "paper",
           "momentum = 0.9, newton_schulz = <cubic, max, eps = 1.0e-06, "
           "steps = 1>, tau = 0.8 "},
          {"gdn_paper_quintic2", "paper",
           "momentum = 0.5, newton_schulz = <quintic, add, eps = 1.0e-07, "
           "steps = 2>, tau = 1.2 "}};
}

/// A small whole model with every layer op: conv stem with batch norm and
/// ReLU, RMSNorm → LongHorn mixer → residual, final norm, mean pool,
/// classifier. d_model 8, 3 input channels, d_inner 16, d_state 4.
std::string layersModule(const std::string &type, int64_t L) {
  auto t = [&](std::initializer_list<int64_t> dims) {
    std::string s = "tensor<";
    for (int64_t d : dims)
      s += std::to_string(d) + "x";
    return s + type + ">";
  };
  const int64_t B = 2, C = 3, Dm = 8, Di = 16, N = 4, R = 1, W = 4, K = 5;
  std::ostringstream os;
  os << "func.func @main(%x: " << t({B, L, C}) << ", %wc: " << t({Dm, C, 3})
     << ", %m: " << t({Dm}) << ", %v: " << t({Dm}) << ", %g: " << t({Dm})
     << ", %bb: " << t({Dm}) << ", %nw: " << t({Dm}) << ", %wi: "
     << t({2 * Di, Dm}) << ", %cw: " << t({Di, W}) << ", %cb: " << t({Di})
     << ", %wx: " << t({R + 2 * N, Di}) << ", %wd: " << t({Di, R})
     << ", %bd: " << t({Di}) << ", %d: " << t({Di}) << ", %wo: "
     << t({Dm, Di}) << ", %nf: " << t({Dm}) << ", %wl: " << t({K, Dm})
     << ", %bl: " << t({K}) << ") -> " << t({B, K}) << " {\n"
     << "  %c = muonssm.conv1d %x weight(%wc : " << t({Dm, C, 3})
     << ") padding = 1 : " << t({B, L, C}) << " -> " << t({B, L, Dm}) << "\n"
     << "  %h = muonssm.batch_norm %c mean(%m : " << t({Dm})
     << ") variance(%v : " << t({Dm}) << ") weight(%g : " << t({Dm})
     << ") bias(%bb : " << t({Dm}) << ") eps = 1.0e-05 relu : "
     << t({B, L, Dm}) << "\n"
     << "  %n = muonssm.rms_norm %h weight(%nw : " << t({Dm})
     << ") eps = 1.0e-05 : " << t({B, L, Dm}) << "\n"
     << "  %y = muonssm.selective_mixer longhorn x(%n : " << t({B, L, Dm})
     << ") in_proj(%wi : " << t({2 * Di, Dm}) << ") conv(%cw : "
     << t({Di, W}) << ", %cb : " << t({Di}) << ") x_proj(%wx : "
     << t({R + 2 * N, Di}) << ") dt_proj(%wd : " << t({Di, R}) << ", %bd : "
     << t({Di}) << ") D(%d : " << t({Di}) << ") out_proj(%wo : "
     << t({Dm, Di}) << ") momentum = 0.99, newton_schulz = <quintic, add, "
     << "eps = 1.0e-07, steps = 1>, tau = 0.6 -> " << t({B, L, Dm}) << "\n"
     << "  %r = arith.addf %h, %y : " << t({B, L, Dm}) << "\n"
     << "  %f = muonssm.rms_norm %r weight(%nf : " << t({Dm})
     << ") eps = 1.0e-05 : " << t({B, L, Dm}) << "\n"
     << "  %p = muonssm.mean_pool %f : " << t({B, L, Dm}) << " -> "
     << t({B, Dm}) << "\n"
     << "  %o = muonssm.linear %p weight(%wl : " << t({K, Dm})
     << ") bias(%bl : " << t({K}) << ") : " << t({B, Dm}) << " -> "
     << t({B, K}) << "\n  return %o : " << t({B, K}) << "\n}\n";
  return os.str();
}

using ModelParam = std::tuple<std::string, int64_t>;

class ModelLayers : public ::testing::TestWithParam<ModelParam> {
protected:
  static void TearDownTestSuite() { printSummary(); }
};

/// The layer ops and a residual add through decompose-mixers and
/// muonssm-to-cpu against the float64 oracle of every op (each result
/// rounded to its element type, as the IR stores it).
TEST_P(ModelLayers, MatchesTheOracle) {
  auto [type, L] = GetParam();
  MLIRContext context(registry());
  context.loadAllAvailableDialects();
  OwningOpRef<ModuleOp> module = parse(layersModule(type, L), context);
  ASSERT_TRUE(module);
  for (int64_t chunk : {int64_t(0), int64_t(16)}) {
    FailureOr<run::JitFunction> jit =
        run::JitFunction::compile(*module, "main", chunk);
    ASSERT_TRUE(succeeded(jit));
    checkAgainstOracle(*jit, *module,
                       "layers " + type + " C=" + std::to_string(chunk) +
                           " L=" + std::to_string(L),
                       L * 7 + chunk);
  }
}

std::vector<MixerVariant> mixerVariants() {
  std::vector<MixerVariant> all;
  for (std::string backbone : {"mamba", "longhorn"}) {
    all.push_back({backbone + "_muon_seed", backbone,
                   "momentum = 0.9, newton_schulz = <quintic, add, eps = "
                   "1.0e-07, steps = 1>, "});
    all.push_back({backbone + "_muon_paper_cubic2", backbone,
                   "momentum = 0.5, newton_schulz = <cubic, max, eps = "
                   "1.0e-06, steps = 2>, "});
    all.push_back({backbone + "_momentum_only", backbone, "momentum = 0.7, "});
    all.push_back({backbone + "_plain", backbone, ""});
  }
  return all;
}

std::string caseName(const ::testing::TestParamInfo<PerTokenParam> &info) {
  return std::get<0>(info.param).name + "_" + std::get<1>(info.param) + "_" +
         std::to_string(std::get<2>(info.param));
}

std::vector<Variant> chunkedVariants() {
  std::vector<Variant> all;
  for (const Variant &v : variants())
    if (v.schedule == "chunked")
      all.push_back(v);
  return all;
}

std::vector<Variant> longVariants() {
  std::vector<Variant> chosen;
  for (const Variant &v : variants())
    if (v.name == "scalar_delta" || v.name == "scalar_delta_momentum_ns" ||
        v.name == "scalar_seed_error_momentum_ns" ||
        v.name == "mamba_quintic2_update_after" ||
        v.name == "diagonal_error_plain")
      chosen.push_back(v);
  return chosen;
}

INSTANTIATE_TEST_SUITE_P(AllVariants, PerToken,
                         ::testing::Combine(::testing::ValuesIn(variants()),
                                            ::testing::Values("f32", "f64"),
                                            ::testing::Values(1, 7, 64, 1000)),
                         caseName);
INSTANTIATE_TEST_SUITE_P(AllChunkable, Chunked,
                         ::testing::Combine(::testing::ValuesIn(chunkedVariants()),
                                            ::testing::Values("f32", "f64"),
                                            ::testing::Values(16, 32, 64)),
                         caseName);
INSTANTIATE_TEST_SUITE_P(
    Selected, Long, ::testing::ValuesIn(longVariants()),
    [](const ::testing::TestParamInfo<Variant> &info) {
      return info.param.name;
    });
INSTANTIATE_TEST_SUITE_P(AllVariants, SixteenBitInputs,
                         ::testing::Combine(::testing::ValuesIn(variants()),
                                            ::testing::Values("bf16", "f16"),
                                            ::testing::Values(64)),
                         caseName);

INSTANTIATE_TEST_SUITE_P(Approximation, PerChunkNewtonSchulz,
                         ::testing::Combine(::testing::ValuesIn(perChunkVariants()),
                                            ::testing::Values("f32", "f64"),
                                            ::testing::Values(1, 16, 64)),
                         caseName);

INSTANTIATE_TEST_SUITE_P(
    SelectiveMixer, Mixers,
    ::testing::Combine(::testing::ValuesIn(mixerVariants()),
                       ::testing::Values("f32", "f64", "bf16"),
                       ::testing::Values(1, 37)),
    [](const ::testing::TestParamInfo<MixerParam> &info) {
      return std::get<0>(info.param).name + "_" + std::get<1>(info.param) +
             "_" + std::to_string(std::get<2>(info.param));
    });

INSTANTIATE_TEST_SUITE_P(
    GatedDeltaNetMixer, GatedDeltaNetMixers,
    ::testing::Combine(::testing::ValuesIn(gatedDeltaNetVariants()),
                       ::testing::Values("f32", "f64", "bf16"),
                       ::testing::Values(1, 37)),
    [](const ::testing::TestParamInfo<MixerParam> &info) {
      return std::get<0>(info.param).name + "_" + std::get<1>(info.param) +
             "_" + std::to_string(std::get<2>(info.param));
    });

INSTANTIATE_TEST_SUITE_P(
    Model, ModelLayers,
    ::testing::Combine(::testing::Values("f32", "f64", "bf16"),
                       ::testing::Values(1, 37)),
    [](const ::testing::TestParamInfo<ModelParam> &info) {
      return std::get<0>(info.param) + "_" +
             std::to_string(std::get<1>(info.param));
    });

} // namespace
