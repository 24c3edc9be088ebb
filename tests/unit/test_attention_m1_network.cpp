// The finite one-block attention network M1 against its own definition (theory attention.md §1.3,
// §1.5, §1.6): every GD update against central differences of the objective, the NTK against
// finite-difference Jacobians and against one small GD step, and the recorded two-time kernels.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "dmft/attention_m1.hpp"
#include "dmft/errors.hpp"
#include "helpers.hpp"

using namespace dmft;
using dmft::test::central_difference;

namespace {

using Pool = AttentionM0Options::Pool;

const Index kP = 2, kS = 3, kD = 3, kN = 3, kH = 2;

SequenceData tiny_sequences() { return make_gaussian_sequences(kP, kS, kD, 5); }

AttentionM1Options options(double alpha_a, bool causal, Pool pool, double rho, ActivationKind phi) {
  AttentionM1Options o;
  o.base.eta = 0.3;
  o.base.gamma0 = 0.8;
  o.base.T = 3;
  o.base.alpha_a = alpha_a;
  o.base.causal_mask = causal;
  o.base.pool = pool;
  o.rho = rho;
  o.beta = 0.9;
  o.phi = Activation(phi);
  return o;
}

std::string name(const AttentionM1Options& o) {
  return "alpha_A=" + std::to_string(o.base.alpha_a) + (o.base.causal_mask ? " causal" : " unmasked") +
         (o.base.pool == Pool::mean ? " mean" : " last") + " rho=" + std::to_string(o.rho) + " phi=" + o.phi.name();
}

/// The 32 variants: α_A ∈ {1, 1/2} × mask × pooling × ρ ∈ {0, 1} × φ ∈ {linear, tanh}.
std::vector<AttentionM1Options> all_variants() {
  std::vector<AttentionM1Options> v;
  for (double alpha : {1.0, 0.5})
    for (bool causal : {false, true})
      for (Pool pool : {Pool::mean, Pool::last})
        for (double rho : {0.0, 1.0})
          for (ActivationKind phi : {ActivationKind::linear, ActivationKind::tanh})
            v.push_back(options(alpha, causal, pool, rho, phi));
  return v;
}

/// Tensor kinds: 0 W^E, 1 W^Q, 2 W^K, 3 W^V, 4 W^O, 5 w.
int kind_of(std::size_t tensor, std::size_t count) {
  if (tensor == 0) return 0;
  if (tensor + 1 == count) return 5;
  return 1 + int((tensor - 1) % 4);
}

/// The options with every λ zero except that of `kind` (set to `lambda`).
AttentionM1Options only(AttentionM1Options o, int kind, double lambda) {
  double* lr[] = {&o.lr_e, &o.base.lr_q, &o.base.lr_k, &o.base.lr_v, &o.lr_o, &o.base.lr_w};
  for (int k = 0; k < 6; ++k) *lr[k] = (k == kind) ? lambda : 0.0;
  return o;
}

/// c_θ of `kind` under options o (§1.5).
double multiplier(const AttentionM1Options& o, int kind, Index N) {
  const double qk = std::pow(double(N), 2 * o.base.alpha_a - 2);
  const double c[] = {o.lr_e, o.base.lr_q * qk, o.base.lr_k * qk, o.base.lr_v, o.lr_o, o.base.lr_w};
  return c[kind];
}

/// A network of the given options and seed, moved off initialisation by two steps of `train`.
AttentionM1Network trained_network(const SequenceData& data, const AttentionM1Options& opt, std::uint64_t seed,
                                   const AttentionM1Options& train) {
  AttentionM1Network mover(data, train, kN, kH, seed);
  for (int k = 0; k < 2; ++k) {
    const AttentionM1State s = mover.evaluate();
    mover.step(s, data.y - s.f);
  }
  AttentionM1Network net(data, opt, kN, kH, seed);  // same seed, so the same centring f(θ₀)
  net.weights() = mover.weights();
  return net;
}

double min_eigenvalue_ratio(const RowMatrix& K) {
  const Eigen::SelfAdjointEigenSolver<Matrix> es(Matrix(K), Eigen::EigenvaluesOnly);
  return es.eigenvalues().minCoeff() / std::max(es.eigenvalues().cwiseAbs().maxCoeff(), 1e-300);
}

}  // namespace

