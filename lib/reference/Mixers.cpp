//===- Mixers.cpp - whole mixer layers, in float64 ------------------------===//
//
// The layer oracle of muonssm.selective_mixer: the block's projections,
// short conv and gates written out per batch row, around the seed
// transcriptions of the scan (muonMamba, muonLonghorn), so that the
// decomposition into linalg + muonssm.scan is checked against code that
// shares none of it.
//
//===----------------------------------------------------------------------===//

#include "lib/reference/Reference.h"

#include <cassert>
#include <cmath>

namespace muonssm::reference {

namespace {
double silu(double x) { return x / (1.0 + std::exp(-x)); }
} // namespace

Tensor selectiveMixer(const SelectiveMixerConfig &config, const Tensor &x,
                      const SelectiveMixerWeights &w) {
  int64_t B = x.dim(0), L = x.dim(1), Dm = x.dim(2);
  int64_t Di = w.convWeight->dim(0), W = w.convWeight->dim(1);
  int64_t R = w.dtProj->dim(1), N = (w.xProj->dim(0) - R) / 2;
  assert(w.inProj->dim(0) == 2 * Di && w.outProj->dim(0) == Dm);
  Tensor out({B, L, Dm});
  for (int64_t b = 0; b < B; ++b) {
    // in_proj: x_in and the gate z.
    Tensor xin({L, Di}), z({L, Di});
    for (int64_t l = 0; l < L; ++l)
      for (int64_t o = 0; o < 2 * Di; ++o) {
        double sum = 0.0;
        for (int64_t i = 0; i < Dm; ++i)
          sum += x({b, l, i}) * (*w.inProj)({o, i});
        (o < Di ? xin({l, o}) : z({l, o - Di})) = sum;
      }
    // Causal depthwise conv (PyTorch's Conv1d with padding d_conv − 1, the
    // first L outputs), bias, SiLU.
    Tensor u({L, Di});
    for (int64_t l = 0; l < L; ++l)
      for (int64_t c = 0; c < Di; ++c) {
        double sum = (*w.convBias)({c});
        for (int64_t j = 0; j < W; ++j) {
          int64_t src = l - (W - 1) + j;
          if (src >= 0)
            sum += (*w.convWeight)({c, j}) * xin({src, c});
        }
        u({l, c}) = silu(sum);
      }
    // x_proj into (δ, K, Q); dt_proj without its bias (the scans add it).
    Tensor keys({L, N}), queries({L, N}), dt({L, Di});
    for (int64_t l = 0; l < L; ++l) {
      std::vector<double> row(R + 2 * N);
      for (int64_t r = 0; r < R + 2 * N; ++r) {
        double sum = 0.0;
        for (int64_t c = 0; c < Di; ++c)
          sum += u({l, c}) * (*w.xProj)({r, c});
        row[r] = sum;
      }
      for (int64_t n = 0; n < N; ++n) {
        keys({l, n}) = row[R + n];
        queries({l, n}) = row[R + N + n];
      }
      for (int64_t c = 0; c < Di; ++c) {
        double sum = 0.0;
        for (int64_t r = 0; r < R; ++r)
          sum += row[r] * (*w.dtProj)({c, r});
        dt({l, c}) = sum;
      }
    }
    SelectiveResult scan;
    if (config.mamba) {
      Tensor a({Di, N});
      for (int64_t c = 0; c < Di; ++c)
        for (int64_t n = 0; n < N; ++n)
          a({c, n}) = -std::exp((*w.aLog)({c, n}));
      scan = muonMamba(u, dt, *w.dtBias, a, keys, queries, *w.d, &z,
                       config.gamma, config.tau, config.ns);
    } else {
      scan = muonLonghorn(u, dt, *w.dtBias, keys, queries, *w.d, &z,
                          config.gamma, config.tau, config.ns);
    }
    for (int64_t l = 0; l < L; ++l)
      for (int64_t m = 0; m < Dm; ++m) {
        double sum = 0.0;
        for (int64_t c = 0; c < Di; ++c)
          sum += scan.y({l, c}) * (*w.outProj)({m, c});
        out({b, l, m}) = sum;
      }
  }
  return out;
}

} // namespace muonssm::reference
