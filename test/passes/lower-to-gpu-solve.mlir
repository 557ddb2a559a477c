// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu | FileCheck %s --check-prefix=AUTO
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=wgmma-overlap=false | FileCheck %s --check-prefix=NOOVERLAP
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=chip=sm_90 | FileCheck %s --check-prefix=NOOVERLAP
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=solve=kernel | FileCheck %s --check-prefix=KERNEL
// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=solve=chunk | FileCheck %s --check-prefix=CHUNK
// RUN: not muonssm-opt %s -split-input-file -muonssm-lower-to-gpu=solve=sometimes 2>&1 | FileCheck %s --check-prefix=BAD

// The `solve` option places the inversion of I + L of chunked delta-rule
// scans (docs/gpu.md §3.2): auto chooses by size, kernel and chunk override
// it (to measure the choice again). Gated DeltaNet at 16 × 16 (sequence,
// head) pairs, K = V = 128: more blocks than SMs. On sm_90a with overlapped
// wgmma groups (the default) auto presolves in a solve kernel
// (bench/results/gpu-h200-stop23.md); without the overlap, or without wgmma
// (sm_90), it solves in the chunk (no solve kernel; the chunked kernel's
// warps 0-3 synchronise on their own barrier 1 beside warps 4-7).

// AUTO-LABEL: func.func @many_pairs
// AUTO:         gpu.launch_func  @muonssm_kernels::@muonssm_k0_solve
// AUTO:         gpu.func @muonssm_k0_solve(
// AUTO:         gpu.func @muonssm_k0(
// AUTO-SAME:      muonssm.arg = "t_inverse"
// NOOVERLAP-LABEL: func.func @many_pairs
// NOOVERLAP-NOT:     muonssm_k0_solve
// NOOVERLAP:         gpu.func @muonssm_k0(
// NOOVERLAP:           nvvm.barrier id = %{{.*}} number_of_threads = %{{.*}}
// KERNEL-LABEL: func.func @many_pairs
// KERNEL:         gpu.launch_func  @muonssm_kernels::@muonssm_k0_solve
// KERNEL:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks
// KERNEL-SAME:      {{.*}} : memref<?xbf16>, {{.*}} : memref<?xbf16>
// KERNEL:       gpu.func @muonssm_k0_solve(
// KERNEL:       gpu.func @muonssm_k0(
// KERNEL-SAME:    muonssm.arg = "t_inverse"
// KERNEL-NOT:     nvvm.barrier id
// KERNEL:         gpu.return
// CHUNK-LABEL: func.func @many_pairs
// CHUNK-NOT:     muonssm_k0_solve
// CHUNK:         gpu.func @muonssm_k0(
func.func @many_pairs(%q: tensor<16x64x16x128xbf16>, %k: tensor<16x64x16x128xbf16>,
    %v: tensor<16x64x16x128xbf16>, %g: tensor<16x64x16xf32>, %b: tensor<16x64x16xf32>)
    -> tensor<16x64x16x128xbf16> {
  %o = muonssm.scan q(%q : tensor<16x64x16x128xbf16>) k(%k : tensor<16x64x16x128xbf16>)
      v(%v : tensor<16x64x16x128xbf16>) g(%g : tensor<16x64x16xf32>) beta(%b : tensor<16x64x16xf32>)
      decay = scalar, input = update, delta_rule = 1.0,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.088
      -> o tensor<16x64x16x128xbf16>
  return %o : tensor<16x64x16x128xbf16>
}

// -----

// The paper form: auto (and kernel) forms its gain in the solve kernel;
// with solve=chunk there is no solve kernel, so the gain keeps a kernel of
// its own (muonssm_k0) and the chunked kernel (muonssm_k1) solves T.

// AUTO-LABEL: func.func @paper
// AUTO-NOT:     gpu.func @muonssm_k0(
// AUTO:         gpu.func @muonssm_k1_solve(
// AUTO-SAME:      muonssm.arg = "gain"
// NOOVERLAP-LABEL: func.func @paper
// NOOVERLAP-NOT:     gpu.func @muonssm_k0(
// NOOVERLAP:         gpu.func @muonssm_k1_solve(
// KERNEL-LABEL: func.func @paper
// KERNEL-NOT:     gpu.func @muonssm_k0(
// KERNEL:         gpu.func @muonssm_k1_solve(
// CHUNK-LABEL: func.func @paper
// CHUNK:         gpu.launch_func  @muonssm_kernels::@muonssm_k0 blocks
// CHUNK:         gpu.launch_func  @muonssm_kernels::@muonssm_k1 blocks
// CHUNK-NOT:     _solve
// CHUNK:         gpu.func @muonssm_k0(
// CHUNK:         gpu.func @muonssm_k1(
// CHUNK-NOT:       muonssm.arg = "t_inverse"
// CHUNK:           nvvm.barrier id = %{{.*}} number_of_threads = %{{.*}}
func.func @paper(%q: tensor<2x130x2x128xbf16>, %k: tensor<2x130x2x128xbf16>,
    %v: tensor<2x130x2x128xbf16>, %g: tensor<2x130x2xf32>, %b: tensor<2x130x2xf32>)
    -> tensor<2x130x2x128xbf16> {
  %w = muonssm.rank1_gain k(%k : tensor<2x130x2x128xbf16>) v(%v : tensor<2x130x2x128xbf16>)
      beta(%b : tensor<2x130x2xf32>) newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>,
      tau_in = 1.0, tau_out = 1.0 -> tensor<2x130x2xf32>
  %o = muonssm.scan q(%q : tensor<2x130x2x128xbf16>) k(%k : tensor<2x130x2x128xbf16>)
      v(%v : tensor<2x130x2x128xbf16>) g(%g : tensor<2x130x2xf32>) beta(%b : tensor<2x130x2xf32>)
      gain(%w : tensor<2x130x2xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 64>, tau = 1.0, scale = 0.125
      -> o tensor<2x130x2x128xbf16>
  return %o : tensor<2x130x2x128xbf16>
}

// BAD: error: muonssm-lower-to-gpu: solve='sometimes' is none of auto, kernel, chunk
