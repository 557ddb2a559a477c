//===- NpyFuzzer.cpp - libFuzzer harness for the .npy reader --------------===//
//
// Any bytes given to readNpy must give an Array whose data holds exactly its
// shape's elements, or a one-line error naming the file; never a crash, an
// out-of-bounds read or a huge allocation (libFuzzer's -rss_limit_mb).
//
//===----------------------------------------------------------------------===//

#include "lib/npy/Npy.h"
#include "test/fuzz/FuzzInput.h"

#include <cstdlib>

using namespace muonssm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = fuzz::writeScratch("input.npy", data, size);
  for (bool expectBf16 : {false, true}) {
    npy::Array array;
    std::string error;
    if (!npy::readNpy(path, array, error, expectBf16)) {
      fuzz::checkErrorLine(error, path);
      continue;
    }
    if (array.data.size() != array.numElements() * npy::dtypeSize(array.dtype))
      std::abort();
    double sum = 0; // touch every element through the public accessor
    for (size_t i = 0; i < array.numElements(); ++i)
      sum += array.getAsDouble(i);
    (void)sum;
  }
  return 0;
}
