// The residual site of M1 in limit A with a smooth nonlinear φ (attention.md §3.2 (R1)–(R7) in
// limit A, §3.7): Monte Carlo over residual coordinates, batched as the columns of field matrices
// (rows (t·P + μ)·S + a, columns samples). The coordinate site stays exact (attention_m1_limit_a.cpp).
//
// Sources. χ^E ~ N(0, K^x) (static), w0 ~ N(0, 1), χ^O ~ GP(0, Φ^o) and ξ = ξ^Q + ξ^K + ξ^V ~
// GP(0, G^Q + G^K + G^V) (the three enter only through their sum in g^h, (R7)). A time-indexed
// source is L·Z with Z the sample's fixed standard normals and L the causal (time-major,
// lower-triangular) factor of its covariance, extended by P·S rows per step as the covariance
// becomes known (§3.7, "How to extend a Gaussian source in time"): L(t, ≤t) never changes later,
// so the draws up to t do not depend on later steps. The covariances are rank-deficient (at
// t = 0 Φ^o has rank P: uniform attention); a direction already fixed by the past gets a zero
// column (semidefinite Cholesky), instead of a jitter.
//
// Site equations per sample (couplings deterministic, c ε = c ηγ0/P, Δ deterministic):
//   h(t)   = χ^E + c_E ε K^x Σ_{s<t} Δ(s) g^h(s)
//   u(t)   = χ^O(t) + Σ_{s<t} O(t,s) g^u(s),       O(t,s) = R^o(t;s) + c_O ε Φ^o(t;s) Δ(s)
//   r      = ρ h + β u
//   w(t)   = w(t−1) + c_w ε Σ_ν Δ_ν(t−1) Σ_a π_a φ(r(t−1,ν,a)),  w(0) = w0
//   g^u(t) = β π_a w(t) φ'(r(t)),   g^r = g^u/β
//   g^h(t) = ρ π_a w(t) φ'(r(t)) + ξ(t) + Σ_{s≤t} X(t,s) h(s),   X(t,s) = Σ_X [R^X(t;s) + c_X ε G^X(t;s) Δ(s)]
// (the equal-time X(t,t) = Σ_X R^X(t;t) is R^V's block, nonzero for nonlinear φ).
//
// Responses R^h(t; s) = ⟨∂h(t)/∂ξ(s)⟩ and R^u(t; s) = ⟨∂g^u(t)/∂χ^O(s)⟩ (§3.7 (b)): per sample,
// one reverse-mode (adjoint) sweep from the P·S outputs h(t) (resp. g^u(t)) back to step 0 through
// the tangent-linear map of the equations above; ξ(s) enters only g^h(s) and χ^O(s) only u(s), so
// the adjoints of g^h(s) and u(s) are the derivatives. With adjoints ā = ∂(output)/∂a, for s = t … 0:
//   ḡ^h(s) = c_E ε Δ(s) K^x Σ_{s'>s} h̄(s')                      (K^x symmetric)
//   ḡ^u(s) = Σ_{s'>s} O(s',s)ᵀ ū(s')   (+ the seed at s = t for the output g^u(t))
//   ḡ^r(s) = β ḡ^u(s) + ρ ḡ^h(s)
//   w̄(s)   = w̄(s+1) + Σ_{μa} π_a φ'(r) ḡ^r(s)
//   r̄(s)   = π_a w(s) φ''(r) ḡ^r(s) + c_w ε Δ_μ(s) π_a φ'(r) w̄(s+1)
//   h̄(s)   = ρ r̄(s) + Σ_{s'≥s} X(s',s)ᵀ ḡ^h(s')   (+ the seed at s = t for the output h(t))
//   ū(s)   = β r̄(s)
// The equal-time R^u(t; t) = β² π_a ⟨w φ''(r)⟩ on the diagonal (§3.2 table) comes out of the first
// step. For φ = id the adjoints do not depend on the sample, so this reproduces the exact site's
// responses to rounding (a test).
//
// Cost per step t: the forward fields O(t (P S)² n), the adjoints O(t² (P S)³ n) (two outputs of
// P·S each through two dense couplings): about (4/3) T³ (P S)³ n flops over a run. Samples are
// processed in chunks on all threads; chunk sums are reduced in chunk order, so results do not
// depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "dmft/rng.hpp"
#include "attention_m1_sweep.hpp"

