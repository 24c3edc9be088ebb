// Finite networks against the DMFT (theory mlp.md §2.4, T16, T18, T19; residual.md §1.6 for the
// decoupled-backward network). Widths, seeds and tolerances follow the acceptance points;
// each tolerance is either the acceptance number or a multiple of a measured standard error.
#include <doctest/doctest.h>

#include "dmft/comparison.hpp"
#include "dmft/finite_width.hpp"
#include "helpers.hpp"

using namespace dmft;
using namespace dmft::test;

namespace {

/// The DMFT reference: the mean of Monte Carlo replicas (or one deterministic solution).
struct Reference {
  Vector loss;
  std::vector<TwoTime> Phi, G;
};

Reference reference_of(const std::vector<Solution>& sols) {
  Reference r;
  r.loss = Vector::Zero(sols[0].loss.size());
  for (std::size_t l = 0; l < sols[0].state.layers.size(); ++l) {
    r.Phi.push_back(TwoTime::Zero(sols[0].state.layers[l].Phi.rows(), sols[0].state.layers[l].Phi.cols()));
    r.G.push_back(r.Phi.back());
  }
  for (const Solution& s : sols) {
    r.loss += s.loss / double(sols.size());
    for (std::size_t l = 0; l < r.Phi.size(); ++l) {
      r.Phi[l] += s.state.layers[l].Phi / double(sols.size());
      r.G[l] += s.state.layers[l].G / double(sols.size());
    }
  }
  return r;
}

Reference solve_reference(const std::string& model_name, Problem p, int replicas) {
  const auto model = make_model(model_name);
  SolverOptions o;
  o.tol = 1e-9;
  o.noise_fraction = 0.1;
  o.max_iter = 1000;
  std::vector<Solution> sols;
  for (int k = 0; k < replicas; ++k) {
    p.seed = 1 + std::uint64_t(k);
    sols.push_back(solve(*model, p, o));
    REQUIRE(sols.back().summary.reason == Termination::converged);
  }
  return reference_of(sols);
}

NetworkSpec spec_of(const Problem& p, Index N, bool decoupled = false) {
  NetworkSpec s;
  s.depth = p.depth;
  s.width = N;
  s.activation = p.activation;
  s.sigma = p.sigma;
  s.gamma0 = p.gamma0;
  s.eta = p.eta;
  s.decoupled_backward = decoupled;
  return s;
}

std::vector<NetworkRun> train(const Problem& p, Index N, Index seeds, bool kernels = true, bool decoupled = false) {
  TrainOptions o;
  o.T = p.T;
  o.kernels = kernels;
  return train_seeds(spec_of(p, N, decoupled), *p.data, 1, seeds, o);
}

/// Layer-averaged relative Frobenius error of Φ (or G) of one network.
double layer_error(const NetworkRun& r, const Reference& ref, bool phi) {
  double e = 0;
  for (std::size_t l = 0; l < ref.Phi.size(); ++l)
    e += phi ? relative_frobenius(r.Phi[l], ref.Phi[l]) : relative_frobenius(r.G[l], ref.G[l]);
  return e / double(ref.Phi.size());
}

/// Seed means (the core's seed_statistics, as dmft train writes them) of the loss, with its
/// standard error, and of the kernels.
struct SeedMean {
  Vector loss, loss_se;
  std::vector<TwoTime> Phi, G;
};

SeedMean seed_mean(const std::vector<NetworkRun>& runs) {
  auto over_seeds = [&](auto pick) {
    std::vector<const RowMatrix*> v;
    for (const auto& r : runs) v.push_back(&pick(r));
    return seed_statistics(v);
  };
  std::vector<RowMatrix> losses;
  for (const auto& r : runs) losses.push_back(r.loss);
  std::vector<const RowMatrix*> loss_ptrs;
  for (const auto& x : losses) loss_ptrs.push_back(&x);
  const SeedStatistics loss = seed_statistics(loss_ptrs);
  SeedMean m;
  m.loss = loss.mean.col(0);
  m.loss_se = loss.std.col(0) / std::sqrt(double(runs.size()));
  for (std::size_t l = 0; l < runs[0].Phi.size(); ++l) {
    m.Phi.push_back(over_seeds([&](const NetworkRun& r) -> const RowMatrix& { return r.Phi[l]; }).mean);
    m.G.push_back(over_seeds([&](const NetworkRun& r) -> const RowMatrix& { return r.G[l]; }).mean);
  }
  return m;
}

Problem linear_problem(const Dataset& d, Index T, double eta, double gamma0, ErrorUpdate mode = ErrorUpdate::exact) {
  Problem p = make_problem(d, "linear", T, eta, gamma0, 64, 1, mode);
  p.depth = 3;
  return p;
}

}  // namespace

