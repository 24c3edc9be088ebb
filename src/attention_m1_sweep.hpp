#pragma once
// Internal to limit A of M1 (attention.md §3.2 in limit A, §3.3, §3.7): what the causal sweep's two
// sites share. The coordinate (head) site is always solved by coefficient rows (its map is linear
// with deterministic A, E); the residual site is either exact coefficient rows (φ = id,
// src/attention_m1_residual_exact.cpp) or Monte Carlo samples with adjoint tangent responses
// (smooth nonlinear φ, src/attention_m1_residual_sampled.cpp). The sites talk only through the
// deterministic order parameters below.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>

#include "dmft/attention_m1.hpp"
#include "dmft/model.hpp"
#include "attention_sweep.hpp"

namespace dmft::attention_m1_sweep {

using attention_sweep::Grid;

/// The model's settings as the sweep uses them.
struct Settings {
  Grid g;
  bool causal_mask;
  double eps, gamma0, eta;     // eps = ηγ0/P (the gradient convolution of §3.0)
  double rho, beta, c_E, c_O, c_w;
  std::array<double, 3> c;     // c_Q, c_K, c_V (α_A = 1: c_X = λ_X)
  Activation phi;
  Vector pi_tokens;            // π_a at index μ·S + a
  Matrix pool;                 // P × P·S: Σ_a π_a F(t, μ, a)
  RowMatrix Kx;                // K^x (P·S × P·S)
  Vector y;

  Settings(const SequenceData& data, const AttentionM1Options& opt);
};

/// The deterministic order parameters, two-time arrays ((T·P·S)², filled causally, §3.2 table).
/// The residual site writes Φ^h, G^u, R^h, R^u and the equal-time Φ^φ(t,t), G^h(t,t); the
/// coordinate site writes Φ^o, G^X, R^o, R^X. R^h is the response to each of ξ^Q, ξ^K, ξ^V (they
/// enter g^h additively, so the three are equal).
struct Orders {
  RowMatrix Phi_h, Phi_o, G_u, R_h, R_u, R_o;
  std::array<RowMatrix, 3> G, R;  // G^Q, G^K, G^V and R^Q, R^K, R^V
  RowMatrix Phi_phi_tt, G_h_tt;   // P·S × P·S at the current step
  RowMatrix Delta;                // T × P
  Vector delta_tokens;            // Δ_ν(s) at index (s·P + ν)·S + b

  explicit Orders(const Grid& g);
};

/// The residual coordinate process (R1)–(R7) of §3.2 in limit A, advanced one step at a time in
/// the order of §3.7.
class ResidualSite {
 public:
  virtual ~ResidualSite() = default;
  /// Step 1: h(t); Φ^h(t, s ≤ t) and R^h(t, s < t).
  virtual void forward(Index t, Orders& o) = 0;
  /// Step 3: u, r, w, g^u at t; G^u(t, s ≤ t), R^u(t, s ≤ t), Φ^φ(t, t). Returns f(t) (P), the
  /// exact output γ0⁻¹ ⟨w(t) Σ_a π_a φ(r(t, μ, a))⟩ (§3.2).
  virtual Vector readout(Index t, Orders& o) = 0;
  /// Step 5: z^X, g^h at t; G^h(t, t).
  virtual void backward(Index t, Orders& o) = 0;
};

/// φ = id: coefficient rows over [χ^E | w0 | χ^O | ξ^Q | ξ^K | ξ^V], exact (§3.3).
std::unique_ptr<ResidualSite> exact_residual_site(const Settings& s, const Orders& o);

/// The standard normals of the sampled residual site: column i belongs to sample i, rows
/// [χ^E (P·S) | w0 (1) | χ^O (T·P·S) | ξ (T·P·S)], drawn from RandomStream(seed, source, 7400, i),
/// so a sample is the same in every solve and replica and on any number of threads.
RowMatrix residual_normals(const Grid& g, Index samples, std::uint64_t seed);

/// Smooth nonlinear φ: Monte Carlo over the columns [first, first + count) of `normals`, with the
/// residual responses R^h, R^u by adjoint (reverse-mode) tangents per sample, averaged (§3.7 (b)).
std::unique_ptr<ResidualSite> sampled_residual_site(const Settings& s, const RowMatrix& normals, Index first,
                                                    Index count);

/// One causal sweep of M1 in limit A with the given residual site: Δ, loss, A, σ, K(t) and the
/// two-time arrays (attention_limit_a.hpp).
AttentionM0Trajectory run_m1_sweep(const Settings& s, ErrorUpdate update,
                                   const std::function<std::unique_ptr<ResidualSite>(const Orders&)>& make_site);

/// Limit A with the sampled residual site on `samples` samples (residual_normals(seed)), plus its
/// replicas (attention_limit_a.hpp: kLimitAReplicas batches, each solved on its own) for Delta_se.
AttentionM0Trajectory sampled_sweep(const Settings& s, ErrorUpdate update, Index samples, std::uint64_t seed);

}  // namespace dmft::attention_m1_sweep
