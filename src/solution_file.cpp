#include "dmft/solution_file.hpp"


#include "dmft/h5_util.hpp"
#include "dmft/output_common.hpp"

namespace dmft {
namespace {

void write_two_time(H5::Group& g, const std::string& name, const TwoTime& k, Index T, Index P,
                    const std::string& description) {
  h5::write_array(g, name, k.data(), {hsize_t(T), hsize_t(P), hsize_t(T), hsize_t(P)}, "t,mu,s,nu", description);
}

void write_file(const std::string& tmp, const SolveParameters& params, const std::string& command_line,
                const Problem& pr, const Solution& sol, const std::function<void(H5::Group&)>& extra) {
  const Index T = pr.T, P = pr.P();
  H5::H5File f(tmp, H5F_ACC_TRUNC);
  H5::Group root = f.openGroup("/");
  write_provenance(root, kFormatName, kFormatVersion, command_line, params.model);
  h5::write_attr(root, "seed", static_cast<unsigned long long>(pr.seed));
  h5::write_attr(root, "layout", "two-time arrays are row-major (T,P,T,P): element [t,mu,s,nu] = K(t,mu; s,nu)");

  H5::Group gp = h5::create_group(root, "parameters");
  write_parameters(gp, params);

  write_data_group(root, *pr.data);

  H5::Group gs = h5::create_group(root, "solution");
  h5::write_attr(gs, "error_update", pr.error_update == ErrorUpdate::exact ? "exact" : "ntk");
  h5::write_attr(gs, "mc_samples", static_cast<long long>(pr.samples));
  write_loss_and_residuals(gs, sol.loss, sol.state.Delta);
  if (pr.error_update == ErrorUpdate::exact && sol.output_se.size() == T * P)
    h5::write_array(gs, "Delta_se", sol.output_se.data(), {hsize_t(T), hsize_t(P)}, "t,mu",
                    "Monte Carlo standard error of the readout average f(t,mu) given the history");
  write_ntk_series(gs, sol.ntk, "effective NTK K(t) from equal-time blocks (theory mlp.md 3.5)");
  for (std::size_t l = 0; l < sol.state.layers.size(); ++l) {
    H5::Group gl = h5::create_group(gs, "layers/" + std::to_string(l + 1));
    const LayerKernels& k = sol.state.layers[l];
    write_two_time(gl, "Phi", k.Phi, T, P, "feature kernel <phi(h(t,mu)) phi(h(s,nu))>");
    if (k.Phi_se.size())  // deterministic models (deep_linear) have no standard errors
      write_two_time(gl, "Phi_se", k.Phi_se, T, P, "Monte Carlo standard error of Phi (batch means, given Delta)");
    write_two_time(gl, "G", k.G, T, P, "gradient kernel <g(t,mu) g(s,nu)>");
    if (k.G_se.size())
      write_two_time(gl, "G_se", k.G_se, T, P, "Monte Carlo standard error of G (batch means, given Delta)");
    if (!k.A.empty())
      h5::write_array(gl, "A", k.A.values.data(), std::vector<hsize_t>(k.A.shape.begin(), k.A.shape.end()), k.A.axes,
                      "forward response <d phi(h^l(t,mu)) / d r^l(s,.)>, strictly causal (zero for s >= t)");
    if (!k.B.empty())
      h5::write_array(gl, "B", k.B.values.data(), std::vector<hsize_t>(k.B.shape.begin(), k.B.shape.end()), k.B.axes,
                      "backward response <d g^{l+1}(t,.) / d u^{l+1}(s,nu)>, causal with equal-time blocks (zero for s > t)");
  }

  H5::Group gc = h5::create_group(root, "convergence");
  const Summary& s = sol.summary;
  h5::write_attr(gc, "status", to_string(s.reason));
  h5::write_attr(gc, "message", s.message);
  h5::write_attr(gc, "iterations", static_cast<long long>(s.history.size()));
  h5::write_attr(gc, "strategy", params.strategy);
  h5::write_attr(gc, "min_source_eigenvalue", s.worst_source.min_eigenvalue);
  h5::write_attr(gc, "clipped_mass", s.worst_source.clipped_mass);
  h5::write_attr(gc, "max_stability_ratio", s.max_stability_ratio);
  std::string warnings;
  for (const auto& w : s.warnings) warnings += w + "\n";
  h5::write_attr(gc, "warnings", warnings);
  std::vector<double> rphi, rg, rd, rr, noise, tol;
  for (const auto& r : s.history) {
    rr.push_back(r.r_response);
    rphi.push_back(r.r_phi);
    rg.push_back(r.r_g);
    rd.push_back(r.r_delta);
    noise.push_back(r.noise);
    tol.push_back(r.tolerance);
  }
  h5::write_array(gc, "residual_Phi", rphi, "iteration", "max_l ||Phi_k - Phi_{k-1}||_F / ||Phi_{k-1}||_F");
  h5::write_array(gc, "residual_G", rg, "iteration", "max_l ||G_k - G_{k-1}||_F / ||G_{k-1}||_F");
  h5::write_array(gc, "residual_response", rr, "iteration", "max relative change of the responses A, B (0 if none)");
  h5::write_array(gc, "residual_Delta", rd, "iteration", "max |Delta_k - Delta_{k-1}| / max |y|");
  h5::write_array(gc, "noise_floor", noise, "iteration", "max over kernels of ||se||_F / ||K||_F");
  h5::write_array(gc, "tolerance", tol, "iteration", "max(tol, noise_fraction * noise_floor)");

  if (extra) extra(root);
  h5::write_attr(root, "complete", 1);  // last
  f.close();
}

}  // namespace

void write_solution(const std::string& path, const SolveParameters& params, const std::string& command_line,
                    const Problem& problem, const Solution& solution, const std::function<void(H5::Group&)>& extra) {
  write_atomically(path, [&](const std::string& tmp) { write_file(tmp, params, command_line, problem, solution, extra); });
}

}  // namespace dmft
