//===- SafetensorsFuzzer.cpp - libFuzzer harness for .safetensors ---------===//
//
// Any bytes given to SafetensorsFile must open with every tensor readable at
// its declared shape, or fail with a one-line error naming the file; never a
// crash, an out-of-bounds read or a huge allocation.
//
//===----------------------------------------------------------------------===//

#include "lib/npy/Safetensors.h"
#include "test/fuzz/FuzzInput.h"

#include <cstdlib>

using namespace muonssm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = fuzz::writeScratch("input.safetensors", data, size);
  npy::SafetensorsFile file;
  std::string error;
  if (!file.open(path, error)) {
    fuzz::checkErrorLine(error, path);
    if (!file.names().empty())
      std::abort(); // a failed open leaves no tensors
    return 0;
  }
  for (const std::string &name : file.names()) {
    const npy::SafetensorsEntry *entry = file.find(name);
    if (!entry)
      std::abort();
    npy::Array array;
    // open() checked every entry against the file, which has not changed
    // since: a failing read means open() let a bad entry through.
    if (!file.read(name, array, error))
      std::abort();
    if (array.shape != entry->shape ||
        array.data.size() != entry->end - entry->begin)
      std::abort();
  }
  return 0;
}
