#pragma once
// The `dmft-finite-width` HDF5 file written by `dmft train` (docs/FORMAT.md): per width, every
// seed's loss, residuals, NTK, coordinate-check statistics and (optionally) two-time kernels, and
// their mean and standard deviation over seeds, in the layout of `dmft solve`'s output.
#include <map>
#include <string>
#include <vector>

#include "dmft/finite_width.hpp"
#include "dmft/parameters.hpp"

namespace dmft {

inline constexpr const char* kFiniteWidthFormat = "dmft-finite-width";
inline constexpr int kFiniteWidthVersion = 1;

/// The networks of one width, in seed order.
struct WidthRuns {
  long long width = 0;
  std::vector<NetworkRun> runs;
};

void write_finite_width(const std::string& path, const TrainParameters& params, const std::string& command_line,
                        const Dataset& data, const std::vector<WidthRuns>& widths);

/// What `dmft compare` needs from either file: parameters (as text), data, and per-layer kernels.
struct KernelSet {
  Vector loss;                    // T
  RowMatrix ntk;                  // T×(P·P); empty if not stored (attention: M1 limit B, finite M0)
  std::vector<TwoTime> Phi, G;    // per layer; empty if not stored
  // Attention files: the residuals, the (head-mean) logits and the two-time arrays with token indices.
  RowMatrix Delta;                // T×P
  RowMatrix logits;               // T×(P·S·S), index (μ·S + a)·S + b; empty for the other models
  std::map<std::string, TwoTime> token_kernels;  // (T·P·S)², by name (Phi_h, Phi_o, G_u, ...)
};

struct FiniteWidthResults {
  std::map<std::string, std::string> parameters;
  Dataset data;
  Index T = 0;
  int depth = 0;
  bool kernels = false;  // false for a coordinate check
  struct Width {
    long long N = 0;
    std::vector<KernelSet> seeds;  // per seed (kernels only when stored per seed)
    KernelSet mean;                // seed mean
  };
  std::vector<Width> widths;
};

struct SolutionResults {
  std::map<std::string, std::string> parameters;
  Dataset data;
  Index T = 0;
  int depth = 0;
  std::string model;
  KernelSet kernels;
};

/// Read the files back; throw dmft::InputError naming the file when it is not a complete file of
/// the expected format.
FiniteWidthResults read_finite_width(const std::string& path);
SolutionResults read_solution(const std::string& path);

}  // namespace dmft
