// RUN: muonssm-opt %s -split-input-file -muonssm-lower-to-cpu | FileCheck %s

// A scan becomes loops over sequences, value heads and tokens on buffers; the
// state is a K×V scratch buffer; 16-bit inputs are widened to f32 on load and
// o is rounded once on store.

// CHECK-LABEL: func.func @gated_deltanet
// CHECK-DAG:     %[[Q:.*]] = bufferization.to_buffer %arg0 read_only : tensor<1x4x1x2xbf16> to memref<1x4x1x2xbf16, strided<[?, ?, ?, ?], offset: ?>>
// CHECK-DAG:     %[[O:.*]] = memref.alloc() : memref<1x4x1x3xbf16>
// CHECK-DAG:     %[[S:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK:         scf.for %[[N:.*]] =
// CHECK:           scf.for %[[H:.*]] =
// CHECK:             %[[KH:.*]] = arith.divui %[[H]]
// CHECK:             scf.for %[[T:.*]] =
// CHECK:               memref.load %[[Q]][%[[N]], %[[T]], %[[KH]], %{{.*}}] : memref<1x4x1x2xbf16
// CHECK:               arith.extf %{{.*}} : bf16 to f32
// f32 exp is MLIR's polynomial (range reduction by floor, then FMAs), so the
// decay loops vectorise; f64 keeps math.exp (see @mamba_f64).
// CHECK-NOT:           math.exp
// CHECK:               math.floor
// CHECK:               math.fma
// CHECK:               arith.truncf %{{.*}} : f32 to bf16
// CHECK:               memref.store %{{.*}}, %[[O]][%[[N]], %[[T]], %[[H]], %{{.*}}] : memref<1x4x1x3xbf16>
// CHECK:         %[[R:.*]] = bufferization.to_tensor %[[O]] restrict writable
// CHECK-NOT:     muonssm.
// CHECK:         return %[[R]]
func.func @gated_deltanet(%q: tensor<1x4x1x2xbf16>, %k: tensor<1x4x1x2xbf16>,
    %v: tensor<1x4x1x3xbf16>, %g: tensor<1x4x1xf32>, %b: tensor<1x4x1xf32>)
    -> tensor<1x4x1x3xbf16> {
  %o = muonssm.scan q(%q : tensor<1x4x1x2xbf16>) k(%k : tensor<1x4x1x2xbf16>)
      v(%v : tensor<1x4x1x3xbf16>) g(%g : tensor<1x4x1xf32>) beta(%b : tensor<1x4x1xf32>)
      decay = scalar, input = update, delta_rule = 1.0, tau = 1.0, scale = 0.5
      -> o tensor<1x4x1x3xbf16>
  return %o : tensor<1x4x1x3xbf16>
}

// -----

// Newton–Schulz of the momentum: normalise by ‖M‖_F + eps, then pick the
// smaller Gram side at run time.

// CHECK-LABEL: func.func @seed_muon_gdn
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               math.sqrt
// CHECK:               arith.addf %{{.*}}, %cst{{.*}} : f32
// CHECK:               arith.divf
// CHECK:               %[[WIDE:.*]] = arith.cmpi ule
// CHECK:               scf.for
// CHECK:                 scf.if %[[WIDE]] {
// CHECK:                 } else {
// CHECK:                 memref.copy
// CHECK:         bufferization.to_tensor
// CHECK:         bufferization.to_tensor
// CHECK:         bufferization.to_tensor
func.func @seed_muon_gdn(%q: tensor<?x?x2x8xf32>, %k: tensor<?x?x2x8xf32>,
    %v: tensor<?x?x2x4xf32>, %g: tensor<?x?x2xf32>, %b: tensor<?x?x2xf32>)
    -> (tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>, tensor<?x2x8x4xf32>) {
  %o, %s, %m = muonssm.scan q(%q : tensor<?x?x2x8xf32>) k(%k : tensor<?x?x2x8xf32>)
      v(%v : tensor<?x?x2x4xf32>) g(%g : tensor<?x?x2xf32>) beta(%b : tensor<?x?x2xf32>)
      decay = scalar, input = error, momentum = 0.9,
      newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside,
      tau = 1.0, scale = 0.35
      -> o tensor<?x?x2x4xf32> final_state tensor<?x2x8x4xf32> final_momentum tensor<?x2x8x4xf32>
  return %o, %s, %m : tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>, tensor<?x2x8x4xf32>
}

