// Limit A of M1 (attention.md §3.2 in limit A, §3.3, §3.7): the causal sweep and its coordinate
// (head) site. In limit A every head carries the same deterministic A(t) and E(t), so the
// coordinate site is linear in its Gaussian sources [χ^Q | χ^K | χ^V (cov Φ^h) | ξ^O (cov G^u)]
// with deterministic coefficients, for any φ: each of its fields is a coefficient row over these
// sources, kernels are F C Fᵀ and its responses R^o, R^X are column blocks of the rows. The
// residual site (attention_m1_sweep.hpp) supplies Φ^h, G^u, R^h, R^u.
#include <exception>
#include <utility>
#include <vector>

#include "dmft/attention_limit_a.hpp"
#include "dmft/attention_m0_limit_b.hpp"
#include "dmft/error_update.hpp"
#include "attention_m1_sweep.hpp"

namespace dmft::attention_m1_sweep {

using attention_site::add_sources;
using attention_site::SiteSources;
using attention_sweep::attend;
using attention_sweep::attention_backward;
using attention_sweep::coupling;
using attention_sweep::equal_time;
using attention_sweep::fill_two_time;
using attention_sweep::HeadForward;
using attention_sweep::record_attention;
using attention_sweep::set_delta;
using attention_sweep::token_sum;
using attention_sweep::token_weights;

Settings::Settings(const SequenceData& data, const AttentionM1Options& opt)
    : g{opt.base.T, data.P, data.S}, causal_mask(opt.base.causal_mask),
      eps(opt.base.eta * opt.base.gamma0 / double(data.P)), gamma0(opt.base.gamma0), eta(opt.base.eta),
      rho(opt.rho), beta(opt.beta), c_E(opt.lr_e), c_O(opt.lr_o), c_w(opt.base.lr_w),
      c{opt.base.lr_q, opt.base.lr_k, opt.base.lr_v}, phi(opt.phi), y(data.y) {
  const Vector pi = pooling_vector(opt.base.pool, g.S);
  pi_tokens = pi.replicate(g.P, 1);
  pool = token_weights(pi, g);
  Kx = attention_m0_token_kernel(data);
}

Orders::Orders(const Grid& g) {
  const Index n = g.tps();
  for (RowMatrix* K : {&Phi_h, &Phi_o, &G_u, &R_h, &R_u, &R_o, &G[0], &G[1], &G[2], &R[0], &R[1], &R[2]})
    *K = RowMatrix::Zero(n, n);
  Delta = RowMatrix::Zero(g.T, g.P);
  delta_tokens = Vector::Zero(n);
}

namespace {

/// The coordinate site and the order of §3.7 around a residual site.
class Sweep {
 public:
  Sweep(const Settings& s, ErrorUpdate update, Orders& o, ResidualSite& residual)
      : s_(s), g_(s.g), update_(update), o_(o), residual_(residual) {
    const Index tps = g_.tps();
    for (std::size_t X = 0; X < 3; ++X) chi_[X] = coord_.add(tps, &o_.Phi_h, true);
    xi_O_ = coord_.add(tps, &o_.G_u, true);
    orow_ = RowMatrix::Zero(tps, coord_.width());
    for (RowMatrix& m : grad_) m = RowMatrix::Zero(tps, coord_.width());
    out_ = AttentionM0Trajectory::sized(g_.T, g_.P, g_.S, 1);
  }

  AttentionM0Trajectory run() {
    if (update_ == ErrorUpdate::ntk) set_delta(o_.Delta, o_.delta_tokens, s_.y, g_, 0);  // Δ(0) = y
    for (Index t = 0; t < g_.T; ++t) {  // the order of §3.7
      residual_.forward(t, o_);
      head_forward(t);
      const Vector f = residual_.readout(t, o_);
      if (update_ == ErrorUpdate::exact) set_delta(o_.Delta, o_.delta_tokens, s_.y - f, g_, t);
      head_backward(t);
      residual_.backward(t, o_);
      effective_ntk(t);
    }
    out_.Delta = o_.Delta;
    out_.loss = loss_curve(out_.Delta);
    return std::move(out_);
  }

