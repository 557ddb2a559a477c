// The MuonSSM seed's Muon Gated DeltaNet (SEMANTICS.md §3.3): the error input
// e_t = β_t(v_t − D(S)ᵀk_t), momentum M_t = γM_{t−1} + τ k_t e_tᵀ with
// γ = 0.9, τ = 1, and Muon's quintic Newton–Schulz (one step, ‖·‖ + 1e-7) of
// the whole momentum added to the decayed state; scale K^-1/2.
func.func @main(%q: tensor<2x128x4x64xf32> {muonssm.name = "q"},
                %k: tensor<2x128x4x64xf32> {muonssm.name = "k"},
                %v: tensor<2x128x4x64xf32> {muonssm.name = "v"},
                %g: tensor<2x128x4xf32> {muonssm.name = "g"},
                %beta: tensor<2x128x4xf32> {muonssm.name = "beta"})
    -> (tensor<2x128x4x64xf32> {muonssm.name = "o"},
        tensor<2x4x64x64xf32> {muonssm.name = "final_state"},
        tensor<2x4x64x64xf32> {muonssm.name = "final_momentum"}) {
  %o, %s, %m = muonssm.scan q(%q : tensor<2x128x4x64xf32>) k(%k : tensor<2x128x4x64xf32>)
      v(%v : tensor<2x128x4x64xf32>) g(%g : tensor<2x128x4xf32>)
      beta(%beta : tensor<2x128x4xf32>)
      decay = scalar, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 0.125
      -> o tensor<2x128x4x64xf32> final_state tensor<2x4x64x64xf32>
         final_momentum tensor<2x4x64x64xf32>
  return %o, %s, %m : tensor<2x128x4x64xf32>, tensor<2x4x64x64xf32>, tensor<2x4x64x64xf32>
}
