#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstring>

#include "dmft/kernel_estimator.hpp"
#include "dmft/rng.hpp"

using namespace dmft;

namespace {
Matrix gaussian_samples(const Matrix& root, Index S, std::uint64_t seed) {
  Matrix Z(root.cols(), S);
  for (Index i = 0; i < S; ++i) {
    RandomStream rs(seed, StreamPurpose::source, 0, std::uint64_t(i));
    for (Index k = 0; k < Z.rows(); ++k) Z(k, i) = rs.normal();
  }
  return root * Z;
}
}  // namespace

TEST_CASE("kernel estimate equals F Fᵀ / S and is exactly symmetric") {
  const Matrix F = Matrix::Random(300, 200);  // n > one tile, S not a multiple of the batches
  const KernelEstimate k = estimate_kernel(F);
  const Matrix direct = F * F.transpose() / 200.0;
  CHECK((k.mean - direct).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((k.mean - k.mean.transpose()).cwiseAbs().maxCoeff() == 0.0);
  CHECK((k.se - k.se.transpose()).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("standard errors match the Gaussian formula √((Σ_aa Σ_bb + Σ_ab²)/S)") {
  const Index n = 6, S = 64000;
  Matrix root = Matrix::Random(n, n);
  const Matrix sigma = root * root.transpose();
  const KernelEstimate k = estimate_kernel(gaussian_samples(root, S, 5));
  // Batch means with 32 batches: each se has ≈ 1/√(2·31) = 13% relative noise; the average of
  // the ratio over the 21 distinct entries is known to ≈ 3%.
  double ratio = 0;
  int count = 0;
  for (Index a = 0; a < n; ++a)
    for (Index b = 0; b <= a; ++b) {
      const double exact = std::sqrt((sigma(a, a) * sigma(b, b) + sigma(a, b) * sigma(a, b)) / double(S));
      ratio += k.se(a, b) / exact;
      ++count;
      CHECK(std::abs(k.mean(a, b) - sigma(a, b)) < 5 * exact);
    }
  CHECK(ratio / count == doctest::Approx(1.0).epsilon(0.12));
}

TEST_CASE("kernel estimate is bit-for-bit the same for any thread count") {
  const Matrix F = Matrix::Random(400, 500);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const KernelEstimate one = estimate_kernel(F);
  omp_set_num_threads(2);
  const KernelEstimate two = estimate_kernel(F);
  omp_set_num_threads(saved);
  CHECK(std::memcmp(one.mean.data(), two.mean.data(), sizeof(double) * one.mean.size()) == 0);
  CHECK(std::memcmp(one.se.data(), two.se.data(), sizeof(double) * one.se.size()) == 0);
}

TEST_CASE("too few samples are refused") { CHECK_THROWS(estimate_kernel(Matrix::Random(4, 10))); }
