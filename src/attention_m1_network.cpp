// The finite one-block attention network M1 (theory attention.md §1.3, §1.5, §1.6).
//
// Tensors (weights_), all i.i.d. N(0, 1), entry i (column-major) the i-th normal of the random
// stream RandomStream(seed, network, id, M) with the fixed ids
//   W^E (M×D):                      id 0
//   head κ: W^{Q,κ}, W^{K,κ}, W^{V,κ} (N×M), W^{O,κ} (M×N):   id 1 + 4κ + {0, 1, 2, 3}
//   w (M):                          id kReadoutStream = 1'000'000
// so a seed gives the same network on any machine (and the same W^E, heads and w for any H).
#include <cmath>
#include <string>

#include "dmft/attention_m1.hpp"
#include "dmft/error_update.hpp"
#include "dmft/errors.hpp"
#include "dmft/parameter_text.hpp"
#include "dmft/parameters.hpp"
#include "dmft/rng.hpp"

namespace dmft {
namespace {

constexpr std::uint64_t kEmbeddingStream = 0, kReadoutStream = 1'000'000;

Matrix normal_tensor(Index rows, Index cols, std::uint64_t id, Index M, std::uint64_t seed) {
  RandomStream rs(seed, StreamPurpose::network, id, std::uint64_t(M));
  Matrix w(rows, cols);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = rs.normal();
  return w;
}

/// The readout's backward field c_row w φ'(r_row) (§1.6), (P·S)×M: with c = π_a it is g^r, with
/// c = β π_a the branch field g^u; the gradients weight it by c_μ π_a.
RowMatrix readout_field(const RowMatrix& r, const Matrix& w, const Vector& row_weight, const Activation& phi) {
  RowMatrix g = r.unaryExpr([&phi](double x) { return phi.dphi(x); });
  g.array().rowwise() *= w.col(0).transpose().array();
  return row_weight.asDiagonal() * g;
}

}  // namespace

void AttentionM1Options::validate() const {
  base.validate();
  std::vector<Violation> problems;
  if (!(rho >= 0) || !std::isfinite(rho)) problems.push_back({"rho", format_value(rho), "the skip must be finite and >= 0"});
  if (!(beta > 0) || !std::isfinite(beta))
    problems.push_back({"beta0", format_value(beta), "the branch scale must be positive and finite"});
  const std::pair<const char*, double> multipliers[] = {{"lr-e", lr_e}, {"lr-o", lr_o}};
  for (const auto& [name, value] : multipliers)
    if (!(value >= 0) || !std::isfinite(value))
      problems.push_back({name, format_value(value), "a learning-rate multiplier must be finite and >= 0 (0 freezes the matrix)"});
  throw_violations(problems);
}

AttentionM1Network::AttentionM1Network(const SequenceData& data, const AttentionM1Options& opt, Index N, Index H,
                                       std::uint64_t seed)
    : data_(&data), opt_(opt), N_(N), H_(H) {
  data.validate();
  opt.validate();
  throw_violations(head_shape_violations(N, H, "H", 1, "at least one head is needed"));
  const Index M = N * H;
  X_ = data.stacked_tokens();
  pi_ = pooling_vector(opt.base.pool, data.S);
  weights_.push_back(normal_tensor(M, data.D, kEmbeddingStream, M, seed));
  for (Index kappa = 0; kappa < H; ++kappa) {
    const std::uint64_t id = 1 + 4 * std::uint64_t(kappa);
    weights_.push_back(normal_tensor(N, M, id, M, seed));      // W^Q
    weights_.push_back(normal_tensor(N, M, id + 1, M, seed));  // W^K
    weights_.push_back(normal_tensor(N, M, id + 2, M, seed));  // W^V
    weights_.push_back(normal_tensor(M, N, id + 3, M, seed));  // W^O
  }
  weights_.push_back(normal_tensor(M, 1, kReadoutStream, M, seed));
  f0_ = Vector::Zero(data.P);
  f0_ = raw_output();
}

double AttentionM1Network::multiplier(std::size_t tensor) const {
  // §1.5: c_E = λ_E, c_Q = λ_Q N^{2α_A−2}, c_K = λ_K N^{2α_A−2}, c_V = λ_V, c_O = λ_O, c_w = λ_w.
  if (tensor == 0) return opt_.lr_e;
  if (tensor + 1 == weights_.size()) return opt_.base.lr_w;
  const double qk = key_query_rate_factor(opt_.base.alpha_a, N_);
  switch ((tensor - 1) % 4) {
    case 0: return opt_.base.lr_q * qk;
    case 1: return opt_.base.lr_k * qk;
    case 2: return opt_.base.lr_v;
    default: return opt_.lr_o;
  }
}

AttentionM1State AttentionM1Network::evaluate() const {
  const Index P = data_->P, S = data_->S, M = N_ * H_;
  const double inv_sqrtM = 1.0 / std::sqrt(double(M)), logit_scale = std::pow(double(N_), -opt_.base.alpha_a);
  AttentionM1State st;
  st.h = X_ * weights_[0].transpose() / std::sqrt(double(data_->D));  // (P·S)×M
  st.u = RowMatrix::Zero(P * S, M);
  st.A.resize(std::size_t(P * H_));
  st.sigma.resize(std::size_t(P * H_));
  for (Index kappa = 0; kappa < H_; ++kappa) {
    const std::size_t base = std::size_t(1 + 4 * kappa);
    st.q.push_back(inv_sqrtM * st.h * weights_[base].transpose());  // (P·S)×N
    st.k.push_back(inv_sqrtM * st.h * weights_[base + 1].transpose());
    st.v.push_back(inv_sqrtM * st.h * weights_[base + 2].transpose());
    RowMatrix o(P * S, N_);
    for (Index mu = 0; mu < P; ++mu) {
      const auto q = st.q.back().middleRows(mu * S, S), k = st.k.back().middleRows(mu * S, S);
      RowMatrix A = logit_scale * q * k.transpose();
      RowMatrix sigma = masked_softmax(A, opt_.base.causal_mask);
      o.middleRows(mu * S, S) = sigma * st.v.back().middleRows(mu * S, S);
      st.A[std::size_t(mu * H_ + kappa)] = std::move(A);
      st.sigma[std::size_t(mu * H_ + kappa)] = std::move(sigma);
    }
    st.u += inv_sqrtM * o * weights_[base + 3].transpose();
    st.o.push_back(std::move(o));
  }
  st.r = opt_.rho * st.h + opt_.beta * st.u;
  const Vector readout = st.r.unaryExpr([this](double x) { return opt_.phi.phi(x); }) * weights_.back();  // w·φ(r)
  st.f.resize(P);
  for (Index mu = 0; mu < P; ++mu) st.f[mu] = pi_.dot(readout.segment(mu * S, S));
  st.f = st.f / (opt_.base.gamma0 * double(M)) - f0_;
  return st;
}

Vector AttentionM1Network::raw_output() const { return evaluate().f + f0_; }

double AttentionM1Network::objective() const { return 0.5 * (data_->y - evaluate().f).squaredNorm() / double(data_->P); }

std::vector<AttentionM1Network::Factored> AttentionM1Network::gradients(const AttentionM1State& st, const Vector& c) const {
  // Each sequence's backward fields of §1.6 (g = γ0 M ∂f/∂field) weighted by c_μ; the gradient of
  // tensor θ is scale·Lᵀ R with L a backward and R a forward field over the (μ, a) rows.
  const Index S = data_->S, n = c.size(), rows = n * S, M = N_ * H_;
  const double inv_sqrtM = 1.0 / std::sqrt(double(M)), N = double(N_);
  const double back_scale = std::pow(N, 1.0 - opt_.base.alpha_a);  // N^{1−α_A} in g^q, g^k
  const RowMatrix& h = st.h;
  const RowMatrix& r = st.r;
  Vector cpi(rows);  // c_μ π_a
  for (Index row = 0; row < rows; ++row) cpi[row] = c[row / S] * pi_[row % S];
  const Matrix& w = weights_.back();

  std::vector<Factored> grad(weights_.size());
  grad.back() = {r.unaryExpr([this](double x) { return opt_.phi.phi(x); }), RowMatrix(cpi), 1.0};  // Σ π_a φ(r_a)
  const RowMatrix g_r = readout_field(r, w, cpi, opt_.phi);  // g^r_a = c_μ π_a w φ'(r_a)
  const RowMatrix g_u = opt_.beta * g_r;
  RowMatrix g_h = opt_.rho * g_r;
  for (Index kappa = 0; kappa < H_; ++kappa) {
    const std::size_t base = std::size_t(1 + 4 * kappa);
    const RowMatrix &q = st.q[std::size_t(kappa)], &k = st.k[std::size_t(kappa)], &v = st.v[std::size_t(kappa)];
    RowMatrix g_q(rows, N_), g_k(rows, N_), g_v(rows, N_);
    const RowMatrix g_o = inv_sqrtM * g_u * weights_[base + 3];  // g^o = M^{−1/2} W^{Oᵀ} g^u
    for (Index m = 0; m < n; ++m) {
      const RowMatrix& sigma = st.sigma[std::size_t(m * H_ + kappa)];
      const auto go = g_o.middleRows(m * S, S);
      // E_ab = N⁻¹ g^o_a·v_b, D_ab = σ_ab (E_ab − Σ_c σ_ac E_ac).
      const RowMatrix Dm = softmax_backward(sigma, go * v.middleRows(m * S, S).transpose() / N);
      g_q.middleRows(m * S, S) = back_scale * Dm * k.middleRows(m * S, S);
      g_k.middleRows(m * S, S) = back_scale * Dm.transpose() * q.middleRows(m * S, S);
      g_v.middleRows(m * S, S) = sigma.transpose() * go;
    }
    g_h += inv_sqrtM * (g_q * weights_[base] + g_k * weights_[base + 1] + g_v * weights_[base + 2]);
    grad[base + 3] = {g_u, st.o[std::size_t(kappa)], inv_sqrtM};  // M×N
    grad[base] = {std::move(g_q), h, inv_sqrtM};                 // N×M
    grad[base + 1] = {std::move(g_k), h, inv_sqrtM};
    grad[base + 2] = {std::move(g_v), h, inv_sqrtM};
  }
  grad[0] = {std::move(g_h), X_, 1.0 / std::sqrt(double(data_->D))};  // M×D
  return grad;
}

void AttentionM1Network::step(const AttentionM1State& st, const Vector& delta) {
  // θ ← θ − c_θ η γ0² M ∂𝓛/∂θ with ∂𝓛/∂θ = −(γ0 M P)⁻¹ Σ_μ Δ_μ γ0 M ∂f_μ/∂θ, as a rank-(P·S)
  // update in place.
  const std::vector<Factored> grad = gradients(st, delta);
  const double rate = opt_.base.eta * opt_.base.gamma0 / double(data_->P);
  for (std::size_t tensor = 0; tensor < weights_.size(); ++tensor) {
    const double c = multiplier(tensor);
    if (c != 0) weights_[tensor].noalias() += (c * rate * grad[tensor].scale) * grad[tensor].left.transpose() * grad[tensor].right;
  }
}

Matrix AttentionM1Network::ntk() const { return ntk(evaluate()); }

Matrix AttentionM1Network::ntk(const AttentionM1State& st) const {
  // K_μν = γ0² M Σ_θ c_θ ∂f_μ/∂θ·∂f_ν/∂θ = M⁻¹ Σ_θ c_θ ⟨G_μ, G_ν⟩ with G_μ = γ0 M ∂f_μ/∂θ =
  // scale·L_μᵀ R_μ, and ⟨L_μᵀR_μ, L_νᵀR_ν⟩ = Σ_{a∈μ, b∈ν} (L Lᵀ)_ab (R Rᵀ)_ab.
  const Index P = data_->P, S = data_->S;
  const std::vector<Factored> grad = gradients(st, Vector::Ones(P));
  RowMatrix pair = RowMatrix::Zero(P * S, P * S);
  for (std::size_t tensor = 0; tensor < grad.size(); ++tensor) {
    const Factored& g = grad[tensor];
    pair.array() += (multiplier(tensor) * g.scale * g.scale) * ((g.left * g.left.transpose()).array() *
                                                                (g.right * g.right.transpose()).array());
  }
  Matrix K(P, P);
  for (Index mu = 0; mu < P; ++mu)
    for (Index nu = 0; nu < P; ++nu) K(mu, nu) = pair.block(mu * S, nu * S, S, S).sum();
  return K / double(N_ * H_);
}

AttentionM0Trajectory train_attention_m1(const SequenceData& data, const AttentionM1Options& opt, Index N, Index H,
                                         std::uint64_t seed, bool record_kernels) {
  AttentionM1Network net(data, opt, N, H, seed);
  const Index T = opt.base.T, P = data.P, S = data.S, M = N * H;
  AttentionM0Trajectory out = AttentionM0Trajectory::sized(T, P, S, H);
  const Vector pi = pooling_vector(opt.base.pool, S);
  Vector beta_pi(P * S);  // β π_a on every row μ·S + a: g^u = β π_a w φ'(r)
  for (Index row = 0; row < P * S; ++row) beta_pi[row] = opt.beta * pi[row % S];
  RowMatrix h_all, o_all, gu_all;  // (T·P·S)×M, row (t·P + μ)·S + a
  if (record_kernels) {
    h_all.resize(T * P * S, M);
    o_all.resize(T * P * S, M);
    gu_all.resize(T * P * S, M);
    out.ntk.reserve(std::size_t(T));
  }
  for (Index t = 0; t < T; ++t) {
    const AttentionM1State st = net.evaluate();
    const Vector delta = data.y - st.f;
    out.Delta.row(t) = delta.transpose();
    out.logits.insert(out.logits.end(), st.A.begin(), st.A.end());
    out.attention.insert(out.attention.end(), st.sigma.begin(), st.sigma.end());
    if (record_kernels) {
      out.ntk.push_back(net.ntk(st));
      h_all.middleRows(t * P * S, P * S) = st.h;
      for (Index kappa = 0; kappa < H; ++kappa) o_all.block(t * P * S, kappa * N, P * S, N) = st.o[std::size_t(kappa)];
      gu_all.middleRows(t * P * S, P * S) = readout_field(st.r, net.weights().back(), beta_pi, opt.phi);
    }
    if (t + 1 < T) net.step(st, delta);
  }
  out.loss = loss_curve(out.Delta);
  if (record_kernels) {
    // Σ_κ o^κ·o^κ is the dot product of the concatenated heads.
    out.two_time["Phi_h"] = h_all * h_all.transpose() / double(M);
    out.two_time["Phi_o"] = o_all * o_all.transpose() / double(M);
    out.two_time["G_u"] = gu_all * gu_all.transpose() / double(M);
  }
  return out;
}

}  // namespace dmft
