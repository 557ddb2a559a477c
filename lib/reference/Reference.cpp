//===- Reference.cpp - the float64 oracle ---------------------------------===//
//
// Straight-line float64 code, one token at a time, with the formulas of
// docs/dialect.md written out. Speed is not a goal; being obviously right is.
//
//===----------------------------------------------------------------------===//

#include "lib/reference/Reference.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <sstream>

namespace muonssm::reference {

//===----------------------------------------------------------------------===//
// Tensor
//===----------------------------------------------------------------------===//

Tensor::Tensor(std::vector<int64_t> shape, double fill) : shape_(shape) {
  size_t n = 1;
  for (int64_t d : shape_)
    n *= static_cast<size_t>(d);
  data_.assign(n, fill);
}

Tensor Tensor::matrix(const std::vector<std::vector<double>> &rows) {
  int64_t r = static_cast<int64_t>(rows.size());
  int64_t c = r ? static_cast<int64_t>(rows[0].size()) : 0;
  Tensor t({r, c});
  for (int64_t i = 0; i < r; ++i) {
    assert(static_cast<int64_t>(rows[i].size()) == c && "ragged rows");
    for (int64_t j = 0; j < c; ++j)
      t({i, j}) = rows[i][j];
  }
  return t;
}

Tensor Tensor::vector(const std::vector<double> &values) {
  Tensor t({static_cast<int64_t>(values.size())});
  t.data_ = values;
  return t;
}

size_t Tensor::offset(std::initializer_list<int64_t> index) const {
  assert(index.size() == shape_.size() && "index rank mismatch");
  size_t offset = 0;
  size_t i = 0;
  for (int64_t x : index) {
    assert(x >= 0 && x < shape_[i] && "index out of range");
    offset = offset * static_cast<size_t>(shape_[i]) + static_cast<size_t>(x);
    ++i;
  }
  return offset;
}

namespace {

//===----------------------------------------------------------------------===//
// Small dense matrices
//===----------------------------------------------------------------------===//

Tensor transpose(const Tensor &x) {
  int64_t r = x.dim(0), c = x.dim(1);
  Tensor t({c, r});
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j)
      t.data()[j * r + i] = x.data()[i * c + j];
  return t;
}

/// z = x·y, summing over l in increasing order for every (i, j). Indexes the
/// row-major data directly: NS runs this on up to 256×256 matrices per token.
Tensor matmul(const Tensor &x, const Tensor &y) {
  assert(x.dim(1) == y.dim(0));
  int64_t n = x.dim(0), inner = x.dim(1), m = y.dim(1);
  Tensor z({n, m});
  const double *a = x.data().data(), *b = y.data().data();
  double *c = z.data().data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t l = 0; l < inner; ++l) {
      double ail = a[i * inner + l];
      for (int64_t j = 0; j < m; ++j)
        c[i * m + j] += ail * b[l * m + j];
    }
  return z;
}

Tensor scaled(const Tensor &x, double s) {
  Tensor y = x;
  for (double &v : y.data())
    v *= s;
  return y;
}

/// αx + βy elementwise.
Tensor axpby(double alpha, const Tensor &x, double beta, const Tensor &y) {
  assert(x.shape() == y.shape());
  Tensor z = x;
  for (size_t i = 0; i < z.size(); ++i)
    z.data()[i] = alpha * x.data()[i] + beta * y.data()[i];
  return z;
}

Tensor identity(int64_t n, double diagonal = 1.0) {
  Tensor t({n, n});
  for (int64_t i = 0; i < n; ++i)
    t({i, i}) = diagonal;
  return t;
}

double frobenius(const Tensor &x) {
  double sum = 0.0;
  for (double v : x.data())
    sum += v * v;
  return std::sqrt(sum);
}

double normalizer(const NSConfig &config, double norm) {
  return config.epsMode == EpsMode::Add ? norm + config.eps
                                        : std::max(norm, config.eps);
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double silu(double x) { return x * sigmoid(x); }
/// PyTorch's softplus with threshold 20, as the seed's kernel uses it.
double softplus(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }

} // namespace

