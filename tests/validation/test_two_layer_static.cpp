// (a) The t = 0 kernels of a ReLU network equal the arc-cosine closed forms
// (theory mlp.md §3.6, T3) within 4 Monte Carlo standard errors, for σ = 1 and σ = 1.3.
#include <doctest/doctest.h>

#include "dmft/static_kernels.hpp"
#include "helpers.hpp"

using namespace dmft;
using namespace dmft::test;

TEST_CASE("ReLU t = 0 kernels match the arc-cosine kernels within 4 standard errors") {
  const Dataset data = make_synthetic(10, 15, 2, SyntheticTarget::teacher);
  const auto model = make_model("two_layer");
  for (double sigma : {1.0, 1.3}) {
    CAPTURE(sigma);
    Problem p = make_problem(data, "relu", 3, 0.5, 1.0, 20000, 99);
    p.sigma = sigma;
    const OrderParameters init = initial_state(*model, p);
    const SiteAverages est = model->sample(p, init, init.Delta);
    const Index P = data.P();
    const double s2 = sigma * sigma;
    const Activation relu(ActivationKind::relu);
    const Matrix phi_exact = gaussian_phi_kernel(relu, s2 * data.Kx);
    const Matrix g_exact = s2 * gaussian_dphi_kernel(relu, s2 * data.Kx);
    const LayerKernels& k = est.layers[0];
    int checked = 0;
    for (Index a = 0; a < P; ++a)
      for (Index b = 0; b <= a; ++b) {
        CAPTURE(a);
        CAPTURE(b);
        CHECK(std::abs(k.Phi(a, b) - phi_exact(a, b)) <= 4 * k.Phi_se(a, b));
        CHECK(std::abs(k.G(a, b) - g_exact(a, b)) <= 4 * k.G_se(a, b));
        ++checked;
      }
    CHECK(checked == P * (P + 1) / 2);
    // and the static kernels the model starts from are these closed forms
    CHECK((init.layers[0].Phi.topLeftCorner(P, P) - phi_exact).cwiseAbs().maxCoeff() < 1e-15);
  }
}
