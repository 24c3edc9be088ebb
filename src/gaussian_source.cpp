#include "dmft/gaussian_source.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace dmft {

GaussianSource GaussianSource::symmetric_root(const Matrix& covariance) {
  const Matrix sym = 0.5 * (covariance + covariance.transpose());
  Eigen::SelfAdjointEigenSolver<Matrix> es(sym);
  if (es.info() != Eigen::Success) throw std::runtime_error("eigendecomposition of a source covariance failed");
  const Vector& lambda = es.eigenvalues();
  GaussianSource s;
  s.report_.min_eigenvalue = lambda.minCoeff();
  const double trace = std::max(lambda.cwiseMax(0.0).sum(), std::numeric_limits<double>::min());
  s.report_.clipped_mass = (-lambda.cwiseMin(0.0)).sum() / trace;
  const Vector root = lambda.cwiseMax(0.0).cwiseSqrt();
  s.factor_ = es.eigenvectors() * root.asDiagonal() * es.eigenvectors().transpose();
  return s;
}

GaussianSource GaussianSource::jittered_cholesky(const Matrix& covariance, double relative, double scale) {
  const Index m = covariance.rows();
  if (!(scale > 0)) scale = m ? covariance.diagonal().mean() : 1.0;
  GaussianSource s;
  s.report_.min_eigenvalue = std::numeric_limits<double>::quiet_NaN();
  const double largest = std::max(relative, 1e-5);
  for (double eps = relative; eps <= largest * (1 + 1e-12); eps *= 10) {
    Matrix shifted = covariance;
    shifted.diagonal().array() += eps * scale;
    Eigen::LLT<Matrix> llt(shifted);
    if (llt.info() == Eigen::Success) {
      s.factor_ = llt.matrixL();
      s.lower_ = true;
      s.report_.jitter = eps * scale;
      return s;
    }
  }
  std::ostringstream message;
  message << "covariance is not positive semidefinite even with a relative jitter of " << largest;
  throw std::runtime_error(message.str());
}

Matrix GaussianSource::times_inverse(const Matrix& C) const {
  if (!lower_) throw std::logic_error("times_inverse needs a Cholesky factor");
  // X R = C  ⇔  Rᵀ Xᵀ = Cᵀ.
  return factor_.triangularView<Eigen::Lower>().transpose().solve(C.transpose()).transpose();
}

}  // namespace dmft
