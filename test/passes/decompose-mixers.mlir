// RUN: muonssm-opt %s -split-input-file -muonssm-decompose-mixers -verify-diagnostics | FileCheck %s

// A selective mixer becomes linalg on tensors in the accumulation type
// (bf16 inputs are widened once) around one scan: one head with K = d_state
// and V = d_inner, Mamba's Δ as both dt and the per-channel β, A = −exp(A_log)
// as [1, d_state, d_inner], D as the skip and z as the gate, NS on the update
// with τ inside; the output is rounded back to the input's type.

// CHECK-LABEL: func.func @muon_mamba
// CHECK-NOT:     muonssm.selective_mixer
// CHECK:         arith.extf {{.*}} : bf16 to f32
// in_proj, then the padded input of the causal conv (W − 1 = 3 zero tokens)
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK:         tensor.extract_slice %{{.*}}[0, 0, 0] [2, 10, 8] [1, 1, 1] : tensor<2x10x16xf32> to tensor<2x10x8xf32>
// CHECK:         tensor.extract_slice %{{.*}}[0, 0, 8] [2, 10, 8] [1, 1, 1] : tensor<2x10x16xf32> to tensor<2x10x8xf32>
// CHECK:         tensor.empty() : tensor<2x13x8xf32>
// CHECK:         linalg.index 1
// CHECK:         arith.cmpi uge, %{{.*}}, %c3 : index
// x_proj into (δ, K, Q) = (1, 4, 4) columns
// CHECK:         tensor.extract_slice %{{.*}}[0, 0, 0] [2, 10, 1] [1, 1, 1]
// CHECK:         tensor.extract_slice %{{.*}}[0, 0, 1] [2, 10, 4] [1, 1, 1]
// CHECK:         tensor.extract_slice %{{.*}}[0, 0, 5] [2, 10, 4] [1, 1, 1]
// softplus with PyTorch's threshold 20
// CHECK:         math.log1p
// CHECK:         arith.cmpf ogt
// CHECK:         tensor.expand_shape {{.*}} : tensor<4x8xf32> into tensor<1x4x8xf32>
// CHECK:         %[[O:.*]] = muonssm.scan q(%{{.*}} : tensor<2x10x1x4xf32>) k(%{{.*}} : tensor<2x10x1x4xf32>) v(%{{.*}} : tensor<2x10x1x8xf32>) dt(%[[DT:.*]] : tensor<2x10x1x8xf32>) A(%{{.*}} : tensor<1x4x8xf32>) beta(%[[DT]] : tensor<2x10x1x8xf32>) skip(%{{.*}} : tensor<1x8xf32>) gate(%{{.*}} : tensor<2x10x1x8xf32>) decay = mamba, input = update, momentum = 9.000000e-01, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau inside, tau = 1.000000e+00, scale = 1.000000e+00
// CHECK:         tensor.collapse_shape %[[O]] {{\[\[}}0], [1], [2, 3]] : tensor<2x10x1x8xf32> into tensor<2x10x8xf32>
// CHECK:         arith.truncf {{.*}} : f32 to bf16
// CHECK:         return %{{.*}} : tensor<2x10x4xbf16>
func.func @muon_mamba(%x: tensor<2x10x4xbf16>, %wi: tensor<16x4xbf16>, %wc: tensor<8x4xbf16>,
    %bc: tensor<8xbf16>, %wx: tensor<9x8xbf16>, %wd: tensor<8x1xbf16>, %bd: tensor<8xbf16>,
    %al: tensor<8x4xbf16>, %d: tensor<8xbf16>, %wo: tensor<4x8xbf16>) -> tensor<2x10x4xbf16> {
  %y = muonssm.selective_mixer mamba x(%x : tensor<2x10x4xbf16>) in_proj(%wi : tensor<16x4xbf16>)
      conv(%wc : tensor<8x4xbf16>, %bc : tensor<8xbf16>) x_proj(%wx : tensor<9x8xbf16>)
      dt_proj(%wd : tensor<8x1xbf16>, %bd : tensor<8xbf16>) A_log(%al : tensor<8x4xbf16>)
      D(%d : tensor<8xbf16>) out_proj(%wo : tensor<4x8xbf16>)
      momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau = 1.0 -> tensor<2x10x4xbf16>
  return %y : tensor<2x10x4xbf16>
}

