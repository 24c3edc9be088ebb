// (b) γ0 → 0: the loss curve is gradient descent with the closed-form NTK (theory mlp.md §6, T4):
// DS1, ReLU, η = 0.5, reference values of Appendix B; 8 independent Monte Carlo replicas, the
// replica mean within 4 standard errors of the closed form, in both error-update modes.
#include <doctest/doctest.h>

#include "dmft/error_update.hpp"
#include "dmft/static_kernels.hpp"
#include "helpers.hpp"

using namespace dmft;
using namespace dmft::test;

TEST_CASE("lazy limit: loss equals NTK gradient descent within Monte Carlo error") {
  const Dataset d = make_ds1();
  const auto model = make_model("two_layer");
  const Activation relu(ActivationKind::relu);
  const Matrix K0 = gaussian_dphi_kernel(relu, d.Kx).cwiseProduct(d.Kx) + gaussian_phi_kernel(relu, d.Kx);
  const Vector closed = loss_curve(lazy_residuals(K0, d.y, 0.5, 41));
  REQUIRE(closed[40] == doctest::Approx(0.11323288).epsilon(1e-7));
  for (ErrorUpdate mode : {ErrorUpdate::exact, ErrorUpdate::ntk}) {
    CAPTURE(int(mode));
    const Problem p = make_problem(d, "relu", 41, 0.5, 1e-6, 1000, 0, mode);
    const auto sols = replicas(*model, p, 1000, 8, tight_options());
    for (Index t : {1, 10, 20, 40}) {
      std::vector<double> loss;
      for (const auto& s : sols) loss.push_back(s.loss[t]);
      const MeanSe m = mean_se(loss);
      CAPTURE(t);
      CAPTURE(m.mean);
      CAPTURE(m.se);
      CHECK(std::abs(m.mean - closed[t]) <= 4 * m.se);
      CHECK(m.se < 0.01);  // the test has teeth: errors of a few 1e-2 would fail
    }
  }
}
