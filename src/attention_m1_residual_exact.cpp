// The residual site of M1 in limit A with φ = id (attention.md §3.3): every field is linear in the
// site's Gaussian sources with deterministic coefficients, so it is one coefficient row over
//
//   [χ^E (P·S, cov K^x, static) | w0 (1) | χ^O (T·P·S, cov Φ^o) | ξ^Q | ξ^K | ξ^V (T·P·S, cov G^Q, G^K, G^V)]
//
// (time-indexed blocks in the order (t·P + μ)·S + a). Site averages are F C Gᵀ, and the responses
// are column blocks of the rows: R^h = h on ξ^X, R^u = g^u on χ^O. No sampling.
#include "attention_m1_sweep.hpp"

namespace dmft::attention_m1_sweep {
namespace {

using attention_site::add_sources;
using attention_site::SiteSources;
using attention_sweep::coupling;
using attention_sweep::fill_two_time;

class ExactResidualSite final : public ResidualSite {
 public:
  ExactResidualSite(const Settings& s, const Orders& o) : s_(s), g_(s.g) {
    const Index ps = g_.ps(), tps = g_.tps();
    unit_ = RowMatrix::Identity(1, 1);
    chi_E_ = res_.add(ps, &s_.Kx, false);
    w0_ = res_.add(1, &unit_, false);
    chi_O_ = res_.add(tps, &o.Phi_o, true);
    for (std::size_t X = 0; X < 3; ++X) xi_[X] = res_.add(tps, &o.G[X], true);
    h_ = gu_ = RowMatrix::Zero(tps, res_.width());
    embed_conv_ = RowMatrix::Zero(ps, res_.width());
    w_ = RowMatrix::Zero(1, res_.width());
    w_(0, w0_) = 1.0;
  }

  /// (R1) h(I) = χ^E(μ,a) + c_E [K^x * g^h](I); Φ^h(t, s ≤ t) = ⟨h(t) h(s)⟩; R^h(t; s < t), the
  /// block of h's rows on ξ^Q (strictly causal).
  void forward(Index t, Orders& o) override {
    const Index lo = g_.first(t), ps = g_.ps(), live = g_.live(t);
    RowMatrix h = embed_conv_;
    add_sources(h, chi_E_);
    h_.middleRows(lo, ps) = h;
    fill_two_time(o.Phi_h, res_.moment(h, h_.topRows(live), live), g_, t);
    o.R_h.block(lo, 0, ps, lo) = h.middleCols(xi_[0], lo);
  }

  /// (R2) u(I) = χ^O(I) + Σ_{s<t} R^o(I;J) g^u(J) + c_O [Φ^o * g^u](I); (R3) r = ρ h + β u;
  /// (R4) w(t) = w(t−1) + c_w (ηγ0/P) Σ_ν Δ_ν(t−1) Σ_a π_a r(t−1, ν, a); (R5) g^u = β π_a w(t);
  /// G^u(t, s ≤ t), R^u(t; s < t) (the block of g^u on χ^O; no equal-time block for φ = id),
  /// Φ^φ(t,t) = Φ^r(t,t); f_μ(t) = γ0⁻¹ ⟨w(t) Σ_a π_a r(t, μ, a)⟩.
  Vector readout(Index t, Orders& o) override {
    const Index lo = g_.first(t), ps = g_.ps(), live = g_.live(t);
    const RowMatrix C = coupling(o.R_o.block(lo, 0, ps, lo), o.Phi_o, s_.c_O * s_.eps, o.delta_tokens, g_, t);
    RowMatrix u = C * gu_.topRows(lo);
    add_sources(u, chi_O_ + lo);
    const RowMatrix r = s_.rho * h_.middleRows(lo, ps) + s_.beta * u;
    if (t > 0) w_.noalias() += s_.c_w * s_.eps * o.Delta.row(t - 1) * rbar_;
    rbar_ = s_.pool * r;
    const RowMatrix gu = s_.beta * s_.pi_tokens * w_;
    gu_.middleRows(lo, ps) = gu;
    fill_two_time(o.G_u, res_.moment(gu, gu_.topRows(live), live), g_, t);
    o.R_u.block(lo, 0, ps, live) = gu.middleCols(chi_O_, live);
    o.Phi_phi_tt = res_.moment(r, r, live);
    return res_.moment(rbar_, w_, live).col(0) / s_.gamma0;
  }

  /// (R6) z^X(I) = ξ^X(I) + Σ_{s≤t} R^X(I;J) h(J) + c_X [G^X * h](I); (R7) g^h = ρ g^r + Σ_X z^X;
  /// G^h(t, t); then c_E [K^x * g^h](t+1) = c_E [K^x * g^h](t) + c_E (ηγ0/P) K^x Δ(t) g^h(t).
  void backward(Index t, Orders& o) override {
    const Index lo = g_.first(t), ps = g_.ps(), live = g_.live(t);
    RowMatrix gh = s_.rho * s_.pi_tokens * w_;
    for (std::size_t X = 0; X < 3; ++X) {
      const RowMatrix C = coupling(o.R[X].block(lo, 0, ps, live), o.G[X], s_.c[X] * s_.eps, o.delta_tokens, g_, t);
      gh.noalias() += C * h_.topRows(live);
      add_sources(gh, xi_[X] + lo);
    }
    o.G_h_tt = res_.moment(gh, gh, live);
    if (t + 1 < g_.T)
      embed_conv_.noalias() += s_.c_E * s_.eps * (s_.Kx * o.delta_tokens.segment(lo, ps).asDiagonal()) * gh;
  }

 private:
  const Settings& s_;
  const Grid& g_;
  RowMatrix unit_;
  SiteSources res_;
  Index chi_E_ = 0, w0_ = 0, chi_O_ = 0;
  std::array<Index, 3> xi_{};
  RowMatrix h_, gu_;        // coefficient rows of h and g^u of every step
  RowMatrix embed_conv_;    // c_E [K^x * g^h](t), P·S × width
  RowMatrix w_, rbar_;      // w(t) (1 × width); Σ_a π_a r(t, μ, a) (P × width)
};

}  // namespace

std::unique_ptr<ResidualSite> exact_residual_site(const Settings& s, const Orders& o) {
  return std::make_unique<ExactResidualSite>(s, o);
}

}  // namespace dmft::attention_m1_sweep
