//===- ReferenceTest.cpp - the float64 oracle against its cases -----------===//
//
// 1. Every case of test/data/reference-cases.json (a copy of
//    ../shared/reference-cases.json), through the seed/paper transcriptions
//    and through the generic scan with the backbone's attributes, to 1e-12.
// 2. Properties: γ = 0 without NS is the plain recurrence; σ_max of NS; the
//    rank-1 closed forms of SEMANTICS.md §4.1; GQA, varlen, initial state.
//
//===----------------------------------------------------------------------===//

#include "lib/reference/Reference.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

using namespace muonssm::reference;
using json = nlohmann::json;

namespace {

// The cases are float64 results of an independent oracle; both sides do the
// same operations in a possibly different order, so they agree to a few ulp
// of the largest intermediate (values are O(1)): 1e-12 leaves 4 digits of
// headroom over rounding and catches any real discrepancy.
constexpr double kCaseTolerance = 1e-12;

Tensor fromJson(const json &value) {
  if (value.is_array() && !value.empty() && value[0].is_array()) {
    std::vector<std::vector<double>> rows;
    for (const json &row : value)
      rows.push_back(row.get<std::vector<double>>());
    return Tensor::matrix(rows);
  }
  return Tensor::vector(value.get<std::vector<double>>());
}

double maxAbsDiff(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape())
    return INFINITY;
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, std::fabs(a.data()[i] - b.data()[i]));
  return m;
}

Tensor transpose(const Tensor &x) {
  Tensor t({x.dim(1), x.dim(0)});
  for (int64_t i = 0; i < x.dim(0); ++i)
    for (int64_t j = 0; j < x.dim(1); ++j)
      t({j, i}) = x({i, j});
  return t;
}

/// [L][D] → [1, L, 1, D], the scan layout of one sequence and one head.
Tensor asSequence(const Tensor &x) {
  Tensor t({1, x.dim(0), 1, x.dim(1)});
  t.data() = x.data();
  return t;
}
/// [L] → [1, L, 1].
Tensor asHeadScalar(const Tensor &x) {
  Tensor t({1, x.dim(0), 1});
  t.data() = x.data();
  return t;
}
/// The state of sequence 0, head 0 of a [N, HV, K, V] tensor.
Tensor head0(const Tensor &state) {
  Tensor t({state.dim(2), state.dim(3)});
  std::copy_n(state.data().begin(), t.size(), t.data().begin());
  return t;
}
/// Output [1, L, 1, V] → [L][V].
Tensor asRows(const Tensor &o) {
  Tensor t({o.dim(1), o.dim(3)});
  t.data() = o.data();
  return t;
}

json loadCases() {
  std::ifstream file(MUONSSM_TEST_DATA "/reference-cases.json");
  EXPECT_TRUE(file.good()) << "cannot open reference-cases.json";
  return json::parse(file)["cases"];
}

std::optional<NSConfig> seedNS(const json &c) {
  bool on = c.contains("use_ns") ? c["use_ns"].get<bool>() : true;
  if (!on)
    return std::nullopt;
  NSConfig ns = NSConfig::seed();
  ns.steps = c.value("steps", 1);
  return ns;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }

//===----------------------------------------------------------------------===//
// The reference cases
//===----------------------------------------------------------------------===//

TEST(ReferenceCases, NewtonSchulz) {
  int seen = 0;
  for (const json &c : loadCases()) {
    if (c["fn"] != "ns")
      continue;
    NSConfig config;
    config.polynomial =
        c["poly"] == "quintic" ? Polynomial::Quintic : Polynomial::Cubic;
    config.epsMode = c["eps_mode"] == "add" ? EpsMode::Add : EpsMode::Max;
    config.eps = c["eps"];
    config.steps = c["steps"];
    Tensor out = newtonSchulz(fromJson(c["X"]), config);
    EXPECT_LE(maxAbsDiff(out, fromJson(c["out"])), kCaseTolerance)
        << c["name"];
    // The batched op applies the same map to every matrix.
    Tensor x = fromJson(c["X"]);
    Tensor batch({2, x.dim(0), x.dim(1)});
    std::copy(x.data().begin(), x.data().end(), batch.data().begin());
    std::copy(x.data().begin(), x.data().end(),
              batch.data().begin() + x.size());
    Tensor batched = newtonSchulzBatched(batch, config);
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(batched.data()[i], out.data()[i]);
      EXPECT_EQ(batched.data()[x.size() + i], out.data()[i]);
    }
    ++seen;
  }
  EXPECT_EQ(seen, 6);
}

