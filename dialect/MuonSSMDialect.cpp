//===- MuonSSMDialect.cpp - the muonssm dialect ---------------------------===//

#include "dialect/MuonSSMDialect.h"
#include "dialect/MuonSSMAttrs.h"
#include "dialect/MuonSSMOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::muonssm;

#include "dialect/MuonSSMDialect.cpp.inc"

void MuonSSMDialect::initialize() {
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "dialect/MuonSSMOps.cpp.inc"
      >();
}
