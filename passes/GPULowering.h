//===- GPULowering.h - pieces of muonssm-lower-to-gpu -----------*- C++ -*-===//
//
// Each muonssm op becomes a gpu.func in the gpu.module @muonssm_kernels and,
// in its place on the host, a gpu.launch_func on flat buffer views of its
// operands and results (bufferization.to_buffer + memref.collapse_shape; the
// results are fresh allocations returned through bufferization.to_tensor).
// Kernels take every buffer as memref<?xT> and every size as i32.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_PASSES_GPULOWERING_H
#define MUONSSM_PASSES_GPULOWERING_H

#include "passes/GPUEmitter.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace mlir::muonssm::gpu_codegen {

/// Builds the host side of one kernel launch, at the op it replaces.
class LaunchBuilder {
public:
  LaunchBuilder(Operation *op, gpu::GPUModuleOp kernels, StringRef name);

  /// A tensor operand (or a result of `op`, isResult) passed as a flat
  /// buffer named `name`. Results need `sizes`: every dimension as index.
  void addBuffer(StringRef name, Value tensor, bool isResult,
                 ArrayRef<Value> sizes = {});
  /// The result `result` of `op` computed in place in the buffer of the
  /// operand `operand` (a state pool): the kernel writes into the operand's
  /// buffer, which bufferization then hands on as the result (copying the
  /// operand first only where it is still needed).
  void addInPlaceBuffer(StringRef name, Value operand, Value result);
  /// A host buffer that no op result owns (a temporary between two
  /// kernels, from `temporary`), passed as a flat buffer named `name`.
  void addMemRef(StringRef name, Value memref);
  /// A flat view of a temporary buffer of `shape` (the host's memref.alloc,
  /// which the bundle records as a temporary), for addMemRef.
  Value temporary(Type element, ArrayRef<int64_t> shape,
                  ArrayRef<Value> dynamicSizes);
  /// Every operand a scan kernel reads and every result it writes, named
  /// as the operands are (q, k, v, g, dt, a, beta, gain, cu_seqlens,
  /// initial_state, initial_momentum, state_indices; o, final_state,
  /// final_momentum), the final states of pools in place; then the sizes
  /// P (pools only), T, H and HV. A `gain` temporary (addMemRef) takes the
  /// place of the op's gain operand.
  void addScanOperands(ScanOp op, Value gain = {});
  /// Dimension `dim` of a tensor operand, passed as an i32 named `name`.
  void addSize(StringRef name, Value tensor, int64_t dim);
  size_t numBuffers() const { return buffers.size(); }
  SmallVector<std::string> argNames() const;

  /// The kernel function, with its arguments typed; its body is empty.
  gpu::GPUFuncOp createKernel(int64_t threads, int64_t sharedBytes);

  /// Launches the kernel on `grid` blocks and replaces the op's results.
  void launch(ArrayRef<Value> grid);
  /// Launches the kernel on `grid` blocks, leaving the op in place: a
  /// kernel that only writes temporaries for a later launch.
  void launchOnly(ArrayRef<Value> grid);
  /// Marks the launch as computing its products on tensor cores with
  /// operands rounded to `element` (bf16/f16): muonssm-translate records it,
  /// and --check takes the matching tolerance.
  void setProducts(Type element) { products = element; }

  // Host index arithmetic.
  Value dim(Value tensor, int64_t d);
  Value cst(int64_t v);
  Value ceilDiv(Value x, int64_t d);
  Value sub(Value x, int64_t y);
  Value mul(Value x, Value y);
  Value add(Value x, Value y);
  Value div(Value x, int64_t d);

private:
  gpu::LaunchFuncOp createLaunch(ArrayRef<Value> grid);

  struct Buffer {
    std::string name;
    Value tensor;
    bool isResult;
    Value flat; // memref<?xT>
    Value alloc;
  };
  Operation *op;
  gpu::GPUModuleOp kernels;
  std::string name;
  ImplicitLocOpBuilder b;
  SmallVector<Buffer> buffers;
  SmallVector<std::pair<std::string, Value>> sizes; // i32 values
  gpu::GPUFuncOp func;
  int64_t threads = 128, sharedBytes = 0;
  Type products;
};

/// muonssm.scan without NS (after simplify-newton-schulz), token by token
/// with the state in registers (RecurrentScanToGPU.cpp).
LogicalResult lowerRecurrentScan(ScanOp op, gpu::GPUModuleOp kernels,
                                 StringRef name);