TEST(ReferenceCases, MuonMamba) {
  int seen = 0;
  for (const json &c : loadCases()) {
    if (c["fn"] != "muon_mamba")
      continue;
    Tensor u = fromJson(c["u"]), dt = fromJson(c["dt"]),
           dtBias = fromJson(c["dt_bias"]), a = fromJson(c["A"]),
           b = fromJson(c["B"]), cc = fromJson(c["C"]), d = fromJson(c["D"]);
    std::optional<Tensor> z;
    if (c.contains("z"))
      z = fromJson(c["z"]);
    double gamma = c["gamma"], tau = c["tau"];
    std::optional<NSConfig> ns = seedNS(c);
    SelectiveResult r = muonMamba(u, dt, dtBias, a, b, cc, d, z ? &*z : nullptr,
                                  gamma, tau, ns);
    EXPECT_LE(maxAbsDiff(r.y, fromJson(c["y"])), kCaseTolerance) << c["name"];
    if (c.contains("h_T")) {
      EXPECT_LE(maxAbsDiff(r.h, fromJson(c["h_T"])), kCaseTolerance);
      EXPECT_LE(maxAbsDiff(r.v, fromJson(c["v_T"])), kCaseTolerance);
    }

    // The generic scan: one head, K = d_state, V = d_inner, mamba decay with
    // Δ = softplus(dt + dt_bias) as both dt and the per-channel β, A[n][d],
    // τ inside NS. It has no D skip or gate: y = o + D⊙u.
    int64_t L = u.dim(0), D = u.dim(1), N = b.dim(1);
    Tensor delta({L, D});
    for (int64_t t = 0; t < L; ++t)
      for (int64_t i = 0; i < D; ++i)
        delta({t, i}) = softplus(dt({t, i}) + dtBias({i}));
    Tensor aKV({1, N, D});
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < D; ++i)
        aKV({0, n, i}) = a({i, n});
    Tensor q4 = asSequence(cc), k4 = asSequence(b), v4 = asSequence(u),
           dt4 = asSequence(delta);
    ScanConfig config;
    config.decay = Decay::Mamba;
    config.momentum = gamma;
    config.ns = ns;
    config.nsTarget = NSTarget::Update;
    config.tauPlacement = TauPlacement::Inside;
    config.tau = tau;
    ScanInputs in;
    in.q = &q4, in.k = &k4, in.v = &v4, in.dt = &dt4, in.a = &aKV,
    in.beta = &dt4;
    ASSERT_EQ(checkScan(config, in), "");
    ScanOutputs s = scan(config, in);
    Tensor y = asRows(s.o);
    for (int64_t t = 0; t < L; ++t)
      for (int64_t i = 0; i < D; ++i)
        y({t, i}) = (y({t, i}) + d({i}) * u({t, i}));
    if (!z) {
      EXPECT_LE(maxAbsDiff(y, fromJson(c["y"])), kCaseTolerance);
      EXPECT_LE(maxAbsDiff(transpose(head0(s.finalState)), r.h),
                kCaseTolerance);
      EXPECT_LE(maxAbsDiff(transpose(head0(s.finalMomentum)), r.v),
                kCaseTolerance);
    }
    ++seen;
  }
  EXPECT_EQ(seen, 2);
}

TEST(ReferenceCases, MuonLonghorn) {
  int seen = 0;
  for (const json &c : loadCases()) {
    if (c["fn"] != "muon_longhorn")
      continue;
    Tensor u = fromJson(c["u"]), tIn = fromJson(c["T"]),
           tBias = fromJson(c["t_bias"]), k = fromJson(c["K"]),
           q = fromJson(c["Q"]), d = fromJson(c["D"]);
    double gamma = c["gamma"], tau = c["tau"];
    std::optional<NSConfig> ns = seedNS(c);
    SelectiveResult r =
        muonLonghorn(u, tIn, tBias, k, q, d, nullptr, gamma, tau, ns);
    EXPECT_LE(maxAbsDiff(r.y, fromJson(c["y"])), kCaseTolerance) << c["name"];
    EXPECT_LE(maxAbsDiff(r.h, fromJson(c["h_T"])), kCaseTolerance);
    EXPECT_LE(maxAbsDiff(r.v, fromJson(c["v_T"])), kCaseTolerance);

    // The generic scan: longhorn decay with dt = sigmoid(T + t_bias), τ after
    // NS; γ = 0 without NS is the plain scan (no momentum at all).
    int64_t L = u.dim(0), D = u.dim(1);
    Tensor dt({L, D});
    for (int64_t t = 0; t < L; ++t)
      for (int64_t i = 0; i < D; ++i)
        dt({t, i}) = sigmoid(tIn({t, i}) + tBias({i}));
    Tensor q4 = asSequence(q), k4 = asSequence(k), v4 = asSequence(u),
           dt4 = asSequence(dt);
    ScanConfig config;
    config.decay = Decay::Longhorn;
    if (gamma != 0.0 || ns)
      config.momentum = gamma;
    config.ns = ns;
    config.nsTarget = NSTarget::Update;
    config.tauPlacement = TauPlacement::After;
    config.tau = tau;
    ScanInputs in;
    in.q = &q4, in.k = &k4, in.v = &v4, in.dt = &dt4;
    ASSERT_EQ(checkScan(config, in), "");
    ScanOutputs s = scan(config, in);
    Tensor y = asRows(s.o);
    for (int64_t t = 0; t < L; ++t)
      for (int64_t i = 0; i < D; ++i)
        y({t, i}) += d({i}) * u({t, i});
    EXPECT_LE(maxAbsDiff(y, fromJson(c["y"])), kCaseTolerance) << c["name"];
    EXPECT_LE(maxAbsDiff(transpose(head0(s.finalState)), r.h),
              kCaseTolerance);
    if (config.momentum) {
      EXPECT_LE(maxAbsDiff(transpose(head0(s.finalMomentum)), r.v),
                kCaseTolerance);
    }
    ++seen;
  }
  EXPECT_EQ(seen, 4);
}

