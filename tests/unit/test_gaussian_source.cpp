#include <doctest/doctest.h>

#include <cmath>

#include "dmft/gaussian_source.hpp"
#include "dmft/rng.hpp"

using namespace dmft;

TEST_CASE("symmetric root: R Rᵀ = Σ, and R is continuous across a degenerate spectrum") {
  Matrix A = Matrix::Random(5, 5);
  const Matrix sigma = A * A.transpose();
  const GaussianSource s = GaussianSource::symmetric_root(sigma);
  CHECK((s.factor() * s.factor().transpose() - sigma).norm() < 1e-12 * sigma.norm());
  CHECK(s.report().clipped_mass == 0.0);
  CHECK(s.report().min_eigenvalue > 0);

  // Identity plus a tiny perturbation: eigenvectors jump, the symmetric root does not.
  Matrix I = Matrix::Identity(4, 4), E = Matrix::Random(4, 4);
  E = 1e-9 * (E + E.transpose());
  const Matrix r0 = GaussianSource::symmetric_root(I).factor();
  const Matrix r1 = GaussianSource::symmetric_root(I + E).factor();
  CHECK((r0 - r1).norm() < 1e-8);
}

TEST_CASE("symmetric root clips negative eigenvalues and reports them") {
  Matrix sigma(2, 2);
  sigma << 1.0, 0.0, 0.0, -0.01;
  const GaussianSource s = GaussianSource::symmetric_root(sigma);
  CHECK(s.report().min_eigenvalue == doctest::Approx(-0.01));
  CHECK(s.report().clipped_mass == doctest::Approx(0.01));
}

TEST_CASE("jittered Cholesky factors a singular covariance with a small jitter") {
  Vector v = Vector::Random(6);
  const Matrix sigma = v * v.transpose();  // rank one
  const GaussianSource s = GaussianSource::jittered_cholesky(sigma);
  CHECK(s.report().jitter > 0);
  CHECK(s.report().jitter < 1e-5 * sigma.diagonal().mean());
  CHECK((s.factor() * s.factor().transpose() - sigma).norm() < 1e-5 * sigma.norm());
}

TEST_CASE("jittered Cholesky draws are causal: the head of a longer source equals the shorter one") {
  // A singular (rank-2) covariance, as tiled static kernels are.
  Matrix V = Matrix::Random(12, 2);
  const Matrix sigma = V * V.transpose();
  const double scale = sigma(0, 0);
  const Matrix z = Matrix::Random(12, 3);
  const Matrix longer = GaussianSource::jittered_cholesky(sigma, 1e-10, scale).draw(z);
  const Matrix shorter = GaussianSource::jittered_cholesky(sigma.topLeftCorner(7, 7), 1e-10, scale).draw(z.topRows(7));
  CHECK((longer.topRows(7) - shorter).cwiseAbs().maxCoeff() < 1e-6);
}

TEST_CASE("Stein's lemma through a causal root: <f(R e) e^T> R^-1 = <df/dx> for ReLU and for its step derivative (a delta), within 4 standard errors") {
  // x = R ε with R the Cholesky root of Σ; f_i = relu(x_i) + relu(x_{i−1})/2, so ⟨∂f/∂x⟩ is 1/2 on
  // the diagonal and 1/4 below it (theory residual.md §2.9 R3: the derivative-free route).
  const Index m = 4, S = 100000;
  Matrix A = Matrix::Random(m, m);
  const Matrix sigma = A * A.transpose() + 0.5 * Matrix::Identity(m, m);
  const GaussianSource root = GaussianSource::causal_root(sigma, 1, 1e-4);
  const Matrix normals = [&] {
    RandomStream rng(5, StreamPurpose::source, 0, 0);
    Matrix z(m, S);
    for (Index j = 0; j < S; ++j)
      for (Index i = 0; i < m; ++i) z(i, j) = rng.normal();
    return z;
  }();
  const Matrix x = root.draw(normals);
  Matrix f = x.cwiseMax(0.0);
  f.bottomRows(m - 1) += 0.5 * x.topRows(m - 1).cwiseMax(0.0);
  // Per sample Y = f εᵀ R⁻¹; mean and standard error entry by entry, checked against ⟨∂f/∂x⟩.
  const Matrix w = root.times_inverse(normals.transpose()).transpose();  // columns (R⁻ᵀ ε)
  auto check_stein = [&](const Matrix& values, const Matrix& expected) {
    Matrix sum = Matrix::Zero(m, m), sum2 = sum;
    for (Index j = 0; j < S; ++j) {
      const Matrix y = values.col(j) * w.col(j).transpose();
      sum += y;
      sum2 += y.cwiseProduct(y);
    }
    const Matrix mean = sum / double(S);
    const Matrix se = ((sum2 / double(S) - mean.cwiseProduct(mean)) / double(S - 1)).cwiseSqrt();
    for (Index i = 0; i < m; ++i)
      for (Index j = 0; j < m; ++j) {
        CAPTURE(i);
        CAPTURE(j);
        CHECK(std::abs(mean(i, j) - expected(i, j)) < 4 * se(i, j));
      }
  };
  Matrix expected = 0.5 * Matrix::Identity(m, m);
  for (Index i = 1; i < m; ++i) expected(i, i - 1) = 0.25;
  check_stein(f, expected);
  // The delta that tangents miss: f_i = 1[x_i > 0] has ⟨∂f_i/∂x_j⟩ = δ_ij p(x_i = 0) = δ_ij/√(2π Σ_ii)
  // (ReLU's φ'' enters the responses exactly so), while its pathwise derivative is 0.
  const double variance_jitter = root.report().jitter;  // x has covariance Σ + jitter·I
  Matrix density = Matrix::Zero(m, m);
  for (Index i = 0; i < m; ++i) density(i, i) = 1.0 / std::sqrt(2.0 * M_PI * (sigma(i, i) + variance_jitter));
  check_stein((x.array() > 0.0).cast<double>().matrix(), density);
  // C R⁻¹ is exact: R R⁻¹ = I.
  CHECK((root.times_inverse(root.factor()) - Matrix::Identity(m, m)).norm() < 1e-12);
}
