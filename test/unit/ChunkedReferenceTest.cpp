//===- ChunkedReferenceTest.cpp - chunked closed forms vs per token -------===//
//
// docs/chunking.md derives exact chunked forms of every linear scan; here the
// float64 implementation of that derivation (reference::chunkedScan) must
// equal the per-token oracle (reference::scan) to rounding, for every
// chunkable variant, chunk sizes 1..64 and T around chunk boundaries, with
// GQA, initial states, varlen and a per-token gain. Both sides are float64;
// they differ only in summation order over ≤ T terms of size ≤ ‖S‖, so the
// normwise difference is a few ulp·T: 1e-11 is far above that and far below
// any algebraic mistake (which shows up at 1e-3 or more).
//
// Also: the rank-1 gain (what simplify-newton-schulz produces) times the
// update equals NS of the update, through the whole scan.
//
//===----------------------------------------------------------------------===//

#include "lib/reference/Reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <tuple>

using namespace muonssm::reference;

namespace {

Tensor randn(std::vector<int64_t> shape, std::mt19937_64 &rng, double sd = 1) {
  std::normal_distribution<double> normal(0.0, sd);
  Tensor t(shape);
  for (double &x : t.data())
    x = normal(rng);
  return t;
}
Tensor unitRows(Tensor t) {
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
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double logSigmoid(double x) { return -std::log1p(std::exp(-x)); }
double softplus(double x) { return std::log1p(std::exp(x)); }
double negExp(double x) { return -std::exp(0.5 * x); }

double relativeDifference(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape(), b.shape());
  double d2 = 0.0, b2 = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    d2 += (a.data()[i] - b.data()[i]) * (a.data()[i] - b.data()[i]);
    b2 += b.data()[i] * b.data()[i];
  }
  return b2 > 0 ? std::sqrt(d2 / b2) : std::sqrt(d2);
}

struct Case {
  std::string name;
  ScanConfig config;
  bool channelBeta = false;
  bool gain = false;
};

std::vector<Case> chunkableCases() {
  std::vector<Case> cases;
  for (Decay decay : {Decay::None, Decay::Scalar, Decay::Diagonal,
                      Decay::Mamba, Decay::Longhorn}) {
    std::string d = decay == Decay::None       ? "none"
                    : decay == Decay::Scalar   ? "scalar"
                    : decay == Decay::Diagonal ? "diagonal"
                    : decay == Decay::Mamba    ? "mamba"
                                               : "longhorn";
    ScanConfig base;
    base.decay = decay;
    base.tau = 0.8;
    base.scale = 0.5;
    cases.push_back({d + "_plain", base});
    ScanConfig m = base;
    m.momentum = 0.9;
    cases.push_back({d + "_momentum", m});
    cases.push_back({d + "_momentum_gain", m, false, true});
    cases.push_back({d + "_momentum_channel_beta", m, true});
    if (decay == Decay::Mamba || decay == Decay::Longhorn)
      continue;
    ScanConfig delta = base;
    delta.deltaRule = 0.9;
    cases.push_back({d + "_delta", delta});
    ScanConfig deltaMomentum = delta;
    deltaMomentum.momentum = 0.7;
    cases.push_back({d + "_delta_momentum", deltaMomentum});
    cases.push_back({d + "_delta_momentum_gain", deltaMomentum, false, true});
    ScanConfig error = base;
    error.input = Input::Error;
    cases.push_back({d + "_error", error});
    ScanConfig errorMomentum = error;
    errorMomentum.momentum = 0.95;
    cases.push_back({d + "_error_momentum", errorMomentum});
    cases.push_back({d + "_error_momentum_gain", errorMomentum, false, true});
  }
  return cases;
}

struct Data {
  Tensor q, k, v, g, dt, a, beta, gain, s0, m0;
  std::vector<int64_t> cu;
  ScanInputs inputs(const Case &c, bool varlen) const {
    ScanInputs in;
    in.q = &q, in.k = &k, in.v = &v;
    if (c.config.decay == Decay::Scalar || c.config.decay == Decay::Diagonal)
      in.g = &g;
    if (c.config.decay == Decay::Mamba || c.config.decay == Decay::Longhorn)
      in.dt = &dt;
    if (c.config.decay == Decay::Mamba)
      in.a = &a;
    if (c.config.decay != Decay::Longhorn)
      in.beta = &beta;
    if (c.gain)
      in.gain = &gain;
    if (varlen)
      in.cuSeqlens = &cu;
    in.initialState = &s0;
    if (c.config.momentum)
      in.initialMomentum = &m0;
    return in;
  }
};

