#include "dmft/attention_m0.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "dmft/error_update.hpp"
#include "dmft/errors.hpp"
#include "dmft/parameter_text.hpp"
#include "dmft/rng.hpp"

namespace dmft {
namespace {

// Stream "layer" ids of the sequence generator (purpose data): tokens, targets.
constexpr std::uint64_t kTokenStream = 100, kTargetStream = 101;

}  // namespace

RowMatrix SequenceData::stacked_tokens() const {
  RowMatrix X(P * S, D);
  for (Index mu = 0; mu < P; ++mu) X.middleRows(mu * S, S) = this->X[std::size_t(mu)];
  return X;
}

// ---------------------------------------------------------------------------------------------
// Data and options

void SequenceData::validate() const {
  std::vector<Violation> problems;
  if (P < 1) problems.push_back({"P", std::to_string(P), "at least one sequence is needed"});
  if (S < 1) problems.push_back({"S", std::to_string(S), "sequences need at least one token"});
  if (D < 1) problems.push_back({"D", std::to_string(D), "tokens need at least one dimension"});
  if (Index(X.size()) != P)
    problems.push_back({"X", std::to_string(X.size()) + " matrices", "must hold P = " + std::to_string(P) + " sequences"});
  if (y.size() != P)
    problems.push_back({"y", std::to_string(y.size()) + " entries", "must hold P = " + std::to_string(P) + " targets"});
  for (std::size_t mu = 0; mu < X.size(); ++mu) {
    if (X[mu].rows() != S || X[mu].cols() != D) {
      problems.push_back({"X[" + std::to_string(mu) + "]",
                          std::to_string(X[mu].rows()) + "x" + std::to_string(X[mu].cols()),
                          "must be S x D = " + std::to_string(S) + "x" + std::to_string(D)});
    } else if (!X[mu].allFinite()) {
      problems.push_back({"X[" + std::to_string(mu) + "]", "non-finite", "tokens must be finite"});
    }
  }
  if (y.size() == P && !y.allFinite()) problems.push_back({"y", "non-finite", "targets must be finite"});
  throw_violations(problems);
}

SequenceData make_gaussian_sequences(Index P, Index S, Index D, std::uint64_t seed) {
  SequenceData d;
  d.P = P;
  d.S = S;
  d.D = D;
  for (Index mu = 0; mu < P; ++mu) {
    RandomStream rs(seed, StreamPurpose::data, kTokenStream, std::uint64_t(mu));
    RowMatrix x(S, D);
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = rs.normal();
    d.X.push_back(std::move(x));
  }
  RandomStream ry(seed, StreamPurpose::data, kTargetStream, 0);
  d.y.resize(P);
  for (Index mu = 0; mu < P; ++mu) d.y[mu] = ry.normal();
  d.validate();
  return d;
}

void AttentionM0Options::validate() const {
  std::vector<Violation> problems;
  if (!(eta > 0) || !std::isfinite(eta)) problems.push_back({"eta", format_value(eta), "must be positive and finite"});
  if (!(gamma0 > 0) || !std::isfinite(gamma0)) problems.push_back({"gamma0", format_value(gamma0), "must be positive and finite"});
  if (T < 1) problems.push_back({"T", std::to_string(T), "at least one step must be recorded"});
  if (alpha_a != 1.0 && alpha_a != 0.5) problems.push_back({"alpha_a", format_value(alpha_a), "must be 1 or 0.5 (attention.md §1.1)"});
  const std::pair<const char*, double> multipliers[] = {{"lr-q", lr_q}, {"lr-k", lr_k}, {"lr-v", lr_v}, {"lr-w", lr_w}};
  for (const auto& [name, value] : multipliers)
    if (!(value >= 0) || !std::isfinite(value))
      problems.push_back({name, format_value(value), "a learning-rate multiplier must be finite and >= 0 (0 freezes the matrix)"});
  throw_violations(problems);
}

double key_query_rate_factor(double alpha_a, Index N) { return std::pow(double(N), 2.0 * alpha_a - 2.0); }

std::vector<Violation> head_shape_violations(Index N, Index heads, const std::string& heads_name, Index min_heads,
                                             const std::string& rule) {
  std::vector<Violation> problems;
  if (N < 1) problems.push_back({"N", std::to_string(N), "the head dimension must be at least 1"});
  if (heads < min_heads) problems.push_back({heads_name, std::to_string(heads), rule});
  return problems;
}

Vector pooling_vector(AttentionM0Options::Pool pool, Index S) {
  if (pool == AttentionM0Options::Pool::mean) return Vector::Constant(S, 1.0 / double(S));
  Vector pi = Vector::Zero(S);
  pi[S - 1] = 1.0;
  return pi;
}

RowMatrix masked_softmax(const RowMatrix& A, bool causal_mask) {
  const Index S = A.rows();
  RowMatrix sigma = RowMatrix::Zero(S, A.cols());
  for (Index a = 0; a < S; ++a) {
    const Index keys = causal_mask ? a + 1 : A.cols();  // m_ab = −∞ for b > a: weight exactly 0
    const double top = A.row(a).head(keys).maxCoeff();
    sigma.row(a).head(keys) = (A.row(a).head(keys).array() - top).exp();
    sigma.row(a).head(keys) /= sigma.row(a).head(keys).sum();
  }
  return sigma;
}

RowMatrix softmax_backward(const RowMatrix& sigma, const RowMatrix& E) {
  const RowMatrix sE = sigma.cwiseProduct(E);
  const Vector row_sum = sE.rowwise().sum();
  return sE - RowMatrix(sigma.array().colwise() * row_sum.array());
}

RowMatrix pooled_softmax_backward(const RowMatrix& sigma, const Vector& pi, const Vector& e) {
  const Index S = sigma.rows();
  const Vector se = sigma * e;
  RowMatrix D(S, S);
  for (Index a = 0; a < S; ++a)
    for (Index b = 0; b < S; ++b) D(a, b) = pi[a] * sigma(a, b) * (e[b] - se[a]);
  return D;
}

RowMatrix AttentionM0Trajectory::head_mean_A(Index t, Index mu) const {
  RowMatrix m = A(t, mu, 0);
  for (Index h = 1; h < H; ++h) m += A(t, mu, h);
  return m / double(H);
}

RowMatrix AttentionM0Trajectory::head_mean_sigma(Index t, Index mu) const {
  RowMatrix m = sigma(t, mu, 0);
  for (Index h = 1; h < H; ++h) m += sigma(t, mu, h);
  return m / double(H);
}

AttentionM0Trajectory AttentionM0Trajectory::sized(Index T, Index P, Index S, Index H, bool with_se) {
  AttentionM0Trajectory out;
  out.T = T;
  out.P = P;
  out.S = S;
  out.H = H;
  out.Delta.resize(T, P);
  if (with_se) out.Delta_se.resize(T, P);
  out.logits.reserve(std::size_t(T * P * H));
  out.attention.reserve(std::size_t(T * P * H));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Limit A (attention.md §3.4)

AttentionM0Limit attention_m0_limit_a(const SequenceData& data, const AttentionM0Options& opt) {
  data.validate();
  return attention_m0_moment_recursion(data, opt, Matrix::Identity(2 * data.D, 2 * data.D),
                                       Matrix::Identity(data.D + 1, data.D + 1));
}

AttentionM0Limit attention_m0_moment_recursion(const SequenceData& data, const AttentionM0Options& opt,
                                               const Matrix& C1_initial, const Matrix& C2_initial) {
  data.validate();
  opt.validate();
  if (opt.alpha_a != 1.0)
    throw InputError("alpha_a", format_value(opt.alpha_a), "limit A exists only for alpha_A = 1 (attention.md §2)");
  const Index P = data.P, S = data.S, D = data.D, T = opt.T;
  if (C1_initial.rows() != 2 * D || C1_initial.cols() != 2 * D)
    throw InputError("C1", std::to_string(C1_initial.rows()) + "x" + std::to_string(C1_initial.cols()),
                     "must be 2D x 2D = " + std::to_string(2 * D) + "x" + std::to_string(2 * D));
  if (C2_initial.rows() != D + 1 || C2_initial.cols() != D + 1)
    throw InputError("C2", std::to_string(C2_initial.rows()) + "x" + std::to_string(C2_initial.cols()),
                     "must be (D+1) x (D+1) = " + std::to_string(D + 1) + "x" + std::to_string(D + 1));
  const double sqrtD = std::sqrt(double(D)), step = opt.eta * opt.gamma0;  // α_A = 1: c_θ = λ_θ (§1.5)
  const Vector pi = pooling_vector(opt.pool, S);

  AttentionM0Limit out = AttentionM0Trajectory::sized(T, P, S, 1);

  // Second moments of z = (θ^Q, θ^K, θ^V, w) per coordinate (limit A: identity at t = 0).
  Matrix C1 = C1_initial;  // [θ^Q; θ^K]
  Matrix C2 = C2_initial;  // [θ^V; w]
  std::vector<RowMatrix> Dmat(static_cast<std::size_t>(P));
  std::vector<Vector> s(static_cast<std::size_t>(P));
  for (Index t = 0; t < T; ++t) {
    const Matrix Sigma = C1.block(0, D, D, D);   // E[θ^Q θ^Kᵀ]
    const Vector m_wV = C2.block(0, D, D, 1);    // E[θ^V w]
    Vector f(P);
    for (Index mu = 0; mu < P; ++mu) {
      const RowMatrix& X = data.X[std::size_t(mu)];
      RowMatrix A = X * Sigma * X.transpose() / double(D);  // A_ab = E[q_a k_b]
      RowMatrix sigma = masked_softmax(A, opt.causal_mask);
      const Vector e = X * m_wV / sqrtD;                   // e_b = E[w v(μ, b)]
      s[std::size_t(mu)] = sigma.transpose() * pi;         // s = σᵀπ
      f[mu] = s[std::size_t(mu)].dot(e) / opt.gamma0;      // f = γ0⁻¹ E[w ō]
      // D_ab = π_a σ_ab (e_b − Σ_c σ_ac e_c): the limit of §1.6 with E_ab = π_a e_b.
      Dmat[std::size_t(mu)] = pooled_softmax_backward(sigma, pi, e);
      out.logits.push_back(std::move(A));
      out.attention.push_back(std::move(sigma));
    }
    const Vector delta = data.y - f;
    out.Delta.row(t) = delta.transpose();
    if (t + 1 == T) break;
    Matrix B = Matrix::Zero(D, D);
    Vector b = Vector::Zero(D);
    for (Index mu = 0; mu < P; ++mu) {
      const RowMatrix& X = data.X[std::size_t(mu)];
      B += delta[mu] * X.transpose() * Dmat[std::size_t(mu)] * X;
      b += delta[mu] * X.transpose() * s[std::size_t(mu)];
    }
    B /= double(P) * double(D);
    b /= double(P) * sqrtD;
    Matrix T1 = Matrix::Identity(2 * D, 2 * D);
    T1.block(0, D, D, D) = opt.lr_q * step * B;              // θ^Q += c_Q η γ0 B θ^K
    T1.block(D, 0, D, D) = opt.lr_k * step * B.transpose();  // θ^K += c_K η γ0 Bᵀ θ^Q
    Matrix T2 = Matrix::Identity(D + 1, D + 1);
    T2.block(0, D, D, 1) = opt.lr_v * step * b;              // θ^V += c_V η γ0 b w
    T2.block(D, 0, 1, D) = opt.lr_w * step * b.transpose();  // w += c_w η γ0 b·θ^V
    C1 = (T1 * C1 * T1.transpose()).eval();
    C2 = (T2 * C2 * T2.transpose()).eval();
  }
  out.loss = loss_curve(out.Delta);
  return out;
}

Matrix attention_m0_limit_a_ntk0(const SequenceData& data, const AttentionM0Options& opt) {
  data.validate();
  opt.validate();
  const Index P = data.P, S = data.S, D = data.D;
  const Vector pi = pooling_vector(opt.pool, S);
  const RowMatrix sigma0 = masked_softmax(RowMatrix::Zero(S, S), opt.causal_mask);  // A(0) = 0
  Matrix pooled(P, D);  // row μ: s_μᵀ X_μ, the pooled token of the uniform attention
  for (Index mu = 0; mu < P; ++mu) pooled.row(mu) = (sigma0.transpose() * pi).transpose() * data.X[std::size_t(mu)];
  return (opt.lr_w + opt.lr_v) * pooled * pooled.transpose() / double(D);  // (c_w + c_V) s_μᵀ X_μ X_νᵀ s_ν / D
}

// ---------------------------------------------------------------------------------------------
// The finite network (attention.md §1.2, §1.5, §1.6)

Matrix attention_m0_head_tensor(Index N, Index D, Index head, int tensor, std::uint64_t seed) {
  if (tensor < 0 || tensor > 3) throw std::invalid_argument("attention_m0_head_tensor: tensor must be 0..3");
  RandomStream rs(seed, StreamPurpose::network, 4 * std::uint64_t(head) + std::uint64_t(tensor), std::uint64_t(N));
  Matrix w(N, tensor == 3 ? 1 : D);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = rs.normal();
  return w;
}

std::array<Matrix, 4> attention_m0_head_weights(Index N, Index D, Index head, std::uint64_t seed) {
  return {attention_m0_head_tensor(N, D, head, 0, seed), attention_m0_head_tensor(N, D, head, 1, seed),
          attention_m0_head_tensor(N, D, head, 2, seed), attention_m0_head_tensor(N, D, head, 3, seed)};
}

AttentionM0Network::AttentionM0Network(const SequenceData& data, const AttentionM0Options& opt, Index N, Index H,
                                       std::uint64_t seed)
    : data_(&data), opt_(opt), N_(N), H_(H) {
  data.validate();
  opt.validate();
  throw_violations(head_shape_violations(N, H, "H", 1, "at least one head is needed"));
  X_ = data.stacked_tokens();
  pi_ = pooling_vector(opt.pool, data.S);
  for (Index kappa = 0; kappa < H; ++kappa)
    for (Matrix& w : attention_m0_head_weights(N, data.D, kappa, seed)) weights_.push_back(std::move(w));
  f0_ = Vector::Zero(data.P);
  f0_ = raw_output();
}

double AttentionM0Network::multiplier(int tensor) const {
  // §1.5: c_Q = c_K = N^{2α_A − 2} (1 for α_A = 1, 1/N for α_A = 1/2), c_V = c_w = 1, each
  // times the user's multiplier λ_θ.
  const double lambda[] = {opt_.lr_q, opt_.lr_k, opt_.lr_v, opt_.lr_w};
  return lambda[tensor] * (tensor < 2 ? key_query_rate_factor(opt_.alpha_a, N_) : 1.0);
}

std::pair<Matrix, Matrix> AttentionM0Network::moments(Index head) const {
  const std::size_t base = std::size_t(4 * head);
  const Index D = data_->D;
  Matrix Z1(N_, 2 * D), Z2(N_, D + 1);  // row i: z_i restricted to (θ^Q, θ^K) and (θ^V, w)
  Z1 << weights_[base], weights_[base + 1];
  Z2 << weights_[base + 2], weights_[base + 3];
  return {Z1.transpose() * Z1 / double(N_), Z2.transpose() * Z2 / double(N_)};
}

AttentionM0State AttentionM0Network::evaluate() const {
  const Index P = data_->P, S = data_->S;
  const double inv_sqrtD = 1.0 / std::sqrt(double(data_->D)), logit_scale = std::pow(double(N_), -opt_.alpha_a);
  AttentionM0State st;
  st.f = Vector::Zero(P);
  st.A.resize(std::size_t(P * H_));
  st.sigma.resize(std::size_t(P * H_));
  for (Index kappa = 0; kappa < H_; ++kappa) {
    const std::size_t base = std::size_t(4 * kappa);
    st.q.push_back(X_ * weights_[base].transpose() * inv_sqrtD);      // (P·S)×N
    st.k.push_back(X_ * weights_[base + 1].transpose() * inv_sqrtD);
    st.v.push_back(X_ * weights_[base + 2].transpose() * inv_sqrtD);
    const Vector vw = st.v.back() * weights_[base + 3];  // (P·S): v_{μb}·w
    for (Index mu = 0; mu < P; ++mu) {
      const auto q = st.q.back().middleRows(mu * S, S), k = st.k.back().middleRows(mu * S, S);
      RowMatrix A = logit_scale * q * k.transpose();
      RowMatrix sigma = masked_softmax(A, opt_.causal_mask);
      st.f[mu] += pi_.dot(sigma * vw.segment(mu * S, S));  // Σ_a π_a w·o_a
      st.A[std::size_t(mu * H_ + kappa)] = std::move(A);
      st.sigma[std::size_t(mu * H_ + kappa)] = std::move(sigma);
    }
  }
  st.f = st.f / (opt_.gamma0 * double(N_ * H_)) - f0_;
  return st;
}

Vector AttentionM0Network::raw_output() const { return evaluate().f + f0_; }

double AttentionM0Network::objective() const {
  return 0.5 * (data_->y - evaluate().f).squaredNorm() / double(data_->P);
}

void AttentionM0Network::step(const AttentionM0State& st, const Vector& delta) {
  const Index P = data_->P, S = data_->S, D = data_->D;
  const double N = double(N_), sqrtD = std::sqrt(double(D));
  const double base_rate = opt_.eta * opt_.gamma0 / double(P);  // η γ0 / P: the step per unit backward field
  const double back_scale = std::pow(N, 1.0 - opt_.alpha_a);     // N^{1−α_A} in g^q, g^k
  for (Index kappa = 0; kappa < H_; ++kappa) {
    const std::size_t base = std::size_t(4 * kappa);
    const Matrix& w = weights_[base + 3];
    const Vector vw = st.v[std::size_t(kappa)] * w;  // (P·S): N E_ab / π_a = v_b·w
    // Rows μ·S + a of the per-example contractions, weighted by Δ_μ:
    //   YQ = Δ_μ D_μᵀ X_μ  so that Σ_μ Δ_μ (g^q_μ)ᵀ X_μ = N^{1−α_A} kᵀ YQ;
    //   YK = Δ_μ D_μ X_μ   so that Σ_μ Δ_μ (g^k_μ)ᵀ X_μ = N^{1−α_A} qᵀ YK;
    //   yv = Δ_μ s_μ, s = σᵀπ, since g^v_μ = σᵀ g^o = s wᵀ and Σ_a π_a o_a = vᵀ s.
    RowMatrix YQ(P * S, D), YK(P * S, D);
    Vector yv(P * S);
    for (Index mu = 0; mu < P; ++mu) {
      const RowMatrix& sigma = st.sigma[std::size_t(mu * H_ + kappa)];
      // D_ab = σ_ab (E_ab − Σ_c σ_ac E_ac) with E_ab = π_a (v_b·w)/N   (§1.6)
      const RowMatrix Dm = pooled_softmax_backward(sigma, pi_, vw.segment(mu * S, S)) / N;
      const RowMatrix& X = data_->X[std::size_t(mu)];
      YQ.middleRows(mu * S, S) = delta[mu] * Dm.transpose() * X;
      YK.middleRows(mu * S, S) = delta[mu] * Dm * X;
      yv.segment(mu * S, S) = delta[mu] * sigma.transpose() * pi_;
    }
    const double qk_rate = base_rate * back_scale / sqrtD;
    const Matrix dQ = multiplier(0) * qk_rate * st.k[std::size_t(kappa)].transpose() * YQ;
    const Matrix dK = multiplier(1) * qk_rate * st.q[std::size_t(kappa)].transpose() * YK;
    const Matrix dV = multiplier(2) * (base_rate / sqrtD) * w * (X_.transpose() * yv).transpose();
    const Matrix dw = multiplier(3) * base_rate * st.v[std::size_t(kappa)].transpose() * yv;
    weights_[base] += dQ;
    weights_[base + 1] += dK;
    weights_[base + 2] += dV;
    weights_[base + 3] += dw;
  }
}

AttentionM0Run train_attention_m0(const SequenceData& data, const AttentionM0Options& opt, Index N, Index H,
                                  std::uint64_t seed) {
  AttentionM0Network net(data, opt, N, H, seed);
  AttentionM0Run out = AttentionM0Trajectory::sized(opt.T, data.P, data.S, H);
  for (Index t = 0; t < opt.T; ++t) {
    const AttentionM0State st = net.evaluate();
    const Vector delta = data.y - st.f;
    out.Delta.row(t) = delta.transpose();
    out.logits.insert(out.logits.end(), st.A.begin(), st.A.end());
    out.attention.insert(out.attention.end(), st.sigma.begin(), st.sigma.end());
    if (t + 1 < opt.T) net.step(st, delta);
  }
  out.loss = loss_curve(out.Delta);
  return out;
}

namespace {
void check_comparable(const AttentionM0Trajectory& a, const AttentionM0Trajectory& b, Index t) {
  if (a.T != b.T || a.P != b.P || a.S != b.S || t < 0 || t >= a.T)
    throw std::invalid_argument("attention M0 trajectories of different shapes (T, P, S) or step out of range");
}
}  // namespace

double rms_delta_error(const AttentionM0Trajectory& a, const AttentionM0Trajectory& b, Index t) {
  check_comparable(a, b, t);
  return std::sqrt((a.Delta.row(t) - b.Delta.row(t)).squaredNorm() / double(a.P));
}

double rms_logit_error(const AttentionM0Trajectory& a, const AttentionM0Trajectory& b, Index t) {
  check_comparable(a, b, t);
  double ss = 0;
  for (Index mu = 0; mu < a.P; ++mu) ss += (a.head_mean_A(t, mu) - b.head_mean_A(t, mu)).squaredNorm();
  return std::sqrt(ss / double(a.P * a.S * a.S));
}

}  // namespace dmft
