// One decode step of Gated DeltaNet for a batch of 4 requests whose states
// live in a pool of 16 slots (a serving engine's state cache): request n
// reads and updates slot slots[n]; every other slot comes back unchanged.
// On the GPU the pool is updated in place (docs/gpu.md §2).
func.func @main(%q: tensor<4x1x2x64xbf16> {muonssm.name = "q"},
                %k: tensor<4x1x2x64xbf16> {muonssm.name = "k"},
                %v: tensor<4x1x4x64xbf16> {muonssm.name = "v"},
                %g: tensor<4x1x4xf32> {muonssm.name = "g"},
                %beta: tensor<4x1x4xf32> {muonssm.name = "beta"},
                %pool: tensor<16x4x64x64xf32> {muonssm.name = "pool"},
                %slots: tensor<4xi32> {muonssm.name = "slots"})
    -> (tensor<4x1x4x64xbf16> {muonssm.name = "o"},
        tensor<16x4x64x64xf32> {muonssm.name = "new_pool"}) {
  %o, %s = muonssm.scan q(%q : tensor<4x1x2x64xbf16>) k(%k : tensor<4x1x2x64xbf16>)
      v(%v : tensor<4x1x4x64xbf16>) g(%g : tensor<4x1x4xf32>) beta(%beta : tensor<4x1x4xf32>)
      initial_state(%pool : tensor<16x4x64x64xf32>) state_indices(%slots : tensor<4xi32>)
      decay = scalar, input = update, delta_rule = 1.0, tau = 1.0, scale = 0.125
      -> o tensor<4x1x4x64xbf16> final_state tensor<16x4x64x64xf32>
  return %o, %s : tensor<4x1x4x64xbf16>, tensor<16x4x64x64xf32>
}
