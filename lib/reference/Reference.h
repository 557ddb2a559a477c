//===- Reference.h - the float64 oracle --------------------------*- C++ -*-===//
//
// The ground truth every lowering is checked against: the recurrence family
// of DESIGN.md §1 / docs/dialect.md, per token, in float64, written for
// clarity rather than speed. Plain C++17: no MLIR, no LLVM.
//
// Two layers:
//  - `scan` and `newtonSchulz`: the generic model, exactly the semantics of
//    muonssm.scan and muonssm.newton_schulz (K×V state, GQA, varlen, ...).
//  - `muonMamba`, `muonLonghorn`, `muonGdn`, `paper`: independent
//    transcriptions of the seed code and of the paper (SEMANTICS.md §3, §6.1),
//    each in its own orientation, so tests can check the generic scan against
//    them and both against ../shared/reference-cases.json.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_REFERENCE_REFERENCE_H
#define MUONSSM_LIB_REFERENCE_REFERENCE_H

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace muonssm::reference {

/// A dense float64 tensor in row-major (C) order.
/// "[2, 3, 4]": a shape as the project's messages print it.
std::string shapeString(const std::vector<int64_t> &shape);

class Tensor {
public:
  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape, double fill = 0.0);
  /// A rank-2 tensor from nested rows (all of one length).
  static Tensor matrix(const std::vector<std::vector<double>> &rows);
  static Tensor vector(const std::vector<double> &values);

  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[i]; }
  size_t size() const { return data_.size(); }
  std::vector<double> &data() { return data_; }
  const std::vector<double> &data() const { return data_; }

  double &operator()(std::initializer_list<int64_t> index) {
    return data_[offset(index)];
  }
  double operator()(std::initializer_list<int64_t> index) const {
    return data_[offset(index)];
  }

private:
  size_t offset(std::initializer_list<int64_t> index) const;
  std::vector<int64_t> shape_;
  std::vector<double> data_;
};

//===----------------------------------------------------------------------===//
// Newton–Schulz
//===----------------------------------------------------------------------===//

enum class Polynomial { Quintic, Cubic };
enum class EpsMode { Add, Max };

/// One Newton–Schulz configuration: normalise once by ‖X‖_F + eps (Add) or
/// max(‖X‖_F, eps) (Max), then `steps` times X ← p(XXᵀ)X with
/// p(A) = aI + bA + cA² (Muon's quintic (3.4445, −4.7750, 2.0315) or the
/// paper's cubic ½(3I − A)).
struct NSConfig {
  Polynomial polynomial = Polynomial::Quintic;
  EpsMode epsMode = EpsMode::Add;
  double eps = 1e-7;
  int64_t steps = 1;

  static NSConfig seed() { return {Polynomial::Quintic, EpsMode::Add, 1e-7, 1}; }
  static NSConfig paper() { return {Polynomial::Cubic, EpsMode::Max, 1e-6, 1}; }
};

struct NSCoefficients {
  double a, b, c;
};
NSCoefficients coefficients(Polynomial polynomial);

/// NS of one R×C matrix. The quintic is computed as the seed does (transpose
/// when R > C); the cubic as the paper writes it, ½X̃(3I − X̃ᵀX̃).
Tensor newtonSchulz(const Tensor &x, const NSConfig &config);

/// NS of every matrix of the trailing two dimensions (muonssm.newton_schulz).
Tensor newtonSchulzBatched(const Tensor &x, const NSConfig &config);

/// The scalar map of one step on a rank-1 matrix: φ(s) = as + bs³ + cs⁵
/// (quintic) or ψ(s) = (3s − s³)/2 (cubic).
double scalarMap(Polynomial polynomial, double s);

/// Closed form of NS on a rank-1 matrix X with ‖X‖_F = sigma (SEMANTICS.md
/// §4.1): NS(X) = rank1Gain(config, sigma) · X, with
/// gain = map^{∘steps}(s)/σ, s = σ/(σ + eps) or σ/max(σ, eps); 0 when σ = 0.
double rank1Gain(const NSConfig &config, double sigma);

