// The seed's Muon GDN: quintic NS of the whole momentum (recurrent schedule only; T = 512).
// bench/cpu/run.sh times it with muonssm-run --bench at several chunk sizes.
func.func @main(%q: tensor<1x512x4x64xf32> {muonssm.name = "q"}, %k: tensor<1x512x4x64xf32> {muonssm.name = "k"}, %v: tensor<1x512x4x64xf32> {muonssm.name = "v"}, %g: tensor<1x512x4xf32> {muonssm.name = "g"}, %beta: tensor<1x512x4xf32> {muonssm.name = "beta"}) -> (tensor<1x512x4x64xf32> {muonssm.name = "o"}) {
  %o = muonssm.scan q(%q : tensor<1x512x4x64xf32>) k(%k : tensor<1x512x4x64xf32>) v(%v : tensor<1x512x4x64xf32>) g(%g : tensor<1x512x4xf32>) beta(%beta : tensor<1x512x4xf32>)
      decay = scalar, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 0.125 -> o tensor<1x512x4x64xf32>
  return %o : tensor<1x512x4x64xf32>
}
