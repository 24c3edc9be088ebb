#pragma once
// Counter-based random streams. Every stream is named by (master seed, purpose, layer, index)
// and never by a thread or rank, so results do not depend on how work is split (STYLE habit 7).
// The generator (xoshiro256**, seeded by SplitMix64) and the normal transform (Box–Muller) are
// implemented here, not taken from <random>, so the numbers are the same on every platform.
#include <cstdint>

namespace dmft {

enum class StreamPurpose : std::uint64_t { data = 1, source = 2, network = 3 };

class RandomStream {
 public:
  RandomStream(std::uint64_t seed, StreamPurpose purpose, std::uint64_t layer, std::uint64_t index);
  std::uint64_t next_u64();
  /// Uniform in (0, 1), never 0.
  double uniform();
  /// Standard normal.
  double normal();

 private:
  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace dmft
