// The residual models against the reference numbers of theory residual.md §6.2 (V1–V6), the
// closed forms of §4–§5, and each other (Monte Carlo against the exact linear solver).
#include <doctest/doctest.h>

#include <cmath>
#include <utility>

#include "dmft/depth_limit.hpp"
#include "dmft/error_update.hpp"
#include "dmft/finite_width.hpp"
#include "dmft/residual_sweep.hpp"
#include "dmft/rng.hpp"
#include "dmft/residual_sampler.hpp"
#include "helpers.hpp"
#include "resnet_cases.hpp"

using namespace dmft;
using namespace dmft::test;

namespace {

Solution exact_linear(const Problem& p) {
  SolverOptions o = tight_options();
  o.tol = 1e-13;
  return solve(*make_model("resnet_linear"), p, o);
}

void check_row(const Matrix& K, std::initializer_list<double> row, double tol) {
  Index j = 0;
  for (double v : row) CHECK(std::abs(K(0, j++) - v) < tol);
}

}  // namespace

TEST_CASE("V1: static kernels H^L, G^1, NTK_0 at L = 4, 16 and the L = infinity ODE (residual.md 6.2, 6 decimals)") {
  const Dataset d = canonical_data();
  struct Row {
    const char* act;
    int L;  // 0: the ODE
    std::initializer_list<double> H, G, K;
  };
  const Row rows[] = {
      {"linear", 4, {1.953125, 0.781250, -0.390625}, {1.953125, 1.953125, 1.953125}, {5.078125, 2.031250, -1.015625}},
      {"linear", 16, {2.482756, 0.993102, -0.496551}, {2.482756, 2.482756, 2.482756}, {7.156180, 2.862472, -1.431236}},
      {"linear", 0, {2.718282, 1.087313, -0.543656}, {2.718282, 2.718282, 2.718282}, {8.154845, 3.261938, -1.630969}},
      {"relu", 4, {1.423828, 0.635205, -0.095303}, {0.711914, 0.407147, 0.282123}, {1.661133, 0.653013, 0.173198}},
      {"relu", 16, {1.586571, 0.730958, -0.044054}, {0.793285, 0.439273, 0.304617}, {1.947155, 0.761248, 0.222614}},
      {"relu", 0, {1.648721, 0.768197, -0.023160}, {0.824361, 0.451172, 0.312951}, {2.060902, 0.803992, 0.242746}},
      {"tanh", 4, {1.308375, 0.514633, -0.256832}, {0.574313, 0.414814, 0.401724}, {1.160666, 0.367177, -0.179406}},
      {"tanh", 16, {1.397253, 0.546305, -0.272472}, {0.608672, 0.422693, 0.408265}, {1.258525, 0.385015, -0.187675}},
      {"tanh", 0, {1.427900, 0.557073, -0.277783}, {0.620917, 0.425168, 0.410284}, {1.293683, 0.390990, -0.190431}},
  };
  for (const Row& r : rows) {
    CAPTURE(r.act);
    CAPTURE(r.L);
    if (r.L == 0) {
      // RK4 with 4000 steps (linear, ReLU) or 400 (tanh), as the docs' reference.
      const int steps = std::string(r.act) == "tanh" ? 400 : 4000;
      const StaticDepthLimit lim = residual_static_limit(Activation::from_name(r.act), d.Kx, 1.0, steps);
      check_row(lim.H.back(), r.H, 1e-6);
      check_row(lim.G.front(), r.G, 1e-6);
      check_row(lim.ntk, r.K, 1e-6);
      continue;
    }
    const Problem p = resnet_problem(d, r.act, r.L, 1, 0.1, 1.0);
    const auto st = residual_static_kernels(p);
    check_row(residual_static_preactivations(p).back(), r.H, 1e-6);
    check_row(st.front().G, r.G, 1e-6);
    OrderParameters s;
    for (const auto& l : st) s.layers.push_back(LayerKernels{l.Phi, l.G, {}, {}, {}, {}});
    check_row(make_model("resnet")->ntk(p, s, 0), r.K, 1e-6);
  }
}