//===----------------------------------------------------------------------===//
// Newton–Schulz
//===----------------------------------------------------------------------===//

NSCoefficients coefficients(Polynomial polynomial) {
  if (polynomial == Polynomial::Quintic)
    return {3.4445, -4.7750, 2.0315};
  return {1.5, -0.5, 0.0};
}

Tensor newtonSchulz(const Tensor &x, const NSConfig &config) {
  assert(x.rank() == 2 && config.steps >= 1 && config.eps > 0.0);
  if (config.polynomial == Polynomial::Quintic) {
    // The seed's NS5 (SEMANTICS.md §2.1), in float64.
    auto [a, b, c] = coefficients(Polynomial::Quintic);
    bool transposed = x.dim(0) > x.dim(1);
    Tensor y = transposed ? transpose(x) : x;
    y = scaled(y, 1.0 / normalizer(config, frobenius(y)));
    for (int64_t step = 0; step < config.steps; ++step) {
      Tensor gram = matmul(y, transpose(y));
      Tensor poly = axpby(b, gram, c, matmul(gram, gram));
      y = axpby(a, y, 1.0, matmul(poly, y));
    }
    return transposed ? transpose(y) : y;
  }
  // The paper's cubic (SEMANTICS.md §2.2): ½X̃(3I − X̃ᵀX̃), normalised once.
  Tensor y = scaled(x, 1.0 / normalizer(config, frobenius(x)));
  for (int64_t step = 0; step < config.steps; ++step) {
    Tensor inner = axpby(1.0, identity(y.dim(1), 3.0), -1.0,
                         matmul(transpose(y), y));
    y = scaled(matmul(y, inner), 0.5);
  }
  return y;
}

Tensor newtonSchulzBatched(const Tensor &x, const NSConfig &config) {
  assert(x.rank() >= 2);
  int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  size_t matrix = static_cast<size_t>(rows * cols);
  Tensor out = x;
  for (size_t base = 0; base + matrix <= x.size() && matrix; base += matrix) {
    Tensor m({rows, cols});
    std::copy_n(x.data().begin() + base, matrix, m.data().begin());
    Tensor r = newtonSchulz(m, config);
    std::copy_n(r.data().begin(), matrix, out.data().begin() + base);
  }
  return out;
}

double scalarMap(Polynomial polynomial, double s) {
  auto [a, b, c] = coefficients(polynomial);
  double s2 = s * s;
  return s * (a + s2 * (b + c * s2));
}

double rank1Gain(const NSConfig &config, double sigma) {
  if (sigma == 0.0)
    return 0.0;
  double s = sigma / normalizer(config, sigma);
  for (int64_t step = 0; step < config.steps; ++step)
    s = scalarMap(config.polynomial, s);
  return s / sigma;
}

//===----------------------------------------------------------------------===//
// Per-chunk Newton–Schulz (docs/chunking.md §3.2)
//===----------------------------------------------------------------------===//

