// The finite M0 attention network against its own definition (theory attention.md §1.2, §1.5, §1.6),
// the §3.4 moment recursion against the finite network it describes, and limit B's head sampler
// (attention_m0_limit_b.hpp) against the finite network whose heads it draws.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "dmft/attention_m0.hpp"
#include "dmft/attention_m0_limit_b.hpp"
#include "dmft/errors.hpp"
#include "helpers.hpp"

using namespace dmft;
using dmft::test::central_difference;

namespace {

using Pool = AttentionM0Options::Pool;

SequenceData small_sequences() { return make_gaussian_sequences(3, 4, 3, 5); }

AttentionM0Options options(double alpha_a, bool causal, Pool pool) {
  AttentionM0Options o;
  o.eta = 0.7;
  o.gamma0 = 0.8;
  o.T = 3;
  o.alpha_a = alpha_a;
  o.causal_mask = causal;
  o.pool = pool;
  return o;
}

std::string name(const AttentionM0Options& o) {
  return "alpha_A=" + std::to_string(o.alpha_a) + (o.causal_mask ? " causal" : " unmasked") +
         (o.pool == Pool::mean ? " mean" : " last");
}

/// The 8 variants of the gradient check: α_A ∈ {1, 1/2} × mask × pooling.
std::vector<AttentionM0Options> all_variants() {
  std::vector<AttentionM0Options> v;
  for (double alpha : {1.0, 0.5})
    for (bool causal : {false, true})
      for (Pool pool : {Pool::mean, Pool::last}) v.push_back(options(alpha, causal, pool));
  return v;
}

}  // namespace

TEST_CASE("attention M0: every update equals -c eta gamma0^2 M times the central-difference gradient of the objective") {
  const SequenceData data = small_sequences();
  const Index N = 5, H = 2;
  for (const AttentionM0Options& opt : all_variants()) {
    CAPTURE(name(opt));
    AttentionM0Network net(data, opt, N, H, 17);
    for (int k = 0; k < 2; ++k) {  // off initialisation, so that every backward field is generic
      const AttentionM0State s = net.evaluate();
      net.step(s, data.y - s.f);
    }
    const std::vector<Matrix> before = net.weights();
    AttentionM0Network stepped = net;
    const AttentionM0State s = net.evaluate();
    stepped.step(s, data.y - s.f);
    // Separately for Q, K, V and w, so that the small key/query steps (c_QK = 1/N at α_A = 1/2)
    // are not hidden behind the readout's.
    double worst[4] = {0, 0, 0, 0}, scale[4] = {0, 0, 0, 0};
    for (std::size_t tensor = 0; tensor < before.size(); ++tensor) {
      const int kind = int(tensor % 4);
      const Matrix expected_step =
          -net.learning_rate(kind) * central_difference(net.weights()[tensor], [&] { return net.objective(); });
      for (Index i = 0; i < expected_step.size(); ++i) {
        const double expected = expected_step.data()[i];
        const double update = stepped.weights()[tensor].data()[i] - before[tensor].data()[i];
        worst[kind] = std::max(worst[kind], std::abs(update - expected));
        scale[kind] = std::max(scale[kind], std::abs(update));
      }
    }
    for (int kind = 0; kind < 4; ++kind) {
      CAPTURE(kind);
      CHECK(scale[kind] > 1e-4);
      CHECK(worst[kind] / scale[kind] < 1e-6);
    }
    CHECK(net.multiplier(0) == doctest::Approx(std::pow(double(N), 2 * opt.alpha_a - 2)));
  }
}

TEST_CASE("attention M0: the centred output is exactly zero at initialisation, so Delta(0) = y and loss(0) = mean(y^2)") {
  const SequenceData data = small_sequences();
  for (const AttentionM0Options& opt : all_variants()) {
    CAPTURE(name(opt));
    const AttentionM0Run run = train_attention_m0(data, opt, 6, 2, 3);
    CHECK((run.Delta.row(0).transpose() - data.y).cwiseAbs().maxCoeff() == 0.0);
    // README convention: the reported loss is (1/P) Σ Δ², the objective (1/2P) Σ Δ².
    CHECK(run.loss[0] == doctest::Approx(data.y.squaredNorm() / double(data.P)).epsilon(1e-15));
    CHECK(AttentionM0Network(data, opt, 6, 2, 3).objective() ==
          doctest::Approx(0.5 * data.y.squaredNorm() / double(data.P)).epsilon(1e-15));
    CHECK(run.loss[2] < run.loss[0]);  // and it trains
  }
}

