#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "dmft/memory_estimate.hpp"

int main(int argc, char** argv) {
  dmft::keep_freed_memory();  // as the dmft binary does: no page faults for repeated large allocations
  return doctest::Context(argc, argv).run();
}