TEST_CASE("M1 network: each update with one lambda set equals -c eta gamma0^2 M times the central-difference gradient") {
  const SequenceData data = tiny_sequences();
  double worst_overall = 0;
  for (const AttentionM1Options& opt : all_variants()) {
    CAPTURE(name(opt));
    const double lambda = 1.3;
    AttentionM1Network net = trained_network(data, opt, 17, opt);
    const std::vector<Matrix> before = net.weights();
    const double M = double(kN * kH);
    // Central differences of 𝓛 for every entry of every tensor.
    std::vector<Matrix> fd;
    for (std::size_t tensor = 0; tensor < before.size(); ++tensor)
      fd.push_back(central_difference(net.weights()[tensor], [&] { return net.objective(); }));
    for (int kind = 0; kind < 6; ++kind) {
      CAPTURE(kind);
      const AttentionM1Options o = only(opt, kind, lambda);
      AttentionM1Network stepped(data, o, kN, kH, 17);
      stepped.weights() = before;
      const AttentionM1State s = stepped.evaluate();
      stepped.step(s, data.y - s.f);
      const double rate = multiplier(o, kind, kN) * o.base.eta * o.base.gamma0 * o.base.gamma0 * M;
      double worst = 0, scale = 0;
      bool others_exact = true;
      for (std::size_t tensor = 0; tensor < before.size(); ++tensor) {
        const Matrix update = stepped.weights()[tensor] - before[tensor];
        if (kind_of(tensor, before.size()) != kind) {
          others_exact = others_exact && (update.cwiseAbs().maxCoeff() == 0.0);
          continue;
        }
        worst = std::max(worst, (update + rate * fd[tensor]).cwiseAbs().maxCoeff());
        scale = std::max(scale, update.cwiseAbs().maxCoeff());
      }
      CHECK(others_exact);
      CHECK(scale > 1e-5);
      CHECK(worst / scale < 1e-6);
      worst_overall = std::max(worst_overall, worst / scale);
    }
  }
  MESSAGE("max relative error of the updates against central differences: " << worst_overall);
}

TEST_CASE("M1 network: the NTK equals gamma0^2 M sum c J J^T of finite-difference Jacobians and predicts a small step") {
  const SequenceData data = tiny_sequences();
  const std::vector<AttentionM1Options> variants = {options(0.5, true, Pool::last, 1.0, ActivationKind::tanh),
                                                    options(1.0, false, Pool::mean, 0.0, ActivationKind::linear)};
  double worst_kernel = 0;
  for (AttentionM1Options opt : variants) {
    CAPTURE(name(opt));
    opt.lr_e = 0.7;  // distinct multipliers, so that each c_θ is checked
    opt.base.lr_q = 1.1;
    opt.base.lr_k = 0.9;
    opt.base.lr_v = 1.2;
    opt.lr_o = 0.8;
    opt.base.lr_w = 1.5;
    AttentionM1Network net = trained_network(data, opt, 23, opt);
    const double M = double(kN * kH), g2M = opt.base.gamma0 * opt.base.gamma0 * M, h = 1e-6;
    Matrix K_fd = Matrix::Zero(kP, kP);
    const std::size_t count = net.weights().size();
    for (std::size_t tensor = 0; tensor < count; ++tensor) {
      const double c = multiplier(opt, kind_of(tensor, count), kN);
      Matrix& W = net.weights()[tensor];
      for (Index i = 0; i < W.size(); ++i) {
        const double x = W.data()[i];
        W.data()[i] = x + h;
        const Vector up = net.raw_output();
        W.data()[i] = x - h;
        const Vector down = net.raw_output();
        W.data()[i] = x;
        const Vector J = (up - down) / (2 * h);
        K_fd += g2M * c * J * J.transpose();
      }
    }
    const Matrix K = net.ntk();
    const double error = (K - K_fd).cwiseAbs().maxCoeff() / K_fd.cwiseAbs().maxCoeff();
    CHECK(error < 1e-6);
    CHECK((K - K.transpose()).cwiseAbs().maxCoeff() == 0.0);
    worst_kernel = std::max(worst_kernel, error);

    // One GD step of size η: Δ(1) − Δ(0) = −(η/P) K Δ(0) + O(η²).
    double err[2];
    for (int half = 0; half < 2; ++half) {
      AttentionM1Options o = opt;
      o.base.eta = 2e-3 / (half ? 2.0 : 1.0);
      AttentionM1Network n(data, o, kN, kH, 23);
      n.weights() = net.weights();
      const AttentionM1State s0 = n.evaluate();
      const Vector d0 = data.y - s0.f;
      n.step(s0, d0);
      const Vector d1 = data.y - n.evaluate().f;
      err[half] = ((d1 - d0) + (o.base.eta / double(kP)) * K * d0).norm();
      if (half == 0) CHECK(err[0] < 0.05 * ((o.base.eta / double(kP)) * K * d0).norm());
    }
    MESSAGE(name(opt) << ": |K - K_fd|/|K| = " << error << ", step error ratio e(eta)/e(eta/2) = " << err[0] / err[1]);
    CHECK(err[0] / err[1] == doctest::Approx(4.0).epsilon(0.1));
  }
  MESSAGE("max relative NTK error against finite-difference Jacobians: " << worst_kernel);
}

