// RUN: muonssm-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of docs/dialect.md §4; each names the rule and
// the offending value.

// q, k, v must have rank 4
func.func @rank(%q: tensor<2x8x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'q' must have rank 4}}
  %o = muonssm.scan q(%q : tensor<2x8x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// q, k and v share one element type
func.func @element_types(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xbf16>) -> tensor<2x8x4x16xbf16> {
  // expected-error @+1 {{q, k and v must share one element type, got 'f32', 'f32' and 'bf16'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xbf16>) 
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xbf16>
  return %o : tensor<2x8x4x16xbf16>
}

// -----

// k has the shape of q
func.func @k_shape(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x8xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'k' (the shape of q) must have shape [B, T, H, K] = [2, 8, 4, 16], got 'tensor<2x8x4x8xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x8xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// v has q's batch and time sizes
func.func @v_time(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x9x4x16xf32>) -> tensor<2x9x4x16xf32> {
  // expected-error @+1 {{v must have the batch and time sizes of q}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x9x4x16xf32>) 
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x9x4x16xf32>
  return %o : tensor<2x9x4x16xf32>
}

// -----

// HV must be a multiple of H
func.func @gqa(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x6x16xf32>) -> tensor<2x8x6x16xf32> {
  // expected-error @+1 {{the number of value heads HV = 6 must be a multiple of the number of key heads H = 4 (GQA)}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x6x16xf32>) 
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x6x16xf32>
  return %o : tensor<2x8x6x16xf32>
}

// -----

// decay = none takes no g
func.func @none_with_g(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %g: tensor<2x8x4xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{decay = none takes no 'g' operand}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) g(%g : tensor<2x8x4xf32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// decay = scalar requires g
func.func @scalar_without_g(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{decay = scalar requires a 'g' operand}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = scalar, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// scalar g is [B, T, HV]
func.func @scalar_g_shape(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %g: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'g' (decay = scalar) must have shape [B, T, HV] = [2, 8, 4], got 'tensor<2x8x4x16xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) g(%g : tensor<2x8x4x16xf32>)
      decay = scalar, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// diagonal g is [B, T, HV, K]
func.func @diagonal_g_shape(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %g: tensor<2x8x4xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'g' (decay = diagonal) must have shape [B, T, HV, K] = [2, 8, 4, 16], got 'tensor<2x8x4xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) g(%g : tensor<2x8x4xf32>)
      decay = diagonal, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// decay = scalar takes no dt
func.func @scalar_with_dt(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %g: tensor<2x8x4xf32>, %dt: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{decay = scalar takes no 'dt' operand}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) g(%g : tensor<2x8x4xf32>) dt(%dt : tensor<2x8x4x16xf32>)
      decay = scalar, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// decay = mamba requires A
func.func @mamba_without_a(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %dt: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{decay = mamba requires a 'A' operand}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) dt(%dt : tensor<2x8x4x16xf32>)
      decay = mamba, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// mamba A is [HV, K, V]
func.func @mamba_a_shape(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %dt: tensor<2x8x4x16xf32>, %a: tensor<16x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'A' (decay = mamba) must have shape [HV, K, V] = [4, 16, 16], got 'tensor<16x16xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) dt(%dt : tensor<2x8x4x16xf32>) A(%a : tensor<16x16xf32>)
      decay = mamba, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// mamba dt is [B, T, HV, V]
func.func @mamba_dt_shape(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %dt: tensor<2x8x4xf32>, %a: tensor<4x16x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'dt' (decay = mamba) must have shape [B, T, HV, V] = [2, 8, 4, 16], got 'tensor<2x8x4xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) dt(%dt : tensor<2x8x4xf32>) A(%a : tensor<4x16x16xf32>)
      decay = mamba, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// decay = mamba takes no g
func.func @mamba_with_g(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %g: tensor<2x8x4xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{decay = mamba takes no 'g' operand}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) g(%g : tensor<2x8x4xf32>)
      decay = mamba, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// longhorn derives its gain and takes no beta
func.func @longhorn_with_beta(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %dt: tensor<2x8x4x16xf32>, %b: tensor<2x8x4xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{decay = longhorn derives the update gain dtn_t = dt_t / (1 + dt_t ‖k_t‖²) itself; it takes no 'beta' operand}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) dt(%dt : tensor<2x8x4x16xf32>) beta(%b : tensor<2x8x4xf32>)
      decay = longhorn, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// decay = longhorn takes no A
func.func @longhorn_with_a(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %dt: tensor<2x8x4x16xf32>, %a: tensor<4x16x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{decay = longhorn takes no 'A' operand}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) dt(%dt : tensor<2x8x4x16xf32>) A(%a : tensor<4x16x16xf32>)
      decay = longhorn, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// longhorn excludes the delta rule
func.func @longhorn_delta_rule(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %dt: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{decay = longhorn already is LongHorn's key-dependent transition (1 − dtn_t k_t²); it cannot be combined with delta_rule}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) dt(%dt : tensor<2x8x4x16xf32>)
      decay = longhorn, input = update, delta_rule = 1.0, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// beta is [B, T, HV] or [B, T, HV, V]
func.func @beta_shape(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %b: tensor<2x8x3xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'beta' (per head) must have shape [B, T, HV] = [2, 8, 4], got 'tensor<2x8x3xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) beta(%b : tensor<2x8x3xf32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// per-channel beta is [B, T, HV, V]
func.func @beta_channel_shape(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %b: tensor<2x8x4x15xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'beta' (per value channel) must have shape [B, T, HV, V] = [2, 8, 4, 16], got 'tensor<2x8x4x15xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) beta(%b : tensor<2x8x4x15xf32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// input = error excludes the delta rule
func.func @error_with_delta_rule(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{input = error already is a delta rule (e_t = β_t(v_t − D(H)ᵀk_t)); it cannot be combined with delta_rule}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = error, delta_rule = 1.0, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// η > 0
func.func @eta_range(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{delta_rule η must be a finite number > 0, got 0}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update, delta_rule = 0.0, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// the delta rule needs β per head
func.func @delta_rule_channel_beta(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %b: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{delta_rule needs β per head ([B, T, HV]); a per-channel β has no rank-1 transition}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) beta(%b : tensor<2x8x4x16xf32>)
      decay = none, input = update, delta_rule = 1.0, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// γ ∈ [0, 1]
func.func @gamma_above(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{momentum γ must lie in [0, 1], got 1.5}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update, momentum = 1.5, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// γ ∈ [0, 1] (negative)
func.func @gamma_below(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{momentum γ must lie in [0, 1], got -1.000000e-01}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update, momentum = -0.1, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// NS on momentum needs momentum
func.func @ns_on_momentum_without_momentum(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{newton_schulz on momentum needs momentum = γ}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// τ > 0
func.func @tau_range(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{tau must be a finite number > 0, got -1}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update, tau = -1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// scale is finite
func.func @scale_finite(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{scale must be finite, got INF}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update, tau = 1.0, scale = 0x7FF0000000000000
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// cu_seqlens is rank 1
func.func @cu_seqlens_rank(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %cu: tensor<2x3xi32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{cu_seqlens must be a rank-1 tensor of N + 1 offsets, got 'tensor<2x3xi32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) cu_seqlens(%cu : tensor<2x3xi32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// cu_seqlens packs into B = 1
func.func @cu_seqlens_batch(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %cu: tensor<3xi32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{cu_seqlens packs all sequences into B = 1, got B = 2}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) cu_seqlens(%cu : tensor<3xi32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// cu_seqlens holds at least 2 offsets
func.func @cu_seqlens_count(%q: tensor<1x8x4x16xf32>, %k: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x16xf32>, %cu: tensor<1xi64>) -> tensor<1x8x4x16xf32> {
  // expected-error @+1 {{cu_seqlens must hold at least 2 offsets, got 'tensor<1xi64>'}}
  %o = muonssm.scan q(%q : tensor<1x8x4x16xf32>) k(%k : tensor<1x8x4x16xf32>) v(%v : tensor<1x8x4x16xf32>) cu_seqlens(%cu : tensor<1xi64>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<1x8x4x16xf32>
  return %o : tensor<1x8x4x16xf32>
}

// -----

// initial_momentum needs momentum
func.func @initial_momentum_without_momentum(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %m0: tensor<2x4x16x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{initial_momentum needs momentum = γ}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) initial_momentum(%m0 : tensor<2x4x16x16xf32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// states have the accumulation type
func.func @state_element_type(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %s0: tensor<2x4x16x16xbf16>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'initial_state' must have the accumulation element type 'f32' (f64 for f64 inputs, else f32), got 'bf16'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) initial_state(%s0 : tensor<2x4x16x16xbf16>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// states are [N, HV, K, V]
func.func @state_shape(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %s0: tensor<3x4x16x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'initial_state' must have shape [N, HV, K, V] = [2, 4, 16, 16], got 'tensor<3x4x16x16xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) initial_state(%s0 : tensor<3x4x16x16xf32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// o has v's element type
func.func @o_element_type(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf16> {
  // expected-error @+1 {{result 'o' must have the element type of v, 'f32', got 'f16'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf16>
  return %o : tensor<2x8x4x16xf16>
}

// -----

// o is [B, T, HV, V]
func.func @o_shape(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x8xf32> {
  // expected-error @+1 {{result 'o' must have shape [B, T, HV, V] = [2, 8, 4, 16], got 'tensor<2x8x4x8xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x8xf32>
  return %o : tensor<2x8x4x8xf32>
}

// -----

// inputs are f16, bf16, f32 or f64
func.func @q_element_type(%q: tensor<2x8x4x16xi32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<2x8x4x16xi32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xi32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) 
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// final_momentum needs momentum
func.func @final_momentum_without_momentum(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x4x16x16xf32> {
  // expected-error @+1 {{result 'final_momentum' needs momentum = γ}}
  %o, %m = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32> final_momentum tensor<2x4x16x16xf32>
  return %m : tensor<2x4x16x16xf32>
}

// -----

// newton_schulz, its target and its τ placement come together (generic form)
func.func @ns_without_target(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{newton_schulz, ns_target and tau_placement come together: all three or none}}
  %o = "muonssm.scan"(%q, %k, %v) <{decay = #muonssm<decay none>, input = #muonssm<input update>, newton_schulz = #muonssm.ns<quintic, add, eps = 1.0e-07, steps = 1>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0>, scale = 1.0 : f64, tau = 1.0 : f64}> : (tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// NS eps > 0
func.func @ns_eps(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{Newton-Schulz eps must be a finite number > 0, got 0}}
  %y = muonssm.newton_schulz %x <quintic, add, eps = 0.0, steps = 1> : tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}

// -----

// NS steps >= 1
func.func @ns_steps(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{Newton-Schulz steps must be >= 1, got 0}}
  %y = muonssm.newton_schulz %x <cubic, max, eps = 1.0e-06, steps = 0> : tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}

// -----

// muonssm.newton_schulz needs a matrix
func.func @ns_rank(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'muonssm.newton_schulz' op input must have rank >= 2 (a batch of matrices), got 'tensor<4xf32>'}}
  %y = muonssm.newton_schulz %x <cubic, max, eps = 1.0e-06, steps = 1> : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// muonssm.newton_schulz keeps its type (generic form)
func.func @ns_result_type(%x: tensor<4x4xf32>) -> tensor<4x4xf16> {
  // expected-error @+1 {{'muonssm.newton_schulz' op failed to verify that all of {input, result} have same type}}
  %y = "muonssm.newton_schulz"(%x) <{config = #muonssm.ns<cubic, max, eps = 1.0e-06, steps = 1>}> : (tensor<4x4xf32>) -> tensor<4x4xf16>
  return %y : tensor<4x4xf16>
}

// -----

// an unknown decay kind is a located parse error
func.func @unknown_decay(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>)
      // expected-error @+2 {{expected ::mlir::muonssm::DecayKind to be one of: none, scalar, diagonal, mamba, longhorn}}
      // expected-error @+1 {{failed to parse MuonSSM_DecayKindAttr parameter 'value'}}
      decay = exponential, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// Mamba's skip D is [HV, V]
func.func @skip_shape(%q: tensor<2x8x1x16xf32>, %v: tensor<2x8x1x32xf32>, %d: tensor<1x16xf32>) -> tensor<2x8x1x32xf32> {
  // expected-error @+1 {{operand 'skip' (D) must have shape [HV, V] = [1, 32], got 'tensor<1x16xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x1x16xf32>) k(%q : tensor<2x8x1x16xf32>) v(%v : tensor<2x8x1x32xf32>) skip(%d : tensor<1x16xf32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x1x32xf32>
  return %o : tensor<2x8x1x32xf32>
}

// -----

// Mamba's gate z is [B, T, HV, V]
func.func @gate_shape(%q: tensor<2x8x1x16xf32>, %v: tensor<2x8x1x32xf32>, %z: tensor<2x7x1x32xf32>) -> tensor<2x8x1x32xf32> {
  // expected-error @+1 {{operand 'gate' (z) must have shape [B, T, HV, V] = [2, 8, 1, 32], got 'tensor<2x7x1x32xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x1x16xf32>) k(%q : tensor<2x8x1x16xf32>) v(%v : tensor<2x8x1x32xf32>) gate(%z : tensor<2x7x1x32xf32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x8x1x32xf32>
  return %o : tensor<2x8x1x32xf32>
}

// -----

// a gain replaces NS on the update
func.func @gain_and_ns(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %gain: tensor<2x8x4xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{a 'gain' operand replaces Newton-Schulz on the update (simplify-newton-schulz); the scan cannot have both}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) gain(%gain : tensor<2x8x4xf32>)
      decay = none, input = update, newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside, tau = 1.0, scale = 1.0
      -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// the gain is [B, T, HV]
func.func @gain_shape(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %gain: tensor<2x8xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{operand 'gain' must have shape [B, T, HV] = [2, 8, 4], got 'tensor<2x8xf32>'}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) gain(%gain : tensor<2x8xf32>)
      decay = none, input = update, tau = 1.0, scale = 1.0 -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// a chunked schedule needs an exact chunked form
func.func @chunked_nonlinear(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  // expected-error @+1 {{a chunked schedule needs an exact chunked form: Newton-Schulz of the whole momentum is nonlinear in the state (muonssm-fuse-newton-schulz gives it a recurrent schedule)}}
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>)
      decay = none, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      schedule = <chunked, 64>, tau = 1.0, scale = 1.0 -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// a chunked schedule has a chunk size >= 1
func.func @chunk_zero(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>)
      decay = none, input = update,
      // expected-error @+1 {{a chunked schedule needs a chunk size >= 1, got 0}}
      schedule = <chunked, 0>, tau = 1.0, scale = 1.0 -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// a recurrent schedule has no chunk size
func.func @recurrent_chunk(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  %o = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>)
      decay = none, input = update,
      // expected-error @+1 {{a recurrent schedule has no chunk size, got 8}}
      schedule = <recurrent, 8>, tau = 1.0, scale = 1.0 -> o tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// rank1_gain: beta or dt, not both
func.func @gain_beta_and_dt(%k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>, %b: tensor<2x8x4xf32>, %dt: tensor<2x8x4x16xf32>) -> tensor<2x8x4xf32> {
  // expected-error @+1 {{takes beta (w = β⊙v) or dt (LongHorn's w = dtn⊙v), not both}}
  %g = muonssm.rank1_gain k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>) beta(%b : tensor<2x8x4xf32>) dt(%dt : tensor<2x8x4x16xf32>)
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>, tau_in = 1.0, tau_out = 1.0 -> tensor<2x8x4xf32>
  return %g : tensor<2x8x4xf32>
}

// -----

// rank1_gain: τ > 0
func.func @gain_tau(%k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4xf32> {
  // expected-error @+1 {{tau_out must be a finite number > 0, got 0}}
  %g = muonssm.rank1_gain k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x4x16xf32>)
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>, tau_in = 1.0, tau_out = 0.0 -> tensor<2x8x4xf32>
  return %g : tensor<2x8x4xf32>
}

// -----

// rank1_gain: the result is [B, T, HV] in the accumulation type
func.func @gain_result(%k: tensor<2x8x4x16xbf16>, %v: tensor<2x8x4x16xbf16>) -> tensor<2x8x4xbf16> {
  // expected-error @+1 {{result must have the accumulation element type 'f32', got 'bf16'}}
  %g = muonssm.rank1_gain k(%k : tensor<2x8x4x16xbf16>) v(%v : tensor<2x8x4x16xbf16>)
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>, tau_in = 1.0, tau_out = 1.0 -> tensor<2x8x4xbf16>
  return %g : tensor<2x8x4xbf16>
}

// -----

// rank1_gain: GQA head counts
func.func @gain_gqa(%k: tensor<2x8x4x16xf32>, %v: tensor<2x8x6x16xf32>) -> tensor<2x8x6xf32> {
  // expected-error @+1 {{the number of value heads HV = 6 must be a multiple of the number of key heads H = 4 (GQA)}}
  %g = muonssm.rank1_gain k(%k : tensor<2x8x4x16xf32>) v(%v : tensor<2x8x6x16xf32>)
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>, tau_in = 1.0, tau_out = 1.0 -> tensor<2x8x6xf32>
  return %g : tensor<2x8x6xf32>
}

// -----

// state_indices selects slots of a pool: it needs the pool
func.func @state_indices_without_pool(%q: tensor<2x1x4x16xf32>, %k: tensor<2x1x4x16xf32>, %v: tensor<2x1x4x16xf32>, %i: tensor<2xi32>) -> tensor<2x1x4x16xf32> {
  // expected-error @+1 {{state_indices selects slots of a state pool: it needs initial_state (the pool)}}
  %o = muonssm.scan q(%q : tensor<2x1x4x16xf32>) k(%k : tensor<2x1x4x16xf32>) v(%v : tensor<2x1x4x16xf32>) state_indices(%i : tensor<2xi32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x1x4x16xf32>
  return %o : tensor<2x1x4x16xf32>
}

// -----

// one slot per sequence
func.func @state_indices_count(%q: tensor<2x1x4x16xf32>, %k: tensor<2x1x4x16xf32>, %v: tensor<2x1x4x16xf32>, %s0: tensor<8x4x16x16xf32>, %i: tensor<3xi32>) -> tensor<2x1x4x16xf32> {
  // expected-error @+1 {{operand 'state_indices' must have shape [N] = [2], got 'tensor<3xi32>'}}
  %o = muonssm.scan q(%q : tensor<2x1x4x16xf32>) k(%k : tensor<2x1x4x16xf32>) v(%v : tensor<2x1x4x16xf32>) initial_state(%s0 : tensor<8x4x16x16xf32>) state_indices(%i : tensor<3xi32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x1x4x16xf32>
  return %o : tensor<2x1x4x16xf32>
}

// -----

// the final state of a pool is the pool
func.func @state_pool_result(%q: tensor<2x1x4x16xf32>, %k: tensor<2x1x4x16xf32>, %v: tensor<2x1x4x16xf32>, %s0: tensor<8x4x16x16xf32>, %i: tensor<2xi32>) -> tensor<2x4x16x16xf32> {
  // expected-error @+1 {{result 'final_state' must have shape [P, HV, K, V] = [8, 4, 16, 16], got 'tensor<2x4x16x16xf32>'}}
  %o, %s = muonssm.scan q(%q : tensor<2x1x4x16xf32>) k(%k : tensor<2x1x4x16xf32>) v(%v : tensor<2x1x4x16xf32>) initial_state(%s0 : tensor<8x4x16x16xf32>) state_indices(%i : tensor<2xi32>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<2x1x4x16xf32> final_state tensor<2x4x16x16xf32>
  return %s : tensor<2x4x16x16xf32>
}

// -----

// a momentum pool is needed to return one
func.func @state_pool_momentum(%q: tensor<2x1x4x16xf32>, %k: tensor<2x1x4x16xf32>, %v: tensor<2x1x4x16xf32>, %s0: tensor<8x4x16x16xf32>, %i: tensor<2xi32>) -> tensor<8x4x16x16xf32> {
  // expected-error @+1 {{state_indices with final_momentum needs initial_momentum (the momentum pool)}}
  %o, %m = muonssm.scan q(%q : tensor<2x1x4x16xf32>) k(%k : tensor<2x1x4x16xf32>) v(%v : tensor<2x1x4x16xf32>) initial_state(%s0 : tensor<8x4x16x16xf32>) state_indices(%i : tensor<2xi32>)
      decay = none, input = update, momentum = 0.5, tau = 1.0, scale = 1.0
      -> o tensor<2x1x4x16xf32> final_momentum tensor<8x4x16x16xf32>
  return %m : tensor<8x4x16x16xf32>
}

// -----

// chunk_newton_schulz: the effective keys are [B, T, HV, K]
func.func @chunk_ns_result_shape(%k: tensor<1x8x1x16xf32>, %v: tensor<1x8x2x4xf32>) -> tensor<1x8x1x16xf32> {
  // expected-error @+1 {{result (effective keys) must have shape [B, T, HV, K] = [1, 8, 2, 16], got 'tensor<1x8x1x16xf32>'}}
  %kt = muonssm.chunk_newton_schulz k(%k : tensor<1x8x1x16xf32>) v(%v : tensor<1x8x2x4xf32>)
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau_in = 1.0, tau_out = 1.0,
      chunk_size = 4 -> tensor<1x8x1x16xf32>
  return %kt : tensor<1x8x1x16xf32>
}

// -----

// chunk_newton_schulz: the keys keep the element type of k
func.func @chunk_ns_result_type(%k: tensor<1x8x1x16xbf16>, %v: tensor<1x8x1x4xbf16>) -> tensor<1x8x1x16xf32> {
  // expected-error @+1 {{result must have the element type of k, 'bf16', got 'f32'}}
  %kt = muonssm.chunk_newton_schulz k(%k : tensor<1x8x1x16xbf16>) v(%v : tensor<1x8x1x4xbf16>)
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau_in = 1.0, tau_out = 1.0,
      chunk_size = 4 -> tensor<1x8x1x16xf32>
  return %kt : tensor<1x8x1x16xf32>
}

// -----

// chunk_newton_schulz: 1 to 1024 tokens per chunk
func.func @chunk_ns_chunk_size(%k: tensor<1x8x1x16xf32>, %v: tensor<1x8x1x4xf32>) -> tensor<1x8x1x16xf32> {
  // expected-error @+1 {{chunk_size must lie in [1, 1024], got 0}}
  %kt = muonssm.chunk_newton_schulz k(%k : tensor<1x8x1x16xf32>) v(%v : tensor<1x8x1x4xf32>)
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau_in = 1.0, tau_out = 1.0,
      chunk_size = 0 -> tensor<1x8x1x16xf32>
  return %kt : tensor<1x8x1x16xf32>
}

// -----

// chunk_newton_schulz: τ > 0
func.func @chunk_ns_tau(%k: tensor<1x8x1x16xf32>, %v: tensor<1x8x1x4xf32>) -> tensor<1x8x1x16xf32> {
  // expected-error @+1 {{tau_in must be a finite number > 0, got -1}}
  %kt = muonssm.chunk_newton_schulz k(%k : tensor<1x8x1x16xf32>) v(%v : tensor<1x8x1x4xf32>)
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau_in = -1.0, tau_out = 1.0,
      chunk_size = 4 -> tensor<1x8x1x16xf32>
  return %kt : tensor<1x8x1x16xf32>
}

// -----

// chunk_newton_schulz: cu_seqlens packs sequences into B = 1
func.func @chunk_ns_varlen_batch(%k: tensor<2x8x1x16xf32>, %v: tensor<2x8x1x4xf32>, %cu: tensor<3xi32>) -> tensor<2x8x1x16xf32> {
  // expected-error @+1 {{cu_seqlens packs all sequences into B = 1, got B = 2}}
  %kt = muonssm.chunk_newton_schulz k(%k : tensor<2x8x1x16xf32>) v(%v : tensor<2x8x1x4xf32>)
      cu_seqlens(%cu : tensor<3xi32>)
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau_in = 1.0, tau_out = 1.0,
      chunk_size = 4 -> tensor<2x8x1x16xf32>
  return %kt : tensor<2x8x1x16xf32>
}

// -----

func.func @chunk_ns_negative_chunk(%k: tensor<1x8x1x16xf32>, %v: tensor<1x8x1x4xf32>) -> tensor<1x8x1x16xf32> {
  // expected-error @+1 {{chunk_size must lie in [1, 1024], got -4}}
  %kt = muonssm.chunk_newton_schulz k(%k : tensor<1x8x1x16xf32>) v(%v : tensor<1x8x1x4xf32>)
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau_in = 1.0, tau_out = 1.0,
      chunk_size = -4 -> tensor<1x8x1x16xf32>
  return %kt : tensor<1x8x1x16xf32>
}

// -----

// selective_mixer: Mamba needs A_log
func.func @mixer_mamba_needs_a_log(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %al: tensor<8x4xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{the mamba block needs A_log (A = −exp(A_log))}}
  %y = muonssm.selective_mixer mamba x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: LongHorn has no A
func.func @mixer_longhorn_takes_no_a_log(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %al: tensor<8x4xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{the longhorn block takes no A_log}}
  %y = muonssm.selective_mixer longhorn x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) A_log(%al : tensor<8x4xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: in_proj is [2·d_inner, d_model]
func.func @mixer_in_proj(%x: tensor<2x10x4xf32>, %wi: tensor<12x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %al: tensor<8x4xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{in_proj must have shape [2·d_inner, d_model] = [16, 4], got 'tensor<12x4xf32>'}}
  %y = muonssm.selective_mixer mamba x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<12x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) A_log(%al : tensor<8x4xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: x_proj rows are dt_rank + 2·d_state
func.func @mixer_x_proj_rows(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<8x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %al: tensor<8x4xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{x_proj must have dt_rank + 2·d_state rows (dt_rank = 1 from dt_proj, d_state ≥ 1), got 8}}
  %y = muonssm.selective_mixer longhorn x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<8x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: one element type
func.func @mixer_element_type(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %al: tensor<8x4xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xbf16>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{out_proj must have the element type of x, 'f32', got 'tensor<4x8xbf16>'}}
  %y = muonssm.selective_mixer mamba x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) A_log(%al : tensor<8x4xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xbf16>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: the vision layout needs the z half's conv
func.func @mixer_vision_needs_conv_z(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %d: tensor<8xf32>, %wo: tensor<4x16xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{the vision layout needs conv_z (the z half's conv)}}
  %y = muonssm.selective_mixer longhorn vision x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x16xf32>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: conv_z without `vision`
func.func @mixer_conv_z_needs_vision(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{conv_z belongs to the vision layout (add `vision`)}}
  %y = muonssm.selective_mixer longhorn x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) conv_z(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>)
      x_proj(%wx : tensor<9x8xf32>) dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: the vision out_proj reads cat(y, z)
func.func @mixer_vision_out_proj(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{out_proj must have shape [d_model, 2·d_inner] = [4, 16], got 'tensor<4x8xf32>'}}
  %y = muonssm.selective_mixer longhorn vision x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) conv_z(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>)
      x_proj(%wx : tensor<9x8xf32>) dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: conv_z has the conv's shape
func.func @mixer_conv_z_shape(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wz: tensor<8x3xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %d: tensor<8xf32>, %wo: tensor<4x16xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{conv_z weight must have shape [d_inner, d_conv] = [8, 4], got 'tensor<8x3xf32>'}}
  %y = muonssm.selective_mixer longhorn vision x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) conv_z(%wz : tensor<8x3xf32>, %bc : tensor<8xf32>)
      x_proj(%wx : tensor<9x8xf32>) dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x16xf32>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: γ in [0, 1]
func.func @mixer_momentum(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %al: tensor<8x4xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{momentum γ must lie in [0, 1], got 1.5}}
  %y = muonssm.selective_mixer mamba x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) A_log(%al : tensor<8x4xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) momentum = 1.5, tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: τ > 0
func.func @mixer_tau(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %al: tensor<8x4xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{tau must be a finite number > 0, got 0}}
  %y = muonssm.selective_mixer mamba x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) A_log(%al : tensor<8x4xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 0.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// selective_mixer: the result is [B, L, d_model]
func.func @mixer_result(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %al: tensor<8x4xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> tensor<2x10x8xf32> {
  // expected-error @+1 {{result must have shape [B, L, d_model] = [2, 10, 4], got 'tensor<2x10x8xf32>'}}
  %y = muonssm.selective_mixer mamba x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) A_log(%al : tensor<8x4xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 1.0 -> tensor<2x10x8xf32>
  return %y : tensor<2x10x8xf32>
}

// -----

// selective_mixer: x is [B, L, d_model]
func.func @mixer_rank(%x: tensor<20x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>, %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>, %al: tensor<8x4xf32>, %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{x must have rank 3 ([B, L, d_model]), got 'tensor<20x4xf32>'}}
  %y = muonssm.selective_mixer mamba x(%x : tensor<20x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) A_log(%al : tensor<8x4xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// gated_deltanet_mixer: form plain (Gated DeltaNet) takes neither momentum nor newton_schulz
func.func @gdn_plain_momentum(%x: tensor<2x6x5xf32>, %wq: tensor<6x5xf32>, %wk: tensor<6x5xf32>, %wv: tensor<8x5xf32>, %cq: tensor<6x2xf32>, %ck: tensor<6x2xf32>, %cv: tensor<8x2xf32>, %wb: tensor<2x5xf32>, %wa: tensor<2x5xf32>, %al: tensor<2xf32>, %db: tensor<2xf32>, %wg: tensor<8x5xf32>, %nw: tensor<4xf32>, %wo: tensor<5x8xf32>) -> tensor<2x6x5xf32> {
  // expected-error @+1 {{form plain (Gated DeltaNet) takes neither momentum nor newton_schulz}}
  %y = muonssm.gated_deltanet_mixer plain x(%x : tensor<2x6x5xf32>) q_proj(%wq : tensor<6x5xf32>)
      k_proj(%wk : tensor<6x5xf32>) v_proj(%wv : tensor<8x5xf32>)
      conv(%cq : tensor<6x2xf32>, %ck : tensor<6x2xf32>, %cv : tensor<8x2xf32>) b_proj(%wb : tensor<2x5xf32>)
      a_proj(%wa : tensor<2x5xf32>) A_log(%al : tensor<2xf32>) dt_bias(%db : tensor<2xf32>) g_proj(%wg : tensor<8x5xf32>)
      norm(%nw : tensor<4xf32>) o_proj(%wo : tensor<5x8xf32>) heads = 2, momentum = 0.9, tau = 1.0 -> tensor<2x6x5xf32>
  return %y : tensor<2x6x5xf32>
}

// -----

// gated_deltanet_mixer: form seed (Muon) needs momentum and newton_schulz
func.func @gdn_seed_needs_ns(%x: tensor<2x6x5xf32>, %wq: tensor<6x5xf32>, %wk: tensor<6x5xf32>, %wv: tensor<8x5xf32>, %cq: tensor<6x2xf32>, %ck: tensor<6x2xf32>, %cv: tensor<8x2xf32>, %wb: tensor<2x5xf32>, %wa: tensor<2x5xf32>, %al: tensor<2xf32>, %db: tensor<2xf32>, %wg: tensor<8x5xf32>, %nw: tensor<4xf32>, %wo: tensor<5x8xf32>) -> tensor<2x6x5xf32> {
  // expected-error @+1 {{form seed (Muon) needs momentum and newton_schulz}}
  %y = muonssm.gated_deltanet_mixer seed x(%x : tensor<2x6x5xf32>) q_proj(%wq : tensor<6x5xf32>)
      k_proj(%wk : tensor<6x5xf32>) v_proj(%wv : tensor<8x5xf32>)
      conv(%cq : tensor<6x2xf32>, %ck : tensor<6x2xf32>, %cv : tensor<8x2xf32>) b_proj(%wb : tensor<2x5xf32>)
      a_proj(%wa : tensor<2x5xf32>) A_log(%al : tensor<2xf32>) dt_bias(%db : tensor<2xf32>) g_proj(%wg : tensor<8x5xf32>)
      norm(%nw : tensor<4xf32>) o_proj(%wo : tensor<5x8xf32>) heads = 2, momentum = 0.9, tau = 1.0 -> tensor<2x6x5xf32>
  return %y : tensor<2x6x5xf32>
}

// -----

// gated_deltanet_mixer: q_proj has 6 rows
func.func @gdn_heads_divide(%x: tensor<2x6x5xf32>, %wq: tensor<6x5xf32>, %wk: tensor<6x5xf32>, %wv: tensor<8x5xf32>, %cq: tensor<6x2xf32>, %ck: tensor<6x2xf32>, %cv: tensor<8x2xf32>, %wb: tensor<2x5xf32>, %wa: tensor<2x5xf32>, %al: tensor<2xf32>, %db: tensor<2xf32>, %wg: tensor<8x5xf32>, %nw: tensor<4xf32>, %wo: tensor<5x8xf32>) -> tensor<2x6x5xf32> {
  // expected-error @+1 {{q_proj has 6 rows, not a positive multiple of heads = 4 (H·K for q, k; H·V for v)}}
  %y = muonssm.gated_deltanet_mixer plain x(%x : tensor<2x6x5xf32>) q_proj(%wq : tensor<6x5xf32>)
      k_proj(%wk : tensor<6x5xf32>) v_proj(%wv : tensor<8x5xf32>)
      conv(%cq : tensor<6x2xf32>, %ck : tensor<6x2xf32>, %cv : tensor<8x2xf32>) b_proj(%wb : tensor<2x5xf32>)
      a_proj(%wa : tensor<2x5xf32>) A_log(%al : tensor<2xf32>) dt_bias(%db : tensor<2xf32>) g_proj(%wg : tensor<8x5xf32>)
      norm(%nw : tensor<4xf32>) o_proj(%wo : tensor<5x8xf32>) heads = 4, tau = 1.0 -> tensor<2x6x5xf32>
  return %y : tensor<2x6x5xf32>
}

// -----

// gated_deltanet_mixer: norm weight must have shape [V] = [4]
func.func @gdn_norm_weight(%x: tensor<2x6x5xf32>, %wq: tensor<6x5xf32>, %wk: tensor<6x5xf32>, %wv: tensor<8x5xf32>, %cq: tensor<6x2xf32>, %ck: tensor<6x2xf32>, %cv: tensor<8x2xf32>, %wb: tensor<2x5xf32>, %wa: tensor<2x5xf32>, %al: tensor<2xf32>, %db: tensor<2xf32>, %wg: tensor<8x5xf32>, %nw: tensor<8xf32>, %wo: tensor<5x8xf32>) -> tensor<2x6x5xf32> {
  // expected-error @+1 {{norm weight must have shape [V] = [4], got 'tensor<8xf32>'}}
  %y = muonssm.gated_deltanet_mixer plain x(%x : tensor<2x6x5xf32>) q_proj(%wq : tensor<6x5xf32>)
      k_proj(%wk : tensor<6x5xf32>) v_proj(%wv : tensor<8x5xf32>)
      conv(%cq : tensor<6x2xf32>, %ck : tensor<6x2xf32>, %cv : tensor<8x2xf32>) b_proj(%wb : tensor<2x5xf32>)
      a_proj(%wa : tensor<2x5xf32>) A_log(%al : tensor<2xf32>) dt_bias(%db : tensor<2xf32>) g_proj(%wg : tensor<8x5xf32>)
      norm(%nw : tensor<8xf32>) o_proj(%wo : tensor<5x8xf32>) heads = 2, tau = 1.0 -> tensor<2x6x5xf32>
  return %y : tensor<2x6x5xf32>
}

// -----

// gated_deltanet_mixer: b_proj must have shape [H
func.func @gdn_b_proj(%x: tensor<2x6x5xf32>, %wq: tensor<6x5xf32>, %wk: tensor<6x5xf32>, %wv: tensor<8x5xf32>, %cq: tensor<6x2xf32>, %ck: tensor<6x2xf32>, %cv: tensor<8x2xf32>, %wb: tensor<3x5xf32>, %wa: tensor<2x5xf32>, %al: tensor<2xf32>, %db: tensor<2xf32>, %wg: tensor<8x5xf32>, %nw: tensor<4xf32>, %wo: tensor<5x8xf32>) -> tensor<2x6x5xf32> {
  // expected-error @+1 {{b_proj must have shape [H, d_model] = [2, 5], got 'tensor<3x5xf32>'}}
  %y = muonssm.gated_deltanet_mixer plain x(%x : tensor<2x6x5xf32>) q_proj(%wq : tensor<6x5xf32>)
      k_proj(%wk : tensor<6x5xf32>) v_proj(%wv : tensor<8x5xf32>)
      conv(%cq : tensor<6x2xf32>, %ck : tensor<6x2xf32>, %cv : tensor<8x2xf32>) b_proj(%wb : tensor<3x5xf32>)
      a_proj(%wa : tensor<2x5xf32>) A_log(%al : tensor<2xf32>) dt_bias(%db : tensor<2xf32>) g_proj(%wg : tensor<8x5xf32>)
      norm(%nw : tensor<4xf32>) o_proj(%wo : tensor<5x8xf32>) heads = 2, tau = 1.0 -> tensor<2x6x5xf32>
  return %y : tensor<2x6x5xf32>
}

// -----

// gated_deltanet_mixer: plain has no τ
func.func @gdn_plain_tau(%x: tensor<2x6x5xf32>, %wq: tensor<6x5xf32>, %wk: tensor<6x5xf32>, %wv: tensor<8x5xf32>, %cq: tensor<6x2xf32>, %ck: tensor<6x2xf32>, %cv: tensor<8x2xf32>, %wb: tensor<2x5xf32>, %wa: tensor<2x5xf32>, %al: tensor<2xf32>, %db: tensor<2xf32>, %wg: tensor<8x5xf32>, %nw: tensor<4xf32>, %wo: tensor<5x8xf32>) -> tensor<2x6x5xf32> {
  // expected-error @+1 {{form plain (Gated DeltaNet) has no τ: tau must be 1, got 5.000000e-01}}
  %y = muonssm.gated_deltanet_mixer plain x(%x : tensor<2x6x5xf32>) q_proj(%wq : tensor<6x5xf32>)
      k_proj(%wk : tensor<6x5xf32>) v_proj(%wv : tensor<8x5xf32>)
      conv(%cq : tensor<6x2xf32>, %ck : tensor<6x2xf32>, %cv : tensor<8x2xf32>) b_proj(%wb : tensor<2x5xf32>)
      a_proj(%wa : tensor<2x5xf32>) A_log(%al : tensor<2xf32>) dt_bias(%db : tensor<2xf32>) g_proj(%wg : tensor<8x5xf32>)
      norm(%nw : tensor<4xf32>) o_proj(%wo : tensor<5x8xf32>) heads = 2, tau = 0.5 -> tensor<2x6x5xf32>
  return %y : tensor<2x6x5xf32>
}

// -----

// linear: weight is [out, in]
func.func @linear_weight(%x: tensor<2x8xf32>, %w: tensor<3x7xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{weight must have shape [out, in] = [3, 8], got 'tensor<3x7xf32>'}}
  %y = muonssm.linear %x weight(%w : tensor<3x7xf32>) : tensor<2x8xf32> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// linear: x of rank 2 or 3
func.func @linear_rank(%x: tensor<8xf32>, %w: tensor<3x8xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{x must have rank 2 or 3 ([..., in]), got 'tensor<8xf32>'}}
  %y = muonssm.linear %x weight(%w : tensor<3x8xf32>) : tensor<8xf32> -> tensor<3xf32>
  return %y : tensor<3xf32>
}

// -----

// rms_norm: eps > 0
func.func @rms_norm_eps(%x: tensor<2x4x8xf32>, %w: tensor<8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{eps must be a finite number > 0, got 0}}
  %y = muonssm.rms_norm %x weight(%w : tensor<8xf32>) eps = 0.0 : tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// -----

// conv1d: a non-empty output
func.func @conv1d_empty(%x: tensor<1x2x6xf32>, %w: tensor<4x6x5xf32>) -> tensor<1x1x4xf32> {
  // expected-error @+1 {{the output would be empty: L + 2·padding − W + 1 = -2}}
  %y = muonssm.conv1d %x weight(%w : tensor<4x6x5xf32>) padding = 0 : tensor<1x2x6xf32> -> tensor<1x1x4xf32>
  return %y : tensor<1x1x4xf32>
}

// -----

// conv1d: weight [out, in, W]
func.func @conv1d_channels(%x: tensor<1x8x6xf32>, %w: tensor<4x5x3xf32>) -> tensor<1x8x4xf32> {
  // expected-error @+1 {{weight must have shape [out, in, W] = [4, 6, 3], got 'tensor<4x5x3xf32>'}}
  %y = muonssm.conv1d %x weight(%w : tensor<4x5x3xf32>) padding = 1 : tensor<1x8x6xf32> -> tensor<1x8x4xf32>
  return %y : tensor<1x8x4xf32>
}

// -----

// batch_norm: per-channel statistics
func.func @batch_norm_channels(%x: tensor<1x8x4xf32>, %c: tensor<4xf32>, %d: tensor<3xf32>) -> tensor<1x8x4xf32> {
  // expected-error @+1 {{variance must have shape [C] = [4], got 'tensor<3xf32>'}}
  %y = muonssm.batch_norm %x mean(%c : tensor<4xf32>) variance(%d : tensor<3xf32>) weight(%c : tensor<4xf32>) bias(%c : tensor<4xf32>) eps = 1.0e-05 : tensor<1x8x4xf32>
  return %y : tensor<1x8x4xf32>
}

// -----

// mean_pool: [B, L, D] → [B, D]
func.func @mean_pool_result(%x: tensor<2x8x4xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{result must have shape [B, D] = [2, 4], got 'tensor<2x8xf32>'}}
  %y = muonssm.mean_pool %x : tensor<2x8x4xf32> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// model layers: one element type
func.func @layer_element_type(%x: tensor<2x8xf32>, %w: tensor<3x8xbf16>) -> tensor<2x3xf32> {
  // expected-error @+1 {{every operand and the result must have the element type of the input, 'f32'; got 'tensor<3x8xbf16>'}}
  %y = muonssm.linear %x weight(%w : tensor<3x8xbf16>) : tensor<2x8xf32> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// embedding: ids [B, L], table [V, D]
func.func @embedding_ids(%ids: tensor<8xi32>, %t: tensor<50x16xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{ids must be [B, L] and the table [V, D], got 'tensor<8xi32>' and 'tensor<50x16xf32>'}}
  %y = muonssm.embedding %ids table(%t : tensor<50x16xf32>) : tensor<8xi32> -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

// swiglu: down is [D, F]
func.func @swiglu_down(%x: tensor<2x4x16xf32>, %g: tensor<32x16xf32>, %d: tensor<32x16xf32>) -> tensor<2x4x16xf32> {
  // expected-error @+1 {{down must have shape [D, F] = [16, 32], got 'tensor<32x16xf32>'}}
  %y = muonssm.swiglu %x gate(%g : tensor<32x16xf32>) up(%g : tensor<32x16xf32>) down(%d : tensor<32x16xf32>) : tensor<2x4x16xf32>
  return %y : tensor<2x4x16xf32>
}

// -----

// Discardable muonssm.* attributes: a misspelt one is an error, not ignored
// (an argument named by it would be drawn at random instead of read).
// expected-error @+1 {{argument 2: unknown attribute 'muonssm.nmae' (known: muonssm.name on arguments and results; muonssm.arg on arguments; muonssm.products and muonssm.reference on operations)}}
func.func @misspelt_name(%q: tensor<2xf32> {muonssm.name = "q"},
                         %k: tensor<2xf32> {muonssm.name = "k"},
                         %v: tensor<2xf32> {muonssm.nmae = "v"}) {
  return
}

// -----

// expected-error @+1 {{argument 0: 'muonssm.name' must be a string, got 3 : i64}}
func.func @name_not_a_string(%q: tensor<2xf32> {muonssm.name = 3}) {
  return
}

// -----

// expected-error @+1 {{result 0: 'muonssm.name' = "o/x" must be a non-empty name without '/' or NUL (it names the tensor's .npy file)}}
func.func @name_with_a_slash(%q: tensor<2xf32>) -> (tensor<2xf32> {muonssm.name = "o/x"}) {
  return %q : tensor<2xf32>
}

// -----

// expected-error @+1 {{result 0: unknown attribute 'muonssm.arg'}}
func.func @arg_on_a_result(%q: tensor<2xf32>) -> (tensor<2xf32> {muonssm.arg = "q"}) {
  return %q : tensor<2xf32>
}

// -----

// expected-error @+1 {{'muonssm.reference' must be a string, got 1 : i64}}
func.func @reference_not_a_string() attributes {muonssm.reference = 1} {
  return
}

// -----

func.func @unknown_op_attribute() {
  // expected-error @+1 {{unknown attribute 'muonssm.chunk'}}
  func.return {muonssm.chunk = 64 : i64}
}
