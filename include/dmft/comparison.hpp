#pragma once
// Finite networks against the DMFT (theory mlp.md §2.4): per width, seed, layer and quantity the
// relative Frobenius error ‖K_N − K_∞‖/‖K_∞‖ and the alignment ⟨K_N, K_∞⟩/(‖K_N‖‖K_∞‖), over the
// whole (T,P,T,P) tensor; the fitted rate error ≈ c·N^(−a) per quantity.
#include <string>
#include <vector>

#include "dmft/finite_width_file.hpp"
#include "dmft/power_law_fit.hpp"

namespace dmft {

/// One row of the tidy table. seed = −1 is the seed-mean network (the mean kernels); layer = 0 is
/// "not a layer" (loss, ntk) or, for Phi and G, the average of the metric over the layers.
struct ComparisonRow {
  long long width = 0, seed = 0;
  int layer = 0;
  std::string quantity, metric;
  double value = 0;
};

struct RateFit {
  std::string quantity;
  int layer = 0;
  std::string metric = "rel_frobenius";  // or rms_final (attention: absolute rms error at the last step)
  std::string data;  // "per-seed" (mean over seeds with its standard error) or "seed-mean"
  std::vector<double> widths, error, error_se;
  PowerLawFit fit;
};

struct Comparison {
  std::string model;  // of the DMFT file
  std::vector<ComparisonRow> rows;
  std::vector<RateFit> fits;
};

double relative_frobenius(const Eigen::Ref<const RowMatrix>& x, const Eigen::Ref<const RowMatrix>& reference);
double alignment(const Eigen::Ref<const RowMatrix>& x, const Eigen::Ref<const RowMatrix>& reference);

/// Differences that make the two files incomparable (data, depth, T, η, γ0, activation, σ,
/// responses; a residual model against a network without branches; for the residual models also
/// β0, the branch depth and whether the input layer trains), one message each; empty when they
/// describe the same problem.
std::vector<std::string> incompatibilities(const SolutionResults& dmft, const FiniteWidthResults& finite);

Comparison compare(const SolutionResults& dmft, const FiniteWidthResults& finite);

/// The tidy table (columns width, seed, layer, quantity, metric, value) and the fits, in HDF5.
void write_comparison(const std::string& path, const Comparison& c, const std::string& dmft_path,
                      const std::string& finite_path, const std::string& command_line);
void write_comparison_csv(const std::string& path, const Comparison& c);

}  // namespace dmft
