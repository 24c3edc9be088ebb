// The M0 attention model in limit A (theory attention.md §3.3, §3.4) against its t = 0 facts, its
// lazy limit (§3.6) and finite M0 networks (§4.3 settings).
//
// Data: the docs do not give the §4.3 data set, so the tokens and targets here are generated:
// make_gaussian_sequences(P = 6, S = 4, D = 4, seed 1), x_{μa} ~ N(0, I_4), y_μ ~ N(0, 1)
// (mean(y²) = 0.388; the docs' set had 0.894). Unstated in §4.3 and chosen here: α_A = 1 (limit A
// needs it), mean pooling, no mask.
//
// Tolerances: the acceptance bound 0.01 is the issue's; every other tolerance is a multiple of a
// standard error over network seeds (or, for the lazy limit, follows from the O(γ0²) expansion).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "dmft/attention_m0.hpp"
#include "dmft/error_update.hpp"
#include "attention_width_convergence.hpp"
#include "helpers.hpp"

using namespace dmft;
using namespace dmft::test;

namespace {

constexpr std::uint64_t kDataSeed = 1;

SequenceData section_4_3_data() { return make_gaussian_sequences(6, 4, 4, kDataSeed); }

AttentionM0Options section_4_3_options(double eta_gamma0) {
  AttentionM0Options o;
  o.eta = eta_gamma0;
  o.gamma0 = eta_gamma0;
  o.T = 60;
  return o;
}

/// Finite networks (H = 1) at N = 256, 1024, 4096, 16 seeds, against the recursion
/// (attention_width_convergence.hpp; the fluctuations of the O(N^{-1/2}) empirical moments, see
/// attention_m0_moment_recursion, give the slope −1/2): falls significant at 3 standard errors.
void check_width_convergence(double eta_gamma0) {
  const SequenceData data = section_4_3_data();
  const AttentionM0Options opt = section_4_3_options(eta_gamma0);
  const AttentionM0Limit limit = attention_m0_limit_a(data, opt);
  MESSAGE("eta = gamma0 = " << eta_gamma0 << ": limit-A loss " << limit.loss[0] << " -> " << limit.loss[opt.T - 1]);
  const auto train = [&](Index N, std::uint64_t seed) { return train_attention_m0(data, opt, N, 1, seed); };
  dmft::test::check_width_convergence(width_errors(train, limit, {256, 1024, 4096}, 16, opt.T - 1), 3.0, false);
}

}  // namespace

TEST_CASE("attention M0 limit A at t = 0 and 1: zero output, uniform (masked) attention, logits moving from step 2") {
  // §3.3: A(0) = 0, so σ is uniform over the allowed keys (1/(a+1) for 0-based query a under the
  // causal mask); E(0) = 0 (C2[V,w] = 0) gives B(0) = 0, so A(1) = 0 too, and A(2) ≠ 0.
  const SequenceData data = section_4_3_data();
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    AttentionM0Options opt = section_4_3_options(1.0);
    opt.T = 3;
    opt.causal_mask = causal;
    const AttentionM0Limit limit = attention_m0_limit_a(data, opt);
    CHECK((limit.Delta.row(0).transpose() - data.y).cwiseAbs().maxCoeff() == 0.0);
    for (Index mu = 0; mu < data.P; ++mu) {
      CHECK(limit.A(0, mu).cwiseAbs().maxCoeff() == 0.0);
      CHECK(limit.A(1, mu).cwiseAbs().maxCoeff() == 0.0);
      CHECK(limit.A(2, mu).cwiseAbs().maxCoeff() > 1e-3);
      for (Index a = 0; a < data.S; ++a)
        for (Index b = 0; b < data.S; ++b) {
          const double expected = causal ? (b <= a ? 1.0 / double(a + 1) : 0.0) : 1.0 / double(data.S);
          CHECK(limit.sigma(0, mu)(a, b) == doctest::Approx(expected).epsilon(1e-15));
        }
    }
  }
}

TEST_CASE("attention M0 limit A: as gamma0 -> 0 Delta approaches (I - eta K(0)/P)^t y with error O(gamma0^2)") {
  // K(0)_μν = 2 s_μᵀ X_μ X_νᵀ s_ν / D with s = σ(0)ᵀπ (attention_m0_limit_a_ntk0; readout and value
  // terms, keys and queries contribute nothing at t = 0). The error is c2 γ0² + c4 γ0⁴ + …, so
  // halving γ0 divides it by 4 (1 + O(γ0²)): the deviation of the ratio from 4 shrinks about 4×
  // per halving. Causal mask with mean pooling, so that s is not uniform.
  const SequenceData data = section_4_3_data();
  AttentionM0Options opt = section_4_3_options(1.0);
  opt.causal_mask = true;
  const Matrix K0 = attention_m0_limit_a_ntk0(data, opt);
  CHECK(stability_ratio(K0, opt.eta) < 2.0);
  std::vector<double> errors;
  for (double gamma0 : {0.1, 0.05, 0.025}) {
    opt.gamma0 = gamma0;
    const RowMatrix lazy = lazy_residuals(K0, data.y, opt.eta, opt.T);
    errors.push_back((attention_m0_limit_a(data, opt).Delta - lazy).cwiseAbs().maxCoeff());
  }
  const double r1 = errors[0] / errors[1], r2 = errors[1] / errors[2];
  MESSAGE("max|Delta - lazy| = " << errors[0] << ", " << errors[1] << ", " << errors[2]
                                  << " at gamma0 = 0.1, 0.05, 0.025; ratios " << r1 << ", " << r2);
  // The observed order log2(r2) is nearer 2 than 1 or 3 ...
  CHECK(std::abs(std::log2(r2) - 2) < 0.5);
  // ... and approaches 2: the deviation of the ratio from 4 shrinks ~4× per halving (asked: ≥ 2×).
  CHECK(std::abs(r2 - 4) < 0.5 * std::abs(r1 - 4));
}

TEST_CASE("attention M0: finite networks approach the limit-A recursion as N grows at eta = gamma0 = 1 (4.3)") {
  check_width_convergence(1.0);
}

TEST_CASE("attention M0: finite networks approach the limit-A recursion as N grows at eta = gamma0 = 0.5 (4.3)") {
  check_width_convergence(0.5);
}
