// Limit A of the attention models M0 and M1 with φ = id (theory attention.md §3.3, §3.4, §3.7),
// solved by the coefficient representation, without Monte Carlo.
//
// In limit A (α_A = 1, N → ∞) every head carries the same deterministic A(t) and, with φ = id,
// every site process is linear in its Gaussian sources with deterministic coefficients. A field
// F(I), I = (t, μ, a), is one row F_I over its site's sources ζ, F(I) = F_I·ζ, with the columns
//
//   residual site (M1):   [χ^E (P·S, cov K^x, static) | w0 (1) | χ^O (T·P·S, cov Φ^o) | ξ^Q | ξ^K | ξ^V (T·P·S, cov G^Q, G^K, G^V)]
//   coordinate site (M1): [χ^Q | χ^K | χ^V (T·P·S each, cov Φ^h) | ξ^O (T·P·S, cov G^u)]
//   coordinate site (M0): [χ^Q | χ^K | χ^V (P·S each, cov K^x, static) | w0 (1)]
//
// (time-indexed blocks in the README's order (t·P + μ)·S + a). Sources of different blocks are
// independent, so a site average is ⟨F(I) G(J)⟩ = F_I C G_Jᵀ with C block-diagonal, and a response
// ⟨∂F(I)/∂ζ(J)⟩ is the coefficient of F_I on ζ(J): every response is a column block of the rows
// (R^h = h on ξ^X, R^u = g^u on χ^O, R^o = o on ξ^O, R^X = g^X on χ^X). The covariances of a
// site's sources are order parameters of the other site; the sweep of §3.7 builds them causally,
// and at step t a row of step ≤ t has coefficients only on sources of steps ≤ t, whose covariance
// entries are already known. Rows of step t are t·P·S … (t+1)·P·S − 1 of every row matrix.
#include "dmft/attention_limit_a.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "dmft/attention_m0_limit_b.hpp"
#include "dmft/error_update.hpp"
#include "dmft/errors.hpp"
#include "dmft/parameter_text.hpp"
#include "attention_site.hpp"