TEST_CASE("T18: deep linear network kernels approach the DMFT like N^-1/2 (fitted exponent 0.5 +- 0.1)") {
  // L = 3, P = 10, T = 40, eta = 0.1, gamma0 = 1, centred; 16 seeds (the acceptance asks for >= 6:
  // with 6 the exponent of G has a standard error of about 0.1, with 16 about 0.055).
  const Dataset d = make_synthetic(10, 20, 1, SyntheticTarget::halves);
  const Problem p = linear_problem(d, 40, 0.1, 1.0);
  const Reference ref = solve_reference("deep_linear", p, 1);
  const std::vector<double> widths = {250, 500, 1000, 2000, 4000};
  for (bool phi : {true, false}) {
    CAPTURE(phi);
    std::vector<double> err, se;
    for (double N : widths) {
      const auto runs = train(p, Index(N), 16);
      std::vector<double> e;
      for (const auto& r : runs) e.push_back(layer_error(r, ref, phi));
      const MeanSe m = mean_se(e);
      err.push_back(m.mean);
      se.push_back(m.se);
    }
    const PowerLawFit fit = fit_power_law(widths, err, se);
    REQUIRE(fit.ok);
    CAPTURE(fit.a);
    CAPTURE(fit.a_se);
    CHECK(std::abs(fit.a - 0.5) <= 0.1);
    CHECK(err.back() / err[2] == doctest::Approx(0.5).epsilon(0.3));  // err(4N)/err(N) ≈ 0.5
  }
}

TEST_CASE("T19: at eta = 0.5 the network's seed-mean loss approaches the exact DMFT and stays away from the ntk recursion") {
  const Dataset d = make_synthetic(10, 20, 1, SyntheticTarget::halves);
  const Problem exact = linear_problem(d, 20, 0.5, 1.0, ErrorUpdate::exact);
  const Problem euler = linear_problem(d, 20, 0.5, 1.0, ErrorUpdate::ntk);
  const Vector loss_exact = solve_reference("deep_linear", exact, 1).loss;
  const Vector loss_ntk = solve_reference("deep_linear", euler, 1).loss;
  // 64 seeds at N = 4000: the seed-mean standard error is then ≤ 1.4e-3 at every step (with 16,
  // as in the theory doc, it reaches 2.7e-3 at t = 2, the size of the tolerance itself).
  const auto runs = train(exact, 4000, 64, false);
  const SeedMean stats = seed_mean(runs);
  const Vector& mean = stats.loss;
  const double to_exact = (mean - loss_exact).cwiseAbs().maxCoeff();
  const double to_ntk = (mean - loss_ntk).cwiseAbs().maxCoeff();
  CAPTURE(to_exact);
  CAPTURE(to_ntk);
  const Vector& se = stats.loss_se;
  CAPTURE(se.maxCoeff());
  CHECK(se.maxCoeff() < 1.5e-3);
  CHECK(to_exact <= 3e-3);
  CHECK(to_ntk > 3e-2);   // ≈ 4e-2 in the theory doc, 4.75e-2 here
  CHECK(to_ntk < 6e-2);
  // And the approach: smaller widths are farther from the exact DMFT.
  const Vector mean250 = seed_mean(train(exact, 250, 16, false)).loss;
  CHECK((mean250 - loss_exact).cwiseAbs().maxCoeff() > to_exact);
}

TEST_CASE("T16: two-layer ReLU networks at N = 4096 follow the DMFT loss within 2 percent at every step") {
  // DS1, gamma0 = 1, eta = 0.5, T = 30. DMFT: mean of 2 replicas of S = 50000; networks: 8 seeds.
  const Dataset d = make_ds1();
  const Problem p = make_problem(d, "relu", 30, 0.5, 1.0, 50000, 1);
  const Reference ref = solve_reference("two_layer", p, 2);
  const auto runs = train(p, 4096, 8);
  const SeedMean mean = seed_mean(runs);
  const double max_rel = ((mean.loss - ref.loss).cwiseAbs().array() / ref.loss.array()).maxCoeff();
  CAPTURE(max_rel);
  CHECK(max_rel <= 0.02);
  const double phi_err = relative_frobenius(mean.Phi[0], ref.Phi[0]), g_err = relative_frobenius(mean.G[0], ref.G[0]);
  CAPTURE(phi_err);
  CAPTURE(g_err);
  CHECK(phi_err < 0.05);  // "a few percent": about 1% measured
  CHECK(g_err < 0.05);
  // The theory doc's own N = 4000 network means (4 seeds), with its quoted tolerances.
  const std::vector<Index> ts = {1, 5, 10, 20, 29};
  const std::vector<double> doc = {0.9464, 0.7525, 0.5094, 0.1212, 0.0161}, tol = {0.001, 0.003, 0.004, 0.002, 0.0005};
  for (std::size_t i = 0; i < ts.size(); ++i) {
    CAPTURE(ts[i]);
    CHECK(std::abs(mean.loss[ts[i]] - doc[i]) <= tol[i]);
  }
  const Index last = 29 * d.P();
  CHECK(mean.Phi[0](last, last) == doctest::Approx(0.466).epsilon(0.03));
  CHECK(mean.G[0](last, last) == doctest::Approx(2.236).epsilon(0.03));
}