Tensor chunkNewtonSchulzKeys(const ChunkNSConfig &config, const Tensor &k,
                             const Tensor &v, const Tensor *beta,
                             const std::vector<int64_t> *cuSeqlens) {
  assert(config.chunk >= 1 && config.ns.steps >= 1);
  int64_t B = v.dim(0), T = v.dim(1), HV = v.dim(2), V = v.dim(3);
  int64_t H = k.dim(2), K = k.dim(3), group = HV / H;
  // Not a structured binding: the chunk lambda reads the coefficients, and
  // C++17 forbids capturing structured bindings (GCC accepts it, clang
  // before 16 does not).
  const NSCoefficients nsCoef = coefficients(config.ns.polynomial);
  const double a = nsCoef.a, bCoef = nsCoef.b, c = nsCoef.c;
  Tensor keys({B, T, HV, K});

  // One chunk [first, first + n) of batch row b, value head h.
  auto chunk = [&](int64_t b, int64_t h, int64_t first, int64_t n) {
    int64_t kh = h / group;
    Tensor kc({n, K}), wc({n, V});
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t d = 0; d < K; ++d)
        kc({i, d}) = k({b, first + i, kh, d});
      for (int64_t j = 0; j < V; ++j) {
        double coef = !beta                ? 1.0
                      : beta->rank() == 3 ? (*beta)({b, first + i, h})
                                          : (*beta)({b, first + i, h, j});
        wc({i, j}) = coef * v({b, first + i, h, j});
      }
    }
    Tensor gk = matmul(kc, transpose(kc)), gv = matmul(wc, transpose(wc));
    // ‖U‖_F² = τ_in²·Σ_ij (G_k)_ij (G_v)_ij for U = τ_in·K_cᵀ W_c.
    double sq = 0.0;
    for (size_t i = 0; i < gk.size(); ++i)
      sq += gk.data()[i] * gv.data()[i];
    double norm = config.tauIn * std::sqrt(std::max(sq, 0.0));
    Tensor z = identity(n, config.tauIn / normalizer(config.ns, norm));
    // X = K_cᵀ Z W_c gives X(XᵀX) = K_cᵀ (M Z) W_c with M = Z G_v Zᵀ G_k, so
    // X ← aX + bX(XᵀX) + cX(XᵀX)² is Z ← (aI + bM + cM²) Z.
    for (int64_t step = 0; step < config.ns.steps; ++step) {
      Tensor m = matmul(matmul(matmul(z, gv), transpose(z)), gk);
      Tensor poly = axpby(1.0, identity(n, a), bCoef, m);
      if (c != 0.0)
        poly = axpby(1.0, poly, c, matmul(m, m));
      z = matmul(poly, z);
    }
    for (int64_t t = 0; t < n; ++t)
      for (int64_t d = 0; d < K; ++d) {
        double sum = 0.0;
        for (int64_t i = 0; i < n; ++i)
          sum += z({i, t}) * kc({i, d});
        keys({b, first + t, h, d}) = config.tauOut * sum;
      }
  };
  auto sequence = [&](int64_t b, int64_t first, int64_t last) {
    for (int64_t h = 0; h < HV; ++h)
      for (int64_t start = first; start < last; start += config.chunk)
        chunk(b, h, start, std::min(config.chunk, last - start));
  };
  if (cuSeqlens)
    for (size_t n = 0; n + 1 < cuSeqlens->size(); ++n)
      sequence(0, (*cuSeqlens)[n], (*cuSeqlens)[n + 1]);
  else
    for (int64_t b = 0; b < B; ++b)
      sequence(b, 0, T);
  return keys;
}

//===----------------------------------------------------------------------===//
// The generic scan
//===----------------------------------------------------------------------===//

std::string shapeString(const std::vector<int64_t> &shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i)
    os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

namespace {

using Shape = std::vector<int64_t>;
std::string expectShape(const char *name, const Shape *t, const Shape &shape,
                        const char *layout) {
  if (!t || *t == shape)
    return "";
  return std::string("'") + name + "' must have shape " + layout + " = " +
         shapeString(shape) + ", got " + shapeString(*t);
}
} // namespace

