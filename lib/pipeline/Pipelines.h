//===- Pipelines.h - named muonssm pass pipelines ---------------*- C++ -*-===//

#ifndef MUONSSM_LIB_PIPELINE_PIPELINES_H
#define MUONSSM_LIB_PIPELINE_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
namespace muonssm {

struct MuonSSMToCPUOptions : public PassPipelineOptions<MuonSSMToCPUOptions> {
  PassOptions::Option<int64_t> chunkSize{
      *this, "chunk-size",
      llvm::cl::desc("Tokens per chunk of chunked scans (a power of two); 0 "
                     "keeps every scan token by token"),
      llvm::cl::init(64)};
  PassOptions::Option<int64_t> nsPerChunk{
      *this, "ns-per-chunk",
      llvm::cl::desc("Approximate Newton-Schulz of rank-1 updates once per "
                     "chunk of this many tokens (docs/chunking.md §3.2; not "
                     "the seed's per-token model); 0 (default) keeps it exact"),
      llvm::cl::init(0)};
};

/// muonssm dialect → LLVM dialect for the host CPU: NS of rank-1 updates
/// becomes a gain, linear scans get a chunked schedule and NS of the
/// momentum a fused recurrent one (docs/chunking.md); the ops become loops
/// on buffers (muonssm-lower-to-cpu), tensors become buffers with results as
/// out-parameters, and everything is converted to the LLVM dialect.
void buildMuonSSMToCPUPipeline(OpPassManager &pm,
                               const MuonSSMToCPUOptions &options);

struct MuonSSMToGPUOptions : public PassPipelineOptions<MuonSSMToGPUOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("Target GPU architecture"),
      llvm::cl::init("sm_90a")};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("PTX features"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<int64_t> chunkSize{
      *this, "chunk-size",
      llvm::cl::desc("Tokens per chunk of chunked scans; 0 keeps every scan "
                     "token by token"),
      llvm::cl::init(64)};
  PassOptions::Option<bool> wgmmaOverlap{
      *this, "wgmma-overlap",
      llvm::cl::desc("Chunked kernels on sm_90a: overlap independent wgmma "
                     "groups with other work (docs/gpu.md §3.5)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> leanBarriers{
      *this, "lean-barriers",
      llvm::cl::desc("Chunked kernels: two of the six barriers a chunk "
                     "dropped (docs/gpu.md §3.6; not yet measured)"),
      llvm::cl::init(false)};
  PassOptions::Option<std::string> solve{
      *this, "solve",
      llvm::cl::desc("Where chunked delta-rule scans invert I + L: auto, "
                     "kernel or chunk (docs/gpu.md §3.2)"),
      llvm::cl::init("auto")};
  PassOptions::Option<int64_t> valueTile{
      *this, "value-tile",
      llvm::cl::desc("Chunked kernels: at most this many value columns a "
                     "block, 0 by the sizes (docs/gpu.md §3.7)"),
      llvm::cl::init(0)};
  PassOptions::Option<int64_t> blocksPerSM{
      *this, "blocks-per-sm",
      llvm::cl::desc("Chunked kernels: blocks an SM, 1 or 2, 0 by the sizes "
                     "(docs/gpu.md §3.7)"),
      llvm::cl::init(0)};
  PassOptions::Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit whose nvvm/libdevice the kernels link "
                     "(default: $CUDA_HOME, $CUDA_PATH, $CUDA_ROOT, else the "
                     "toolkit found when muonssm was built)"),
      llvm::cl::init("")};
};

/// muonssm dialect → GPU kernels: the scheduling passes, then every muonssm
/// op becomes a kernel in gpu.module @muonssm_kernels and a gpu.launch_func
/// on buffers (muonssm-lower-to-gpu); the host function is bufferized
/// (results as out-parameters) and stays at the level of memrefs and
/// launches, which muonssm-translate turns into a kernel bundle; the kernels
/// are lowered to NVVM and compiled to PTX (gpu.binary) by the NVPTX
/// backend.
void buildMuonSSMToGPUPipeline(OpPassManager &pm,
                               const MuonSSMToGPUOptions &options);

/// Registers `muonssm-to-cpu` and `muonssm-to-gpu`.
void registerMuonSSMPipelines();

} // namespace muonssm
} // namespace mlir

#endif // MUONSSM_LIB_PIPELINE_PIPELINES_H