// -----

// Mamba's decay exp(Δ[j]·A[h,i,j]); LongHorn's 1 − dtn[j]·k[i]² with
// dtn = dt/(1 + dt‖k‖²); the cubic uses max(‖X‖, eps).

// CHECK-LABEL: func.func @mamba_f64
// CHECK:         arith.mulf
// CHECK-NEXT:    math.exp
func.func @mamba_f64(%c: tensor<1x3x1x4xf64>, %bm: tensor<1x3x1x4xf64>,
    %u: tensor<1x3x1x8xf64>, %d: tensor<1x3x1x8xf64>, %a: tensor<1x4x8xf64>)
    -> tensor<1x3x1x8xf64> {
  %o = muonssm.scan q(%c : tensor<1x3x1x4xf64>) k(%bm : tensor<1x3x1x4xf64>)
      v(%u : tensor<1x3x1x8xf64>) dt(%d : tensor<1x3x1x8xf64>) A(%a : tensor<1x4x8xf64>)
      beta(%d : tensor<1x3x1x8xf64>)
      decay = mamba, input = update, tau = 1.0, scale = 1.0
      -> o tensor<1x3x1x8xf64>
  return %o : tensor<1x3x1x8xf64>
}

// CHECK-LABEL: func.func @longhorn
// CHECK:         math.fma
// CHECK-NEXT:    arith.divf
// CHECK:         arith.maximumf
func.func @longhorn(%qq: tensor<1x3x1x4xf32>, %kk: tensor<1x3x1x4xf32>,
    %u: tensor<1x3x1x8xf32>, %dt: tensor<1x3x1x8xf32>) -> tensor<1x3x1x8xf32> {
  %o = muonssm.scan q(%qq : tensor<1x3x1x4xf32>) k(%kk : tensor<1x3x1x4xf32>)
      v(%u : tensor<1x3x1x8xf32>) dt(%dt : tensor<1x3x1x8xf32>)
      decay = longhorn, input = update, momentum = 0.5,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau after,
      tau = 0.6, scale = 1.0
      -> o tensor<1x3x1x8xf32>
  return %o : tensor<1x3x1x8xf32>
}

// -----

// Varlen: the token range of sequence n is read from cu_seqlens and clamped
// to [0, T].

// CHECK-LABEL: func.func @varlen
// CHECK:         scf.for %[[N:.*]] =
// CHECK:           %[[LO:.*]] = memref.load %{{.*}}[%[[N]]] : memref<3xi64
// CHECK:           arith.index_cast %[[LO]] : i64 to index
// CHECK:           arith.maxsi
// CHECK:           arith.minsi
func.func @varlen(%q: tensor<1x9x1x4xf32>, %k: tensor<1x9x1x4xf32>,
    %v: tensor<1x9x1x4xf32>, %cu: tensor<3xi64>) -> tensor<2x1x4x4xf32> {
  %o, %s = muonssm.scan q(%q : tensor<1x9x1x4xf32>) k(%k : tensor<1x9x1x4xf32>)
      v(%v : tensor<1x9x1x4xf32>) cu_seqlens(%cu : tensor<3xi64>)
      decay = none, input = update, tau = 1.0, scale = 1.0
      -> o tensor<1x9x1x4xf32> final_state tensor<2x1x4x4xf32>
  return %s : tensor<2x1x4x4xf32>
}

// -----

// The standalone op: a loop nest over the leading dimensions around NS.

