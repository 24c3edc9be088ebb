#include "dmft/depth_limit.hpp"

#include <cstdlib>

#include "dmft/errors.hpp"
#include "dmft/parameters.hpp"

namespace dmft {

std::vector<int> parse_depth_grid(const std::string& text) {
  std::vector<int> out;
  for (long long v : parse_increasing_integers(text, "--depth-grid", 2, 100000, "an integer depth in [2, 100000]",
                                               "8,16,32", "depths")) {
    if (!out.empty() && v % out.front() != 0)
      throw InputError("--depth-grid", "'" + text + "'",
                       "every depth must be a multiple of the first, so that each grid has the layers tau = l/" +
                           std::to_string(out.front()));
    out.push_back(int(v));
  }
  if (out.size() < 2) throw InputError("--depth-grid", "'" + text + "'", "Richardson extrapolation needs at least two depths");
  return out;
}

namespace {
/// (M2 X2 − M1 X1)/(M2 − M1): the O(1/M) term removed.
template <class X>
X richardson(const X& x1, int m1, const X& x2, int m2) {
  return ((double(m2) * x2 - double(m1) * x1) / double(m2 - m1)).eval();
}
}  // namespace

DepthLimit extrapolate_depth(const std::vector<int>& grids, const std::vector<const Solution*>& sols) {
  const std::size_t K = grids.size();
  DepthLimit d;
  d.grids = grids;
  for (const Solution* s : sols) d.loss.push_back(s->loss);
  d.three_grids = K >= 3;
  // An extrapolated quantity and its error estimate, from its value get(k) on grid k.
  auto extrapolate = [&](auto get, auto& value, auto& error) {
    value = richardson(get(K - 2), grids[K - 2], get(K - 1), grids[K - 1]);
    if (d.three_grids) error = (value - richardson(get(K - 3), grids[K - 3], get(K - 2), grids[K - 2])).cwiseAbs().eval();
    else error = (value - get(K - 1)).cwiseAbs().eval();
  };
  extrapolate([&](std::size_t k) { return Vector(sols[k]->loss); }, d.loss_inf, d.loss_error);
  const Solution& coarse = *sols[K - 2];
  const Solution& fine = *sols[K - 1];
  d.delta_inf = richardson(coarse.state.Delta, grids[K - 2], fine.state.Delta, grids[K - 1]);
  for (std::size_t t = 0; t < fine.ntk.size(); ++t)
    d.ntk_inf.push_back(richardson(coarse.ntk[t], grids[K - 2], fine.ntk[t], grids[K - 1]));
  const int M = grids.front();
  d.tau.resize(M);
  for (int l = 1; l <= M; ++l) {
    d.tau[l - 1] = double(l) / double(M);
    // Layer l of the coarsest grid is layer l·(m/M) of grid m (τ = l/M on both).
    auto layer = [&](std::size_t k) -> const LayerKernels& {
      return sols[k]->state.layers[std::size_t(l * (grids[k] / M) - 1)];
    };
    TwoTime v, e;
    extrapolate([&](std::size_t k) { return TwoTime(layer(k).Phi); }, v, e);
    d.Phi_inf.push_back(v);
    d.Phi_error.push_back(e);
    extrapolate([&](std::size_t k) { return TwoTime(layer(k).G); }, v, e);
    d.G_inf.push_back(v);
    d.G_error.push_back(e);
  }
  return d;
}

}  // namespace dmft
