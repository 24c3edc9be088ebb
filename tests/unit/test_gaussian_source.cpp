#include <doctest/doctest.h>

#include "dmft/gaussian_source.hpp"

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