// CHECK-LABEL: func.func @newton_schulz
// CHECK:         scf.for
// CHECK:           math.sqrt
// CHECK:           scf.if
// CHECK:         bufferization.to_tensor %{{.*}} restrict writable : memref<3x4x5xf16>
func.func @newton_schulz(%x: tensor<3x4x5xf16>) -> tensor<3x4x5xf16> {
  %y = muonssm.newton_schulz %x <quintic, add, eps = 1.0e-07, steps = 2> : tensor<3x4x5xf16>
  return %y : tensor<3x4x5xf16>
}

// -----

// Other ops are left alone.

// CHECK-LABEL: func.func @untouched
// CHECK-NEXT:    %[[A:.*]] = arith.addf %arg0, %arg0 : tensor<4xf32>
// CHECK-NEXT:    return %[[A]]
func.func @untouched(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = arith.addf %x, %x : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// A chunked scan: a loop over chunks of C = 16 tokens with a clipped last
// chunk, column sweeps with the delta-rule correction kernels (t > s), the
// forward substitution, outputs, state passing.

// CHECK-LABEL: func.func @chunked_delta
// CHECK-DAG:     %[[C16:.*]] = arith.constant 16 : index
// CHECK:         math.powf
// CHECK:         scf.for %[[C0:.*]] = %{{.*}} to %{{.*}} step %[[C16]] {
// CHECK:           %[[LEN:.*]] = arith.minsi %[[C16]], %{{.*}}
// CHECK:           scf.for %[[S:.*]] = %{{.*}} to %[[LEN]]
// CHECK:             scf.for %[[T:.*]] = %[[S]] to %[[LEN]]
// CHECK:               %[[LATER:.*]] = arith.cmpi ult, %[[S]], %[[T]]
// CHECK:               scf.if %[[LATER]] {
func.func @chunked_delta(%q: tensor<1x40x1x4xf32>, %k: tensor<1x40x1x4xf32>,
    %v: tensor<1x40x1x4xf32>, %g: tensor<1x40x1xf32>, %b: tensor<1x40x1xf32>)
    -> tensor<1x40x1x4xf32> {
  %o = muonssm.scan q(%q : tensor<1x40x1x4xf32>) k(%k : tensor<1x40x1x4xf32>)
      v(%v : tensor<1x40x1x4xf32>) g(%g : tensor<1x40x1xf32>) beta(%b : tensor<1x40x1xf32>)
      decay = scalar, input = update, delta_rule = 1.0, momentum = 0.9,
      schedule = <chunked, 16>, tau = 1.0, scale = 1.0 -> o tensor<1x40x1x4xf32>
  return %o : tensor<1x40x1x4xf32>
}

// -----

// A blocked (elementwise) chunk: key rows, then tokens, then the value
// channels innermost, carrying (ℓ, ℓ_v, P, Ψ) as rows of V values.

// CHECK-LABEL: func.func @chunked_mamba
// Inside the decay loop A[h, i, j] and Δ[t, j] are read with the value
// channel j as the innermost index.
// CHECK:         math.powf
// CHECK:         memref.load %{{.*}}[%{{.*}}, %[[I:.*]], %[[J:.*]]] : memref<1x4x8xf32
// CHECK-NEXT:    memref.load %{{.*}}[%{{.*}}, %[[J]]] : memref<?x?xf32>
// CHECK:         math.floor
func.func @chunked_mamba(%c: tensor<1x9x1x4xf32>, %bm: tensor<1x9x1x4xf32>,
    %u: tensor<1x9x1x8xf32>, %d: tensor<1x9x1x8xf32>, %a: tensor<1x4x8xf32>)
    -> tensor<1x9x1x8xf32> {
  %o = muonssm.scan q(%c : tensor<1x9x1x4xf32>) k(%bm : tensor<1x9x1x4xf32>)
      v(%u : tensor<1x9x1x8xf32>) dt(%d : tensor<1x9x1x8xf32>) A(%a : tensor<1x4x8xf32>)
      beta(%d : tensor<1x9x1x8xf32>)
      decay = mamba, input = update, momentum = 0.9, schedule = <chunked, 4>,
      tau = 1.0, scale = 1.0 -> o tensor<1x9x1x8xf32>
  return %o : tensor<1x9x1x8xf32>
}

// -----

// NS on the update without a gain op is still the closed-form gain inside
// the loop: a norm over keys and one over values, no Gram matrix.

// CHECK-LABEL: func.func @ns_update_in_loop
// CHECK-NOT:     arith.cmpi ule
// CHECK:         math.sqrt
// CHECK:         math.sqrt
// CHECK:         arith.cmpf oeq
// CHECK:         arith.select
func.func @ns_update_in_loop(%q: tensor<1x3x1x4xf32>, %k: tensor<1x3x1x4xf32>,
    %v: tensor<1x3x1x4xf32>, %b: tensor<1x3x1xf32>) -> tensor<1x3x1x4xf32> {
  %o = muonssm.scan q(%q : tensor<1x3x1x4xf32>) k(%k : tensor<1x3x1x4xf32>)
      v(%v : tensor<1x3x1x4xf32>) beta(%b : tensor<1x3x1xf32>)
      decay = none, input = error,
      newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside,
      tau = 1.0, scale = 1.0 -> o tensor<1x3x1x4xf32>
  return %o : tensor<1x3x1x4xf32>
}

// -----

// muonssm.rank1_gain: ‖k‖ and ‖w‖ per token, the closed form, one value per
// (b, t, h).

// CHECK-LABEL: func.func @rank1_gain
// CHECK:         %[[OUT:.*]] = memref.alloc() : memref<2x5x4xf32>
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               arith.select
// CHECK:               memref.store %{{.*}}, %[[OUT]]
// CHECK:         bufferization.to_tensor %[[OUT]]
func.func @rank1_gain(%k: tensor<2x5x2x3xbf16>, %v: tensor<2x5x4x6xbf16>,
    %b: tensor<2x5x4x6xbf16>) -> tensor<2x5x4xf32> {
  %g = muonssm.rank1_gain k(%k : tensor<2x5x2x3xbf16>) v(%v : tensor<2x5x4x6xbf16>)
      beta(%b : tensor<2x5x4x6xbf16>) newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1>,
      tau_in = 1.0, tau_out = 0.5 -> tensor<2x5x4xf32>
  return %g : tensor<2x5x4xf32>
}

// -----

// muonssm.chunk_newton_schulz: per sequence, value head and chunk, C×C
// scratch Grams, the normalised start Z₀ = τ_in/(‖U‖ + ε)·I, one pass of the
// Z iteration per NS step (here 2), then the effective keys stored in the
// element type of k.

// CHECK-LABEL: func.func @chunk_newton_schulz
// CHECK:         %[[OUT:.*]] = memref.alloc() : memref<2x10x4x3xbf16>
// CHECK-COUNT-6: memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK:         scf.for %[[B:.*]] =
// CHECK:           scf.for %[[H:.*]] =
// CHECK:             scf.for %[[C0:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:               arith.minsi
// CHECK:               math.sqrt
// CHECK:               arith.addf
// CHECK:               arith.select
// CHECK-COUNT-2:       math.fma
// CHECK:               arith.truncf %{{.*}} : f32 to bf16
// CHECK:               memref.store %{{.*}}, %[[OUT]]
// CHECK:         bufferization.to_tensor %[[OUT]]
func.func @chunk_newton_schulz(%k: tensor<2x10x2x3xbf16>, %v: tensor<2x10x4x6xbf16>,
    %b: tensor<2x10x4xbf16>) -> tensor<2x10x4x3xbf16> {
  %kt = muonssm.chunk_newton_schulz k(%k : tensor<2x10x2x3xbf16>) v(%v : tensor<2x10x4x6xbf16>)
      beta(%b : tensor<2x10x4xbf16>) newton_schulz = <quintic, add, eps = 1.0e-07, steps = 2>,
      tau_in = 1.0, tau_out = 0.5, chunk_size = 4 -> tensor<2x10x4x3xbf16>
  return %kt : tensor<2x10x4x3xbf16>
}
