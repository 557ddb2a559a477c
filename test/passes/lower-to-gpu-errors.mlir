// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu -verify-diagnostics

// What has no GPU kernel is a located error, not a silent fallback.

func.func @f64_inputs(%q: tensor<1x5x1x16xf64>, %k: tensor<1x5x1x16xf64>,
    %v: tensor<1x5x1x16xf64>) -> tensor<1x5x1x16xf64> {
  // expected-error @+1 {{the GPU kernels compute in f32; f64 inputs run on the CPU (--target cpu)}}
  %o = muonssm.scan q(%q : tensor<1x5x1x16xf64>) k(%k : tensor<1x5x1x16xf64>)
      v(%v : tensor<1x5x1x16xf64>) decay = none, input = update,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x16xf64>
  return %o : tensor<1x5x1x16xf64>
}

// -----

func.func @dynamic_key_dim(%q: tensor<1x5x1x?xf32>, %k: tensor<1x5x1x?xf32>,
    %v: tensor<1x5x1x16xf32>) -> tensor<1x5x1x16xf32> {
  // expected-error @+1 {{the GPU lowering needs a static key dimension K}}
  %o = muonssm.scan q(%q : tensor<1x5x1x?xf32>) k(%k : tensor<1x5x1x?xf32>)
      v(%v : tensor<1x5x1x16xf32>) decay = none, input = update,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x16xf32>
  return %o : tensor<1x5x1x16xf32>
}

// -----

func.func @head_dim(%q: tensor<1x5x1x512xbf16>, %k: tensor<1x5x1x512xbf16>,
    %v: tensor<1x5x1x16xbf16>) -> tensor<1x5x1x16xbf16> {
  // expected-error @+1 {{the GPU kernels support key dimensions K up to 256, got 'tensor<1x5x1x512xbf16>'}}
  %o = muonssm.scan q(%q : tensor<1x5x1x512xbf16>) k(%k : tensor<1x5x1x512xbf16>)
      v(%v : tensor<1x5x1x16xbf16>) decay = none, input = update,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x16xbf16>
  return %o : tensor<1x5x1x16xbf16>
}

// -----

// The momentum NS kernel has one thread per value column (v, u and o):
// V = 512 fits its registers and shared memory but not its 256 threads.
func.func @momentum_ns_wide_v(%q: tensor<1x5x1x32xf32>, %k: tensor<1x5x1x32xf32>,
    %v: tensor<1x5x1x512xf32>) -> tensor<1x5x1x512xf32> {
  // expected-error @+1 {{the GPU kernel for Newton-Schulz of the momentum does not cover this scan: its head dimensions exceed 256}}
  %o = muonssm.scan q(%q : tensor<1x5x1x32xf32>) k(%k : tensor<1x5x1x32xf32>)
      v(%v : tensor<1x5x1x512xf32>) decay = none, input = update, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x512xf32>
  return %o : tensor<1x5x1x512xf32>
}

// -----

// K = V = 256 fits the threads but not the registers: S would take 256
// floats a thread (16 row tiles × 4 column tiles a warp).
func.func @momentum_ns_big_state(%q: tensor<1x5x1x256xf32>, %k: tensor<1x5x1x256xf32>,
    %v: tensor<1x5x1x256xf32>) -> tensor<1x5x1x256xf32> {
  // expected-error @+1 {{the GPU kernel for Newton-Schulz of the momentum does not cover this scan: its state is too large for the registers of one block (128 floats of S a thread: K·V up to about 32768)}}
  %o = muonssm.scan q(%q : tensor<1x5x1x256xf32>) k(%k : tensor<1x5x1x256xf32>)
      v(%v : tensor<1x5x1x256xf32>) decay = none, input = update, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x256xf32>
  return %o : tensor<1x5x1x256xf32>
}

// -----

// The momentum NS kernel keeps the Gram polynomial of one step.
func.func @momentum_ns_steps(%q: tensor<1x5x1x16xf32>, %k: tensor<1x5x1x16xf32>,
    %v: tensor<1x5x1x16xf32>) -> tensor<1x5x1x16xf32> {
  // expected-error @+1 {{the GPU kernel for Newton-Schulz of the momentum does not cover this scan: it runs more than one Newton-Schulz step}}
  %o = muonssm.scan q(%q : tensor<1x5x1x16xf32>) k(%k : tensor<1x5x1x16xf32>)
      v(%v : tensor<1x5x1x16xf32>) decay = none, input = update, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 2> on momentum with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x16xf32>
  return %o : tensor<1x5x1x16xf32>
}

// -----

// Newton-Schulz of an update must have become a gain first.
func.func @update_ns(%q: tensor<1x5x1x16xf32>, %k: tensor<1x5x1x16xf32>,
    %v: tensor<1x5x1x16xf32>) -> tensor<1x5x1x16xf32> {
  // expected-error @+1 {{the GPU lowering needs Newton-Schulz of a rank-1 update as a gain: run muonssm-simplify-newton-schulz first}}
  %o = muonssm.scan q(%q : tensor<1x5x1x16xf32>) k(%k : tensor<1x5x1x16xf32>)
      v(%v : tensor<1x5x1x16xf32>) decay = none, input = update,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x5x1x16xf32>
  return %o : tensor<1x5x1x16xf32>
}

// -----

// The NS-of-the-momentum kernel has no skip/gate epilogue (only the
// recurrent kernel fuses Mamba's).
func.func @momentum_ns_with_gate(%q: tensor<1x8x1x16xf32>, %v: tensor<1x8x1x16xf32>,
    %z: tensor<1x8x1x16xf32>) -> tensor<1x8x1x16xf32> {
  // expected-error @+1 {{the GPU kernel for Newton-Schulz of the momentum does not cover this scan: it has Mamba's skip or gate}}
  %o = muonssm.scan q(%q : tensor<1x8x1x16xf32>) k(%q : tensor<1x8x1x16xf32>)
      v(%v : tensor<1x8x1x16xf32>) gate(%z : tensor<1x8x1x16xf32>)
      decay = none, input = update, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x8x1x16xf32>
  return %o : tensor<1x8x1x16xf32>
}

// -----

func.func @chunk_newton_schulz(%k: tensor<1x8x1x16xf32>, %v: tensor<1x8x1x4xf32>) -> tensor<1x8x1x16xf32> {
  // expected-error @+1 {{the per-chunk Newton-Schulz approximation runs on the CPU only (--target cpu); the GPU lowering has no kernel for it}}
  %kt = muonssm.chunk_newton_schulz k(%k : tensor<1x8x1x16xf32>) v(%v : tensor<1x8x1x4xf32>)
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>, tau_in = 1.0, tau_out = 1.0,
      chunk_size = 4 -> tensor<1x8x1x16xf32>
  return %kt : tensor<1x8x1x16xf32>
}
