// Diagonal (per-key) decay as in GLA, with grouped-query heads: HV = 8 value
// heads share H = 2 key heads (value head h reads key head h / 4), V = 2K.
func.func @main(%q: tensor<2x256x2x32xf32> {muonssm.name = "q"},
                %k: tensor<2x256x2x32xf32> {muonssm.name = "k"},
                %v: tensor<2x256x8x64xf32> {muonssm.name = "v"},
                %g: tensor<2x256x8x32xf32> {muonssm.name = "g"})
    -> (tensor<2x256x8x64xf32> {muonssm.name = "o"}) {
  %o = muonssm.scan q(%q : tensor<2x256x2x32xf32>) k(%k : tensor<2x256x2x32xf32>)
      v(%v : tensor<2x256x8x64xf32>) g(%g : tensor<2x256x8x32xf32>)
      decay = diagonal, input = update,
      tau = 1.0, scale = 0.17677669529663687
      -> o tensor<2x256x8x64xf32>
  return %o : tensor<2x256x8x64xf32>
}
