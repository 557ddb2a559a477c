//===- MuonSSMAttrs.h - attributes and enums of muonssm ---------*- C++ -*-===//

#ifndef MUONSSM_DIALECT_MUONSSMATTRS_H
#define MUONSSM_DIALECT_MUONSSMATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "dialect/MuonSSMEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/MuonSSMAttrs.h.inc"

namespace mlir::muonssm {
/// The coefficients (a, b, c) of p(A) = aI + bA + cA² for one Newton–Schulz
/// step X ← p(XXᵀ)X: Muon's quintic or the paper's cubic ½(3I − A).
struct NSCoefficients {
  double a, b, c;
};
NSCoefficients getNSCoefficients(Polynomial polynomial);
} // namespace mlir::muonssm

#endif // MUONSSM_DIALECT_MUONSSMATTRS_H
