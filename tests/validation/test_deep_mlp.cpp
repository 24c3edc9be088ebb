// deep_mlp: the Monte Carlo DMFT with pathwise responses against the algebraic deep linear
// solution (theory T12), the tanh reference of Appendix B (T17), and gia vs full.
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace dmft;
using namespace dmft::test;

namespace {
void check_mean(const std::vector<double>& x, double reference, double extra_se, const std::string& what) {
  const MeanSe m = mean_se(x);
  const double tol = 4 * std::sqrt(m.se * m.se + extra_se * extra_se);
  CAPTURE(what);
  CAPTURE(m.mean);
  CAPTURE(m.se);
  CAPTURE(reference);
  CHECK(std::abs(m.mean - reference) <= tol);
}
}  // namespace

TEST_CASE("linear deep_mlp agrees with deep_linear: kernels, responses, loss (T12)") {
  const Dataset d = make_ds1();
  const auto mc = make_model("deep_mlp"), exact = make_model("deep_linear");
  const Index T = 8, P = d.P(), last = (T - 1) * P;
  for (int L : {2, 3})
    for (double gamma0 : {0.5, 1.5}) {
      CAPTURE(L);
      CAPTURE(gamma0);
      Problem p = make_problem(d, "linear", T, 0.2, gamma0, 1000, 0);
      p.depth = L;
      SolverOptions o = tight_options();
      o.tol = 1e-12;
      const Solution ref = solve(*exact, p, o);
      const auto reps = replicas(*mc, p, 5000, 6, tight_options());
      for (Index t : {Index(3), T - 1}) {
        std::vector<double> loss;
        for (const auto& s : reps) loss.push_back(s.loss[t]);
        check_mean(loss, ref.loss[t], 0, "loss");
      }
      for (int l = 0; l < L; ++l) {
        CAPTURE(l + 1);
        std::vector<double> phi, g, a, b;
        for (const auto& s : reps) {
          const LayerKernels& k = s.state.layers[l];
          phi.push_back(k.Phi(last, last + 3));
          g.push_back(k.G(last, last));
          // A: Σ_ν A_full(t,μ; s,ν) ↔ A_lin(t,μ; s); B: B_full(t,μ; s,ν) for μ = 0 ↔ B_lin(t; s,ν)
          if (l < L - 1) {
            a.push_back(k.A.values.block(last, (T - 3) * P, 1, P).sum());
            b.push_back(k.B.values(last, (T - 3) * P + 2));  // s < t: for φ = id the equal-time blocks vanish
          }
        }
        const LayerKernels& r = ref.state.layers[l];
        check_mean(phi, r.Phi(last, last + 3), 0, "Phi(T-1,0;T-1,3)");
        check_mean(g, r.G(last, last), 0, "G(T-1,T-1)");
        if (l < L - 1) {
          check_mean(a, r.A.values(last, T - 3), 0, "A(T-1,0;T-3)");
          CHECK(std::abs(r.B.values(T - 1, (T - 3) * P + 2)) > 1e-3);  // a non-trivial comparison
          check_mean(b, r.B.values(T - 1, (T - 3) * P + 2), 0, "B(T-1;T-3,2)");
        }
      }
    }
}

namespace {
/// One column of theory Appendix B's T17 table, collected over seeds, checked against its
/// reference means and standard errors.
struct T17Column {
  std::vector<double> loss[4], phi1, phi2, phi2_07, g1, g2;
  static constexpr Index ts[4] = {1, 5, 10, 15};

