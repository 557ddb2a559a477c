// RUN: muonssm-opt %s -split-input-file | muonssm-opt -split-input-file | FileCheck %s
// RUN: muonssm-opt %s -split-input-file --mlir-print-op-generic | muonssm-opt -split-input-file | FileCheck %s

// Every form of muonssm.scan and muonssm.newton_schulz prints and parses back,
// in the custom and in the generic form.

// CHECK-LABEL: func.func @gated_deltanet
// CHECK: muonssm.scan q(%{{.*}} : tensor<2x8x4x16xf32>) k(%{{.*}} : tensor<2x8x4x16xf32>) v(%{{.*}} : tensor<2x8x4x16xf32>) g(%{{.*}} : tensor<2x8x4xf32>) beta(%{{.*}} : tensor<2x8x4xf32>)
// CHECK-SAME: decay = scalar, input = update, delta_rule = 1.000000e+00, tau = 1.000000e+00, scale = 2.500000e-01
// CHECK-SAME: -> o tensor<2x8x4x16xf32> final_state tensor<2x4x16x16xf32>
func.func @gated_deltanet(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>,
    %v: tensor<2x8x4x16xf32>, %g: tensor<2x8x4xf32>, %b: tensor<2x8x4xf32>)
    -> (tensor<2x8x4x16xf32>, tensor<2x4x16x16xf32>) {
  %o, %s = muonssm.scan q(%q : tensor<2x8x4x16xf32>) k(%k : tensor<2x8x4x16xf32>)
      v(%v : tensor<2x8x4x16xf32>) g(%g : tensor<2x8x4xf32>) beta(%b : tensor<2x8x4xf32>)
      decay = scalar, input = update, delta_rule = 1.0, tau = 1.0, scale = 0.25
      -> o tensor<2x8x4x16xf32> final_state tensor<2x4x16x16xf32>
  return %o, %s : tensor<2x8x4x16xf32>, tensor<2x4x16x16xf32>
}

// -----

// CHECK-LABEL: func.func @seed_muon_gdn
// CHECK: decay = scalar, input = error, momentum = 9.000000e-01, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside, tau = 1.000000e+00
// CHECK-SAME: -> o tensor<1x8x2x32xbf16> final_state tensor<1x2x16x32xf32> final_momentum tensor<1x2x16x32xf32>
func.func @seed_muon_gdn(%q: tensor<1x8x2x16xbf16>, %k: tensor<1x8x2x16xbf16>,
    %v: tensor<1x8x2x32xbf16>, %g: tensor<1x8x2xf32>, %b: tensor<1x8x2xbf16>,
    %s0: tensor<1x2x16x32xf32>, %m0: tensor<1x2x16x32xf32>)
    -> (tensor<1x8x2x32xbf16>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>) {
  %o, %s, %m = muonssm.scan q(%q : tensor<1x8x2x16xbf16>) k(%k : tensor<1x8x2x16xbf16>)
      v(%v : tensor<1x8x2x32xbf16>) g(%g : tensor<1x8x2xf32>) beta(%b : tensor<1x8x2xbf16>)
      initial_state(%s0 : tensor<1x2x16x32xf32>) initial_momentum(%m0 : tensor<1x2x16x32xf32>)
      decay = scalar, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 0.25
      -> o tensor<1x8x2x32xbf16> final_state tensor<1x2x16x32xf32>
         final_momentum tensor<1x2x16x32xf32>
  return %o, %s, %m : tensor<1x8x2x32xbf16>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>
}

// -----

// CHECK-LABEL: func.func @paper_cubic_gqa
// CHECK: newton_schulz = <cubic, max, eps = 1.0e-06, steps = 3> on update with tau inside
func.func @paper_cubic_gqa(%q: tensor<1x8x2x16xf64>, %k: tensor<1x8x2x16xf64>,
    %v: tensor<1x8x6x8xf64>, %g: tensor<1x8x6x16xf64>, %b: tensor<1x8x6xf64>)
    -> tensor<1x8x6x8xf64> {
  %o = muonssm.scan q(%q : tensor<1x8x2x16xf64>) k(%k : tensor<1x8x2x16xf64>)
      v(%v : tensor<1x8x6x8xf64>) g(%g : tensor<1x8x6x16xf64>) beta(%b : tensor<1x8x6xf64>)
      decay = diagonal, input = update, delta_rule = 0.5, momentum = 0.0,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 3> on update with tau inside,
      tau = 2.5, scale = 1.0
      -> o tensor<1x8x6x8xf64>
  return %o : tensor<1x8x6x8xf64>
}

// -----

