#include <doctest/doctest.h>

#include <cmath>

#include "dmft/rng.hpp"

using namespace dmft;

TEST_CASE("random streams are named by (seed, purpose, layer, index) and reproducible") {
  RandomStream a(7, StreamPurpose::source, 1, 42), b(7, StreamPurpose::source, 1, 42);
  for (int i = 0; i < 100; ++i) CHECK(a.next_u64() == b.next_u64());
  RandomStream c(7, StreamPurpose::source, 1, 43), d(7, StreamPurpose::source, 2, 42), e(8, StreamPurpose::source, 1, 42);
  RandomStream ref(7, StreamPurpose::source, 1, 42);
  const auto r = ref.next_u64();
  CHECK(c.next_u64() != r);
  CHECK(d.next_u64() != r);
  CHECK(e.next_u64() != r);
}

TEST_CASE("normals have mean 0, variance 1 and Gaussian fourth moment") {
  RandomStream rs(1, StreamPurpose::data, 0, 0);
  const int n = 400000;
  double m1 = 0, m2 = 0, m4 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = rs.normal();
    m1 += x;
    m2 += x * x;
    m4 += x * x * x * x;
  }
  m1 /= n;
  m2 /= n;
  m4 /= n;
  // standard errors: 1/√n, √2/√n, √96/√n
  CHECK(std::abs(m1) < 4 / std::sqrt(double(n)));
  CHECK(std::abs(m2 - 1) < 4 * std::sqrt(2.0 / n));
  CHECK(std::abs(m4 - 3) < 4 * std::sqrt(96.0 / n));
}
