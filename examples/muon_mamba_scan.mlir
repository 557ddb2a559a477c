// Muon Mamba's selective scan with the seed's defaults (SEMANTICS.md §3.1):
// one head with K = d_state = 16 and V = d_inner = 256; F[n,d] = exp(Δ[d]A[n,d]);
// X_t = τΔ_t⊙u_t ⊗ B_t (β = Δ per channel), Muon's quintic NS of X_t (τ inside,
// where it cancels), velocity γ = 0.9; y = (hC + D⊙u)⊙silu(z), the D skip and
// SiLU(z) gate fused into the scan as mamba_ssm's selective scan fuses them.
// q = C, k = B, v = u.
func.func @main(%c: tensor<2x256x1x16xf32> {muonssm.name = "C"},
                %b: tensor<2x256x1x16xf32> {muonssm.name = "B"},
                %u: tensor<2x256x1x256xf32> {muonssm.name = "u"},
                %delta: tensor<2x256x1x256xf32> {muonssm.name = "delta"},
                %a: tensor<1x16x256xf32> {muonssm.name = "A"},
                %d: tensor<1x256xf32> {muonssm.name = "D"},
                %z: tensor<2x256x1x256xf32> {muonssm.name = "z"})
    -> (tensor<2x256x1x256xf32> {muonssm.name = "y"},
        tensor<2x1x16x256xf32> {muonssm.name = "h"},
        tensor<2x1x16x256xf32> {muonssm.name = "velocity"}) {
  %y, %h, %vel = muonssm.scan q(%c : tensor<2x256x1x16xf32>) k(%b : tensor<2x256x1x16xf32>)
      v(%u : tensor<2x256x1x256xf32>) dt(%delta : tensor<2x256x1x256xf32>)
      A(%a : tensor<1x16x256xf32>) beta(%delta : tensor<2x256x1x256xf32>)
      skip(%d : tensor<1x256xf32>) gate(%z : tensor<2x256x1x256xf32>)
      decay = mamba, input = update, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0
      -> o tensor<2x256x1x256xf32> final_state tensor<2x1x16x256xf32>
         final_momentum tensor<2x1x16x256xf32>
  return %y, %h, %vel : tensor<2x256x1x256xf32>, tensor<2x1x16x256xf32>, tensor<2x1x16x256xf32>
}
