// DeltaNet: no decay, the delta rule with η = 1, β per head, scale K^-1/2,
// continuing from a given initial state (bf16 inputs, f32 state).
func.func @main(%q: tensor<2x256x4x64xbf16> {muonssm.name = "q"},
                %k: tensor<2x256x4x64xbf16> {muonssm.name = "k"},
                %v: tensor<2x256x4x64xbf16> {muonssm.name = "v"},
                %beta: tensor<2x256x4xbf16> {muonssm.name = "beta"},
                %s0: tensor<2x4x64x64xf32> {muonssm.name = "initial_state"})
    -> (tensor<2x256x4x64xbf16> {muonssm.name = "o"},
        tensor<2x4x64x64xf32> {muonssm.name = "final_state"}) {
  %o, %s = muonssm.scan q(%q : tensor<2x256x4x64xbf16>) k(%k : tensor<2x256x4x64xbf16>)
      v(%v : tensor<2x256x4x64xbf16>) beta(%beta : tensor<2x256x4xbf16>)
      initial_state(%s0 : tensor<2x4x64x64xf32>)
      decay = none, input = update, delta_rule = 1.0,
      tau = 1.0, scale = 0.125
      -> o tensor<2x256x4x64xbf16> final_state tensor<2x4x64x64xf32>
  return %o, %s : tensor<2x256x4x64xbf16>, tensor<2x4x64x64xf32>
}
