//===- Plan.h - what a kernel bundle runs, and what it computes -*- C++ -*-===//
//
// The part of a bundle's manifest.json beyond the kernels (runtime/ reads
// those): the entry function's arguments and results, the launches that
// implement it, and its float64 reference (the muonssm ops, as oracle
// configurations), so that a machine without MLIR can run a bundle and check
// it. Plain C++ (nlohmann-json), no MLIR, no driver.
//
// Sizes are integers or names: "<arg>_d<i>" is dimension i of argument
// <arg>, bound from the inputs; expressions over them (grids, temporaries,
// scalar arguments) use the runtime's grid-expression syntax.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_BUNDLE_PLAN_H
#define MUONSSM_LIB_BUNDLE_PLAN_H

#include "lib/data/Random.h"
#include "lib/reference/Reference.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace muonssm::bundle {

/// A tensor of the entry function: its name, element type ("bf16", "f32",
/// ...), and shape (each entry an integer or a size expression).
struct TensorSpec {
  std::string name;
  std::string dtype;
  /// Each size: a static one (decimal digits, staticSize) or the name or
  /// expression of a dynamic one.
  std::vector<std::string> shape;
  data::Role role = data::Role::Normal; ///< arguments: their random domain
  /// Results computed in place in an argument's buffer (state pools): the
  /// argument's name. The executor hands that buffer out as the result.
  std::string aliasOf;
};

/// The value of a static size (decimal digits that fit int64_t), or
/// nullopt for a name or expression.
std::optional<int64_t> staticSize(const std::string &size);

/// One argument of a launch: a buffer (an argument, result or temporary,
/// passed as the kernel's 5-field memref<?xT>) or an integer scalar.
struct LaunchArg {
  std::string buffer;   ///< name of an entry tensor or temporary, or ""
  std::string type;     ///< scalars: "i32" or "i64"
  std::string value;    ///< scalars: a size expression
};

struct Launch {
  std::string kernel;
  std::vector<LaunchArg> args;
  /// The operand type of the kernel's matrix products: "" for f32
  /// arithmetic throughout, "bf16"/"f16" for tensor-core products whose
  /// operands are rounded to 16 bits (it sets the --check tolerance).
  std::string products;
};

/// One muonssm op of the entry function, for the oracle: its operands and
/// results by value name (argument, result or temporary names).
struct ReferenceOp {
  enum class Kind { Scan, Rank1Gain, NewtonSchulz } kind = Kind::Scan;
  std::map<std::string, std::string> operands; ///< "q" -> value name
  std::map<std::string, std::string> results;  ///< "o" -> value name
  reference::ScanConfig scan;
  reference::Rank1GainConfig gain;
  reference::NSConfig ns;
};

struct Plan {
  std::string entry = "main";
  std::vector<TensorSpec> args, results, temporaries;
  std::vector<Launch> launches;
  std::vector<ReferenceOp> reference;
};

/// manifest.json's "entry" and "reference" objects, and back. Parse errors
/// name the field ("entry.args[2].dtype: ...").
std::string planToJson(const Plan &plan); // the two fields, as JSON members
bool planFromJson(const std::string &manifestText, Plan &plan,
                  std::string &error);

/// Bytes per element of a dtype name ("bf16" 2, "f32" 4, ...); 0 if unknown.
size_t dtypeBytes(const std::string &dtype);

/// Float64 results of the reference ops for float64 `values` of the
/// arguments (by name); fills every value the ops define. `integers` holds
/// the values of the integer arguments (cu_seqlens, state_indices) by name.
/// Returns "" or an error (shapes that do not fit).
std::string evaluateReference(
    const Plan &plan,
    std::map<std::string, reference::Tensor> &values,
    const std::map<std::string, std::vector<int64_t>> &integers);

/// Result shapes from argument shapes by the reference ops' rules (for
/// dynamic sizes): "" or an error.
std::string inferShapes(const Plan &plan,
                        std::map<std::string, std::vector<int64_t>> &shapes);

} // namespace muonssm::bundle

#endif // MUONSSM_LIB_BUNDLE_PLAN_H
