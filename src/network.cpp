#include "dmft/network.hpp"

#include <algorithm>
#include <cmath>

#include "dmft/memory_estimate.hpp"
#include "dmft/rng.hpp"

namespace dmft {
namespace {

// Stream "layer" ids of the network's tensors: W^0 is 0, W^l is l, the readout w is L, and the
// independent backward copies W̃^l of the decoupled network are kBackwardCopy + l.
constexpr std::uint64_t kBackwardCopy = 1000;

Matrix gaussian_matrix(Index rows, Index cols, double sigma, std::uint64_t seed, std::uint64_t tensor, Index width) {
  RandomStream rs(seed, StreamPurpose::network, tensor, std::uint64_t(width));
  Matrix m(rows, cols);
  advise_huge_pages(m.data(), std::size_t(m.size()) * sizeof(double));
  for (Index k = 0; k < m.size(); ++k) m.data()[k] = sigma * rs.normal();
  return m;
}

Matrix apply(const Matrix& h, const Activation& a, bool derivative) {
  return derivative ? h.unaryExpr([&](double x) { return a.dphi(x); }).eval()
                    : h.unaryExpr([&](double x) { return a.phi(x); }).eval();
}

}  // namespace

MlpNetwork::MlpNetwork(const NetworkSpec& spec, const Dataset& data, std::uint64_t seed) : spec_(spec), data_(&data) {
  const Index N = spec.width, D = data.D();
  const int L = spec.depth;
  weights_.push_back(gaussian_matrix(N, D, spec.sigma, seed, 0, N));
  for (int l = 1; l < L; ++l) weights_.push_back(gaussian_matrix(N, N, spec.sigma, seed, std::uint64_t(l), N));
  weights_.push_back(gaussian_matrix(N, 1, spec.sigma, seed, std::uint64_t(L), N));
  if (spec.decoupled_backward)
    for (int l = 1; l < L; ++l)
      backward_.push_back(gaussian_matrix(N, N, spec.sigma, seed, kBackwardCopy + std::uint64_t(l), N));
  const Index capacity = low_rank_capacity(N, data.P());
  for (int l = 1; l < L; ++l) {
    pending_.push_back({Matrix(N, capacity), Matrix(N, capacity), 0});
    advise_huge_pages(pending_.back().U.data(), std::size_t(N * capacity) * sizeof(double));
    advise_huge_pages(pending_.back().V.data(), std::size_t(N * capacity) * sizeof(double));
  }
  f0_ = Vector::Zero(data.P());
  f0_ = raw_output();
}

Index low_rank_capacity(Index width, Index P) {
  // Fold when the factors would hold about N/4 columns: then a fold (2N²·r flops, compute-bound)
  // costs about as much as the r/P steps of memory traffic it saved, and memory stays ≤ 1.5 N².
  return std::max<Index>(1, width / (4 * P)) * P;
}

void MlpNetwork::fold(std::size_t hidden) {
  LowRank& lr = pending_[hidden];
  if (lr.rank == 0) return;
  const auto U = lr.U.leftCols(lr.rank), V = lr.V.leftCols(lr.rank);
  weights_[hidden + 1].noalias() += U * V.transpose();
  if (spec_.decoupled_backward) backward_[hidden].noalias() += U * V.transpose();
  lr.rank = 0;
}

std::vector<Matrix>& MlpNetwork::weights() {
  for (std::size_t i = 0; i < pending_.size(); ++i) fold(i);
  return weights_;
}

double MlpNetwork::readout_scale() const {
  const double N = double(spec_.width);
  return spec_.readout == Readout::mean_field ? 1.0 / (spec_.gamma0 * N) : 1.0 / (spec_.gamma0 * std::sqrt(N));
}

NetworkState MlpNetwork::forward() const {
  // h^1 = W^0 x/√D, h^{l+1} = W^l φ(h^l)/√N (ResNet: h^l + a W^l φ(h^l)/√N), f = w·φ(h^L)·(readout scale)   (§2.1)
  const int L = spec_.depth;
  const double inv_sqrt_N = 1.0 / std::sqrt(double(spec_.width));
  NetworkState s;
  s.h.push_back(weights_[0] * data_->X.transpose() / std::sqrt(double(data_->D())));
  s.phi.push_back(apply(s.h[0], spec_.activation, false));
  for (int l = 1; l < L; ++l) {
    const LowRank& lr = pending_[std::size_t(l - 1)];
    Matrix h = weights_[std::size_t(l)] * s.phi.back();
    if (lr.rank) h.noalias() += lr.U.leftCols(lr.rank) * (lr.V.leftCols(lr.rank).transpose() * s.phi.back());
    if (spec_.branch > 0) s.h.push_back(s.h.back() + (spec_.branch * inv_sqrt_N) * h);  // residual.md §1.1
    else s.h.push_back(h * inv_sqrt_N);
    s.phi.push_back(apply(s.h.back(), spec_.activation, false));
  }
  s.f = (s.phi.back().transpose() * weights_.back()) * readout_scale() - f0_;
  return s;
}

Vector MlpNetwork::raw_output() const { return forward().f + f0_; }

NetworkState MlpNetwork::evaluate() const {
  // g^L = φ'(h^L) ⊙ w;  g^l = φ'(h^l) ⊙ W^lᵀ g^{l+1}/√N   (§2.2; W̃^l for the decoupled network)
  NetworkState s = forward();
  const int L = spec_.depth;
  const double inv_sqrt_N = 1.0 / std::sqrt(double(spec_.width));
  s.g.assign(std::size_t(L), Matrix());
  const Matrix& w = weights_.back();
  s.g[std::size_t(L - 1)] = apply(s.h[std::size_t(L - 1)], spec_.activation, true).array().colwise() * w.col(0).array();
  for (int l = L - 1; l >= 1; --l) {
    const Matrix& Wl = spec_.decoupled_backward ? backward_[std::size_t(l - 1)] : weights_[std::size_t(l)];
    const LowRank& lr = pending_[std::size_t(l - 1)];
    Matrix z = Wl.transpose() * s.g[std::size_t(l)];
    if (lr.rank) z.noalias() += lr.V.leftCols(lr.rank) * (lr.U.leftCols(lr.rank).transpose() * s.g[std::size_t(l)]);
    z *= inv_sqrt_N;
    Matrix dphi_z = apply(s.h[std::size_t(l - 1)], spec_.activation, true).cwiseProduct(z);
    // residual.md §1.3: g^l = g^{l+1} + a φ'(h^l) ⊙ z^l through the skip connection
    if (spec_.branch > 0) s.g[std::size_t(l - 1)] = s.g[std::size_t(l)] + spec_.branch * dphi_z;
    else s.g[std::size_t(l - 1)] = std::move(dphi_z);
  }
  return s;
}

void MlpNetwork::step(const NetworkState& s, const Vector& delta) {
  // θ ← θ − η γ0² N ∇𝓛: with k = η γ0² N · (readout scale)/P (= c = η γ0/P for the mean-field
  // readout), W^0 += k Σ Δ g¹ xᵀ/√D, W^l += k Σ Δ g^{l+1} φ(h^l)ᵀ/√N, w += k Σ Δ φ(h^L)   (§2.3)
  const int L = spec_.depth;
  const double N = double(spec_.width);
  const Index P = data_->P();
  const double k = spec_.eta * spec_.gamma0 * spec_.gamma0 * N * readout_scale() / double(P);
  const double inv_sqrt_N = 1.0 / std::sqrt(N);
  // All updates use the fields of the same step (simultaneous update).
  if (spec_.train_input_layer)  // frozen: W^0(t) = W^0(0) (residual.md §9 item 9)
    weights_[0].noalias() += (k / std::sqrt(double(data_->D()))) * (s.g[0] * delta.asDiagonal()) * data_->X;
  for (int l = 1; l < L; ++l) {
    // Appended to the low-rank factors (see LowRank); W̃ of the decoupled network shares them.
    LowRank& lr = pending_[std::size_t(l - 1)];
    if (lr.rank + P > lr.U.cols()) fold(std::size_t(l - 1));
    const double branch = spec_.branch > 0 ? spec_.branch : 1.0;  // residual.md §1.4: c a/(P √N)
    lr.U.middleCols(lr.rank, P) = (k * branch * inv_sqrt_N) * s.g[std::size_t(l)] * delta.asDiagonal();
    lr.V.middleCols(lr.rank, P) = s.phi[std::size_t(l - 1)];
    lr.rank += P;
  }
  weights_.back().noalias() += k * s.phi.back() * delta;
}

double MlpNetwork::objective() const {
  const Vector r = forward().f - data_->y;
  return 0.5 * r.squaredNorm() / double(data_->P());
}

Matrix MlpNetwork::ntk(const NetworkState& s) const {
  const int L = spec_.depth;
  const double N = double(spec_.width);
  auto gram = [&](const Matrix& a) -> Matrix { return a.transpose() * a / N; };
  const Index P = data_->P();
  Matrix K = spec_.train_input_layer ? Matrix(gram(s.g[0]).cwiseProduct(data_->Kx)) : Matrix::Zero(P, P);
  const double a2 = spec_.branch > 0 ? spec_.branch * spec_.branch : 1.0;  // residual.md §1.6
  for (int l = 1; l < L; ++l) K += a2 * gram(s.g[std::size_t(l)]).cwiseProduct(gram(s.phi[std::size_t(l - 1)]));
  K += gram(s.phi.back());
  return K;
}

double network_step_flops(const NetworkSpec& spec, Index P, Index D) {
  const double N = double(spec.width), hidden = double(spec.depth - 1);
  // Forward and backward through each N×N matrix (2N²P each), the low-rank corrections (on
  // average r/2 pending columns, 4·N·r·P each way), the folds (2N²·r every r/P steps) ×2 for the
  // decoupled network; input layer 2NDP forward and 2NDP for its update (none when frozen), readout.
  const double r = double(low_rank_capacity(spec.width, P)), p = double(P);
  const double fold = 2.0 * N * N * p * (spec.decoupled_backward ? 2.0 : 1.0);
  const double per_hidden = 4.0 * N * N * p + 2.0 * 4.0 * N * (r / 2) * p + fold;
  const double input = (spec.train_input_layer ? 4.0 : 2.0) * N * double(D) * p;
  return hidden * per_hidden + input + 6.0 * N * p;
}

}  // namespace dmft