Data makeData(const Case &c, int64_t B, int64_t T, int64_t N,
              std::mt19937_64 &rng) {
  const int64_t H = 2, HV = 4, K = 5, V = 3;
  Data d;
  d.q = unitRows(randn({B, T, H, K}, rng));
  d.k = unitRows(randn({B, T, H, K}, rng));
  d.v = randn({B, T, HV, V}, rng);
  d.g = mapped(randn(c.config.decay == Decay::Diagonal
                         ? std::vector<int64_t>{B, T, HV, K}
                         : std::vector<int64_t>{B, T, HV},
                     rng),
               logSigmoid);
  d.dt = mapped(randn({B, T, HV, V}, rng),
                c.config.decay == Decay::Mamba ? softplus : sigmoid);
  d.a = mapped(randn({HV, K, V}, rng), negExp);
  d.beta = mapped(randn(c.channelBeta ? std::vector<int64_t>{B, T, HV, V}
                                      : std::vector<int64_t>{B, T, HV},
                        rng),
                  sigmoid);
  d.gain = mapped(randn({B, T, HV}, rng), sigmoid);
  d.s0 = randn({N, HV, K, V}, rng, 0.5);
  d.m0 = randn({N, HV, K, V}, rng, 0.5);
  return d;
}

TEST(ChunkedReference, EqualsThePerTokenRecurrence) {
  std::mt19937_64 rng(11);
  double worst = 0.0;
  int checked = 0;
  for (const Case &c : chunkableCases()) {
    for (int64_t chunk : {1, 2, 3, 16, 64}) {
      for (int64_t T : {int64_t(1), chunk - 1, chunk, chunk + 1,
                        3 * chunk + 5}) {
        if (T < 1)
          continue;
        Data d = makeData(c, 2, T, 2, rng);
        ScanInputs in = d.inputs(c, false);
        ASSERT_EQ(checkScan(c.config, in), "") << c.name;
        ASSERT_EQ(chunkable(c.config, in), "") << c.name;
        ScanOutputs ref = scan(c.config, in);
        ScanOutputs got = chunkedScan(c.config, in, chunk);
        double err = std::max(relativeDifference(got.o, ref.o),
                              relativeDifference(got.finalState,
                                                 ref.finalState));
        if (c.config.momentum)
          err = std::max(err, relativeDifference(got.finalMomentum,
                                                 ref.finalMomentum));
        worst = std::max(worst, err);
        EXPECT_LE(err, 1e-11) << c.name << " chunk " << chunk << " T " << T;
        ++checked;
      }
    }
  }
  std::printf("[ summary ] %d chunked cases, worst relative difference "
              "%.3e\n",
              checked, worst);
}

TEST(ChunkedReference, VariableLengthSequences) {
  std::mt19937_64 rng(12);
  for (const Case &c : chunkableCases()) {
    const int64_t T = 50;
    Data d = makeData(c, 1, T, 3, rng);
    d.cu = {0, 17, 17, T}; // one empty sequence
    d.s0 = randn({3, 4, 5, 3}, rng, 0.5);
    d.m0 = randn({3, 4, 5, 3}, rng, 0.5);
    ScanInputs in = d.inputs(c, true);
    ASSERT_EQ(checkScan(c.config, in), "") << c.name;
    ScanOutputs ref = scan(c.config, in);
    ScanOutputs got = chunkedScan(c.config, in, 8);
    EXPECT_LE(relativeDifference(got.o, ref.o), 1e-11) << c.name;
    EXPECT_LE(relativeDifference(got.finalState, ref.finalState), 1e-11)
        << c.name;
  }
}

TEST(ChunkedReference, RefusesWhatHasNoExactChunkedForm) {
  ScanConfig seed;
  seed.decay = Decay::Scalar;
  seed.input = Input::Error;
  seed.momentum = 0.9;
  seed.ns = NSConfig::seed();
  seed.nsTarget = NSTarget::Momentum;
  ScanInputs none;
  EXPECT_NE(chunkable(seed, none).find("whole momentum"), std::string::npos);
  ScanConfig paper = seed;
  paper.input = Input::Update;
  paper.nsTarget = NSTarget::Update;
  EXPECT_NE(chunkable(paper, none).find("simplify-newton-schulz"),
            std::string::npos);
  ScanConfig mambaDelta;
  mambaDelta.decay = Decay::Mamba;
  mambaDelta.deltaRule = 1.0;
  EXPECT_NE(chunkable(mambaDelta, none).find("elementwise"),
            std::string::npos);
}

