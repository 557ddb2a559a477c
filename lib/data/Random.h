//===- Random.h - seeded inputs from the model domains ----------*- C++ -*-===//
//
// The random data muonssm-run and muonssm-bundle-run draw for arguments
// without a file: each argument's role (how the model uses it) picks its
// domain (DESIGN.md §3). Plain C++, no MLIR, so the GPU-side runner shares it.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_DATA_RANDOM_H
#define MUONSSM_LIB_DATA_RANDOM_H

#include "lib/npy/Npy.h"

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace muonssm::data {

/// The domain random data is drawn from, chosen by how the argument is used.
enum class Role {
  Normal,      ///< standard normal (values, states, anything else)
  UnitVector,  ///< q, k of a scan: normal, L2-normalised per head
  LogDecay,    ///< g: log-sigmoid of a normal (g < 0)
  Softplus,    ///< Mamba's Δ: softplus of a normal (> 0)
  Sigmoid,     ///< β, LongHorn's dt: sigmoid of a normal, in (0, 1)
  NegativeExp, ///< Mamba's A: −exp(normal/2) < 0
  Offsets,     ///< cu_seqlens: 0 = c_0 ≤ c_1 ≤ … ≤ c_N = T
  Slots,       ///< state_indices: N distinct slots of a pool of P
  Weight,      ///< a projection [out, in] or conv [channels, width] weight:
               ///< normal/√(last dimension), so activations keep unit scale
  TokenIds,    ///< an embedding's ids: uniform in [0, V) (drawn by the caller)
};

const char *roleName(Role role);
/// The short name used in bundle manifests ("normal", "unit", ...), and back.
const char *roleKey(Role role);
std::optional<Role> roleFromKey(const std::string &key);

/// A normal sampler on mt19937_64 with Box–Muller, so that a seed gives the
/// same data with any standard library.
class Normal {
public:
  explicit Normal(uint64_t seed) : engine(seed) {}
  double operator()();
  /// Uniform in (0, 1].
  double uniform();
  uint64_t below(uint64_t n) { return engine() % n; }

private:
  std::mt19937_64 engine;
  std::optional<double> spare;
};

/// The generator of argument `index` for `seed`: one per argument, so adding
/// an argument leaves the others' data unchanged.
Normal generatorFor(uint64_t seed, unsigned index);

/// Random data of `role` with the given element type and shape.
npy::Array randomArray(Role role, npy::DType dtype,
                       const std::vector<int64_t> &shape, Normal &normal);

/// Random cu_seqlens: `count` sorted offsets from 0 to `total`.
npy::Array randomOffsets(npy::DType dtype, int64_t count, int64_t total,
                         Normal &normal);

/// Random state_indices: `count` distinct slots in [0, pool), in random
/// order. Requires count ≤ pool.
npy::Array randomSlots(npy::DType dtype, int64_t count, int64_t pool,
                       Normal &normal);

/// The host's physical memory in bytes (0 where unknown): what random
/// inputs may take at most, checked before drawing them, since an
/// allocation that large can succeed and then get the process killed as it
/// is filled.
uint64_t hostMemoryBytes();

/// Normwise relative error ‖out − ref‖/‖ref‖ and max abs error of `out`
/// against float64 values.
struct Comparison {
  double maxAbs = 0.0, relative = 0.0;
};
Comparison compare(const npy::Array &out, const std::vector<double> &ref);

/// The tolerance of a check on a result of the given element type (README:
/// f64 1e-10, f32 1e-4, f16 1e-3, bf16 8e-3, integers exact).
double checkTolerance(const std::string &dtypeName);
/// The tolerance of every result of a kernel whose matrix products round
/// their operands to `operandDtype` (bf16, f16 or tf32 tensor cores).
double productTolerance(const std::string &operandDtype);

} // namespace muonssm::data

#endif // MUONSSM_LIB_DATA_RANDOM_H
