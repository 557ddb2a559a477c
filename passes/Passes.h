//===- Passes.h - muonssm passes --------------------------------*- C++ -*-===//

#ifndef MUONSSM_PASSES_PASSES_H
#define MUONSSM_PASSES_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
class TypeConverter;
namespace muonssm {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

/// Patterns that rewrite muonssm.scan, muonssm.newton_schulz and
/// muonssm.rank1_gain into loops on buffers (see LowerToCPU in Passes.td).
void populateLowerToCPUPatterns(RewritePatternSet &patterns);

/// NS of a rank-1 update → muonssm.rank1_gain + a scan with a gain operand.
void populateSimplifyNewtonSchulzPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace muonssm
} // namespace mlir

#endif // MUONSSM_PASSES_PASSES_H