// -----

// LongHorn: sigmoid instead of softplus, no A and no β (its gain dtn comes
// from dt inside the scan), τ after NS. The plain block keeps no momentum and
// no NS. Dynamic B and L stay dynamic.

// CHECK-LABEL: func.func @longhorn
// CHECK-NOT:     math.log1p
// CHECK:         muonssm.scan q(%{{.*}} : tensor<?x?x1x4xf32>) k(%{{.*}} : tensor<?x?x1x4xf32>) v(%{{.*}} : tensor<?x?x1x8xf32>) dt(%{{.*}} : tensor<?x?x1x8xf32>) skip(%{{.*}} : tensor<1x8xf32>) gate(%{{.*}} : tensor<?x?x1x8xf32>) decay = longhorn, input = update, momentum = 5.000000e-01, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau after, tau = 6.000000e-01, scale
// CHECK:         muonssm.scan {{.*}} decay = longhorn, input = update, tau = 1.000000e+00, scale
func.func @longhorn(%x: tensor<?x?x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>,
    %bc: tensor<8xf32>, %wx: tensor<9x8xf32>, %wd: tensor<8x1xf32>, %bd: tensor<8xf32>,
    %d: tensor<8xf32>, %wo: tensor<4x8xf32>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>) {
  %y = muonssm.selective_mixer longhorn x(%x : tensor<?x?x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>)
      momentum = 0.5, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau = 0.6 -> tensor<?x?x4xf32>
  %p = muonssm.selective_mixer longhorn x(%x : tensor<?x?x4xf32>) in_proj(%wi : tensor<16x4xf32>)
      conv(%wc : tensor<8x4xf32>, %bc : tensor<8xf32>) x_proj(%wx : tensor<9x8xf32>)
      dt_proj(%wd : tensor<8x1xf32>, %bd : tensor<8xf32>) D(%d : tensor<8xf32>)
      out_proj(%wo : tensor<4x8xf32>) tau = 1.0 -> tensor<?x?x4xf32>
  return %y, %p : tensor<?x?x4xf32>, tensor<?x?x4xf32>
}

// -----

// The vision layout: each half through a 'same'-padded conv (one zero token
// before, two after for d_conv 4: bounds checked on both sides), Mamba's
// bias added twice, no gate in the scan, out_proj as the sum of its two
// column halves' products.

