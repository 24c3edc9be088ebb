#pragma once
// Monte Carlo kernel estimates K = ⟨x xᵀ⟩ = F Fᵀ / S from sample trajectories (the columns of
// F, n×S), with standard errors by batch means over a fixed split of the samples.
//
// The split and the tiling of the output are fixed by S and n alone, and each output tile is
// summed in batch order, so the result is bit-for-bit the same for any number of threads.
// Flops: n²·S (one symmetric rank-S update, lower tiles only).
#include "dmft/types.hpp"

namespace dmft {

struct KernelEstimate {
  TwoTime mean;  // n×n, exactly symmetric
  TwoTime se;    // n×n standard error of each entry (batch means)
  /// ‖se‖_F / ‖mean‖_F: the relative noise floor ν of this estimate (theory mlp.md §7.3).
  double relative_noise = 0.0;
};

/// Number of batches used for the standard errors; S must be at least 2·kBatches.
inline constexpr int kStandardErrorBatches = 32;

KernelEstimate estimate_kernel(const Matrix& samples_as_columns);

/// Batch-means variance of the weighted mean K = Σ_b w_b K_b from the running sums
/// Σ w_b K_b, Σ w_b² K_b, Σ w_b² K_b∘K_b, Σ w_b²:  Var ≈ B/(B−1) · Σ_b w_b² (K_b − K)².
template <class M>
M batch_means_variance(const M& sum_w, const M& sum_w2k, const M& sum_w2kk, double sum_w2, int batches) {
  return (double(batches) / double(batches - 1)) *
         (sum_w2kk - 2.0 * sum_w.cwiseProduct(sum_w2k) + sum_w2 * sum_w.cwiseProduct(sum_w)).eval();
}

/// The same estimate streamed: one batch of samples (columns of F) at a time, so the samples need
/// not be held at once. Adding the batches in a fixed order gives the same bits on any thread count.
class KernelAccumulator {
 public:
  /// Adds K_b = F Fᵀ / F.cols() with weight w_b (the batch's share of all samples).
  void add(const Matrix& F, double weight_of_batch);
  KernelEstimate finish(int batches) const;

 private:
  TwoTime sum_w_, sum_w2k_, sum_w2kk_;
  double sum_w2_ = 0;
};

/// Flops of estimate_kernel for n-long trajectories and S samples (multiply + add = 2).
double kernel_estimate_flops(double n, double S);

}  // namespace dmft
