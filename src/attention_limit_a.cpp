// Limit A of the attention models (theory attention.md §3.3, §3.4, §3.7): M0 here, solved by the
// coefficient representation without Monte Carlo; M1 by the causal sweep of
// src/attention_m1_limit_a.cpp with an exact (φ = id) or sampled (smooth φ) residual site.
//
// In limit A (α_A = 1, N → ∞) every head carries the same deterministic A(t). M0's coordinate
// site is linear in its Gaussian sources with deterministic coefficients: a field F(I),
// I = (t, μ, a), is one row F_I over the sources [χ^Q | χ^K | χ^V (P·S each, cov K^x, static) |
// w0 (1)], a site average is ⟨F(I) G(J)⟩ = F_I C G_Jᵀ with C block-diagonal.
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
#include "attention_m1_sweep.hpp"

namespace dmft {
namespace {

using attention_site::add_sources;
using attention_site::SiteSources;
using attention_sweep::attend;
using attention_sweep::attention_backward;
using attention_sweep::Grid;
using attention_sweep::HeadForward;
using attention_sweep::record_attention;
using attention_sweep::token_sum;
using attention_sweep::token_weights;

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

}  // namespace

AttentionM0Trajectory attention_limit_a(const SequenceData& data, const AttentionM1Options& opt, AttentionBlock block,
                                        ErrorUpdate update, const LimitASampling& sampling) {
  data.validate();
  if (block == AttentionBlock::m0)
    opt.base.validate();  // M0 has no ρ, β, φ, λ_E, λ_O
  else
    opt.validate();
  if (opt.base.alpha_a != 1.0)
    throw InputError("alpha-a", format_value(opt.base.alpha_a),
                     "limit A (N -> infinity, heads collapse) exists only for alpha_A = 1 (attention.md §2)");
  if (block == AttentionBlock::m0) return solve_m0(data, opt.base, update);
  namespace m1 = attention_m1_sweep;
  const m1::Settings settings(data, opt);
  if (opt.phi.kind() == ActivationKind::linear && !sampling.sample_linear)
    return m1::run_m1_sweep(settings, update, [&](const m1::Orders& o) { return m1::exact_residual_site(settings, o); });
  if (opt.phi.has_kink())
    throw InputError("activation", opt.phi.name(),
                     "limit A of block m1 takes a smooth phi: the equal-time response R^u = beta^2 pi <w phi''(r)> "
                     "(attention.md 3.2) has a Dirac delta for relu that tangents miss; use tanh, softplus, ...");
  if (sampling.samples < kLimitAMinSamples)
    throw InputError("mc-samples", std::to_string(sampling.samples),
                     "limit A with a nonlinear phi samples the residual site: at least " +
                         std::to_string(kLimitAMinSamples) + " samples");
  return m1::sampled_sweep(settings, update, sampling.samples, sampling.seed);
}

double attention_limit_a_bytes(Index T, Index P, Index S, AttentionBlock block, Index samples) {
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
  // The coordinate site: rows o, g^q, g^k, g^v of every step, per-step rows (q, k, v, o, g^o) and
  // the 12 two-time order parameters of attention_m1_sweep::Orders.
  const double coordinate = 4.0 * tps * n_coord + 12.0 * tps * tps + 5.0 * ps * n_coord + 4.0 * ps * tps + record;
  if (samples == 0)  // the exact residual site: rows h, g^u of every step and per-step rows
    return 8.0 * (coordinate + 2.0 * tps * n_res + 5.0 * ps * n_res);
  // Sampled: the shared normals ((P·S + 1 + 2 T·P·S) × n); the coupled site and the replicas (whose
  // samples add up to n) each hold a copy of their normals, h, g^u, φ'(r), w φ''(r) (T·P·S × n), w and per-step
  // fields; every solve has two causal factors, two couplings ((T·P·S)²) and its coordinate site,
  // and an adjoint chunk two (T·P·S) × kAdjointColumns arrays; up to kLimitAReplicas replicas at once.
  const double n = double(samples);
  const double normals = (ps + 1 + 2 * tps) * n;
  const double fields = normals + 4 * tps * n + double(T) * n + 8 * ps * n;
  const double per_solve = coordinate + 4 * tps * tps + 2 * tps * 512.0;
  const double replicas = double(std::min<Index>(samples, kLimitAReplicas));
  return 8.0 * (normals + 2 * fields + (1 + replicas) * per_solve);
}

double attention_limit_a_sampled_flops(Index T, Index P, Index S, Index samples) {
  const double ps = double(P * S), t = double(T);
  // Two adjoint sweeps per step through two dense couplings: Σ_t 2·2·t² (P S)³ n ≈ (4/3) T³ (P S)³ n,
  // twice (the coupled solve and the replicas together).
  return 2.0 * (4.0 / 3.0) * t * t * t * ps * ps * ps * double(samples);
}

}  // namespace dmft
