// A tiny language model with the lit_gpt block structure (embedding; per
// layer h += GDN(RMSNorm(h)), h += SwiGLU(RMSNorm(h)); final RMSNorm; LM
// head), one layer in the seed's Muon form and one in the paper's.
func.func @main(
    %ids: tensor<2x12xi32> {muonssm.name = "ids"},
    %embedding: tensor<50x16xf32> {muonssm.name = "embedding"},
    %layers_0_norm_1: tensor<16xf32> {muonssm.name = "layers.0.norm_1"},
    %layers_0_q_proj: tensor<12x16xf32> {muonssm.name = "layers.0.q_proj"},
    %layers_0_k_proj: tensor<12x16xf32> {muonssm.name = "layers.0.k_proj"},
    %layers_0_v_proj: tensor<24x16xf32> {muonssm.name = "layers.0.v_proj"},
    %layers_0_q_conv: tensor<12x4xf32> {muonssm.name = "layers.0.q_conv"},
    %layers_0_k_conv: tensor<12x4xf32> {muonssm.name = "layers.0.k_conv"},
    %layers_0_v_conv: tensor<24x4xf32> {muonssm.name = "layers.0.v_conv"},
    %layers_0_b_proj: tensor<2x16xf32> {muonssm.name = "layers.0.b_proj"},
    %layers_0_a_proj: tensor<2x16xf32> {muonssm.name = "layers.0.a_proj"},
    %layers_0_A_log: tensor<2xf32> {muonssm.name = "layers.0.A_log"},
    %layers_0_dt_bias: tensor<2xf32> {muonssm.name = "layers.0.dt_bias"},
    %layers_0_g_proj: tensor<24x16xf32> {muonssm.name = "layers.0.g_proj"},
    %layers_0_o_norm: tensor<12xf32> {muonssm.name = "layers.0.o_norm"},
    %layers_0_o_proj: tensor<16x24xf32> {muonssm.name = "layers.0.o_proj"},
    %layers_0_norm_2: tensor<16xf32> {muonssm.name = "layers.0.norm_2"},
    %layers_0_mlp_gate: tensor<32x16xf32> {muonssm.name = "layers.0.mlp.gate"},
    %layers_0_mlp_up: tensor<32x16xf32> {muonssm.name = "layers.0.mlp.up"},
    %layers_0_mlp_down: tensor<16x32xf32> {muonssm.name = "layers.0.mlp.down"},
    %layers_1_norm_1: tensor<16xf32> {muonssm.name = "layers.1.norm_1"},
    %layers_1_q_proj: tensor<12x16xf32> {muonssm.name = "layers.1.q_proj"},
    %layers_1_k_proj: tensor<12x16xf32> {muonssm.name = "layers.1.k_proj"},
    %layers_1_v_proj: tensor<24x16xf32> {muonssm.name = "layers.1.v_proj"},
    %layers_1_q_conv: tensor<12x4xf32> {muonssm.name = "layers.1.q_conv"},
    %layers_1_k_conv: tensor<12x4xf32> {muonssm.name = "layers.1.k_conv"},
    %layers_1_v_conv: tensor<24x4xf32> {muonssm.name = "layers.1.v_conv"},
    %layers_1_b_proj: tensor<2x16xf32> {muonssm.name = "layers.1.b_proj"},
    %layers_1_a_proj: tensor<2x16xf32> {muonssm.name = "layers.1.a_proj"},
    %layers_1_A_log: tensor<2xf32> {muonssm.name = "layers.1.A_log"},
    %layers_1_dt_bias: tensor<2xf32> {muonssm.name = "layers.1.dt_bias"},
    %layers_1_g_proj: tensor<24x16xf32> {muonssm.name = "layers.1.g_proj"},
    %layers_1_o_norm: tensor<12xf32> {muonssm.name = "layers.1.o_norm"},
    %layers_1_o_proj: tensor<16x24xf32> {muonssm.name = "layers.1.o_proj"},
    %layers_1_norm_2: tensor<16xf32> {muonssm.name = "layers.1.norm_2"},
    %layers_1_mlp_gate: tensor<32x16xf32> {muonssm.name = "layers.1.mlp.gate"},
    %layers_1_mlp_up: tensor<32x16xf32> {muonssm.name = "layers.1.mlp.up"},
    %layers_1_mlp_down: tensor<16x32xf32> {muonssm.name = "layers.1.mlp.down"},
    %norm_f: tensor<16xf32> {muonssm.name = "norm_f"},
    %lm_head: tensor<50x16xf32> {muonssm.name = "lm_head"})
    -> (tensor<2x12x50xf32> {muonssm.name = "logits"}) {
  %h0 = muonssm.embedding %ids table(%embedding : tensor<50x16xf32>) : tensor<2x12xi32> -> tensor<2x12x16xf32>
  %a0 = muonssm.rms_norm %h0 weight(%layers_0_norm_1 : tensor<16xf32>) eps = 1.0e-05 : tensor<2x12x16xf32>
  %m0 = muonssm.gated_deltanet_mixer seed x(%a0 : tensor<2x12x16xf32>)
      q_proj(%layers_0_q_proj : tensor<12x16xf32>) k_proj(%layers_0_k_proj : tensor<12x16xf32>) v_proj(%layers_0_v_proj : tensor<24x16xf32>)
      conv(%layers_0_q_conv : tensor<12x4xf32>, %layers_0_k_conv : tensor<12x4xf32>, %layers_0_v_conv : tensor<24x4xf32>)
      b_proj(%layers_0_b_proj : tensor<2x16xf32>) a_proj(%layers_0_a_proj : tensor<2x16xf32>)
      A_log(%layers_0_A_log : tensor<2xf32>) dt_bias(%layers_0_dt_bias : tensor<2xf32>)
      g_proj(%layers_0_g_proj : tensor<24x16xf32>) norm(%layers_0_o_norm : tensor<12xf32>) o_proj(%layers_0_o_proj : tensor<16x24xf32>)
      heads = 2, momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau = 1.0 -> tensor<2x12x16xf32>
  %r0 = arith.addf %h0, %m0 : tensor<2x12x16xf32>
  %b0 = muonssm.rms_norm %r0 weight(%layers_0_norm_2 : tensor<16xf32>) eps = 1.0e-05 : tensor<2x12x16xf32>
  %f0 = muonssm.swiglu %b0 gate(%layers_0_mlp_gate : tensor<32x16xf32>) up(%layers_0_mlp_up : tensor<32x16xf32>)
      down(%layers_0_mlp_down : tensor<16x32xf32>) : tensor<2x12x16xf32>
  %h1 = arith.addf %r0, %f0 : tensor<2x12x16xf32>
  %a1 = muonssm.rms_norm %h1 weight(%layers_1_norm_1 : tensor<16xf32>) eps = 1.0e-05 : tensor<2x12x16xf32>
  %m1 = muonssm.gated_deltanet_mixer paper x(%a1 : tensor<2x12x16xf32>)
      q_proj(%layers_1_q_proj : tensor<12x16xf32>) k_proj(%layers_1_k_proj : tensor<12x16xf32>) v_proj(%layers_1_v_proj : tensor<24x16xf32>)
      conv(%layers_1_q_conv : tensor<12x4xf32>, %layers_1_k_conv : tensor<12x4xf32>, %layers_1_v_conv : tensor<24x4xf32>)
      b_proj(%layers_1_b_proj : tensor<2x16xf32>) a_proj(%layers_1_a_proj : tensor<2x16xf32>)
      A_log(%layers_1_A_log : tensor<2xf32>) dt_bias(%layers_1_dt_bias : tensor<2xf32>)
      g_proj(%layers_1_g_proj : tensor<24x16xf32>) norm(%layers_1_o_norm : tensor<12xf32>) o_proj(%layers_1_o_proj : tensor<16x24xf32>)
      heads = 2, momentum = 0.9, newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>, tau = 1.0 -> tensor<2x12x16xf32>
  %r1 = arith.addf %h1, %m1 : tensor<2x12x16xf32>
  %b1 = muonssm.rms_norm %r1 weight(%layers_1_norm_2 : tensor<16xf32>) eps = 1.0e-05 : tensor<2x12x16xf32>
  %f1 = muonssm.swiglu %b1 gate(%layers_1_mlp_gate : tensor<32x16xf32>) up(%layers_1_mlp_up : tensor<32x16xf32>)
      down(%layers_1_mlp_down : tensor<16x32xf32>) : tensor<2x12x16xf32>
  %h2 = arith.addf %r1, %f1 : tensor<2x12x16xf32>
  %n = muonssm.rms_norm %h2 weight(%norm_f : tensor<16xf32>) eps = 1.0e-05 : tensor<2x12x16xf32>
  %logits = muonssm.linear %n weight(%lm_head : tensor<50x16xf32>) : tensor<2x12x16xf32> -> tensor<2x12x50xf32>
  return %logits : tensor<2x12x50xf32>
}
