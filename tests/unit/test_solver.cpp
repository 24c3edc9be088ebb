#include <doctest/doctest.h>
#include <omp.h>

#include <atomic>
#include <cstring>

#include "helpers.hpp"

using namespace dmft;
using namespace dmft::test;

namespace {
bool same_bytes(const auto& a, const auto& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(double) * a.size()) == 0;
}
/// The same solve on one and on two threads.
std::pair<Solution, Solution> on_one_and_two_threads(const Model& model, const Problem& p) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  Solution one = solve(model, p, SolverOptions{});
  omp_set_num_threads(2);
  Solution two = solve(model, p, SolverOptions{});
  omp_set_num_threads(saved);
  return {std::move(one), std::move(two)};
}

}  // namespace

TEST_CASE("the same seed gives bit-for-bit the same solution for any thread count") {
  const Dataset d = make_ds1();
  const auto model = make_model("two_layer");
  for (ErrorUpdate mode : {ErrorUpdate::exact, ErrorUpdate::ntk}) {
    const Problem p = make_problem(d, "relu", 12, 0.5, 1.0, 300, 11, mode);
    const auto [one, two] = on_one_and_two_threads(*model, p);
    CHECK(one.summary.history.size() == two.summary.history.size());
    CHECK(same_bytes(one.state.Delta, two.state.Delta));
    CHECK(same_bytes(one.state.layers[0].Phi, two.state.layers[0].Phi));
    CHECK(same_bytes(one.state.layers[0].G, two.state.layers[0].G));
    CHECK(same_bytes(one.state.layers[0].G_se, two.state.layers[0].G_se));
  }
  // The residual models: depth trajectories in parallel tasks, responses by every estimator.
  for (const char* name : {"resnet", "resnet_linear"})
    for (ResponseEstimator est : {ResponseEstimator::random_probe, ResponseEstimator::exact_tangent, ResponseEstimator::stein}) {
      const bool mc = std::string(name) == "resnet";
      if (!mc && est != ResponseEstimator::random_probe) continue;
      CAPTURE(name);
      CAPTURE(int(est));
      Problem p = make_problem(d, !mc ? "linear" : est == ResponseEstimator::stein ? "relu" : "tanh", 3, 0.5, 1.0, 300, 11);
      p.depth = 3;
      p.response_estimator = est;
      const auto [one, two] = on_one_and_two_threads(*make_model(name), p);
      CHECK(one.summary.history.size() == two.summary.history.size());
      CHECK(same_bytes(one.state.Delta, two.state.Delta));
      for (std::size_t l = 0; l < 3; ++l) {
        CHECK(same_bytes(one.state.layers[l].Phi, two.state.layers[l].Phi));
        CHECK(same_bytes(one.state.layers[l].G, two.state.layers[l].G));
      }
      CHECK(same_bytes(one.state.layers[1].A.values, two.state.layers[1].A.values));
      CHECK(same_bytes(one.state.layers[1].B.values, two.state.layers[1].B.values));
    }
}

TEST_CASE("iterating and marching reach the same fixed point of the same samples (theory T13)") {
  const Dataset d = make_ds1();
  const auto model = make_model("two_layer");
  for (ErrorUpdate mode : {ErrorUpdate::exact, ErrorUpdate::ntk}) {
    CAPTURE(int(mode));
    const Problem p = make_problem(d, "tanh", 30, 0.5, 1.5, 512, 3, mode);
    const Solution it = solve(*model, p, tight_options(Strategy::iterate));
    const Solution ma = solve(*model, p, tight_options(Strategy::march));
    REQUIRE(it.summary.reason == Termination::converged);
    CHECK((it.state.Delta - ma.state.Delta).cwiseAbs().maxCoeff() < 1e-7);
    const auto& a = it.state.layers[0];
    const auto& b = ma.state.layers[0];
    CHECK((a.Phi - b.Phi).norm() < 1e-7 * b.Phi.norm());
    CHECK((a.G - b.G).norm() < 1e-7 * b.G.norm());
  }
}