// CHECK-LABEL: func.func @mamba
// CHECK: dt(%{{.*}} : tensor<2x8x1x32xf32>) A(%{{.*}} : tensor<1x4x32xf32>) beta(%{{.*}} : tensor<2x8x1x32xf32>)
// CHECK-SAME: decay = mamba
func.func @mamba(%c: tensor<2x8x1x4xf32>, %bm: tensor<2x8x1x4xf32>, %u: tensor<2x8x1x32xf32>,
    %d: tensor<2x8x1x32xf32>, %a: tensor<1x4x32xf32>) -> tensor<2x8x1x32xf32> {
  %o = muonssm.scan q(%c : tensor<2x8x1x4xf32>) k(%bm : tensor<2x8x1x4xf32>)
      v(%u : tensor<2x8x1x32xf32>) dt(%d : tensor<2x8x1x32xf32>) A(%a : tensor<1x4x32xf32>)
      beta(%d : tensor<2x8x1x32xf32>)
      decay = mamba, input = update, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0
      -> o tensor<2x8x1x32xf32>
  return %o : tensor<2x8x1x32xf32>
}

// -----

// CHECK-LABEL: func.func @longhorn_dynamic
// CHECK: decay = longhorn, input = update, momentum = 0.98999999999999999, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 2> on update with tau after, tau = 6.000000e-01
// CHECK-SAME: -> o tensor<?x?x1x32xf16>
func.func @longhorn_dynamic(%qq: tensor<?x?x1x4xf16>, %kk: tensor<?x?x1x4xf16>,
    %u: tensor<?x?x1x32xf16>, %dt: tensor<?x?x1x32xf32>) -> tensor<?x?x1x32xf16> {
  %o = muonssm.scan q(%qq : tensor<?x?x1x4xf16>) k(%kk : tensor<?x?x1x4xf16>)
      v(%u : tensor<?x?x1x32xf16>) dt(%dt : tensor<?x?x1x32xf32>)
      decay = longhorn, input = update, momentum = 0.99,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 2> on update with tau after,
      tau = 0.6, scale = 1.0
      -> o tensor<?x?x1x32xf16>
  return %o : tensor<?x?x1x32xf16>
}

// -----

// CHECK-LABEL: func.func @varlen
// CHECK: cu_seqlens(%{{.*}} : tensor<4xi32>) initial_state(%{{.*}} : tensor<3x2x8x8xf32>)
// CHECK-SAME: decay = none, input = update, tau = 1.000000e+00, scale = -5.000000e-01
func.func @varlen(%q: tensor<1x20x2x8xf32>, %k: tensor<1x20x2x8xf32>,
    %v: tensor<1x20x2x8xf32>, %cu: tensor<4xi32>, %s0: tensor<3x2x8x8xf32>)
    -> (tensor<1x20x2x8xf32>, tensor<3x2x8x8xf32>) {
  %o, %s = muonssm.scan q(%q : tensor<1x20x2x8xf32>) k(%k : tensor<1x20x2x8xf32>)
      v(%v : tensor<1x20x2x8xf32>) cu_seqlens(%cu : tensor<4xi32>)
      initial_state(%s0 : tensor<3x2x8x8xf32>)
      decay = none, input = update, tau = 1.0, scale = -0.5
      -> o tensor<1x20x2x8xf32> final_state tensor<3x2x8x8xf32>
  return %o, %s : tensor<1x20x2x8xf32>, tensor<3x2x8x8xf32>
}

// -----

// A state pool of 16 slots: three sequences pick theirs with state_indices.
// CHECK-LABEL: func.func @state_pool
// CHECK: initial_state(%{{.*}} : tensor<16x2x8x8xf32>) initial_momentum(%{{.*}} : tensor<16x2x8x8xf32>) state_indices(%{{.*}} : tensor<3xi32>)
// CHECK-SAME: -> o tensor<3x1x2x8xf32> final_state tensor<16x2x8x8xf32> final_momentum tensor<16x2x8x8xf32>
func.func @state_pool(%q: tensor<3x1x2x8xf32>, %k: tensor<3x1x2x8xf32>,
    %v: tensor<3x1x2x8xf32>, %s0: tensor<16x2x8x8xf32>, %m0: tensor<16x2x8x8xf32>,
    %slots: tensor<3xi32>)
    -> (tensor<3x1x2x8xf32>, tensor<16x2x8x8xf32>, tensor<16x2x8x8xf32>) {
  %o, %s, %m = muonssm.scan q(%q : tensor<3x1x2x8xf32>) k(%k : tensor<3x1x2x8xf32>)
      v(%v : tensor<3x1x2x8xf32>) initial_state(%s0 : tensor<16x2x8x8xf32>)
      initial_momentum(%m0 : tensor<16x2x8x8xf32>) state_indices(%slots : tensor<3xi32>)
      decay = none, input = update, momentum = 0.5, tau = 1.0, scale = 1.0
      -> o tensor<3x1x2x8xf32> final_state tensor<16x2x8x8xf32>
         final_momentum tensor<16x2x8x8xf32>
  return %o, %s, %m : tensor<3x1x2x8xf32>, tensor<16x2x8x8xf32>, tensor<16x2x8x8xf32>
}

