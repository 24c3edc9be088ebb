#include "dmft/error_update.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>

namespace dmft {

double stability_ratio(const Matrix& K, double eta) {
  const Matrix sym = 0.5 * (K + K.transpose());
  Eigen::SelfAdjointEigenSolver<Matrix> es(sym, Eigen::EigenvaluesOnly);
  return eta * es.eigenvalues().maxCoeff() / double(K.rows());
}

Vector loss_curve(const RowMatrix& delta) {
  return delta.rowwise().squaredNorm() / double(delta.cols());
}

RowMatrix lazy_residuals(const Matrix& K0, const Vector& y, double eta, Index T) {
  const Index P = y.size();
  Eigen::SelfAdjointEigenSolver<Matrix> es(0.5 * (K0 + K0.transpose()));
  const Matrix& V = es.eigenvectors();
  const Vector coeff = V.transpose() * y;
  RowMatrix delta(T, P);
  for (Index t = 0; t < T; ++t) {
    Vector decay(P);
    for (Index k = 0; k < P; ++k) decay[k] = std::pow(1.0 - eta * es.eigenvalues()[k] / double(P), double(t));
    delta.row(t) = (V * decay.cwiseProduct(coeff)).transpose();
  }
  return delta;
}

}  // namespace dmft
