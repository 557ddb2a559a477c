//===- Chunked.cpp - the chunked closed forms, in float64 -----------------===//
//
// The executable form of docs/chunking.md: the per-token recurrence of
// Reference.cpp computed chunk by chunk. For decays none/scalar/diagonal a
// chunk is a handful of C×C weight matrices, one unit-lower-triangular solve
// (the delta-rule or error-input corrections) and state passing; for the
// elementwise decays of Mamba and LongHorn it is a blocked scan. Tested
// against `scan` (ChunkedReferenceTest) before any lowering builds on it.
//
//===----------------------------------------------------------------------===//

#include "lib/reference/Reference.h"

#include <cassert>
#include <cmath>

namespace muonssm::reference {

Tensor rank1GainTensor(const Rank1GainConfig &config, const Tensor &k,
                       const Tensor &v, const Tensor *beta, const Tensor *dt) {
  int64_t B = v.dim(0), T = v.dim(1), HV = v.dim(2), V = v.dim(3);
  int64_t H = k.dim(2), K = k.dim(3), group = HV / H;
  Tensor gain({B, T, HV});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < HV; ++h) {
        double kk = 0.0;
        for (int64_t i = 0; i < K; ++i)
          kk += k({b, t, h / group, i}) * k({b, t, h / group, i});
        double ww = 0.0;
        for (int64_t j = 0; j < V; ++j) {
          double coef = 1.0;
          if (dt) {
            double d = (*dt)({b, t, h, j});
            coef = d / (1.0 + d * kk);
          } else if (beta) {
            coef = beta->rank() == 3 ? (*beta)({b, t, h}) : (*beta)({b, t, h, j});
          }
          double w = coef * v({b, t, h, j});
          ww += w * w;
        }
        double sigma = config.tauIn * std::sqrt(kk) * std::sqrt(ww);
        gain({b, t, h}) =
            config.tauOut * config.tauIn * rank1Gain(config.ns, sigma);
      }
  return gain;
}

std::string chunkable(const ScanConfig &config, const ScanInputs &in) {
  if (config.ns)
    return config.nsTarget == NSTarget::Momentum
               ? "Newton-Schulz of the whole momentum is nonlinear in the "
                 "state: no exact chunked form (fuse-newton-schulz handles it)"
               : (config.input == Input::Error
                      ? "Newton-Schulz of the error input depends on the "
                        "state: no exact chunked form"
                      : "Newton-Schulz on the update must first become a "
                        "per-token gain (simplify-newton-schulz)");
  bool elementwise =
      config.decay == Decay::Mamba || config.decay == Decay::Longhorn;
  if (elementwise && (config.deltaRule || config.input == Input::Error))
    return "an elementwise decay with a state-dependent input (delta rule or "
           "error input) has no factored chunked form";
  if (config.input == Input::Error && in.beta && in.beta->rank() == 4)
    return "the error input with a per-channel beta makes one triangular "
           "system per value channel; not chunked";
  return "";
}

namespace {

/// Inputs of one (sequence, value head) as plain vectors, with the per-token
/// quantities the closed forms need: k, q, the log-decay G (per key), the
/// known input w, and the correction coefficient b.
struct HeadSequence {
  int64_t K, V, length;
  std::vector<std::vector<double>> k, q, w, logDecay; // [t][·]
  std::vector<double> b;                               // [t]
  // Elementwise decays: F_t[i][j] and the input x_t[i][j] = k_t[i] w_t[j].
  std::vector<std::vector<double>> factor;             // [t][i*V+j]
};

enum class Correction { None, Delta, Error };

class ChunkedHead {
public:
  ChunkedHead(const ScanConfig &config, int64_t K, int64_t V)
      : config(config), K(K), V(V), S(K * V, 0.0), M(K * V, 0.0) {
    if (config.deltaRule)
      correction = Correction::Delta;
    else if (config.input == Input::Error)
      correction = Correction::Error;
  }

  const ScanConfig &config;
  int64_t K, V;
  Correction correction = Correction::None;
  std::vector<double> S, M; // [i*V+j]

