//===- Executor.h - run a kernel bundle on a GPU and check it ---*- C++ -*-===//
//
// Loads a bundle (runtime/), binds the entry's arguments (.npy files or
// seeded random data), runs its launches, copies the results back, and
// optionally checks them against the float64 reference and times them.
// No MLIR: this runs on GPU machines that have only the driver.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_LIB_BUNDLE_EXECUTOR_H
#define MUONSSM_LIB_BUNDLE_EXECUTOR_H

#include <cstdint>
#include <ostream>
#include <string>

namespace muonssm::bundle {

struct ExecuteOptions {
  std::string inputsDir; ///< NAME.npy per argument; others random
  uint64_t seed = 0;
  std::string dumpDir;   ///< writes inputs and results as NAME.npy
  bool check = false;    ///< compare with the float64 reference
  unsigned bench = 0;    ///< timed replays of a CUDA graph of the launches
  int device = 0;
  double timeoutSeconds = 120.0; ///< bound on every wait for the GPU
  bool quiet = false;    ///< only the check and bench lines
  /// Stop after the bundle and the inputs are checked and the host arrays
  /// made, before a device is opened (needs no GPU).
  bool dryRun = false;
  /// The most bytes the host arrays (inputs, results, temporaries) may take
  /// together; 0: no bound but each one's, the host's physical memory.
  uint64_t maxHostBytes = 0;
  std::string tool = "muonssm-bundle-run"; ///< prefix of its messages
};

/// Runs the bundle in `dir`; prints to `out`, errors to `err`. Returns the
/// exit code: 0, or 1 on any error or a check above tolerance.
int executeBundle(const std::string &dir, const ExecuteOptions &options,
                  std::ostream &out, std::ostream &err);

} // namespace muonssm::bundle

#endif // MUONSSM_LIB_BUNDLE_EXECUTOR_H
