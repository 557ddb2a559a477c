// The plain Gated DeltaNet layer (fla's GatedDeltaNet, the seed's default
// use_muon = False), the baseline of the Muon forms: d_model 64, 2 heads,
// K = 24, V = 48. The scan is chunked on the CPU (WY/UT form).
func.func @main(%x: tensor<2x48x64xf32> {muonssm.name = "x"},
                %q_proj: tensor<48x64xf32> {muonssm.name = "q_proj"},
                %k_proj: tensor<48x64xf32> {muonssm.name = "k_proj"},
                %v_proj: tensor<96x64xf32> {muonssm.name = "v_proj"},
                %q_conv: tensor<48x4xf32> {muonssm.name = "q_conv"},
                %k_conv: tensor<48x4xf32> {muonssm.name = "k_conv"},
                %v_conv: tensor<96x4xf32> {muonssm.name = "v_conv"},
                %b_proj: tensor<2x64xf32> {muonssm.name = "b_proj"},
                %a_proj: tensor<2x64xf32> {muonssm.name = "a_proj"},
                %A_log: tensor<2xf32> {muonssm.name = "A_log"},
                %dt_bias: tensor<2xf32> {muonssm.name = "dt_bias"},
                %g_proj: tensor<96x64xf32> {muonssm.name = "g_proj"},
                %norm_weight: tensor<48xf32> {muonssm.name = "norm_weight"},
                %o_proj: tensor<64x96xf32> {muonssm.name = "o_proj"})
    -> (tensor<2x48x64xf32> {muonssm.name = "y"}) {
  %y = muonssm.gated_deltanet_mixer plain x(%x : tensor<2x48x64xf32>)
      q_proj(%q_proj : tensor<48x64xf32>) k_proj(%k_proj : tensor<48x64xf32>)
      v_proj(%v_proj : tensor<96x64xf32>)
      conv(%q_conv : tensor<48x4xf32>, %k_conv : tensor<48x4xf32>, %v_conv : tensor<96x4xf32>)
      b_proj(%b_proj : tensor<2x64xf32>) a_proj(%a_proj : tensor<2x64xf32>)
      A_log(%A_log : tensor<2xf32>) dt_bias(%dt_bias : tensor<2xf32>)
      g_proj(%g_proj : tensor<96x64xf32>) norm(%norm_weight : tensor<48xf32>)
      o_proj(%o_proj : tensor<64x96xf32>) heads = 2,
      tau = 1.0 -> tensor<2x48x64xf32>
  return %y : tensor<2x48x64xf32>
}
