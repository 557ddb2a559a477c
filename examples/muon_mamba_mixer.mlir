// A Muon Mamba block (SEMANTICS.md §3.1) with the seed's defaults: γ = 0.9,
// Muon's quintic NS of the rank-1 update (τ = 1 inside, where it cancels).
// d_model 32, expand 2 (d_inner 64), d_state 16, d_conv 4, dt_rank
// ⌈32/16⌉ = 2; weights in PyTorch's [out, in] layout. muonssm-run
// decomposes it into linalg + one muonssm.scan and checks the result against
// the float64 layer oracle built on the seed's scan transcription.
func.func @main(%x: tensor<2x64x32xf32> {muonssm.name = "x"},
                %in_proj: tensor<128x32xf32> {muonssm.name = "in_proj"},
                %conv_w: tensor<64x4xf32> {muonssm.name = "conv_weight"},
                %conv_b: tensor<64xf32> {muonssm.name = "conv_bias"},
                %x_proj: tensor<34x64xf32> {muonssm.name = "x_proj"},
                %dt_w: tensor<64x2xf32> {muonssm.name = "dt_proj_weight"},
                %dt_b: tensor<64xf32> {muonssm.name = "dt_proj_bias"},
                %a_log: tensor<64x16xf32> {muonssm.name = "A_log"},
                %d: tensor<64xf32> {muonssm.name = "D"},
                %out_proj: tensor<32x64xf32> {muonssm.name = "out_proj"})
    -> (tensor<2x64x32xf32> {muonssm.name = "y"}) {
  %y = muonssm.selective_mixer mamba x(%x : tensor<2x64x32xf32>)
      in_proj(%in_proj : tensor<128x32xf32>)
      conv(%conv_w : tensor<64x4xf32>, %conv_b : tensor<64xf32>)
      x_proj(%x_proj : tensor<34x64xf32>)
      dt_proj(%dt_w : tensor<64x2xf32>, %dt_b : tensor<64xf32>)
      A_log(%a_log : tensor<64x16xf32>) D(%d : tensor<64xf32>)
      out_proj(%out_proj : tensor<32x64xf32>)
      momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau = 1.0 -> tensor<2x64x32xf32>
  return %y : tensor<2x64x32xf32>
}
