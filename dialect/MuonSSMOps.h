//===- MuonSSMOps.h - ops of the muonssm dialect ----------------*- C++ -*-===//

#ifndef MUONSSM_DIALECT_MUONSSMOPS_H
#define MUONSSM_DIALECT_MUONSSMOPS_H

#include "dialect/MuonSSMAttrs.h"
#include "dialect/MuonSSMDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/MuonSSMOps.h.inc"

namespace mlir::muonssm {
/// The mixers and model layers (docs/dialect.md §7–§8): the ops
/// muonssm-decompose-mixers writes out as linalg around scans.
inline bool isModelLayer(Operation *op) {
  return isa<SelectiveMixerOp, GatedDeltaNetMixerOp, LinearOp, RMSNormOp,
             Conv1dOp, BatchNormOp, MeanPoolOp, EmbeddingOp, SwiGLUOp>(op);
}
} // namespace mlir::muonssm

#endif // MUONSSM_DIALECT_MUONSSMOPS_H
