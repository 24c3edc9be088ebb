#include "dmft/rng.hpp"

#include <cmath>
#include <numbers>

namespace dmft {
namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

RandomStream::RandomStream(std::uint64_t seed, StreamPurpose purpose, std::uint64_t layer,
                           std::uint64_t index) {
  // Mix the four coordinates into one 64-bit key, then expand it into the state.
  std::uint64_t key = seed;
  std::uint64_t mixed = splitmix64(key);
  key = mixed ^ (static_cast<std::uint64_t>(purpose) * 0xd1b54a32d192ed03ULL);
  mixed = splitmix64(key);
  key = mixed ^ (layer * 0xabc98388fb8fac03ULL);
  mixed = splitmix64(key);
  key = mixed ^ (index * 0x8cb92ba72f3d8dd7ULL);
  for (auto& s : s_) s = splitmix64(key);
}

std::uint64_t RandomStream::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double RandomStream::uniform() { return (double(next_u64() >> 11) + 0.5) * 0x1.0p-53; }

double RandomStream::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double r = std::sqrt(-2.0 * std::log(uniform()));
  const double angle = 2.0 * std::numbers::pi * uniform();
  spare_ = r * std::sin(angle);
  has_spare_ = true;
  return r * std::cos(angle);
}

}  // namespace dmft