/// Why a scan has no tensor-core chunked kernel, or "" when it has one.
std::string whyNotTensorCoreChunked(ScanOp op);

/// Choices of the chunked kernel that otherwise its measured defaults make
/// (muonssm-lower-to-gpu's options), for tuning and benchmarks.
struct ChunkedOptions {
  /// Independent wgmma groups beside other work (docs/gpu.md §3.5).
  bool wgmmaOverlap = true;
  /// Two of the six barriers a chunk dropped (docs/gpu.md §3.6): written
  /// without a GPU, off until measured.
  bool leanBarriers = false;
  /// Where delta-rule scans invert I + L (docs/gpu.md §3.2): by their
  /// sizes, in a solve kernel, or in the chunked kernel.
  enum class Solve { Auto, Kernel, Chunk };
  Solve solve = Solve::Auto;
  /// Tuning experiments (docs/gpu.md §3.7): the most value columns a block
  /// (a multiple of 16 up to 128; 0 chooses by the sizes), and blocks an
  /// SM (2 lays shared memory out for two and caps the registers at 128; 1
  /// keeps one; 0 chooses by the sizes).
  int64_t valueTile = 0;
  int64_t blocksPerSM = 0;
};

/// A chunked scan with decay none or scalar, on tensor cores with the state
/// on chip (ChunkedScanToGPU.cpp).
LogicalResult lowerChunkedScan(ScanOp op, gpu::GPUModuleOp kernels,
                               StringRef name,
                               const ChunkedOptions &options = {});

/// A static sequence shorter than 16 tokens without cu_seqlens (decode,
/// speculative decoding): its cost is the state's load and store, so it
/// runs token by token with a tiling for that.
bool isShortSequence(ScanOp op);

/// Why a scan with NS of the momentum has no fused kernel, or "".
std::string whyNotMomentumNS(ScanOp op);

/// A scan with Newton–Schulz of the whole momentum (the seed's Muon Gated
/// DeltaNet), token by token with S, M and the Gram matrices on chip
/// (MomentumNSScanToGPU.cpp).
LogicalResult lowerMomentumNSScan(ScanOp op, gpu::GPUModuleOp kernels,
                                  StringRef name);

/// The public `muonssm_smem` global (dynamic shared memory) of the module.
void ensureSharedBuffer(gpu::GPUModuleOp kernels, Location loc);
/// Inside a kernel: the dynamic shared buffer as memref<bytes × i8> in the
/// workgroup address space, for memref.view at byte offsets.
Value sharedBytes(ImplicitLocOpBuilder &b, int64_t bytes);

/// muonssm.rank1_gain, a group of lanes per (b, t, h) (LowerToGPU.cpp).
LogicalResult lowerRank1Gain(Rank1GainOp op, gpu::GPUModuleOp kernels,
                             StringRef name);
/// Inside a kernel: `op`'s gain (docs/chunking.md §1) from the sums of
/// squares ‖k‖² and ‖w‖² of one (b, t, h).
Value rank1GainFromSums(KernelBuilder &e, Rank1GainOp op, Value kk, Value ww);
/// Elements a lane loads at once from rows of `type`'s last dimension: the
/// most, up to 16 bytes, by which every row start stays aligned (the
/// buffers are whole allocations with the identity layout, as the chunked
/// kernel's cp.async assumes): K = 42 bf16 two, V = 84 four, 128 eight.
int64_t rowVectorWidth(RankedTensorType type);

/// Whether `op` (a scan without NS) runs the tensor-core chunked kernel.
bool getsChunkedKernel(ScanOp op);
/// The rank1_gain op whose gain the solve kernel of `op` forms beside T
/// (docs/gpu.md §3.2), or null: the scan's gain where it comes from a
/// rank1_gain on the scan's own k, v and β, without dt, that nothing else
/// reads, `op` gets the chunked kernel with the solve kernel, and v's row
/// takes at most 16 rounds of loads. Its own kernel is then not built.
/// `kernels` is the GPU module the scan will be lowered into: its target
/// decides whether the chunked kernel has wgmma, and so where T comes from.
Rank1GainOp gainFormedBySolveKernel(ScanOp op, gpu::GPUModuleOp kernels,
                                    const ChunkedOptions &options = {});

} // namespace mlir::muonssm::gpu_codegen

#endif // MUONSSM_PASSES_GPULOWERING_H
