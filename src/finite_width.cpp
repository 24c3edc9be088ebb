#include "dmft/finite_width.hpp"

#include <omp.h>

#include <cmath>

#include "dmft/errors.hpp"
#include "dmft/registry.hpp"

namespace dmft {

namespace {
bool has_network(const std::string& model) {
  for (const char* m : {"two_layer", "deep_mlp", "deep_linear", "resnet", "resnet_linear"})
    if (model == m) return true;
  return false;
}
}  // namespace

std::vector<Violation> network_violations(const ProblemParameters& p) {
  // MlpNetwork is the finite network of these models (with branches for the residual ones); their
  // architecture rules are the models' own (the same as for dmft solve).
  if (!has_network(p.model))
    return {{"model", "'" + p.model + "'",
             "dmft train has finite networks for two_layer, deep_mlp, deep_linear, resnet and resnet_linear only "
             "(not yet for this model)"}};
  try {
    return make_model(p.model)->architecture_violations(p);
  } catch (const InputError& e) {  // a model of the list above that this build does not register
    return {{"model", e.value(), e.rule()}};
  }
}

NetworkSpec network_spec(const ProblemParameters& p, Index width, Readout readout) {
  NetworkSpec s;
  s.depth = p.depth;
  s.width = width;
  s.activation = Activation::from_name(p.activation, p.beta);
  s.sigma = p.sigma;
  s.gamma0 = p.gamma0;
  s.eta = p.eta;
  s.decoupled_backward = p.responses == "gia";
  s.readout = readout;
  // Residual models: a = β0/√L_b on every branch (theory residual.md §1.1, §9 item 1).
  if (make_model(p.model)->residual())
    s.branch = p.beta0 / std::sqrt(double(p.branch_depth > 0 ? p.branch_depth : p.depth));
  s.train_input_layer = p.train_input_layer;
  return s;
}

NetworkRun train_network(const NetworkSpec& spec, const Dataset& data, std::uint64_t seed, const TrainOptions& opt) {
  const Index T = opt.T, P = data.P(), N = spec.width, n = T * P;
  const int L = spec.depth;
  MlpNetwork net(spec, data, seed);
  NetworkRun run;
  run.loss.resize(T);
  run.Delta.resize(T, P);
  run.ntk.resize(T, P * P);
  run.mean_abs_h.resize(T, L);
  run.mean_abs_dh.resize(T, L);
  // Recorded fields, one column per (t, μ) in the flattened order t·P + μ (§2.4).
  std::vector<Matrix> phi_hist, g_hist;
  if (opt.kernels) {
    phi_hist.assign(std::size_t(L), Matrix(N, n));
    g_hist.assign(std::size_t(L), Matrix(N, n));
  }
  std::vector<Matrix> h0;
  for (Index t = 0; t < T; ++t) {
    if (opt.stop && opt.stop->load()) throw Interrupted();
    const NetworkState s = net.evaluate();  // slot t: before the update of step t
    const Vector delta = data.y - s.f;
    run.Delta.row(t) = delta.transpose();
    run.loss[t] = delta.squaredNorm() / double(P);
    const RowMatrix K = net.ntk(s);
    run.ntk.row(t) = Eigen::Map<const Eigen::RowVectorXd>(K.data(), P * P);
    if (t == 0) h0 = s.h;
    for (int l = 0; l < L; ++l) {
      const auto li = std::size_t(l);
      run.mean_abs_h(t, l) = s.h[li].cwiseAbs().mean();
      run.mean_abs_dh(t, l) = (s.h[li] - h0[li]).cwiseAbs().mean();
      if (opt.kernels) {
        phi_hist[li].middleCols(t * P, P) = s.phi[li];
        g_hist[li].middleCols(t * P, P) = s.g[li];
      }
    }
    if (t + 1 < T) net.step(s, delta);
  }
  if (opt.kernels) {
    // Φ^l_N = FᵀF/N over the whole history: the two-time kernels, symmetric by construction.
    auto gram = [&](const Matrix& F) {
      TwoTime K(n, n);
      K.setZero();
      K.selfadjointView<Eigen::Lower>().rankUpdate(F.transpose(), 1.0 / double(N));
      K.triangularView<Eigen::StrictlyUpper>() = K.transpose();
      return K;
    };
    for (int l = 0; l < L; ++l) {
      run.Phi.push_back(gram(phi_hist[std::size_t(l)]));
      run.G.push_back(gram(g_hist[std::size_t(l)]));
    }
  }
  return run;
}

std::vector<NetworkRun> train_seeds(const NetworkSpec& spec, const Dataset& data, std::uint64_t first, Index count,
                                    const TrainOptions& opt, const std::function<void(Index)>& progress) {
  std::vector<NetworkRun> runs(static_cast<std::size_t>(count));
  std::exception_ptr failure;
  Index done = 0;
#pragma omp parallel for schedule(dynamic, 1)
  for (Index k = 0; k < count; ++k) {
    try {
      runs[std::size_t(k)] = train_network(spec, data, first + std::uint64_t(k), opt);
#pragma omp critical(dmft_train_progress)
      {
        ++done;
        if (progress) progress(done);
      }
    } catch (...) {
#pragma omp critical(dmft_train_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  return runs;
}

SeedStatistics seed_statistics(const std::vector<const RowMatrix*>& runs) {
  const RowMatrix& first = *runs.front();
  SeedStatistics s;
  s.mean = RowMatrix::Zero(first.rows(), first.cols());
  for (const RowMatrix* r : runs) s.mean += *r;  // fixed seed order: same bits for any thread count
  s.mean /= double(runs.size());
  s.std = RowMatrix::Zero(first.rows(), first.cols());
  if (runs.size() > 1) {
    for (const RowMatrix* r : runs) s.std.array() += (*r - s.mean).array().square();
    s.std = (s.std / double(runs.size() - 1)).cwiseSqrt();
  }
  return s;
}

double network_run_bytes(const NetworkSpec& spec, Index P, Index D, Index T, bool kernels) {
  const double N = double(spec.width), n = double(T * P), L = double(spec.depth);
  double doubles = N * double(D) + (L - 1) * N * N * (spec.decoupled_backward ? 2.0 : 1.0) + N;
  doubles += 6.0 * L * N * double(P);                  // fields of one evaluation
  if (kernels) doubles += 2.0 * L * (N * n + n * n);   // histories and kernels
  return 8.0 * doubles;
}

double network_run_flops(const NetworkSpec& spec, Index P, Index D, Index T, bool kernels) {
  const double n = double(T * P);
  double f = double(T) * network_step_flops(spec, P, D);
  if (kernels) f += 2.0 * double(spec.depth) * n * n * double(spec.width);  // two symmetric rank-N updates per layer
  return f;
}

}  // namespace dmft
