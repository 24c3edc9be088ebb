#include "dmft/kernel_estimator.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

namespace dmft {
namespace {
constexpr Index kTile = 128;
}

double kernel_estimate_flops(double n, double S) {
  // Lower-triangular tiles, diagonal tiles computed in full: ≈ n²S·(1 + tile/n).
  const Index N = Index(n), tiles = (N + kTile - 1) / kTile;
  double flops = 0;
  for (Index I = 0; I < tiles; ++I)
    for (Index J = 0; J <= I; ++J)
      flops += 2.0 * S * double(std::min(kTile, N - I * kTile)) * double(std::min(kTile, N - J * kTile));
  return flops;
}

KernelEstimate estimate_kernel(const Matrix& F) {
  const Index n = F.rows(), S = F.cols();
  const int B = kStandardErrorBatches;
  if (S < 2 * B) throw std::invalid_argument("estimate_kernel needs at least 64 samples");

  std::vector<Index> start(B + 1);
  for (int b = 0; b <= B; ++b) start[b] = S * b / B;
  double sum_w2 = 0;
  for (int b = 0; b < B; ++b) {
    const double w = double(start[b + 1] - start[b]) / double(S);
    sum_w2 += w * w;
  }

  KernelEstimate out;
  out.mean.resize(n, n);
  out.se.resize(n, n);
  const Index tiles = (n + kTile - 1) / kTile;
  std::vector<std::pair<Index, Index>> work;
  for (Index I = 0; I < tiles; ++I)
    for (Index J = 0; J <= I; ++J) work.emplace_back(I, J);

#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t k = 0; k < work.size(); ++k) {
    const Index r0 = work[k].first * kTile, c0 = work[k].second * kTile;
    const Index rn = std::min(kTile, n - r0), cn = std::min(kTile, n - c0);
    Matrix tile(rn, cn), sum_w(rn, cn), sum_w2k(rn, cn), sum_w2kk(rn, cn);
    sum_w.setZero();
    sum_w2k.setZero();
    sum_w2kk.setZero();
    for (int b = 0; b < B; ++b) {
      const Index s0 = start[b], sn = start[b + 1] - start[b];
      tile.noalias() = F.block(r0, s0, rn, sn) * F.block(c0, s0, cn, sn).transpose();
      tile /= double(sn);
      const double w = double(sn) / double(S);
      sum_w += w * tile;
      sum_w2k += (w * w) * tile;
      sum_w2kk += (w * w) * tile.cwiseProduct(tile);
    }
    // Batch-means variance of the weighted mean K = Σ w_b K_b:
    // Var ≈ B/(B−1) · Σ w_b² (K_b − K)².
    const Matrix var = batch_means_variance(sum_w, sum_w2k, sum_w2kk, sum_w2, B);
    Matrix se = var.cwiseMax(0.0).cwiseSqrt();
    out.mean.block(r0, c0, rn, cn) = sum_w;
    out.se.block(r0, c0, rn, cn) = se;
    if (r0 != c0) {
      out.mean.block(c0, r0, cn, rn) = sum_w.transpose();
      out.se.block(c0, r0, cn, rn) = se.transpose();
    }
  }
  // Diagonal tiles were computed in full; make them exactly symmetric.
  for (Index I = 0; I < tiles; ++I) {
    const Index o = I * kTile, m = std::min(kTile, n - o);
    for (Index i = 0; i < m; ++i)
      for (Index j = 0; j < i; ++j) {
        out.mean(o + j, o + i) = out.mean(o + i, o + j);
        out.se(o + j, o + i) = out.se(o + i, o + j);
      }
  }
  const double norm = out.mean.norm();
  out.relative_noise = norm > 0 ? out.se.norm() / norm : 0.0;
  return out;
}

void KernelAccumulator::add(const Matrix& F, double w) {
  const Index n = F.rows();
  Matrix K = Matrix::Zero(n, n);
  K.selfadjointView<Eigen::Lower>().rankUpdate(F, 1.0 / double(F.cols()));
  K.triangularView<Eigen::StrictlyUpper>() = K.transpose();
  if (sum_w_.size() == 0) sum_w_ = sum_w2k_ = sum_w2kk_ = TwoTime::Zero(n, n);
  sum_w_ += w * K;
  sum_w2k_ += (w * w) * K;
  sum_w2kk_ += (w * w) * K.cwiseProduct(K);
  sum_w2_ += w * w;
}

KernelEstimate KernelAccumulator::finish(int batches) const {
  KernelEstimate e;
  e.mean = sum_w_;
  e.se = batch_means_variance(sum_w_, sum_w2k_, sum_w2kk_, sum_w2_, batches).cwiseMax(0.0).cwiseSqrt();
  const double norm = e.mean.norm();
  e.relative_noise = norm > 0 ? e.se.norm() / norm : 0.0;
  return e;
}

}  // namespace dmft