// -----

// CHECK-LABEL: func.func @newton_schulz
// CHECK: muonssm.newton_schulz %{{.*}} <quintic, add, eps = 1.0e-07, steps = 1> : tensor<3x4x5xf32>
// CHECK: muonssm.newton_schulz %{{.*}} <cubic, max, eps = 1.234e-05, steps = 4> : tensor<?x6xbf16>
func.func @newton_schulz(%x: tensor<3x4x5xf32>, %y: tensor<?x6xbf16>)
    -> (tensor<3x4x5xf32>, tensor<?x6xbf16>) {
  %a = muonssm.newton_schulz %x <quintic, add, eps = 1.0e-07, steps = 1> : tensor<3x4x5xf32>
  %b = muonssm.newton_schulz %y <cubic, max, eps = 1.234e-05, steps = 4> : tensor<?x6xbf16>
  return %a, %b : tensor<3x4x5xf32>, tensor<?x6xbf16>
}

// -----

// CHECK-LABEL: func.func @skip_and_gate
// CHECK: muonssm.scan {{.*}} skip(%{{.*}} : tensor<1x32xf32>) gate(%{{.*}} : tensor<2x8x1x32xbf16>) decay = mamba
func.func @skip_and_gate(%c: tensor<2x8x1x16xbf16>, %u: tensor<2x8x1x32xbf16>,
    %dt: tensor<2x8x1x32xf32>, %a: tensor<1x16x32xf32>, %d: tensor<1x32xf32>,
    %z: tensor<2x8x1x32xbf16>) -> tensor<2x8x1x32xbf16> {
  %o = muonssm.scan q(%c : tensor<2x8x1x16xbf16>) k(%c : tensor<2x8x1x16xbf16>)
      v(%u : tensor<2x8x1x32xbf16>) dt(%dt : tensor<2x8x1x32xf32>) A(%a : tensor<1x16x32xf32>)
      skip(%d : tensor<1x32xf32>) gate(%z : tensor<2x8x1x32xbf16>)
      decay = mamba, input = update, tau = 1.0, scale = 1.0 -> o tensor<2x8x1x32xbf16>
  return %o : tensor<2x8x1x32xbf16>
}

// -----

// CHECK-LABEL: func.func @gain_and_schedules
// CHECK: %[[G:.*]] = muonssm.rank1_gain k(%{{.*}} : tensor<1x8x2x16xf32>) v(%{{.*}} : tensor<1x8x2x16xf32>) dt(%{{.*}} : tensor<1x8x2x16xf32>) newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau_in = 1.000000e+00, tau_out = 6.000000e-01 -> tensor<1x8x2xf32>
// CHECK: gain(%[[G]] : tensor<1x8x2xf32>) decay = longhorn, input = update, momentum = 9.000000e-01, schedule = <chunked, 32>, tau
// CHECK: schedule = <recurrent>, tau
func.func @gain_and_schedules(%q: tensor<1x8x2x16xf32>, %k: tensor<1x8x2x16xf32>,
    %v: tensor<1x8x2x16xf32>, %dt: tensor<1x8x2x16xf32>)
    -> (tensor<1x8x2x16xf32>, tensor<1x8x2x16xf32>) {
  %g = muonssm.rank1_gain k(%k : tensor<1x8x2x16xf32>) v(%v : tensor<1x8x2x16xf32>)
      dt(%dt : tensor<1x8x2x16xf32>) newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau_in = 1.0, tau_out = 0.6 -> tensor<1x8x2xf32>
  %o = muonssm.scan q(%q : tensor<1x8x2x16xf32>) k(%k : tensor<1x8x2x16xf32>)
      v(%v : tensor<1x8x2x16xf32>) dt(%dt : tensor<1x8x2x16xf32>) gain(%g : tensor<1x8x2xf32>)
      decay = longhorn, input = update, momentum = 0.9, schedule = <chunked, 32>,
      tau = 1.0, scale = 1.0 -> o tensor<1x8x2x16xf32>
  %o2 = muonssm.scan q(%q : tensor<1x8x2x16xf32>) k(%k : tensor<1x8x2x16xf32>)
      v(%v : tensor<1x8x2x16xf32>) decay = none, input = update, schedule = <recurrent>,
      tau = 1.0, scale = 1.0 -> o tensor<1x8x2x16xf32>
  return %o, %o2 : tensor<1x8x2x16xf32>, tensor<1x8x2x16xf32>
}

