// Plain Gated DeltaNet: scalar decay g (log space), the delta rule with η = 1,
// β per head, no momentum, scale K^-1/2 (flash-linear-attention's
// chunk_gated_delta_rule). Run: muonssm-run examples/gated_deltanet_scan.mlir --check
func.func @main(%q: tensor<2x512x4x64xf32> {muonssm.name = "q"},
                %k: tensor<2x512x4x64xf32> {muonssm.name = "k"},
                %v: tensor<2x512x4x64xf32> {muonssm.name = "v"},
                %g: tensor<2x512x4xf32> {muonssm.name = "g"},
                %beta: tensor<2x512x4xf32> {muonssm.name = "beta"})
    -> (tensor<2x512x4x64xf32> {muonssm.name = "o"},
        tensor<2x4x64x64xf32> {muonssm.name = "final_state"}) {
  %o, %s = muonssm.scan q(%q : tensor<2x512x4x64xf32>) k(%k : tensor<2x512x4x64xf32>)
      v(%v : tensor<2x512x4x64xf32>) g(%g : tensor<2x512x4xf32>)
      beta(%beta : tensor<2x512x4xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      tau = 1.0, scale = 0.125
      -> o tensor<2x512x4x64xf32> final_state tensor<2x4x64x64xf32>
  return %o, %s : tensor<2x512x4x64xf32>, tensor<2x4x64x64xf32>
}
