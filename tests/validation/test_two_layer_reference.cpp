// (d) Two-layer ReLU on DS1 (theory mlp.md T16: γ0 = 1, η = 0.5, T = 30, S = 20000), both
// error-update modes. The reference is the mean of 4 runs with the stated per-run spread s, so
// its own standard error is s/2; ours comes from 4 independent replicas. Pass if
// |ours − reference| ≤ 4·√(se_ours² + (s/2)²).
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace dmft;
using namespace dmft::test;

namespace {
void check_reference(const std::vector<double>& x, double reference, double spread, const char* what) {
  const MeanSe m = mean_se(x);
  const double tol = 4 * std::sqrt(m.se * m.se + spread * spread / 4);
  CAPTURE(what);
  CAPTURE(m.mean);
  CAPTURE(m.se);
  CAPTURE(reference);
  CAPTURE(tol);
  CHECK(std::abs(m.mean - reference) <= tol);
}
}  // namespace

TEST_CASE("two-layer ReLU reference T16 in both error-update modes") {
  const Dataset d = make_ds1();
  const auto model = make_model("two_layer");
  const Index P = d.P(), last = 29 * P;
  const Index ts[5] = {1, 5, 10, 20, 29};
  const double loss_ref[5] = {0.9463, 0.7526, 0.5097, 0.1213, 0.0162};
  const double loss_spread[5] = {0.001, 0.003, 0.004, 0.002, 0.0005};
  for (ErrorUpdate mode : {ErrorUpdate::exact, ErrorUpdate::ntk}) {
    CAPTURE(int(mode));
    const Problem p = make_problem(d, "relu", 30, 0.5, 1.0, 20000, 0, mode);
    SolverOptions o;  // the default stopping rule: iterate to 1/10 of the noise floor
    const auto sols = replicas(*model, p, 3000, 4, o);
    for (const auto& s : sols) REQUIRE(s.summary.reason == Termination::converged);
    for (int i = 0; i < 5; ++i) {
      std::vector<double> loss;
      for (const auto& s : sols) loss.push_back(s.loss[ts[i]]);
      check_reference(loss, loss_ref[i], loss_spread[i], "loss");
    }
    std::vector<double> phi00, phi07, g00;
    for (const auto& s : sols) {
      phi00.push_back(s.state.layers[0].Phi(last, last));
      phi07.push_back(s.state.layers[0].Phi(last, last + 7));
      g00.push_back(s.state.layers[0].G(last, last));
    }
    check_reference(phi00, 0.467, 0.01, "Phi(29,29)[0,0]");
    check_reference(phi07, 0.0077, 0.0005, "Phi(29,29)[0,7]");
    check_reference(g00, 2.22, 0.03, "G(29,29)[0,0]");
  }
}
