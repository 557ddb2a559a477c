// Muon Mamba's scan: d_state 16, d_inner 256, quintic NS gain, γ = 0.9.
// bench/cpu/run.sh times it with muonssm-run --bench at several chunk sizes.
func.func @main(%q: tensor<1x4096x1x16xf32> {muonssm.name = "q"}, %k: tensor<1x4096x1x16xf32> {muonssm.name = "k"}, %v: tensor<1x4096x1x256xf32> {muonssm.name = "v"}, %dt: tensor<1x4096x1x256xf32> {muonssm.name = "dt"}, %A: tensor<1x16x256xf32> {muonssm.name = "A"}) -> (tensor<1x4096x1x256xf32> {muonssm.name = "o"}) {
  %o = muonssm.scan q(%q : tensor<1x4096x1x16xf32>) k(%k : tensor<1x4096x1x16xf32>) v(%v : tensor<1x4096x1x256xf32>) dt(%dt : tensor<1x4096x1x256xf32>) A(%A : tensor<1x16x256xf32>) beta(%dt : tensor<1x4096x1x256xf32>)
      decay = mamba, input = update, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x4096x1x256xf32>
  return %o : tensor<1x4096x1x256xf32>
}
