// The seed's human-activity-recognition model (experiments/Time_series,
// SEMANTICS.md §3.4) with the README's settings: 6 input channels, d_model 128,
// d_state 64, expand 2 (d_inner 256), dt_rank 8, 2 MuonLonghorn layers with
// γ = 0.99 and τ = 0.6 (Muon's quintic NS), L = 512, 12 classes. The input is
// channels last, [B, L, 6] (the seed's [B, 6, L] transposed). Every op has a
// float64 oracle, so --check checks the whole model.
func.func @main(
    %x: tensor<1x512x6xf32> {muonssm.name = "x"},
    %stem_conv: tensor<128x6x3xf32> {muonssm.name = "stem.conv"},
    %stem_bn_mean: tensor<128xf32> {muonssm.name = "stem.bn.mean"},
    %stem_bn_var: tensor<128xf32> {muonssm.name = "stem.bn.var"},
    %stem_bn_weight: tensor<128xf32> {muonssm.name = "stem.bn.weight"},
    %stem_bn_bias: tensor<128xf32> {muonssm.name = "stem.bn.bias"},
    %layers_0_norm: tensor<128xf32> {muonssm.name = "layers.0.norm"},
    %layers_0_in_proj: tensor<512x128xf32> {muonssm.name = "layers.0.in_proj"},
    %layers_0_conv_weight: tensor<256x4xf32> {muonssm.name = "layers.0.conv_weight"},
    %layers_0_conv_bias: tensor<256xf32> {muonssm.name = "layers.0.conv_bias"},
    %layers_0_x_proj: tensor<136x256xf32> {muonssm.name = "layers.0.x_proj"},
    %layers_0_dt_proj_weight: tensor<256x8xf32> {muonssm.name = "layers.0.dt_proj_weight"},
    %layers_0_dt_proj_bias: tensor<256xf32> {muonssm.name = "layers.0.dt_proj_bias"},
    %layers_0_D: tensor<256xf32> {muonssm.name = "layers.0.D"},
    %layers_0_out_proj: tensor<128x256xf32> {muonssm.name = "layers.0.out_proj"},
    %layers_1_norm: tensor<128xf32> {muonssm.name = "layers.1.norm"},
    %layers_1_in_proj: tensor<512x128xf32> {muonssm.name = "layers.1.in_proj"},
    %layers_1_conv_weight: tensor<256x4xf32> {muonssm.name = "layers.1.conv_weight"},
    %layers_1_conv_bias: tensor<256xf32> {muonssm.name = "layers.1.conv_bias"},
    %layers_1_x_proj: tensor<136x256xf32> {muonssm.name = "layers.1.x_proj"},
    %layers_1_dt_proj_weight: tensor<256x8xf32> {muonssm.name = "layers.1.dt_proj_weight"},
    %layers_1_dt_proj_bias: tensor<256xf32> {muonssm.name = "layers.1.dt_proj_bias"},
    %layers_1_D: tensor<256xf32> {muonssm.name = "layers.1.D"},
    %layers_1_out_proj: tensor<128x256xf32> {muonssm.name = "layers.1.out_proj"},
    %norm_f: tensor<128xf32> {muonssm.name = "norm_f"},
    %classifier_weight: tensor<12x128xf32> {muonssm.name = "classifier.weight"},
    %classifier_bias: tensor<12xf32> {muonssm.name = "classifier.bias"})
    -> (tensor<1x12xf32> {muonssm.name = "logits"}) {
  // Stem: Conv1d(6 → 128, k = 3, padding = 1, no bias), BatchNorm1d, ReLU
  // (dropout is the identity at inference).
  %c = muonssm.conv1d %x weight(%stem_conv : tensor<128x6x3xf32>) padding = 1
      : tensor<1x512x6xf32> -> tensor<1x512x128xf32>
  %h0 = muonssm.batch_norm %c mean(%stem_bn_mean : tensor<128xf32>) variance(%stem_bn_var : tensor<128xf32>)
      weight(%stem_bn_weight : tensor<128xf32>) bias(%stem_bn_bias : tensor<128xf32>) eps = 1.0e-05 relu
      : tensor<1x512x128xf32>
  // Layer 0: h = h + MuonLonghorn(RMSNorm(h)).
  %n0 = muonssm.rms_norm %h0 weight(%layers_0_norm : tensor<128xf32>) eps = 1.0e-05 : tensor<1x512x128xf32>
  %m0 = muonssm.selective_mixer longhorn x(%n0 : tensor<1x512x128xf32>)
      in_proj(%layers_0_in_proj : tensor<512x128xf32>)
      conv(%layers_0_conv_weight : tensor<256x4xf32>, %layers_0_conv_bias : tensor<256xf32>)
      x_proj(%layers_0_x_proj : tensor<136x256xf32>)
      dt_proj(%layers_0_dt_proj_weight : tensor<256x8xf32>, %layers_0_dt_proj_bias : tensor<256xf32>)
      D(%layers_0_D : tensor<256xf32>) out_proj(%layers_0_out_proj : tensor<128x256xf32>)
      momentum = 0.99, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau = 0.6 -> tensor<1x512x128xf32>
  %h1 = arith.addf %h0, %m0 : tensor<1x512x128xf32>
  // Layer 1: h = h + MuonLonghorn(RMSNorm(h)).
  %n1 = muonssm.rms_norm %h1 weight(%layers_1_norm : tensor<128xf32>) eps = 1.0e-05 : tensor<1x512x128xf32>
  %m1 = muonssm.selective_mixer longhorn x(%n1 : tensor<1x512x128xf32>)
      in_proj(%layers_1_in_proj : tensor<512x128xf32>)
      conv(%layers_1_conv_weight : tensor<256x4xf32>, %layers_1_conv_bias : tensor<256xf32>)
      x_proj(%layers_1_x_proj : tensor<136x256xf32>)
      dt_proj(%layers_1_dt_proj_weight : tensor<256x8xf32>, %layers_1_dt_proj_bias : tensor<256xf32>)
      D(%layers_1_D : tensor<256xf32>) out_proj(%layers_1_out_proj : tensor<128x256xf32>)
      momentum = 0.99, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau = 0.6 -> tensor<1x512x128xf32>
  %h2 = arith.addf %h1, %m1 : tensor<1x512x128xf32>
  // Final RMSNorm, global average pooling over L, classifier.
  %f = muonssm.rms_norm %h2 weight(%norm_f : tensor<128xf32>) eps = 1.0e-05 : tensor<1x512x128xf32>
  %pooled = muonssm.mean_pool %f : tensor<1x512x128xf32> -> tensor<1x128xf32>
  %logits = muonssm.linear %pooled weight(%classifier_weight : tensor<12x128xf32>)
      bias(%classifier_bias : tensor<12xf32>) : tensor<1x128xf32> -> tensor<1x12xf32>
  return %logits : tensor<1x12xf32>
}
