// The finite network against its own definition (theory mlp.md §2, tests T1, T2).
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <utility>

#include "dmft/finite_width.hpp"
#include "dmft/network.hpp"
#include "helpers.hpp"

using namespace dmft;
using dmft::test::central_difference;

namespace {

Dataset small_data() { return make_synthetic(4, 5, 3, SyntheticTarget::teacher); }

NetworkSpec tanh_spec(Readout readout = Readout::mean_field) {
  NetworkSpec s;
  s.depth = 3;
  s.width = 7;
  s.activation = Activation::from_name("tanh");
  s.sigma = 1.1;
  s.gamma0 = 0.8;
  s.eta = 0.3;
  s.readout = readout;
  return s;
}

/// A ResNet of residual.md §1.1: L = 4, a = β0/√L with β0 = 1.3.
NetworkSpec resnet_spec(Readout readout = Readout::mean_field) {
  NetworkSpec s = tanh_spec(readout);
  s.depth = 4;
  s.sigma = 1.0;
  s.branch = 1.3 / std::sqrt(4.0);
  return s;
}

/// The same ResNet with its input layer frozen (residual.md §9 item 9): W^0 never moves and the
/// NTK has no G¹∘Kx term.
NetworkSpec frozen_input_resnet_spec(Readout readout = Readout::mean_field) {
  NetworkSpec s = resnet_spec(readout);
  s.train_input_layer = false;
  return s;
}

/// The weights after a few steps, so that the check is not only at initialisation.
MlpNetwork trained(const NetworkSpec& spec, const Dataset& data, int steps) {
  MlpNetwork net(spec, data, 11);
  for (int k = 0; k < steps; ++k) {
    const NetworkState s = net.evaluate();
    net.step(s, data.y - s.f);
  }
  return net;
}

/// −η γ0² N ∂𝓛/∂θ for every entry of tensor k, by central differences (the weights are restored).
/// A network trained 3 steps, its weights, a copy stepped once with the residuals of its own
/// forward pass, and its step size η γ0² N.
struct OneStep {
  MlpNetwork net;
  std::vector<Matrix> before;
  MlpNetwork stepped;
  double lr;
};
OneStep one_step(const NetworkSpec& spec, const Dataset& data) {
  MlpNetwork net = trained(spec, data, 3);
  std::vector<Matrix> before = net.weights();
  const NetworkState s = net.evaluate();
  MlpNetwork stepped = net;
  stepped.step(s, data.y - s.f);
  return {std::move(net), std::move(before), std::move(stepped), spec.eta * spec.gamma0 * spec.gamma0 * double(spec.width)};
}

Matrix gradient_step(MlpNetwork& net, std::size_t k, double lr) {
  return -lr * central_difference(net.weights()[k], [&] { return net.objective(); });
}

}  // namespace

TEST_CASE("T1: the closed-form updates equal -eta gamma0^2 N times the gradient of the loss (finite differences)") {
  const Dataset data = small_data();
  for (const NetworkSpec& spec : {tanh_spec(Readout::mean_field), tanh_spec(Readout::ntk), resnet_spec(),
                                  resnet_spec(Readout::ntk), frozen_input_resnet_spec(),
                                  frozen_input_resnet_spec(Readout::ntk)}) {
    CAPTURE(spec.branch);
    CAPTURE(spec.train_input_layer);
    OneStep one = one_step(spec, data);
    MlpNetwork& net = one.net;
    const std::vector<Matrix>& before = one.before;
    MlpNetwork& stepped = one.stepped;
    const double lr = one.lr;
    double worst = 0, scale = 0, input_gradient = 0;
    for (std::size_t k = 0; k < before.size(); ++k) {
      const Matrix steps = gradient_step(net, k, lr);
      for (Index i = 0; i < before[k].size(); ++i) {
        const double gradient_step = steps.data()[i];
        const bool frozen = k == 0 && !spec.train_input_layer;  // W^0 has a gradient but is not stepped
        if (frozen) input_gradient = std::max(input_gradient, std::abs(gradient_step));
        const double expected = frozen ? 0.0 : gradient_step;
        const double update = stepped.weights()[k].data()[i] - before[k].data()[i];
        worst = std::max(worst, std::abs(update - expected));
        scale = std::max(scale, std::abs(update));
      }
    }
    CHECK(scale > 1e-3);
    CHECK(worst / scale < 1e-7);
    if (!spec.train_input_layer) {
      CHECK(input_gradient > 1e-3 * scale);  // frozen, not merely without gradient
      CHECK((stepped.weights()[0] - before[0]).norm() == 0.0);  // bit for bit: W^0(t) = W^0(0)
    }
  }
}

