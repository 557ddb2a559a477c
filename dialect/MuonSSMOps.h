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

#endif // MUONSSM_DIALECT_MUONSSMOPS_H
