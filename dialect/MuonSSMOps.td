//===- MuonSSMOps.td - ops of the muonssm dialect ----------*- tablegen -*-===//
//
// docs/dialect.md is the normative specification of these ops; the
// descriptions here summarise it.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_OPS_TD
#define MUONSSM_OPS_TD

include "dialect/MuonSSMDialect.td"
include "dialect/MuonSSMAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def MuonSSM_FloatTensor : RankedTensorOf<[F16, BF16, F32, F64]>;
def MuonSSM_IndexTensor : RankedTensorOf<[I32, I64]>;

def MuonSSM_ScanOp : MuonSSM_Op<"scan", [Pure, AttrSizedOperandSegments,
                                         AttrSizedResultSegments]> {
  let summary = "the momentum-augmented associative-memory recurrence";
  let description = [{
    Per sequence b, value head h (key head ⌊h/(HV/H)⌋) and token t, with the
    state H ∈ R^{K×V} and the momentum M ∈ R^{K×V}:

    ```
    D(H)  = decay_t(H)                                   none|scalar|diagonal|mamba|longhorn
    X_t   = k_t (β_t ⊙ v_t)ᵀ                             input = update
          = k_t (β_t ⊙ (v_t − D(H_{t−1})ᵀ k_t))ᵀ         input = error
    A_t(H) = D(H) − η β_t k_t (k_tᵀ D(H))                delta_rule = η (else A_t = D)
    m_t   = τX_t | NS(τX_t) | τNS(X_t)                   no NS | NS on update, τ inside | after
    M_t   = γ M_{t−1} + m_t                              momentum = γ (optional)
    H_t   = A_t(H_{t−1}) + (M_t | NS(M_t) | τ' NS(M_t))  (m_t without momentum)
    o_t   = scale · H_tᵀ q_t
    ```

    With `state_indices` (one slot per sequence, distinct), the states are
    pools [P, HV, K, V] (decode servers): sequence n starts from slot
    `state_indices[n]` of `initial_state` (and `initial_momentum`), and
    `final_state` (`final_momentum`) is the pool with those slots replaced
    by the sequences' final states, every other slot unchanged. The GPU
    lowering updates the pool in place.

    Example (the seed's Muon Gated DeltaNet):

    ```mlir
    %o, %sT, %mT = muonssm.scan q(%q : tensor<2x64x4x64xf32>)
        k(%k : tensor<2x64x4x64xf32>) v(%v : tensor<2x64x4x64xf32>)
        g(%g : tensor<2x64x4xf32>) beta(%beta : tensor<2x64x4xf32>)
        decay = scalar, input = error, momentum = 9.000000e-01,
        newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>
          on momentum with tau inside, tau = 1.000000e+00, scale = 1.250000e-01
        -> o tensor<2x64x4x64xf32> final_state tensor<2x4x64x64xf32>
           final_momentum tensor<2x4x64x64xf32>
    ```
  }];

  let arguments = (ins
      MuonSSM_FloatTensor:$q,
      MuonSSM_FloatTensor:$k,
      MuonSSM_FloatTensor:$v,
      Optional<MuonSSM_FloatTensor>:$g,
      Optional<MuonSSM_FloatTensor>:$dt,
      Optional<MuonSSM_FloatTensor>:$a,
      Optional<MuonSSM_FloatTensor>:$beta,
      Optional<MuonSSM_FloatTensor>:$gain,
      Optional<MuonSSM_FloatTensor>:$skip,
      Optional<MuonSSM_FloatTensor>:$gate,
      Optional<MuonSSM_IndexTensor>:$cu_seqlens,
      Optional<MuonSSM_FloatTensor>:$initial_state,
      Optional<MuonSSM_FloatTensor>:$initial_momentum,
      Optional<MuonSSM_IndexTensor>:$state_indices,
      MuonSSM_DecayKindAttr:$decay,
      MuonSSM_InputKindAttr:$input,
      OptionalAttr<F64Attr>:$delta_rule,
      OptionalAttr<F64Attr>:$momentum,
      OptionalAttr<MuonSSM_NewtonSchulzAttr>:$newton_schulz,
      OptionalAttr<MuonSSM_NSTargetAttr>:$ns_target,
      OptionalAttr<MuonSSM_TauPlacementAttr>:$tau_placement,
      OptionalAttr<MuonSSM_ScheduleAttr>:$schedule,
      F64Attr:$tau,
      F64Attr:$scale);

  let results = (outs
      MuonSSM_FloatTensor:$o,
      Optional<MuonSSM_FloatTensor>:$final_state,
      Optional<MuonSSM_FloatTensor>:$final_momentum);

  let assemblyFormat = [{
    `q` `(` $q `:` type($q) `)` `k` `(` $k `:` type($k) `)`
    `v` `(` $v `:` type($v) `)`
    (`g` `(` $g^ `:` type($g) `)`)?
    (`dt` `(` $dt^ `:` type($dt) `)`)?
    (`A` `(` $a^ `:` type($a) `)`)?
    (`beta` `(` $beta^ `:` type($beta) `)`)?
    (`gain` `(` $gain^ `:` type($gain) `)`)?
    (`skip` `(` $skip^ `:` type($skip) `)`)?
    (`gate` `(` $gate^ `:` type($gate) `)`)?
    (`cu_seqlens` `(` $cu_seqlens^ `:` type($cu_seqlens) `)`)?
    (`initial_state` `(` $initial_state^ `:` type($initial_state) `)`)?
    (`initial_momentum` `(` $initial_momentum^ `:` type($initial_momentum) `)`)?
    (`state_indices` `(` $state_indices^ `:` type($state_indices) `)`)?
    `decay` `=` `` $decay `,` `input` `=` `` $input `,`
    (`delta_rule` `=` $delta_rule^ `,`)?
    (`momentum` `=` $momentum^ `,`)?
    (`newton_schulz` `=` $newton_schulz^ `on` `` $ns_target
       `with` `tau` `` $tau_placement `,`)?
    (`schedule` `=` $schedule^ `,`)?
    `tau` `=` $tau `,` `scale` `=` $scale
    attr-dict
    `->` `o` type($o)
    (`final_state` type($final_state)^)?
    (`final_momentum` type($final_momentum)^)?
  }];

  let hasVerifier = 1;

  let extraClassDeclaration = [{
    /// The element type of the state and of every accumulation: f64 when the
    /// inputs are f64, f32 otherwise (DESIGN.md §3).
    ::mlir::FloatType getAccumulationType();
    bool hasMomentum() { return getMomentum().has_value(); }
    bool hasDeltaRule() { return getDeltaRule().has_value(); }
    /// β per value channel ([B,T,HV,V]) rather than per head ([B,T,HV]).
    bool hasChannelBeta();
    /// Why this scan has no exact chunked form (docs/chunking.md §2.5), or
    /// an empty string when it has one.
    std::string whyNotChunkable();
    bool isChunked() {
      return getSchedule() && getSchedule()->getKind() == ScheduleKind::Chunked;
    }
  }];
}

def MuonSSM_Rank1GainOp : MuonSSM_Op<"rank1_gain", [Pure,
                                                     AttrSizedOperandSegments]> {
  let summary = "Newton–Schulz of a rank-1 update as a per-token gain";
  let description = [{
    For each batch row b, token t and value head h (key head ⌊h/(HV/H)⌋):
    `gain[b,t,h] = τ_out·τ_in·G(τ_in‖k‖‖w‖)` with `w = β⊙v` (or `dtn⊙v`,
    `dtn = dt/(1 + dt‖k‖²)`, when `dt` is given: LongHorn) and
    `G(σ) = f^{∘steps}(s)/σ` the rank-1 closed form of the NS attribute
    (docs/chunking.md §1), so that `τ_out·NS(τ_in·k wᵀ) = gain·k wᵀ`.
    The result has the accumulation type (f64 for f64 inputs, else f32).

    ```mlir
    %gain = muonssm.rank1_gain k(%k : tensor<2x64x4x16xf32>)
        v(%v : tensor<2x64x4x16xf32>) beta(%b : tensor<2x64x4xf32>)
        newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>,
        tau_in = 1.000000e+00, tau_out = 1.000000e+00 -> tensor<2x64x4xf32>
    ```
  }];
  let arguments = (ins
      MuonSSM_FloatTensor:$k,
      MuonSSM_FloatTensor:$v,
      Optional<MuonSSM_FloatTensor>:$beta,
      Optional<MuonSSM_FloatTensor>:$dt,
      MuonSSM_NewtonSchulzAttr:$newton_schulz,
      F64Attr:$tau_in,
      F64Attr:$tau_out);
  let results = (outs MuonSSM_FloatTensor:$gain);
  let assemblyFormat = [{
    `k` `(` $k `:` type($k) `)` `v` `(` $v `:` type($v) `)`
    (`beta` `(` $beta^ `:` type($beta) `)`)?
    (`dt` `(` $dt^ `:` type($dt) `)`)?
    `newton_schulz` `=` $newton_schulz `,` `tau_in` `=` $tau_in `,`
    `tau_out` `=` $tau_out attr-dict `->` type($gain)
  }];
  let hasVerifier = 1;
}

def MuonSSM_SelectiveMixerOp : MuonSSM_Op<"selective_mixer",
                                          [Pure, AttrSizedOperandSegments]> {
  let summary = "a (Muon) Mamba or LongHorn block: projections, short conv, selective scan";
  let description = [{
    The sequence mixer of the seed's `Mamba` / `MuonMamba` and `Longhorn` /
    `MuonLonghorn` blocks (SEMANTICS.md §3.1–3.2), for x [B, L, d_model]:

    ```
    x_in, z    = split(x · in_projᵀ)                     [B, L, d_inner] each
    u          = SiLU(causal depthwise conv(x_in; conv_weight) + conv_bias)
    δ, K, Q    = split(u · x_projᵀ)                       dt_rank, d_state, d_state
    mamba:     Δ = softplus(δ · dt_projᵀ + dt_bias),  A = −exp(A_log)
               v = γv + NS(τΔ⊙u ⊗ K),   h = exp(ΔA)⊙h + v     (τ inside NS)
    longhorn:  dt = sigmoid(δ · dt_projᵀ + dt_bias),  dtn = dt/(1 + dt‖K‖²)
               v = γv + τ·NS(dtn⊙u ⊗ K),  h = (1 − dtn⊗K²)⊙h + v   (τ after NS)
    y          = (hQ + D⊙u) ⊙ SiLU(z)
    out        = y · out_projᵀ                            [B, L, d_model]
    ```

    Without `momentum` and `newton_schulz` it is the plain block (Mamba,
    LongHorn): `h = decay⊙h + τ·X`.

    `vision` is the MambaVision layout of the seed's `MuonMambaVisionMixer`
    and `MuonLonghornVisionMixer` (SEMANTICS.md §3.5): both halves of
    in_proj get their own depthwise conv with bias and SiLU, non-causal
    (PyTorch's `padding='same'`: ⌊(d_conv−1)/2⌋ tokens before, the rest
    after), the scan has no gate, and out_proj reads `cat(y, SiLU(conv_z(z)))`
    (out_proj is [d_model, 2·d_inner]):

    ```
    u  = SiLU(conv_same(x_in; conv) + conv_bias)
    zc = SiLU(conv_same(z; conv_z) + conv_z_bias)
    y  = hQ + D⊙u                       (the scan as above, no gate)
    out = cat(y, zc) · out_projᵀ
    ```

    The Mamba vision block adds dt_bias twice, as the seed (and MambaVision)
    do: `dt_proj(δ)` includes the bias and the scan is given
    `delta_bias = dt_proj.bias` again, so `Δ = softplus(δ·dt_projᵀ +
    2·dt_bias)`. The LongHorn vision block multiplies by the weight only
    and adds the bias once, in the scan. `muonssm-decompose-mixers` rewrites it
    into linalg (projections, conv, gates) and one `muonssm.scan`
    (`decay = mamba|longhorn`, one head with K = d_state, V = d_inner).
    Computed in the accumulation precision (f64 for f64 inputs, else f32);
    the result has the element type of x. The seed's defaults for the Muon
    forms are `momentum = 0.9`, `newton_schulz = <quintic, add,
    eps = 1.0e-07, steps = 1>`, `tau = 1.0`.

    ```mlir
    %y = muonssm.selective_mixer mamba x(%x : tensor<2x64x32xf32>)
        in_proj(%wi : tensor<128x32xf32>)
        conv(%wc : tensor<64x4xf32>, %bc : tensor<64xf32>)
        x_proj(%wx : tensor<34x64xf32>)
        dt_proj(%wd : tensor<64x2xf32>, %bd : tensor<64xf32>)
        A_log(%al : tensor<64x16xf32>) D(%d : tensor<64xf32>)
        out_proj(%wo : tensor<32x64xf32>)
        momentum = 9.000000e-01,
        newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
        tau = 1.000000e+00 -> tensor<2x64x32xf32>
    ```
  }];
  let arguments = (ins
      MuonSSM_SelectiveBackboneAttr:$backbone,
      UnitAttr:$vision,
      MuonSSM_FloatTensor:$x,
      MuonSSM_FloatTensor:$in_proj,
      MuonSSM_FloatTensor:$conv_weight,
      MuonSSM_FloatTensor:$conv_bias,
      Optional<MuonSSM_FloatTensor>:$conv_z_weight,
      Optional<MuonSSM_FloatTensor>:$conv_z_bias,
      MuonSSM_FloatTensor:$x_proj,
      MuonSSM_FloatTensor:$dt_proj,
      MuonSSM_FloatTensor:$dt_bias,
      Optional<MuonSSM_FloatTensor>:$a_log,
      MuonSSM_FloatTensor:$d,
      MuonSSM_FloatTensor:$out_proj,
      OptionalAttr<F64Attr>:$momentum,
      OptionalAttr<MuonSSM_NewtonSchulzAttr>:$newton_schulz,
      F64Attr:$tau);
  let results = (outs MuonSSM_FloatTensor:$out);
  let assemblyFormat = [{
    `` $backbone (`vision` $vision^)? `x` `(` $x `:` type($x) `)`
    `in_proj` `(` $in_proj `:` type($in_proj) `)`
    `conv` `(` $conv_weight `:` type($conv_weight) `,`
               $conv_bias `:` type($conv_bias) `)`
    (`conv_z` `(` $conv_z_weight^ `:` type($conv_z_weight) `,`
                  $conv_z_bias `:` type($conv_z_bias) `)`)?
    `x_proj` `(` $x_proj `:` type($x_proj) `)`
    `dt_proj` `(` $dt_proj `:` type($dt_proj) `,` $dt_bias `:` type($dt_bias) `)`
    (`A_log` `(` $a_log^ `:` type($a_log) `)`)?
    `D` `(` $d `:` type($d) `)`
    `out_proj` `(` $out_proj `:` type($out_proj) `)`
    (`momentum` `=` $momentum^ `,`)?
    (`newton_schulz` `=` $newton_schulz^ `,`)?
    `tau` `=` $tau attr-dict `->` type($out)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// f64 for f64 inputs, else f32.
    ::mlir::FloatType getAccumulationType();
    /// The sizes the operands imply (kDynamic where unknown).
    struct Sizes {
      int64_t batch, length, model, inner, conv, rank, state;
    };
    Sizes getSizes();
  }];
}

def MuonSSM_GatedDeltaNetMixerOp : MuonSSM_Op<"gated_deltanet_mixer", [Pure]> {
  let summary = "a (Muon) Gated DeltaNet layer: projections, short convs, norms, gated output";
  let description = [{
    flash-linear-attention's `GatedDeltaNet` layer as the seed uses it
    (SEMANTICS.md §3.3), H heads of key size K and value size V, for
    x [B, L, d_model]:

    ```
    q, k  = l2norm_head(SiLU(shortconv(x · q_projᵀ))), … k_proj   [B, L, H, K]
    v     = SiLU(shortconv(x · v_projᵀ))                           [B, L, H, V]
    β     = sigmoid(x · b_projᵀ)                                   [B, L, H]
    g     = −exp(A_log) · softplus(x · a_projᵀ + dt_bias)          [B, L, H]
    o     = scan(q, k, v, g, β), scale = K^{-1/2}:
              plain: S = e^g S + k (β(v − (e^g S)ᵀk))ᵀ              (Gated DeltaNet)
              seed:  e = β(v − (e^g S)ᵀk), M = γM + τ k eᵀ, S = e^g S + NS(M)
              paper: M = γM + NS(τ β k vᵀ), S = e^g (I − β k kᵀ) S + M
    out   = (RMSNorm_V(o) · norm_weight · SiLU(x · g_projᵀ)) · o_projᵀ
    ```

    `shortconv` is the causal depthwise conv of width W without bias;
    `l2norm_head(x) = x/√(Σx² + 1e-6)` per head; RMSNorm over each head's V
    values with eps `norm_eps` (1e-5, the seed's; a flash-linear-attention
    checkpoint uses its config's norm_eps). `form = plain` takes neither `momentum` nor
    `newton_schulz`, and `tau = 1` (Gated DeltaNet has no τ); `seed` and
    `paper` need both (the seed's defaults:
    γ = 0.9, τ = 1, `<quintic, add, eps = 1.0e-07, steps = 1>`; the
    paper's NS is `<cubic, max, eps = 1.0e-06, steps = 1>`).
    `muonssm-decompose-mixers` writes it out as linalg + one `muonssm.scan`.

    ```mlir
    %y = muonssm.gated_deltanet_mixer seed x(%x : tensor<2x32x24xf32>)
        q_proj(%wq : tensor<16x24xf32>) k_proj(%wk : tensor<16x24xf32>)
        v_proj(%wv : tensor<32x24xf32>)
        conv(%cq : tensor<16x4xf32>, %ck : tensor<16x4xf32>, %cv : tensor<32x4xf32>)
        b_proj(%wb : tensor<2x24xf32>) a_proj(%wa : tensor<2x24xf32>)
        A_log(%al : tensor<2xf32>) dt_bias(%db : tensor<2xf32>)
        g_proj(%wg : tensor<32x24xf32>) norm(%nw : tensor<16xf32>)
        o_proj(%wo : tensor<24x32xf32>) heads = 2,
        momentum = 9.000000e-01,
        newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
        tau = 1.000000e+00 -> tensor<2x32x24xf32>
    ```
  }];
  let arguments = (ins
      MuonSSM_DeltaNetFormAttr:$form,
      MuonSSM_FloatTensor:$x,
      MuonSSM_FloatTensor:$q_proj,
      MuonSSM_FloatTensor:$k_proj,
      MuonSSM_FloatTensor:$v_proj,
      MuonSSM_FloatTensor:$q_conv,
      MuonSSM_FloatTensor:$k_conv,
      MuonSSM_FloatTensor:$v_conv,
      MuonSSM_FloatTensor:$b_proj,
      MuonSSM_FloatTensor:$a_proj,
      MuonSSM_FloatTensor:$a_log,
      MuonSSM_FloatTensor:$dt_bias,
      MuonSSM_FloatTensor:$g_proj,
      MuonSSM_FloatTensor:$norm_weight,
      MuonSSM_FloatTensor:$o_proj,
      I64Attr:$heads,
      OptionalAttr<F64Attr>:$momentum,
      OptionalAttr<MuonSSM_NewtonSchulzAttr>:$newton_schulz,
      F64Attr:$tau,
      DefaultValuedAttr<F64Attr, "1.0e-05">:$norm_eps);
  let results = (outs MuonSSM_FloatTensor:$out);
  let assemblyFormat = [{
    `` $form `x` `(` $x `:` type($x) `)`
    `q_proj` `(` $q_proj `:` type($q_proj) `)`
    `k_proj` `(` $k_proj `:` type($k_proj) `)`
    `v_proj` `(` $v_proj `:` type($v_proj) `)`
    `conv` `(` $q_conv `:` type($q_conv) `,` $k_conv `:` type($k_conv) `,`
               $v_conv `:` type($v_conv) `)`
    `b_proj` `(` $b_proj `:` type($b_proj) `)`
    `a_proj` `(` $a_proj `:` type($a_proj) `)`
    `A_log` `(` $a_log `:` type($a_log) `)`
    `dt_bias` `(` $dt_bias `:` type($dt_bias) `)`
    `g_proj` `(` $g_proj `:` type($g_proj) `)`
    `norm` `(` $norm_weight `:` type($norm_weight) `)`
    `o_proj` `(` $o_proj `:` type($o_proj) `)`
    `heads` `=` $heads `,`
    (`momentum` `=` $momentum^ `,`)?
    (`newton_schulz` `=` $newton_schulz^ `,`)?
    `tau` `=` $tau (`,` `norm_eps` `=` $norm_eps^)? attr-dict `->` type($out)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// f64 for f64 inputs, else f32.
    ::mlir::FloatType getAccumulationType();
    /// Sizes from the weights (kDynamic where unknown): K and V per head.
    struct Sizes {
      int64_t batch, length, model, heads, key, value, conv;
    };
    Sizes getSizes();
  }];
}

//===----------------------------------------------------------------------===//
// Model layers around the mixers (docs/dialect.md §8). Each computes in the
// accumulation precision (f64 for f64 inputs, else f32), rounds its result
// to the input's element type, and has a float64 oracle for --check;
// muonssm-decompose-mixers writes it out as linalg.
//===----------------------------------------------------------------------===//

def MuonSSM_LinearOp : MuonSSM_Op<"linear", [Pure]> {
  let summary = "y = x · weightᵀ (+ bias) over the last dimension (PyTorch's Linear)";
  let description = [{
    x [..., I] (rank 2 or 3), weight [O, I], optional bias [O] → [..., O].

    ```mlir
    %y = muonssm.linear %x weight(%w : tensor<12x128xf32>)
        bias(%b : tensor<12xf32>) : tensor<2x128xf32> -> tensor<2x12xf32>
    ```
  }];
  let arguments = (ins MuonSSM_FloatTensor:$x, MuonSSM_FloatTensor:$weight,
                       Optional<MuonSSM_FloatTensor>:$bias);
  let results = (outs MuonSSM_FloatTensor:$y);
  let assemblyFormat = [{
    $x `weight` `(` $weight `:` type($weight) `)`
    (`bias` `(` $bias^ `:` type($bias) `)`)? attr-dict
    `:` type($x) `->` type($y)
  }];
  let hasVerifier = 1;
}

def MuonSSM_RMSNormOp : MuonSSM_Op<"rms_norm", [Pure, AllTypesMatch<["x", "y"]>]> {
  let summary = "y = x / √(mean(x²) + eps) · weight over the last dimension";
  let description = [{
    ```mlir
    %y = muonssm.rms_norm %x weight(%w : tensor<128xf32>) eps = 1.0e-05
        : tensor<2x64x128xf32>
    ```
  }];
  let arguments = (ins MuonSSM_FloatTensor:$x, MuonSSM_FloatTensor:$weight,
                       F64Attr:$eps);
  let results = (outs MuonSSM_FloatTensor:$y);
  let assemblyFormat = [{
    $x `weight` `(` $weight `:` type($weight) `)` `eps` `=` $eps attr-dict
    `:` type($x)
  }];
  let hasVerifier = 1;
}

def MuonSSM_Conv1dOp : MuonSSM_Op<"conv1d", [Pure]> {
  let summary = "a 1-D convolution over L, channels last, zero padding, no bias";
  let description = [{
    x [B, L, I], weight [O, I, W] (PyTorch's Conv1d layout) →
    y [B, L + 2·padding − W + 1, O] with
    `y[b,l,o] = Σ_{i,j} weight[o,i,j]·x[b, l − padding + j, i]` (zero outside).

    ```mlir
    %y = muonssm.conv1d %x weight(%w : tensor<128x6x3xf32>) padding = 1
        : tensor<2x512x6xf32> -> tensor<2x512x128xf32>
    ```
  }];
  let arguments = (ins MuonSSM_FloatTensor:$x, MuonSSM_FloatTensor:$weight,
                       I64Attr:$padding);
  let results = (outs MuonSSM_FloatTensor:$y);
  let assemblyFormat = [{
    $x `weight` `(` $weight `:` type($weight) `)` `padding` `=` $padding
    attr-dict `:` type($x) `->` type($y)
  }];
  let hasVerifier = 1;
}

def MuonSSM_BatchNormOp : MuonSSM_Op<"batch_norm", [Pure, AllTypesMatch<["x", "y"]>]> {
  let summary = "inference batch norm over the last dimension, optionally then ReLU";
  let description = [{
    `y = (x − mean)/√(variance + eps)·weight + bias` per channel (the last
    dimension), with the running statistics; `relu` applies max(y, 0) after
    it (Conv1d → BatchNorm1d → ReLU stems).

    ```mlir
    %y = muonssm.batch_norm %x mean(%m : tensor<128xf32>)
        variance(%v : tensor<128xf32>) weight(%g : tensor<128xf32>)
        bias(%b : tensor<128xf32>) eps = 1.0e-05 relu : tensor<2x512x128xf32>
    ```
  }];
  let arguments = (ins MuonSSM_FloatTensor:$x, MuonSSM_FloatTensor:$mean,
                       MuonSSM_FloatTensor:$variance,
                       MuonSSM_FloatTensor:$weight, MuonSSM_FloatTensor:$bias,
                       F64Attr:$eps, UnitAttr:$relu);
  let results = (outs MuonSSM_FloatTensor:$y);
  let assemblyFormat = [{
    $x `mean` `(` $mean `:` type($mean) `)`
    `variance` `(` $variance `:` type($variance) `)`
    `weight` `(` $weight `:` type($weight) `)`
    `bias` `(` $bias `:` type($bias) `)` `eps` `=` $eps (`relu` $relu^)?
    attr-dict `:` type($x)
  }];
  let hasVerifier = 1;
}

def MuonSSM_EmbeddingOp : MuonSSM_Op<"embedding", [Pure]> {
  let summary = "rows of a table by token id: [B, L] ids → [B, L, D]";
  let description = [{
    `y[b,l,:] = table[ids[b,l], :]`. An id outside [0, V) is an error in the
    float64 oracle; compiled code clamps it into the table (never reads
    outside it).

    ```mlir
    %h = muonssm.embedding %ids table(%t : tensor<32000x672xf32>)
        : tensor<1x16xi32> -> tensor<1x16x672xf32>
    ```
  }];
  let arguments = (ins MuonSSM_IndexTensor:$ids, MuonSSM_FloatTensor:$table);
  let results = (outs MuonSSM_FloatTensor:$y);
  let assemblyFormat = [{
    $ids `table` `(` $table `:` type($table) `)` attr-dict
    `:` type($ids) `->` type($y)
  }];
  let hasVerifier = 1;
}

def MuonSSM_SwiGLUOp : MuonSSM_Op<"swiglu", [Pure, AllTypesMatch<["x", "y"]>]> {
  let summary = "the gated MLP: (SiLU(x·gateᵀ) ⊙ x·upᵀ)·downᵀ (LLaMA's, lit_gpt's)";
  let description = [{
    x [..., D], gate and up [F, D], down [D, F], no biases.

    ```mlir
    %y = muonssm.swiglu %x gate(%g : tensor<6144x672xf32>)
        up(%u : tensor<6144x672xf32>) down(%d : tensor<672x6144xf32>)
        : tensor<1x16x672xf32>
    ```
  }];
  let arguments = (ins MuonSSM_FloatTensor:$x, MuonSSM_FloatTensor:$gate,
                       MuonSSM_FloatTensor:$up, MuonSSM_FloatTensor:$down);
  let results = (outs MuonSSM_FloatTensor:$y);
  let assemblyFormat = [{
    $x `gate` `(` $gate `:` type($gate) `)` `up` `(` $up `:` type($up) `)`
    `down` `(` $down `:` type($down) `)` attr-dict `:` type($x)
  }];
  let hasVerifier = 1;
}

def MuonSSM_MeanPoolOp : MuonSSM_Op<"mean_pool", [Pure]> {
  let summary = "the mean over L: [B, L, D] → [B, D]";
  let description = [{
    ```mlir
    %y = muonssm.mean_pool %x : tensor<2x512x128xf32> -> tensor<2x128xf32>
    ```
  }];
  let arguments = (ins MuonSSM_FloatTensor:$x);
  let results = (outs MuonSSM_FloatTensor:$y);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($y)";
  let hasVerifier = 1;
}

def MuonSSM_ChunkNewtonSchulzOp : MuonSSM_Op<"chunk_newton_schulz",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "per-chunk Newton–Schulz of a rank-C update, as effective keys";
  let description = [{
    A named approximation of NS on a rank-1 update, not the seed's model
    (docs/chunking.md §3.2). For each sequence (batch row, or cu_seqlens
    range), value head h (key head ⌊h/(HV/H)⌋) and chunk c of `chunk_size`
    (1 to 1024) tokens counted from the sequence's start (the last may be
    shorter), NS is applied once to the chunk's summed update
    `U_c = τ_in·Σ_{t∈c} k_t w_tᵀ` (`w = β⊙v`), through C×C Gram matrices:
    `τ_out·NS(U_c) = K_cᵀ Z W_c` with `Z` from the Gram iteration. The
    result attributes it to the chunk's tokens as effective keys
    `k̃_t = Σ_{i∈c} Z_{it} k_i` ([B, T, HV, K], the element type of `k`),
    so that `Σ_{t∈c} k̃_t w_tᵀ = τ_out·NS(U_c)`; a scan without NS on
    (k̃, v, β) then carries the chunk's orthogonalised update. With
    `chunk_size = 1` this is exactly the per-token rank-1 NS.

    ```mlir
    %kt = muonssm.chunk_newton_schulz k(%k : tensor<1x64x2x16xf32>)
        v(%v : tensor<1x64x2x16xf32>) beta(%b : tensor<1x64x2xf32>)
        newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
        tau_in = 1.000000e+00, tau_out = 1.000000e+00, chunk_size = 16
        -> tensor<1x64x2x16xf32>
    ```
  }];
  let arguments = (ins
      MuonSSM_FloatTensor:$k,
      MuonSSM_FloatTensor:$v,
      Optional<MuonSSM_FloatTensor>:$beta,
      Optional<MuonSSM_IndexTensor>:$cu_seqlens,
      MuonSSM_NewtonSchulzAttr:$newton_schulz,
      F64Attr:$tau_in,
      F64Attr:$tau_out,
      I64Attr:$chunk_size);
  let results = (outs MuonSSM_FloatTensor:$keys);
  let assemblyFormat = [{
    `k` `(` $k `:` type($k) `)` `v` `(` $v `:` type($v) `)`
    (`beta` `(` $beta^ `:` type($beta) `)`)?
    (`cu_seqlens` `(` $cu_seqlens^ `:` type($cu_seqlens) `)`)?
    `newton_schulz` `=` $newton_schulz `,` `tau_in` `=` $tau_in `,`
    `tau_out` `=` $tau_out `,` `chunk_size` `=` $chunk_size attr-dict
    `->` type($keys)
  }];
  let hasVerifier = 1;
}

def MuonSSM_NewtonSchulzOp : MuonSSM_Op<"newton_schulz",
    [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Newton–Schulz orthogonalisation of the trailing two dimensions";
  let description = [{
    Applies `NS` (see `#muonssm.ns`) to every matrix of the trailing two
    dimensions of `input`, in the accumulation precision (f64 for f64
    tensors, f32 otherwise), and rounds the result to the element type.

    ```mlir
    %y = muonssm.newton_schulz %x <quintic, add, eps = 1.000000e-07, steps = 1>
        : tensor<8x64x128xf32>
    ```
  }];
  let arguments = (ins MuonSSM_FloatTensor:$input,
                       MuonSSM_NewtonSchulzAttr:$config);
  let results = (outs MuonSSM_FloatTensor:$result);
  let assemblyFormat = "$input $config attr-dict `:` type($input)";
  let hasVerifier = 1;
}

#endif // MUONSSM_OPS_TD
