//===- Passes.td - muonssm passes --------------------------*- tablegen -*-===//

#ifndef MUONSSM_PASSES_TD
#define MUONSSM_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToCPU : Pass<"muonssm-lower-to-cpu", "func::FuncOp"> {
  let summary = "Lower muonssm ops to per-token loops on buffers for the CPU";
  let description = [{
    Rewrites every `muonssm.scan` and `muonssm.newton_schulz` into `scf.for`
    loops over `memref` buffers (entered and left through
    `bufferization.to_buffer` / `bufferization.to_tensor`), computing in the
    accumulation precision (f32, or f64 for f64 inputs). The scan is the
    per-token recurrence of docs/dialect.md: one loop over sequences, one over
    value heads and one over tokens, with the K×V state (and momentum) held
    in a scratch buffer per (sequence, head). Newton–Schulz runs its Gram
    iteration on the smaller side of the matrix.

    ```mlir
    // RUN: muonssm-opt %s --muonssm-lower-to-cpu
    %o = muonssm.scan q(%q) k(%k) v(%v) decay = none, input = update,
           tau = 1.0, scale = 1.0 : (...) -> tensor<1x8x1x4xf32>
    // becomes scf.for %n { scf.for %h { scf.for %t { ... } } }
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

#endif // MUONSSM_PASSES_TD