  void add(const Solution& s, Index last) {
    for (int i = 0; i < 4; ++i) loss[i].push_back(s.loss[ts[i]]);
    phi1.push_back(s.state.layers[0].Phi(last, last));
    phi2.push_back(s.state.layers[1].Phi(last, last));
    phi2_07.push_back(s.state.layers[1].Phi(last, last + 7));
    g1.push_back(s.state.layers[0].G(last, last));
    g2.push_back(s.state.layers[1].G(last, last));
  }
  /// Reference means and standard errors: loss at ts, Φ¹, Φ², Φ²[0,7], G¹, G² at (15, 15).
  void check(const double (&ref)[9], const double (&sem)[9], const std::string& mode) const {
    for (int i = 0; i < 4; ++i) check_mean(loss[i], ref[i], sem[i], "loss (" + mode + ")");
    check_mean(phi1, ref[4], sem[4], "Phi1(15,15)[0,0] (" + mode + ")");
    check_mean(phi2, ref[5], sem[5], "Phi2(15,15)[0,0] (" + mode + ")");
    check_mean(phi2_07, ref[6], sem[6], "Phi2(15,15)[0,7] (" + mode + ")");
    check_mean(g1, ref[7], sem[7], "G1(15,15)[0,0] (" + mode + ")");
    check_mean(g2, ref[8], sem[8], "G2(15,15)[0,0] (" + mode + ")");
  }
};
}  // namespace

TEST_CASE("tanh, L = 2, DS1 (T17): loss, kernels and the paired Euler − exact difference") {
  const Dataset d = make_ds1();
  const auto model = make_model("deep_mlp");
  const Index last = 15 * d.P();
  std::vector<double> paired;
  T17Column exact, euler;  // "euler" is the ntk error update
  for (std::uint64_t seed = 100; seed < 104; ++seed) {
    Problem pe = make_problem(d, "tanh", 16, 0.25, 1.0, 4000, seed, ErrorUpdate::exact);
    pe.depth = 2;
    Problem pn = pe;
    pn.error_update = ErrorUpdate::ntk;
    const Solution se = solve(*model, pe, SolverOptions{}), sn = solve(*model, pn, SolverOptions{});
    REQUIRE(se.summary.reason == Termination::converged);
    paired.push_back(sn.loss[15] - se.loss[15]);
    exact.add(se, last);
    euler.add(sn, last);
  }
  // The references are means over 6 seeds with the quoted standard errors.
  euler.check({0.9554, 0.7866, 0.5576, 0.3216, 0.2741, 0.2239, -0.1567, 1.294, 1.067},
              {0.0004, 0.0020, 0.0038, 0.0043, 0.0016, 0.0015, 0.0019, 0.015, 0.006}, "ntk");
  exact.check({0.9553, 0.7839, 0.5505, 0.3138, 0.2740, 0.2234, -0.1561, 1.288, 1.065},
              {0.0005, 0.0025, 0.0045, 0.0048, 0.0016, 0.0014, 0.0018, 0.015, 0.006}, "exact");
  check_mean(paired, 0.0079, 0.0007, "Euler - exact loss(15)");
  CHECK(mean_se(paired).mean > 0);
}

TEST_CASE("--responses gia and full agree at γ0 → 0 and differ at γ0 = 1.5") {
  // The responses enter through O(γ0) couplings, and their Monte Carlo estimate is O(1/√S) at
  // γ0 = 0 (e.g. ⟨φ''(h) z⟩ with z ⟂ h), so the gia − full difference vanishes like γ0.
  const Dataset d = make_ds1();
  const auto model = make_model("deep_mlp");
  double diff_small = 0;
  for (double gamma0 : {1e-3, 2e-3, 1.5}) {
    Problem full = make_problem(d, "tanh", 10, 0.2, gamma0, 1000, 7);
    full.depth = 3;
    Problem gia = full;
    gia.responses = false;
    const Solution a = solve(*model, full, tight_options()), b = solve(*model, gia, tight_options());
    const double diff = (a.state.layers[2].Phi - b.state.layers[2].Phi).norm() / a.state.layers[2].Phi.norm();
    CAPTURE(gamma0);
    CAPTURE(diff);
    if (gamma0 == 1e-3) {
      diff_small = diff;
      CHECK(diff < 1e-3);
    } else if (gamma0 == 2e-3) {
      CHECK(diff / diff_small == doctest::Approx(2.0).epsilon(0.1));  // linear in γ0
    } else {
      CHECK(diff > 0.05);
    }
    CHECK(b.state.layers[0].A.empty());
  }
}