//===----------------------------------------------------------------------===//
// The generic scan (muonssm.scan)
//===----------------------------------------------------------------------===//

enum class Decay { None, Scalar, Diagonal, Mamba, Longhorn };
enum class Input { Update, Error };
enum class NSTarget { Update, Momentum };
enum class TauPlacement { Inside, After };

/// Every choice of docs/dialect.md §2, named as the op's attributes.
struct ScanConfig {
  Decay decay = Decay::None;
  Input input = Input::Update;
  std::optional<double> deltaRule; ///< η
  std::optional<double> momentum;  ///< γ
  std::optional<NSConfig> ns;
  NSTarget nsTarget = NSTarget::Update;
  TauPlacement tauPlacement = TauPlacement::Inside;
  double tau = 1.0;
  double scale = 1.0;
};

/// Operands in the layouts of docs/dialect.md §1 (flash-linear-attention's):
/// q, k [B,T,H,K]; v [B,T,HV,V]; g [B,T,HV] or [B,T,HV,K]; dt [B,T,HV,V];
/// a [HV,K,V]; beta [B,T,HV] or [B,T,HV,V]; states [N,HV,K,V]; cuSeqlens
/// N + 1 offsets into T when B = 1. Absent optional operands are null/empty.
/// `gain` [B,T,HV] (optional) multiplies the momentum input: m_t = gain_t·τ·X_t
/// (what simplify-newton-schulz leaves of NS on a rank-1 update).
struct ScanInputs {
  const Tensor *q = nullptr, *k = nullptr, *v = nullptr;
  const Tensor *g = nullptr, *dt = nullptr, *a = nullptr, *beta = nullptr;
  const Tensor *gain = nullptr;
  /// Mamba's epilogue: o = (scale·Hᵀq + D ⊙ v) ⊙ silu(z), skip D [HV,V] and
  /// gate z [B,T,HV,V] (each optional).
  const Tensor *skip = nullptr, *gate = nullptr;
  const std::vector<int64_t> *cuSeqlens = nullptr;
  const Tensor *initialState = nullptr, *initialMomentum = nullptr;
  /// State pools: sequence n starts from slot stateIndices[n] of the pools
  /// initialState / initialMomentum [P,HV,K,V]; the final states are the
  /// pools with those slots replaced (N distinct slots in [0, P)).
  const std::vector<int64_t> *stateIndices = nullptr;
};

struct ScanOutputs {
  Tensor o;             ///< [B,T,HV,V]
  Tensor finalState;    ///< [N,HV,K,V] ([P,HV,K,V] with state pools)
  Tensor finalMomentum; ///< [N,HV,K,V] (empty without momentum)
};

/// The shapes of a scan's operands (null: absent) and the cu_seqlens values.
struct ScanShapes {
  using Shape = std::vector<int64_t>;
  const Shape *q = nullptr, *k = nullptr, *v = nullptr;
  const Shape *g = nullptr, *dt = nullptr, *a = nullptr, *beta = nullptr;
  const Shape *gain = nullptr;
  const Shape *skip = nullptr, *gate = nullptr;
  const std::vector<int64_t> *cuSeqlens = nullptr;
  const Shape *initialState = nullptr, *initialMomentum = nullptr;
  const std::vector<int64_t> *stateIndices = nullptr; ///< values
};

/// Checks operand shapes (and cu_seqlens values) against the rules of
/// docs/dialect.md; returns an empty string when they hold, else a message.
std::string checkScan(const ScanConfig &config, const ScanShapes &shapes);
std::string checkScan(const ScanConfig &config, const ScanInputs &inputs);

/// The per-token recurrence. Requires checkScan(config, inputs).empty().
ScanOutputs scan(const ScanConfig &config, const ScanInputs &inputs);

/// o ← (o + D ⊙ v) ⊙ silu(z) with the skip and gate of `inputs`, where
/// present: the epilogue of scan and chunkedScan.
void applySkipGate(const ScanInputs &inputs, Tensor &o);