namespace dmft {
namespace {

using attention_site::add_sources;
using attention_site::RowsRef;
using attention_site::SiteSources;

/// Sizes of a sweep: T steps, P sequences, S tokens.
struct Grid {
  Index T, P, S;
  Index ps() const { return P * S; }
  Index tps() const { return T * P * S; }
  Index first(Index t) const { return t * P * S; }  // first row of step t; also the number of rows before it
};

/// Stores K(t, s ≤ t) of a symmetric two-time array (attention_site::fill_two_time) on the grid.
void fill_two_time(RowMatrix& K, const RowMatrix& row, const Grid& g, Index t) {
  attention_site::fill_two_time(K, row, g.first(t), g.ps());
}

// ---------------------------------------------------------------------------------------------
// Causal couplings and order parameters

/// Coefficients of the P·S fields of step t on a partner field's rows: the response block
/// R(t; s) (`response`, P·S × its columns: s < t, or s ≤ t with an equal-time block) plus the
/// gradient convolution of §3.0, c (ηγ0/P) K(t; s) Δ_ν(s) for s < t (`c_eps` = c ηγ0/P;
/// `delta_tokens` holds Δ_ν(s) at index (s·P + ν)·S + b).
RowMatrix coupling(const RowsRef& response, const RowMatrix& K, double c_eps, const Vector& delta_tokens,
                   const Grid& g, Index t) {
  const Index lo = g.first(t);
  RowMatrix out = response;
  out.leftCols(lo).array() +=
      c_eps * (K.block(lo, 0, g.ps(), lo).array().rowwise() * delta_tokens.head(lo).transpose().array());
  return out;
}

/// The equal-time block K(t, t) (P·S × P·S) of a two-time array.
RowMatrix equal_time(const RowMatrix& K, const Grid& g, Index t) {
  return K.block(g.first(t), g.first(t), g.ps(), g.ps());
}

/// P × P·S token weights: row μ holds w_a at columns μ·S + a. With w = π it pools a step's rows
/// into Σ_a π_a F(t, μ, a); with w = 1 it sums tokens.
Matrix token_weights(const Vector& w, const Grid& g) {
  Matrix W = Matrix::Zero(g.P, g.ps());
  for (Index mu = 0; mu < g.P; ++mu) W.block(mu, mu * g.S, 1, g.S) = w.transpose();
  return W;
}

/// Σ_{a,b} M(μa, νb) of an equal-time array (P·S × P·S): a P × P matrix.
Matrix token_sum(const RowMatrix& M, const Grid& g) {
  const Matrix ones = token_weights(Vector::Ones(g.S), g);
  return ones * M * ones.transpose();
}

/// Δ(t, ν) at the indices (t·P + ν)·S + b of step t's tokens, written into `delta_tokens`.
void set_delta(RowMatrix& Delta, Vector& delta_tokens, const Vector& delta, const Grid& g, Index t) {
  Delta.row(t) = delta.transpose();
  for (Index nu = 0; nu < g.P; ++nu) delta_tokens.segment(g.first(t) + nu * g.S, g.S).setConstant(delta[nu]);
}

// ---------------------------------------------------------------------------------------------
// The head (coordinate) site's attention at one step, shared by M0 and M1

/// Rows of the P sequences of one step, each multiplied by its own S×S matrix (or its transpose).
RowMatrix per_sequence(const std::vector<RowMatrix>& M, const RowMatrix& F, const Grid& g, bool transpose) {
  RowMatrix out(F.rows(), F.cols());
  for (Index mu = 0; mu < g.P; ++mu) {
    const RowMatrix& m = M[std::size_t(mu)];
    if (transpose)
      out.middleRows(mu * g.S, g.S).noalias() = m.transpose() * F.middleRows(mu * g.S, g.S);
    else
      out.middleRows(mu * g.S, g.S).noalias() = m * F.middleRows(mu * g.S, g.S);
  }
  return out;
}

struct HeadForward {
  std::vector<RowMatrix> A, sigma;  // P logits A(t, μ) and attention σ(t, μ), S×S
  RowMatrix o;                      // P·S rows of o(t)
};

/// (H2) A(t,μ)_ab = ⟨q(t,μ,a) k(t,μ,b)⟩ (§3.3: the same-sequence block of C^{qk}), σ = softmax_b(A + m);
/// (H3) o(t,μ,a) = Σ_b σ_ab v(t,μ,b).
HeadForward attend(const SiteSources& site, const RowMatrix& q, const RowMatrix& k, const RowMatrix& v, Index live,
                   const Grid& g, bool causal_mask) {
  HeadForward out;
  const RowMatrix qk = site.moment(q, k, live);
  for (Index mu = 0; mu < g.P; ++mu) {
    out.A.push_back(qk.block(mu * g.S, mu * g.S, g.S, g.S));
    out.sigma.push_back(masked_softmax(out.A.back(), causal_mask));
  }
  out.o = per_sequence(out.sigma, v, g, false);
  return out;
}

/// (H5) E(t,μ)_ab = ⟨g^o(t,μ,a) v(t,μ,b)⟩, D_ab = σ_ab (E_ab − Σ_c σ_ac E_ac);
/// (H6) with N^{1−α_A} = 1 (§3.3): g^q = D k, g^k = Dᵀ q, g^v = σᵀ g^o. Returns {g^q, g^k, g^v}.
std::array<RowMatrix, 3> attention_backward(const SiteSources& site, const std::array<RowMatrix, 3>& qkv,
                                            const RowMatrix& go, const std::vector<RowMatrix>& sigma, Index live,
                                            const Grid& g) {
  const RowMatrix gov = site.moment(go, qkv[2], live);
  std::vector<RowMatrix> Dm;
  for (Index mu = 0; mu < g.P; ++mu)
    Dm.push_back(softmax_backward(sigma[std::size_t(mu)], gov.block(mu * g.S, mu * g.S, g.S, g.S)));
  return {per_sequence(Dm, qkv[1], g, false), per_sequence(Dm, qkv[0], g, true), per_sequence(sigma, go, g, true)};
}

void record_attention(AttentionM0Trajectory& out, const HeadForward& head) {
  for (std::size_t mu = 0; mu < head.A.size(); ++mu) {
    out.logits.push_back(head.A[mu]);
    out.attention.push_back(head.sigma[mu]);
  }
}

// ---------------------------------------------------------------------------------------------
// M0 (§3.4): the coordinate site alone

AttentionM0Trajectory solve_m0(const SequenceData& data, const AttentionM0Options& opt, ErrorUpdate update) {
  const Grid g{opt.T, data.P, data.S};
  const Index ps = g.ps(), tps = g.tps();
  const double eps = opt.eta * opt.gamma0 / double(g.P);  // ηγ0/P of the gradient convolution (§3.0)
  const Vector pi = pooling_vector(opt.pool, g.S);
  const Matrix pool = token_weights(pi, g);                   // ō(t, μ) = Σ_a π_a o(t, μ, a)
  const Vector pi_tokens = Vector(pi.replicate(g.P, 1));      // π_a at index μ·S + a
  const RowMatrix Kx = attention_m0_token_kernel(data);
  const RowMatrix unit = RowMatrix::Identity(1, 1);
  const std::array<double, 3> c = {opt.lr_q, opt.lr_k, opt.lr_v};  // α_A = 1: c_X = λ_X (§1.5)

  // Sources: χ^Q, χ^K, χ^V ~ N(0, K^x) static over (μ, a) (finite fan-in D, §3.1) and w0 ~ N(0, 1).
  SiteSources site;
  std::array<Index, 3> chi{};
  for (Index& offset : chi) offset = site.add(ps, &Kx, false);
  const Index w0 = site.add(1, &unit, false);
  const Index n = site.width();

  std::array<RowMatrix, 3> conv;  // c_X [K^x * g^X](t) (static kernel: accumulated step by step)
  for (RowMatrix& m : conv) m = RowMatrix::Zero(ps, n);
  RowMatrix w = RowMatrix::Zero(1, n);
  w(0, w0) = 1.0;
  RowMatrix O(tps, n);                                      // o rows of every step (for Φ^o)
  std::array<RowMatrix, 3> grad_rows{RowMatrix(tps, n), RowMatrix(tps, n), RowMatrix(tps, n)};  // g^q, g^k, g^v

  AttentionM0Trajectory out = AttentionM0Trajectory::sized(g.T, g.P, g.S, 1);
  out.Delta.row(0) = data.y.transpose();  // Δ(0) = y in both updates (f(0) = 0 exactly)
  for (Index t = 0; t < g.T; ++t) {
    const Index lo = g.first(t);
    // q(I) = χ^Q(μ,a) + c_Q [K^x * g^q](I); k, v likewise (§3.4).
    std::array<RowMatrix, 3> qkv = conv;
    for (int X = 0; X < 3; ++X) add_sources(qkv[std::size_t(X)], chi[std::size_t(X)]);
    // (H2), (H3): A, σ, o.
    HeadForward head = attend(site, qkv[0], qkv[1], qkv[2], n, g, opt.causal_mask);
    O.middleRows(lo, ps) = head.o;
    record_attention(out, head);
    const RowMatrix obar = pool * head.o;  // ō(t, μ)
    // Exact output (§3.4): f_μ(t) = γ0⁻¹ ⟨w(t) ō(t, μ)⟩, Δ(t) = y − f(t).
    if (update == ErrorUpdate::exact) out.Delta.row(t) = (data.y - site.moment(obar, w, n).col(0) / opt.gamma0).transpose();
    // M0: g^o(t, μ, a) = π_a w(t); then (H5), (H6).
    const RowMatrix go = pi_tokens * w;
    const std::array<RowMatrix, 3> grads = attention_backward(site, qkv, go, head.sigma, n, g);
    for (std::size_t X = 0; X < 3; ++X) grad_rows[X].middleRows(lo, ps) = grads[X];
    // NTK (§3.4): K(t)_μν = c_w ⟨ō(μ) ō(ν)⟩ + Σ_X c_X Σ_ab G^X(t,μa; t,νb) K^x(μa, νb).
    Matrix K = opt.lr_w * site.moment(obar, obar, n);
    for (std::size_t X = 0; X < 3; ++X) K += c[X] * token_sum(site.moment(grads[X], grads[X], n).cwiseProduct(Kx), g);
    out.ntk.push_back(K);
    if (t + 1 == g.T) break;
    const Vector delta = out.Delta.row(t).transpose();
    // w(t+1) = w(t) + c_w (ηγ0/P) Σ_ν Δ_ν(t) Σ_a π_a o(t, ν, a)  (§3.4)
    w += opt.lr_w * eps * delta.transpose() * obar;
    // c_X [K^x * g^X](t+1) = c_X [K^x * g^X](t) + c_X (ηγ0/P) Σ_{ν,b} K^x(μa, νb) Δ_ν(t) g^X(t, ν, b)
    Vector delta_tokens(ps);
    for (Index nu = 0; nu < g.P; ++nu) delta_tokens.segment(nu * g.S, g.S).setConstant(delta[nu]);
    for (std::size_t X = 0; X < 3; ++X)
      conv[X].noalias() += c[X] * eps * (Kx * delta_tokens.asDiagonal()) * grads[X];
    // ntk update (README): Δ(t+1) = Δ(t) − (η/P) K(t) Δ(t).
    if (update == ErrorUpdate::ntk) out.Delta.row(t + 1) = (delta - (opt.eta / double(g.P)) * (K * delta)).transpose();
  }
  out.loss = loss_curve(out.Delta);
  // Two-time order parameters Φ^o = ⟨o o⟩, G^X = ⟨g^X g^X⟩ (§3.2 table), all (T·P·S)².
  out.two_time["Phi_o"] = site.moment(O, O, n);
  O.resize(0, 0);
  const char* names[3] = {"G_Q", "G_K", "G_V"};
  for (std::size_t X = 0; X < 3; ++X) {
    out.two_time[names[X]] = site.moment(grad_rows[X], grad_rows[X], n);
    grad_rows[X].resize(0, 0);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// M1 (§3.2 in limit A, §3.3): residual site + coordinate site, one causal sweep (§3.7)

class M1Sweep {
 public:
  M1Sweep(const SequenceData& data, const AttentionM1Options& opt, ErrorUpdate update);
  M1Sweep(const M1Sweep&) = delete;  // the sites hold pointers to the order parameters below
  M1Sweep& operator=(const M1Sweep&) = delete;

  AttentionM0Trajectory run();

 private:
  void residual_forward(Index t);
  void head_forward(Index t);
  void residual_readout(Index t);
  void head_backward(Index t);
  void residual_backward(Index t);
  void effective_ntk(Index t);

  Index live(Index t) const { return g_.first(t + 1); }

  // Settings.
  const SequenceData& data_;
  ErrorUpdate update_;
  Grid g_;
  bool causal_mask_;
  double eps_, gamma0_, eta_;  // eps = ηγ0/P
  double rho_, beta_, c_E_, c_O_, c_w_;
  std::array<double, 3> c_;    // c_Q, c_K, c_V (α_A = 1: c_X = λ_X)
  Vector pi_tokens_;           // π_a at index μ·S + a
  Matrix pool_;                // P × P·S: Σ_a π_a F(t, μ, a)
  RowMatrix Kx_, unit_;

  // Order parameters (two-time, (T·P·S)², filled causally). The responses are not stored: they are
  // column blocks of the coefficient rows below.
  RowMatrix Phi_h_, Phi_o_, G_u_;
  std::array<RowMatrix, 3> G_;  // G^Q, G^K, G^V

  // Sites and the offsets of their source blocks.
  SiteSources res_, coord_;
  Index chi_E_ = 0, w0_ = 0, chi_O_ = 0, xi_O_ = 0;
  std::array<Index, 3> xi_{}, chi_{};  // residual ξ^X, coordinate χ^X

  // Coefficient rows kept for all steps (T·P·S × site width).
  RowMatrix h_, gu_;                 // residual: h (R^h = h on ξ^X), g^u (R^u = g^u on χ^O)
  RowMatrix o_;                      // coordinate: o (R^o = o on ξ^O)
  std::array<RowMatrix, 3> grad_;    // coordinate: g^q, g^k, g^v (R^X = g^X on χ^X)

  // Running state.
  RowMatrix embed_conv_;             // c_E [K^x * g^h](t), P·S × residual width
  RowMatrix w_, rbar_;               // w(t) (1 × width); Σ_a π_a r(t, μ, a) (P × width)
  std::array<RowMatrix, 3> qkv_;     // q, k, v of the current step
  HeadForward head_;
  RowMatrix Phi_r_tt_, G_h_tt_;      // equal-time Φ^r(t,t) = Φ^φ(t,t) and G^h(t,t) for the NTK
  Vector delta_tokens_;              // Δ_ν(s) at index (s·P + ν)·S + b
  AttentionM0Trajectory out_;
};

M1Sweep::M1Sweep(const SequenceData& data, const AttentionM1Options& opt, ErrorUpdate update)
    : data_(data), update_(update), g_{opt.base.T, data.P, data.S}, causal_mask_(opt.base.causal_mask),
      eps_(opt.base.eta * opt.base.gamma0 / double(data.P)), gamma0_(opt.base.gamma0), eta_(opt.base.eta),
      rho_(opt.rho), beta_(opt.beta), c_E_(opt.lr_e), c_O_(opt.lr_o), c_w_(opt.base.lr_w),
      c_{opt.base.lr_q, opt.base.lr_k, opt.base.lr_v} {
  const Index ps = g_.ps(), tps = g_.tps();
  const Vector pi = pooling_vector(opt.base.pool, g_.S);
  pi_tokens_ = pi.replicate(g_.P, 1);
  pool_ = token_weights(pi, g_);
  Kx_ = attention_m0_token_kernel(data);
  unit_ = RowMatrix::Identity(1, 1);
  Phi_h_ = Phi_o_ = G_u_ = RowMatrix::Zero(tps, tps);
  for (RowMatrix& G : G_) G = RowMatrix::Zero(tps, tps);

  // §3.3 residual site: [χ^E (static, K^x) | w0 | χ^O (Φ^o) | ξ^Q | ξ^K | ξ^V (G^Q, G^K, G^V)].
  chi_E_ = res_.add(ps, &Kx_, false);
  w0_ = res_.add(1, &unit_, false);
  chi_O_ = res_.add(tps, &Phi_o_, true);
  for (std::size_t X = 0; X < 3; ++X) xi_[X] = res_.add(tps, &G_[X], true);
  // §3.3 coordinate site: [χ^Q | χ^K | χ^V (Φ^h each) | ξ^O (G^u)].
  for (std::size_t X = 0; X < 3; ++X) chi_[X] = coord_.add(tps, &Phi_h_, true);
  xi_O_ = coord_.add(tps, &G_u_, true);

  h_ = gu_ = RowMatrix::Zero(tps, res_.width());
  o_ = RowMatrix::Zero(tps, coord_.width());
  for (RowMatrix& m : grad_) m = RowMatrix::Zero(tps, coord_.width());
  embed_conv_ = RowMatrix::Zero(ps, res_.width());
  w_ = RowMatrix::Zero(1, res_.width());
  w_(0, w0_) = 1.0;
  delta_tokens_ = Vector::Zero(tps);
  out_ = AttentionM0Trajectory::sized(g_.T, g_.P, g_.S, 1);
}

/// Step 1 (§3.7): (R1) h(I) = χ^E(μ,a) + c_E [K^x * g^h](I); Φ^h(t, s ≤ t) = ⟨h(t) h(s)⟩_res.
/// R^h(t; s) = ⟨∂h(t)/∂ξ^X(s)⟩ is the block of h's rows on ξ^X (strictly causal).
void M1Sweep::residual_forward(Index t) {
  RowMatrix h = embed_conv_;
  add_sources(h, chi_E_);
  h_.middleRows(g_.first(t), g_.ps()) = h;
  fill_two_time(Phi_h_, res_.moment(h, h_.topRows(live(t)), live(t)), g_, t);
}

/// Step 2: (H1) q(I) = χ^Q(I) + Σ_{s<t} R^h_Q(I;J) g^q(J) + c_Q [Φ^h * g^q](I), k and v likewise
/// with (χ^K, R^h_K, g^k, c_K), (χ^V, R^h_V, g^v, c_V); (H2), (H3); Φ^o(t, s ≤ t) = ⟨o(t) o(s)⟩.
/// R^o(t; s) = ⟨∂o(t)/∂ξ^O(s)⟩ is the block of o's rows on ξ^O (strictly causal).
void M1Sweep::head_forward(Index t) {
  const Index lo = g_.first(t), ps = g_.ps();
  for (std::size_t X = 0; X < 3; ++X) {
    const RowMatrix C = coupling(h_.block(lo, xi_[X], ps, lo), Phi_h_, c_[X] * eps_, delta_tokens_, g_, t);
    qkv_[X] = C * grad_[X].topRows(lo);
    add_sources(qkv_[X], chi_[X] + lo);
  }
  head_ = attend(coord_, qkv_[0], qkv_[1], qkv_[2], live(t), g_, causal_mask_);
  o_.middleRows(lo, ps) = head_.o;
  record_attention(out_, head_);
  fill_two_time(Phi_o_, coord_.moment(head_.o, o_.topRows(live(t)), live(t)), g_, t);
}

/// Step 3: (R2) u(I) = χ^O(I) + Σ_{s<t} R^o(I;J) g^u(J) + c_O [Φ^o * g^u](I); (R3) r = ρ h + β u;
/// (R4) w(t) = w(t−1) + c_w (ηγ0/P) Σ_ν Δ_ν(t−1) Σ_a π_a r(t−1, ν, a) (φ = id);
/// (R5) g^r = π_a w(t), g^u = β g^r; G^u(t, s ≤ t) = ⟨g^u(t) g^u(s)⟩; exact output
/// f_μ(t) = γ0⁻¹ ⟨w(t) Σ_a π_a r(t, μ, a)⟩, Δ(t) = y − f(t) (§3.2). R^u(t; s) = ⟨∂g^u(t)/∂χ^O(s)⟩ is
/// the block of g^u's rows on χ^O: with φ = id it has no equal-time block (g^u(t) sees χ^O(s < t) only).
void M1Sweep::residual_readout(Index t) {
  const Index lo = g_.first(t), ps = g_.ps();
  const RowMatrix C = coupling(o_.block(lo, xi_O_, ps, lo), Phi_o_, c_O_ * eps_, delta_tokens_, g_, t);
  RowMatrix u = C * gu_.topRows(lo);
  add_sources(u, chi_O_ + lo);
  const RowMatrix r = rho_ * h_.middleRows(lo, ps) + beta_ * u;
  if (t > 0) w_.noalias() += c_w_ * eps_ * out_.Delta.row(t - 1) * rbar_;
  rbar_ = pool_ * r;
  const RowMatrix gu = beta_ * pi_tokens_ * w_;
  gu_.middleRows(lo, ps) = gu;
  fill_two_time(G_u_, res_.moment(gu, gu_.topRows(live(t)), live(t)), g_, t);
  Phi_r_tt_ = res_.moment(r, r, live(t));
  if (update_ == ErrorUpdate::exact)
    set_delta(out_.Delta, delta_tokens_, data_.y - res_.moment(rbar_, w_, live(t)).col(0) / gamma0_, g_, t);
}

/// Step 4: (H4) g^o(I) = ξ^O(I) + Σ_{s≤t} R^u(I;J) o(J) + c_O [G^u * o](I); (H5), (H6);
/// G^X(t, s ≤ t) = ⟨g^X(t) g^X(s)⟩. R^X(t; s) = ⟨∂g^X(t)/∂χ^X(s)⟩ is the block of g^X's rows on
/// χ^X (strictly causal in limit A: one coordinate cannot move A or E, §3.3).
void M1Sweep::head_backward(Index t) {
  const Index lo = g_.first(t), ps = g_.ps();
  const RowMatrix C = coupling(gu_.block(lo, chi_O_, ps, live(t)), G_u_, c_O_ * eps_, delta_tokens_, g_, t);
  RowMatrix go = C * o_.topRows(live(t));
  add_sources(go, xi_O_ + lo);
  const std::array<RowMatrix, 3> grads = attention_backward(coord_, qkv_, go, head_.sigma, live(t), g_);
  for (std::size_t X = 0; X < 3; ++X) {
    grad_[X].middleRows(lo, ps) = grads[X];
    fill_two_time(G_[X], coord_.moment(grads[X], grad_[X].topRows(live(t)), live(t)), g_, t);
  }
}

/// Step 5: (R6) z^X(I) = ξ^X(I) + Σ_{s≤t} R^X(I;J) h(J) + c_X [G^X * h](I); (R7) g^h = ρ g^r + Σ_X z^X;
/// the equal-time G^h(t, t); then the embedding's convolution for step t+1,
/// c_E [K^x * g^h](t+1) = c_E [K^x * g^h](t) + c_E (ηγ0/P) K^x Δ(t) g^h(t).
void M1Sweep::residual_backward(Index t) {
  const Index lo = g_.first(t), ps = g_.ps();
  RowMatrix gh = rho_ * pi_tokens_ * w_;
  for (std::size_t X = 0; X < 3; ++X) {
    const RowMatrix C = coupling(grad_[X].block(lo, chi_[X], ps, live(t)), G_[X], c_[X] * eps_, delta_tokens_, g_, t);
    gh.noalias() += C * h_.topRows(live(t));
    add_sources(gh, xi_[X] + lo);
  }
  G_h_tt_ = res_.moment(gh, gh, live(t));
  if (t + 1 < g_.T)
    embed_conv_.noalias() += c_E_ * eps_ * (Kx_ * delta_tokens_.segment(lo, ps).asDiagonal()) * gh;
}

/// Step 6: the NTK of §3.2 with φ = id (Φ^φ = Φ^r), all kernels at (t, μa; t, νb):
/// K(t)_μν = Σ_ab [c_w π_a π_b Φ^r + c_O G^u Φ^o + Σ_X c_X G^X Φ^h + c_E G^h K^x];
/// ntk update Δ(t+1) = Δ(t) − (η/P) K(t) Δ(t).
void M1Sweep::effective_ntk(Index t) {
  const RowMatrix Phi_h = equal_time(Phi_h_, g_, t);
  Matrix K = c_w_ * pool_ * Phi_r_tt_ * pool_.transpose();
  K += c_O_ * token_sum(equal_time(G_u_, g_, t).cwiseProduct(equal_time(Phi_o_, g_, t)), g_);
  for (std::size_t X = 0; X < 3; ++X) K += c_[X] * token_sum(equal_time(G_[X], g_, t).cwiseProduct(Phi_h), g_);
  K += c_E_ * token_sum(G_h_tt_.cwiseProduct(Kx_), g_);
  out_.ntk.push_back(K);
  if (update_ == ErrorUpdate::ntk && t + 1 < g_.T) {
    const Vector delta = out_.Delta.row(t).transpose();
    set_delta(out_.Delta, delta_tokens_, delta - (eta_ / double(g_.P)) * (K * delta), g_, t + 1);
  }
}

AttentionM0Trajectory M1Sweep::run() {
  if (update_ == ErrorUpdate::ntk) set_delta(out_.Delta, delta_tokens_, data_.y, g_, 0);  // Δ(0) = y
  for (Index t = 0; t < g_.T; ++t) {  // the order of §3.7
    residual_forward(t);
    head_forward(t);
    residual_readout(t);
    head_backward(t);
    residual_backward(t);
    effective_ntk(t);
  }
  out_.loss = loss_curve(out_.Delta);
  const Index tps = g_.tps();
  // Responses: column blocks of the coefficient rows (§3.3). R^h is the same on ξ^Q, ξ^K, ξ^V
  // (they enter only through g^h); the block on ξ^Q is reported.
  out_.two_time["R_h"] = h_.middleCols(xi_[0], tps);
  out_.two_time["R_u"] = gu_.middleCols(chi_O_, tps);
  out_.two_time["R_o"] = o_.middleCols(xi_O_, tps);
  const char* response_names[3] = {"R_Q", "R_K", "R_V"};
  const char* kernel_names[3] = {"G_Q", "G_K", "G_V"};
  for (std::size_t X = 0; X < 3; ++X) out_.two_time[response_names[X]] = grad_[X].middleCols(chi_[X], tps);
  out_.two_time["Phi_h"] = std::move(Phi_h_);
  out_.two_time["Phi_o"] = std::move(Phi_o_);
  out_.two_time["G_u"] = std::move(G_u_);
  for (std::size_t X = 0; X < 3; ++X) out_.two_time[kernel_names[X]] = std::move(G_[X]);
  return std::move(out_);
}

}  // namespace

AttentionM0Trajectory attention_limit_a(const SequenceData& data, const AttentionM1Options& opt, AttentionBlock block,
                                        ErrorUpdate update) {
  data.validate();
  if (block == AttentionBlock::m0)
    opt.base.validate();  // M0 has no ρ, β, φ, λ_E, λ_O
  else
    opt.validate();
  if (opt.base.alpha_a != 1.0)
    throw InputError("alpha-a", format_value(opt.base.alpha_a),
                     "limit A (N -> infinity, heads collapse) exists only for alpha_A = 1 (attention.md §2)");
  if (block == AttentionBlock::m0) return solve_m0(data, opt.base, update);
  if (opt.phi.kind() != ActivationKind::linear)
    throw InputError("activation", opt.phi.name(),
                     "limit A with a nonlinear φ needs Monte Carlo residual sites, not implemented");
  M1Sweep sweep(data, opt, update);
  return sweep.run();
}

double attention_limit_a_bytes(Index T, Index P, Index S, AttentionBlock block) {
  const double ps = double(P * S), tps = double(T) * ps;
  // Attention record (2 T·P S×S), NTK (T P×P), Δ.
  const double record = 2.0 * tps * double(S) + double(T) * double(P * P) + double(T * P);
  if (block == AttentionBlock::m0) {
    const double n = 3.0 * ps + 1.0;
    // Rows o, g^q, g^k, g^v of every step; 4 two-time arrays; per-step rows (q, k, v, conv, g^o,
    // grads, o) and the P·S × P·S moments.
    return 8.0 * (4.0 * tps * n + 4.0 * tps * tps + 14.0 * ps * n + 8.0 * ps * ps + record);
  }
  const double n_res = ps + 1.0 + 4.0 * tps, n_coord = 4.0 * tps;
  // Rows h, g^u (residual) and o, g^q, g^k, g^v (coordinate) of every step; 6 two-time kernels and,
  // at the end, the 6 responses copied out of the rows; per-step rows (h, u, r, g^u, g^h, conv,
  // w, r̄ and q, k, v, o, g^o, grads) with their coupling matrices and products F·C.
  return 8.0 * (2.0 * tps * n_res + 4.0 * tps * n_coord + 12.0 * tps * tps + 10.0 * ps * (n_res + n_coord) +
                4.0 * ps * tps + record);
}

}  // namespace dmft
