#pragma once
// Process memory: what is available (for the guard that refuses runs that cannot fit), the
// peak used, and the allocator policy for large repeated allocations.
#include <cstddef>

namespace dmft {
/// MemAvailable from /proc/meminfo in bytes (0 if unknown).
double available_memory_bytes();
/// Keeps freed memory in the heap instead of unmapping it: the n×n kernels are reallocated in
/// every outer iteration, and re-faulting and clearing their pages costs about a third of the
/// run time at n = 5000 otherwise. Call once at program start.
void keep_freed_memory();
/// Asks the kernel to back [data, data + bytes) with transparent huge pages (where the system
/// allows it on request). Call before first touching a large, freshly allocated array: threads
/// that fault in hundreds of MB of 4 KiB pages at once serialise on the page-table lock.
void advise_huge_pages(void* data, std::size_t bytes);
/// Peak resident set size of this process so far, in bytes (VmHWM).
double peak_resident_bytes();
}  // namespace dmft