/// State pools: gathers the selected slots of inputs.stateIndices into
/// per-sequence initial states, runs `run` on inputs without pools, and
/// scatters its final states into copies of the pools.
ScanOutputs withStatePools(
    const ScanInputs &inputs,
    const std::function<ScanOutputs(const ScanInputs &)> &run);

//===----------------------------------------------------------------------===//
// Newton–Schulz of a rank-1 update as a per-token gain (muonssm.rank1_gain)
//===----------------------------------------------------------------------===//

/// gain[b,t,h] such that τ_out·NS(τ_in·k wᵀ) = gain·k wᵀ, with w = β⊙v, or
/// w = dtn⊙v when `dt` is given (LongHorn: dtn = dt/(1 + dt‖k‖²)), k from
/// key head ⌊h/(HV/H)⌋: gain = τ_out·τ_in·rank1Gain(ns, τ_in‖k‖‖w‖).
struct Rank1GainConfig {
  NSConfig ns;
  double tauIn = 1.0, tauOut = 1.0;
};
Tensor rank1GainTensor(const Rank1GainConfig &config, const Tensor &k,
                       const Tensor &v, const Tensor *beta, const Tensor *dt);

//===----------------------------------------------------------------------===//
// Per-chunk Newton–Schulz of a rank-C update (muonssm.chunk_newton_schulz)
//===----------------------------------------------------------------------===//

/// A named approximation of NS on rank-1 updates (docs/chunking.md §3.2):
/// per sequence, value head and chunk c of `chunk` tokens from the
/// sequence's start, τ_out·NS(τ_in·Σ_{t∈c} k_t w_tᵀ) = K_cᵀ Z W_c (w = β⊙v)
/// through the C×C Grams G_k = K_c K_cᵀ and G_v = W_c W_cᵀ, attributed to
/// the tokens as effective keys k̃_t = Σ_{i∈c} Z_it k_i ([B, T, HV, K]).
struct ChunkNSConfig {
  NSConfig ns;
  double tauIn = 1.0, tauOut = 1.0;
  int64_t chunk = 64;
};
Tensor chunkNewtonSchulzKeys(const ChunkNSConfig &config, const Tensor &k,
                             const Tensor &v, const Tensor *beta,
                             const std::vector<int64_t> *cuSeqlens);

//===----------------------------------------------------------------------===//
// The chunked scan (docs/chunking.md)
//===----------------------------------------------------------------------===//

/// Why `config` has no exact chunked form, or "" when it has one: NS must be
/// gone (simplified to a gain); elementwise decays take only the update
/// input without the delta rule; the error input needs a per-head β.
std::string chunkable(const ScanConfig &config, const ScanInputs &inputs);

/// The same recurrence as `scan`, computed chunk by chunk (C tokens; the
/// last chunk of a sequence may be shorter) through the closed forms of
/// docs/chunking.md: C×C weight matrices, a unit-lower-triangular solve for
/// the delta-rule / error-input corrections, and state passing between
/// chunks; elementwise decays as a blocked scan. Equal to `scan` up to
/// rounding. Requires chunkable(config, inputs).empty() and chunk ≥ 1.
ScanOutputs chunkedScan(const ScanConfig &config, const ScanInputs &inputs,
                        int64_t chunk);

//===----------------------------------------------------------------------===//
// Seed and paper transcriptions (SEMANTICS.md §3, §6.1), one sequence.
//===----------------------------------------------------------------------===//

struct SelectiveResult {
  Tensor y; ///< [L][D]
  Tensor h; ///< [D][N] final hidden state
  Tensor v; ///< [D][N] final velocity
};