TEST(Rank1Gain, GainTimesUpdateIsNewtonSchulzOfTheUpdate) {
  // The scan with NS on a rank-1 update equals the scan without NS whose
  // input is multiplied by rank1GainTensor, for both polynomials, both eps
  // modes, 1–3 steps, τ inside and after, per-channel β and LongHorn's dtn,
  // including tiny updates (the small-‖X‖ regime) and zero ones.
  std::mt19937_64 rng(13);
  for (Decay decay : {Decay::Scalar, Decay::Mamba, Decay::Longhorn})
    for (NSConfig ns : {NSConfig::seed(), NSConfig::paper()})
      for (EpsMode mode : {EpsMode::Add, EpsMode::Max})
        for (int64_t steps : {1, 2, 3})
          for (TauPlacement place : {TauPlacement::Inside, TauPlacement::After})
            for (double size : {1.0, 1e-8, 0.0}) {
              ns.epsMode = mode;
              ns.steps = steps;
              ScanConfig withNS;
              withNS.decay = decay;
              withNS.momentum = 0.9;
              withNS.ns = ns;
              withNS.tauPlacement = place;
              withNS.tau = 0.6;
              Case c{"gain", withNS, decay == Decay::Mamba, false};
              Data d = makeData(c, 2, 9, 2, rng);
              for (double &x : d.v.data())
                x *= size;
              ScanInputs in = d.inputs(c, false);
              ScanOutputs ref = scan(withNS, in);

              Rank1GainConfig gc{ns, place == TauPlacement::Inside ? 0.6 : 1.0,
                                 place == TauPlacement::After ? 0.6 : 1.0};
              Tensor gain = rank1GainTensor(
                  gc, d.k, d.v, decay == Decay::Longhorn ? nullptr : &d.beta,
                  decay == Decay::Longhorn ? &d.dt : nullptr);
              ScanConfig simplified = withNS;
              simplified.ns.reset();
              simplified.tau = 1.0;
              ScanInputs sin = in;
              sin.gain = &gain;
              ScanOutputs got = scan(simplified, sin);
              EXPECT_LE(relativeDifference(got.o, ref.o), 1e-11)
                  << "size " << size << " steps " << steps;
              EXPECT_LE(relativeDifference(got.finalMomentum,
                                           ref.finalMomentum),
                        1e-11);
            }
}

// Per-chunk NS (docs/chunking.md §3.2): the C×C Gram iteration gives
// exactly NS of the chunk's summed update, K_cᵀ Z W_c, for both polynomials,
// both eps modes, 1–3 steps, rank C < min(K, V) and C > min(K, V), per-head
// and per-channel β, τ inside and after, and updates below ε. Both sides
// are float64 products of ≤ 16×16 matrices: 1e-10 is far above their
// rounding and far below a wrong iteration (which is off at O(1)).
TEST(ChunkNewtonSchulz, GramIterationIsNewtonSchulzOfTheChunkUpdate) {
  std::mt19937_64 rng(17);
  int checked = 0;
  for (NSConfig ns : {NSConfig::seed(), NSConfig::paper()})
    for (EpsMode mode : {EpsMode::Add, EpsMode::Max})
      for (int64_t steps : {1, 2, 3})
        for (auto [C, K, V] : {std::tuple<int64_t, int64_t, int64_t>{1, 6, 4},
                               {3, 8, 5}, {7, 5, 12}, {16, 6, 9}})
          for (bool channelBeta : {false, true})
            for (double size : {1.0, 1e-9}) {
              ns.epsMode = mode;
              ns.steps = steps;
              ChunkNSConfig config{ns, 0.7, 1.3, C};
              Tensor k = randn({1, C, 1, K}, rng);
              Tensor v = randn({1, C, 1, V}, rng, size);
              Tensor beta = mapped(
                  randn(channelBeta ? std::vector<int64_t>{1, C, 1, V}
                                    : std::vector<int64_t>{1, C, 1},
                        rng),
                  sigmoid);
              Tensor keys = chunkNewtonSchulzKeys(config, k, v, &beta, nullptr);
              // U = τ_in Σ_t k_t w_tᵀ and Σ_t k̃_t w_tᵀ, as K×V matrices.
              Tensor u({K, V}), got({K, V});
              for (int64_t t = 0; t < C; ++t)
                for (int64_t i = 0; i < K; ++i)
                  for (int64_t j = 0; j < V; ++j) {
                    double w = (channelBeta ? beta({0, t, 0, j})
                                            : beta({0, t, 0})) *
                               v({0, t, 0, j});
                    u({i, j}) += config.tauIn * k({0, t, 0, i}) * w;
                    got({i, j}) += keys({0, t, 0, i}) * w;
                  }
              Tensor want = newtonSchulz(u, ns);
              for (double &x : want.data())
                x *= config.tauOut;
              EXPECT_LE(relativeDifference(got, want), 1e-10)
                  << "C " << C << " K " << K << " V " << V << " steps "
                  << steps << " size " << size;
              ++checked;
            }
  EXPECT_EQ(checked, 2 * 2 * 3 * 4 * 2 * 2);
}