std::string checkScan(const ScanConfig &config, const ScanShapes &in) {
  if (!in.q || !in.k || !in.v)
    return "q, k and v are required";
  if (in.q->size() != 4 || in.v->size() != 4)
    return "q, k and v must have rank 4, got q " + shapeString(*in.q) +
           " and v " + shapeString(*in.v);
  int64_t b = (*in.q)[0], t = (*in.q)[1], h = (*in.q)[2], k = (*in.q)[3];
  int64_t hv = (*in.v)[2], v = (*in.v)[3];
  std::string err;
  if (!(err = expectShape("k", in.k, {b, t, h, k}, "[B, T, H, K]")).empty())
    return err;
  if ((*in.v)[0] != b || (*in.v)[1] != t)
    return "'v' must have the batch and time sizes of q " +
           shapeString({b, t}) + ", got " + shapeString(*in.v);
  if (h <= 0 || hv % h != 0)
    return "HV = " + std::to_string(hv) + " must be a multiple of H = " +
           std::to_string(h);
  switch (config.decay) {
  case Decay::None:
    if (in.g || in.dt || in.a)
      return "decay none takes no g, dt or A";
    break;
  case Decay::Scalar:
    if (!in.g || in.dt || in.a)
      return "decay scalar takes g alone";
    err = expectShape("g", in.g, {b, t, hv}, "[B, T, HV]");
    break;
  case Decay::Diagonal:
    if (!in.g || in.dt || in.a)
      return "decay diagonal takes g alone";
    err = expectShape("g", in.g, {b, t, hv, k}, "[B, T, HV, K]");
    break;
  case Decay::Mamba:
    if (in.g || !in.dt || !in.a)
      return "decay mamba takes dt and A";
    err = expectShape("dt", in.dt, {b, t, hv, v}, "[B, T, HV, V]");
    if (err.empty())
      err = expectShape("A", in.a, {hv, k, v}, "[HV, K, V]");
    break;
  case Decay::Longhorn:
    if (in.g || !in.dt || in.a || in.beta)
      return "decay longhorn takes dt alone and no beta";
    err = expectShape("dt", in.dt, {b, t, hv, v}, "[B, T, HV, V]");
    break;
  }
  if (!err.empty())
    return err;
  if (in.beta) {
    if (in.beta->size() == 3)
      err = expectShape("beta", in.beta, {b, t, hv}, "[B, T, HV]");
    else
      err = expectShape("beta", in.beta, {b, t, hv, v}, "[B, T, HV, V]");
    if (!err.empty())
      return err;
    if (config.deltaRule && in.beta->size() != 3)
      return "delta_rule needs beta per head";
  }
  if (!(err = expectShape("gain", in.gain, {b, t, hv}, "[B, T, HV]")).empty())
    return err;
  if (!(err = expectShape("skip", in.skip, {hv, v}, "[HV, V]")).empty())
    return err;
  if (!(err = expectShape("gate", in.gate, {b, t, hv, v}, "[B, T, HV, V]"))
           .empty())
    return err;
  if (in.gain && config.ns && config.nsTarget == NSTarget::Update)
    return "a gain operand replaces NS on the update; it cannot have both";
  if (config.input == Input::Error && config.deltaRule)
    return "input error excludes delta_rule";
  if (config.decay == Decay::Longhorn && config.deltaRule)
    return "decay longhorn excludes delta_rule";
  if (config.ns && config.nsTarget == NSTarget::Momentum && !config.momentum)
    return "newton_schulz on momentum needs momentum";
  int64_t n = b;
  if (in.cuSeqlens) {
    const std::vector<int64_t> &cu = *in.cuSeqlens;
    if (b != 1)
      return "cu_seqlens needs B = 1, got B = " + std::to_string(b);
    if (cu.size() < 2)
      return "cu_seqlens must hold at least 2 offsets";
    if (cu.front() != 0 || cu.back() != t)
      return "cu_seqlens must start at 0 and end at T = " + std::to_string(t) +
             ", got " + std::to_string(cu.front()) + " .. " +
             std::to_string(cu.back());
    for (size_t i = 1; i < cu.size(); ++i)
      if (cu[i] < cu[i - 1])
        return "cu_seqlens must be non-decreasing, got " +
               std::to_string(cu[i - 1]) + " then " + std::to_string(cu[i]) +
               " at index " + std::to_string(i);
    n = static_cast<int64_t>(cu.size()) - 1;
  }
  // With state pools the states have P slots, of which the sequences
  // select N distinct ones.
  int64_t rows = n;
  const char *rowsName = "[N, HV, K, V]";
  if (in.stateIndices) {
    const std::vector<int64_t> &slots = *in.stateIndices;
    if (!in.initialState || in.initialState->size() != 4)
      return "state_indices selects slots of initial_state, which must be a "
             "pool [P, HV, K, V]";
    rows = (*in.initialState)[0];
    rowsName = "[P, HV, K, V]";
    if (static_cast<int64_t>(slots.size()) != n)
      return "state_indices must hold one slot per sequence (N = " +
             std::to_string(n) + "), got " + std::to_string(slots.size());
    std::vector<bool> taken(static_cast<size_t>(std::max<int64_t>(rows, 0)));
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i] < 0 || slots[i] >= rows)
        return "state_indices[" + std::to_string(i) + "] = " +
               std::to_string(slots[i]) + " is not a slot of the pool [0, " +
               std::to_string(rows) + ")";
      if (taken[slots[i]])
        return "state_indices[" + std::to_string(i) + "] = " +
               std::to_string(slots[i]) +
               " repeats a slot: two sequences cannot update one state";
      taken[slots[i]] = true;
    }
  }
  if (!(err = expectShape("initial_state", in.initialState, {rows, hv, k, v},
                          rowsName))
           .empty())
    return err;
  if (in.initialMomentum && !config.momentum)
    return "initial_momentum needs momentum";
  return expectShape("initial_momentum", in.initialMomentum, {rows, hv, k, v},
                     rowsName);
}

