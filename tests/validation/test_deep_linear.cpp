// deep_linear against the theory docs' reference values (mlp.md Appendix B, T5, T15, T21, T23).
// Deterministic: tolerances are those of the references (1e-7 for values quoted to 8 digits).
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace dmft;
using namespace dmft::test;

namespace {
Solution solve_linear(const Dataset& d, int L, double eta, double gamma0, Index T, ErrorUpdate mode,
                      double sigma = 1.0, bool responses = true) {
  const auto model = make_model("deep_linear");
  Problem p = make_problem(d, "linear", T, eta, gamma0, 64, 1, mode);
  p.depth = L;
  p.sigma = sigma;
  p.responses = responses;
  SolverOptions o;
  o.tol = 1e-13;
  o.max_iter = 2000;
  const Solution s = solve(*model, p, o);
  REQUIRE(s.summary.reason == Termination::converged);
  return s;
}

struct LayerRef {
  double H29_00, H29_07, H0_29_00, G29, G0_29;
};

void check_layers(const Solution& s, const std::vector<LayerRef>& ref, Index P) {
  const Index last = 29 * P;
  for (std::size_t l = 0; l < ref.size(); ++l) {
    CAPTURE(l + 1);
    const LayerKernels& k = s.state.layers[l];
    // Appendix B quotes 8 decimals: agreement to 1e-7 (absolute) is the acceptance rule.
    CHECK(std::abs(k.Phi(last, last) - ref[l].H29_00) <= 1e-7);
    CHECK(std::abs(k.Phi(last, last + 7) - ref[l].H29_07) <= 1e-7);
    CHECK(std::abs(k.Phi(0, last) - ref[l].H0_29_00) <= 1e-7);
    CHECK(std::abs(k.G(last, last) - ref[l].G29) <= 1e-7);
    CHECK(std::abs(k.G(0, last) - ref[l].G0_29) <= 1e-7);
  }
}

void check_loss(const Solution& s, const std::vector<Index>& ts, const std::vector<double>& ref, double abs_tol) {
  for (std::size_t i = 0; i < ts.size(); ++i) {
    CAPTURE(ts[i]);
    CHECK(std::abs(s.loss[ts[i]] - ref[i]) <= abs_tol);
  }
}
}  // namespace