TEST_CASE("linear closed forms of residual.md 4: H^l = (1+a^2)^(l-1) Kx, G^l = (1+a^2)^(L-l), and the NTK") {
  const Dataset d = canonical_data();
  for (int L : {1, 3, 8}) {
    Problem p = resnet_problem(d, "linear", L, 1, 0.1, 1.0);
    p.beta0 = 1.7;
    const double a2 = p.branch() * p.branch();
    const auto st = residual_static_kernels(p);
    const auto H = residual_static_preactivations(p);
    for (int l = 1; l <= L; ++l) {
      CHECK((H[std::size_t(l - 1)] - std::pow(1 + a2, l - 1) * d.Kx).cwiseAbs().maxCoeff() < 1e-12);
      CHECK((st[std::size_t(l - 1)].G.array() - std::pow(1 + a2, L - l)).abs().maxCoeff() < 1e-12);
    }
    OrderParameters s;
    for (const auto& l : st) s.layers.push_back(LayerKernels{l.Phi, l.G, {}, {}, {}, {}});
    const Matrix K = make_model("resnet_linear")->ntk(p, s, 0);
    const Matrix closed = L == 1 ? Matrix(2.0 * d.Kx)
                                 : Matrix(std::pow(1 + a2, L - 2) * (2 * (1 + a2) + a2 * (L - 1)) * d.Kx);
    CHECK((K - closed).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("V2: lazy dynamics of the tanh ResNet, L = 4, eta0 = 0.5 (residual.md 6.2)") {
  const Dataset d = canonical_data();
  const Problem p = resnet_problem(d, "tanh", 4, 6, 0.5, 1.0, ErrorUpdate::ntk);
  OrderParameters s;
  for (const auto& l : residual_static_kernels(p)) s.layers.push_back(LayerKernels{l.Phi, l.G, {}, {}, {}, {}});
  const Matrix K0 = make_model("resnet")->ntk(p, s, 0);
  const Vector loss = loss_curve(lazy_residuals(K0, d.y, p.eta, 6));
  const double ref[] = {1, 0.769851, 0.593701, 0.458495, 0.354476, 0.274302};
  for (Index t = 0; t < 6; ++t) CHECK(std::abs(loss[t] - ref[t]) < 1e-6);
}

TEST_CASE("V3: the exact linear DMFT departs from the lazy curve like gamma0^2 (residual.md 6.2)") {
  const Dataset d = canonical_data();
  const double gammas[] = {0.025, 0.05, 0.1, 0.2};
  const double ref[] = {-2.573e-5, -1.029e-4, -4.117e-4, -1.648e-3};
  std::vector<double> gap;
  for (int k = 0; k < 4; ++k) {
    const Problem p = resnet_problem(d, "linear", 4, 10, 0.05, gammas[k], ErrorUpdate::ntk);
    const Solution s = exact_linear(p);
    REQUIRE(s.summary.reason == Termination::converged);
    OrderParameters st;
    for (const auto& l : residual_static_kernels(p)) st.layers.push_back(LayerKernels{l.Phi, l.G, {}, {}, {}, {}});
    const Vector lazy = loss_curve(lazy_residuals(make_model("resnet_linear")->ntk(p, st, 0), d.y, p.eta, 10));
    gap.push_back(s.loss[9] - lazy[9]);
    CHECK(std::abs(gap.back() - ref[k]) < 5e-4 * std::abs(ref[k]) + 1e-9);  // the docs quote 4 digits
  }
  for (int k = 1; k < 4; ++k) CHECK(std::abs(gap[std::size_t(k)] / gap[std::size_t(k - 1)] - 4.0) < 2e-3);
}

TEST_CASE("V4: exact linear DMFT loss curves with and without A, B and with both error updates (residual.md 6.2)") {
  const Dataset d = canonical_data();
  struct Row {
    int L;
    ErrorUpdate mode;
    bool responses;
    double loss[9];
  };
  const Row rows[] = {
      {4, ErrorUpdate::exact, true, {0.911871, 0.830685, 0.753908, 0.679974, 0.608015, 0.537714, 0.469206, 0.403001, 0.339899}},
      {4, ErrorUpdate::ntk, true, {0.911871, 0.831276, 0.755459, 0.682694, 0.611984, 0.542888, 0.475428, 0.410015, 0.347363}},
      {4, ErrorUpdate::exact, false, {0.931827, 0.867877, 0.806819, 0.747719, 0.689938, 0.633084, 0.576967, 0.521586, 0.467108}},
      {16, ErrorUpdate::exact, true, {0.877047, 0.766461, 0.661818, 0.560114, 0.460705, 0.364868, 0.275437, 0.196138, 0.130499}},
      {16, ErrorUpdate::ntk, true, {0.877047, 0.768142, 0.666030, 0.567142, 0.470314, 0.376306, 0.287498, 0.207397, 0.139708}},
      {16, ErrorUpdate::exact, false, {0.913779, 0.833922, 0.757768, 0.683631, 0.610529, 0.538058, 0.466347, 0.396027, 0.328190}},
  };
  for (const Row& r : rows) {
    CAPTURE(r.L);
    CAPTURE(int(r.mode));
    CAPTURE(r.responses);
    const Problem p = resnet_problem(d, "linear", r.L, 10, 0.05, 1.5, r.mode, r.responses);
    const Solution s = exact_linear(p);
    REQUIRE(s.summary.reason == Termination::converged);
    for (Index t = 1; t < 10; ++t) CHECK(std::abs(s.loss[t] - r.loss[t - 1]) < 1e-6);
    if (r.mode == ErrorUpdate::exact && r.responses) {
      const TwoTime& Phi = s.state.layers.back().Phi;
      const TwoTime& G1 = s.state.layers.front().G;
      const double phi4[] = {2.203705, 2.264275, 2.449223}, phi16[] = {3.272254, 3.377108, 3.743966};
      for (Index mu = 0; mu < 3; ++mu)
        CHECK(std::abs(Phi(27 + mu, 27 + mu) - (r.L == 4 ? phi4 : phi16)[mu]) < 1e-6);
      CHECK((G1.block(27, 27, 3, 3).array() - (r.L == 4 ? 3.902444 : 7.995014)).abs().maxCoeff() < 1e-6);
      if (r.L == 4) {
        const double ntk9[] = {7.956294, 8.042339, 8.304986};
        for (Index mu = 0; mu < 3; ++mu) CHECK(std::abs(s.ntk[9](mu, mu) - ntk9[mu]) < 1e-6);
      }
    }
  }
}

TEST_CASE("V5: depth convergence and the response gap of the exact linear DMFT, L = 2 to 64 (residual.md 6.2)") {
  const Dataset d = canonical_data();
  struct Row {
    int L;
    double loss5, loss9, phi, g1, loss5_gia;
  };
  const Row rows[] = {{2, 0.721909, 0.527923, 1.578093, 2.156311, 0.758069},
                      {4, 0.608015, 0.339899, 2.203705, 3.902444, 0.689938},
                      {8, 0.518708, 0.204640, 2.802162, 6.083407, 0.640870},
                      {16, 0.460705, 0.130499, 3.272254, 7.995014, 0.610529},
                      {32, 0.427331, 0.094946, 3.578205, 9.283527, 0.593493},
                      {64, 0.409397, 0.078304, 3.753857, 10.030512, 0.584441}};
  for (const Row& r : rows) {
    CAPTURE(r.L);
    const Solution s = exact_linear(resnet_problem(d, "linear", r.L, 10, 0.05, 1.5));
    const Solution g = exact_linear(resnet_problem(d, "linear", r.L, 10, 0.05, 1.5, ErrorUpdate::exact, false));
    REQUIRE(s.summary.reason == Termination::converged);
    CHECK(std::abs(s.loss[5] - r.loss5) < 1e-6);
    CHECK(std::abs(s.loss[9] - r.loss9) < 1e-6);
    CHECK(std::abs(s.state.layers.back().Phi(27, 27) - r.phi) < 1e-6);
    CHECK(std::abs(s.state.layers.front().G(27, 27) - r.g1) < 1e-6);
    CHECK(std::abs(g.loss[5] - r.loss5_gia) < 1e-6);
  }
}

TEST_CASE("resnet_linear at depth 1 is the two-layer linear network: equal to deep_linear to round-off") {
  const Dataset d = make_ds1();
  for (ErrorUpdate mode : {ErrorUpdate::exact, ErrorUpdate::ntk}) {
    const Problem p = resnet_problem(d, "linear", 1, 8, 0.5, 1.5, mode);
    const Solution r = exact_linear(p);
    const Solution l = solve(*make_model("deep_linear"), p, tight_options());
    CHECK((r.state.Delta - l.state.Delta).cwiseAbs().maxCoeff() < 1e-9);
    CHECK((r.state.layers[0].Phi - l.state.layers[0].Phi).cwiseAbs().maxCoeff() < 1e-9);
    CHECK((r.state.layers[0].G - l.state.layers[0].G).cwiseAbs().maxCoeff() < 1e-9);
  }
}

TEST_CASE("exact tangents (R1) of the Monte Carlo sampler equal the exact linear responses at the same state") {
  // For linear phi the tangents do not depend on the sample, so R1's sample mean is exact: the
  // two routes (per-sample tangent sweeps; unit-probe transfer matrices) must agree to round-off.
  const Dataset d = canonical_data();
  Problem p = resnet_problem(d, "linear", 3, 4, 0.3, 1.5);
  const Solution s = exact_linear(p);  // a converged, dynamic state
  p.samples = 64;
  p.response_estimator = ResponseEstimator::exact_tangent;
  const SiteAverages mc = sample_resnet(p, s.state, s.state.Delta);
  const SiteAverages ex = exact_linear_resnet(p, s.state, s.state.Delta);
  for (int b = 0; b < 2; ++b) {
    const auto i = std::size_t(b);
    CHECK(ex.layers[i].A.values.cwiseAbs().maxCoeff() > 1e-3);  // nontrivial
    CHECK((mc.layers[i].A.values - ex.layers[i].A.values).cwiseAbs().maxCoeff() < 1e-12);
    CHECK((mc.layers[i].B.values - ex.layers[i].B.values).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("Stein (R3) and random-probe (R2) responses of the Monte Carlo sampler are unbiased: linear phi, projections on the exact A, B over 16 replicas") {
  // For linear φ the responses are the same for every sample, so both estimators must average to
  // the exact ones (Stein whatever its jitter: ⟨h εᵀ⟩ = J R exactly). The statistic per replica is
  // the projection ⟨XK, X_exact K⟩/‖X_exact K‖² with K the covariance of the source that X acts on
  // (G^{l+1} for A, Φ^l for B: what the dynamics uses; Stein's single entries along K's near-null
  // directions are noisy), which must average to 1 within 4 standard errors.
  const Dataset d = canonical_data();
  Problem p = resnet_problem(d, "linear", 3, 4, 0.3, 1.5);
  const Solution s = exact_linear(p);  // a converged, dynamic state
  const SiteAverages ex = exact_linear_resnet(p, s.state, s.state.Delta);
  p.samples = 4000;
  for (ResponseEstimator est : {ResponseEstimator::stein, ResponseEstimator::random_probe}) {
    CAPTURE(int(est));
    p.response_estimator = est;
    std::vector<std::vector<double>> proj(4);  // A¹, A², B¹, B²
    for (std::uint64_t seed = 1; seed <= 16; ++seed) {
      p.seed = seed;
      const SiteAverages mc = sample_resnet(p, s.state, s.state.Delta);
      for (std::size_t k = 0; k < 4; ++k) {
        const Matrix& K = k < 2 ? s.state.layers[k + 1].G : s.state.layers[k - 2].Phi;
        const Matrix x = (k < 2 ? mc.layers[k].A.values : mc.layers[k - 2].B.values) * K;
        const Matrix e = (k < 2 ? ex.layers[k].A.values : ex.layers[k - 2].B.values) * K;
        proj[k].push_back(x.cwiseProduct(e).sum() / e.squaredNorm());
      }
    }
    for (std::size_t k = 0; k < 4; ++k) {
      CAPTURE(k);
      const MeanSe m = mean_se(proj[k]);
      CAPTURE(m.mean);
      CAPTURE(m.se);
      CHECK(std::abs(m.mean - 1.0) < 4 * m.se);
      CHECK(m.se < 0.05);  // precise enough to see a missing or doubled term
    }
  }
}

TEST_CASE("Monte Carlo resnet with linear activation agrees with the exact solver within 4 standard errors, L = 4 and 16, random-probe and Stein responses") {
  // Six independent replicas (seeds); the standard error is that of their mean, so it includes
  // the propagation of kernel and response noise through the dynamics. Stein (R3) at L = 4: its
  // jittered sources (covariance + ε·scale, ε = 10/S = 1.25e-3) shift the result by O(ε).
  const Dataset d = canonical_data();
  for (auto [L, estimator] : {std::pair{4, ResponseEstimator::random_probe}, std::pair{16, ResponseEstimator::random_probe},
                              std::pair{4, ResponseEstimator::stein}}) {
    CAPTURE(L);
    CAPTURE(int(estimator));
    Problem p = resnet_problem(d, "linear", L, 10, 0.05, 1.5);
    p.response_estimator = estimator;
    const Solution exact = exact_linear(p);
    p.samples = L == 4 ? 8000 : 4000;
    SolverOptions o;
    o.tol = 1e-6;
    const auto runs = replicas(*make_model("resnet"), p, 11, 6, o);
    for (Index t = 1; t < 10; t += 2) {
      std::vector<double> loss, phi, g1;
      for (const auto& r : runs) {
        REQUIRE(r.summary.reason == Termination::converged);
        loss.push_back(r.loss[t]);
        phi.push_back(r.state.layers.back().Phi(t * 3, t * 3));
        g1.push_back(r.state.layers.front().G(t * 3, t * 3));
      }
      CAPTURE(t);
      const MeanSe ml = mean_se(loss), mp = mean_se(phi), mg = mean_se(g1);
      CHECK(std::abs(ml.mean - exact.loss[t]) < 4 * ml.se);
      CHECK(std::abs(mp.mean - exact.state.layers.back().Phi(t * 3, t * 3)) < 4 * mp.se);
      CHECK(std::abs(mg.mean - exact.state.layers.front().G(t * 3, t * 3)) < 4 * mg.se);
    }
  }
}

TEST_CASE("V6: Monte Carlo tanh ResNet, L = 4, with A, B (random-probe and Stein) and without, against the docs' DMFT runs") {
  // residual.md 6.2 V6 (S = 40000 there): four replicas of S = 10000 here; tolerance 4 standard
  // errors of the replicas' mean (which includes the propagation of kernel and response noise
  // through the fixed point), plus half the spread of the docs' runs and their rounding (5e-4).
  const Dataset d = canonical_data();
  const double with_ab[] = {0.905, 0.820, 0.741, 0.6655, 0.592, 0.522, 0.455, 0.392, 0.334};
  const double with_ab_spread[] = {0, 0, 0.001, 0.0005, 0.001, 0.001, 0.001, 0.001, 0.001};
  const double without[] = {0.9204, 0.847, 0.777, 0.709, 0.642, 0.5755, 0.5115, 0.4495, 0.3905};
  const double without_spread[] = {0.0002, 0, 0, 0, 0, 0.0005, 0.0005, 0.0005, 0.0005};
  for (auto [responses, estimator] : {std::pair{true, ResponseEstimator::random_probe}, std::pair{true, ResponseEstimator::stein},
                                       std::pair{false, ResponseEstimator::random_probe}}) {
    CAPTURE(responses);
    CAPTURE(int(estimator));
    Problem p = resnet_problem(d, "tanh", 4, 10, 0.2, 1.5, ErrorUpdate::exact, responses);
    p.response_estimator = estimator;
    p.samples = 10000;
    SolverOptions o;
    o.tol = 1e-6;
    const auto runs = replicas(*make_model("resnet"), p, 7, 4, o);
    for (Index t = 1; t < 10; ++t) {
      CAPTURE(t);
      std::vector<double> loss;
      for (const auto& r : runs) {
        REQUIRE(r.summary.reason == Termination::converged);
        loss.push_back(r.loss[t]);
      }
      const MeanSe m = mean_se(loss);
      const double ref = responses ? with_ab[t - 1] : without[t - 1];
      const double spread = responses ? with_ab_spread[t - 1] : without_spread[t - 1];
      CHECK(std::abs(m.mean - ref) < 4 * m.se + spread + 5e-4);
    }
  }
}

TEST_CASE("the tangent sweep is the derivative of the causal sweep: tanh, central differences") {
  // residual.md 2.9: perturb the sources r^l (and u^{l+1}) of every block along random
  // directions; (sweep(src + e w) - sweep(src - e w)) / 2e must equal the tangent sweep, phi''
  // terms included, at a dynamic state (Delta != 0, responses on).
  const Dataset d = make_ds1();
  Problem p = resnet_problem(d, "tanh", 3, 4, 0.5, 1.5);
  OrderParameters s = initial_state(*make_model("resnet"), p);
  p.samples = 256;
  const SiteAverages est = sample_resnet(p, s, s.Delta);  // responses A, B in the couplings
  for (std::size_t l = 0; l < s.layers.size(); ++l) {
    s.layers[l].A = est.layers[l].A;
    s.layers[l].B = est.layers[l].B;
  }
  const ResidualCouplings cp(p, s, s.Delta);
  const Index n = p.n(), m = 5;
  RandomStream rs(3, StreamPurpose::source, 99, 0);
  auto random = [&](Index rows) {
    Matrix x(rows, m);
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = rs.normal();
    return x;
  };
  ResidualSources src;
  src.u1 = random(p.P());
  src.xi = random(1);
  for (int b = 0; b < 2; ++b) {
    src.u.push_back(random(n));
    src.r.push_back(random(n));
  }
  const std::vector<Matrix> wr{random(n), random(n)}, wu{random(n), random(n)}, none(2);
  for (bool along_r : {true, false}) {
    CAPTURE(along_r);
    const double e = 1e-5;
    ResidualSources plus = src, minus = src;
    for (std::size_t b = 0; b < 2; ++b) {
      (along_r ? plus.r : plus.u)[b] += e * (along_r ? wr : wu)[b];
      (along_r ? minus.r : minus.u)[b] -= e * (along_r ? wr : wu)[b];
    }
    ResidualPaths at, hi, lo;
    residual_sweep(p.activation, cp, src, at);
    residual_sweep(p.activation, cp, plus, hi);
    residual_sweep(p.activation, cp, minus, lo);
    ResidualTangents tan;
    residual_tangent_sweep(p.activation, cp, &at, along_r ? wr : none, along_r ? none : wu, m, tan);
    for (std::size_t l = 0; l < 3; ++l) {
      const Matrix dh = (hi.h[l] - lo.h[l]) / (2 * e), dg = (hi.g[l] - lo.g[l]) / (2 * e);
      CHECK((dh - tan.dh[l]).cwiseAbs().maxCoeff() < 1e-6 * (1 + dh.cwiseAbs().maxCoeff()));
      CHECK((dg - tan.dg[l]).cwiseAbs().maxCoeff() < 1e-6 * (1 + dg.cwiseAbs().maxCoeff()));
      CHECK(tan.dg[l].cwiseAbs().maxCoeff() > 1e-3);  // nontrivial
    }
  }
}

TEST_CASE("depth limit: Richardson is exact for X(M) = X_inf + c/M, and grids are checked") {
  // Three synthetic "solutions" whose every quantity is X_inf + c/M: the extrapolation must
  // return X_inf to round-off and an error estimate of zero.
  const std::vector<int> grids{4, 8, 16};
  std::vector<Solution> sols(3);
  for (std::size_t k = 0; k < 3; ++k) {
    const double M = grids[k];
    Solution& s = sols[k];
    s.loss = Vector::Constant(5, 0.3) + Vector::LinSpaced(5, 1, 2) / M;
    s.state.Delta = RowMatrix::Constant(5, 2, -1.0 + 3.0 / M);
    s.ntk.assign(5, Matrix::Constant(2, 2, 2.0 - 1.0 / M));
    for (int l = 1; l <= grids[k]; ++l) {
      const double tau = double(l) / M;
      s.state.layers.push_back(LayerKernels{TwoTime::Constant(10, 10, tau + 0.5 / M), TwoTime::Constant(10, 10, 1 - tau + 2.0 / M), {}, {}, {}, {}});
    }
  }
  const DepthLimit d = extrapolate_depth(grids, {&sols[0], &sols[1], &sols[2]});
  CHECK(d.three_grids);
  CHECK((d.loss_inf.array() - 0.3).abs().maxCoeff() < 1e-13);
  CHECK(d.loss_error.maxCoeff() < 1e-13);
  CHECK((d.delta_inf.array() + 1.0).abs().maxCoeff() < 1e-13);
  CHECK(std::abs(d.ntk_inf[3](0, 1) - 2.0) < 1e-13);
  REQUIRE(d.Phi_inf.size() == 4);
  for (int l = 1; l <= 4; ++l) {
    CHECK(std::abs(d.tau[l - 1] - l / 4.0) < 1e-15);
    CHECK((d.Phi_inf[std::size_t(l - 1)].array() - l / 4.0).abs().maxCoeff() < 1e-13);
    CHECK((d.G_inf[std::size_t(l - 1)].array() - (1 - l / 4.0)).abs().maxCoeff() < 1e-13);
  }
  CHECK_THROWS_WITH(parse_depth_grid("8"), doctest::Contains("at least two depths"));
  CHECK_THROWS_WITH(parse_depth_grid("8,12"), doctest::Contains("multiple of the first"));
  CHECK_THROWS_WITH(parse_depth_grid("16,8"), doctest::Contains("strictly increasing"));
  CHECK_THROWS_WITH(parse_depth_grid("1,2"), doctest::Contains("not an integer depth in [2, 100000]"));
}

TEST_CASE("depth limit of the canonical linear case: error estimate below 1 percent, consistent with the L = inf ODE as gamma0 goes to 0") {
  // Exact linear DMFT at L = 8, 16, 32, nearly lazy (gamma0 = 1e-3: feature learning moves the
  // loss by O(gamma0^2) ~ 1e-6), against the lazy curve of the ODE's NTK (2 + beta0^2) e^{beta0^2} Kx.
  const Dataset d = canonical_data();
  const std::vector<int> grids{8, 16, 32};
  std::vector<Solution> sols;
  for (int M : grids) sols.push_back(exact_linear(resnet_problem(d, "linear", M, 10, 0.05, 1e-3)));
  const DepthLimit lim = extrapolate_depth(grids, {&sols[0], &sols[1], &sols[2]});
  const StaticDepthLimit ode = residual_static_limit(Activation::from_name("linear"), d.Kx, 1.0, 4000);
  CHECK((ode.ntk - 3.0 * std::exp(1.0) * d.Kx).cwiseAbs().maxCoeff() < 1e-9);
  const Vector lazy = loss_curve(lazy_residuals(ode.ntk, d.y, 0.05, 10));
  for (Index t = 1; t < 10; ++t) {
    CAPTURE(t);
    CHECK(lim.loss_error[t] < 0.01 * lim.loss_inf[t]);
    CHECK(std::abs(lim.loss_inf[t] - lazy[t]) < lim.loss_error[t]);
    // and the extrapolation is closer to the limit than the finest grid
    CHECK(std::abs(lim.loss_inf[t] - lazy[t]) < std::abs(sols.back().loss[t] - lazy[t]));
  }
}

TEST_CASE("finite tanh ResNets at L = 4 and 16 approach the Monte Carlo DMFT as N grows, and the GIA network approaches --responses gia") {
  // residual.md 1.6 and 6.2 (c, d): widths 256, 1024, 4096 with 4 seeds each, canonical data,
  // eta0 = 0.2, gamma0 = 1.5, T = 10, E2. The seed-mean errors of Phi^L, G^1 (relative
  // Frobenius) and of the loss must fall from N = 256 to 4096, and at N = 4096 the seed-mean
  // loss must be within 2 % of the DMFT at every step (the acceptance).
  const Dataset d = canonical_data();
  struct Case {
    int L;
    bool responses;
  };
  for (const Case c : {Case{4, true}, Case{16, true}, Case{4, false}}) {
    CAPTURE(c.L);
    CAPTURE(c.responses);
    Problem p = resnet_problem(d, "tanh", c.L, 10, 0.2, 1.5, ErrorUpdate::exact, c.responses);
    p.samples = 40000;
    SolverOptions o;
    o.tol = 1e-6;
    const Solution dmft = solve(*make_model("resnet"), p, o);
    REQUIRE(dmft.summary.reason == Termination::converged);
    ProblemParameters pp;
    pp.model = "resnet";
    pp.activation = "tanh";
    pp.depth = c.L;
    pp.eta = 0.2;
    pp.gamma0 = 1.5;
    pp.responses = c.responses ? "full" : "gia";
    std::vector<double> loss_err, phi_err, g_err;
    for (Index N : {256, 1024, 4096}) {
      CAPTURE(N);
      TrainOptions to;
      to.T = 10;
      const SeedMeans m = seed_means(train_seeds(network_spec(pp, N), d, 1, 4, to));
      double worst = 0;
      for (Index t = 0; t < 10; ++t) worst = std::max(worst, std::abs(m.loss[t] - dmft.loss[t]) / dmft.loss[t]);
      loss_err.push_back(worst);
      phi_err.push_back((m.PhiL - dmft.state.layers.back().Phi).norm() / dmft.state.layers.back().Phi.norm());
      g_err.push_back((m.G1 - dmft.state.layers.front().G).norm() / dmft.state.layers.front().G.norm());
    }
    CAPTURE(loss_err[2]);
    CHECK(loss_err[2] < 0.02);
    CHECK(loss_err[2] < loss_err[0]);
    CHECK(phi_err[2] < 0.5 * phi_err[0]);
    CHECK(g_err[2] < 0.5 * g_err[0]);
  }
}