// CHECK-LABEL: func.func @mamba_vision
// CHECK:         tensor.empty() : tensor<2x13x8xf32>
// CHECK:         arith.cmpi uge, %{{.*}}, %c1 : index
// CHECK-NEXT:    %[[SRC:.*]] = arith.subi %{{.*}}, %c1 : index
// CHECK-NEXT:    arith.cmpi ult, %[[SRC]], %c10 : index
// CHECK:         %[[PRE:.*]] = arith.addf %in, %[[BIAS:in_[0-9]+]] : f32
// CHECK-NEXT:    %[[TWICE:.*]] = arith.addf %[[PRE]], %[[BIAS]] : f32
// CHECK-NEXT:    math.exp %[[TWICE]]
// CHECK-NEXT:    math.log1p
// CHECK:         muonssm.scan {{.*}} skip(%{{.*}} : tensor<1x8xf32>) decay = mamba
// CHECK:         tensor.empty() : tensor<2x13x8xf32>
// CHECK:         tensor.extract_slice %{{.*}}[0, 0] [4, 8] [1, 1] : tensor<4x16xf32> to tensor<4x8xf32>
// CHECK:         tensor.extract_slice %{{.*}}[0, 8] [4, 8] [1, 1] : tensor<4x16xf32> to tensor<4x8xf32>
// CHECK:         return %{{.*}} : tensor<2x10x4xf32>
func.func @mamba_vision(%x: tensor<2x10x4xf32>, %wi: tensor<16x4xf32>, %wc: tensor<8x4xf32>,
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

func.func @dynamic_weights(%x: tensor<2x10x4xf32>, %wi: tensor<?x4xf32>, %wc: tensor<?x4xf32>,
    %bc: tensor<?xf32>, %wx: tensor<9x?xf32>, %wd: tensor<?x1xf32>, %bd: tensor<?xf32>,
    %d: tensor<?xf32>, %wo: tensor<4x?xf32>) -> tensor<2x10x4xf32> {
  // expected-error @+1 {{decompose-mixers needs static d_inner, d_conv, dt_rank and d_state (the shapes of the weights); only B and L may be dynamic}}
  %y = muonssm.selective_mixer longhorn x(%x : tensor<2x10x4xf32>) in_proj(%wi : tensor<?x4xf32>)
      conv(%wc : tensor<?x4xf32>, %bc : tensor<?xf32>) x_proj(%wx : tensor<9x?xf32>)
      dt_proj(%wd : tensor<?x1xf32>, %bd : tensor<?xf32>) D(%d : tensor<?xf32>)
      out_proj(%wo : tensor<4x?xf32>) tau = 1.0 -> tensor<2x10x4xf32>
  return %y : tensor<2x10x4xf32>
}

// -----

// Gated DeltaNet: three projections with short convs (no bias) and SiLU,
// per-head L2 norms of q and k (+1e-6), β = sigmoid, g = −exp(A_log)·softplus,
// one scalar-decay scan with scale K^(-1/2) in the form's configuration, the
// gated RMSNorm (1/V, +1e-5, rsqrt) and o_proj.

// CHECK-LABEL: func.func @gated_deltanet
// CHECK:         arith.constant 9.99999997E-7 : f32
// CHECK:         %[[SEED:.*]] = muonssm.scan q(%{{.*}} : tensor<2x6x2x3xf32>) k(%{{.*}} : tensor<2x6x2x3xf32>) v(%{{.*}} : tensor<2x6x2x4xf32>) g(%{{.*}} : tensor<2x6x2xf32>) beta(%{{.*}} : tensor<2x6x2xf32>) decay = scalar, input = error, momentum = 9.000000e-01, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside, tau = 1.000000e+00, scale = 0.57735026918962584
// CHECK:         math.rsqrt
// CHECK:         tensor.collapse_shape {{.*}} : tensor<2x6x2x4xf32> into tensor<2x6x8xf32>
// CHECK:         muonssm.scan {{.*}} decay = scalar, input = update, delta_rule = 1.000000e+00, momentum = 9.000000e-01, newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside, tau
// CHECK:         muonssm.scan {{.*}} decay = scalar, input = update, delta_rule = 1.000000e+00, tau = 1.000000e+00, scale
func.func @gated_deltanet(%x: tensor<2x6x5xf32>, %wq: tensor<6x5xf32>, %wk: tensor<6x5xf32>, %wv: tensor<8x5xf32>, %cq: tensor<6x2xf32>, %ck: tensor<6x2xf32>, %cv: tensor<8x2xf32>, %wb: tensor<2x5xf32>, %wa: tensor<2x5xf32>, %al: tensor<2xf32>, %db: tensor<2xf32>, %wg: tensor<8x5xf32>, %nw: tensor<4xf32>, %wo: tensor<5x8xf32>) -> (tensor<2x6x5xf32>, tensor<2x6x5xf32>, tensor<2x6x5xf32>) {
  %y = muonssm.gated_deltanet_mixer seed x(%x : tensor<2x6x5xf32>) q_proj(%wq : tensor<6x5xf32>)
      k_proj(%wk : tensor<6x5xf32>) v_proj(%wv : tensor<8x5xf32>)
      conv(%cq : tensor<6x2xf32>, %ck : tensor<6x2xf32>, %cv : tensor<8x2xf32>) b_proj(%wb : tensor<2x5xf32>)
      a_proj(%wa : tensor<2x5xf32>) A_log(%al : tensor<2xf32>) dt_bias(%db : tensor<2xf32>) g_proj(%wg : tensor<8x5xf32>)
      norm(%nw : tensor<4xf32>) o_proj(%wo : tensor<5x8xf32>) heads = 2, momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau = 1.0 -> tensor<2x6x5xf32>
  %z = muonssm.gated_deltanet_mixer paper x(%x : tensor<2x6x5xf32>) q_proj(%wq : tensor<6x5xf32>)
      k_proj(%wk : tensor<6x5xf32>) v_proj(%wv : tensor<8x5xf32>)
      conv(%cq : tensor<6x2xf32>, %ck : tensor<6x2xf32>, %cv : tensor<8x2xf32>) b_proj(%wb : tensor<2x5xf32>)
      a_proj(%wa : tensor<2x5xf32>) A_log(%al : tensor<2xf32>) dt_bias(%db : tensor<2xf32>) g_proj(%wg : tensor<8x5xf32>)
      norm(%nw : tensor<4xf32>) o_proj(%wo : tensor<5x8xf32>) heads = 2, momentum = 0.9, newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>, tau = 1.0 -> tensor<2x6x5xf32>
  %p = muonssm.gated_deltanet_mixer plain x(%x : tensor<2x6x5xf32>) q_proj(%wq : tensor<6x5xf32>)
      k_proj(%wk : tensor<6x5xf32>) v_proj(%wv : tensor<8x5xf32>)
      conv(%cq : tensor<6x2xf32>, %ck : tensor<6x2xf32>, %cv : tensor<8x2xf32>) b_proj(%wb : tensor<2x5xf32>)
      a_proj(%wa : tensor<2x5xf32>) A_log(%al : tensor<2xf32>) dt_bias(%db : tensor<2xf32>) g_proj(%wg : tensor<8x5xf32>)
      norm(%nw : tensor<4xf32>) o_proj(%wo : tensor<5x8xf32>) heads = 2, tau = 1.0 -> tensor<2x6x5xf32>
  return %y, %z, %p : tensor<2x6x5xf32>, tensor<2x6x5xf32>, tensor<2x6x5xf32>
}

// -----

// Model layers: the conv as one generic reducing over (in, W) on the
// zero-padded input, batch norm with rsqrt and the ReLU as maximumf, RMSNorm
// as a reduction and an rsqrt, the mean as a sum divided by L (folded to a
// constant here), the linear
// layer's bias broadcast; bf16 in and out, f32 inside.

// CHECK-LABEL: func.func @layers
// CHECK:         tensor.empty() : tensor<2x10x3xf32>
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]
// CHECK:         math.rsqrt
// CHECK:         arith.maximumf
// CHECK:         math.rsqrt
// CHECK:         arith.divf
// CHECK:         arith.truncf {{.*}} : f32 to bf16
// CHECK:         return %{{.*}} : tensor<2x5xbf16>
func.func @layers(%x: tensor<2x8x3xbf16>, %wc: tensor<4x3x3xbf16>, %c: tensor<4xbf16>,
    %wl: tensor<5x4xbf16>, %bl: tensor<5xbf16>) -> tensor<2x5xbf16> {
  %0 = muonssm.conv1d %x weight(%wc : tensor<4x3x3xbf16>) padding = 1 : tensor<2x8x3xbf16> -> tensor<2x8x4xbf16>
  %1 = muonssm.batch_norm %0 mean(%c : tensor<4xbf16>) variance(%c : tensor<4xbf16>) weight(%c : tensor<4xbf16>) bias(%c : tensor<4xbf16>) eps = 1.0e-05 relu : tensor<2x8x4xbf16>
  %2 = muonssm.rms_norm %1 weight(%c : tensor<4xbf16>) eps = 1.0e-05 : tensor<2x8x4xbf16>
  %3 = muonssm.mean_pool %2 : tensor<2x8x4xbf16> -> tensor<2x4xbf16>
  %4 = muonssm.linear %3 weight(%wl : tensor<5x4xbf16>) bias(%bl : tensor<5xbf16>) : tensor<2x4xbf16> -> tensor<2x5xbf16>
  return %4 : tensor<2x5xbf16>
}