/// MuonMamba (SEMANTICS.md §3.1): Δ = softplus(dt + dt_bias) (threshold 20),
/// X = τΔ⊙u ⊗ B, velocity v = γv + NS(X) (or τΔuB without NS),
/// h = exp(ΔA)⊙h + v, y = hC + D⊙u, optionally · SiLU(z).
SelectiveResult muonMamba(const Tensor &u, const Tensor &dt,
                          const Tensor &dtBias, const Tensor &a,
                          const Tensor &b, const Tensor &c,
                          const Tensor &dSkip, const Tensor *z, double gamma,
                          double tau, const std::optional<NSConfig> &ns);

/// MuonLongHorn (SEMANTICS.md §3.2): dt = sigmoid(T + t_bias),
/// dtn = dt/(1 + dt‖K‖²), F = 1 − dtn⊗K², X = dtn⊙u ⊗ K, v = γv + τNS(X)
/// (τX without NS; the project applies τ also where the seed ignores it,
/// γ = 0 without NS: §8.7), h = F⊙h + v, y = hQ + D⊙u, optionally · SiLU(z).
SelectiveResult muonLonghorn(const Tensor &u, const Tensor &t,
                             const Tensor &tBias, const Tensor &k,
                             const Tensor &q, const Tensor &dSkip,
                             const Tensor *z, double gamma, double tau,
                             const std::optional<NSConfig> &ns);

struct StateResult {
  Tensor o; ///< outputs, one row per token
  Tensor s; ///< final state
  Tensor m; ///< final momentum
};

/// The seed's Muon Gated DeltaNet (SEMANTICS.md §3.3), state [Dk][Dv]:
/// S' = e^g S, e = β(v − S'ᵀk), M = γM + τ k eᵀ, S = S' + NS(M),
/// o = Sᵀq/√Dk. q and k are taken as given (already L2-normalised).
StateResult muonGdn(const Tensor &q, const Tensor &k, const Tensor &v,
                    const Tensor &beta, const Tensor &g, double gamma,
                    double tau, const NSConfig &ns, const Tensor *s0,
                    const Tensor *m0);

/// The paper's form (SEMANTICS.md §1, §6.1), state S [d][m]:
/// M = γM + NS(τβ v kᵀ), S = S·D_t + M with D_t = a_t I or
/// a_t(I − β_t η k kᵀ) (deltaRule), y = S q.
StateResult paper(const Tensor &q, const Tensor &k, const Tensor &v,
                  const Tensor &beta, const Tensor &a, bool deltaRule,
                  double gamma, double tau, const NSConfig &ns);

//===----------------------------------------------------------------------===//
// Whole mixer layers (muonssm.selective_mixer), batched
//===----------------------------------------------------------------------===//

/// The Mamba / LongHorn block of SEMANTICS.md §3.1–3.2 around the seed
/// transcriptions muonMamba / muonLonghorn (not the generic scan): x [B, L,
/// d_model] → in_proj (no bias), causal depthwise conv + bias, SiLU, x_proj
/// into (δ, K, Q), dt_proj + bias, the selective scan with D and the SiLU(z)
/// gate, out_proj (no bias). Weights in PyTorch's [out, in] layout.
/// `vision`: the MambaVision layout (SEMANTICS.md §3.5) — x and z each get
/// a 'same'-padded conv + bias + SiLU, no gate in the scan, out_proj reads
/// cat(y, SiLU(conv_z(z))); the Mamba vision mixer adds dt_bias twice.
struct SelectiveMixerConfig {
  bool mamba = true;       ///< else LongHorn
  bool vision = false;
  double gamma = 0.0;      ///< momentum (0: none)
  std::optional<NSConfig> ns;
  double tau = 1.0;
};
struct SelectiveMixerWeights {
  const Tensor *inProj = nullptr;     ///< [2·d_inner, d_model]
  const Tensor *convWeight = nullptr; ///< [d_inner, d_conv]
  const Tensor *convBias = nullptr;   ///< [d_inner]
  const Tensor *convZWeight = nullptr; ///< [d_inner, d_conv], vision only
  const Tensor *convZBias = nullptr;   ///< [d_inner], vision only
  const Tensor *xProj = nullptr;      ///< [dt_rank + 2·d_state, d_inner]
  const Tensor *dtProj = nullptr;     ///< [d_inner, dt_rank]
  const Tensor *dtBias = nullptr;     ///< [d_inner]
  const Tensor *aLog = nullptr;       ///< [d_inner, d_state], Mamba only
  const Tensor *d = nullptr;          ///< [d_inner]
  const Tensor *outProj = nullptr;    ///< [d_model, d_inner] (vision: 2·d_inner)
};
Tensor selectiveMixer(const SelectiveMixerConfig &config, const Tensor &x,
                      const SelectiveMixerWeights &weights);

