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
#include <algorithm>
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
  assert(w.outProj->dim(1) == (config.vision ? 2 * Di : Di));
  // Tokens of zero padding before the first one: causal, or PyTorch's
  // padding='same' (the odd one of an even kernel goes after).
  int64_t front = config.vision ? (W - 1) / 2 : W - 1;
  // SiLU(depthwise conv + bias) of t [L, Di] with weight [Di, W].
  auto conv = [&](const Tensor &t, const Tensor &weight, const Tensor &bias) {
    Tensor r({L, Di});
    for (int64_t l = 0; l < L; ++l)
      for (int64_t c = 0; c < Di; ++c) {
        double sum = bias({c});
        for (int64_t j = 0; j < W; ++j) {
          int64_t src = l - front + j;
          if (src >= 0 && src < L)
            sum += weight({c, j}) * t({src, c});
        }
        r({l, c}) = silu(sum);
      }
    return r;
  };
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
    // Depthwise conv (causal: PyTorch's Conv1d with padding d_conv − 1, the
    // first L outputs), bias, SiLU.
    Tensor u = conv(xin, *w.convWeight, *w.convBias);
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
        // The Mamba vision mixer's dt_proj(δ) includes the bias, and its
        // scan adds it again (muon_mambavision.py, as MambaVision).
        if (config.vision && config.mamba)
          sum += (*w.dtBias)({c});
        dt({l, c}) = sum;
      }
    }
    // The vision layout: the z half through its own conv, no gate inside.
    Tensor zc;
    const Tensor *gate = &z;
    if (config.vision) {
      zc = conv(z, *w.convZWeight, *w.convZBias);
      gate = nullptr;
    }
    SelectiveResult scan;
    if (config.mamba) {
      Tensor a({Di, N});
      for (int64_t c = 0; c < Di; ++c)
        for (int64_t n = 0; n < N; ++n)
          a({c, n}) = -std::exp((*w.aLog)({c, n}));
      scan = muonMamba(u, dt, *w.dtBias, a, keys, queries, *w.d, gate,
                       config.gamma, config.tau, config.ns);
    } else {
      scan = muonLonghorn(u, dt, *w.dtBias, keys, queries, *w.d, gate,
                          config.gamma, config.tau, config.ns);
    }
    for (int64_t l = 0; l < L; ++l)
      for (int64_t m = 0; m < Dm; ++m) {
        double sum = 0.0;
        for (int64_t c = 0; c < Di; ++c)
          sum += scan.y({l, c}) * (*w.outProj)({m, c});
        if (config.vision)
          for (int64_t c = 0; c < Di; ++c)
            sum += zc({l, c}) * (*w.outProj)({m, Di + c});
        out({b, l, m}) = sum;
      }
  }
  return out;
}

namespace {
/// y[l][o] = Σ_i x[b, l, i]·w[o, i] for one batch row.
Tensor linearRow(const Tensor &x, int64_t b, const Tensor &w) {
  int64_t L = x.dim(1), I = x.dim(2), O = w.dim(0);
  Tensor y({L, O});
  // Flat rows (x[b, l, :] and w[o, :] are contiguous): the LM-sized layers
  // spend most of the oracle's time here.
  for (int64_t l = 0; l < L; ++l) {
    const double *row = x.data().data() + (b * L + l) * I;
    for (int64_t o = 0; o < O; ++o) {
      const double *weights = w.data().data() + o * I;
      double sum = 0.0;
      for (int64_t i = 0; i < I; ++i)
        sum += row[i] * weights[i];
      y({l, o}) = sum;
    }
  }
  return y;
}

/// SiLU(causal depthwise conv without bias) of x [L, C] with w [C, W].
Tensor shortConv(const Tensor &x, const Tensor &w) {
  int64_t L = x.dim(0), C = x.dim(1), W = w.dim(1);
  Tensor y({L, C});
  for (int64_t l = 0; l < L; ++l)
    for (int64_t c = 0; c < C; ++c) {
      double sum = 0.0;
      for (int64_t j = 0; j < W; ++j)
        if (l - (W - 1) + j >= 0)
          sum += w({c, j}) * x({l - (W - 1) + j, c});
      y({l, c}) = silu(sum);
    }
  return y;
}

double softplusOf(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }
} // namespace