// With one token per chunk the approximation is the model: a scan on
// (k̃, v, β) without NS equals the per-token scan with NS on the update,
// through momentum, every decay that leaves k alone, varlen and an initial
// state. The error is reported for larger chunks, where the model differs.
TEST(ChunkNewtonSchulz, OneTokenChunksAreThePerTokenModel) {
  std::mt19937_64 rng(19);
  std::map<int64_t, double> worst;
  for (Decay decay :
       {Decay::None, Decay::Scalar, Decay::Diagonal, Decay::Mamba})
    for (NSConfig ns : {NSConfig::seed(), NSConfig::paper()})
      for (TauPlacement place : {TauPlacement::Inside, TauPlacement::After})
        for (bool varlen : {false, true}) {
          ScanConfig withNS;
          withNS.decay = decay;
          withNS.momentum = 0.9;
          withNS.ns = ns;
          withNS.tauPlacement = place;
          withNS.tau = 0.6;
          Case c{"per-chunk", withNS, decay == Decay::Mamba, false};
          const int64_t B = varlen ? 1 : 2, T = 37, HV = 4, K = 5; // makeData: V = 3
          Data d = makeData(c, B, T, varlen ? 3 : 2, rng);
          d.q = unitRows(randn({B, T, HV, K}, rng)); // H = HV
          d.k = unitRows(randn({B, T, HV, K}, rng));
          d.cu = {0, 11, 12, 37};
          ScanInputs in = d.inputs(c, varlen);
          ASSERT_EQ(checkScan(withNS, in), "");
          ScanOutputs ref = scan(withNS, in);

          ScanConfig plain = withNS;
          plain.ns.reset();
          plain.tau = 1.0;
          for (int64_t chunk : {1, 4, 16}) {
            ChunkNSConfig config{ns,
                                 place == TauPlacement::Inside ? 0.6 : 1.0,
                                 place == TauPlacement::After ? 0.6 : 1.0,
                                 chunk};
            Tensor keys = chunkNewtonSchulzKeys(
                config, d.k, d.v, &d.beta, varlen ? &d.cu : nullptr);
            ScanInputs approx = in;
            approx.k = &keys;
            ScanOutputs got = scan(plain, approx);
            double err = std::max(relativeDifference(got.o, ref.o),
                                  relativeDifference(got.finalMomentum,
                                                     ref.finalMomentum));
            if (chunk == 1)
              EXPECT_LE(err, 1e-11);
            else
              worst[chunk] = std::max(worst[chunk], err);
          }
        }
  for (auto [chunk, err] : worst)
    std::printf("per-chunk NS, chunk %lld: worst relative error vs the "
                "per-token model %.3e\n",
                static_cast<long long>(chunk), err);
}

// Chunks restart at every sequence of a varlen batch: the keys of a packed
// batch are those of each sequence computed alone.
TEST(ChunkNewtonSchulz, ChunksRestartAtSequenceStarts) {
  std::mt19937_64 rng(23);
  const int64_t K = 4, V = 6;
  std::vector<int64_t> cu = {0, 5, 6, 23};
  Tensor k = randn({1, 23, 1, K}, rng), v = randn({1, 23, 2, V}, rng);
  ChunkNSConfig config{NSConfig::seed(), 1.0, 1.0, 4};
  Tensor packed = chunkNewtonSchulzKeys(config, k, v, nullptr, &cu);
  for (size_t n = 0; n + 1 < cu.size(); ++n) {
    int64_t len = cu[n + 1] - cu[n];
    Tensor ks({1, len, 1, K}), vs({1, len, 2, V});
    for (int64_t t = 0; t < len; ++t) {
      for (int64_t i = 0; i < K; ++i)
        ks({0, t, 0, i}) = k({0, cu[n] + t, 0, i});
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t j = 0; j < V; ++j)
          vs({0, t, h, j}) = v({0, cu[n] + t, h, j});
    }
    Tensor alone = chunkNewtonSchulzKeys(config, ks, vs, nullptr, nullptr);
    for (int64_t t = 0; t < len; ++t)
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = 0; i < K; ++i)
          EXPECT_EQ(packed({0, cu[n] + t, h, i}), alone({0, t, h, i}));
  }
}

} // namespace