TEST_CASE("depth-3 tanh networks at N = 4096 follow the DMFT loss within 2 percent, kernels within a few percent") {
  // DS1, tanh, L = 3, gamma0 = 1, eta = 0.25, T = 16. DMFT: 2 replicas of S = 8000 (noise floor
  // ≈ 2.5% each); networks: 8 seeds.
  const Dataset d = make_ds1();
  Problem p = make_problem(d, "tanh", 16, 0.25, 1.0, 8000, 1);
  p.depth = 3;
  const Reference ref = solve_reference("deep_mlp", p, 2);
  const auto runs = train(p, 4096, 8);
  const SeedMean mean = seed_mean(runs);
  const double max_rel = ((mean.loss - ref.loss).cwiseAbs().array() / ref.loss.array()).maxCoeff();
  CAPTURE(max_rel);
  CHECK(max_rel <= 0.02);
  for (std::size_t l = 0; l < 3; ++l) {
    CAPTURE(l + 1);
    const double phi_err = relative_frobenius(mean.Phi[l], ref.Phi[l]), g_err = relative_frobenius(mean.G[l], ref.G[l]);
    CAPTURE(phi_err);
    CAPTURE(g_err);
    CHECK(phi_err < 0.06);
    CHECK(g_err < 0.06);
  }
}

TEST_CASE("the decoupled-backward network approaches the DMFT with A = B = 0, the standard network the full DMFT") {
  // Deep linear, L = 3, gamma0 = 1.5: the two limits differ by 0.3 in the loss.
  const Dataset d = make_synthetic(10, 20, 1, SyntheticTarget::halves);
  Problem p = linear_problem(d, 30, 0.1, 1.5);
  const Vector full = solve_reference("deep_linear", p, 1).loss;
  p.responses = false;
  const Vector gia = solve_reference("deep_linear", p, 1).loss;
  REQUIRE((full - gia).cwiseAbs().maxCoeff() > 0.2);
  for (bool decoupled : {true, false}) {
    CAPTURE(decoupled);
    const auto runs = train(p, 2000, 8, false, decoupled);
    const SeedMean stats = seed_mean(runs);
    const Vector& mean = stats.loss;
    const Vector& own = decoupled ? gia : full;
    const Vector& other = decoupled ? full : gia;
    // Within 4 standard errors plus the O(1/N) bias allowance of 2e-3 (T19 measured ≈ 2e-3 at N = 4000).
    const Vector& se = stats.loss_se;
    for (Index t = 0; t < mean.size(); ++t) CHECK(std::abs(mean[t] - own[t]) <= 4 * se[t] + 4e-3);
    CHECK((mean - other).cwiseAbs().maxCoeff() > 0.2);
  }
}

TEST_CASE("coordinate check: mean |h| per layer stays flat across widths 64 to 4096, and drifts for a wrong scaling") {
  const Dataset d = make_ds1();
  Problem p = make_problem(d, "tanh", 5, 0.5, 1.0, 64, 1);
  p.depth = 3;
  for (Readout readout : {Readout::mean_field, Readout::ntk}) {
    CAPTURE(readout == Readout::ntk);
    // lo/hi over widths of the seed-mean mean|h^l(t)|, for every layer and step.
    RowMatrix lo = RowMatrix::Constant(p.T, 3, 1e300), hi = RowMatrix::Zero(p.T, 3);
    for (Index N : {64, 256, 1024, 4096}) {
      NetworkSpec s = spec_of(p, N);
      s.readout = readout;
      TrainOptions o;
      o.T = p.T;
      o.kernels = false;
      const auto runs = train_seeds(s, d, 1, 4, o);
      RowMatrix h = RowMatrix::Zero(p.T, 3);
      for (const auto& r : runs) h += r.mean_abs_h / double(runs.size());
      lo = lo.cwiseMin(h);
      hi = hi.cwiseMax(h);
    }
    for (int l = 0; l < 3; ++l) {
      CAPTURE(l + 1);
      const double ratio = (hi.col(l).array() / lo.col(l).array()).maxCoeff();  // worst step
      CAPTURE(ratio);
      if (readout == Readout::mean_field) CHECK(ratio <= 1.1);
      else CHECK(ratio > 3.0);  // the feature updates grow like sqrt(N)
    }
  }
}