ScanOutputs withStatePools(
    const ScanInputs &in,
    const std::function<ScanOutputs(const ScanInputs &)> &run) {
  const std::vector<int64_t> &slots = *in.stateIndices;
  int64_t N = static_cast<int64_t>(slots.size());
  const Shape &pool = in.initialState->shape();
  int64_t per = pool[1] * pool[2] * pool[3]; // one slot's elements
  auto gather = [&](const Tensor &from) {
    Tensor out({N, pool[1], pool[2], pool[3]});
    for (int64_t n = 0; n < N; ++n)
      std::copy_n(from.data().begin() + slots[n] * per, per,
                  out.data().begin() + n * per);
    return out;
  };
  auto scatter = [&](const Tensor &into, const Tensor &states) {
    Tensor out = into;
    for (int64_t n = 0; n < N; ++n)
      std::copy_n(states.data().begin() + n * per, per,
                  out.data().begin() + slots[n] * per);
    return out;
  };
  Tensor s0 = gather(*in.initialState);
  Tensor m0 = in.initialMomentum ? gather(*in.initialMomentum) : Tensor();
  ScanInputs perSequence = in;
  perSequence.stateIndices = nullptr;
  perSequence.initialState = &s0;
  perSequence.initialMomentum = in.initialMomentum ? &m0 : nullptr;
  ScanOutputs out = run(perSequence);
  out.finalState = scatter(*in.initialState, out.finalState);
  if (!out.finalMomentum.shape().empty()) {
    // Without a momentum pool every slot's momentum is zero but the
    // selected ones.
    Tensor zeros(pool);
    out.finalMomentum = scatter(in.initialMomentum ? *in.initialMomentum
                                                   : zeros,
                                out.finalMomentum);
  }
  return out;
}

std::string checkScan(const ScanConfig &config, const ScanInputs &in) {
  auto shape = [](const Tensor *t) { return t ? &t->shape() : nullptr; };
  ScanShapes shapes;
  shapes.q = shape(in.q), shapes.k = shape(in.k), shapes.v = shape(in.v);
  shapes.g = shape(in.g), shapes.dt = shape(in.dt), shapes.a = shape(in.a);
  shapes.beta = shape(in.beta), shapes.gain = shape(in.gain);
  shapes.skip = shape(in.skip), shapes.gate = shape(in.gate);
  shapes.cuSeqlens = in.cuSeqlens;
  shapes.initialState = shape(in.initialState);
  shapes.initialMomentum = shape(in.initialMomentum);
  shapes.stateIndices = in.stateIndices;
  return checkScan(config, shapes);
}

namespace {
/// The scan of one (sequence, value head): state S and momentum M are K×V.
class HeadScan {
public:
  HeadScan(const ScanConfig &config, const ScanInputs &in, int64_t key,
           int64_t value)
      : config(config), in(in), K(key), V(value), S({key, value}),
        M({key, value}) {}

  const ScanConfig &config;
  const ScanInputs &in;
  int64_t K, V;
  Tensor S, M;

