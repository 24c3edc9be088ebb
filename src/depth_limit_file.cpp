#include "dmft/depth_limit_file.hpp"

#include "dmft/h5_util.hpp"

namespace dmft {

void write_depth_limit(H5::Group& root, const DepthLimit& d, Index T, Index P) {
  H5::Group g = h5::create_group(root, "depth_limit");
  h5::write_attr(g, "method",
                 "Richardson extrapolation in 1/L from the two finest grids, X_inf = (M2 X(M2) - M1 X(M1))/(M2 - M1) "
                 "(theory residual.md 3.2); layer l of depth M sits at tau = l/M");
  h5::write_attr(g, "error_estimate",
                 d.three_grids ? "|X_inf(M_b,M_c) - X_inf(M_a,M_b)| for the three finest grids M_a < M_b < M_c: the change of the extrapolation between the two finest pairs"
                               : "|X_inf - X(M_finest)|: the size of the correction (two grids only; conservative)");
  std::vector<long long> grids(d.grids.begin(), d.grids.end());
  h5::write_int_array(g, "grids", grids, "grid", "depths L = M solved");
  std::vector<const double*> losses;
  for (const Vector& l : d.loss) losses.push_back(l.data());
  h5::write_slices(g, "loss_by_grid", losses, {hsize_t(T)}, "grid,t", "loss(t) = (1/P) sum_mu Delta^2 at each depth");
  h5::write_array(g, "loss", d.loss_inf.data(), {hsize_t(T)}, "t", "extrapolated loss at L = inf");
  h5::write_array(g, "loss_error", d.loss_error.data(), {hsize_t(T)}, "t", "error estimate of the extrapolated loss");
  h5::write_array(g, "Delta", d.delta_inf.data(), {hsize_t(T), hsize_t(P)}, "t,mu", "extrapolated residuals");
  std::vector<double> ntk;
  for (const Matrix& K : d.ntk_inf) {
    const RowMatrix Kr = K;
    ntk.insert(ntk.end(), Kr.data(), Kr.data() + Kr.size());
  }
  h5::write_array(g, "ntk", ntk.data(), {hsize_t(T), hsize_t(P), hsize_t(P)}, "t,mu,nu", "extrapolated NTK K(t)");
  h5::write_array(g, "tau", d.tau.data(), {hsize_t(d.tau.size())}, "layer", "layer-time tau = l/M1 of each kernel slice");
  const std::vector<hsize_t> two_time{hsize_t(T), hsize_t(P), hsize_t(T), hsize_t(P)};
  auto slices = [](const std::vector<TwoTime>& ks) {
    std::vector<const double*> out;
    for (const auto& k : ks) out.push_back(k.data());
    return out;
  };
  h5::write_slices(g, "Phi", slices(d.Phi_inf), two_time, "layer,t,mu,s,nu", "extrapolated feature kernel Phi(tau)");
  h5::write_slices(g, "Phi_error", slices(d.Phi_error), two_time, "layer,t,mu,s,nu", "error estimate of Phi(tau)");
  h5::write_slices(g, "G", slices(d.G_inf), two_time, "layer,t,mu,s,nu", "extrapolated gradient kernel G(tau)");
  h5::write_slices(g, "G_error", slices(d.G_error), two_time, "layer,t,mu,s,nu", "error estimate of G(tau)");
}

}  // namespace dmft
