// A bf16 Gated DeltaNet over three packed sequences of a dynamic total
// length: the chunked kernel after a solve kernel, whose T buffer is a
// bundle temporary sized from the arguments.
func.func @main(%q: tensor<1x?x2x64xbf16> {muonssm.name = "q"},
                %k: tensor<1x?x2x64xbf16> {muonssm.name = "k"},
                %v: tensor<1x?x2x64xbf16> {muonssm.name = "v"},
                %g: tensor<1x?x2xf32> {muonssm.name = "g"},
                %beta: tensor<1x?x2xf32> {muonssm.name = "beta"},
                %cu: tensor<4xi32> {muonssm.name = "cu_seqlens"})
    -> (tensor<1x?x2x64xbf16> {muonssm.name = "o"}) {
  %o = muonssm.scan q(%q : tensor<1x?x2x64xbf16>) k(%k : tensor<1x?x2x64xbf16>)
      v(%v : tensor<1x?x2x64xbf16>) g(%g : tensor<1x?x2xf32>) beta(%beta : tensor<1x?x2xf32>)
      cu_seqlens(%cu : tensor<4xi32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<1x?x2x64xbf16>
  return %o : tensor<1x?x2x64xbf16>
}
