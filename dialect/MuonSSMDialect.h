//===- MuonSSMDialect.h - the muonssm dialect -------------------*- C++ -*-===//

#ifndef MUONSSM_DIALECT_MUONSSMDIALECT_H
#define MUONSSM_DIALECT_MUONSSMDIALECT_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "dialect/MuonSSMDialect.h.inc"

#endif // MUONSSM_DIALECT_MUONSSMDIALECT_H