TEST(ReferenceCases, MuonGatedDeltaNet) {
  int seen = 0;
  for (const json &c : loadCases()) {
    if (c["fn"] != "muon_gdn")
      continue;
    Tensor q = fromJson(c["q"]), k = fromJson(c["k"]), v = fromJson(c["v"]),
           beta = fromJson(c["beta"]), g = fromJson(c["g"]);
    double gamma = c["gamma"], tau = c["tau"];
    NSConfig ns = NSConfig::seed();
    ns.steps = c["steps"];
    StateResult r = muonGdn(q, k, v, beta, g, gamma, tau, ns, nullptr, nullptr);
    EXPECT_LE(maxAbsDiff(r.o, fromJson(c["o"])), kCaseTolerance);
    EXPECT_LE(maxAbsDiff(r.s, fromJson(c["S_T"])), kCaseTolerance);
    EXPECT_LE(maxAbsDiff(r.m, fromJson(c["M_T"])), kCaseTolerance);

    // The generic scan: scalar decay, error input, quintic NS of the whole
    // momentum, scale K^-1/2.
    Tensor q4 = asSequence(q), k4 = asSequence(k), v4 = asSequence(v),
           g3 = asHeadScalar(g), b3 = asHeadScalar(beta);
    ScanConfig config;
    config.decay = Decay::Scalar;
    config.input = Input::Error;
    config.momentum = gamma;
    config.ns = ns;
    config.nsTarget = NSTarget::Momentum;
    config.tau = tau;
    config.scale = 1.0 / std::sqrt(static_cast<double>(q.dim(1)));
    ScanInputs in;
    in.q = &q4, in.k = &k4, in.v = &v4, in.g = &g3, in.beta = &b3;
    ASSERT_EQ(checkScan(config, in), "");
    ScanOutputs s = scan(config, in);
    EXPECT_LE(maxAbsDiff(asRows(s.o), fromJson(c["o"])), kCaseTolerance);
    EXPECT_LE(maxAbsDiff(head0(s.finalState), fromJson(c["S_T"])),
              kCaseTolerance);
    EXPECT_LE(maxAbsDiff(head0(s.finalMomentum), fromJson(c["M_T"])),
              kCaseTolerance);
    ++seen;
  }
  EXPECT_EQ(seen, 1);
}

TEST(ReferenceCases, Paper) {
  int seen = 0;
  for (const json &c : loadCases()) {
    if (c["fn"] != "paper")
      continue;
    Tensor q = fromJson(c["q"]), k = fromJson(c["k"]), v = fromJson(c["v"]),
           beta = fromJson(c["beta"]), a = fromJson(c["a"]);
    double gamma = c["gamma"], tau = c["tau"];
    bool deltaRule = c.value("delta_rule", false);
    NSConfig ns = NSConfig::paper();
    ns.eps = c["delta"];
    ns.steps = c["steps"];
    StateResult r = paper(q, k, v, beta, a, deltaRule, gamma, tau, ns);
    EXPECT_LE(maxAbsDiff(r.o, fromJson(c["y"])), kCaseTolerance) << c["name"];
    EXPECT_LE(maxAbsDiff(r.s, fromJson(c["S_T"])), kCaseTolerance);
    EXPECT_LE(maxAbsDiff(r.m, fromJson(c["M_T"])), kCaseTolerance);

    // The generic scan holds H = Sᵀ (K = m, V = d): scalar decay g = log a,
    // the delta rule with η = 1, cubic NS of the update, scale 1.
    int64_t L = a.dim(0);
    Tensor g({L});
    for (int64_t t = 0; t < L; ++t)
      g({t}) = std::log(a({t}));
    Tensor q4 = asSequence(q), k4 = asSequence(k), v4 = asSequence(v),
           g3 = asHeadScalar(g), b3 = asHeadScalar(beta);
    ScanConfig config;
    config.decay = Decay::Scalar;
    if (deltaRule)
      config.deltaRule = 1.0;
    config.momentum = gamma;
    config.ns = ns;
    config.tau = tau;
    ScanInputs in;
    in.q = &q4, in.k = &k4, in.v = &v4, in.g = &g3, in.beta = &b3;
    ASSERT_EQ(checkScan(config, in), "");
    ScanOutputs s = scan(config, in);
    EXPECT_LE(maxAbsDiff(asRows(s.o), fromJson(c["y"])), kCaseTolerance);
    EXPECT_LE(maxAbsDiff(transpose(head0(s.finalState)), fromJson(c["S_T"])),
              kCaseTolerance);
    EXPECT_LE(
        maxAbsDiff(transpose(head0(s.finalMomentum)), fromJson(c["M_T"])),
        kCaseTolerance);
    ++seen;
  }
  EXPECT_EQ(seen, 2);
}