// -----

// CHECK-LABEL: func.func @chunk_newton_schulz
// CHECK: muonssm.chunk_newton_schulz k(%{{.*}} : tensor<1x40x1x16xbf16>) v(%{{.*}} : tensor<1x40x2x8xbf16>) beta(%{{.*}} : tensor<1x40x2x8xbf16>) cu_seqlens(%{{.*}} : tensor<3xi64>) newton_schulz = <cubic, max, eps = 1.0e-06, steps = 2>, tau_in = 1.000000e+00, tau_out = 6.000000e-01, chunk_size = 32 -> tensor<1x40x2x16xbf16>
func.func @chunk_newton_schulz(%k: tensor<1x40x1x16xbf16>, %v: tensor<1x40x2x8xbf16>,
    %b: tensor<1x40x2x8xbf16>, %cu: tensor<3xi64>) -> tensor<1x40x2x16xbf16> {
  %kt = muonssm.chunk_newton_schulz k(%k : tensor<1x40x1x16xbf16>) v(%v : tensor<1x40x2x8xbf16>)
      beta(%b : tensor<1x40x2x8xbf16>) cu_seqlens(%cu : tensor<3xi64>)
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 2>,
      tau_in = 1.0, tau_out = 0.6, chunk_size = 32 -> tensor<1x40x2x16xbf16>
  return %kt : tensor<1x40x2x16xbf16>
}

// -----

// CHECK-LABEL: func.func @selective_mixers
// CHECK: muonssm.selective_mixer mamba x(%{{.*}} : tensor<2x10x4xbf16>) in_proj(%{{.*}} : tensor<16x4xbf16>) conv(%{{.*}} : tensor<8x4xbf16>, %{{.*}} : tensor<8xbf16>) x_proj(%{{.*}} : tensor<9x8xbf16>) dt_proj(%{{.*}} : tensor<8x1xbf16>, %{{.*}} : tensor<8xbf16>) A_log(%{{.*}} : tensor<8x4xbf16>) D(%{{.*}} : tensor<8xbf16>) out_proj(%{{.*}} : tensor<4x8xbf16>) momentum = 9.000000e-01, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau = 1.000000e+00 -> tensor<2x10x4xbf16>
// CHECK: muonssm.selective_mixer longhorn x(%{{.*}} : tensor<2x10x4xbf16>) {{.*}} D(%{{.*}} : tensor<8xbf16>) out_proj(%{{.*}} : tensor<4x8xbf16>) tau = 1.000000e+00 -> tensor<2x10x4xbf16>
func.func @selective_mixers(%x: tensor<2x10x4xbf16>, %wi: tensor<16x4xbf16>, %wc: tensor<8x4xbf16>,
    %bc: tensor<8xbf16>, %wx: tensor<9x8xbf16>, %wd: tensor<8x1xbf16>, %bd: tensor<8xbf16>,
    %al: tensor<8x4xbf16>, %d: tensor<8xbf16>, %wo: tensor<4x8xbf16>) -> (tensor<2x10x4xbf16>, tensor<2x10x4xbf16>) {
  %y = muonssm.selective_mixer mamba x(%x : tensor<2x10x4xbf16>) in_proj(%wi : tensor<16x4xbf16>)
      conv(%wc : tensor<8x4xbf16>, %bc : tensor<8xbf16>) x_proj(%wx : tensor<9x8xbf16>)
      dt_proj(%wd : tensor<8x1xbf16>, %bd : tensor<8xbf16>) A_log(%al : tensor<8x4xbf16>)
      D(%d : tensor<8xbf16>) out_proj(%wo : tensor<4x8xbf16>)
      momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau = 1.0 -> tensor<2x10x4xbf16>
  %p = muonssm.selective_mixer longhorn x(%x : tensor<2x10x4xbf16>) in_proj(%wi : tensor<16x4xbf16>)
      conv(%wc : tensor<8x4xbf16>, %bc : tensor<8xbf16>) x_proj(%wx : tensor<9x8xbf16>)
      dt_proj(%wd : tensor<8x1xbf16>, %bd : tensor<8xbf16>)
      D(%d : tensor<8xbf16>) out_proj(%wo : tensor<4x8xbf16>) tau = 1.0 -> tensor<2x10x4xbf16>
  return %y, %p : tensor<2x10x4xbf16>, tensor<2x10x4xbf16>
}