TEST_CASE("time continuation does not change the converged answer") {
  const Dataset d = make_ds1();
  const auto model = make_model("two_layer");
  const Problem p = make_problem(d, "relu", 24, 0.5, 1.0, 256, 5);
  SolverOptions with = tight_options(), without = tight_options();
  with.continuation_window = 4;
  without.continuation_window = 0;
  const Solution a = solve(*model, p, with), b = solve(*model, p, without);
  REQUIRE(a.summary.reason == Termination::converged);
  REQUIRE(b.summary.reason == Termination::converged);
  CHECK((a.state.Delta - b.state.Delta).cwiseAbs().maxCoeff() < 1e-7);
}

TEST_CASE("the iteration cap and a stop request end the solve with their status") {
  const Dataset d = make_ds1();
  const auto model = make_model("two_layer");
  const Problem p = make_problem(d, "relu", 20, 0.5, 1.0, 128, 5);
  SolverOptions o;
  o.max_iter = 2;
  const Solution capped = solve(*model, p, o);
  CHECK(capped.summary.reason == Termination::max_iter);
  CHECK(capped.state.Delta.rows() == 20);  // full shape even when stopped in a short window
  CHECK(capped.loss.size() == 20);
  std::atomic<bool> stop{true};
  o.stop = &stop;
  CHECK(solve(*model, p, o).summary.reason == Termination::interrupted);
}

TEST_CASE("the ntk update warns when the Euler recursion leaves its stability region") {
  const Dataset d = make_ds1();
  const auto model = make_model("two_layer");
  // λ_max(K0) ≈ 0.87 on DS1 (ReLU), so η = 30 gives η λ_max / P ≈ 3.2 > 2.
  const Problem p = make_problem(d, "relu", 3, 30.0, 1e-3, 128, 5, ErrorUpdate::ntk);
  const Solution s = solve(*model, p, SolverOptions{});
  CHECK(s.summary.max_stability_ratio > 2.0);
  REQUIRE(s.summary.warnings.size() == 1);
  CHECK(s.summary.warnings[0].find("stability") != std::string::npos);
}

TEST_CASE("ReLU weight-scale identity: σ equals γ0' = γ0/σ², η' = ησ² at σ = 1 (same samples)") {
  // f is 2-homogeneous in the weights of a two-layer ReLU net; with common random numbers the
  // two Monte Carlo solves see the same normals, so they agree to round-off.
  const Dataset d = make_ds1();
  const auto model = make_model("two_layer");
  const double sigma = 1.3;
  for (ErrorUpdate mode : {ErrorUpdate::exact, ErrorUpdate::ntk}) {
    Problem scaled = make_problem(d, "relu", 20, 0.5, 1.0, 512, 4, mode);
    scaled.sigma = sigma;
    const Problem unit = make_problem(d, "relu", 20, 0.5 * sigma * sigma, 1.0 / (sigma * sigma), 512, 4, mode);
    const Solution a = solve(*model, scaled, tight_options()), b = solve(*model, unit, tight_options());
    CHECK((a.loss - b.loss).cwiseAbs().maxCoeff() < 1e-8);
    CHECK((a.state.layers[0].Phi - sigma * sigma * b.state.layers[0].Phi).norm() < 1e-8 * a.state.layers[0].Phi.norm());
    CHECK((a.state.layers[0].G - sigma * sigma * b.state.layers[0].G).norm() < 1e-8 * a.state.layers[0].G.norm());
  }
}

TEST_CASE("deep_mlp with one hidden layer is the two_layer model, bit for bit") {
  const Dataset d = make_ds1();
  for (ErrorUpdate mode : {ErrorUpdate::exact, ErrorUpdate::ntk}) {
    const Problem p = make_problem(d, "tanh", 12, 0.5, 1.0, 300, 9, mode);
    const Solution a = solve(*make_model("two_layer"), p, SolverOptions{});
    const Solution b = solve(*make_model("deep_mlp"), p, SolverOptions{});
    CHECK(same_bytes(a.state.Delta, b.state.Delta));
    CHECK(same_bytes(a.state.layers[0].Phi, b.state.layers[0].Phi));
    CHECK(same_bytes(a.state.layers[0].G, b.state.layers[0].G));
  }
}
