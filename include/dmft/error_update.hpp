#pragma once
// Residual dynamics (theory mlp.md §3.5, §6).
#include <vector>

#include "dmft/types.hpp"

namespace dmft {

/// The `ntk` update: Δ(0) = y, Δ(t+1) = Δ(t) − (η/P) K(t) Δ(t) (the notebooks' Euler form).
/// `ntk_at(t)` returns K(t) (P×P) for t = 0..T−2.
template <class NtkAt>
RowMatrix ntk_residuals(const Vector& y, Index T, double eta, NtkAt&& ntk_at) {
  const Index P = y.size();
  RowMatrix delta(T, P);
  delta.row(0) = y.transpose();
  for (Index t = 0; t + 1 < T; ++t) {
    const Vector d = delta.row(t).transpose();
    delta.row(t + 1) = (d - (eta / double(P)) * (ntk_at(t) * d)).transpose();
  }
  return delta;
}

/// η λ_max(K) / P: the Euler recursion leaves its stability region above 2.
double stability_ratio(const Matrix& K, double eta);

/// L_t = (1/P) Σ_μ Δ(t, μ)²: the mean squared residual (starts at mean(y²)).
Vector loss_curve(const RowMatrix& delta);

/// Closed-form lazy residuals Δ(t) = V diag((1 − η λ_k / P)^t) Vᵀ y for a fixed NTK K0 = V Λ Vᵀ
/// (theory mlp.md §6); an oracle independent of the recursion.
RowMatrix lazy_residuals(const Matrix& K0, const Vector& y, double eta, Index T);

}  // namespace dmft
