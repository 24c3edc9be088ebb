#include "dmft/attention_file.hpp"

#include "dmft/h5_util.hpp"
#include "dmft/output_common.hpp"
#include "dmft/solution_file.hpp"

namespace dmft {
namespace {

/// What each named two-time array is (attention.md 3.2, order-parameter table).
std::string kernel_meaning(const std::string& name) {
  if (name == "Phi_h") return "residual-stream kernel <h(I) h(J)>";
  if (name == "Phi_o") return "head-output kernel <N^-1 sum_i o_i(I) o_i(J)>";
  if (name == "G_u") return "branch gradient kernel <g^u(I) g^u(J)>";
  if (name == "G_Q" || name == "G_K" || name == "G_V") return "head gradient kernel <N^-1 sum_i g^" + name.substr(2) + "_i(I) g^" + name.substr(2) + "_i(J)>";
  if (name == "R_h") return "response <dh(I)/d xi^Q(J)>, strictly causal";
  if (name == "R_u") return "response <d g^u(I)/d chi^O(J)>, causal";
  if (name == "R_o") return "response <N^-1 sum_i d o_i(I)/d xi^O_i(J)>, strictly causal";
  if (name.rfind("R_", 0) == 0) return "response <N^-1 sum_i d g^" + name.substr(2) + "_i(I)/d chi^" + name.substr(2) + "_i(J)>, causal";
  return name;
}

/// T·P matrices S×S as one (T·P)×(S·S) row-major block.
RowMatrix stack(const std::vector<RowMatrix>& m, Index T, Index P, Index S) {
  RowMatrix out(T * P, S * S);
  for (Index i = 0; i < T * P; ++i) out.row(i) = Eigen::Map<const Eigen::RowVectorXd>(m[std::size_t(i)].data(), S * S);
  return out;
}

void write_file(const std::string& tmp, const SolveParameters& params, const std::string& command_line,
                const Dataset& data, const AttentionSolution& sol) {
  const AttentionM0Trajectory& tr = sol.trajectory;
  const hsize_t T = hsize_t(tr.T), P = hsize_t(tr.P), S = hsize_t(tr.S);
  H5::H5File f(tmp, H5F_ACC_TRUNC);
  H5::Group root = f.openGroup("/");
  write_provenance(root, kFormatName, kFormatVersion, command_line, params.model);
  h5::write_attr(root, "seed", static_cast<unsigned long long>(params.seed));
  h5::write_attr(root, "layout",
                 "two-time arrays with token indices are row-major (T,P,S,T,P,S): element [t,mu,a,s,nu,b] = "
                 "K(t,mu,a; s,nu,b), i.e. the (T*P*S)^2 matrix with index (t*P + mu)*S + a");
  H5::Group gp = h5::create_group(root, "parameters");
  write_parameters(gp, params);
  write_data_group(root, data);

  H5::Group gs = h5::create_group(root, "solution");
  h5::write_attr(gs, "error_update", params.error_update);
  h5::write_attr(gs, "limit", params.limit);
  h5::write_attr(gs, "method", sol.method);
  if (sol.oracle_delta >= 0) {
    h5::write_attr(gs, "oracle_max_abs_Delta", sol.oracle_delta);
    h5::write_attr(gs, "oracle_max_abs_logits", sol.oracle_logits);
    h5::write_attr(gs, "oracle", "the O(D^3) moment recursion of attention.md 3.4, solved beside the general solver");
  }
  write_loss_and_residuals(gs, tr.loss, tr.Delta);
  if (tr.Delta_se.size())
    h5::write_array(gs, "Delta_se", tr.Delta_se.data(), {T, P}, "t,mu",
                    "Monte Carlo standard error of Delta over the sampled heads (replica batch means)");
  if (!tr.ntk.empty())
    write_ntk_series(gs, tr.ntk, "effective NTK K(t), sum over tokens of the equal-time kernels (attention.md 3.2, 3.4)");
  const RowMatrix logits = stack(tr.logits, tr.T, tr.P, tr.S), sigma = stack(tr.attention, tr.T, tr.P, tr.S);
  H5::Group ga = h5::create_group(gs, "attention");
  h5::write_array(ga, "logits", logits.data(), {T, P, S, S}, "t,mu,a,b",
                  params.limit == "a" ? "deterministic logits A(t,mu)_ab = <q(t,mu,a) k(t,mu,b)> (query a, key b)"
                                      : "head-mean logits A(t,mu)_ab = N^{-alpha_A} q_a.k_b averaged over the sampled heads");
  h5::write_array(ga, "sigma", sigma.data(), {T, P, S, S}, "t,mu,a,b",
                  params.limit == "a" ? "attention softmax_b(A(t,mu)_ab + m_ab)" : "head-mean attention matrices");
  H5::Group gk = h5::create_group(gs, "kernels");
  h5::write_attr(gk, "index", "I = (t, mu, a), J = (s, nu, b); (T*P*S)^2 row-major, index (t*P + mu)*S + a");
  for (const auto& [name, K] : tr.two_time)
    h5::write_array(gk, name, K.data(), {T, P, S, T, P, S}, "t,mu,a,s,nu,b", kernel_meaning(name));

  H5::Group gc = h5::create_group(root, "convergence");
  h5::write_attr(gc, "status", "converged");
  h5::write_attr(gc, "message", "one causal sweep (no outer loop)");
  h5::write_attr(gc, "iterations", 1LL);
  if (!tr.ntk.empty()) h5::write_attr(gc, "max_stability_ratio", sol.max_stability_ratio);
  std::string warnings;
  for (const auto& w : sol.warnings) warnings += w + "\n";
  h5::write_attr(gc, "warnings", warnings);
  h5::write_attr(root, "complete", 1);  // last
  f.close();
}

}  // namespace

void write_attention_solution(const std::string& path, const SolveParameters& params, const std::string& command_line,
                              const Dataset& data, const AttentionSolution& solution) {
  write_atomically(path, [&](const std::string& tmp) { write_file(tmp, params, command_line, data, solution); });
}

NetworkRun attention_network_run(const AttentionM0Trajectory& tr, bool every_head) {
  NetworkRun run;
  run.loss = tr.loss;
  run.Delta = tr.Delta;
  if (!tr.ntk.empty()) {
    run.ntk.resize(tr.T, tr.P * tr.P);
    for (Index t = 0; t < tr.T; ++t) {
      const RowMatrix K = tr.ntk[std::size_t(t)];
      run.ntk.row(t) = Eigen::Map<const Eigen::RowVectorXd>(K.data(), K.size());
    }
  }
  run.logits.resize(tr.T, tr.P * tr.S * tr.S);
  for (Index t = 0; t < tr.T; ++t)
    for (Index mu = 0; mu < tr.P; ++mu) {
      const RowMatrix A = tr.head_mean_A(t, mu);
      run.logits.row(t).segment(mu * tr.S * tr.S, tr.S * tr.S) = Eigen::Map<const Eigen::RowVectorXd>(A.data(), A.size());
    }
  run.heads = tr.H;
  if (every_head) {  // the (T·P·H)×(S·S) stack is row-major T×(P·H·S·S)
    const RowMatrix all = stack(tr.logits, tr.T, tr.P * tr.H, tr.S);
    run.logits_heads = Eigen::Map<const RowMatrix>(all.data(), tr.T, tr.P * tr.H * tr.S * tr.S);
  }
  run.token_kernels = tr.two_time;
  return run;
}

}  // namespace dmft