namespace dmft::attention_m1_sweep {
namespace {

using attention_sweep::coupling;
using attention_sweep::fill_two_time;
using attention_site::RowsRef;

/// Relative size below which a pivot's residual variance counts as zero (a direction fixed by the past).
constexpr double kPivotTolerance = 1e-10;
/// Adjoint columns per chunk (outputs × samples): a few hundred keeps the products matrix–matrix.
constexpr Index kAdjointColumns = 512;

/// The lower-triangular factor L of a positive semidefinite covariance C whose rows arrive in
/// time order: appending rows never changes earlier ones. Columns of zero pivots are zero.
class CausalCholesky {
 public:
  explicit CausalCholesky(Index n) : L_(RowMatrix::Zero(n, n)) {}

  /// Appends rows lo … lo + k − 1 of L from C's rows there (`C`: k × (lo + k), columns 0 … lo + k − 1).
  void append(const RowsRef& C, Index lo) {
    for (Index a = 0; a < C.rows(); ++a) {
      const Index i = lo + a;
      scale_ = std::max(scale_, C(a, i));
      for (Index j = 0; j < i; ++j) {
        const double d = L_(j, j);
        L_(i, j) = d > 0 ? (C(a, j) - L_.row(i).head(j).dot(L_.row(j).head(j))) / d : 0.0;
      }
      const double v = C(a, i) - L_.row(i).head(i).squaredNorm();
      L_(i, i) = v > kPivotTolerance * scale_ ? std::sqrt(v) : 0.0;
    }
  }
  /// Rows lo … lo + k − 1, columns 0 … lo + k − 1.
  auto rows(Index lo, Index k) const { return L_.block(lo, 0, k, lo + k); }

 private:
  RowMatrix L_;
  double scale_ = 0;
};

class SampledResidualSite final : public ResidualSite {
 public:
  SampledResidualSite(const Settings& s, const RowMatrix& normals, Index first, Index count)
      : s_(s), g_(s.g), n_(count), Z_(normals.middleCols(first, count)), LO_(s.g.tps()), LX_(s.g.tps()) {
    const Index ps = g_.ps(), tps = g_.tps();
    CausalCholesky LE(ps);
    LE.append(s_.Kx, 0);
    chi_E_ = LE.rows(0, ps) * Z_.topRows(ps);
    h_ = gu_ = dphi_ = wddphi_ = RowMatrix::Zero(tps, n_);
    w_ = RowMatrix::Zero(g_.T, n_);
    Oc_ = Xc_ = RowMatrix::Zero(tps, tps);
    embed_acc_ = RowMatrix::Zero(ps, n_);
  }

  void forward(Index t, Orders& o) override {
    const Index lo = g_.first(t), ps = g_.ps(), live = g_.live(t);
    h_.middleRows(lo, ps) = chi_E_ + embed_acc_;
    fill_two_time(o.Phi_h, h_.middleRows(lo, ps) * h_.topRows(live).transpose() / double(n_), g_, t);
    if (t > 0) o.R_h.block(lo, 0, ps, lo) = adjoint_responses(t, false, o.delta_tokens).leftCols(lo);
  }

  Vector readout(Index t, Orders& o) override {
    const Index lo = g_.first(t), ps = g_.ps(), live = g_.live(t);
    // χ^O(t) from the causal factor of Φ^o; O(t, s < t).
    LO_.append(o.Phi_o.block(lo, 0, ps, live), lo);
    Oc_.block(lo, 0, ps, lo) = coupling(o.R_o.block(lo, 0, ps, lo), o.Phi_o, s_.c_O * s_.eps, o.delta_tokens, g_, t);
    RowMatrix u = LO_.rows(lo, ps) * Z_.middleRows(chi_O_row(), live);
    if (t > 0) u.noalias() += Oc_.block(lo, 0, ps, lo) * gu_.topRows(lo);
    const RowMatrix r = s_.rho * h_.middleRows(lo, ps) + s_.beta * u;
    // w(t): w0, then the readout's update with last step's φ̄.
    if (t == 0)
      w_.row(0) = Z_.row(ps);
    else
      w_.row(t) = w_.row(t - 1) + s_.c_w * s_.eps * o.Delta.row(t - 1) * phibar_;
    const RowMatrix phi = r.unaryExpr([&](double x) { return s_.phi.phi(x); });
    dphi_.middleRows(lo, ps) = r.unaryExpr([&](double x) { return s_.phi.dphi(x); });
    wddphi_.middleRows(lo, ps) = r.unaryExpr([&](double x) { return s_.phi.ddphi(x); });
    wddphi_.middleRows(lo, ps).array().rowwise() *= w_.row(t).array();
    const auto dphi = dphi_.middleRows(lo, ps);
    phibar_ = s_.pool * phi;
    // g^u(t) = β π_a w(t) φ'(r(t)).
    gu_.middleRows(lo, ps) = (s_.beta * s_.pi_tokens).asDiagonal() * dphi;
    gu_.middleRows(lo, ps).array().rowwise() *= w_.row(t).array();
    fill_two_time(o.G_u, gu_.middleRows(lo, ps) * gu_.topRows(live).transpose() / double(n_), g_, t);
    o.R_u.block(lo, 0, ps, live) = adjoint_responses(t, true, o.delta_tokens);
    o.Phi_phi_tt = phi * phi.transpose() / double(n_);
    // f_μ(t) = γ0⁻¹ ⟨w(t) φ̄(t, μ) − w(0) φ̄(0, μ)⟩: the t = 0 term has mean 0 and removes most of
    // the sampling noise of the product (§3.2, exact output).
    RowMatrix wphibar = phibar_.array().rowwise() * w_.row(t).array();
    if (t == 0) wphibar0_ = wphibar;
    return (wphibar - wphibar0_).rowwise().mean() / s_.gamma0;
  }

