// A Muon GLA-style scan (scalar decay, momentum, Muon's quintic NS on the
// rank-1 update) with varlen sequences, for the per-chunk NS approximation.
func.func @main(%q: tensor<1x150x2x16xf32> {muonssm.name = "q"},
                %k: tensor<1x150x2x16xf32> {muonssm.name = "k"},
                %v: tensor<1x150x2x16xf32> {muonssm.name = "v"},
                %g: tensor<1x150x2xf32> {muonssm.name = "g"},
                %beta: tensor<1x150x2x16xf32> {muonssm.name = "beta"},
                %cu: tensor<4xi32> {muonssm.name = "cu_seqlens"})
    -> (tensor<1x150x2x16xf32> {muonssm.name = "o"},
        tensor<3x2x16x16xf32> {muonssm.name = "final_state"},
        tensor<3x2x16x16xf32> {muonssm.name = "final_momentum"}) {
  %o, %s, %m = muonssm.scan q(%q : tensor<1x150x2x16xf32>) k(%k : tensor<1x150x2x16xf32>)
      v(%v : tensor<1x150x2x16xf32>) g(%g : tensor<1x150x2xf32>)
      beta(%beta : tensor<1x150x2x16xf32>) cu_seqlens(%cu : tensor<4xi32>)
      decay = scalar, input = update, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau inside,
      tau = 1.0, scale = 0.25
      -> o tensor<1x150x2x16xf32> final_state tensor<3x2x16x16xf32>
         final_momentum tensor<3x2x16x16xf32>
  return %o, %s, %m : tensor<1x150x2x16xf32>, tensor<3x2x16x16xf32>, tensor<3x2x16x16xf32>
}
