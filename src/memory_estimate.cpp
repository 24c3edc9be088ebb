#include "dmft/memory_estimate.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>

#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace dmft {
namespace {
double read_kib(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      std::istringstream s(line.substr(key.size()));
      double kib = 0;
      s >> kib;
      return kib * 1024.0;
    }
  return 0.0;
}
}  // namespace

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

void advise_huge_pages(void* data, std::size_t bytes) {
  constexpr std::uintptr_t huge = std::uintptr_t(2) << 20;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(data) + huge - 1) & ~(huge - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(huge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint: failure is harmless
}

double available_memory_bytes() { return read_kib("/proc/meminfo", "MemAvailable:"); }
double peak_resident_bytes() { return read_kib("/proc/self/status", "VmHWM:"); }

}  // namespace dmft
