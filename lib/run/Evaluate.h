//===- Evaluate.h - float64 evaluation of an entry function -----*- C++ -*-===//
//
// Walks an entry function op by op with the float64 oracle
// (lib/reference): the `--check` side of muonssm-run. The same walk, on
// shapes alone, validates concrete input shapes and gives result shapes
// before anything is compiled or run.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_RUN_EVALUATE_H
#define MUONSSM_LIB_RUN_EVALUATE_H

#include "lib/reference/Reference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/LLVM.h"

#include <optional>
#include <vector>

namespace mlir::muonssm {
class ScanOp;
class NewtonSchulzAttr;

namespace run {
namespace reference = ::muonssm::reference;

using Shape = std::vector<int64_t>;

/// An argument of the entry function as the evaluator sees it: its concrete
/// shape, and its values where known (always in `evaluate`; in
/// `inferShapes`, integer arguments such as cu_seqlens).
struct ArgumentValue {
  Shape shape;
  std::optional<reference::Tensor> value;
};

/// The oracle's configuration for a scan / a Newton–Schulz attribute.
reference::ScanConfig toReference(ScanOp op);
reference::NSConfig toReference(NewtonSchulzAttr attr);

/// Shapes of the entry's results for the given arguments. Every op is
/// checked on the concrete shapes (and cu_seqlens values where known);
/// failures are emitted as errors located at the op.
FailureOr<std::vector<Shape>>
inferResultShapes(func::FuncOp entry, ArrayRef<ArgumentValue> arguments);

/// Float64 results of the entry for the given arguments (all with values).
FailureOr<std::vector<reference::Tensor>>
evaluate(func::FuncOp entry, ArrayRef<ArgumentValue> arguments);

/// The number of tokens of the entry: B·T of its largest scan (0 if none).
int64_t countTokens(func::FuncOp entry, ArrayRef<ArgumentValue> arguments);

} // namespace run
} // namespace mlir::muonssm

#endif // MUONSSM_LIB_RUN_EVALUATE_H