 private:
  /// Step 2: (H1) q(I) = χ^Q(I) + Σ_{s<t} R^h(I;J) g^q(J) + c_Q [Φ^h * g^q](I), k and v likewise
  /// with (χ^K, g^k, c_K), (χ^V, g^v, c_V); (H2), (H3); Φ^o(t, s ≤ t) = ⟨o(t) o(s)⟩ and
  /// R^o(t; s < t) = ⟨∂o(t)/∂ξ^O(s)⟩, the block of o's rows on ξ^O (strictly causal).
  void head_forward(Index t) {
    const Index lo = g_.first(t), ps = g_.ps(), live = g_.live(t);
    for (std::size_t X = 0; X < 3; ++X) {
      const RowMatrix C = coupling(o_.R_h.block(lo, 0, ps, lo), o_.Phi_h, s_.c[X] * s_.eps, o_.delta_tokens, g_, t);
      qkv_[X] = C * grad_[X].topRows(lo);
      add_sources(qkv_[X], chi_[X] + lo);
    }
    head_ = attend(coord_, qkv_[0], qkv_[1], qkv_[2], live, g_, s_.causal_mask);
    orow_.middleRows(lo, ps) = head_.o;
    record_attention(out_, head_);
    fill_two_time(o_.Phi_o, coord_.moment(head_.o, orow_.topRows(live), live), g_, t);
    o_.R_o.block(lo, 0, ps, lo) = head_.o.middleCols(xi_O_, lo);
  }

  /// Step 4: (H4) g^o(I) = ξ^O(I) + Σ_{s≤t} R^u(I;J) o(J) + c_O [G^u * o](I) (R^u has an equal-time
  /// block for nonlinear φ); (H5), (H6); G^X(t, s ≤ t) = ⟨g^X(t) g^X(s)⟩ and R^X(t; s ≤ t), the block
  /// of g^X's rows on χ^X. R^Q, R^K are strictly causal; R^V(t; t) = Σ_μ σᵀ R^u(t; t) σ is nonzero
  /// when R^u(t; t) is (§3.3's "strictly causal" holds for φ = id only).
  void head_backward(Index t) {
    const Index lo = g_.first(t), ps = g_.ps(), live = g_.live(t);
    const RowMatrix C = coupling(o_.R_u.block(lo, 0, ps, live), o_.G_u, s_.c_O * s_.eps, o_.delta_tokens, g_, t);
    RowMatrix go = C * orow_.topRows(live);
    add_sources(go, xi_O_ + lo);
    const std::array<RowMatrix, 3> grads = attention_backward(coord_, qkv_, go, head_.sigma, live, g_);
    for (std::size_t X = 0; X < 3; ++X) {
      grad_[X].middleRows(lo, ps) = grads[X];
      fill_two_time(o_.G[X], coord_.moment(grads[X], grad_[X].topRows(live), live), g_, t);
      o_.R[X].block(lo, 0, ps, live) = grads[X].middleCols(chi_[X], live);
    }
  }

  /// Step 6: the NTK of §3.2, all kernels at (t, μa; t, νb):
  /// K(t)_μν = Σ_ab [c_w π_a π_b Φ^φ + c_O G^u Φ^o + Σ_X c_X G^X Φ^h + c_E G^h K^x];
  /// ntk update Δ(t+1) = Δ(t) − (η/P) K(t) Δ(t).
  void effective_ntk(Index t) {
    const RowMatrix Phi_h = equal_time(o_.Phi_h, g_, t);
    Matrix K = s_.c_w * s_.pool * o_.Phi_phi_tt * s_.pool.transpose();
    K += s_.c_O * token_sum(equal_time(o_.G_u, g_, t).cwiseProduct(equal_time(o_.Phi_o, g_, t)), g_);
    for (std::size_t X = 0; X < 3; ++X) K += s_.c[X] * token_sum(equal_time(o_.G[X], g_, t).cwiseProduct(Phi_h), g_);
    K += s_.c_E * token_sum(o_.G_h_tt.cwiseProduct(s_.Kx), g_);
    out_.ntk.push_back(K);
    if (update_ == ErrorUpdate::ntk && t + 1 < g_.T) {
      const Vector delta = o_.Delta.row(t).transpose();
      set_delta(o_.Delta, o_.delta_tokens, delta - (s_.eta / double(g_.P)) * (K * delta), g_, t + 1);
    }
  }

