#include "dmft/memory_estimate.hpp"

#include <malloc.h>

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

double available_memory_bytes() { return read_kib("/proc/meminfo", "MemAvailable:"); }
double peak_resident_bytes() { return read_kib("/proc/self/status", "VmHWM:"); }

}  // namespace dmft
