#pragma once
// The residual models' shared test cases: the canonical data of theory residual.md §6.2, the
// problem built on it, and seed means of finite networks.
#include <cmath>
#include <string>
#include <vector>

#include "dmft/finite_width.hpp"
#include "helpers.hpp"

namespace dmft::test {

/// The canonical data of §6.2: P = 3, Kx as below, y = (1, −1, 1); X = √3 chol(Kx) so XXᵀ/3 = Kx.
inline Dataset canonical_data() {
  Matrix Kx(3, 3);
  Kx << 1, 0.4, -0.2, 0.4, 1, 0.1, -0.2, 0.1, 1;
  const Matrix Lc = Kx.llt().matrixL();
  RowMatrix X = std::sqrt(3.0) * Lc;
  Vector y(3);
  y << 1, -1, 1;
  return make_dataset(X, y, "canonical (theory residual.md 6.2)");
}

inline Problem resnet_problem(const Dataset& d, const std::string& act, int L, Index T, double eta, double gamma0,
                              ErrorUpdate mode = ErrorUpdate::exact, bool responses = true) {
  Problem p = make_problem(d, act, T, eta, gamma0, 20000, 7, mode);
  p.depth = L;
  p.beta0 = 1.0;
  p.responses = responses;
  return p;
}

/// Seed mean of the networks' loss curves and of Φ^L and G^1.
struct SeedMeans {
  Vector loss;
  TwoTime PhiL, G1;
};
inline SeedMeans seed_means(const std::vector<NetworkRun>& runs) {
  SeedMeans m{Vector::Zero(runs[0].loss.size()), TwoTime::Zero(runs[0].Phi[0].rows(), runs[0].Phi[0].cols()),
              TwoTime::Zero(runs[0].G[0].rows(), runs[0].G[0].cols())};
  for (const NetworkRun& r : runs) {
    m.loss += r.loss / double(runs.size());
    m.PhiL += r.Phi.back() / double(runs.size());
    m.G1 += r.G.front() / double(runs.size());
  }
  return m;
}

}  // namespace dmft::test