TEST_CASE("M1 network: loss(0) = mean(y^2), frozen tensors stay exactly unchanged and a seed fixes the network") {
  const SequenceData data = tiny_sequences();
  for (const AttentionM1Options& base : {options(1.0, false, Pool::mean, 1.0, ActivationKind::tanh),
                                         options(0.5, true, Pool::last, 0.0, ActivationKind::linear)}) {
    CAPTURE(name(base));
    const AttentionM0Trajectory run = train_attention_m1(data, base, kN, kH, 3);
    CHECK(run.T == base.base.T);
    CHECK(run.logits.size() == std::size_t(base.base.T * kP * kH));
    CHECK((run.Delta.row(0).transpose() - data.y).cwiseAbs().maxCoeff() == 0.0);
    CHECK(run.loss[0] == doctest::Approx(data.y.squaredNorm() / double(kP)).epsilon(1e-15));
    CHECK(run.loss[2] < run.loss[0]);
    // The recorded attention of step 0 is the network's own, in the order (t·P + μ)·H + κ.
    const AttentionM1State s0 = AttentionM1Network(data, base, kN, kH, 3).evaluate();
    for (Index mu = 0; mu < kP; ++mu)
      for (Index kappa = 0; kappa < kH; ++kappa) {
        CHECK((run.A(0, mu, kappa) - s0.A[std::size_t(mu * kH + kappa)]).cwiseAbs().maxCoeff() == 0.0);
        CHECK((run.sigma(0, mu, kappa) - s0.sigma[std::size_t(mu * kH + kappa)]).cwiseAbs().maxCoeff() == 0.0);
      }

    // λ_E = λ_O = 0: W^E and every W^O stay bit-identical, the rest moves.
    AttentionM1Options frozen = base;
    frozen.lr_e = 0;
    frozen.lr_o = 0;
    AttentionM1Network net(data, frozen, kN, kH, 3);
    const std::vector<Matrix> initial = net.weights();
    for (int t = 0; t < 4; ++t) {
      const AttentionM1State s = net.evaluate();
      net.step(s, data.y - s.f);
    }
    for (std::size_t tensor = 0; tensor < initial.size(); ++tensor) {
      CAPTURE(tensor);
      const int kind = kind_of(tensor, initial.size());
      const double change = (net.weights()[tensor] - initial[tensor]).cwiseAbs().maxCoeff();
      if (kind == 0 || kind == 4) CHECK(change == 0.0);
      else CHECK(change > 0.0);
    }

    // Same seed, same network and trajectory; another seed, another network.
    const AttentionM1Network a(data, base, kN, kH, 42), b(data, base, kN, kH, 42), c(data, base, kN, kH, 43);
    for (std::size_t tensor = 0; tensor < a.weights().size(); ++tensor) {
      CHECK(a.weights()[tensor] == b.weights()[tensor]);
      CHECK(a.weights()[tensor] != c.weights()[tensor]);
    }
    CHECK(a.weights().front().rows() == kN * kH);
    CHECK(a.weights().front().cols() == kD);
    CHECK(a.weights().back().size() == kN * kH);
    const AttentionM0Trajectory again = train_attention_m1(data, base, kN, kH, 3);
    CHECK(again.Delta == run.Delta);
  }
}

