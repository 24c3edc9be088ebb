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

/// Flops of estimate_kernel for n-long trajectories and S samples (multiply + add = 2).
double kernel_estimate_flops(double n, double S);

}  // namespace dmft
