#pragma once
// Limit B (H → ∞ at fixed head dimension N, any α_A) of the one-block attention model M1
// (theory attention.md §3.2, §3.7, §4.5) with a frozen embedding (λ_E = 0) and φ = id: Monte Carlo
// over heads (each a non-Gaussian process carrying N coordinates), the residual site solved
// exactly (it is linear-Gaussian with deterministic coefficients for φ = id), the head-level
// response R^o by tangents per head and coordinate.
//
// The reduction (derived from §3.2):
//  * Frozen embedding: h(μ,a) = χ^E(μ,a) is static, Φ^h = K^x at all (t,s), R^h = 0 and the
//    back-propagated fields z^X, g^h never feed back. The head site's q, k, v are then exactly M0's
//    parameter form (§3.4): per coordinate i, θ^Q_i, θ^K_i, θ^V_i ∈ R^D, i.i.d. N(0, 1) at t = 0,
//    q_i(t,μ,a) = D^{−1/2} θ^Q_i(t)·x_{μa} (k, v likewise), θ^X_i += c_X (ηγ0/(P√D)) Σ_μ Δ_μ Σ_a g^x_i x_{μa}.
//  * φ = id: g^u(t,μ,a) = β π_a w(t), so G^u(t,μa; s,νb) = β² π_a π_b W(t,s), W = ⟨w w⟩_res, and
//    R^u(t,μa; J) = β π_a ρ_w(t; J), ρ_w(t; J) = ⟨∂w(t)/∂χ^O(J)⟩. (H4) becomes g^o_i(t,μ,a) = β π_a ω_i(t),
//      ω_i(t) = ζ_i(t) + Σ_{s<t} Σ_{ν,b} ρ_w(t; s,ν,b) o_i(s,ν,b) + c_O β (ηγ0/P) Σ_{s<t} W(t,s) Σ_ν Δ_ν(s) ō_i(s,ν),
//    ζ_i ~ GP(0, W) i.i.d. over i (the source ξ^O_i = β π_a ζ_i), ō = Σ_b π_b o(·, b). The χ^O
//    sources reach w only pooled, ρ_w(t; s,ν,b) = λ_t(s,ν) π_b, so ω needs only ō's history.
//  * The residual site (R2)–(R5) is linear in its sources [χ^E (P·S, cov K^x) | w0 | χ^O (T·P·S,
//    cov Φ^o)]: coefficient rows marched in time; ρ_w is the χ^O block of w's row, W = rows·C·rowsᵀ,
//    f_μ(t) = γ0⁻¹ ⟨w(t) Σ_a π_a r(t,μ,a)⟩ (exactly 0 at t = 0), Δ = y − f. Only the contraction
//    R̃(I; s) = Σ_{ν,b} R^o(I; s,ν,b) β π_b = ∂o_i(I)/∂ω_i(s) enters (R2) (g^u(s,ν,b) = β π_b w(s)), so the
//    sweep propagates N·(T−1) tangent directions per head (one per coordinate i and source time s).
//  * R^o(I; J) = ⟨N⁻¹ Σ_i ∂o_i(I)/∂ξ^O_i(J)⟩ (strictly causal, same-coordinate derivatives, propagated
//    through the head's shared A, E, D, its θ updates and ω_i's dependence on past o, §3.7 (b)).
//
// Sweep per step t (§3.7): heads forward (σ, o) → Φ^o(t, ≤t), R̃(t, <t) → residual rows at t
// (u, r, w, f, Δ(t)) → W(t, ≤t), ρ_w(t; <t) → ζ_i(t) by the incremental Cholesky factor of W (with
// each coordinate's standard normals fixed) → ω_i(t), g^o, E, D, g^{q,k,v} → θ updates.
//
// Heads: head κ draws θ^Q, θ^K, θ^V (N×D each, row-major) and then its ζ normals z_i(t) (time-major)
// from RandomStream(seed, source, 7300, κ). Monte Carlo errors as in attention_m0_limit_b.hpp: the
// heads are split into min(n_h, kAttentionHeadBatches) contiguous batches, each batch is also run as
// its own independent limit-B solve (its replica: the same draws, its own residual site and order
// parameters), se(Δ) = [B/(B−1) Σ_b (n_b/n_h)² (Δ_b − Δ̄)²]^{1/2}; batches are reduced in their order,
// so results do not depend on the number of OpenMP threads.
//
// Cost per head and step (N coordinates, D-dimensional θ): O(N P S (S + D)) for the head itself,
// times (1 + N·(T−1)) for the tangents of the sweep, twice (the replica). Memory: every head and its
// replica hold their tangents, about 8·N²·(T−1)·(T·P + 3D) bytes each (25 kB on the §4.5 settings:
// 0.3 GB for 6000 heads). Recording the full R_o replays every head once more, one at a time, with
// N·(T−1)·P·S tangent directions. Measured on the §4.5 settings (N = 2, T = 14, P = S = 3, D = 4),
// 6000 heads: about 4 s of CPU for the sweep, 1 s for the replay.
#include <cstdint>

#include "dmft/attention_m1.hpp"

namespace dmft {

/// How limit B's head-level response R^o is computed.
enum class M1HeadResponse {
  tangent,            // forward-mode tangents, exact (the default)
  finite_difference,  // central differences of perturbed head copies (ε = 1e-5): a check of the tangents
  none,               // R^o = 0: the gradient-independence approximation, for comparison only
};

/// Switches of attention_m1_limit_b beyond the model's options.
struct AttentionM1LimitBControls {
  M1HeadResponse response = M1HeadResponse::tangent;
  /// Report "R_o" at full resolution ((T·P·S)²): after the sweep every head is replayed under the
  /// final order parameters with one tangent per (i, s, ν, b). False leaves "R_o" out (saves the replay).
  /// With response = none, "R_o" is zero; with finite_difference it is left out.
  bool record_response = true;
};

/// Limit B of M1, exact error update. Requires opt.lr_e == 0 and a linear φ (InputError naming
/// --lr-e / --activation otherwise). Heads κ = 0 … head_samples − 1 of `seed`. Returns (H = 1):
/// Δ with its Monte Carlo standard error, loss, head-mean logits and attention, and the two-time
/// arrays "Phi_o", "G_u", "R_o" ((T·P·S)², index (t·P + μ)·S + a).
AttentionM0Trajectory attention_m1_limit_b(const SequenceData& data, const AttentionM1Options& opt, Index N,
                                           Index head_samples, std::uint64_t seed);

/// The same with explicit controls (the response method, whether to record the full R_o).
AttentionM0Trajectory attention_m1_limit_b(const SequenceData& data, const AttentionM1Options& opt, Index N,
                                           Index head_samples, std::uint64_t seed,
                                           const AttentionM1LimitBControls& controls);

}  // namespace dmft