TEST_CASE("T1: gamma0^2 N J J^T equals the sum of G times Phi over layers (finite-difference Jacobian)") {
  const Dataset data = small_data();
  // ResNet: a² on the blocks (residual.md §1.6); frozen input layer: no W^0 columns, no G¹∘Kx.
  for (const NetworkSpec& spec : {tanh_spec(), resnet_spec(), frozen_input_resnet_spec()}) {
    CAPTURE(spec.branch);
    CAPTURE(spec.train_input_layer);
    MlpNetwork net = trained(spec, data, 2);
    const NetworkState s = net.evaluate();
    const Matrix K = net.ntk(s);
    const Index P = data.P();
    std::vector<Vector> columns;  // ∂f/∂θ for every trained parameter θ
    for (std::size_t k = spec.train_input_layer ? 0 : 1; k < net.weights().size(); ++k) {
      Matrix& W = net.weights()[k];
      for (Index i = 0; i < W.size(); ++i) {
        const double w = W.data()[i], h = 1e-6;
        W.data()[i] = w + h;
        const Vector up = net.raw_output();
        W.data()[i] = w - h;
        const Vector down = net.raw_output();
        W.data()[i] = w;
        columns.push_back((up - down) / (2 * h));
      }
    }
    Matrix J(P, Index(columns.size()));
    for (std::size_t c = 0; c < columns.size(); ++c) J.col(Index(c)) = columns[c];
    const Matrix JJ = spec.gamma0 * spec.gamma0 * double(spec.width) * J * J.transpose();
    CHECK((JJ - K).norm() / K.norm() < 1e-8);
  }
}

TEST_CASE("T2: the centred output is exactly zero at initialisation, so Delta(0) = y and loss(0) = mean(y^2)") {
  const Dataset data = small_data();
  TrainOptions opt;
  opt.T = 3;
  const NetworkRun run = train_network(tanh_spec(), data, 5, opt);
  CHECK((run.Delta.row(0).transpose() - data.y).cwiseAbs().maxCoeff() == 0.0);
  CHECK(run.loss[0] == doctest::Approx(data.y.squaredNorm() / double(data.P())).epsilon(1e-15));
  CHECK(run.loss[2] < run.loss[0]);  // and it trains
}

TEST_CASE("recorded kernels are exactly symmetric and their equal-time blocks give the NTK") {
  const Dataset data = small_data();
  TrainOptions opt;
  opt.T = 4;
  const NetworkSpec spec = tanh_spec();
  const NetworkRun run = train_network(spec, data, 5, opt);
  const Index P = data.P();
  for (int l = 0; l < spec.depth; ++l) {
    CHECK((run.Phi[std::size_t(l)] - run.Phi[std::size_t(l)].transpose()).cwiseAbs().maxCoeff() == 0.0);
    CHECK((run.G[std::size_t(l)] - run.G[std::size_t(l)].transpose()).cwiseAbs().maxCoeff() == 0.0);
  }
  for (Index t = 0; t < opt.T; ++t) {
    const auto block = [&](const TwoTime& k) -> Matrix { return k.block(t * P, t * P, P, P); };
    Matrix K = block(run.G[0]).cwiseProduct(data.Kx) + block(run.G[1]).cwiseProduct(block(run.Phi[0])) +
               block(run.G[2]).cwiseProduct(block(run.Phi[1])) + block(run.Phi[2]);
    const RowMatrix recorded = Eigen::Map<const RowMatrix>(run.ntk.row(t).data(), P, P);
    CHECK((K - Matrix(recorded)).norm() / K.norm() < 1e-12);
  }
}