Tensor gatedDeltaNetMixer(const GatedDeltaNetMixerConfig &config,
                          const Tensor &x, const GatedDeltaNetMixerWeights &w) {
  int64_t B = x.dim(0), L = x.dim(1), Dm = x.dim(2), H = config.heads;
  int64_t K = w.qProj->dim(0) / H, V = w.vProj->dim(0) / H;
  double scale = 1.0 / std::sqrt(static_cast<double>(K));
  Tensor out({B, L, Dm});
  for (int64_t b = 0; b < B; ++b) {
    Tensor q = shortConv(linearRow(x, b, *w.qProj), *w.qConv);
    Tensor k = shortConv(linearRow(x, b, *w.kProj), *w.kConv);
    Tensor v = shortConv(linearRow(x, b, *w.vProj), *w.vConv);
    Tensor betaPre = linearRow(x, b, *w.bProj), gPre = linearRow(x, b, *w.aProj);
    Tensor gate = linearRow(x, b, *w.gProj);
    Tensor o({L, H * V});
    for (int64_t h = 0; h < H; ++h) {
      // This head's inputs, q and k L2-normalised (fla's l2_norm).
      Tensor qh({L, K}), kh({L, K}), vh({L, V}), beta({L}), g({L}), a({L});
      for (int64_t l = 0; l < L; ++l) {
        double qq = 0.0, kk = 0.0;
        for (int64_t i = 0; i < K; ++i) {
          qq += q({l, h * K + i}) * q({l, h * K + i});
          kk += k({l, h * K + i}) * k({l, h * K + i});
        }
        for (int64_t i = 0; i < K; ++i) {
          qh({l, i}) = q({l, h * K + i}) / std::sqrt(qq + 1e-6);
          kh({l, i}) = k({l, h * K + i}) / std::sqrt(kk + 1e-6);
        }
        for (int64_t j = 0; j < V; ++j)
          vh({l, j}) = v({l, h * V + j});
        beta({l}) = 1.0 / (1.0 + std::exp(-betaPre({l, h})));
        g({l}) = -std::exp((*w.aLog)({h})) *
                 softplusOf(gPre({l, h}) + (*w.dtBias)({h}));
        a({l}) = std::exp(g({l}));
      }
      Tensor oh({L, V});
      if (config.form == DeltaNetForm::Seed) {
        oh = muonGdn(qh, kh, vh, beta, g, config.gamma, config.tau, config.ns,
                     nullptr, nullptr)
                 .o;
      } else if (config.form == DeltaNetForm::Paper) {
        Tensor qs = qh;
        for (double &e : qs.data())
          e *= scale;
        oh = paper(qs, kh, vh, beta, a, /*deltaRule=*/true, config.gamma,
                   config.tau, config.ns)
                 .o;
      } else {
        // Gated DeltaNet: S = e^g S + k (β(v − (e^g S)ᵀk))ᵀ, o = Sᵀq/√K.
        Tensor s({K, V});
        for (int64_t l = 0; l < L; ++l) {
          for (double &e : s.data())
            e *= a({l});
          for (int64_t j = 0; j < V; ++j) {
            double read = 0.0;
            for (int64_t i = 0; i < K; ++i)
              read += s({i, j}) * kh({l, i});
            double e = beta({l}) * (vh({l, j}) - read);
            for (int64_t i = 0; i < K; ++i)
              s({i, j}) += kh({l, i}) * e;
          }
          for (int64_t j = 0; j < V; ++j) {
            double sum = 0.0;
            for (int64_t i = 0; i < K; ++i)
              sum += s({i, j}) * qh({l, i});
            oh({l, j}) = sum * scale;
          }
        }
      }
      // Gated RMSNorm over the head's V values.
      for (int64_t l = 0; l < L; ++l) {
        double ms = 0.0;
        for (int64_t j = 0; j < V; ++j)
          ms += oh({l, j}) * oh({l, j});
        double inv =
            1.0 / std::sqrt(ms / static_cast<double>(V) + config.normEps);
        for (int64_t j = 0; j < V; ++j)
          o({l, h * V + j}) = oh({l, j}) * inv * (*w.normWeight)({j}) *
                              silu(gate({l, h * V + j}));
      }
    }
    for (int64_t l = 0; l < L; ++l)
      for (int64_t m = 0; m < Dm; ++m) {
        double sum = 0.0;
        for (int64_t c = 0; c < H * V; ++c)
          sum += o({l, c}) * (*w.oProj)({m, c});
        out({b, l, m}) = sum;
      }
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Model layers
//===----------------------------------------------------------------------===//

Tensor linear(const Tensor &x, const Tensor &w, const Tensor *b) {
  int64_t I = w.dim(1), O = w.dim(0);
  std::vector<int64_t> shape = x.shape();
  shape.back() = O;
  Tensor y(shape);
  size_t rows = x.size() / static_cast<size_t>(I);
  for (size_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < O; ++o) {
      const double *weights = w.data().data() + o * I;
      double sum = b ? (*b)({o}) : 0.0;
      for (int64_t i = 0; i < I; ++i)
        sum += x.data()[r * I + i] * weights[i];
      y.data()[r * O + o] = sum;
    }
  return y;
}

Tensor rmsNorm(const Tensor &x, const Tensor &w, double eps) {
  int64_t D = x.shape().back();
  Tensor y = x;
  for (size_t base = 0; base < x.size(); base += D) {
    double ms = 0.0;
    for (int64_t i = 0; i < D; ++i)
      ms += x.data()[base + i] * x.data()[base + i];
    double inv = 1.0 / std::sqrt(ms / static_cast<double>(D) + eps);
    for (int64_t i = 0; i < D; ++i)
      y.data()[base + i] = x.data()[base + i] * inv * w({i});
  }
  return y;
}

Tensor conv1d(const Tensor &x, const Tensor &w, int64_t padding) {
  int64_t B = x.dim(0), L = x.dim(1), I = x.dim(2);
  int64_t O = w.dim(0), W = w.dim(2), out = L + 2 * padding - W + 1;
  Tensor y({B, out, O});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < out; ++l)
      for (int64_t o = 0; o < O; ++o) {
        double sum = 0.0;
        for (int64_t j = 0; j < W; ++j) {
          int64_t src = l - padding + j;
          if (src < 0 || src >= L)
            continue;
          for (int64_t i = 0; i < I; ++i)
            sum += w({o, i, j}) * x({b, src, i});
        }
        y({b, l, o}) = sum;
      }
  return y;
}

Tensor batchNorm(const Tensor &x, const Tensor &mean, const Tensor &var,
                 const Tensor &w, const Tensor &b, double eps, bool relu) {
  int64_t C = x.shape().back();
  Tensor y = x;
  for (size_t i = 0; i < x.size(); ++i) {
    int64_t c = static_cast<int64_t>(i % C);
    double v = (x.data()[i] - mean({c})) / std::sqrt(var({c}) + eps) * w({c}) +
               b({c});
    y.data()[i] = relu ? std::max(v, 0.0) : v;
  }
  return y;
}

Tensor meanPool(const Tensor &x) {
  int64_t B = x.dim(0), L = x.dim(1), D = x.dim(2);
  Tensor y({B, D});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t d = 0; d < D; ++d) {
      double sum = 0.0;
      for (int64_t l = 0; l < L; ++l)
        sum += x({b, l, d});
      y({b, d}) = sum / static_cast<double>(L);
    }
  return y;
}

Tensor embedding(const Tensor &ids, const Tensor &table) {
  int64_t B = ids.dim(0), L = ids.dim(1), D = table.dim(1);
  Tensor y({B, L, D});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l) {
      auto row = static_cast<int64_t>(ids({b, l}));
      for (int64_t d = 0; d < D; ++d)
        y({b, l, d}) = table({row, d});
    }
  return y;
}

Tensor swiglu(const Tensor &x, const Tensor &gate, const Tensor &up,
              const Tensor &down) {
  Tensor g = linear(x, gate, nullptr), u = linear(x, up, nullptr);
  for (size_t i = 0; i < g.size(); ++i)
    g.data()[i] = silu(g.data()[i]) * u.data()[i];
  return linear(g, down, nullptr);
}

} // namespace muonssm::reference