//===----------------------------------------------------------------------===//
// Properties
//===----------------------------------------------------------------------===//

Tensor randn(std::vector<int64_t> shape, std::mt19937_64 &rng,
             double stddev = 1.0) {
  std::normal_distribution<double> normal(0.0, stddev);
  Tensor t(shape);
  for (double &x : t.data())
    x = normal(rng);
  return t;
}

/// L2-normalise the last dimension (keys must be for the delta rule).
Tensor normalizedRows(Tensor t) {
  int64_t n = t.dim(t.rank() - 1);
  for (size_t base = 0; base < t.size(); base += n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i)
      s += t.data()[base + i] * t.data()[base + i];
    for (int64_t i = 0; i < n; ++i)
      t.data()[base + i] /= std::sqrt(s);
  }
  return t;
}

Tensor mapped(Tensor t, double (*f)(double)) {
  for (double &x : t.data())
    x = f(x);
  return t;
}
double logSigmoid(double x) { return -std::log1p(std::exp(-x)); }
double negExp(double x) { return -std::exp(0.5 * x); }

/// Random operands of one scan, from the domains of DESIGN.md §3.
struct RandomScan {
  Tensor q, k, v, g, dt, a, beta;
  RandomScan(const ScanConfig &config, int64_t B, int64_t T, int64_t H,
             int64_t HV, int64_t K, int64_t V, bool channelBeta,
             std::mt19937_64 &rng) {
    q = normalizedRows(randn({B, T, H, K}, rng));
    k = normalizedRows(randn({B, T, H, K}, rng));
    v = randn({B, T, HV, V}, rng);
    beta = mapped(randn(channelBeta ? std::vector<int64_t>{B, T, HV, V}
                                    : std::vector<int64_t>{B, T, HV},
                        rng),
                  sigmoid);
    if (config.decay == Decay::Scalar)
      g = mapped(randn({B, T, HV}, rng), logSigmoid);
    if (config.decay == Decay::Diagonal)
      g = mapped(randn({B, T, HV, K}, rng), logSigmoid);
    if (config.decay == Decay::Mamba) {
      dt = mapped(randn({B, T, HV, V}, rng), softplus);
      a = mapped(randn({HV, K, V}, rng), negExp);
    }
    if (config.decay == Decay::Longhorn)
      dt = mapped(randn({B, T, HV, V}, rng), sigmoid);
  }
  ScanInputs inputs(const ScanConfig &config) const {
    ScanInputs in;
    in.q = &q, in.k = &k, in.v = &v;
    if (g.size())
      in.g = &g;
    if (dt.size())
      in.dt = &dt;
    if (a.size())
      in.a = &a;
    if (config.decay != Decay::Longhorn)
      in.beta = &beta;
    return in;
  }
};

/// A spread of configurations covering every choice of DESIGN.md §1.
std::vector<ScanConfig> variants() {
  std::vector<ScanConfig> all;
  for (Decay decay : {Decay::None, Decay::Scalar, Decay::Diagonal,
                      Decay::Mamba, Decay::Longhorn}) {
    ScanConfig c;
    c.decay = decay;
    c.tau = 0.7;
    c.scale = 0.5;
    all.push_back(c); // plain
    ScanConfig m = c;
    m.momentum = 0.8;
    all.push_back(m); // momentum without NS
    ScanConfig u = m;
    u.ns = NSConfig::paper();
    all.push_back(u); // NS on the update, τ inside
    u.ns = NSConfig::seed();
    u.tauPlacement = TauPlacement::After;
    all.push_back(u); // quintic, τ after
    if (decay != Decay::Longhorn) {
      ScanConfig d = c;
      d.deltaRule = 0.9;
      all.push_back(d);
      d.momentum = 0.5;
      d.ns = NSConfig::seed();
      all.push_back(d);
    }
    ScanConfig e = m;
    e.input = Input::Error;
    e.ns = NSConfig::seed();
    e.nsTarget = NSTarget::Momentum;
    all.push_back(e); // the seed's GDN form on every decay
  }
  return all;
}