  /// Advances over tokens [first, first + n) of `seq`, writing o rows.
  void chunk(const HeadSequence &seq, int64_t first, int64_t n,
             std::vector<std::vector<double>> &o) {
    if (config.decay == Decay::Mamba || config.decay == Decay::Longhorn)
      return blocked(seq, first, n, o);
    bool momentum = config.momentum.has_value();
    double gamma = momentum ? *config.momentum : 0.0;

    // G_t: cumulative log-decay inside the chunk, per key (t = 1..n).
    std::vector<std::vector<double>> G(n + 1, std::vector<double>(K, 0.0));
    for (int64_t t = 1; t <= n; ++t)
      for (int64_t i = 0; i < K; ++i)
        G[t][i] = G[t - 1][i] + seq.logDecay[first + t - 1][i];
    auto D = [&](int64_t t, int64_t s, int64_t i) { // Λ_t/Λ_s, s ≤ t
      return std::exp(G[t][i] - G[s][i]);
    };
    // Ω_{ts} = Σ_{r=s..t} γ^{r−s} D_{tr} (momentum), Φ_t = Σ_{r=1..t} γ^r D_{tr}.
    // E: weight of input s at t; F: of correction s at t. Primed weights are
    // a_t ⊙ (weight at t−1): what the read-out r_t = S_{t−1}ᵀ(a_t⊙k_t) sees.
    std::vector<std::vector<std::vector<double>>> E(
        n + 1, std::vector<std::vector<double>>(n + 1));
    std::vector<std::vector<double>> Phi(n + 1, std::vector<double>(K, 0.0));
    for (int64_t s = 1; s <= n; ++s) {
      std::vector<double> omega(K, 0.0);
      for (int64_t t = s; t <= n; ++t) {
        for (int64_t i = 0; i < K; ++i) {
          double a = std::exp(seq.logDecay[first + t - 1][i]);
          omega[i] = t == s ? 1.0 : a * omega[i] + std::pow(gamma, t - s);
        }
        E[t][s] = omega;
        if (!momentum)
          for (int64_t i = 0; i < K; ++i)
            E[t][s][i] = D(t, s, i);
      }
    }
    for (int64_t t = 1; t <= n && momentum; ++t)
      for (int64_t i = 0; i < K; ++i)
        Phi[t][i] = std::exp(seq.logDecay[first + t - 1][i]) * Phi[t - 1][i] +
                    std::pow(gamma, t);
    auto Eprime = [&](int64_t t, int64_t s, int64_t i) { // s < t
      return momentum ? E[t][s][i] - std::pow(gamma, t - s) : D(t, s, i);
    };
    auto Fw = [&](int64_t t, int64_t s, int64_t i) {
      return correction == Correction::Error ? E[t][s][i] : D(t, s, i);
    };
    auto Fprime = [&](int64_t t, int64_t s, int64_t i) {
      return correction == Correction::Error ? Eprime(t, s, i) : D(t, s, i);
    };
    auto kt = [&](int64_t t) -> const std::vector<double> & {
      return seq.k[first + t - 1];
    };
    auto wt = [&](int64_t t) -> const std::vector<double> & {
      return seq.w[first + t - 1];
    };

    // Corrections: (I + diag(b) L_F) C = −diag(b) R, forward substitution.
    std::vector<std::vector<double>> c(n + 1, std::vector<double>(V, 0.0));
    if (correction != Correction::None) {
      for (int64_t t = 1; t <= n; ++t) {
        std::vector<double> r(V, 0.0);
        for (int64_t i = 0; i < K; ++i) {
          double lam = std::exp(G[t][i]) * kt(t)[i];
          double phi = momentum ? (Phi[t][i] - std::pow(gamma, t)) * kt(t)[i]
                                : 0.0;
          for (int64_t j = 0; j < V; ++j)
            r[j] += lam * S[i * V + j] + phi * M[i * V + j];
        }
        for (int64_t s = 1; s < t; ++s) {
          double le = 0.0, lf = 0.0;
          for (int64_t i = 0; i < K; ++i) {
            le += kt(t)[i] * Eprime(t, s, i) * kt(s)[i];
            lf += kt(t)[i] * Fprime(t, s, i) * kt(s)[i];
          }
          for (int64_t j = 0; j < V; ++j)
            r[j] += le * wt(s)[j] + lf * c[s][j];
        }
        double b = seq.b[first + t - 1];
        for (int64_t j = 0; j < V; ++j)
          c[t][j] = -b * r[j];
      }
    }

    // Outputs o_t = scale · S_tᵀ q_t from the closed form of S_t.
    for (int64_t t = 1; t <= n; ++t) {
      const std::vector<double> &q = seq.q[first + t - 1];
      std::vector<double> out(V, 0.0);
      for (int64_t i = 0; i < K; ++i) {
        double lam = std::exp(G[t][i]) * q[i];
        double phi = momentum ? Phi[t][i] * q[i] : 0.0;
        for (int64_t j = 0; j < V; ++j)
          out[j] += lam * S[i * V + j] + phi * M[i * V + j];
      }
      for (int64_t s = 1; s <= t; ++s) {
        double pe = 0.0, pf = 0.0;
        for (int64_t i = 0; i < K; ++i) {
          pe += q[i] * E[t][s][i] * kt(s)[i];
          pf += q[i] * Fw(t, s, i) * kt(s)[i];
        }
        for (int64_t j = 0; j < V; ++j)
          out[j] += pe * wt(s)[j] + pf * c[s][j];
      }
      for (int64_t j = 0; j < V; ++j)
        o[first + t - 1][j] = config.scale * out[j];
    }

    // State passing: S_n, M_n.
    std::vector<double> S1(K * V, 0.0), M1(K * V, 0.0);
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < V; ++j) {
        double s = std::exp(G[n][i]) * S[i * V + j] +
                   (momentum ? Phi[n][i] * M[i * V + j] : 0.0);
        double m = std::pow(gamma, n) * M[i * V + j];
        for (int64_t u = 1; u <= n; ++u) {
          double x = kt(u)[i];
          s += E[n][u][i] * x * wt(u)[j] + Fw(n, u, i) * x * c[u][j];
          double input = wt(u)[j] +
                         (correction == Correction::Error ? c[u][j] : 0.0);
          m += std::pow(gamma, n - u) * x * input;
        }
        S1[i * V + j] = s;
        M1[i * V + j] = m;
      }
    S = S1;
    if (momentum)
      M = M1;
  }

private:
  /// Elementwise decay: every (i, j) is its own two-level linear recurrence
  /// v_t = γv_{t−1} + x_t, h_t = F_t h_{t−1} + v_t. A chunk computes the local
  /// scan from zero states plus the carries P_t = Π F and
  /// Ψ_t = Σ_{r≤t} γ^r Π_{u=r+1..t} F_u, then h_t = local_t + P_t h_0 + Ψ_t v_0.
  void blocked(const HeadSequence &seq, int64_t first, int64_t n,
               std::vector<std::vector<double>> &o) {
    bool momentum = config.momentum.has_value();
    double gamma = momentum ? *config.momentum : 0.0;
    std::vector<std::vector<double>> h(n + 1, std::vector<double>(K * V));
    for (int64_t e = 0; e < K * V; ++e) {
      int64_t i = e / V, j = e % V;
      double local = 0.0, localV = 0.0, P = 1.0, Psi = 0.0;
      for (int64_t t = 1; t <= n; ++t) {
        double F = seq.factor[first + t - 1][e];
        double x = seq.k[first + t - 1][i] * seq.w[first + t - 1][j];
        if (momentum) {
          localV = gamma * localV + x;
          local = F * local + localV;
          Psi = F * Psi + std::pow(gamma, t);
        } else {
          local = F * local + x;
        }
        P *= F;
        h[t][e] = local + P * S[e] + (momentum ? Psi * M[e] : 0.0);
        if (t == n && momentum)
          M[e] = localV + std::pow(gamma, n) * M[e];
      }
    }
    for (int64_t t = 1; t <= n; ++t) {
      const std::vector<double> &q = seq.q[first + t - 1];
      for (int64_t j = 0; j < V; ++j) {
        double out = 0.0;
        for (int64_t i = 0; i < K; ++i)
          out += h[t][i * V + j] * q[i];
        o[first + t - 1][j] = config.scale * out;
      }
    }
    S = h[n];
  }
};

} // namespace