TEST_CASE("M1 network: invalid settings are refused naming the option") {
  const SequenceData data = tiny_sequences();
  const AttentionM1Options good = options(1.0, false, Pool::mean, 1.0, ActivationKind::linear);
  const auto refused_option = [&](AttentionM1Options o) -> std::string {
    try {
      o.validate();
    } catch (const InputError& e) {
      return e.option();
    }
    return "";
  };
  AttentionM1Options o = good;
  CHECK(refused_option(o).empty());
  o.rho = -1;
  CHECK(refused_option(o) == "rho");
  o = good;
  o.beta = 0;
  CHECK(refused_option(o) == "beta0");
  o = good;
  o.lr_e = std::nan("");
  CHECK(refused_option(o) == "lr-e");
  o = good;
  o.lr_o = -0.5;
  CHECK(refused_option(o) == "lr-o");
  o = good;
  o.base.eta = -1;
  CHECK(refused_option(o) == "eta");
  CHECK_THROWS_AS(AttentionM1Network(data, good, 0, 1, 1), InputError);
  CHECK_THROWS_AS(train_attention_m1(data, good, 2, 0, 1), InputError);
}

TEST_CASE("M1 network: recorded Phi_h, Phi_o and G_u are symmetric and PSD and Phi_h(0) = h.h/M") {
  const SequenceData data = tiny_sequences();
  for (const AttentionM1Options& opt : {options(1.0, true, Pool::mean, 1.0, ActivationKind::tanh),
                                        options(0.5, false, Pool::last, 0.0, ActivationKind::linear)}) {
    CAPTURE(name(opt));
    const AttentionM0Trajectory run = train_attention_m1(data, opt, kN, kH, 9, true);
    const Index TPS = opt.base.T * kP * kS, PS = kP * kS;
    REQUIRE(run.ntk.size() == std::size_t(opt.base.T));
    AttentionM1Network net(data, opt, kN, kH, 9);
    CHECK((run.ntk[0] - net.ntk()).cwiseAbs().maxCoeff() == 0.0);
    for (const std::string key : {"Phi_h", "Phi_o", "G_u"}) {
      CAPTURE(key);
      REQUIRE(run.two_time.count(key) == 1);
      const RowMatrix& K = run.two_time.at(key);
      REQUIRE(K.rows() == TPS);
      REQUIRE(K.cols() == TPS);
      CHECK((K - K.transpose()).cwiseAbs().maxCoeff() <= 1e-14 * K.cwiseAbs().maxCoeff());
      const double ratio = min_eigenvalue_ratio(K);
      MESSAGE(key << ": smallest eigenvalue / largest = " << ratio);
      CHECK(ratio >= -1e-10);
    }
    const AttentionM1State s0 = net.evaluate();
    const double M = double(kN * kH);
    const RowMatrix Phi_h0 = s0.h * s0.h.transpose() / M;
    CHECK((run.two_time.at("Phi_h").topLeftCorner(PS, PS) - Phi_h0).cwiseAbs().maxCoeff() <= 1e-13);
    // Phi_o(0) from the concatenated heads; G_u at step 1 differs from step 0 (w moved).
    RowMatrix o0(PS, kN * kH);
    for (Index kappa = 0; kappa < kH; ++kappa) o0.middleCols(kappa * kN, kN) = s0.o[std::size_t(kappa)];
    CHECK((run.two_time.at("Phi_o").topLeftCorner(PS, PS) - o0 * o0.transpose() / M).cwiseAbs().maxCoeff() <= 1e-13);
    const RowMatrix& G = run.two_time.at("G_u");
    CHECK((G.block(PS, PS, PS, PS) - G.topLeftCorner(PS, PS)).cwiseAbs().maxCoeff() > 1e-8);
  }
}
