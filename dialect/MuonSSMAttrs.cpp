//===- MuonSSMAttrs.cpp - attributes and enums of muonssm -----------------===//

#include "dialect/MuonSSMAttrs.h"
#include "dialect/MuonSSMDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

#include <charconv>
#include <cmath>
#include <string>

using namespace mlir;
using namespace mlir::muonssm;

// An f64 parameter, printed so that it parses back to the same bits.
static ParseResult parseF64(AsmParser &parser, FailureOr<APFloat> &value) {
  APFloat parsed(0.0);
  if (parser.parseFloat(APFloat::IEEEdouble(), parsed))
    return failure();
  value = parsed;
  return success();
}
static void printF64(AsmPrinter &printer, const APFloat &value) {
  // The shortest decimal form that reads back to the same double, written
  // with a decimal point as MLIR's float literals require ("1.0e-07").
  char buffer[64];
  double number = value.convertToDouble();
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), number);
  std::string text(buffer, end);
  if (ec != std::errc() || !std::isfinite(number)) {
    printer.printFloat(value);
    return;
  }
  if (text.find('.') == std::string::npos) {
    size_t exponent = text.find('e');
    text.insert(exponent == std::string::npos ? text.size() : exponent, ".0");
  }
  printer.getStream() << text;
}

#include "dialect/MuonSSMEnums.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dialect/MuonSSMAttrs.cpp.inc"

LogicalResult
NewtonSchulzAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                         Polynomial polynomial, EpsMode epsMode,
                         APFloat epsFloat, int64_t steps) {
  double eps = epsFloat.convertToDouble();
  if (!(eps > 0.0) || !std::isfinite(eps))
    return emitError() << "Newton-Schulz eps must be a finite number > 0, got "
                       << eps;
  if (steps < 1)
    return emitError() << "Newton-Schulz steps must be >= 1, got " << steps;
  return success();
}

LogicalResult
ScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                     ScheduleKind kind, int64_t chunk) {
  if (kind == ScheduleKind::Chunked && chunk < 1)
    return emitError() << "a chunked schedule needs a chunk size >= 1, got "
                       << chunk;
  if (kind == ScheduleKind::Recurrent && chunk != 0)
    return emitError() << "a recurrent schedule has no chunk size, got "
                       << chunk;
  return success();
}

NSCoefficients mlir::muonssm::getNSCoefficients(Polynomial polynomial) {
  switch (polynomial) {
  case Polynomial::Quintic:
    return {3.4445, -4.7750, 2.0315};
  case Polynomial::Cubic:
    return {1.5, -0.5, 0.0};
  }
  llvm_unreachable("unknown Newton-Schulz polynomial");
}

void MuonSSMDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/MuonSSMAttrs.cpp.inc"
      >();
}