TEST(ReferenceProperties, ZeroMomentumWithoutNSIsThePlainRecurrence) {
  std::mt19937_64 rng(1);
  for (ScanConfig config : variants()) {
    if (config.ns || !config.momentum)
      continue;
    RandomScan r(config, 2, 9, 2, 4, 5, 3, false, rng);
    ScanConfig zero = config;
    zero.momentum = 0.0;
    ScanConfig plain = config;
    plain.momentum.reset();
    ScanOutputs a = scan(zero, r.inputs(zero)),
                b = scan(plain, r.inputs(plain));
    EXPECT_LE(maxAbsDiff(a.o, b.o), 1e-14);
    EXPECT_LE(maxAbsDiff(a.finalState, b.finalState), 1e-14);
  }
}

/// Largest singular value: the square root of the largest eigenvalue of XᵀX
/// by cyclic Jacobi rotations (exact to rounding for these small sizes).
double sigmaMax(const Tensor &x) {
  int64_t n = x.dim(1);
  std::vector<double> a(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t r = 0; r < x.dim(0); ++r)
        a[i * n + j] += x({r, i}) * x({r, j});
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q)
        off += a[p * n + q] * a[p * n + q];
    if (off < 1e-30)
      break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        if (a[p * n + q] == 0.0)
          continue;
        double theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q]);
        double t = (theta >= 0 ? 1 : -1) /
                   (std::fabs(theta) + std::sqrt(theta * theta + 1));
        double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < n; ++k) {
          double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {
          double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  double best = 0.0;
  for (int64_t i = 0; i < n; ++i)
    best = std::max(best, a[i * n + i]);
  return std::sqrt(best);
}

TEST(ReferenceProperties, SigmaMaxOfNewtonSchulz) {
  std::mt19937_64 rng(2);
  double worstCubic = 0.0, worstQuintic = 0.0;
  for (auto [r, c] : {std::pair<int64_t, int64_t>{4, 4}, {3, 7}, {9, 2},
                      {16, 16}, {1, 5}}) {
    for (int trial = 0; trial < 40; ++trial) {
      // Spread the singular values: a random matrix times a random scale
      // per column hits many values of s = σ_i/‖X‖ in (0, 1].
      Tensor x = randn({r, c}, rng);
      for (int64_t j = 0; j < c; ++j) {
        double colScale = std::exp(3.0 * (trial % 5) / 4.0 * (j % 3));
        for (int64_t i = 0; i < r; ++i)
          x({i, j}) *= colScale;
      }
      worstCubic = std::max(worstCubic,
                            sigmaMax(newtonSchulz(x, NSConfig::paper())));
      worstQuintic = std::max(worstQuintic,
                              sigmaMax(newtonSchulz(x, NSConfig::seed())));
    }
  }
  EXPECT_LE(worstCubic, 1.0 + 1e-12);
  EXPECT_LE(worstQuintic, 1.2024 + 1e-4);
  // The scalar maps attain those bounds: ψ(1) = 1 and max φ ≈ 1.2024 at
  // s ≈ 0.5545; one quintic step sends 1 to 0.701 (SEMANTICS.md §2.1).
  EXPECT_NEAR(scalarMap(Polynomial::Cubic, 1.0), 1.0, 1e-15);
  EXPECT_NEAR(scalarMap(Polynomial::Quintic, 1.0), 0.701, 1e-12);
  double peak = 0.0, where = 0.0;
  for (int i = 0; i <= 100000; ++i) {
    double s = i / 100000.0, f = scalarMap(Polynomial::Quintic, s);
    if (f > peak)
      peak = f, where = s;
  }
  EXPECT_NEAR(peak, 1.2024, 1e-4);
  EXPECT_NEAR(where, 0.5545, 1e-3);
  EXPECT_NEAR(scalarMap(Polynomial::Quintic, 0.701), 1.1136, 1e-4);
}

TEST(ReferenceProperties, RankOneClosedForms) {
  std::mt19937_64 rng(3);
  for (auto [r, c] : {std::pair<int64_t, int64_t>{2, 2}, {5, 3}, {3, 7},
                      {16, 4}}) {
    Tensor v = randn({r}, rng), k = randn({c}, rng);
    double vn = 0, kn = 0;
    for (double x : v.data())
      vn += x * x;
    for (double x : k.data())
      kn += x * x;
    for (double coef : {0.5, -2.0, 1e-3, 1e-8, 1e-12, 0.0}) {
      Tensor x({r, c});
      for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < c; ++j)
          x({i, j}) = coef * v({i}) * k({j});
      double sigma = std::fabs(coef) * std::sqrt(vn * kn);
      for (NSConfig config : {NSConfig::seed(), NSConfig::paper()})
        for (EpsMode mode : {EpsMode::Add, EpsMode::Max})
          for (int64_t steps = 1; steps <= 3; ++steps) {
            config.epsMode = mode;
            config.steps = steps;
            Tensor ns = newtonSchulz(x, config);
            double gain = rank1Gain(config, sigma);
            double worst = 0.0, size = 0.0;
            for (size_t i = 0; i < x.size(); ++i) {
              worst = std::max(worst,
                               std::fabs(ns.data()[i] - gain * x.data()[i]));
              size = std::max(size, std::fabs(ns.data()[i]));
            }
            // Relative to the output's size, which is at most 1.2024 and
            // can be tiny in the small-‖X‖ regime.
            EXPECT_LE(worst, 1e-12 * std::max(size, 1e-300) + 1e-300)
                << "coef " << coef << " steps " << steps;
          }
    }
  }
  // The normal regime: the quintic gives 0.701·Û, the cubic exactly Û.
  EXPECT_NEAR(rank1Gain(NSConfig::seed(), 5.0) * 5.0, 0.701, 2e-8);
  EXPECT_NEAR(rank1Gain(NSConfig::paper(), 5.0) * 5.0, 1.0, 1e-15);
}

