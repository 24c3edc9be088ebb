// M0 attention with many heads (theory attention.md §2, §3.4, §3.6, §4.1, §4.5, §4.6): the t = 0 head
// statistics against their closed forms and limits, head collapse in finite networks, and limit B
// (H → ∞ at fixed N) against finite networks and, at large N, against limit A.
//
// Data: the docs give none for §4.1 and §4.6 and only P, S, D for §4.5, so every test here uses
// make_gaussian_sequences(P = 5, S = 4, D = 3, seed 1): tokens x_{μa} ~ N(0, I_3), targets
// y_μ ~ N(0, 1) (mean(y²) = 0.465). Chosen here: mean pooling, no mask; for §4.6 the §4.5 values
// η = 0.2, γ0 = 0.5 and 100 GD steps (T = 101 recorded steps). The docs' numbers therefore are
// only order-of-magnitude targets; the tests check the laws (1/N, H^{-1/2}, flat) they illustrate.
//
// Tolerances: multiples of standard errors — batch means over heads (40 contiguous head batches)
// for the t = 0 statistics and for limit B (attention_m0_limit_b's replica standard error), the
// spread over network seeds for finite networks. Seeds of different estimates are kept apart: limit
// B and its head sampler draw head κ of seed s exactly as the network of seed s does.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "dmft/attention_m0.hpp"
#include "dmft/attention_m0_limit_b.hpp"
#include "helpers.hpp"

using namespace dmft;
using namespace dmft::test;