TEST_CASE("attention M0: attention rows are probabilities and the causal mask gives keys after the query exactly zero weight") {
  const SequenceData data = small_sequences();
  for (const AttentionM0Options& opt : all_variants()) {
    CAPTURE(name(opt));
    const AttentionM0Run run = train_attention_m0(data, opt, 4, 2, 8);
    for (Index t = 0; t < run.T; ++t)
      for (Index mu = 0; mu < run.P; ++mu)
        for (Index head = 0; head < run.H; ++head) {
          const RowMatrix& sigma = run.sigma(t, mu, head);
          CHECK((sigma.rowwise().sum().array() - 1.0).abs().maxCoeff() < 1e-14);
          CHECK(sigma.minCoeff() >= 0.0);
          if (opt.causal_mask)
            for (Index a = 0; a < run.S; ++a) CHECK(sigma.row(a).tail(run.S - 1 - a).cwiseAbs().sum() == 0.0);
        }
  }
}

TEST_CASE("attention M0: with alpha_A = 1 and one head the finite network is the 3.4 recursion started from its own empirical moments") {
  // Every coordinate's update is linear in z_i = (θ^Q, θ^K, θ^V, w)_i with coefficients that depend
  // on the weights only through N⁻¹ Σ_i z_i z_iᵀ (attention.md §3.4), so the recursion from the
  // network's initial moments reproduces it to rounding. The network's output is centred, so the
  // recursion's targets are shifted by the network's uncentred f(θ₀): Δ_net = (y + f(θ₀)) − f_rec.
  const SequenceData data = small_sequences();
  for (bool causal : {false, true})
    for (Pool pool : {Pool::mean, Pool::last}) {
      AttentionM0Options opt = options(1.0, causal, pool);
      opt.T = 25;
      CAPTURE(name(opt));
      const Index N = 64;
      const AttentionM0Network net(data, opt, N, 1, 21);
      const auto [C1, C2] = net.moments(0);
      SequenceData shifted = data;
      shifted.y = data.y + net.raw_output();
      const AttentionM0Run run = train_attention_m0(data, opt, N, 1, 21);
      const AttentionM0Limit rec = attention_m0_moment_recursion(shifted, opt, C1, C2);
      CHECK((run.Delta - rec.Delta).cwiseAbs().maxCoeff() < 1e-11);
      double logit_error = 0;
      for (Index t = 0; t < opt.T; ++t)
        for (Index mu = 0; mu < data.P; ++mu) logit_error = std::max(logit_error, (run.A(t, mu) - rec.A(t, mu)).cwiseAbs().maxCoeff());
      CHECK(logit_error < 1e-11);
      CHECK((run.Delta.row(opt.T - 1) - run.Delta.row(0)).norm() > 0.1);  // not a trivial agreement
    }
}

TEST_CASE("attention M0: invalid settings are refused before any work, naming the option") {
  const SequenceData data = small_sequences();
  AttentionM0Options opt = options(1.0, false, Pool::mean);
  opt.alpha_a = 0.7;
  CHECK_THROWS_AS(train_attention_m0(data, opt, 4, 1, 1), InputError);
  try {
    opt.eta = -1;
    train_attention_m0(data, opt, 4, 1, 1);
  } catch (const InputError& e) {
    CHECK(e.option() == "eta");
    CHECK(std::string(e.what()).find("alpha_a") != std::string::npos);  // every violation is named
  }
  opt = options(0.5, false, Pool::mean);
  CHECK_THROWS_AS(attention_m0_limit_a(data, opt), InputError);  // limit A needs α_A = 1
  opt.alpha_a = 1.0;
  CHECK_THROWS_AS(train_attention_m0(data, opt, 0, 1, 1), InputError);
  CHECK_THROWS_AS(train_attention_m0(data, opt, 4, 0, 1), InputError);
  SequenceData bad = data;
  bad.X[1] = RowMatrix::Zero(data.S + 1, data.D);
  CHECK_THROWS_AS(attention_m0_limit_a(bad, opt), InputError);
}