TEST(ReferenceProperties, GroupedQueryHeadsShareKeys) {
  // HV = 4 value heads on H = 2 key heads equals H = HV with duplicated keys.
  std::mt19937_64 rng(4);
  for (ScanConfig config : variants()) {
    RandomScan r(config, 2, 6, 2, 4, 3, 5, false, rng);
    Tensor q4({2, 6, 4, 3}), k4({2, 6, 4, 3});
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t t = 0; t < 6; ++t)
        for (int64_t h = 0; h < 4; ++h)
          for (int64_t i = 0; i < 3; ++i) {
            q4({b, t, h, i}) = r.q({b, t, h / 2, i});
            k4({b, t, h, i}) = r.k({b, t, h / 2, i});
          }
    ScanInputs grouped = r.inputs(config), full = r.inputs(config);
    full.q = &q4, full.k = &k4;
    ASSERT_EQ(checkScan(config, grouped), "");
    ScanOutputs a = scan(config, grouped), b = scan(config, full);
    EXPECT_EQ(maxAbsDiff(a.o, b.o), 0.0);
  }
}

TEST(ReferenceProperties, StatesCarryAcrossSplitsAndSequences) {
  // Splitting a sequence in two and passing (S, M) equals one scan; packing
  // sequences with cu_seqlens equals scanning them one by one.
  std::mt19937_64 rng(5);
  for (ScanConfig config : variants()) {
    const int64_t T = 10, cut = 4, H = 1, HV = 2, K = 3, V = 4;
    RandomScan r(config, 1, T, H, HV, K, V, false, rng);
    ScanInputs in = r.inputs(config);
    Tensor s0 = randn({1, HV, K, V}, rng, 0.3),
           m0 = randn({1, HV, K, V}, rng, 0.3);
    in.initialState = &s0;
    if (config.momentum)
      in.initialMomentum = &m0;
    ScanOutputs whole = scan(config, in);

    auto slice = [&](const Tensor &x, int64_t from, int64_t to) {
      std::vector<int64_t> shape = x.shape();
      size_t inner = x.size() / shape[1];
      shape[1] = to - from;
      Tensor y(shape);
      std::copy_n(x.data().begin() + from * inner, (to - from) * inner,
                  y.data().begin());
      return y;
    };
    auto part = [&](const Tensor &x, int64_t from, int64_t to) {
      return x.size() ? slice(x, from, to) : Tensor();
    };
    Tensor o(whole.o.shape());
    Tensor state = s0, mom = m0;
    for (auto [from, to] : {std::pair<int64_t, int64_t>{0, cut}, {cut, T}}) {
      RandomScan p = r;
      p.q = part(r.q, from, to), p.k = part(r.k, from, to),
      p.v = part(r.v, from, to), p.g = part(r.g, from, to),
      p.dt = part(r.dt, from, to), p.beta = part(r.beta, from, to);
      ScanInputs pin = p.inputs(config);
      pin.initialState = &state;
      if (config.momentum)
        pin.initialMomentum = &mom;
      ASSERT_EQ(checkScan(config, pin), "");
      ScanOutputs out = scan(config, pin);
      std::copy(out.o.data().begin(), out.o.data().end(),
                o.data().begin() + from * HV * V);
      state = out.finalState;
      mom = out.finalMomentum;
    }
    EXPECT_LE(maxAbsDiff(o, whole.o), 1e-13);
    EXPECT_LE(maxAbsDiff(state, whole.finalState), 1e-13);

    // Varlen: the two halves as two packed sequences with their own states.
    std::vector<int64_t> cu = {0, cut, T};
    Tensor s2({2, HV, K, V}), m2({2, HV, K, V});
    std::copy(s0.data().begin(), s0.data().end(), s2.data().begin());
    std::copy(s0.data().begin(), s0.data().end(),
              s2.data().begin() + s0.size());
    std::copy(m0.data().begin(), m0.data().end(), m2.data().begin());
    std::copy(m0.data().begin(), m0.data().end(),
              m2.data().begin() + m0.size());
    ScanInputs packed = r.inputs(config);
    packed.cuSeqlens = &cu;
    packed.initialState = &s2;
    if (config.momentum)
      packed.initialMomentum = &m2;
    ASSERT_EQ(checkScan(config, packed), "");
    ScanOutputs pk = scan(config, packed);
    RandomScan second = r;
    second.q = part(r.q, cut, T), second.k = part(r.k, cut, T),
    second.v = part(r.v, cut, T), second.g = part(r.g, cut, T),
    second.dt = part(r.dt, cut, T), second.beta = part(r.beta, cut, T);
    ScanInputs sin = second.inputs(config);
    sin.initialState = &s0;
    if (config.momentum)
      sin.initialMomentum = &m0;
    ScanOutputs alone = scan(config, sin);
    for (size_t i = 0; i < alone.o.size(); ++i)
      EXPECT_DOUBLE_EQ(pk.o.data()[cut * HV * V + i], alone.o.data()[i]);
    for (size_t i = 0; i < alone.finalState.size(); ++i)
      EXPECT_DOUBLE_EQ(pk.finalState.data()[s0.size() + i],
                       alone.finalState.data()[i]);
  }
}

