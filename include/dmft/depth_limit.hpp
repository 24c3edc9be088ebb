#pragma once
// The infinite-depth limit of the residual models (theory residual.md §3.2): the finite-L DMFT
// with L = M layer steps is the canonical τ-discretisation (τ_l = l/M), its error is O(1/M), and
// Richardson extrapolation from the two finest grids removes the leading term:
//   X_∞ ≈ (M2 X(M2) − M1 X(M1)) / (M2 − M1)          (= 2X(2M) − X(M) for doubling grids).
// The error estimate is |X_∞(M2,M3) − X_∞(M1,M2)| (three or more grids: the change of the
// extrapolation between the two finest pairs) or |X_∞ − X(M2)| with two grids (the size of the
// correction itself: conservative).
#include <string>
#include <vector>

#include "dmft/solver.hpp"

namespace dmft {

/// Parses --depth-grid ("8,16,32"): at least two strictly increasing depths >= 2, each a multiple
/// of the first (so that every grid has a layer at τ = l/M1). Throws InputError naming the option.
std::vector<int> parse_depth_grid(const std::string& text);

struct DepthLimit {
  std::vector<int> grids;
  std::vector<Vector> loss;       // per grid, T
  Vector loss_inf, loss_error;    // T
  RowMatrix delta_inf;            // T×P
  std::vector<Matrix> ntk_inf;    // per t, P×P
  Vector tau;                     // τ_l = l/M1, l = 1..M1
  std::vector<TwoTime> Phi_inf, G_inf, Phi_error, G_error;  // per τ_l
  bool three_grids = false;       // which error estimate was used
};

/// Extrapolates the solutions solved on `grids` (same problem, depth = grids[k]).
DepthLimit extrapolate_depth(const std::vector<int>& grids, const std::vector<const Solution*>& solutions);

}  // namespace dmft