  void backward(Index t, Orders& o) override {
    const Index lo = g_.first(t), ps = g_.ps(), live = g_.live(t);
    RowMatrix Gsum = o.G[0].block(lo, 0, ps, live) + o.G[1].block(lo, 0, ps, live) + o.G[2].block(lo, 0, ps, live);
    LX_.append(Gsum, lo);
    RowMatrix X = RowMatrix::Zero(ps, live);
    for (std::size_t k = 0; k < 3; ++k)
      X += coupling(o.R[k].block(lo, 0, ps, live), o.G[k], s_.c[k] * s_.eps, o.delta_tokens, g_, t);
    Xc_.block(lo, 0, ps, live) = X;
    RowMatrix gh = LX_.rows(lo, ps) * Z_.middleRows(xi_row(), live);
    gh.noalias() += X * h_.topRows(live);
    RowMatrix gr = s_.pi_tokens.asDiagonal() * dphi_.middleRows(lo, ps);
    gr.array().rowwise() *= w_.row(t).array();
    gh += s_.rho * gr;
    o.G_h_tt = gh * gh.transpose() / double(n_);
    if (t + 1 < g_.T)
      embed_acc_.noalias() += s_.c_E * s_.eps * (s_.Kx * o.delta_tokens.segment(lo, ps).asDiagonal()) * gh;
  }

 private:
  Index chi_O_row() const { return g_.ps() + 1; }
  Index xi_row() const { return g_.ps() + 1 + g_.tps(); }

  /// ⟨∂h(t)/∂ξ(s)⟩ (output_gu false) or ⟨∂g^u(t)/∂χ^O(s)⟩ (true) for s ≤ t: P·S × (t+1)·P·S, by the
  /// adjoint recursion in the header comment, per sample, averaged.
  RowMatrix adjoint_responses(Index t, bool output_gu, const Vector& delta_tokens) const {
    const Index ps = g_.ps(), live = g_.live(t);
    const Index m = std::max<Index>(1, kAdjointColumns / ps);  // samples per chunk
    const Index chunks = (n_ + m - 1) / m;
    std::vector<RowMatrix> partial(static_cast<std::size_t>(chunks));
#pragma omp parallel for schedule(dynamic)
    for (Index c = 0; c < chunks; ++c) {
      const Index c0 = c * m, mc = std::min(m, n_ - c0);
      partial[std::size_t(c)] = adjoint_chunk(t, output_gu, delta_tokens, c0, mc);
    }
    RowMatrix sum = RowMatrix::Zero(ps, live);
    for (const RowMatrix& p : partial) sum += p;
    return sum / double(n_);
  }

