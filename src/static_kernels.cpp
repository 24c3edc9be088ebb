#include "dmft/static_kernels.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <numbers>

namespace dmft {
namespace {

constexpr double pi = std::numbers::pi;

/// Probabilists' Gauss–Hermite rule (weight e^{-x²/2}/√(2π)) by Golub–Welsch.
struct Rule {
  Vector x, w;
};
const Rule& hermite_rule(int n) {
  thread_local int cached_n = -1;
  thread_local Rule rule;
  if (cached_n == n) return rule;
  Matrix J = Matrix::Zero(n, n);
  for (int k = 1; k < n; ++k) J(k, k - 1) = J(k - 1, k) = std::sqrt(double(k));
  Eigen::SelfAdjointEigenSolver<Matrix> es(J);
  rule.x = es.eigenvalues();
  rule.w = es.eigenvectors().row(0).transpose().array().square();
  cached_n = n;
  return rule;
}

double evaluate(const Activation& act, Derivative d, double h) {
  return d == Derivative::none ? act.phi(h) : act.dphi(h);
}

// Arc-cosine kernels (theory mlp.md §3.6), ρ clipped to [−1, 1].
double relu_kernel(double qa, double qb, double c) {
  const double s = std::sqrt(qa * qb);
  if (s == 0.0) return 0.0;
  const double rho = std::clamp(c / s, -1.0, 1.0);
  const double th = std::acos(rho);
  return s / (2 * pi) * (std::sin(th) + (pi - th) * rho);
}
double step_kernel(double qa, double qb, double c) {
  const double s = std::sqrt(qa * qb);
  if (s == 0.0) return 0.0;  // h = 0 surely, and the code takes φ'(0) = 0
  const double rho = std::clamp(c / s, -1.0, 1.0);
  return (pi - std::acos(rho)) / (2 * pi);
}
// erf: E[erf(a) erf(b)] = (2/π) asin(2c / √((1+2qa)(1+2qb))).
double erf_kernel(double qa, double qb, double c) {
  return 2.0 / pi * std::asin(2 * c / std::sqrt((1 + 2 * qa) * (1 + 2 * qb)));
}
double erf_derivative_kernel(double qa, double qb, double c) {
  // E[(2/√π)² e^{-a²-b²}] = (4/π) / √((1+2qa)(1+2qb) − 4c²)
  return 4.0 / pi / std::sqrt((1 + 2 * qa) * (1 + 2 * qb) - 4 * c * c);
}

template <class F>
Matrix pairwise(const Matrix& sigma, F f) {
  const Index P = sigma.rows();
  Matrix out(P, P);
  for (Index a = 0; a < P; ++a)
    for (Index b = 0; b <= a; ++b) out(a, b) = out(b, a) = f(sigma(a, a), sigma(b, b), sigma(a, b));
  return out;
}

}  // namespace

Matrix gauss_hermite_kernel(const Activation& act, Derivative d, const Matrix& sigma, int nodes) {
  const Rule& r = hermite_rule(nodes);
  return pairwise(sigma, [&](double qa, double qb, double c) {
    // h_a = √qa x1,  h_b = (c/√qa) x1 + √(qb − c²/qa) x2
    const double sa = std::sqrt(std::max(qa, 0.0));
    const double m = sa > 0 ? c / sa : 0.0;
    const double sb = std::sqrt(std::max(qb - m * m, 0.0));
    double acc = 0;
    for (int i = 0; i < nodes; ++i) {
      const double fa = evaluate(act, d, sa * r.x[i]);
      double inner = 0;
      for (int j = 0; j < nodes; ++j) inner += r.w[j] * evaluate(act, d, m * r.x[i] + sb * r.x[j]);
      acc += r.w[i] * fa * inner;
    }
    return acc;
  });
}

Matrix gaussian_phi_kernel(const Activation& act, const Matrix& sigma) {
  switch (act.kind()) {
    case ActivationKind::relu: return pairwise(sigma, relu_kernel);
    case ActivationKind::erf: return pairwise(sigma, erf_kernel);
    case ActivationKind::linear: return sigma;
    default: return gauss_hermite_kernel(act, Derivative::none, sigma);
  }
}

Matrix gaussian_dphi_kernel(const Activation& act, const Matrix& sigma) {
  switch (act.kind()) {
    case ActivationKind::relu: return pairwise(sigma, step_kernel);
    case ActivationKind::erf: return pairwise(sigma, erf_derivative_kernel);
    case ActivationKind::linear: return Matrix::Ones(sigma.rows(), sigma.cols());
    default: return gauss_hermite_kernel(act, Derivative::first, sigma);
  }
}

}  // namespace dmft