  /// One token t of batch row b, value head h, key head kh; writes o_t.
  void token(int64_t b, int64_t t, int64_t h, int64_t kh, Tensor &o) {
    std::vector<double> k(K), q(K), v(V);
    for (int64_t i = 0; i < K; ++i) {
      k[i] = (*in.k)({b, t, kh, i});
      q[i] = (*in.q)({b, t, kh, i});
    }
    for (int64_t j = 0; j < V; ++j)
      v[j] = (*in.v)({b, t, h, j});

    // β_t per value channel (a per-head β broadcasts; absent means 1).
    std::vector<double> beta(V, 1.0);
    if (in.beta)
      for (int64_t j = 0; j < V; ++j)
        beta[j] = in.beta->rank() == 3 ? (*in.beta)({b, t, h})
                                       : (*in.beta)({b, t, h, j});

    // 1. Decay: S ← D_t(S).
    switch (config.decay) {
    case Decay::None:
      break;
    case Decay::Scalar: {
      double f = std::exp((*in.g)({b, t, h}));
      for (double &x : S.data())
        x *= f;
      break;
    }
    case Decay::Diagonal:
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < V; ++j)
          S({i, j}) *= std::exp((*in.g)({b, t, h, i}));
      break;
    case Decay::Mamba:
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < V; ++j)
          S({i, j}) *= std::exp((*in.dt)({b, t, h, j}) * (*in.a)({h, i, j}));
      break;
    case Decay::Longhorn: {
      double kk = 0.0;
      for (double x : k)
        kk += x * x;
      for (int64_t j = 0; j < V; ++j) {
        double dt = (*in.dt)({b, t, h, j});
        beta[j] = dt / (1.0 + dt * kk); // dtn_t: LongHorn's update gain
      }
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < V; ++j)
          S({i, j}) *= 1.0 - beta[j] * k[i] * k[i];
      break;
    }
    }

    // u = D(S)ᵀk, the decayed memory's read-out at k.
    std::vector<double> u(V, 0.0);
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < V; ++j)
        u[j] += S({i, j}) * k[i];

    // 2. The rank-1 input X = k wᵀ.
    std::vector<double> w(V);
    for (int64_t j = 0; j < V; ++j)
      w[j] = beta[j] * (config.input == Input::Error ? v[j] - u[j] : v[j]);
    Tensor x({K, V});
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < V; ++j)
        x({i, j}) = k[i] * w[j];

    // 3. Delta rule: S ← D(S) − ηβ k uᵀ, with the per-head β operand (the
    // rule needs one; absent means 1).
    if (config.deltaRule) {
      double betaHead = in.beta ? (*in.beta)({b, t, h}) : 1.0;
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < V; ++j)
          S({i, j}) -= *config.deltaRule * betaHead * k[i] * u[j];
    }

    // 4. Momentum input, momentum, Newton–Schulz.
    bool after = config.ns && config.tauPlacement == TauPlacement::After;
    double tauIn = after ? 1.0 : config.tau;
    double tauOut = after ? config.tau : 1.0;
    Tensor m = scaled(x, tauIn * (in.gain ? (*in.gain)({b, t, h}) : 1.0));
    if (config.ns && config.nsTarget == NSTarget::Update)
      m = scaled(newtonSchulz(m, *config.ns), tauOut);
    Tensor added = m;
    if (config.momentum) {
      M = axpby(*config.momentum, M, 1.0, m);
      added = M;
      if (config.ns && config.nsTarget == NSTarget::Momentum)
        added = scaled(newtonSchulz(M, *config.ns), tauOut);
    }
    S = axpby(1.0, S, 1.0, added);

    // 5. o_t = scale · Sᵀq.
    for (int64_t j = 0; j < V; ++j) {
      double acc = 0.0;
      for (int64_t i = 0; i < K; ++i)
        acc += S({i, j}) * q[i];
      o({b, t, h, j}) = config.scale * acc;
    }
  }
};
} // namespace

void applySkipGate(const ScanInputs &in, Tensor &o) {
  if (!in.skip && !in.gate)
    return;
  int64_t B = o.dim(0), T = o.dim(1), HV = o.dim(2), V = o.dim(3);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < HV; ++h)
        for (int64_t j = 0; j < V; ++j) {
          double &y = o({b, t, h, j});
          if (in.skip)
            y += (*in.skip)({h, j}) * (*in.v)({b, t, h, j});
          if (in.gate) {
            double z = (*in.gate)({b, t, h, j});
            y *= z / (1.0 + std::exp(-z));
          }
        }
}