TEST_CASE("linear networks: G(t,mu,s,nu) does not depend on mu and nu") {
  const Dataset data = small_data();
  NetworkSpec spec = tanh_spec();
  spec.activation = Activation::from_name("linear");
  TrainOptions opt;
  opt.T = 3;
  const NetworkRun run = train_network(spec, data, 2, opt);
  for (const TwoTime& G : run.G) {
    const Index P = data.P();
    for (Index t = 0; t < opt.T; ++t)
      for (Index s = 0; s < opt.T; ++s) {
        const auto b = G.block(t * P, s * P, P, P);
        CHECK((b.array() - b(0, 0)).abs().maxCoeff() <= 1e-12 * std::abs(b(0, 0)));
      }
  }
}

TEST_CASE("the decoupled-backward network: same forward pass, independent backward weights, and equal to the standard network without hidden matrices") {
  const Dataset data = small_data();
  NetworkSpec spec = tanh_spec();
  NetworkSpec gia = spec;
  gia.decoupled_backward = true;
  const NetworkState a = MlpNetwork(spec, data, 4).evaluate(), b = MlpNetwork(gia, data, 4).evaluate();
  CHECK((a.h[2] - b.h[2]).norm() == 0.0);
  CHECK((a.g[2] - b.g[2]).norm() == 0.0);      // the readout is not decoupled
  CHECK((a.g[0] - b.g[0]).norm() > 0.1 * a.g[0].norm());
  spec.depth = gia.depth = 1;
  TrainOptions opt;
  opt.T = 4;
  const NetworkRun x = train_network(spec, data, 4, opt), y = train_network(gia, data, 4, opt);
  CHECK((x.loss - y.loss).norm() == 0.0);
}

TEST_CASE("the decoupled-backward ResNet: the readout and the last block step along the true gradient, earlier tensors do not") {
  // Only the backward pass through W^1..W^{L-1} is decoupled (residual.md §1.6): the updates of w
  // and W^{L-1} use g^L = φ'(h^L)⊙w and φ(h^{L-1}) and are exact gradient steps; W^0..W^{L-2} see
  // g^l through the independent W̃ and are not. Checked after a few steps, frozen input layer or not.
  const Dataset data = small_data();
  for (NetworkSpec spec : {resnet_spec(), frozen_input_resnet_spec()}) {
    CAPTURE(spec.train_input_layer);
    NetworkSpec standard = spec;
    spec.decoupled_backward = true;
    const NetworkState a = MlpNetwork(standard, data, 4).evaluate(), b = MlpNetwork(spec, data, 4).evaluate();
    CHECK((a.h[3] - b.h[3]).norm() == 0.0);      // same forward pass
    CHECK((a.g[3] - b.g[3]).norm() == 0.0);      // the readout is not decoupled
    CHECK((a.g[0] - b.g[0]).norm() > 0.05 * a.g[0].norm());

    OneStep one = one_step(spec, data);
    MlpNetwork& net = one.net;
    const std::vector<Matrix>& before = one.before;
    MlpNetwork& stepped = one.stepped;
    const double lr = one.lr;
    const std::size_t L = std::size_t(spec.depth);
    for (std::size_t k = spec.train_input_layer ? 0 : 1; k <= L; ++k) {
      CAPTURE(k);
      const Matrix expected = gradient_step(net, k, lr);
      const double error = (stepped.weights()[k] - before[k] - expected).norm() / expected.norm();
      if (k + 1 >= L) CHECK(error < 1e-7);  // W^{L-1} and the readout w
      else CHECK(error > 0.05);
    }
  }
}

TEST_CASE("networks trained in parallel over seeds are bit-for-bit those trained one at a time") {
  const Dataset data = small_data();
  TrainOptions opt;
  opt.T = 3;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = train_seeds(tanh_spec(), data, 7, 3, opt);
  omp_set_num_threads(2);
  const auto two = train_seeds(tanh_spec(), data, 7, 3, opt);
  omp_set_num_threads(saved);
  for (std::size_t k = 0; k < one.size(); ++k) {
    CHECK((one[k].loss - two[k].loss).norm() == 0.0);
    CHECK((one[k].Phi[1] - two[k].Phi[1]).norm() == 0.0);
  }
  CHECK((one[0].loss - one[1].loss).norm() > 0.0);  // different seeds, different networks
}
