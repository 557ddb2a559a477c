//===- muonssm-rt-info.cpp - print the CUDA driver and devices ------------===//
//
// Usage: muonssm-rt-info
// Prints the driver version and, per device, its name, compute capability,
// the arch the runtime picks cubins for, memory, SMs and shared memory; or
// the runtime's "no CUDA driver" / "no CUDA device" message and exits 1.
//
//===----------------------------------------------------------------------===//

#include "runtime/Runtime.h"

#include <cstdio>
#include <cstring>

using namespace muonssm::rt;

static double gib(size_t bytes) {
  return double(bytes) / (1024.0 * 1024.0 * 1024.0);
}

int main(int argc, char **argv) {
  if (argc > 1 &&
      (!std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help"))) {
    std::printf("usage: %s\nPrints the CUDA driver version and devices as "
                "the muonssm runtime sees them; exit 1 without a driver or "
                "device.\n",
                argv[0]);
    return 0;
  }
  Driver &driver = Driver::get();
  if (driver.loaded())
    std::printf("CUDA driver: libcuda.so.1, version %s (%d)\n",
                driver.versionString().c_str(), driver.version());
  if (!driver.available()) {
    std::fprintf(stderr, "muonssm-rt-info: %s\n",
                 driver.status().message().c_str());
    return 1;
  }
  StatusOr<int> count = Device::count();
  if (!count.ok()) {
    std::fprintf(stderr, "muonssm-rt-info: %s\n",
                 count.status().message().c_str());
    return 1;
  }
  if (*count == 0) {
    std::fprintf(stderr, "muonssm-rt-info: no CUDA device\n");
    return 1;
  }
  std::printf("tensor maps (cuTensorMapEncodeTiled): %s\n",
              driver.hasTensorMaps() ? "yes" : "no");
  std::string cacheDir = "(none)";
  if (StatusOr<std::string> dir = cache::directory(); dir.ok())
    cacheDir = *dir;
  std::printf("JIT cache: %s\n", cacheDir.c_str());
  int failures = 0;
  for (int i = 0; i < *count; ++i) {
    StatusOr<Device> device = Device::open(i);
    if (!device.ok()) {
      std::fprintf(stderr, "muonssm-rt-info: device %d: %s\n", i,
                   device.status().message().c_str());
      ++failures;
      continue;
    }
    const DeviceInfo &info = device->info();
    MemoryInfo mem;
    if (StatusOr<MemoryInfo> m = device->memoryInfo(); m.ok())
      mem = *m;
    std::printf("device %d: %s\n"
                "  compute capability %d.%d, arch %s\n"
                "  memory %.1f GiB (%.1f GiB free)\n"
                "  %d SMs, %d threads/block, shared memory %d KiB/block "
                "(%d KiB opt-in)\n",
                i, info.name.c_str(), info.ccMajor, info.ccMinor,
                info.arch.c_str(), gib(info.totalMemory), gib(mem.free),
                info.smCount, info.maxThreadsPerBlock,
                info.maxSharedPerBlock / 1024,
                info.maxSharedPerBlockOptin / 1024);
  }
  return failures ? 1 : 0;
}