TEST_CASE("attention M0 limit B with n_h sampled heads is the finite network with H = n_h heads of the same seed") {
  // Limit B samples its heads from the network's own streams (attention_m0_head_weights) and evolves
  // each by the §3.4 head site in moment form, all driven by the common Δ; a finite network is the
  // same Monte Carlo with n_h = H. H = 5: five batches of one head (packs with one used lane);
  // H = 203: 40 batches of 5 or 6 heads (a full pack of 4 and a partial one).
  const SequenceData data = small_sequences();
  for (const AttentionM0Options& base : all_variants()) {
    AttentionM0Options opt = base;
    opt.T = 12;
    CAPTURE(name(opt));
    for (Index H : {5, 203}) {
      CAPTURE(H);
      const Index N = 3;
      const AttentionM0Run run = train_attention_m0(data, opt, N, H, 21);
      const AttentionM0Trajectory limit = attention_m0_limit_b(data, opt, N, H, 21);
      REQUIRE(limit.H == 1);
      CHECK((run.Delta - limit.Delta).cwiseAbs().maxCoeff() < 1e-12);
      double logit_error = 0, attention_error = 0;
      for (Index t = 0; t < opt.T; ++t)
        for (Index mu = 0; mu < data.P; ++mu) {
          logit_error = std::max(logit_error, (run.head_mean_A(t, mu) - limit.A(t, mu)).cwiseAbs().maxCoeff());
          attention_error = std::max(attention_error, (run.head_mean_sigma(t, mu) - limit.sigma(t, mu)).cwiseAbs().maxCoeff());
        }
      CHECK(logit_error < 1e-12);
      CHECK(attention_error < 1e-12);
      CHECK((run.Delta.row(opt.T - 1) - run.Delta.row(0)).norm() > 0.1);  // not a trivial agreement
    }
  }
}

