// A scan with f64 inputs: the CPU runs it, the GPU lowering refuses it.
func.func @main(%q: tensor<1x8x1x16xf64> {muonssm.name = "q"},
                %k: tensor<1x8x1x16xf64> {muonssm.name = "k"},
                %v: tensor<1x8x1x16xf64> {muonssm.nampoolinge = "v"})
    -> (tensor<1x8x1x16xf64> {muonssm.name = "o"}) {
  %o = muonssm.scan q(%q : tensor<1x8x1x16xf64>) k(%k : tensor<1x8x1x16xf64>)
      v(%v : tensor<1x8x1x16xf64>) decay = none, input = update,
      tau = 1.0, scale = 1.0 -> o tensor<1x8x1x16xf64>
  return %o : tensor<1x8x1x16xf64>
}
