// The paper's MuonSSM form on Gated DeltaNet (README): M_t = γM_{t−1} +
// NS(τ β_t v_t k_tᵀ) with the cubic ½X̃(3I − X̃ᵀX̃), X̃ = X/max(‖X‖_F, 1e-6),
// S_t = S_{t−1}·α_t(I − β_t k_t k_tᵀ) + M_t, y_t = S_t q_t (scale 1). In the
// project's K×V orientation the delta rule acts on the key side.
func.func @main(%q: tensor<2x256x4x64xf32> {muonssm.name = "q"},
                %k: tensor<2x256x4x64xf32> {muonssm.name = "k"},
                %v: tensor<2x256x4x64xf32> {muonssm.name = "v"},
                %g: tensor<2x256x4xf32> {muonssm.name = "g"},
                %beta: tensor<2x256x4xf32> {muonssm.name = "beta"})
    -> (tensor<2x256x4x64xf32> {muonssm.name = "o"},
        tensor<2x4x64x64xf32> {muonssm.name = "final_state"},
        tensor<2x4x64x64xf32> {muonssm.name = "final_momentum"}) {
  %o, %s, %m = muonssm.scan q(%q : tensor<2x256x4x64xf32>) k(%k : tensor<2x256x4x64xf32>)
      v(%v : tensor<2x256x4x64xf32>) g(%g : tensor<2x256x4xf32>)
      beta(%beta : tensor<2x256x4xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0
      -> o tensor<2x256x4x64xf32> final_state tensor<2x4x64x64xf32>
         final_momentum tensor<2x4x64x64xf32>
  return %o, %s, %m : tensor<2x256x4x64xf32>, tensor<2x4x64x64xf32>, tensor<2x4x64x64xf32>
}