/// fla's GatedDeltaNet layer as the seed uses it (SEMANTICS.md §3.3), H
/// heads of sizes K and V, around per-head recurrences that do not go
/// through the generic scan: muonGdn (form Seed), paper (form Paper, with
/// the delta rule and q·K^{-1/2}), and the plain Gated DeltaNet written out
/// here (form Plain). Projections without bias, causal short convs without
/// bias + SiLU, per-head L2 norm (eps 1e-6) of q and k, β = sigmoid,
/// g = −exp(A_log)·softplus(x·a_projᵀ + dt_bias), gated RMSNorm over V
/// (eps 1e-5) with SiLU(x·g_projᵀ), o_proj.
enum class DeltaNetForm { Plain, Seed, Paper };
struct GatedDeltaNetMixerConfig {
  DeltaNetForm form = DeltaNetForm::Plain;
  int64_t heads = 1;
  double gamma = 0.0, tau = 1.0;
  NSConfig ns;
  double normEps = 1e-5; ///< of the gated RMSNorm
};
struct GatedDeltaNetMixerWeights {
  const Tensor *qProj, *kProj, *vProj;    ///< [H·K | H·K | H·V, d_model]
  const Tensor *qConv, *kConv, *vConv;    ///< [H·K | H·K | H·V, W]
  const Tensor *bProj, *aProj;            ///< [H, d_model]
  const Tensor *aLog, *dtBias;            ///< [H]
  const Tensor *gProj;                    ///< [H·V, d_model]
  const Tensor *normWeight;               ///< [V]
  const Tensor *oProj;                    ///< [d_model, H·V]
};
Tensor gatedDeltaNetMixer(const GatedDeltaNetMixerConfig &config,
                          const Tensor &x,
                          const GatedDeltaNetMixerWeights &weights);

//===----------------------------------------------------------------------===//
// Model layers (muonssm.linear, rms_norm, conv1d, batch_norm, mean_pool)
//===----------------------------------------------------------------------===//

/// x [..., I] · wᵀ (+ b): w [O, I], b [O] or null.
Tensor linear(const Tensor &x, const Tensor &w, const Tensor *b);
/// x/√(mean(x²) + eps)·w over the last dimension.
Tensor rmsNorm(const Tensor &x, const Tensor &w, double eps);
/// Channels-last conv: x [B, L, I], w [O, I, W], zero padding p →
/// [B, L + 2p − W + 1, O].
Tensor conv1d(const Tensor &x, const Tensor &w, int64_t padding);
/// (x − mean)/√(var + eps)·w + b over the last dimension, then max(·, 0)
/// when `relu`.
Tensor batchNorm(const Tensor &x, const Tensor &mean, const Tensor &var,
                 const Tensor &w, const Tensor &b, double eps, bool relu);
/// The mean over L of x [B, L, D] → [B, D].
Tensor meanPool(const Tensor &x);
/// table[ids[b, l], :]; ids must lie in [0, V) (checked by the caller).
Tensor embedding(const Tensor &ids, const Tensor &table);
/// (SiLU(x·gateᵀ) ⊙ x·upᵀ)·downᵀ over the last dimension.
Tensor swiglu(const Tensor &x, const Tensor &gate, const Tensor &up,
              const Tensor &down);

} // namespace muonssm::reference

#endif // MUONSSM_LIB_REFERENCE_REFERENCE_H
