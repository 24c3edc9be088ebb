// Limit B of M1 with a frozen embedding and φ = id (theory attention.md §3.2, §3.7, §4.5); the
// reduction and the sweep are described in the header.
//
// Layouts. Per head (N coordinates): θ^X (N×D, row i = θ^X_i), the standard normals z (N×T) of ζ_i,
// the output history o (N × T·P·S, column (t·P + μ)·S + a) and its pooled history ō (N × T·P, column
// t·P + μ). Tangents carry one column per direction: dθ^X ((N·D) × n_d, row i·D + l) and the pooled
// output tangents dō ((N·T·P) × n_d, row i·T·P + t·P + μ). Per-step tangent fields are
// (N·P·S) × n_d with row i·P·S + μ·S + a, and (P·S·S) × n_d with row (μ·S + a)·S + b for σ̇, Ḋ.
// Directions are ordered by their source time s, so the directions live at step t are a prefix.
#include "dmft/attention_m1_limit_b.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dmft/attention_m0_limit_b.hpp"
#include "dmft/error_update.hpp"
#include "dmft/errors.hpp"
#include "attention_site.hpp"
#include "dmft/parameter_text.hpp"
#include "dmft/rng.hpp"

namespace dmft {
namespace {

// Stream "layer" id of the heads' draws (purpose source, index = head).
constexpr std::uint64_t kHeadStream = 7300;
// Step of the central differences of M1HeadResponse::finite_difference (ω is O(1)).
constexpr double kFiniteDifferenceStep = 1e-5;

/// Settings and data of a solve.
struct Setup {
  Index T, P, S, D, N, ps, tps, tp;
  double logit_scale;  // N^{−α_A} of (H2)
  double back_scale;   // N^{1−α_A} of (H6)
  double eps;          // ηγ0/P of the gradient convolution (§3.0)
  double beta, rho, gamma0, c_O, c_w;
  std::array<double, 3> c;  // c_Q = λ_Q N^{2α_A−2}, c_K = λ_K N^{2α_A−2}, c_V = λ_V (§1.5)
  bool causal;
  Vector pi;     // S
  RowMatrix Xs;  // P·S × D: x_{μa}/√D
  RowMatrix Kx;  // P·S × P·S