ScanOutputs scan(const ScanConfig &config, const ScanInputs &in) {
  assert(checkScan(config, in).empty());
  if (in.stateIndices)
    return withStatePools(
        in, [&](const ScanInputs &each) { return scan(config, each); });
  int64_t B = in.q->dim(0), T = in.q->dim(1), H = in.q->dim(2),
          K = in.q->dim(3);
  int64_t HV = in.v->dim(2), V = in.v->dim(3);
  int64_t group = HV / H;
  int64_t N = in.cuSeqlens ? static_cast<int64_t>(in.cuSeqlens->size()) - 1
                           : B;

  ScanOutputs out;
  out.o = Tensor({B, T, HV, V});
  out.finalState = Tensor({N, HV, K, V});
  if (config.momentum)
    out.finalMomentum = Tensor({N, HV, K, V});

  for (int64_t n = 0; n < N; ++n) {
    int64_t b = in.cuSeqlens ? 0 : n;
    int64_t first = in.cuSeqlens ? (*in.cuSeqlens)[n] : 0;
    int64_t last = in.cuSeqlens ? (*in.cuSeqlens)[n + 1] : T;
    for (int64_t h = 0; h < HV; ++h) {
      HeadScan head(config, in, K, V);
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < V; ++j) {
          if (in.initialState)
            head.S({i, j}) = (*in.initialState)({n, h, i, j});
          if (in.initialMomentum)
            head.M({i, j}) = (*in.initialMomentum)({n, h, i, j});
        }
      for (int64_t t = first; t < last; ++t)
        head.token(b, t, h, h / group, out.o);
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < V; ++j) {
          out.finalState({n, h, i, j}) = head.S({i, j});
          if (config.momentum)
            out.finalMomentum({n, h, i, j}) = head.M({i, j});
        }
    }
  }
  applySkipGate(in, out.o);
  return out;
}

//===----------------------------------------------------------------------===//
// Seed and paper transcriptions
//===----------------------------------------------------------------------===//

SelectiveResult muonMamba(const Tensor &u, const Tensor &dt,
                          const Tensor &dtBias, const Tensor &a,
                          const Tensor &b, const Tensor &c,
                          const Tensor &dSkip, const Tensor *z, double gamma,
                          double tau, const std::optional<NSConfig> &ns) {
  int64_t L = u.dim(0), D = u.dim(1), N = b.dim(1);
  SelectiveResult r{Tensor({L, D}), Tensor({D, N}), Tensor({D, N})};
  for (int64_t t = 0; t < L; ++t) {
    std::vector<double> delta(D);
    for (int64_t d = 0; d < D; ++d)
      delta[d] = softplus(dt({t, d}) + dtBias({d}));
    Tensor x({D, N});
    for (int64_t d = 0; d < D; ++d)
      for (int64_t n = 0; n < N; ++n)
        x({d, n}) = tau * delta[d] * u({t, d}) * b({t, n});
    Tensor o = ns ? newtonSchulz(x, *ns) : x;
    for (int64_t d = 0; d < D; ++d) {
      double y = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        r.v({d, n}) = gamma * r.v({d, n}) + o({d, n});
        r.h({d, n}) = std::exp(delta[d] * a({d, n})) * r.h({d, n}) + r.v({d, n});
        y += r.h({d, n}) * c({t, n});
      }
      y += dSkip({d}) * u({t, d});
      r.y({t, d}) = z ? y * silu((*z)({t, d})) : y;
    }
  }
  return r;
}

