// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu | FileCheck %s --check-prefix=DEF
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=lean-barriers=true | FileCheck %s --check-prefix=LEAN
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu="solve=chunk lean-barriers=true" | FileCheck %s --check-prefix=LEANCHUNK

// lean-barriers (docs/gpu.md §3.6, off by default until measured on a GPU):
// of the chunked kernel's six barriers a chunk, the one after Q Kᵀ goes
// where the next step reads none of the tiles written before it (the
// in-chunk solve reads L; the paper form's right-hand side reads L^E), and
// the one between T W' and U's stores goes where U has a tile of its own
// (the delta rule without momentum; W' kept U's tile before). The chunked
// kernel holds one barrier before its chunk loop.

// Gated DeltaNet, T from the solve kernel: 6 → 4; solving in the chunk:
// 6 → 5 (U's own tile only).

// DEF-LABEL:    func.func @gdn
// DEF:          gpu.func @muonssm_k0(
// DEF-COUNT-1:    gpu.barrier
// DEF:            scf.for
// DEF-COUNT-6:      gpu.barrier
// DEF-NOT:        gpu.barrier
// DEF:            gpu.return

// LEAN-LABEL:   func.func @gdn
// LEAN:         gpu.func @muonssm_k0(
// LEAN-COUNT-1:   gpu.barrier
// LEAN:           scf.for
// LEAN-COUNT-4:     gpu.barrier
// LEAN-NOT:       gpu.barrier
// LEAN:           gpu.return

// LEANCHUNK-LABEL: func.func @gdn
// LEANCHUNK:       gpu.func @muonssm_k0(
// LEANCHUNK-COUNT-1: gpu.barrier
// LEANCHUNK:         scf.for
// LEANCHUNK-COUNT-5:   gpu.barrier
// LEANCHUNK-NOT:     gpu.barrier
// LEANCHUNK:         gpu.return
func.func @gdn(%q: tensor<4x128x16x128xbf16>, %k: tensor<4x128x16x128xbf16>,
    %v: tensor<4x128x16x128xbf16>, %g: tensor<4x128x16xf32>, %b: tensor<4x128x16xf32>)
    -> tensor<4x128x16x128xbf16> {
  %o = muonssm.scan q(%q : tensor<4x128x16x128xbf16>) k(%k : tensor<4x128x16x128xbf16>)
      v(%v : tensor<4x128x16x128xbf16>) g(%g : tensor<4x128x16xf32>) beta(%b : tensor<4x128x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.088
      -> o tensor<4x128x16x128xbf16>
  return %o : tensor<4x128x16x128xbf16>
}

// -----

// The paper form keeps every barrier.

// DEF-LABEL:    func.func @paper
// DEF:          gpu.func @muonssm_k0(
// DEF:            scf.for
// DEF-COUNT-7:      gpu.barrier
// DEF-NOT:        gpu.barrier
// DEF:            gpu.return

// LEAN-LABEL:   func.func @paper
// LEAN:         gpu.func @muonssm_k0(
// LEAN:           scf.for
// LEAN-COUNT-7:     gpu.barrier
// LEAN-NOT:       gpu.barrier
// LEAN:           gpu.return
func.func @paper(%q: tensor<8x64x16x128xbf16>, %k: tensor<8x64x16x128xbf16>,
    %v: tensor<8x64x16x128xbf16>, %g: tensor<8x64x16xf32>, %b: tensor<8x64x16xf32>,
    %gain: tensor<8x64x16xf32>) -> tensor<8x64x16x128xbf16> {
  %o = muonssm.scan q(%q : tensor<8x64x16x128xbf16>) k(%k : tensor<8x64x16x128xbf16>)
      v(%v : tensor<8x64x16x128xbf16>) g(%g : tensor<8x64x16xf32>) beta(%b : tensor<8x64x16xf32>)
      gain(%gain : tensor<8x64x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 64>, tau = 1.0, scale = 1.0
      -> o tensor<8x64x16x128xbf16>
  return %o : tensor<8x64x16x128xbf16>
}

// -----

// Retention (no delta rule, no momentum): the barrier after Q Kᵀ goes.

// DEF-LABEL:    func.func @retention
// DEF:          gpu.func @muonssm_k0(
// DEF:            scf.for
// DEF-COUNT-4:      gpu.barrier
// DEF-NOT:        gpu.barrier
// DEF:            gpu.return

// LEAN-LABEL:   func.func @retention
// LEAN:         gpu.func @muonssm_k0(
// LEAN:           scf.for
// LEAN-COUNT-3:     gpu.barrier
// LEAN-NOT:       gpu.barrier
// LEAN:           gpu.return
func.func @retention(%q: tensor<4x128x16x128xbf16>, %k: tensor<4x128x16x128xbf16>,
    %v: tensor<4x128x16x128xbf16>, %g: tensor<4x128x16xf32>)
    -> tensor<4x128x16x128xbf16> {
  %o = muonssm.scan q(%q : tensor<4x128x16x128xbf16>) k(%k : tensor<4x128x16x128xbf16>)
      v(%v : tensor<4x128x16x128xbf16>) g(%g : tensor<4x128x16xf32>)
      decay = scalar, input = update,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.088
      -> o tensor<4x128x16x128xbf16>
  return %o : tensor<4x128x16x128xbf16>
}
