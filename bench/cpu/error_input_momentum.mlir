// The error input with momentum and no NS (linear: chunked through a triangular solve).
// bench/cpu/run.sh times it with muonssm-run --bench at several chunk sizes.
func.func @main(%q: tensor<1x4096x4x64xf32> {muonssm.name = "q"}, %k: tensor<1x4096x4x64xf32> {muonssm.name = "k"}, %v: tensor<1x4096x4x64xf32> {muonssm.name = "v"}, %g: tensor<1x4096x4xf32> {muonssm.name = "g"}, %beta: tensor<1x4096x4xf32> {muonssm.name = "beta"}) -> (tensor<1x4096x4x64xf32> {muonssm.name = "o"}) {
  %o = muonssm.scan q(%q : tensor<1x4096x4x64xf32>) k(%k : tensor<1x4096x4x64xf32>) v(%v : tensor<1x4096x4x64xf32>) g(%g : tensor<1x4096x4xf32>) beta(%beta : tensor<1x4096x4xf32>)
      decay = scalar, input = error, momentum = 0.9, tau = 1.0, scale = 0.125 -> o tensor<1x4096x4x64xf32>
  return %o : tensor<1x4096x4x64xf32>
}
