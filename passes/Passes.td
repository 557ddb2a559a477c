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

def DecomposeMixers : Pass<"muonssm-decompose-mixers", "func::FuncOp"> {
  let summary = "Write mixer ops out as linalg (projections, conv, gates) and a scan";
  let description = [{
    `muonssm.selective_mixer` (Mamba, LongHorn, with or without Muon)
    becomes linalg.generic ops on tensors in the accumulation precision —
    in_proj, the causal depthwise conv with its bias and SiLU, x_proj,
    dt_proj with its bias and softplus (Mamba) or sigmoid (LongHorn),
    A = −exp(A_log), out_proj — around one `muonssm.scan` with
    `decay = mamba|longhorn`, one head (K = d_state, V = d_inner), the D skip
    and the SiLU(z) gate fused in, and the block's momentum and NS (on the
    update, τ inside for Mamba, after for LongHorn). The scan then takes the
    scheduling passes like any other.
    `muonssm.gated_deltanet_mixer` becomes the q, k, v projections with
    their short convs and SiLU, per-head L2 norms of q and k, β = sigmoid,
    g = −exp(A_log)·softplus(…), one scalar-decay scan (plain: the delta
    rule; seed: the error input with NS of the momentum; paper: the delta
    rule with NS of the update; scale K^{-1/2}), the gated RMSNorm and
    o_proj. The vision layout of the selective mixer ('same'-padded convs
    on both halves, no gate, out_proj of cat(y, z)) is written out as the
    sum of out_proj's two column halves' products. The model layers
    (`linear`, `rms_norm`, `conv1d`, `batch_norm`, `mean_pool`,
    `embedding`, `swiglu`) become linalg in the same way. Weights must
    have static shapes; B and L may be dynamic.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def OutlineLayers : Pass<"muonssm-outline-layers", "ModuleOp"> {
  let summary = "Give each distinct mixer or model layer a function of its own";
  let description = [{
    Replaces every mixer and model-layer op (docs/dialect.md §7–§8) in a
    function body by a `func.call` to a private function that holds the op
    alone; ops equal up to their location (same name, attributes, operand
    and result types) share one function; layers with dynamic shapes stay
    inline (a function's dynamically shaped result cannot become an
    out-parameter). A model of N identical layers
    then lowers one copy of each layer instead of N inlined ones: LLVM's
    optimization time grows faster than linearly with a function's size
    (dominator-tree and MemorySSA updates), which made a ten-layer language
    model spend minutes in the CPU JIT. muonssm-to-cpu runs it first.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def ReadOnlyArguments : Pass<"muonssm-read-only-arguments", "func::FuncOp"> {
  let summary = "Forbid bufferization to write into a function's arguments";
  let description = [{
    Marks every tensor argument `bufferization.writable = false`. A model's
    arguments are its caller's inputs (muonssm-run's arrays, a bundle's
    device buffers): one-shot bufferization otherwise treats them as
    writable and may compute an elementwise op in place, overwriting an
    input the caller (and --check's oracle) reads afterwards. muonssm-to-cpu
    runs it before bufferization; muonssm-to-gpu does not, since it updates
    state pools in place on purpose.
  }];
}

def SimplifyNewtonSchulz : Pass<"muonssm-simplify-newton-schulz",
                                "func::FuncOp"> {
  let summary = "Newton–Schulz of a rank-1 update becomes a per-token gain";
  let description = [{
    A scan with `newton_schulz = ... on update` and `input = update` sees NS
    only of rank-1 matrices `τ_in·k_t w_tᵀ`, for which
    `τ_out·NS(τ_in·k wᵀ) = gain_t·k wᵀ` in closed form (docs/chunking.md §1).
    The pass inserts `muonssm.rank1_gain` computing `gain` [B, T, HV] and
    rewrites the scan to take it as its `gain` operand, without NS and with
    `tau = 1`. No K×V matrix work per token remains, and the scan becomes
    linear, so `muonssm-chunk` can chunk it. Scans whose NS input depends on
    the state (`input = error`) or that apply NS to the whole momentum are
    left alone.

    ```mlir
    %o = muonssm.scan ... decay = scalar, input = update, momentum = 0.9,
        newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update
        with tau inside, tau = 1.0, scale = 1.0 -> o ...
    // becomes
    %gain = muonssm.rank1_gain k(%k : ...) v(%v : ...) beta(%b : ...)
        newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1>,
        tau_in = 1.0, tau_out = 1.0 -> tensor<...>
    %o = muonssm.scan ... gain(%gain : ...) decay = scalar, input = update,
        momentum = 0.9, tau = 1.0, scale = 1.0 -> o ...
    ```
  }];
}

def Chunk : Pass<"muonssm-chunk", "func::FuncOp"> {
  let summary = "Give every linear scan a chunked schedule";
  let description = [{
    Sets `schedule = <chunked, C>` on every unscheduled scan that has an
    exact chunked form (docs/chunking.md §2): decays none, scalar and
    diagonal with or without the delta rule, the error input and momentum;
    the elementwise decays of Mamba and LongHorn as a blocked scan. The
    lowerings then compute it chunk by chunk: C×C and C×d products inside a
    chunk and state passing between chunks. Scans without an exact chunked
    form (NS of the momentum, NS of the error input, an elementwise decay
    with a state-dependent input) keep their math and are left unscheduled.
    Run muonssm-simplify-newton-schulz first so that NS on a rank-1 update
    has become a gain.
  }];
  let options = [
    Option<"chunkSize", "chunk-size", "int64_t", /*default=*/"64",
           "Tokens per chunk: a power of two in [1, 1024]">,
  ];
}

def FuseNewtonSchulz : Pass<"muonssm-fuse-newton-schulz", "func::FuncOp"> {
  let summary = "Fuse Newton–Schulz of a non-rank-1 matrix into a recurrent schedule";
  let description = [{
    A scan that applies NS to the whole momentum (the seed's Muon Gated
    DeltaNet), or to an error input that depends on the state, has no exact
    chunked form: NS is nonlinear in M_t. The pass gives it
    `schedule = <recurrent>`: the state and the momentum stay resident (on
    chip on a GPU, in one scratch buffer per (sequence, head) on the CPU) and
    the Newton–Schulz Gram products run per token on the smaller side of
    the matrix; nothing but o_t is written per token (docs/chunking.md §3).

    With `per-chunk=C` (C > 0) the pass also applies the named per-chunk
    approximation (docs/chunking.md §3.2) to every scan with NS on a rank-1
    update: NS runs once per chunk of C tokens on the chunk's summed update,
    through C×C Grams, in a `muonssm.chunk_newton_schulz` op whose effective
    keys replace `k`; the scan loses NS and `tau` and stays linear, so
    muonssm-chunk chunks it. Run it before simplify-newton-schulz (the
    pipelines' `ns-per-chunk` option does). This is not the per-token model
    of the seed; a scan it cannot express (error input, delta rule, LongHorn,
    H ≠ HV) is a located error.

    ```mlir
    // RUN: muonssm-opt %s --muonssm-fuse-newton-schulz=per-chunk=64
    %o = muonssm.scan q(%q) k(%k) v(%v) beta(%b) decay = scalar, ...,
        newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update
        with tau inside, tau = 1.0, scale = 1.0 -> o ...
    // becomes
    %kt = muonssm.chunk_newton_schulz k(%k) v(%v) beta(%b)
        newton_schulz = <...>, tau_in = 1.0, tau_out = 1.0, chunk_size = 64
    %o = muonssm.scan q(%q) k(%kt) v(%v) beta(%b) decay = scalar, ...,
        tau = 1.0, scale = 1.0 -> o ...
    ```
  }];
  let options = [
    Option<"perChunk", "per-chunk", "int64_t", /*default=*/"0",
           "Approximate NS of rank-1 updates per chunk of this many tokens "
           "(a power of two in [1, 1024]); 0 (default) keeps per-token NS">,
  ];
}

def LowerToGPU : Pass<"muonssm-lower-to-gpu", "ModuleOp"> {
  let summary = "Lower muonssm ops to GPU kernels and their launches";
  let description = [{
    Creates `gpu.module @muonssm_kernels` with an NVVM target and, for every
    muonssm op, a `gpu.func` kernel; the op becomes a `gpu.launch_func` on
    flat views of its operands and results. The kernels (docs/gpu.md):
    `muonssm.scan` without Newton–Schulz runs chunked on tensor cores (bf16
    and f16, often after a solve kernel) or token by token with the state in
    registers (one block per sequence, value head and tile of value
    columns); `muonssm.rank1_gain` runs a group of lanes per (b, t, h),
    unless it feeds only a chunked scan with a solve kernel, on the scan's
    own k, v and β and without dt, whose solve kernel then forms the gain
    beside T. The function
    keeps its float64 reference as the `muonssm.reference` attribute for
    muonssm-translate's bundles.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
  ];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_90a\"",
           "Target GPU architecture">,
    Option<"features", "features", "std::string", /*default=*/"\"+ptx80\"",
           "PTX features (a PTX ISA version the chip needs)">,
    Option<"wgmmaOverlap", "wgmma-overlap", "bool", /*default=*/"true",
           "Chunked kernels on sm_90a: let independent wgmma groups run "
           "beside other work instead of waiting for each at once "
           "(docs/gpu.md §3.5)">,
    Option<"leanBarriers", "lean-barriers", "bool", /*default=*/"false",
           "Chunked kernels: drop the barrier after Q K^T where the next "
           "step reads none of its tiles, and give U a tile of its own so "
           "that no barrier waits for the reads of W' (docs/gpu.md §3.6; "
           "not yet measured on a GPU)">,
    Option<"solve", "solve", "std::string", /*default=*/"\"auto\"",
           "Where chunked delta-rule scans invert I + L: auto (by their "
           "sizes, docs/gpu.md §3.2), kernel (a solve kernel before the "
           "chunked one) or chunk (inside the chunked kernel)">,
    Option<"valueTile", "value-tile", "int64_t", /*default=*/"0",
           "Chunked kernels: at most this many value columns a block, a "
           "multiple of 16 up to 128 (0: by the sizes; a tuning experiment, "
           "docs/gpu.md §3.7)">,
    Option<"blocksPerSM", "blocks-per-sm", "int64_t", /*default=*/"0",
           "Chunked kernels: 2 lays shared memory out for two blocks an SM "
           "and caps the registers at 128, 1 keeps one (0: by the sizes; a "
           "tuning experiment, docs/gpu.md §3.7)">,
  ];
}

def NVGPUToNVVM : Pass<"muonssm-nvgpu-to-nvvm", "::mlir::gpu::GPUModuleOp"> {
  let summary = "convert-nvgpu-to-nvvm at the kernels' index bitwidth";
  let description = [{
    Upstream's `convert-nvgpu-to-nvvm` (MLIR 22) always converts with a
    64-bit index, so its ldmatrix lowering cannot be combined with
    `convert-gpu-to-nvvm{index-bitwidth=32}`: the memref descriptors of the
    two disagree and an unrealized cast survives to the LLVM translation.
    This pass runs the same upstream patterns
    (`populateNVGPUToNVVMConversionPatterns`) with the index bitwidth of the
    rest of the kernel lowering; muonssm-to-gpu runs it on each gpu.module
    right before convert-gpu-to-nvvm. 32-bit indices halve the registers of
    the many lane offsets a tensor-core kernel keeps (docs/gpu.md §4).
  }];
  let options = [
    Option<"indexBitwidth", "index-bitwidth", "unsigned", /*default=*/"32",
           "Bitwidth of the index type in the kernels">,
  ];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect",
    "::mlir::NVVM::NVVMDialect",
  ];
}

#endif // MUONSSM_PASSES_TD
