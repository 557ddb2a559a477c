//===- ReadOnlyArguments.cpp - inputs are the caller's, not scratch -------===//
//
// One-shot bufferization takes function arguments as writable unless told
// otherwise, and destination-passing ops (a residual arith.addf after
// convert-elementwise-to-linalg uses its first operand as its init) then
// update the argument's buffer in place: the caller's input changes under
// it. Marking the arguments read-only makes bufferization copy instead.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

namespace mlir::muonssm {
#define GEN_PASS_DEF_READONLYARGUMENTS
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;

namespace {
struct ReadOnlyArgumentsPass
    : muonssm::impl::ReadOnlyArgumentsBase<ReadOnlyArgumentsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    auto readOnly = BoolAttr::get(&getContext(), false);
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      if (isa<TensorType>(func.getArgument(i).getType()))
        func.setArgAttr(i, bufferization::BufferizationDialect::kWritableAttrName,
                        readOnly);
  }
};
} // namespace