TEST(ReferenceProperties, ErrorInputIsTheDeltaRule) {
  // Without momentum and NS, τ k (β(v − D(S)ᵀk))ᵀ added to D(S) equals the
  // delta rule with η = τ: plain Gated DeltaNet either way.
  std::mt19937_64 rng(6);
  ScanConfig error;
  error.decay = Decay::Scalar;
  error.input = Input::Error;
  error.tau = 0.75;
  ScanConfig delta = error;
  delta.input = Input::Update;
  delta.deltaRule = 0.75;
  RandomScan r(error, 2, 12, 2, 2, 4, 6, false, rng);
  ScanOutputs a = scan(error, r.inputs(error));
  ScanOutputs b = scan(delta, r.inputs(delta));
  // update input adds τ k (βv)ᵀ, the delta rule subtracts ηβ k (kᵀD(S)): the
  // same matrix, so the two agree to rounding.
  EXPECT_LE(maxAbsDiff(a.o, b.o), 1e-13);
  EXPECT_LE(maxAbsDiff(a.finalState, b.finalState), 1e-13);
}

TEST(ReferenceProperties, SkipAndGateAreMambasEpilogue) {
  // o = (scale·Hᵀq + D ⊙ v) ⊙ silu(z), element by element, on top of the
  // scan without them; and wrong shapes are rejected.
  std::mt19937_64 rng(8);
  ScanConfig config;
  config.decay = Decay::Scalar;
  config.momentum = 0.5;
  RandomScan r(config, 2, 6, 1, 2, 3, 4, false, rng);
  ScanInputs in = r.inputs(config);
  ScanOutputs plain = scan(config, in);
  Tensor d = randn({2, 4}, rng), z = randn({2, 6, 2, 4}, rng);
  in.skip = &d;
  in.gate = &z;
  ASSERT_EQ(checkScan(config, in), "");
  ScanOutputs fused = scan(config, in);
  double worst = 0.0;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 6; ++t)
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t j = 0; j < 4; ++j) {
          double zz = z({b, t, h, j});
          double want = (plain.o({b, t, h, j}) + d({h, j}) * (*in.v)({b, t, h, j})) *
                        zz / (1.0 + std::exp(-zz));
          worst = std::max(worst, std::abs(fused.o({b, t, h, j}) - want));
        }
  EXPECT_LE(worst, 1e-14);
  EXPECT_LE(maxAbsDiff(fused.finalState, plain.finalState), 0.0);
  Tensor badD({4, 2});
  in.skip = &badD;
  EXPECT_NE(checkScan(config, in).find("'skip' must have shape"),
            std::string::npos);
}

