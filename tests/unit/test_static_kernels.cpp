#include <doctest/doctest.h>

#include "dmft/data.hpp"
#include "dmft/error_update.hpp"
#include "dmft/static_kernels.hpp"

using namespace dmft;

TEST_CASE("ReLU arc-cosine kernels on DS1 match theory Appendix B (L = 1)") {
  const Dataset d = make_ds1();
  const Activation relu(ActivationKind::relu);
  const Matrix phi = gaussian_phi_kernel(relu, d.Kx);
  const Matrix g = gaussian_dphi_kernel(relu, d.Kx);
  CHECK(phi(0, 0) == doctest::Approx(0.23133146).epsilon(1e-7));
  CHECK(phi(0, 7) == doctest::Approx(0.02122858).epsilon(1e-6));
  CHECK(g(0, 0) == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(g(0, 7) == doctest::Approx(0.15572320).epsilon(1e-7));
  const Matrix K0 = g.cwiseProduct(d.Kx) + phi;
  CHECK(K0(0, 0) == doctest::Approx(0.46266293).epsilon(1e-7));
  CHECK(K0(0, 7) == doctest::Approx(-0.01969943).epsilon(1e-6));
  CHECK(K0(3, 4) == doctest::Approx(-0.03332107).epsilon(1e-6));

  // Lazy loss at t = 0, 1, 10, 20, 40 (η = 0.5).
  const RowMatrix delta = lazy_residuals(K0, d.y, 0.5, 41);
  const Vector loss = loss_curve(delta);
  CHECK(loss[0] == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(loss[1] == doctest::Approx(0.94586462).epsilon(1e-7));
  CHECK(loss[10] == doctest::Approx(0.57497947).epsilon(1e-7));
  CHECK(loss[20] == doctest::Approx(0.33273345).epsilon(1e-7));
  CHECK(loss[40] == doctest::Approx(0.11323288).epsilon(1e-7));
}

TEST_CASE("the NTK recursion equals the eigen formula (theory T4)") {
  const Dataset d = make_ds1();
  const Activation relu(ActivationKind::relu);
  const Matrix K0 = gaussian_dphi_kernel(relu, d.Kx).cwiseProduct(d.Kx) + gaussian_phi_kernel(relu, d.Kx);
  const RowMatrix closed = lazy_residuals(K0, d.y, 0.5, 41);
  const RowMatrix rec = ntk_residuals(d.y, 41, 0.5, [&](Index) { return K0; });
  CHECK((closed - rec).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("closed forms agree with Gauss–Hermite quadrature") {
  Matrix S(3, 3);
  S << 1.2, 0.5, -0.3, 0.5, 0.8, 0.1, -0.3, 0.1, 0.6;
  const Activation erf(ActivationKind::erf), relu(ActivationKind::relu), lin(ActivationKind::linear);
  CHECK((gaussian_phi_kernel(erf, S) - gauss_hermite_kernel(erf, Derivative::none, S)).cwiseAbs().maxCoeff() < 1e-10);
  CHECK((gaussian_dphi_kernel(erf, S) - gauss_hermite_kernel(erf, Derivative::first, S)).cwiseAbs().maxCoeff() < 1e-8);
  CHECK((gaussian_phi_kernel(lin, S) - gauss_hermite_kernel(lin, Derivative::none, S)).cwiseAbs().maxCoeff() < 1e-12);
  // ReLU's kink slows quadrature down: 256 nodes reach ~1e-4.
  CHECK((gaussian_phi_kernel(relu, S) - gauss_hermite_kernel(relu, Derivative::none, S, 256)).cwiseAbs().maxCoeff() < 1e-3);
  CHECK((gaussian_dphi_kernel(relu, S) - gauss_hermite_kernel(relu, Derivative::first, S, 256)).cwiseAbs().maxCoeff() < 1e-2);
}

TEST_CASE("activations: derivatives match finite differences") {
  for (const auto& name : Activation::names()) {
    const Activation a = Activation::from_name(name, 1.7);
    for (double h : {-1.3, -0.4, 0.2, 0.9, 2.5}) {
      const double e = 1e-6;
      CHECK(a.dphi(h) == doctest::Approx((a.phi(h + e) - a.phi(h - e)) / (2 * e)).epsilon(1e-6));
      if (!a.has_kink()) CHECK(a.ddphi(h) == doctest::Approx((a.dphi(h + e) - a.dphi(h - e)) / (2 * e)).epsilon(1e-5));
    }
  }
}