TEST_CASE("deep linear reproduces Appendix B (DS1, L = 1 and 3, both error updates) (T14)") {
  const Dataset d = make_ds1();
  const Index P = d.P();
  const std::vector<Index> ts{1, 5, 10, 20, 29};
  {
    const Solution s = solve_linear(d, 1, 0.1, 1.0, 30, ErrorUpdate::ntk);
    check_loss(s, ts, {0.9685463, 0.8516858, 0.71926696, 0.48289703, 0.30502549}, 1e-7);
    check_layers(s, {{0.50478761, -0.31008567, 0.47201576, 1.89353206, 1.19985446}}, P);
  }
  {
    const Solution s = solve_linear(d, 1, 0.1, 1.0, 30, ErrorUpdate::exact);
    check_loss(s, ts, {0.9685463, 0.85148297, 0.71855497, 0.48118041, 0.30309168}, 1e-7);
    check_layers(s, {{0.50472085, -0.31000705, 0.47200249, 1.89146279, 1.19942834}}, P);
  }
  const Solution l3_ntk = solve_linear(d, 3, 0.1, 1.0, 30, ErrorUpdate::ntk);
  const Solution l3_exact = solve_linear(d, 3, 0.1, 1.0, 30, ErrorUpdate::exact);
  {
    const Solution& s = l3_ntk;
    check_loss(s, ts, {0.9376191, 0.7084527, 0.40772126, 0.02572041, 0.00105634}, 1e-7);
    check_layers(s,
                 {{0.51674022, -0.32035768, 0.47886937, 9.71243553, 2.00194354},
                  {0.67371948, -0.48724113, 0.50232561, 4.06492228, 1.62404276},
                  {1.06320897, -0.90128184, 0.52506382, 1.78834337, 1.24754121}},
                 P);
  }
  {
    const Solution& s = l3_exact;
    check_loss(s, ts, {0.9376191, 0.70503686, 0.39879895, 0.02485404, 0.00108436}, 1e-7);
    check_layers(s,
                 {{0.51552747, -0.31905217, 0.47856430, 9.41616847, 1.97799557},
                  {0.66796651, -0.48106563, 0.50153298, 3.98015071, 1.61051897},
                  {1.04302385, -0.87965696, 0.52369256, 1.77030193, 1.24256795}},
                 P);
  }
  // Euler and exact give the same Δ(1) (T10).
  CHECK((l3_ntk.state.Delta.row(1) - l3_exact.state.Delta.row(1)).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("O(γ0²) kernel movement with ratios of theory T5, and the γ0 sweep of T15") {
  const Dataset d = make_ds1();
  const Index P = d.P(), last = 29 * P;
  const double ratio_ref[3] = {0.4131, 1.2471, 2.5101};
  for (double gamma0 : {1e-3, 0.1}) {
    const Solution s = solve_linear(d, 3, 0.1, gamma0, 30, ErrorUpdate::ntk);
    for (int l = 0; l < 3; ++l) {
      const Matrix H = s.state.layers[l].Phi.block(last, last, P, P);
      const double ratio = (H - d.Kx).norm() / (gamma0 * gamma0 * d.Kx.norm());
      CAPTURE(gamma0);
      CAPTURE(l + 1);
      CHECK(ratio == doctest::Approx(ratio_ref[l]).epsilon(gamma0 < 0.01 ? 2e-4 : 0.012));
    }
  }
  struct Row {
    double gamma0, l10, l20, l29;
  };
  const Row rows[] = {{1e-3, 0.529589, 0.285107, 0.165146}, {0.1, 0.528441, 0.280782, 0.158798},
                      {0.25, 0.522382, 0.258412, 0.127979}, {0.5, 0.500387, 0.184640, 0.052147},
                      {1, 0.407721, 0.025720, 0.001056},    {1.5, 0.247886, 8.79e-4, 1.06e-4},
                      {2, 0.073280, 1.44e-4, 2.1e-5}};
  double previous = 1e9;
  for (const Row& r : rows) {
    CAPTURE(r.gamma0);
    const Solution s = solve_linear(d, 3, 0.1, r.gamma0, 30, ErrorUpdate::ntk);
    // quoted to 3–6 significant digits: compare to the last quoted digit
    CHECK(s.loss[10] == doctest::Approx(r.l10).epsilon(2e-5));
    CHECK(s.loss[20] == doctest::Approx(r.l20).epsilon(r.l20 < 1e-3 ? 6e-3 : 2e-5));
    CHECK(s.loss[29] == doctest::Approx(r.l29).epsilon(r.l29 < 1e-3 ? 3e-2 : 2e-5));
    CHECK(s.loss[29] < previous);  // monotone in γ0 (T22)
    previous = s.loss[29];
  }
}

TEST_CASE("σ everywhere, responses included: the weight-scale identity (replaces T21)") {
  // A deep linear net is multilinear of degree L+1 in its weights, so scaling every initial
  // weight by σ equals a σ = 1 net with γ0' = γ0/σ^{L+1} and η' = η σ^{2L}: same f at every step
  // (hence the same loss), H^l = σ^{2l} H'^l and G^l = σ^{2(L+1−l)} G'^l, exactly, at any width.
  // Theory T21's numbers come from an unspecified random data set, so they cannot be compared.
  const Dataset d = make_ds1();
  const int L = 3;
  const double sigma = 1.3, eta = 0.05, gamma0 = 1.0;
  for (ErrorUpdate mode : {ErrorUpdate::exact, ErrorUpdate::ntk}) {
    CAPTURE(int(mode));
    const Solution scaled = solve_linear(d, L, eta, gamma0, 25, mode, sigma);
    const Solution unit = solve_linear(d, L, eta * std::pow(sigma, 2 * L), gamma0 / std::pow(sigma, L + 1), 25, mode);
    CHECK((scaled.loss - unit.loss).cwiseAbs().maxCoeff() < 1e-10);
    for (int l = 1; l <= L; ++l) {
      const auto& a = scaled.state.layers[l - 1];
      const auto& b = unit.state.layers[l - 1];
      CHECK((a.Phi - std::pow(sigma, 2 * l) * b.Phi).norm() < 1e-9 * a.Phi.norm());
      CHECK((a.G - std::pow(sigma, 2 * (L + 1 - l)) * b.G).norm() < 1e-9 * a.G.norm());
    }
    // and without the responses (gia) the identity does not hold (the comparison has teeth)
    CHECK((scaled.loss - solve_linear(d, L, eta, gamma0, 25, mode, sigma, false).loss).cwiseAbs().maxCoeff() > 1e-3);
  }
}

TEST_CASE("large ηγ0 converges by continuation and the ntk update is flagged (theory T23)") {
  const Dataset d = make_synthetic(10, 20, 1, SyntheticTarget::halves);
  const Solution exact = solve_linear(d, 3, 0.3, 1.5, 30, ErrorUpdate::exact);
  const Solution euler = solve_linear(d, 3, 0.3, 1.5, 30, ErrorUpdate::ntk);
  // T23's own data set is not specified in the theory docs; its "exact mode stays below 2
  // (≈ 1.87)" does not carry over to this one (P = 10, D = 20, halves), where the exact update
  // reaches η λ_max/P ≈ 2.4 late in training. What is checked: both modes converge (by
  // continuation, where direct iteration diverges), and the ntk update is flagged above 2.
  CHECK(exact.summary.reason == Termination::converged);
  CHECK(euler.summary.max_stability_ratio > 2.0);
  REQUIRE(euler.summary.warnings.size() == 1);
  CHECK(euler.summary.warnings[0].find("stability region") != std::string::npos);
  CHECK(exact.loss[15] < 1e-2);  // trained
  // Direct damped iteration on the whole window diverges here (theory mlp.md §4.5).
  const auto model = make_model("deep_linear");
  Problem p = make_problem(d, "linear", 30, 0.3, 1.5, 64, 1, ErrorUpdate::ntk);
  p.depth = 3;
  SolverOptions direct;
  direct.continuation_window = 0;
  direct.max_iter = 500;
  direct.tol = 1e-13;
  CHECK(solve(*model, p, direct).summary.reason == Termination::numerical_failure);
}

TEST_CASE("gia (A = B = 0) and full agree as γ0 → 0 and differ at γ0 = 1.5") {
  const Dataset d = make_ds1();
  const Solution full0 = solve_linear(d, 3, 0.1, 1e-3, 30, ErrorUpdate::ntk, 1.0, true);
  const Solution gia0 = solve_linear(d, 3, 0.1, 1e-3, 30, ErrorUpdate::ntk, 1.0, false);
  CHECK((full0.loss - gia0.loss).cwiseAbs().maxCoeff() < 1e-6);
  const Solution full = solve_linear(d, 3, 0.1, 1.5, 30, ErrorUpdate::ntk, 1.0, true);
  const Solution gia = solve_linear(d, 3, 0.1, 1.5, 30, ErrorUpdate::ntk, 1.0, false);
  const Index last = 29 * d.P();
  CHECK(std::abs(full.state.layers[2].Phi(last, last) - gia.state.layers[2].Phi(last, last)) >
        0.05 * full.state.layers[2].Phi(last, last));
  CHECK(full.state.layers[0].A.empty() == false);
  CHECK(gia.state.layers[0].A.empty());
}

TEST_CASE("responses keep their shapes through time continuation") {
  const Dataset d = make_ds1();
  const Solution s = solve_linear(d, 3, 0.1, 1.0, 40, ErrorUpdate::exact);  // windows 16, 40
  const auto& A = s.state.layers[0].A;
  const auto& B = s.state.layers[0].B;
  CHECK(A.shape == std::vector<unsigned long long>{40, 8, 40});
  CHECK(B.shape == std::vector<unsigned long long>{40, 40, 8});
  CHECK(A.values.rows() == 320);
  CHECK(A.values.cols() == 40);
  CHECK(B.values.rows() == 40);
  CHECK(B.values.cols() == 320);
}
