//===- Inputs.h - the entry function's arguments for muonssm-run -*- C++ -*-===//
//
// Names, roles and values of an entry function's arguments: loaded from
// NAME.npy files or drawn at random from the domain the argument's role
// calls for (DESIGN.md §3).
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_RUN_INPUTS_H
#define MUONSSM_LIB_RUN_INPUTS_H

#include "lib/data/Random.h"
#include "lib/npy/Npy.h"
#include "lib/run/Evaluate.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>
#include <vector>

namespace mlir::muonssm::run {
namespace npy = ::muonssm::npy;

using Role = ::muonssm::data::Role;
using ::muonssm::data::roleName;

/// The role of an entry argument, from its first use by a muonssm op.
Role roleOf(BlockArgument argument);

/// The name of argument / result `index`: its `muonssm.name` attribute, else
/// "argN" / "resultN".
std::string argumentName(func::FuncOp entry, unsigned index);
std::string resultName(func::FuncOp entry, unsigned index);

/// The npy dtype of a tensor element type (f16, bf16, f32, f64, i32, i64).
FailureOr<npy::DType> dtypeOf(Type elementType);

/// One prepared argument: its name, role, data (in the argument's element
/// type) and whether it came from a file.
struct Input {
  std::string name;
  Role role = Role::Normal;
  npy::Array data;
  bool fromFile = false;
};

/// Loads NAME.npy from `inputsDir` where present (checking dtype and shape
/// against the argument's type) and draws the others at random with `seed`;
/// dynamic sizes of random arguments are taken from the scans they feed.
/// Emits located errors and fails on any problem.
FailureOr<std::vector<Input>> prepareInputs(func::FuncOp entry,
                                            StringRef inputsDir,
                                            uint64_t seed);

/// The evaluator's view of the inputs: shapes, and values converted exactly
/// to float64 (`withValues`) or only those of integer arguments.
std::vector<ArgumentValue> toArgumentValues(const std::vector<Input> &inputs,
                                            bool withValues);

/// A float64 tensor from an array, converting each element exactly.
reference::Tensor toTensor(const npy::Array &array);

} // namespace mlir::muonssm::run

#endif // MUONSSM_LIB_RUN_INPUTS_H