ScanOutputs chunkedScan(const ScanConfig &config, const ScanInputs &in,
                        int64_t chunk) {
  assert(chunk >= 1 && chunkable(config, in).empty() &&
         checkScan(config, in).empty());
  if (in.stateIndices)
    return withStatePools(in, [&](const ScanInputs &each) {
      return chunkedScan(config, each, chunk);
    });
  int64_t B = in.q->dim(0), T = in.q->dim(1), H = in.q->dim(2),
          K = in.q->dim(3);
  int64_t HV = in.v->dim(2), V = in.v->dim(3), group = HV / H;
  int64_t N = in.cuSeqlens ? static_cast<int64_t>(in.cuSeqlens->size()) - 1
                           : B;
  ScanOutputs out;
  out.o = Tensor({B, T, HV, V});
  out.finalState = Tensor({N, HV, K, V});
  if (config.momentum)
    out.finalMomentum = Tensor({N, HV, K, V});
  bool elementwise =
      config.decay == Decay::Mamba || config.decay == Decay::Longhorn;

  for (int64_t n = 0; n < N; ++n) {
    int64_t b = in.cuSeqlens ? 0 : n;
    int64_t first = in.cuSeqlens ? (*in.cuSeqlens)[n] : 0;
    int64_t last = in.cuSeqlens ? (*in.cuSeqlens)[n + 1] : T;
    int64_t L = last - first;
    for (int64_t h = 0; h < HV; ++h) {
      int64_t kh = h / group;
      // Per-token quantities of this (sequence, head).
      HeadSequence seq{K, V, L, {}, {}, {}, {}, {}, {}};
      for (int64_t t = first; t < last; ++t) {
        std::vector<double> k(K), q(K), w(V), logDecay(K, 0.0);
        double kk = 0.0;
        for (int64_t i = 0; i < K; ++i) {
          k[i] = (*in.k)({b, t, kh, i});
          q[i] = (*in.q)({b, t, kh, i});
          kk += k[i] * k[i];
        }
        if (config.decay == Decay::Scalar)
          std::fill(logDecay.begin(), logDecay.end(), (*in.g)({b, t, h}));
        if (config.decay == Decay::Diagonal)
          for (int64_t i = 0; i < K; ++i)
            logDecay[i] = (*in.g)({b, t, h, i});
        double betaHead =
            in.beta && in.beta->rank() == 3 ? (*in.beta)({b, t, h}) : 1.0;
        double inputScale =
            config.tau * (in.gain ? (*in.gain)({b, t, h}) : 1.0);
        std::vector<double> factor;
        if (elementwise)
          factor.assign(K * V, 1.0);
        for (int64_t j = 0; j < V; ++j) {
          double beta = 1.0;
          if (in.beta)
            beta = in.beta->rank() == 3 ? betaHead : (*in.beta)({b, t, h, j});
          if (config.decay == Decay::Longhorn) {
            double d = (*in.dt)({b, t, h, j});
            beta = d / (1.0 + d * kk);
            for (int64_t i = 0; i < K; ++i)
              factor[i * V + j] = 1.0 - beta * k[i] * k[i];
          }
          if (config.decay == Decay::Mamba)
            for (int64_t i = 0; i < K; ++i)
              factor[i * V + j] =
                  std::exp((*in.dt)({b, t, h, j}) * (*in.a)({h, i, j}));
          w[j] = inputScale * beta * (*in.v)({b, t, h, j});
        }
        seq.k.push_back(k);
        seq.q.push_back(q);
        seq.w.push_back(w);
        seq.logDecay.push_back(logDecay);
        seq.factor.push_back(factor);
        seq.b.push_back(config.deltaRule ? *config.deltaRule * betaHead
                                         : inputScale * betaHead);
      }

      ChunkedHead head(config, K, V);
      for (int64_t i = 0; i < K * V; ++i) {
        if (in.initialState)
          head.S[i] = in.initialState->data()[(n * HV + h) * K * V + i];
        if (in.initialMomentum)
          head.M[i] = in.initialMomentum->data()[(n * HV + h) * K * V + i];
      }
      std::vector<std::vector<double>> o(L, std::vector<double>(V, 0.0));
      for (int64_t c = 0; c < L; c += chunk)
        head.chunk(seq, c, std::min(chunk, L - c), o);
      for (int64_t t = 0; t < L; ++t)
        for (int64_t j = 0; j < V; ++j)
          out.o({b, first + t, h, j}) = o[t][j];
      for (int64_t i = 0; i < K * V; ++i) {
        out.finalState.data()[(n * HV + h) * K * V + i] = head.S[i];
        if (config.momentum)
          out.finalMomentum.data()[(n * HV + h) * K * V + i] = head.M[i];
      }
    }
  }
  applySkipGate(in, out.o);
  return out;
}

} // namespace muonssm::reference
