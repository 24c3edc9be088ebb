#pragma once
// Memory available to this process, for the guard that refuses runs that cannot fit.
namespace dmft {
/// MemAvailable from /proc/meminfo in bytes (0 if unknown).
double available_memory_bytes();
/// Peak resident set size of this process so far, in bytes (VmHWM).
double peak_resident_bytes();
}  // namespace dmft