  /// Sums over samples c0 … c0 + m − 1 of the adjoints. Column j·m + i of every adjoint block holds
  /// output j (a (μ, a) of step t) of sample c0 + i. Only Δ(s < t) of `delta_tokens` is read.
  RowMatrix adjoint_chunk(Index t, bool output_gu, const Vector& delta_tokens, Index c0, Index m) const {
    const Index ps = g_.ps(), cols = ps * m;
    const double cw_eps = s_.c_w * s_.eps, cE_eps = s_.c_E * s_.eps;
    RowMatrix U = RowMatrix::Zero(g_.live(t), cols);   // ū(s)
    RowMatrix GH = RowMatrix::Zero(g_.live(t), cols);  // ḡ^h(s)
    RowMatrix hsum = RowMatrix::Zero(ps, cols);        // Σ_{s'>s} h̄(s')
    Eigen::RowVectorXd wbar_next = Eigen::RowVectorXd::Zero(cols);  // w̄(s+1)
    RowMatrix seed = RowMatrix::Zero(ps, cols);
    for (Index j = 0; j < ps; ++j) seed.block(j, j * m, 1, m).setOnes();
    // Per-column factors: a (ps × m) matrix applied to each output's block of m columns.
    auto times = [&](RowMatrix& A, const RowMatrix& F) {
      for (Index j = 0; j < ps; ++j) A.middleCols(j * m, m).array() *= F.array();
    };
    RowMatrix gub(ps, cols), grb(ps, cols), rb(ps, cols), tmp(ps, cols);
    Eigen::RowVectorXd wbar(cols);
    for (Index s = t; s >= 0; --s) {
      const Index lo = g_.first(s), later = g_.first(t + 1) - g_.first(s + 1);  // rows of steps s+1 … t
      const auto d1 = dphi_.block(lo, c0, ps, m);
      const auto wd2 = wddphi_.block(lo, c0, ps, m);
      // ḡ^h(s)
      const auto delta = delta_tokens.segment(lo, ps);
      if (s < t) GH.middleRows(lo, ps).noalias() = cE_eps * delta.asDiagonal() * (s_.Kx * hsum);
      // ḡ^u(s), ḡ^r(s)
      if (s < t)
        gub.noalias() = Oc_.block(lo + ps, lo, later, ps).transpose() * U.middleRows(lo + ps, later);
      else
        gub = output_gu ? seed : RowMatrix::Zero(ps, cols);
      grb = s_.beta * gub + s_.rho * GH.middleRows(lo, ps);
      // w̄(s) = w̄(s+1) + Σ_k π_k φ'(r_k) ḡ^r_k
      tmp = grb;
      RowMatrix pd1 = s_.pi_tokens.asDiagonal() * d1;
      times(tmp, pd1);
      wbar = wbar_next + tmp.colwise().sum();
      // r̄(s) = π w φ''(r) ḡ^r + c_w ε Δ(s) π φ'(r) w̄(s+1)
      rb = grb;
      RowMatrix pwd2 = s_.pi_tokens.asDiagonal() * wd2;
      times(rb, pwd2);
      if (s < t) {
        const RowMatrix scaled_d1 = (cw_eps * delta.cwiseProduct(s_.pi_tokens)).asDiagonal() * d1;
        for (Index j = 0; j < ps; ++j)
          rb.middleCols(j * m, m).array() += scaled_d1.array().rowwise() * wbar_next.segment(j * m, m).array();
      }
      // h̄(s) = ρ r̄(s) + Σ_{s'≥s} X(s',s)ᵀ ḡ^h(s') (+ seed)
      RowMatrix hb = s_.rho * rb;
      hb.noalias() += Xc_.block(lo, lo, later + ps, ps).transpose() * GH.middleRows(lo, later + ps);
      if (!output_gu && s == t) hb += seed;
      U.middleRows(lo, ps) = s_.beta * rb;
      hsum += hb;
      wbar_next = wbar;
    }
    // Sum over the chunk's samples: response(j; s, k) = Σ_i adjoint(s, k; j·m + i).
    const RowMatrix& A = output_gu ? U : GH;
    RowMatrix out(ps, g_.live(t));
    for (Index j = 0; j < ps; ++j) out.row(j) = A.middleCols(j * m, m).rowwise().sum().transpose();
    return out;
  }

  const Settings& s_;
  const Grid& g_;
  Index n_;
  RowMatrix Z_;                 // the samples' standard normals (residual_normals layout)
  CausalCholesky LO_, LX_;      // causal factors of Φ^o and G^Q + G^K + G^V
  RowMatrix chi_E_;             // P·S × n
  RowMatrix h_, gu_;            // T·P·S × n: every step's h and g^u
  RowMatrix dphi_, wddphi_;     // φ'(r) and w φ''(r) of every step (the tangent map's coefficients)
  RowMatrix w_;                 // T × n
  RowMatrix Oc_, Xc_;           // O(t, s) and X(t, s) of every step (T·P·S)²
  RowMatrix embed_acc_;         // c_E ε K^x Σ_{s<t} Δ(s) g^h(s), P·S × n
  RowMatrix phibar_, wphibar0_; // φ̄(t) (P × n); w(0) φ̄(0)
};

}  // namespace

RowMatrix residual_normals(const Grid& g, Index samples, std::uint64_t seed) {
  const Index rows = g.ps() + 1 + 2 * g.tps();
  RowMatrix Z(rows, samples);
#pragma omp parallel for schedule(static)
  for (Index i = 0; i < samples; ++i) {
    RandomStream rng(seed, StreamPurpose::source, 7400, std::uint64_t(i));
    for (Index k = 0; k < rows; ++k) Z(k, i) = rng.normal();
  }
  return Z;
}

std::unique_ptr<ResidualSite> sampled_residual_site(const Settings& s, const RowMatrix& normals, Index first,
                                                    Index count) {
  return std::make_unique<SampledResidualSite>(s, normals, first, count);
}

}  // namespace dmft::attention_m1_sweep