TEST(ReferenceProperties, ChecksRejectBadShapes) {
  std::mt19937_64 rng(7);
  ScanConfig config;
  config.decay = Decay::Scalar;
  RandomScan r(config, 1, 5, 2, 4, 3, 3, false, rng);
  ScanInputs in = r.inputs(config);
  EXPECT_EQ(checkScan(config, in), "");
  Tensor badG({1, 5, 3});
  in.g = &badG;
  EXPECT_NE(checkScan(config, in).find("'g' must have shape"),
            std::string::npos);
  in = r.inputs(config);
  std::vector<int64_t> cu = {0, 3, 2, 5};
  in.cuSeqlens = &cu;
  EXPECT_NE(checkScan(config, in).find("non-decreasing"), std::string::npos);
  cu = {0, 3, 4};
  EXPECT_NE(checkScan(config, in).find("end at T = 5"), std::string::npos);
  Tensor q3({1, 5, 3, 3});
  in = r.inputs(config);
  in.q = &q3;
  EXPECT_NE(checkScan(config, in).find("'k' must have shape"),
            std::string::npos);
}

} // namespace

TEST(ReferenceProperties, StatePoolsGatherAndScatter) {
  // With state_indices, sequence n runs from slot slots[n] of the pools and
  // writes its final states there; every other slot is returned unchanged,
  // bit for bit. Equal to running the sequences on their gathered states.
  std::mt19937_64 rng(8);
  for (ScanConfig config : variants()) {
    const int64_t B = 3, T = 4, H = 1, HV = 2, K = 3, V = 4, P = 6;
    RandomScan r(config, B, T, H, HV, K, V, false, rng);
    Tensor pool = randn({P, HV, K, V}, rng, 0.3),
           mpool = randn({P, HV, K, V}, rng, 0.3);
    std::vector<int64_t> slots = {4, 0, 2};
    ScanInputs in = r.inputs(config);
    in.initialState = &pool;
    if (config.momentum)
      in.initialMomentum = &mpool;
    in.stateIndices = &slots;
    ASSERT_EQ(checkScan(config, in), "");
    ScanOutputs pooled = scan(config, in);

    int64_t per = HV * K * V;
    Tensor s0({B, HV, K, V}), m0({B, HV, K, V});
    for (int64_t n = 0; n < B; ++n) {
      std::copy_n(pool.data().begin() + slots[n] * per, per,
                  s0.data().begin() + n * per);
      std::copy_n(mpool.data().begin() + slots[n] * per, per,
                  m0.data().begin() + n * per);
    }
    ScanInputs each = r.inputs(config);
    each.initialState = &s0;
    if (config.momentum)
      each.initialMomentum = &m0;
    ScanOutputs plain = scan(config, each);
    EXPECT_EQ(maxAbsDiff(pooled.o, plain.o), 0.0);
    ASSERT_EQ(pooled.finalState.shape(), pool.shape());
    for (int64_t p = 0; p < P; ++p) {
      auto it = std::find(slots.begin(), slots.end(), p);
      for (int64_t x = 0; x < per; ++x) {
        double want = it == slots.end()
                          ? pool.data()[p * per + x]
                          : plain.finalState.data()[(it - slots.begin()) *
                                                        per +
                                                    x];
        EXPECT_EQ(pooled.finalState.data()[p * per + x], want);
        if (config.momentum) {
          double wantM = it == slots.end()
                             ? mpool.data()[p * per + x]
                             : plain.finalMomentum
                                   .data()[(it - slots.begin()) * per + x];
          EXPECT_EQ(pooled.finalMomentum.data()[p * per + x], wantM);
        }
      }
    }
    // The chunked reference agrees where the variant has a chunked form.
    if (chunkable(config, in).empty()) {
      ScanOutputs chunked = chunkedScan(config, in, 2);
      EXPECT_LE(maxAbsDiff(chunked.o, pooled.o), 1e-12);
      EXPECT_LE(maxAbsDiff(chunked.finalState, pooled.finalState), 1e-12);
    }
  }
}

TEST(ReferenceProperties, StatePoolChecks) {
  std::mt19937_64 rng(9);
  ScanConfig config;
  RandomScan r(config, 2, 3, 1, 1, 2, 2, false, rng);
  Tensor pool({4, 1, 2, 2});
  ScanInputs in = r.inputs(config);
  in.initialState = &pool;
  std::vector<int64_t> slots = {3, 1};
  in.stateIndices = &slots;
  EXPECT_EQ(checkScan(config, in), "");
  slots = {1, 1};
  EXPECT_NE(checkScan(config, in).find("repeats a slot"), std::string::npos);
  slots = {1, 4};
  EXPECT_NE(checkScan(config, in).find("is not a slot of the pool [0, 4)"),
            std::string::npos);
  slots = {-1, 2};
  EXPECT_NE(checkScan(config, in).find("is not a slot"), std::string::npos);
  slots = {0};
  EXPECT_NE(checkScan(config, in).find("one slot per sequence (N = 2)"),
            std::string::npos);
  in.initialState = nullptr;
  slots = {0, 1};
  EXPECT_NE(checkScan(config, in).find("selects slots of initial_state"),
            std::string::npos);
}