  const Settings& s_;
  const Grid& g_;
  ErrorUpdate update_;
  Orders& o_;
  ResidualSite& residual_;
  SiteSources coord_;
  std::array<Index, 3> chi_{};
  Index xi_O_ = 0;
  RowMatrix orow_;                  // o rows of every step
  std::array<RowMatrix, 3> grad_;   // g^q, g^k, g^v rows of every step
  std::array<RowMatrix, 3> qkv_;    // q, k, v of the current step
  HeadForward head_;
  AttentionM0Trajectory out_;
};

}  // namespace

AttentionM0Trajectory run_m1_sweep(const Settings& s, ErrorUpdate update,
                                   const std::function<std::unique_ptr<ResidualSite>(const Orders&)>& make_site) {
  Orders o(s.g);
  const std::unique_ptr<ResidualSite> residual = make_site(o);
  AttentionM0Trajectory out = Sweep(s, update, o, *residual).run();
  out.two_time["Phi_h"] = std::move(o.Phi_h);
  out.two_time["Phi_o"] = std::move(o.Phi_o);
  out.two_time["G_u"] = std::move(o.G_u);
  out.two_time["R_h"] = std::move(o.R_h);
  out.two_time["R_u"] = std::move(o.R_u);
  out.two_time["R_o"] = std::move(o.R_o);
  const char* kernel_names[3] = {"G_Q", "G_K", "G_V"};
  const char* response_names[3] = {"R_Q", "R_K", "R_V"};
  for (std::size_t X = 0; X < 3; ++X) {
    out.two_time[kernel_names[X]] = std::move(o.G[X]);
    out.two_time[response_names[X]] = std::move(o.R[X]);
  }
  return out;
}

AttentionM0Trajectory sampled_sweep(const Settings& s, ErrorUpdate update, Index samples, std::uint64_t seed) {
  const RowMatrix normals = residual_normals(s.g, samples, seed);
  AttentionM0Trajectory out = run_m1_sweep(s, update, [&](const Orders&) {
    return sampled_residual_site(s, normals, 0, samples);
  });
  // Replicas: batch b's samples alone, a full solve of their own (the Monte Carlo error propagates
  // through the sweep, so it is measured on whole solves). Replicas run on the threads; inside each
  // the chunk loop of the sampled site then runs serially.
  const HeadBatches batches(samples, kLimitAReplicas);
  std::vector<RowMatrix> replica_delta(std::size_t(batches.B));
  std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic)
  for (Index b = 0; b < batches.B; ++b) {
    try {
      replica_delta[std::size_t(b)] = run_m1_sweep(s, update, [&](const Orders&) {
                                        return sampled_residual_site(s, normals, batches.begin(b), batches.size(b));
                                      }).Delta;
    } catch (...) {
#pragma omp critical(attention_limit_a_replicas)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  out.Delta_se = RowMatrix::Zero(s.g.T, s.g.P);
  std::vector<double> values(std::size_t(batches.B));
  for (Index t = 0; t < s.g.T; ++t)
    for (Index mu = 0; mu < s.g.P; ++mu) {
      for (Index b = 0; b < batches.B; ++b) values[std::size_t(b)] = replica_delta[std::size_t(b)](t, mu);
      out.Delta_se(t, mu) = batch_se(batches, values);
    }
  return out;
}

}  // namespace dmft::attention_m1_sweep
