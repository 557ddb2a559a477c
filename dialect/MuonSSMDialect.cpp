//===- MuonSSMDialect.cpp - the muonssm dialect ---------------------------===//

#include "dialect/MuonSSMDialect.h"
#include "dialect/MuonSSMAttrs.h"
#include "dialect/MuonSSMOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

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

//===----------------------------------------------------------------------===//
// Discardable attributes
//===----------------------------------------------------------------------===//

// Where each `muonssm.*` attribute may appear, and what it holds:
//   muonssm.name       a function's argument or result: the tensor's name in
//                      --inputs files, outputs and bundles (docs/dialect.md §1)
//   muonssm.arg        a lowered host function's argument (LowerToGPU)
//   muonssm.products   a gpu.launch_func: its products' operand type
//   muonssm.reference  a lowered host function: the oracle's description
static constexpr const char *kKnownAttrs =
    "muonssm.name on arguments and results; muonssm.arg on arguments; "
    "muonssm.products and muonssm.reference on operations";

/// A name becomes a file name (NAME.npy) and a bundle's key: non-empty, and
/// without a path separator or a NUL.
static LogicalResult verifyName(function_ref<InFlightDiagnostic()> emitError,
                                NamedAttribute attr) {
  auto name = dyn_cast<StringAttr>(attr.getValue());
  if (!name)
    return emitError() << "'" << attr.getName().getValue()
                       << "' must be a string, got " << attr.getValue();
  if (name.getValue().empty() ||
      name.getValue().find_first_of(StringRef("/\0", 2)) != StringRef::npos)
    return emitError() << "'" << attr.getName().getValue()
                       << "' = " << attr.getValue()
                       << " must be a non-empty name without '/' or NUL "
                          "(it names the tensor's .npy file)";
  return success();
}

static LogicalResult verifyValueAttr(Operation *op, bool result, unsigned index,
                                     NamedAttribute attr) {
  StringRef key = attr.getName().getValue();
  auto emitError = [&] {
    return op->emitOpError()
           << (result ? "result " : "argument ") << index << ": ";
  };
  if (key == "muonssm.name")
    return verifyName(emitError, attr);
  if (key == "muonssm.arg" && !result) {
    if (!isa<StringAttr>(attr.getValue()))
      return emitError() << "'muonssm.arg' must be a string, got "
                         << attr.getValue();
    return success();
  }
  return emitError() << "unknown attribute '" << key
                     << "' (known: " << kKnownAttrs << ")";
}

LogicalResult MuonSSMDialect::verifyRegionArgAttribute(Operation *op,
                                                       unsigned /*region*/,
                                                       unsigned argIndex,
                                                       NamedAttribute attr) {
  return verifyValueAttr(op, /*result=*/false, argIndex, attr);
}

LogicalResult MuonSSMDialect::verifyRegionResultAttribute(Operation *op,
                                                          unsigned /*region*/,
                                                          unsigned resultIndex,
                                                          NamedAttribute attr) {
  return verifyValueAttr(op, /*result=*/true, resultIndex, attr);
}

LogicalResult MuonSSMDialect::verifyOperationAttribute(Operation *op,
                                                       NamedAttribute attr) {
  StringRef key = attr.getName().getValue();
  if (key == "muonssm.products") {
    if (!isa<TypeAttr>(attr.getValue()))
      return op->emitOpError("'muonssm.products' must be a type, got ")
             << attr.getValue();
    return success();
  }
  if (key == "muonssm.reference") {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitOpError("'muonssm.reference' must be a string, got ")
             << attr.getValue();
    return success();
  }
  return op->emitOpError() << "unknown attribute '" << key
                           << "' (known: " << kKnownAttrs << ")";
}