namespace {

SequenceData heads_data() { return make_gaussian_sequences(5, 4, 3, 1); }

/// The §4.5 M0 training settings (η = 0.2, γ0 = 0.5, T = 100, mean pooling, no mask).
AttentionM0Options section_4_5_options(double alpha_a) {
  AttentionM0Options o;
  o.eta = 0.2;
  o.gamma0 = 0.5;
  o.T = 100;
  o.alpha_a = alpha_a;
  return o;
}

double combined_se(const MeanSe& a, const MeanSe& b) { return std::hypot(a.se, b.se); }

/// The Frobenius distance ‖E[F] − E[G]‖ between the head averages of two Monte Carlo estimates
/// with B paired, independent batch means each (G may be exact: `exact_g`), relative to ‖E[G]‖.
/// With δ_b = F_b − G_b, the U-statistic (‖Σ_b δ_b‖² − Σ_b ‖δ_b‖²)/(B(B − 1)) is an unbiased
/// estimate of ‖E δ‖² (the plain ‖mean δ‖² is biased up by the Monte Carlo noise); its standard
/// error is the leave-one-batch-out jackknife, carried to the distance by the delta method.
struct Distance {
  double rel = 0, se = 0;
};
Distance relative_distance(const HeadAverage& F, const HeadAverage* G, const RowMatrix* exact_g) {
  const std::size_t B = F.batch_means.size();
  std::vector<RowMatrix> d;
  for (std::size_t b = 0; b < B; ++b) {
    REQUIRE(F.batch_sizes[b] == F.batch_sizes[0]);  // equal batches: the δ_b are i.i.d.
    d.push_back(F.batch_means[b] - (G ? G->batch_means[b] : *exact_g));
  }
  RowMatrix sum = RowMatrix::Zero(d[0].rows(), d[0].cols());
  double diagonal = 0;
  for (const RowMatrix& x : d) {
    sum += x;
    diagonal += x.squaredNorm();
  }
  const double nb = double(B);
  const double U = (sum.squaredNorm() - diagonal) / (nb * (nb - 1));
  std::vector<double> loo(B);
  double loo_mean = 0;
  for (std::size_t b = 0; b < B; ++b) {
    loo[b] = ((sum - d[b]).squaredNorm() - (diagonal - d[b].squaredNorm())) / ((nb - 1) * (nb - 2));
    loo_mean += loo[b] / nb;
  }
  double jack = 0;
  for (double u : loo) jack += (u - loo_mean) * (u - loo_mean);
  const double U_se = std::sqrt(jack * (nb - 1) / nb);
  const double norm2 = (G ? G->mean : *exact_g).squaredNorm();
  Distance out;
  out.rel = std::sqrt(std::max(U, 0.0) / norm2);
  out.se = out.rel > 0 ? U_se / (2 * norm2 * out.rel) : std::sqrt(U_se / norm2);
  return out;
}

Slope log_slope(double x0, double y0, double y0_se, double x1, double y1, double y1_se) {
  const double span = std::log(x1 / x0);
  return {std::log(y1 / y0) / span, std::hypot(y0_se / y0, y1_se / y1) / span};
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// §4.1: t = 0

TEST_CASE("attention M0 t = 0: logit variance N^(1 - 2 alpha_A) K_aa K_bb and excess kurtosis 6/N over heads (4.1)") {
  // A_ab = N^{-α_A} Σ_{i≤N} q_i(a) k_i(b) with q_i ~ N(0, K^x), k_i independent: each term is a product
  // of two independent Gaussians (excess kurtosis 6), so z = A_ab / (N^{1−2α_A} K_aa K_bb)^{1/2} has
  // E z² = 1 and E z⁴ = 3 + 6/N exactly, for every entry (μ, a, b) including a = b. Estimates pool
  // the P·S² entries of 40000 heads: v = ⟨z²⟩, κ = ⟨z⁴⟩/⟨z²⟩² − 3. Their standard errors are batch
  // means over 40 batches of 1000 heads (entries of one head are correlated, heads are independent).
  const SequenceData data = heads_data();
  const RowMatrix K = attention_m0_token_kernel(data);
  const Index P = data.P, S = data.S, heads = 40000, B = 40;
  for (double alpha : {1.0, 0.5}) {
    AttentionM0Options opt;
    opt.alpha_a = alpha;
    for (Index N : {1, 4, 16}) {
      CAPTURE(alpha);
      CAPTURE(N);
      const std::uint64_t seed = alpha == 1.0 ? 31 : 32;  // independent draws for the two α_A
      std::vector<double> m2(B, 0.0), m4(B, 0.0);
      for (Index head = 0; head < heads; ++head) {
        const std::vector<RowMatrix> A = attention_m0_initial_logits(data, opt, N, head, seed);
        double s2 = 0, s4 = 0;
        for (Index mu = 0; mu < P; ++mu)
          for (Index a = 0; a < S; ++a)
            for (Index b = 0; b < S; ++b) {
              const double var = std::pow(double(N), 1 - 2 * alpha) * K(mu * S + a, mu * S + a) * K(mu * S + b, mu * S + b);
              const double z2 = A[std::size_t(mu)](a, b) * A[std::size_t(mu)](a, b) / var;
              s2 += z2;
              s4 += z2 * z2;
            }
        m2[std::size_t(head * B / heads)] += s2 / double(P * S * S);
        m4[std::size_t(head * B / heads)] += s4 / double(P * S * S);
      }
      std::vector<double> v_batch, k_batch;
      double M2 = 0, M4 = 0;
      const double per_batch = double(heads / B);
      for (Index b = 0; b < B; ++b) {
        M2 += m2[std::size_t(b)] / double(heads);
        M4 += m4[std::size_t(b)] / double(heads);
        v_batch.push_back(m2[std::size_t(b)] / per_batch);
        k_batch.push_back(m4[std::size_t(b)] / per_batch / std::pow(m2[std::size_t(b)] / per_batch, 2) - 3);
      }
      const double kurtosis = M4 / (M2 * M2) - 3;
      const double v_se = mean_se(v_batch).se, k_se = mean_se(k_batch).se;
      MESSAGE("alpha_A = " << alpha << ", N = " << N << ": Var A / (N^(1-2 alpha_A) K_aa K_bb) = " << M2 << " +- " << v_se
                           << ", excess kurtosis " << kurtosis << " +- " << k_se << " (6/N = " << 6.0 / double(N) << ")");
      CHECK(std::abs(M2 - 1) < 4 * v_se);
      CHECK(std::abs(kurtosis - 6.0 / double(N)) < 4 * k_se);
      CHECK(k_se < 0.1 * 6.0 / double(N));  // the test resolves the kurtosis to 10%
    }
  }
}

TEST_CASE("attention M0 t = 0: identity attention sigma = A has Phi^o = N^(1 - 2 alpha_A) K^x(mu a, nu c) sum_bd K^x(mu b, nu d)^2 (4.1)") {
  // E[A^μ_ab A^ν_cd] = N^{1−2α_A} K^x(μa, νc) K^x(μb, νd), so Σ_bd E[A^μ_ab A^ν_cd] K^x(μb, νd) is the closed
  // form for any N: the Monte Carlo over heads must agree entry by entry within its standard error.
  const SequenceData data = heads_data();
  const RowMatrix K = attention_m0_token_kernel(data);
  const Index P = data.P, S = data.S;
  for (double alpha : {1.0, 0.5})
    for (Index N : {1, 4, 16}) {
      CAPTURE(alpha);
      CAPTURE(N);
      AttentionM0Options opt;
      opt.alpha_a = alpha;
      RowMatrix closed(P * S, P * S);
      for (Index i = 0; i < P * S; ++i)
        for (Index j = 0; j < P * S; ++j) {
          const Index mu = i / S, nu = j / S;
          closed(i, j) = std::pow(double(N), 1 - 2 * alpha) * K(i, j) * K.block(mu * S, nu * S, S, S).cwiseAbs2().sum();
        }
      const HeadAverage mc = attention_m0_phi_o0(data, opt, N, 20000, 40 + std::uint64_t(N) + (alpha == 1.0 ? 0 : 100),
                                                 M0LogitLaw::finite_width, M0AttentionMap::identity);
      const RowMatrix z = (mc.mean - closed).cwiseQuotient(mc.se);
      const double rel = (mc.mean - closed).norm() / closed.norm(), noise = mc.se.norm() / closed.norm();
      MESSAGE("identity attention, alpha_A = " << alpha << ", N = " << N << ": relative Frobenius error " << rel
                                               << " (Monte Carlo noise " << noise << "), max |z| " << z.cwiseAbs().maxCoeff());
      CHECK(z.cwiseAbs().maxCoeff() < 4.5);  // 400 correlated entries
      CHECK(rel < 3 * noise);
    }
}

TEST_CASE("attention M0 t = 0, alpha_A = 1: Phi^o approaches the uniform-attention kernel as N grows, the difference falling to O(1/N) (4.1)") {
  // Φ^o(0)(μa, νc) = Σ_bd E_head[σ^μ_ab σ^ν_cd] K^x(μb, νd) (attention_m0_phi_o0, 20000 heads) against
  // S^{-2} Σ_bd K^x(μb, νd) (limit A, §3.6). The logits are O(N^{-1/2}) and enter σσ at second order, so
  // the difference is O(1/N) at large N.
  const SequenceData data = heads_data();
  AttentionM0Options opt;
  opt.alpha_a = 1.0;
  const RowMatrix uniform = attention_m0_phi_o0_uniform(data, opt);
  const std::vector<Index> widths = {1, 4, 16, 64, 256};
  std::vector<Distance> d;
  for (Index N : widths) {
    const HeadAverage mc = attention_m0_phi_o0(data, opt, N, 20000, 60 + std::uint64_t(N));
    d.push_back(relative_distance(mc, nullptr, &uniform));
    MESSAGE("N = " << N << ": |Phi^o - uniform| / |uniform| = " << d.back().rel << " +- " << d.back().se);
  }
  for (std::size_t k = 0; k + 1 < d.size(); ++k) {
    CAPTURE(widths[k]);
    CHECK(d[k].rel - d[k + 1].rel > 3 * std::hypot(d[k].se, d[k + 1].se));  // falls at every step
  }
  // The local slope is −1 + O(1/N) (the next term of the expansion in the logits is O(1/N²)): it must
  // approach −1 and be near it at the largest widths.
  const Slope s1 = log_slope(16, d[2].rel, d[2].se, 64, d[3].rel, d[3].se);
  const Slope s2 = log_slope(64, d[3].rel, d[3].se, 256, d[4].rel, d[4].se);
  MESSAGE("log-log slope between N = 16 and 64: " << s1.value << " +- " << s1.se << ", between 64 and 256: " << s2.value
                                                   << " +- " << s2.se);
  CHECK(std::abs(s2.value + 1) < std::abs(s1.value + 1));
  CHECK(std::abs(s2.value + 1) < 0.1);
}

TEST_CASE("attention M0 t = 0, alpha_A = 1/2: Phi^o approaches the Gaussian-logit (N -> inf) kernel as O(1/N) (4.1)") {
  // The reference is the same Monte Carlo with Gaussian logits of covariance K^x ⊗ K^x (M0LogitLaw::
  // gaussian, Hron20's multi-head GP; 200000 heads); finite N = 1, 4, 16 with 100000 heads each. N = 64
  // (docs: 0.0029) is left out: resolving it would need ~10⁷ heads for the reference.
  const SequenceData data = heads_data();
  AttentionM0Options opt;
  opt.alpha_a = 0.5;
  const HeadAverage gaussian = attention_m0_phi_o0(data, opt, 1, 200000, 70, M0LogitLaw::gaussian);
  const std::vector<Index> widths = {1, 4, 16};
  std::vector<Distance> d;
  for (Index N : widths) {
    const HeadAverage mc = attention_m0_phi_o0(data, opt, N, 100000, 71 + std::uint64_t(N));
    d.push_back(relative_distance(mc, &gaussian, nullptr));
    MESSAGE("N = " << N << ": |Phi^o - Gaussian-logit| / |Gaussian-logit| = " << d.back().rel << " +- " << d.back().se);
  }
  for (std::size_t k = 0; k + 1 < d.size(); ++k) {
    CAPTURE(widths[k]);
    CHECK(d[k].rel - d[k + 1].rel > 3 * std::hypot(d[k].se, d[k + 1].se));
  }
  const Slope s = log_slope(4, d[1].rel, d[1].se, 16, d[2].rel, d[2].se);
  MESSAGE("log-log slope between N = 4 and 16: " << s.value << " +- " << s.se);
  CHECK(std::abs(s.value + 1) < 3 * s.se);
}

// -------------------------------------------------------------------------------------------------
// §4.6: head collapse

namespace {

/// Across-head variance of the logits at step t: for every (μ, a, b) the unbiased sample variance
/// of A^κ_{μ,ab} over the H heads, averaged over (μ, a, b).
double across_head_variance(const AttentionM0Run& run, Index t) {
  double sum = 0;
  for (Index mu = 0; mu < run.P; ++mu) {
    const RowMatrix mean = run.head_mean_A(t, mu);
    for (Index head = 0; head < run.H; ++head) sum += (run.A(t, mu, head) - mean).squaredNorm();
  }
  return sum / double(run.H - 1) / double(run.P * run.S * run.S);
}

}  // namespace

TEST_CASE("attention M0 head collapse: across-head variance of A falls as 1/N for alpha_A = 1 and stays flat for alpha_A = 1/2 (4.6)") {
  // §4.6 settings: M0, H = 8, 100 GD steps (T = 101), with §4.5's η = 0.2, γ0 = 0.5 and data (the docs
  // omit them). At init E[var] = N^{1−2α_A} ⟨K_aa K_bb⟩ exactly; after training limit A (α_A = 1) predicts
  // that every head follows the same A(t) up to O(N^{-1/2}), so the variance stays O(1/N). The log-log
  // slope is fitted over N = 4, 16, 64, 256 (12 network seeds each).
  const SequenceData data = heads_data();
  const std::vector<double> widths = {4, 16, 64, 256};
  const int seeds = 12;
  for (double alpha : {1.0, 0.5}) {
    AttentionM0Options opt = section_4_5_options(alpha);
    opt.T = 101;
    std::vector<MeanSe> init, trained;
    for (double Nd : widths) {
      const Index N = Index(Nd);
      std::vector<double> v0(seeds), v1(seeds);
#pragma omp parallel for schedule(dynamic)
      for (int s = 0; s < seeds; ++s) {
        const AttentionM0Run run = train_attention_m0(data, opt, N, 8, std::uint64_t(200 + s + (alpha == 1.0 ? 0 : 100)));
        v0[std::size_t(s)] = across_head_variance(run, 0);
        v1[std::size_t(s)] = across_head_variance(run, opt.T - 1);
      }
      init.push_back(mean_se(v0));
      trained.push_back(mean_se(v1));
      MESSAGE("alpha_A = " << alpha << ", N = " << N << ": across-head var of A at init " << init.back().mean << " +- "
                           << init.back().se << ", after 100 steps " << trained.back().mean << " +- " << trained.back().se
                           << " (N var: " << Nd * init.back().mean << ", " << Nd * trained.back().mean << ")");
    }
    for (const auto& [label, v] : {std::pair{std::string("init"), init}, std::pair{std::string("after training"), trained}}) {
      CAPTURE(alpha);
      CAPTURE(label);
      const Slope s = fitted_log_slope(widths, v);
      MESSAGE("alpha_A = " << alpha << ", " << label << ": fitted log-log slope " << s.value << " +- " << s.se);
      if (alpha == 1.0) {
        CHECK(std::abs(s.value + 1) < 3 * s.se);
        double lo = HUGE_VAL, hi = 0;
        for (std::size_t k = 0; k < widths.size(); ++k) {
          lo = std::min(lo, widths[k] * v[k].mean);
          hi = std::max(hi, widths[k] * v[k].mean);
        }
        CHECK(hi / lo < 2.0);  // N·var within a factor-2 band
      } else {
        CHECK(std::abs(s.value) < 3 * s.se);
        CHECK(v.back().mean > 0.5 * v.front().mean);  // does not fall
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------
// §4.5: limit B

namespace {

/// Limit B (40000 heads, seed 1000) against finite networks with H = 16, 64, 256, 1024 heads (network
/// seeds 1, 2, …: never the limit's own draws), N = 2, §4.5 settings: rms over μ of Δ at t = T−1.
void check_head_convergence(double alpha) {
  const SequenceData data = heads_data();
  const AttentionM0Options opt = section_4_5_options(alpha);
  const Index N = 2, last = opt.T - 1;
  const AttentionM0Trajectory limit = attention_m0_limit_b(data, opt, N, 40000, 1000);
  const double mc = std::sqrt(limit.Delta_se.row(last).squaredNorm() / double(data.P));  // rms Monte Carlo error
  MESSAGE("alpha_A = " << alpha << ": limit-B loss " << limit.loss[0] << " -> " << limit.loss[last]
                       << ", rms standard error of Delta(T-1) " << mc);
  const std::vector<Index> heads = {16, 64, 256, 1024};
  const std::vector<int> seeds = {8, 8, 8, 6};
  std::vector<MeanSe> e;
  for (std::size_t k = 0; k < heads.size(); ++k) {
    std::vector<double> err(static_cast<std::size_t>(seeds[k]));
#pragma omp parallel for schedule(dynamic)
    for (int s = 0; s < seeds[k]; ++s)
      err[std::size_t(s)] = rms_delta_error(train_attention_m0(data, opt, N, heads[k], std::uint64_t(s + 1)), limit, last);
    e.push_back(mean_se(err));
    MESSAGE("H = " << heads[k] << ": rms Delta error at t = T-1 " << e.back().mean << " +- " << e.back().se << " ("
                   << seeds[k] << " seeds), times sqrt(H): " << e.back().mean * std::sqrt(double(heads[k])));
  }
  // The limit's own error is small against what it measures (it adds in quadrature).
  CHECK(mc < 0.25 * e.back().mean);
  CHECK(e.front().mean - e.back().mean > 3 * combined_se(e.front(), e.back()));
  for (std::size_t k = 0; k + 1 < e.size(); ++k) {
    CAPTURE(heads[k]);
    CHECK(e[k].mean - e[k + 1].mean > -2 * combined_se(e[k], e[k + 1]));
  }
  // A finite network is limit B's Monte Carlo with H samples: its error is O(H^{-1/2}).
  const Slope s = log_slope(16, e.front().mean, e.front().se, 1024, e.back().mean, e.back().se);
  MESSAGE("log-log slope between H = 16 and 1024: " << s.value << " +- " << s.se);
  CHECK(std::abs(s.value + 0.5) < 3 * s.se);
  // The bound (0.01 at H = 1024): reported, and checked only as "not contradicted" by the
  // seeds' and the limit's errors (the docs' own (N = 2, α_A = 1/2) value is 0.011).
  const double bound_se = std::hypot(e.back().se, mc);
  MESSAGE("H = 1024: " << e.back().mean << std::string(e.back().mean < 0.01 ? " < " : " >= ") << "0.01 (standard error "
                       << bound_se << ")");
  CHECK(e.back().mean - 2 * bound_se < 0.01);
}

}  // namespace

TEST_CASE("attention M0: finite networks approach limit B as H grows, N = 2, alpha_A = 1 (4.5)") { check_head_convergence(1.0); }

TEST_CASE("attention M0: finite networks approach limit B as H grows, N = 2, alpha_A = 1/2 (4.5)") { check_head_convergence(0.5); }

TEST_CASE("attention M0 limit B: its standard error of Delta matches the spread of independent solves") {
  // 16 independent limit-B solves (1000 heads each, seeds 3000…) on the §4.5 settings: the rms over μ of
  // their seed standard deviation of Δ(T−1) against the rms of the standard error each reports (the
  // spread of its 40 head-batch replicas, each an independent solve of 25 heads, divided by √40). With
  // 16 seeds the seed spread is itself uncertain by about ±20% (the μ are correlated).
  const SequenceData data = heads_data();
  const AttentionM0Options opt = section_4_5_options(0.5);
  const Index last = opt.T - 1;
  const int seeds = 16;
  std::vector<AttentionM0Trajectory> runs(static_cast<std::size_t>(seeds));
  for (int s = 0; s < seeds; ++s) runs[std::size_t(s)] = attention_m0_limit_b(data, opt, 2, 1000, std::uint64_t(3000 + s));
  const double ratio = reported_se_over_seed_spread(runs, last);
  CHECK(ratio > 0.6);
  CHECK(ratio < 1.5);
}

TEST_CASE("attention M0 limit B at alpha_A = 1 approaches the limit-A recursion as N grows, the difference O(1/N)") {
  // Limit B at fixed N has O(N^{-1/2}) head fluctuations, which enter Δ at second order: the rms Δ
  // difference from the deterministic §3.4 recursion is O(1/N) (4000 heads; its Monte Carlo error
  // is removed in quadrature).
  const SequenceData data = heads_data();
  const AttentionM0Options opt = section_4_5_options(1.0);
  const Index last = opt.T - 1;
  const AttentionM0Limit limit_a = attention_m0_limit_a(data, opt);
  const std::vector<Index> widths = {16, 64, 256};
  std::vector<MeanSe> d;
  for (Index N : widths) {
    const AttentionM0Trajectory b = attention_m0_limit_b(data, opt, N, 4000, 500 + std::uint64_t(N));
    const double raw = rms_delta_error(b, limit_a, last);
    const double mc = std::sqrt(b.Delta_se.row(last).squaredNorm() / double(data.P));
    d.push_back({std::sqrt(std::max(raw * raw - mc * mc, 0.0)), mc});
    MESSAGE("N = " << N << ": rms Delta(T-1) limit B - limit A " << raw << " (Monte Carlo " << mc << ", corrected "
                   << d.back().mean << "), rms A error " << rms_logit_error(b, limit_a, last));
  }
  CHECK(d.back().mean < 0.005);
  const Slope s = log_slope(16, d.front().mean, d.front().se, 256, d.back().mean, d.back().se);
  MESSAGE("log-log slope between N = 16 and 256: " << s.value << " +- " << s.se);
  CHECK(std::abs(s.value + 1) < 3 * s.se);
}

TEST_CASE("attention M0 limit B NTK: one exact step of the sampled heads equals the NTK prediction to O(eta^2)") {
  // For the same sampled heads, Δ_exact(1) = y − f(1)/γ0 and the Euler step y − (η/P) K(0) y agree to
  // first order in η, so their gap falls 4× when η halves; this checks every term of the per-head
  // K(0) (readout, value, key/query with N^{2−2α_A} c_Q) and the multipliers: at fixed N the
  // logits move at first order too (E(0) ≠ 0), so a missing or mis-weighted term would leave an
  // O(η) gap (ratio 2).
  const SequenceData data = heads_data();
  for (double alpha_a : {1.0, 0.5}) {
    CAPTURE(alpha_a);
    std::vector<double> gap;
    for (double eta : {0.04, 0.02, 0.01}) {
      AttentionM0Options o = section_4_5_options(alpha_a);
      o.T = 2;
      o.eta = eta;
      o.lr_q = 0.7;
      o.lr_k = 1.3;
      o.lr_v = 0.5;
      o.lr_w = 1.5;
      const AttentionM0Trajectory run = attention_m0_limit_b(data, o, 2, 400, 3);
      REQUIRE(run.ntk.size() == 2);
      const Vector predicted = data.y - (eta / double(data.P)) * run.ntk[0] * data.y;
      gap.push_back((run.Delta.row(1).transpose() - predicted).cwiseAbs().maxCoeff());
    }
    MESSAGE("alpha_A = " << alpha_a << ": gaps " << gap[0] << ", " << gap[1] << ", " << gap[2]);
    CHECK(gap[0] / gap[1] == doctest::Approx(4.0).epsilon(0.05));
    CHECK(gap[1] / gap[2] == doctest::Approx(4.0).epsilon(0.05));
  }
}

TEST_CASE("attention M0 limit B: the ntk and exact error updates differ by less than 0.01 on the 4.5 settings") {
  const SequenceData data = heads_data();
  for (double alpha_a : {1.0, 0.5}) {
    const AttentionM0Options o = section_4_5_options(alpha_a);
    const AttentionM0Trajectory exact = attention_m0_limit_b(data, o, 2, 4000, 5, ErrorUpdate::exact);
    const AttentionM0Trajectory euler = attention_m0_limit_b(data, o, 2, 4000, 5, ErrorUpdate::ntk);
    const double gap = (exact.Delta - euler.Delta).cwiseAbs().maxCoeff();
    MESSAGE("alpha_A = " << alpha_a << ": max |Delta_exact - Delta_ntk| = " << gap << ", loss(99) " << exact.loss[99]
                         << " / " << euler.loss[99]);
    CHECK(gap < 0.01);
    CHECK(gap > 0);
  }
}
