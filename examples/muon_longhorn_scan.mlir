// Muon LongHorn's scan with the seed's defaults (SEMANTICS.md §3.2): dt =
// sigmoid(T + bias) in (0, 1), dtn = dt/(1 + dt‖K‖²), F = 1 − dtn ⊗ K²,
// X_t = dtn⊙u ⊗ K, v_t = γv_{t−1} + τ·NS(X_t) (τ after NS), γ = 0.9, τ = 1;
// one head with K = d_state = 16, V = d_inner = 256. q = Q, k = K, v = u.
func.func @main(%qq: tensor<2x256x1x16xf32> {muonssm.name = "Q"},
                %kk: tensor<2x256x1x16xf32> {muonssm.name = "K"},
                %u: tensor<2x256x1x256xf32> {muonssm.name = "u"},
                %dt: tensor<2x256x1x256xf32> {muonssm.name = "dt"})
    -> (tensor<2x256x1x256xf32> {muonssm.name = "y"},
        tensor<2x1x16x256xf32> {muonssm.name = "h"},
        tensor<2x1x16x256xf32> {muonssm.name = "velocity"}) {
  %y, %h, %vel = muonssm.scan q(%qq : tensor<2x256x1x16xf32>) k(%kk : tensor<2x256x1x16xf32>)
      v(%u : tensor<2x256x1x256xf32>) dt(%dt : tensor<2x256x1x256xf32>)
      decay = longhorn, input = update, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau after,
      tau = 1.0, scale = 1.0
      -> o tensor<2x256x1x256xf32> final_state tensor<2x1x16x256xf32>
         final_momentum tensor<2x1x16x256xf32>
  return %y, %h, %vel : tensor<2x256x1x256xf32>, tensor<2x1x16x256xf32>, tensor<2x1x16x256xf32>
}