TEST_CASE("attention M0 limit B: the same results with one and with two threads") {
  const SequenceData data = small_sequences();
  AttentionM0Options opt = options(0.5, true, Pool::mean);
  opt.T = 8;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const AttentionM0Trajectory one = attention_m0_limit_b(data, opt, 2, 301, 4);
  const HeadAverage phi_one = attention_m0_phi_o0(data, opt, 2, 301, 4);
  omp_set_num_threads(2);
  const AttentionM0Trajectory two = attention_m0_limit_b(data, opt, 2, 301, 4);
  const HeadAverage phi_two = attention_m0_phi_o0(data, opt, 2, 301, 4);
  omp_set_num_threads(saved);
  CHECK((one.Delta - two.Delta).cwiseAbs().maxCoeff() == 0.0);
  CHECK((one.Delta_se - two.Delta_se).cwiseAbs().maxCoeff() == 0.0);
  double logits = 0;
  for (std::size_t i = 0; i < one.logits.size(); ++i) logits = std::max(logits, (one.logits[i] - two.logits[i]).cwiseAbs().maxCoeff());
  CHECK(logits == 0.0);
  CHECK((phi_one.mean - phi_two.mean).cwiseAbs().maxCoeff() == 0.0);
  CHECK((phi_one.se - phi_two.se).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("attention M0 limit B: Delta(0) = y with standard error 0 (to rounding), head-mean attention rows are probabilities, the error is positive later") {
  const SequenceData data = small_sequences();
  for (const AttentionM0Options& base : all_variants()) {
    AttentionM0Options opt = base;
    opt.T = 6;
    CAPTURE(name(opt));
    const AttentionM0Trajectory limit = attention_m0_limit_b(data, opt, 2, 97, 9);
    CHECK((limit.Delta.row(0).transpose() - data.y).cwiseAbs().maxCoeff() == 0.0);
    CHECK(limit.Delta_se.row(0).cwiseAbs().maxCoeff() < 1e-15);  // every replica has Δ_b(0) = y
    CHECK(limit.Delta_se.row(opt.T - 1).minCoeff() > 0.0);
    CHECK(limit.loss[0] == doctest::Approx(data.y.squaredNorm() / double(data.P)).epsilon(1e-15));
    for (Index t = 0; t < opt.T; ++t)
      for (Index mu = 0; mu < data.P; ++mu) {
        const RowMatrix& sigma = limit.sigma(t, mu);
        CHECK((sigma.rowwise().sum().array() - 1.0).abs().maxCoeff() < 1e-14);
        if (opt.causal_mask)
          for (Index a = 0; a < data.S; ++a) CHECK(sigma.row(a).tail(data.S - 1 - a).cwiseAbs().sum() == 0.0);
      }
  }
}

TEST_CASE("attention M0 t = 0 head sampler: the sampled logits are the finite network's initial logits") {
  const SequenceData data = small_sequences();
  for (double alpha : {1.0, 0.5}) {
    const AttentionM0Options opt = options(alpha, false, Pool::mean);
    const Index N = 7, H = 3;
    const AttentionM0State st = AttentionM0Network(data, opt, N, H, 13).evaluate();
    for (Index head = 0; head < H; ++head) {
      const std::vector<RowMatrix> A = attention_m0_initial_logits(data, opt, N, head, 13);
      REQUIRE(Index(A.size()) == data.P);
      for (Index mu = 0; mu < data.P; ++mu)
        CHECK((A[std::size_t(mu)] - st.A[std::size_t(mu * H + head)]).cwiseAbs().maxCoeff() < 1e-13);
    }
  }
}

TEST_CASE("attention M0 t = 0 kernels: uniform attention, head averages and their batch means") {
  const SequenceData data = small_sequences();
  const Index P = data.P, S = data.S;
  const RowMatrix K = attention_m0_token_kernel(data);
  CHECK((K - K.transpose()).cwiseAbs().maxCoeff() == 0.0);
  CHECK(K(S + 1, 2 * S + 3) == doctest::Approx(data.X[1].row(1).dot(data.X[2].row(3)) / double(data.D)).epsilon(1e-14));
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const AttentionM0Options opt = options(1.0, causal, Pool::mean);
    const RowMatrix U = attention_m0_phi_o0_uniform(data, opt);
    // Φ^o(0)(μa, νc) = Σ_{b≤a, d≤c} K^x(μb, νd) / ((a+1)(c+1)) with the mask, S^{-2} Σ_{bd} without.
    double worst = 0;
    for (Index mu = 0; mu < P; ++mu)
      for (Index nu = 0; nu < P; ++nu)
        for (Index a = 0; a < S; ++a)
          for (Index c = 0; c < S; ++c) {
            const Index kb = causal ? a + 1 : S, kd = causal ? c + 1 : S;
            const double expected = K.block(mu * S, nu * S, kb, kd).sum() / double(kb * kd);
            worst = std::max(worst, std::abs(U(mu * S + a, nu * S + c) - expected));
          }
    CHECK(worst < 1e-14);
    const HeadAverage h = attention_m0_phi_o0(data, opt, 3, 83, 2);
    REQUIRE(h.batch_means.size() == std::size_t(kAttentionHeadBatches));
    RowMatrix weighted = RowMatrix::Zero(P * S, P * S);
    Index heads = 0;
    for (std::size_t b = 0; b < h.batch_means.size(); ++b) {
      weighted += double(h.batch_sizes[b]) * h.batch_means[b];
      heads += h.batch_sizes[b];
    }
    CHECK(heads == 83);
    CHECK((weighted / 83.0 - h.mean).cwiseAbs().maxCoeff() < 1e-14);
    CHECK(h.se.minCoeff() >= 0.0);
    CHECK((h.mean - h.mean.transpose()).cwiseAbs().maxCoeff() < 1e-14);
  }
}

TEST_CASE("attention M0 limit B and head sampler: invalid settings are refused before any work, naming the option") {
  const SequenceData data = small_sequences();
  AttentionM0Options opt = options(1.0, false, Pool::mean);
  const auto option_of = [](auto&& call) {
    try {
      call();
    } catch (const InputError& e) {
      return e.option();
    }
    return std::string("(nothing thrown)");
  };
  CHECK(option_of([&] { attention_m0_limit_b(data, opt, 0, 10, 1); }) == "N");
  CHECK(option_of([&] { attention_m0_limit_b(data, opt, 2, 1, 1); }) == "head_samples");
  CHECK(option_of([&] { attention_m0_phi_o0(data, opt, 2, 1, 1); }) == "head_samples");
  CHECK(option_of([&] { attention_m0_initial_logits(data, opt, 0, 0, 1); }) == "N");
  opt.causal_mask = true;
  CHECK(option_of([&] { attention_m0_phi_o0(data, opt, 2, 10, 1, M0LogitLaw::finite_width, M0AttentionMap::identity); }) ==
        "causal_mask");
  opt.causal_mask = false;
  opt.alpha_a = 0.7;
  CHECK(option_of([&] { attention_m0_limit_b(data, opt, 2, 10, 1); }) == "alpha_a");
}
