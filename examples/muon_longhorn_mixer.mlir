// A Muon LongHorn block (SEMANTICS.md §3.2) with the seed's defaults: γ = 0.9,
// Muon's quintic NS of the rank-1 update dtn⊙u ⊗ K, τ = α = 1 after NS;
// dt = sigmoid(δ·dt_projᵀ + dt_bias), no A (the decay is 1 − dtn·K²).
// d_model 32, expand 2 (d_inner 64), d_state 16, d_conv 4, dt_rank 2.
func.func @main(%x: tensor<2x64x32xf32> {muonssm.name = "x"},
                %in_proj: tensor<128x32xf32> {muonssm.name = "in_proj"},
                %conv_w: tensor<64x4xf32> {muonssm.name = "conv_weight"},
                %conv_b: tensor<64xf32> {muonssm.name = "conv_bias"},
                %x_proj: tensor<34x64xf32> {muonssm.name = "x_proj"},
                %dt_w: tensor<64x2xf32> {muonssm.name = "dt_proj_weight"},
                %dt_b: tensor<64xf32> {muonssm.name = "dt_proj_bias"},
                %d: tensor<64xf32> {muonssm.name = "D"},
                %out_proj: tensor<32x64xf32> {muonssm.name = "out_proj"})
    -> (tensor<2x64x32xf32> {muonssm.name = "y"}) {
  %y = muonssm.selective_mixer longhorn x(%x : tensor<2x64x32xf32>)
      in_proj(%in_proj : tensor<128x32xf32>)
      conv(%conv_w : tensor<64x4xf32>, %conv_b : tensor<64xf32>)
      x_proj(%x_proj : tensor<34x64xf32>)
      dt_proj(%dt_w : tensor<64x2xf32>, %dt_b : tensor<64xf32>)
      D(%d : tensor<64xf32>) out_proj(%out_proj : tensor<32x64xf32>)
      momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau = 1.0 -> tensor<2x64x32xf32>
  return %y : tensor<2x64x32xf32>
}