// -----

// CHECK-LABEL: func.func @vision_mixer
// CHECK: muonssm.selective_mixer mamba vision x(%{{.*}} : tensor<2x10x4xf32>) in_proj(%{{.*}} : tensor<16x4xf32>) conv(%{{.*}} : tensor<8x4xf32>, %{{.*}} : tensor<8xf32>) conv_z(%{{.*}} : tensor<8x4xf32>, %{{.*}} : tensor<8xf32>) x_proj(%{{.*}} : tensor<9x8xf32>) {{.*}} out_proj(%{{.*}} : tensor<4x16xf32>) momentum = 9.000000e-01, {{.*}} -> tensor<2x10x4xf32>
func.func @vision_mixer(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>,
    %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>,
    %al: tensor<8x4xf32>, %d: tensor<8xf32>, %wo: tensor<4x16xf32>) -> tensor<2x10x4xf32> {
  %y = muonssm.selective_mixer mamba vision x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) conv_z(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>)
      x_proj(%wx : tensor<9x8xf32>) dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>)
      A_log(%al : tensor<8x4xf32>) D(%d : tensor<8xf32>) out_proj(%wo : tensor<4x16xf32>)
      momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// CHECK-LABEL: func.func @gated_deltanet_mixers
// CHECK: muonssm.gated_deltanet_mixer seed x(%{{.*}} : tensor<2x6x5xbf16>) q_proj(%{{.*}} : tensor<6x5xbf16>) {{.*}} norm(%{{.*}} : tensor<4xbf16>) o_proj(%{{.*}} : tensor<5x8xbf16>) heads = 2, momentum = 9.000000e-01, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau = 1.000000e+00 -> tensor<2x6x5xbf16>
// CHECK: muonssm.gated_deltanet_mixer plain {{.*}} heads = 2, tau = 1.000000e+00 -> tensor<2x6x5xbf16>
func.func @gated_deltanet_mixers(%x: tensor<2x6x5xbf16>, %wq: tensor<6x5xbf16>, %wk: tensor<6x5xbf16>, %wv: tensor<8x5xbf16>, %cq: tensor<6x2xbf16>, %ck: tensor<6x2xbf16>, %cv: tensor<8x2xbf16>, %wb: tensor<2x5xbf16>, %wa: tensor<2x5xbf16>, %al: tensor<2xbf16>, %db: tensor<2xbf16>, %wg: tensor<8x5xbf16>, %nw: tensor<4xbf16>, %wo: tensor<5x8xbf16>) -> (tensor<2x6x5xbf16>, tensor<2x6x5xbf16>) {
  %y = muonssm.gated_deltanet_mixer seed x(%x : tensor<2x6x5xbf16>) q_proj(%wq : tensor<6x5xbf16>)
      k_proj(%wk : tensor<6x5xbf16>) v_proj(%wv : tensor<8x5xbf16>)
      conv(%cq : tensor<6x2xbf16>, %ck : tensor<6x2xbf16>, %cv : tensor<8x2xbf16>) b_proj(%wb : tensor<2x5xbf16>)
      a_proj(%wa : tensor<2x5xbf16>) A_log(%al : tensor<2xbf16>) dt_bias(%db : tensor<2xbf16>) g_proj(%wg : tensor<8x5xbf16>)
      norm(%nw : tensor<4xbf16>) o_proj(%wo : tensor<5x8xbf16>) heads = 2, momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau = 1.0 -> tensor<2x6x5xbf16>
  %p = muonssm.gated_deltanet_mixer plain x(%x : tensor<2x6x5xbf16>) q_proj(%wq : tensor<6x5xbf16>)
      k_proj(%wk : tensor<6x5xbf16>) v_proj(%wv : tensor<8x5xbf16>)
      conv(%cq : tensor<6x2xbf16>, %ck : tensor<6x2xbf16>, %cv : tensor<8x2xbf16>) b_proj(%wb : tensor<2x5xbf16>)
      a_proj(%wa : tensor<2x5xbf16>) A_log(%al : tensor<2xbf16>) dt_bias(%db : tensor<2xbf16>) g_proj(%wg : tensor<8x5xbf16>)
      norm(%nw : tensor<4xbf16>) o_proj(%wo : tensor<5x8xbf16>) heads = 2, tau = 1.0 -> tensor<2x6x5xbf16>
  return %y, %p : tensor<2x6x5xbf16>, tensor<2x6x5xbf16>
}
