// The seed's MuonLonghornVisionMixer (MuonLongHorn/mamba_ssm/modules/muon_longhornvision.py) at its README's
// usage: d_model 256, d_state 16, γ 0.9, τ 1.0 (after NS), Muon's quintic NS
// of the rank-1 update, on x [2, 196, 256] (14×14 patches). MambaVision
// layout (SEMANTICS.md §3.5): in_proj splits into x and z (d_inner 512, so
// 256 channels each), each half gets a non-causal (padding='same') depthwise
// conv with bias and SiLU, the scan runs on x with no gate, and
// cat(y, z) goes through out_proj. d_conv 4, dt_rank ⌈256/16⌉ = 16.
// (The package copy of the seed defaults to γ = 0 without NS; the experiments
// copy uses γ 0.9, τ 0.6: both are this op with other attributes.)
func.func @main(%x: tensor<2x196x256xf32> {muonssm.name = "x"},
                %in_proj: tensor<512x256xf32> {muonssm.name = "in_proj"},
                %conv_w: tensor<256x4xf32> {muonssm.name = "conv1d_x_weight"},
                %conv_b: tensor<256xf32> {muonssm.name = "conv1d_x_bias"},
                %conv_z_w: tensor<256x4xf32> {muonssm.name = "conv1d_z_weight"},
                %conv_z_b: tensor<256xf32> {muonssm.name = "conv1d_z_bias"},
                %x_proj: tensor<48x256xf32> {muonssm.name = "x_proj"},
                %dt_w: tensor<256x16xf32> {muonssm.name = "dt_proj_weight"},
                %dt_b: tensor<256xf32> {muonssm.name = "dt_proj_bias"},
                %d: tensor<256xf32> {muonssm.name = "D"},
                %out_proj: tensor<256x512xf32> {muonssm.name = "out_proj"})
    -> (tensor<2x196x256xf32> {muonssm.name = "y"}) {
  %y = muonssm.selective_mixer longhorn vision x(%x : tensor<2x196x256xf32>)
      in_proj(%in_proj : tensor<512x256xf32>)
      conv(%conv_w : tensor<256x4xf32>, %conv_b : tensor<256xf32>)
      conv_z(%conv_z_w : tensor<256x4xf32>, %conv_z_b : tensor<256xf32>)
      x_proj(%x_proj : tensor<48x256xf32>)
      dt_proj(%dt_w : tensor<256x16xf32>, %dt_b : tensor<256xf32>)
      D(%d : tensor<256xf32>)
      out_proj(%out_proj : tensor<256x512xf32>)
      momentum = 0.9, newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau = 1.0 -> tensor<2x196x256xf32>
  return %y : tensor<2x196x256xf32>
}