SelectiveResult muonLonghorn(const Tensor &u, const Tensor &tIn,
                             const Tensor &tBias, const Tensor &k,
                             const Tensor &q, const Tensor &dSkip,
                             const Tensor *z, double gamma, double tau,
                             const std::optional<NSConfig> &ns) {
  int64_t L = u.dim(0), D = u.dim(1), N = k.dim(1);
  SelectiveResult r{Tensor({L, D}), Tensor({D, N}), Tensor({D, N})};
  for (int64_t t = 0; t < L; ++t) {
    double kk = 0.0;
    for (int64_t n = 0; n < N; ++n)
      kk += k({t, n}) * k({t, n});
    std::vector<double> dtn(D);
    for (int64_t d = 0; d < D; ++d) {
      double dt = sigmoid(tIn({t, d}) + tBias({d}));
      dtn[d] = dt / (1.0 + dt * kk);
    }
    Tensor x({D, N});
    for (int64_t d = 0; d < D; ++d)
      for (int64_t n = 0; n < N; ++n)
        x({d, n}) = dtn[d] * u({t, d}) * k({t, n});
    Tensor o = scaled(ns ? newtonSchulz(x, *ns) : x, tau);
    for (int64_t d = 0; d < D; ++d) {
      double y = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        double f = 1.0 - dtn[d] * k({t, n}) * k({t, n});
        r.v({d, n}) = gamma * r.v({d, n}) + o({d, n});
        r.h({d, n}) = f * r.h({d, n}) + r.v({d, n});
        y += r.h({d, n}) * q({t, n});
      }
      y += dSkip({d}) * u({t, d});
      r.y({t, d}) = z ? y * silu((*z)({t, d})) : y;
    }
  }
  // With γ = 0 the seed keeps no velocity; report zeros as the cases do.
  if (gamma == 0.0)
    r.v = Tensor({D, N});
  return r;
}

StateResult muonGdn(const Tensor &q, const Tensor &k, const Tensor &v,
                    const Tensor &beta, const Tensor &g, double gamma,
                    double tau, const NSConfig &ns, const Tensor *s0,
                    const Tensor *m0) {
  int64_t L = q.dim(0), Dk = q.dim(1), Dv = v.dim(1);
  StateResult r{Tensor({L, Dv}), s0 ? *s0 : Tensor({Dk, Dv}),
                m0 ? *m0 : Tensor({Dk, Dv})};
  double scale = 1.0 / std::sqrt(static_cast<double>(Dk));
  for (int64_t t = 0; t < L; ++t) {
    Tensor decayed = scaled(r.s, std::exp(g({t})));
    Tensor update({Dk, Dv});
    for (int64_t j = 0; j < Dv; ++j) {
      double read = 0.0;
      for (int64_t i = 0; i < Dk; ++i)
        read += decayed({i, j}) * k({t, i});
      double e = beta({t}) * (v({t, j}) - read);
      for (int64_t i = 0; i < Dk; ++i)
        update({i, j}) = tau * k({t, i}) * e;
    }
    r.m = axpby(gamma, r.m, 1.0, update);
    r.s = axpby(1.0, decayed, 1.0, newtonSchulz(r.m, ns));
    for (int64_t j = 0; j < Dv; ++j) {
      double o = 0.0;
      for (int64_t i = 0; i < Dk; ++i)
        o += r.s({i, j}) * q({t, i}) * scale;
      r.o({t, j}) = o;
    }
  }
  return r;
}

StateResult paper(const Tensor &q, const Tensor &k, const Tensor &v,
                  const Tensor &beta, const Tensor &a, bool deltaRule,
                  double gamma, double tau, const NSConfig &ns) {
  int64_t L = q.dim(0), m = q.dim(1), d = v.dim(1);
  StateResult r{Tensor({L, d}), Tensor({d, m}), Tensor({d, m})};
  for (int64_t t = 0; t < L; ++t) {
    Tensor x({d, m});
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < m; ++j)
        x({i, j}) = tau * beta({t}) * v({t, i}) * k({t, j});
    r.m = axpby(gamma, r.m, 1.0, newtonSchulz(x, ns));
    // D_t = a_t I, or a_t (I − β_t k kᵀ) with the delta rule (η = 1).
    Tensor transition = identity(m, a({t}));
    if (deltaRule)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < m; ++j)
          transition({i, j}) -= a({t}) * beta({t}) * k({t, i}) * k({t, j});
    r.s = axpby(1.0, matmul(r.s, transition), 1.0, r.m);
    for (int64_t i = 0; i < d; ++i) {
      double y = 0.0;
      for (int64_t j = 0; j < m; ++j)
        y += r.s({i, j}) * q({t, j});
      r.o({t, i}) = y;
    }
  }
  return r;
}

} // namespace muonssm::reference