  Setup(const SequenceData& data, const AttentionM1Options& opt, Index heads_dim)
      : T(opt.base.T), P(data.P), S(data.S), D(data.D), N(heads_dim), ps(P * S), tps(T * P * S), tp(T * P),
        logit_scale(std::pow(double(heads_dim), -opt.base.alpha_a)),
        back_scale(std::pow(double(heads_dim), 1.0 - opt.base.alpha_a)),
        eps(opt.base.eta * opt.base.gamma0 / double(data.P)), beta(opt.beta), rho(opt.rho), gamma0(opt.base.gamma0),
        c_O(opt.lr_o), c_w(opt.base.lr_w), causal(opt.base.causal_mask), pi(pooling_vector(opt.base.pool, data.S)),
        Xs(data.stacked_tokens() / std::sqrt(double(data.D))), Kx(attention_m0_token_kernel(data)) {
    const double qk = key_query_rate_factor(opt.base.alpha_a, N);
    c = {opt.base.lr_q * qk, opt.base.lr_k * qk, opt.base.lr_v};
  }
};

/// Tangent directions: one per coordinate i and source time s < T − 1 (per_time: a perturbation of
/// ω_i(s), i.e. g^o_i(s,ν,b) += β π_b) or per (i, s, ν, b) (per_token: g^o_i(s,ν,b) += 1). Column
/// s·unit + i, resp. s·unit + (ν·S + b)·N + i.
struct Directions {
  bool per_token;
  Index unit, count, last;  // columns per source time; all columns; T − 1
  Directions(const Setup& su, bool token)
      : per_token(token), unit(token ? su.N * su.ps : su.N), count(unit * (su.T - 1)), last(su.T - 1) {}
  /// Columns of the sources s ≤ t (those live from the backward pass of step t on).
  Index live(Index t) const { return std::min(t + 1, last) * unit; }
};

/// One sampled head: its parameters, its ζ normals, its output history and (optionally) tangents.
struct Head {
  std::array<RowMatrix, 3> theta;   // θ^Q, θ^K, θ^V: N × D
  RowMatrix z;                      // N × T
  RowMatrix o;                      // N × T·P·S
  RowMatrix obar;                   // N × T·P
  std::array<RowMatrix, 3> dtheta;  // (N·D) × n_d (empty without tangents)
  RowMatrix dobar;                  // (N·T·P) × n_d
};

Head draw_head(const Setup& su, Index head, std::uint64_t seed, const Directions* dir) {
  RandomStream rs(seed, StreamPurpose::source, kHeadStream, std::uint64_t(head));
  Head h;
  for (RowMatrix& th : h.theta) {
    th.resize(su.N, su.D);
    for (Index k = 0; k < th.size(); ++k) th.data()[k] = rs.normal();  // row-major: θ_i, i = 0 … N − 1
  }
  h.z.resize(su.N, su.T);
  for (Index t = 0; t < su.T; ++t)
    for (Index i = 0; i < su.N; ++i) h.z(i, t) = rs.normal();  // time-major: a longer T extends the draws
  h.o = RowMatrix::Zero(su.N, su.tps);
  h.obar = RowMatrix::Zero(su.N, su.tp);
  if (dir) {
    for (RowMatrix& d : h.dtheta) d = RowMatrix::Zero(su.N * su.D, dir->count);
    h.dobar = RowMatrix::Zero(su.N * su.tp, dir->count);
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// The residual site of one solve (the coupled one or a replica): coefficient rows over its
// sources [χ^E (P·S) | w0 | χ^O (T·P·S)], exact.

class ResidualSite {
 public:
  ResidualSite(const Setup& su, const Vector& y)
      : su_(&su), y_(y), nr_(su.ps + 1 + su.tps), w0_(su.ps), chi_O_(su.ps + 1) {
    Phi_o_ = RowMatrix::Zero(su.tps, su.tps);
    W_ = RowMatrix::Zero(su.T, su.T);
    L_ = RowMatrix::Zero(su.T, su.T);
    omega_ = RowMatrix::Zero(su.T, su.tp);
    Delta_ = RowMatrix::Zero(su.T, su.P);
    w_ = RowMatrix::Zero(su.T, nr_);
    rbar_ = RowMatrix::Zero(su.P, nr_);
  }

  /// Step t, given the head averages Φ^o(t, s ≤ t) (`phi`, P·S × ≥ (t+1)·P·S) and
  /// R̃(t; s < t) = ∂o(t)/∂ω(s) (`resp`, P·S × ≥ t): (R2)–(R5), f(t), Δ(t), W(t, ≤ t), the ω
  /// coefficients of step t and row t of the Cholesky factor of W.
  void advance(Index t, const RowMatrix& phi, const RowMatrix& resp) {
    const Setup& su = *su_;
    const Index ps = su.ps, lo = t * ps, live = lo + ps, P = su.P, S = su.S;
    // Φ^o(t, s < t), its transpose and the symmetrised equal-time block.
    attention_site::fill_two_time(Phi_o_, phi, lo, ps);
    // (R4) w(t) = w(t−1) + c_w (ηγ0/P) Σ_ν Δ_ν(t−1) Σ_a π_a r(t−1, ν, a) (φ = id).
    if (t == 0)
      w_(0, w0_) = 1.0;
    else
      w_.row(t) = w_.row(t - 1) + su.c_w * su.eps * Delta_.row(t - 1) * rbar_;
    // (R2) u(t,μ,a) = χ^O(t,μ,a) + Σ_{s<t} [R̃(t,μa; s) + c_O β (ηγ0/P) Σ_{ν,b} Φ^o(t,μa; s,νb) Δ_ν(s) π_b] w(s)
    // (R^o g^u with g^u(s,ν,b) = β π_b w(s), and c_O [Φ^o * g^u]).
    RowMatrix u = RowMatrix::Zero(ps, nr_);
    for (Index r = 0; r < ps; ++r) u(r, chi_O_ + lo + r) = 1.0;
    if (t > 0) {
      RowMatrix pooled = RowMatrix::Zero(lo, t);  // (s,ν,b) → s: Δ_ν(s) π_b
      for (Index s = 0; s < t; ++s)
        for (Index nu = 0; nu < P; ++nu)
          for (Index b = 0; b < S; ++b) pooled((s * P + nu) * S + b, s) = Delta_(s, nu) * su.pi[b];
      RowMatrix coef = resp.leftCols(t);
      coef.noalias() += su.c_O * su.beta * su.eps * Phi_o_.block(lo, 0, ps, lo) * pooled;
      u.noalias() += coef * w_.topRows(t);
    }
    // (R3) r = ρ h + β u with h = χ^E (frozen embedding); r̄(t, μ) = Σ_a π_a r(t, μ, a).
    RowMatrix r = su.beta * u;
    for (Index k = 0; k < ps; ++k) r(k, k) += su.rho;
    for (Index mu = 0; mu < P; ++mu) rbar_.row(mu) = su.pi.transpose() * r.middleRows(mu * S, S);
    // Exact output f_μ(t) = γ0⁻¹ ⟨w(t) r̄(t, μ)⟩ (exactly 0 at t = 0: w(0) = w0, r̄(0) has no w0 part).
    const RowMatrix f = moment(rbar_, w_.row(t), live);
    for (Index mu = 0; mu < P; ++mu) Delta_(t, mu) = y_[mu] - f(mu, 0) / su.gamma0;
    // W(t, s ≤ t) = ⟨w(t) w(s)⟩.
    const RowMatrix Wt = moment(w_.row(t), w_.topRows(t + 1), live);
    for (Index s = 0; s <= t; ++s) W_(t, s) = W_(s, t) = Wt(0, s);
    // ρ_w(t; s,ν,b) = λ_t(s,ν) π_b; ω's coefficient on ō_i(s,ν):
    // λ_t(s,ν) + c_O β (ηγ0/P) W(t,s) Δ_ν(s).
    const double pi2 = su.pi.squaredNorm();
    for (Index s = 0; s < t; ++s)
      for (Index nu = 0; nu < P; ++nu) {
        const auto rw = w_.row(t).segment(chi_O_ + (s * P + nu) * S, S);
        const double lambda = rw.dot(su.pi.transpose()) / pi2;
        if ((rw - lambda * su.pi.transpose()).norm() > 1e-9 * (1.0 + rw.norm()))
          throw std::logic_error("attention_m1_limit_b: rho_w is not of the pooled form lambda pi_b");
        omega_(t, s * P + nu) = lambda + su.c_O * su.beta * su.eps * W_(t, s) * Delta_(s, nu);
      }
    // Row t of the causal Cholesky factor of W (a direction already fixed by the past gets 0).
    for (Index s = 0; s < t; ++s) {
      const double v = W_(t, s) - L_.row(t).head(s).dot(L_.row(s).head(s));
      L_(t, s) = L_(s, s) > 1e-8 * std::sqrt(std::max(W_(s, s), 0.0)) ? v / L_(s, s) : 0.0;
    }
    L_(t, t) = std::sqrt(std::max(W_(t, t) - L_.row(t).head(t).squaredNorm(), 0.0));
  }

  const double* delta(Index t) const { return Delta_.row(t).data(); }
  const double* chol(Index t) const { return L_.row(t).data(); }
  const double* omega(Index t) const { return omega_.row(t).data(); }
  const RowMatrix& Delta() const { return Delta_; }
  const RowMatrix& W() const { return W_; }
  RowMatrix& Phi_o() { return Phi_o_; }

 private:
  /// ⟨F G⟩ = F C Gᵀ over the sources [χ^E (P·S, cov K^x) | w0 (1) | χ^O (T·P·S, cov Φ^o)], χ^O
  /// restricted to its first `live` entries. (The block list is built per call: it points into
  /// this object, which is copied and moved with its batch.)
  RowMatrix moment(const attention_site::RowsRef& F, const attention_site::RowsRef& G, Index live) const {
    attention_site::SiteSources sources;
    sources.add(su_->ps, &su_->Kx, false);
    sources.add(1, &unit_, false);
    sources.add(su_->tps, &Phi_o_, true);
    return sources.moment(F, G, live);
  }

  const Setup* su_;
  Vector y_;
  Index nr_, w0_, chi_O_;
  RowMatrix unit_ = RowMatrix::Ones(1, 1);  // the covariance of w0
  RowMatrix Phi_o_, W_, L_, omega_, Delta_;
  RowMatrix w_;     // T × n_r: the rows of w(t)
  RowMatrix rbar_;  // P × n_r: r̄ of the last step
};

// ---------------------------------------------------------------------------------------------
// The head site

/// Per-batch work space of a head's step.
struct Scratch {
  std::array<RowMatrix, 3> f;      // q, k, v: N × P·S
  std::vector<RowMatrix> A, sigma; // P matrices S×S
  RowMatrix go;                    // N × P·S
  std::array<RowMatrix, 3> grad;   // g^q, g^k, g^v: N × P·S
  std::vector<RowMatrix> E, Dm;    // P matrices S×S
  std::array<RowMatrix, 3> df;     // q̇, k̇, v̇: (N·P·S) × n_d
  RowMatrix dsigma, dD;            // (P·S·S) × n_d
  RowMatrix dO, dgo;               // (N·P·S) × n_d
  std::array<RowMatrix, 3> dgrad;  // (N·P·S) × n_d
  RowMatrix dA, dE;                // S × n_d
  Eigen::RowVectorXd row1, row2;   // 1 × n_d
  Vector omega;                    // N
  std::array<RowMatrix, 3> Xd;     // P·S × D: c_X (ηγ0/P) diag(Δ) Xs

  Scratch(const Setup& su, Index nd) {
    for (RowMatrix& m : f) m.resize(su.N, su.ps);
    A.assign(std::size_t(su.P), RowMatrix(su.S, su.S));
    sigma = E = Dm = A;
    go.resize(su.N, su.ps);
    for (RowMatrix& m : grad) m.resize(su.N, su.ps);
    if (nd > 0) {
      for (RowMatrix& m : df) m = RowMatrix::Zero(su.N * su.ps, nd);
      dsigma = dD = RowMatrix::Zero(su.ps * su.S, nd);
      dO = dgo = RowMatrix::Zero(su.N * su.ps, nd);
      for (RowMatrix& m : dgrad) m = RowMatrix::Zero(su.N * su.ps, nd);
      dA = dE = RowMatrix::Zero(su.S, nd);
      row1 = row2 = Eigen::RowVectorXd::Zero(nd);
    }
    omega.resize(su.N);
    for (RowMatrix& m : Xd) m.resize(su.ps, su.D);
  }
};

/// (H1)–(H3) of step t with the head's current θ: q, k, v, A, σ (in `sc`) and o(t), ō(t) (in the
/// head's history); with na > 0 the tangents of the first na directions: q̇, k̇, v̇, σ̇, ȯ (in `sc`)
/// and dō(t) (in the head).
void forward(const Setup& su, Head& h, Index t, Index na, Scratch& sc) {
  const Index N = su.N, P = su.P, S = su.S, ps = su.ps;
  for (std::size_t X = 0; X < 3; ++X) sc.f[X].noalias() = h.theta[X] * su.Xs.transpose();
  for (Index mu = 0; mu < P; ++mu) {
    const auto q = sc.f[0].middleCols(mu * S, S), k = sc.f[1].middleCols(mu * S, S), v = sc.f[2].middleCols(mu * S, S);
    RowMatrix& A = sc.A[std::size_t(mu)];
    A.noalias() = su.logit_scale * q.transpose() * k;  // A_ab = N^{−α_A} Σ_i q_i(a) k_i(b)
    sc.sigma[std::size_t(mu)] = masked_softmax(A, su.causal);
    auto o = h.o.middleCols(t * ps + mu * S, S);
    o.noalias() = v * sc.sigma[std::size_t(mu)].transpose();  // o_i(a) = Σ_b σ_ab v_i(b)
    h.obar.col(t * P + mu).noalias() = o * su.pi;
  }
  if (na == 0) return;
  const Index D = su.D;
  for (std::size_t X = 0; X < 3; ++X)
    for (Index i = 0; i < N; ++i)
      sc.df[X].block(i * ps, 0, ps, na).noalias() = su.Xs * h.dtheta[X].block(i * D, 0, D, na);
  auto dA = sc.dA.leftCols(na);
  for (Index mu = 0; mu < P; ++mu) {
    const RowMatrix& sg = sc.sigma[std::size_t(mu)];
    for (Index a = 0; a < S; ++a) {
      // Ȧ_ab = N^{−α_A} Σ_i (q̇_i(a) k_i(b) + q_i(a) k̇_i(b)) for the S keys b.
      dA.setZero();
      for (Index i = 0; i < N; ++i) {
        dA.noalias() += (su.logit_scale * sc.f[1].row(i).segment(mu * S, S).transpose()) *
                        sc.df[0].row(i * ps + mu * S + a).head(na);
        dA += (su.logit_scale * sc.f[0](i, mu * S + a)) * sc.df[1].block(i * ps + mu * S, 0, S, na);
      }
      // σ̇_ab = σ_ab (Ȧ_ab − Σ_c σ_ac Ȧ_ac).
      auto mean = sc.row1.head(na);
      mean.noalias() = sg.row(a) * dA;
      auto ds = sc.dsigma.block((mu * S + a) * S, 0, S, na);
      ds.noalias() = sg.row(a).transpose().asDiagonal() * (dA.rowwise() - mean);
      // ȯ_i(a) = Σ_b (σ̇_ab v_i(b) + σ_ab v̇_i(b)).
      for (Index i = 0; i < N; ++i) {
        auto dOi = sc.dO.row(i * ps + mu * S + a).head(na);
        dOi.noalias() = sc.f[2].row(i).segment(mu * S, S) * ds;
        dOi.noalias() += sg.row(a) * sc.df[2].block(i * ps + mu * S, 0, S, na);
      }
    }
  }
  for (Index i = 0; i < N; ++i)
    for (Index mu = 0; mu < P; ++mu)
      h.dobar.row(i * su.tp + t * P + mu).head(na).noalias() =
          su.pi.transpose() * sc.dO.block(i * ps + mu * S, 0, S, na);
}

/// The rest of step t after forward(t) (whose results `sc` holds): ζ_i(t) and ω_i(t) from the
/// solve's order parameters (`site`), (H4)–(H6), and the θ updates for step t + 1; with na > 0 the
/// same for the tangents, seeding the directions of source time t (`dir`). `shift_coord` ≥ 0 adds
/// `shift` to ω of that coordinate (the finite-difference copies).
void backward(const Setup& su, Head& h, Index t, Index na, const ResidualSite& site, const Directions* dir,
              Scratch& sc, Index shift_coord = -1, double shift = 0.0) {
  const Index N = su.N, P = su.P, S = su.S, ps = su.ps, D = su.D, past = t * P;
  const double* chol = site.chol(t);
  const Eigen::Map<const Eigen::RowVectorXd> coef(site.omega(t), past);
  // ω_i(t) = ζ_i(t) + Σ_{s<t,ν} coef(s,ν) ō_i(s,ν),  ζ_i(t) = Σ_{s≤t} L(t,s) z_i(s).
  Vector& omega = sc.omega;
  for (Index i = 0; i < N; ++i) {
    double zeta = 0;
    for (Index s = 0; s <= t; ++s) zeta += chol[s] * h.z(i, s);
    omega[i] = zeta + coef.dot(h.obar.row(i).head(past));
  }
  if (shift_coord >= 0) omega[shift_coord] += shift;
  // g^o_i(t,μ,a) = β π_a ω_i(t); (H5) E_ab = N⁻¹ Σ_i g^o_i(a) v_i(b), D_ab = σ_ab (E_ab − Σ_c σ_ac E_ac);
  // (H6) g^q_i(a) = N^{1−α_A} Σ_b D_ab k_i(b), g^k_i(b) = N^{1−α_A} Σ_a D_ab q_i(a), g^v_i(b) = Σ_a σ_ab g^o_i(a).
  for (Index mu = 0; mu < P; ++mu)
    for (Index a = 0; a < S; ++a) sc.go.col(mu * S + a) = (su.beta * su.pi[a]) * omega;
  for (Index mu = 0; mu < P; ++mu) {
    const auto q = sc.f[0].middleCols(mu * S, S), k = sc.f[1].middleCols(mu * S, S), v = sc.f[2].middleCols(mu * S, S);
    const auto go = sc.go.middleCols(mu * S, S);
    const RowMatrix& sg = sc.sigma[std::size_t(mu)];
    RowMatrix& E = sc.E[std::size_t(mu)];
    RowMatrix& Dm = sc.Dm[std::size_t(mu)];
    E.noalias() = go.transpose() * v / double(N);
    Dm = softmax_backward(sg, E);
    sc.grad[0].middleCols(mu * S, S).noalias() = su.back_scale * k * Dm.transpose();
    sc.grad[1].middleCols(mu * S, S).noalias() = su.back_scale * q * Dm;
    sc.grad[2].middleCols(mu * S, S).noalias() = go * sg;
  }
  // The update θ^X_i += c_X (ηγ0/(P√D)) Σ_μ Δ_μ Σ_a g^x_i(μ,a) x_{μa}: with Xd = c_X (ηγ0/P) diag(Δ) Xs,
  // θ^X += g^X Xd, and the tangents dθ^X_i += Xdᵀ ġ^X_i.
  const double* delta = site.delta(t);
  std::array<RowMatrix, 3>& Xd = sc.Xd;
  for (std::size_t X = 0; X < 3; ++X) {
    Xd[X] = su.Xs;
    for (Index row = 0; row < ps; ++row) Xd[X].row(row) *= su.c[X] * su.eps * delta[row / S];
  }
  if (na > 0) {
    // ω̇_i, ġ^o_i(a) = β π_a ω̇_i plus the seeds of source time t.
    auto domega = sc.row1.head(na);
    for (Index i = 0; i < N; ++i) {
      if (past > 0)
        domega.noalias() = coef * h.dobar.block(i * su.tp, 0, past, na);
      else
        domega.setZero();
      for (Index mu = 0; mu < P; ++mu)
        for (Index a = 0; a < S; ++a) sc.dgo.row(i * ps + mu * S + a).head(na) = (su.beta * su.pi[a]) * domega;
    }
    if (t < dir->last) {
      for (Index i = 0; i < N; ++i)
        for (Index mu = 0; mu < P; ++mu)
          for (Index a = 0; a < S; ++a) {
            if (dir->per_token)
              sc.dgo(i * ps + mu * S + a, t * dir->unit + (mu * S + a) * N + i) += 1.0;
            else
              sc.dgo(i * ps + mu * S + a, t * dir->unit + i) += su.beta * su.pi[a];
          }
    }
    for (std::size_t X = 1; X < 3; ++X) sc.dgrad[X].leftCols(na).setZero();  // ġ^k, ġ^v are sums over a
    auto dE = sc.dE.leftCols(na);
    for (Index mu = 0; mu < P; ++mu) {
      const RowMatrix& sg = sc.sigma[std::size_t(mu)];
      const RowMatrix& E = sc.E[std::size_t(mu)];
      const RowMatrix& Dm = sc.Dm[std::size_t(mu)];
      for (Index a = 0; a < S; ++a) {
        // Ė_ab = N⁻¹ Σ_i (ġ^o_i(a) v_i(b) + g^o_i(a) v̇_i(b)).
        dE.setZero();
        for (Index i = 0; i < N; ++i) {
          dE.noalias() += (sc.f[2].row(i).segment(mu * S, S).transpose() / double(N)) *
                          sc.dgo.row(i * ps + mu * S + a).head(na);
          dE += (sc.go(i, mu * S + a) / double(N)) * sc.df[2].block(i * ps + mu * S, 0, S, na);
        }
        // Ḋ_ab = σ̇_ab (E_ab − r_a) + σ_ab (Ė_ab − ṙ_a), r_a = Σ_c σ_ac E_ac.
        const auto ds = sc.dsigma.block((mu * S + a) * S, 0, S, na);
        const double r = sg.row(a).dot(E.row(a));
        auto dr = sc.row2.head(na);
        dr.noalias() = E.row(a) * ds;
        dr.noalias() += sg.row(a) * dE;
        auto dD = sc.dD.block((mu * S + a) * S, 0, S, na);
        dD.noalias() = (E.row(a).array() - r).matrix().transpose().asDiagonal() * ds;
        dD.noalias() += sg.row(a).transpose().asDiagonal() * (dE.rowwise() - dr);
        for (Index i = 0; i < N; ++i) {
          const Index row = i * ps + mu * S + a;
          // ġ^q_i(a) = N^{1−α_A} Σ_b (Ḋ_ab k_i(b) + D_ab k̇_i(b)).
          auto dgq = sc.dgrad[0].row(row).head(na);
          dgq.noalias() = su.back_scale * sc.f[1].row(i).segment(mu * S, S) * dD;
          dgq.noalias() += su.back_scale * Dm.row(a) * sc.df[1].block(i * ps + mu * S, 0, S, na);
          // ġ^k_i(b) += N^{1−α_A} (Ḋ_ab q_i(a) + D_ab q̇_i(a)).
          auto dgk = sc.dgrad[1].block(i * ps + mu * S, 0, S, na);
          dgk += (su.back_scale * sc.f[0](i, row - i * ps)) * dD;
          dgk.noalias() += (su.back_scale * Dm.row(a).transpose()) * sc.df[0].row(row).head(na);
          // ġ^v_i(b) += σ̇_ab g^o_i(a) + σ_ab ġ^o_i(a).
          auto dgv = sc.dgrad[2].block(i * ps + mu * S, 0, S, na);
          dgv += sc.go(i, mu * S + a) * ds;
          dgv.noalias() += sg.row(a).transpose() * sc.dgo.row(row).head(na);
        }
      }
    }
    for (std::size_t X = 0; X < 3; ++X)
      for (Index i = 0; i < N; ++i)
        h.dtheta[X].block(i * D, 0, D, na).noalias() += Xd[X].transpose() * sc.dgrad[X].block(i * ps, 0, ps, na);
  }
  for (std::size_t X = 0; X < 3; ++X) h.theta[X].noalias() += sc.grad[X] * Xd[X];
}

/// A batch's sums over its heads at the current step.
struct HeadSums {
  RowMatrix phi;          // P·S × T·P·S: Σ_κ N⁻¹ Σ_i o_i(t) o_i(s) (columns s ≤ t)
  RowMatrix resp;         // P·S × T: Σ_κ N⁻¹ Σ_i ∂o_i(t)/∂ω_i(s) (s < t)
  RowMatrix A, sigma;     // P·S × S: Σ_κ A^κ(t, μ), Σ_κ σ^κ(t, μ) (row μ·S + a)

  explicit HeadSums(const Setup& su)
      : phi(RowMatrix::Zero(su.ps, su.tps)), resp(RowMatrix::Zero(su.ps, su.T)), A(RowMatrix::Zero(su.ps, su.S)),
        sigma(RowMatrix::Zero(su.ps, su.S)) {}
  void clear() {
    phi.setZero();
    resp.setZero();
    A.setZero();
    sigma.setZero();
  }
};

/// Adds the head's Φ^o(t, ≤ t) and (with `attention`) A, σ of step t (after forward(t)) to `sums`.
void add_forward(const Setup& su, const Head& h, const Scratch& sc, Index t, bool attention, HeadSums& sums) {
  const Index ps = su.ps, live = (t + 1) * ps;
  sums.phi.leftCols(live).noalias() += h.o.middleCols(t * ps, ps).transpose() * h.o.leftCols(live) / double(su.N);
  if (attention)
    for (Index mu = 0; mu < su.P; ++mu) {
      sums.A.middleRows(mu * su.S, su.S) += sc.A[std::size_t(mu)];
      sums.sigma.middleRows(mu * su.S, su.S) += sc.sigma[std::size_t(mu)];
    }
}

/// One sampled head of the sweep with, in finite-difference mode, its perturbed copies: copy
/// 2(s·N + i) + {0, 1} has ω_i(s) shifted by ±ε.
struct HeadSlot {
  Head head;
  std::vector<Head> copies;
};

/// Step t of one head of the sweep: the backward pass of step t − 1 (under the order parameters of
/// t − 1, already known) and the forward pass of step t, whose Φ^o, R̃ and attention it adds to `sums`.
void sweep_head(const Setup& su, M1HeadResponse mode, const Directions* dir, HeadSlot& slot, const ResidualSite& site, Index t,
                bool attention, Scratch& sc, HeadSums& sums) {
  Head& h = slot.head;
  const Index N = su.N;
  if (t > 0) {
    const Index nb = mode == M1HeadResponse::tangent ? dir->live(t - 1) : 0;
    if (mode == M1HeadResponse::finite_difference) {
      for (Head& c : slot.copies) {  // the copies of sources s < t − 1
        forward(su, c, t - 1, 0, sc);
        backward(su, c, t - 1, 0, site, nullptr, sc);
      }
    }
    forward(su, h, t - 1, nb, sc);
    if (mode == M1HeadResponse::finite_difference && t - 1 < su.T - 1)
      for (Index i = 0; i < N; ++i)
        for (double sign : {1.0, -1.0}) {  // new copies of source t − 1 (they share the head's forward)
          slot.copies.push_back(h);
          backward(su, slot.copies.back(), t - 1, 0, site, nullptr, sc, i, sign * kFiniteDifferenceStep);
        }
    backward(su, h, t - 1, nb, site, dir, sc);
  }
  const Index na = mode == M1HeadResponse::tangent ? dir->live(t) : 0;
  forward(su, h, t, na, sc);
  add_forward(su, h, sc, t, attention, sums);
  const Index ps = su.ps;
  if (mode == M1HeadResponse::tangent) {
    for (Index s = 0; s < t; ++s)
      for (Index i = 0; i < N; ++i) sums.resp.col(s) += sc.dO.col(s * N + i).segment(i * ps, ps) / double(N);
  } else if (mode == M1HeadResponse::finite_difference) {
    for (Head& c : slot.copies) forward(su, c, t, 0, sc);
    for (Index s = 0; s < t; ++s)
      for (Index i = 0; i < N; ++i) {
        const Head& plus = slot.copies[std::size_t(2 * (s * N + i))];
        const Head& minus = slot.copies[std::size_t(2 * (s * N + i) + 1)];
        sums.resp.col(s) += (plus.o.row(i).segment(t * ps, ps) - minus.o.row(i).segment(t * ps, ps)).transpose() /
                            (2 * kFiniteDifferenceStep * double(N));
      }
  }
}

/// One head batch: its heads in the coupled solve and in the batch's replica (the same draws), its
/// replica's residual site, work space and sums.
struct HeadBatch {
  std::vector<HeadSlot> coupled, replica;
  ResidualSite site;
  Scratch scratch;
  HeadSums sums, replica_sums;
  HeadBatch(const Setup& su, const Vector& y, Index nd) : site(su, y), scratch(su, nd), sums(su), replica_sums(su) {}
};

/// The full R^o ((T·P·S)², Σ over heads, not yet divided by n_h) of the coupled solve: every head of
/// batch b replayed under the final order parameters with a tangent per (i, s, ν, b).
RowMatrix replay_response(const Setup& su, const ResidualSite& site, const HeadBatches& hb, std::uint64_t seed) {
  const Directions dir(su, true);
  const Index N = su.N, ps = su.ps, tps = su.tps;
  std::vector<RowMatrix> sums(static_cast<std::size_t>(hb.B));
#pragma omp parallel for schedule(dynamic, 1)
  for (Index b = 0; b < hb.B; ++b) {
    RowMatrix& R = sums[std::size_t(b)];
    R = RowMatrix::Zero(tps, tps);
    Scratch sc(su, dir.count);
    for (Index kappa = hb.begin(b); kappa < hb.end(b); ++kappa) {
      Head h = draw_head(su, kappa, seed, &dir);
      for (Index t = 0; t < su.T; ++t) {
        forward(su, h, t, dir.live(t), sc);
        for (Index J = 0; J < t * ps; ++J)
          for (Index i = 0; i < N; ++i) R.block(t * ps, J, ps, 1) += sc.dO.col(J * N + i).segment(i * ps, ps) / double(N);
        if (t + 1 < su.T) backward(su, h, t, dir.live(t), site, &dir, sc);
      }
    }
  }
  RowMatrix R = RowMatrix::Zero(tps, tps);
  for (const RowMatrix& s : sums) R += s;
  return R;
}

void check_inputs(const SequenceData& data, const AttentionM1Options& opt, Index N, Index head_samples) {
  data.validate();
  opt.validate();
  if (opt.lr_e != 0.0)
    throw InputError("lr-e", format_value(opt.lr_e), "limit B of block m1 is implemented with a frozen embedding (--lr-e 0)");
  if (opt.phi.kind() != ActivationKind::linear)
    throw InputError("activation", opt.phi.name(),
                     "limit B of block m1 is implemented for a linear phi only (the residual site is then linear-Gaussian)");
  throw_violations(head_shape_violations(N, head_samples, "head_samples", 2, kHeadSamplesRule));
}

}  // namespace

AttentionM0Trajectory attention_m1_limit_b(const SequenceData& data, const AttentionM1Options& opt, Index N,
                                           Index head_samples, std::uint64_t seed) {
  return attention_m1_limit_b(data, opt, N, head_samples, seed, AttentionM1LimitBControls{});
}

AttentionM0Trajectory attention_m1_limit_b(const SequenceData& data, const AttentionM1Options& opt, Index N,
                                           Index head_samples, std::uint64_t seed,
                                           const AttentionM1LimitBControls& controls) {
  check_inputs(data, opt, N, head_samples);
  const Setup su(data, opt, N);
  const Index T = su.T, P = su.P, S = su.S, ps = su.ps, n = head_samples;
  const M1HeadResponse mode = controls.response;
  const Directions per_time(su, false);
  const Directions* dir = mode == M1HeadResponse::tangent ? &per_time : nullptr;
  const HeadBatches hb(n);

  std::vector<HeadBatch> batches;
  batches.reserve(std::size_t(hb.B));
  for (Index b = 0; b < hb.B; ++b) batches.emplace_back(su, data.y, dir ? dir->count : 0);
#pragma omp parallel for schedule(dynamic, 1)
  for (Index b = 0; b < hb.B; ++b) {
    HeadBatch& batch = batches[std::size_t(b)];
    for (Index kappa = hb.begin(b); kappa < hb.end(b); ++kappa) batch.coupled.push_back({draw_head(su, kappa, seed, dir), {}});
    batch.replica = batch.coupled;
  }

  ResidualSite coupled(su, data.y);
  AttentionM0Trajectory out = AttentionM0Trajectory::sized(T, P, S, 1, true);
  HeadSums total(su);
  std::vector<double> values(static_cast<std::size_t>(hb.B));
  for (Index t = 0; t < T; ++t) {
    // Heads (§3.7): the backward pass of t − 1 and the forward pass of t, in the coupled solve and in
    // each batch's replica, whose residual site then advances on its own batch.
#pragma omp parallel for schedule(dynamic, 1)
    for (Index b = 0; b < hb.B; ++b) {
      HeadBatch& batch = batches[std::size_t(b)];
      batch.sums.clear();
      batch.replica_sums.clear();
      for (HeadSlot& slot : batch.coupled) sweep_head(su, mode, dir, slot, coupled, t, true, batch.scratch, batch.sums);
      for (HeadSlot& slot : batch.replica)
        sweep_head(su, mode, dir, slot, batch.site, t, false, batch.scratch, batch.replica_sums);
      const double nb = double(hb.size(b));
      batch.site.advance(t, batch.replica_sums.phi / nb, batch.replica_sums.resp / nb);
    }
    // The coupled solve: head averages over all heads, reduced in batch order.
    total.clear();
    for (const HeadBatch& batch : batches) {
      total.phi += batch.sums.phi;
      total.resp += batch.sums.resp;
      total.A += batch.sums.A;
      total.sigma += batch.sums.sigma;
    }
    coupled.advance(t, total.phi / double(n), total.resp / double(n));
    out.Delta.row(t) = coupled.Delta().row(t);
    for (Index mu = 0; mu < P; ++mu) {
      for (Index b = 0; b < hb.B; ++b) values[std::size_t(b)] = batches[std::size_t(b)].site.Delta()(t, mu);
      out.Delta_se(t, mu) = batch_se(hb, values);
      out.logits.push_back(total.A.middleRows(mu * S, S) / double(n));
      out.attention.push_back(total.sigma.middleRows(mu * S, S) / double(n));
    }
  }
  out.loss = loss_curve(out.Delta);
  batches.clear();

  // G^u(t,μa; s,νb) = β² π_a π_b W(t,s).
  RowMatrix G_u(su.tps, su.tps);
  for (Index t = 0; t < T; ++t)
    for (Index s = 0; s < T; ++s)
      for (Index mu = 0; mu < P; ++mu)
        for (Index nu = 0; nu < P; ++nu)
          G_u.block(t * ps + mu * S, s * ps + nu * S, S, S) =
              (su.beta * su.beta * coupled.W()(t, s)) * su.pi * su.pi.transpose();
  out.two_time["G_u"] = std::move(G_u);
  if (controls.record_response) {
    if (mode == M1HeadResponse::tangent)
      out.two_time["R_o"] = replay_response(su, coupled, hb, seed) / double(n);
    else if (mode == M1HeadResponse::none)
      out.two_time["R_o"] = RowMatrix::Zero(su.tps, su.tps);
  }
  out.two_time["Phi_o"] = std::move(coupled.Phi_o());
  return out;
}

}  // namespace dmft
