#pragma once
// The M0 attention model (attention.md §1.2) with many heads: its t = 0 head statistics (§3.6,
// §4.1) and its limit B (H → ∞ at fixed head dimension N, any α_A; §2, §3.2, §3.4).
//
// Heads are drawn by attention_m0_head_weights (attention_m0.hpp), the same draws as the finite
// network's: head κ of a sampler with seed s is head κ of AttentionM0Network(…, N, H, s). So a
// finite network with H heads is limit B's Monte Carlo with n_h = H samples (a unit test checks
// this to rounding), and a comparison of limit B with finite networks must use different seeds.
//
// Monte Carlo errors come from batch means over a fixed partition of the sampled heads into
// min(n_h, kAttentionHeadBatches) contiguous batches (batch b holds heads ⌊b·n_h/B⌋ … ⌊(b+1)·n_h/B⌋ − 1);
// batches are reduced in their order, so every result is the same for any number of OpenMP threads.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "dmft/attention_m0.hpp"
#include "dmft/model.hpp"

namespace dmft {

/// Number of head batches of the batch-means standard errors (fewer if there are fewer heads).
inline constexpr Index kAttentionHeadBatches = 40;
/// Why a head sampler needs at least two heads.
inline constexpr const char* kHeadSamplesRule = "at least 2 heads are needed (the standard error comes from batch means)";

/// The fixed partition of n sampled heads into B = min(n, max_batches) contiguous
/// batches: batch b holds heads ⌊b·n/B⌋ … ⌊(b+1)·n/B⌋ − 1 (shared by limit B of M0 and M1 and by
/// the residual samples of limit A).
struct HeadBatches {
  Index n, B;
  explicit HeadBatches(Index heads, Index max_batches = kAttentionHeadBatches)
      : n(heads), B(std::min(heads, max_batches)) {}
  Index begin(Index b) const { return b * n / B; }
  Index end(Index b) const { return (b + 1) * n / B; }
  Index size(Index b) const { return end(b) - begin(b); }
};

/// The batch-means standard error of a weighted mean: with batch means m_b of n_b heads and the
/// total mean m = Σ n_b m_b / n, se² = B/(B − 1) Σ_b (n_b/n)² (m_b − m)².
double batch_se(const HeadBatches& batches, const std::vector<double>& means, double total);
/// The same with m the size-weighted mean of `means`: the standard error of Δ from replica solves,
/// value b being batch b's own solve (limit B of M0 and M1, sampled limit A).
double batch_se(const HeadBatches& batches, const std::vector<double>& means);

/// A head average ⟨F⟩_head of a matrix-valued head statistic F with its Monte Carlo error.
struct HeadAverage {
  RowMatrix mean;                      // (1/n_h) Σ_κ F_κ
  RowMatrix se;                        // entrywise standard error of `mean` from the batch means
  std::vector<RowMatrix> batch_means;  // B matrices: the mean of F over each head batch
  std::vector<Index> batch_sizes;      // B head counts (they sum to n_h)
  Index samples = 0;                   // n_h
};

/// The law of the t = 0 logits of a sampled head.
enum class M0LogitLaw {
  /// The finite-N head: A_μ = N^{−α_A} q_μ k_μᵀ with q = D^{−1/2} X_μ W^{Qᵀ}, k likewise
  /// (attention_m0_head_weights), i.e. A_μ = N^{1−α_A} X_μ Σ X_μᵀ / D with Σ = N⁻¹ W^{Qᵀ} W^K.
  finite_width,
  /// Gaussian logits with the same covariance, Cov(A_{μ,ab}, A_{ν,cd}) = N^{1−2α_A} K^x(μa, νc)
  /// K^x(μb, νd): A_μ = N^{1/2−α_A} X_μ Z X_μᵀ / D with Z a D×D matrix of i.i.d. N(0, 1) (the
  /// central-limit law of N^{−1/2} W^{Qᵀ} W^K). For α_A = 1/2 it does not depend on N: it is the
  /// N → ∞ law of the heads (Hron20's multi-head GP, attention.md §4.1). Z of head κ is drawn
  /// from the stream (seed, source, 7100, κ).
  gaussian,
};

/// The attention map of the t = 0 head-output kernel.
enum class M0AttentionMap {
  softmax,   // σ_μ = softmax_b(A_μ + m), the model of §1.2
  identity,  // σ_μ = A_μ: the "linear attention" of §4.1, an oracle only (no model uses it; no mask)
};

/// The t = 0 logits A^κ_μ (P matrices S×S, unmasked) of head κ of the finite network with head
/// dimension N and the given seed: exactly AttentionM0Network(data, opt, N, H > κ, seed)'s.
std::vector<RowMatrix> attention_m0_initial_logits(const SequenceData& data, const AttentionM0Options& opt, Index N,
                                                   Index head, std::uint64_t seed);

/// The token kernel K^x(μa, νb) = x_{μa}·x_{νb} / D, (P·S)×(P·S), index μ·S + a.
RowMatrix attention_m0_token_kernel(const SequenceData& data);

/// The t = 0 head-output kernel by Monte Carlo over `head_samples` heads (§3.6):
///
///   Φ^o(0)(μa, νc) = ⟨N⁻¹ Σ_i o_i(μa) o_i(νc)⟩_head = Σ_{b,d} E_head[σ^μ_{ab} σ^ν_{cd}] K^x(μb, νd),
///
/// ((P·S)×(P·S), index μ·S + a). The second form holds because at t = 0 the values
/// v_i = D^{−1/2} W^V x are independent of σ (which depends on W^Q, W^K only) with
/// E[v_i(μb) v_i(νd)] = K^x(μb, νd); the estimator averages the per-head matrix
/// F_κ = Σ̃_κ K^x Σ̃_κᵀ, Σ̃_κ = blockdiag_μ(σ^κ_μ), i.e. it integrates the values exactly.
/// Heads κ = 0 … head_samples − 1 of `seed`, logits from `law`, attention from `map`. The causal
/// mask and α_A come from `opt`; `map = identity` refuses the mask (InputError: unspecified, §4.1).
HeadAverage attention_m0_phi_o0(const SequenceData& data, const AttentionM0Options& opt, Index N, Index head_samples,
                                std::uint64_t seed, M0LogitLaw law = M0LogitLaw::finite_width,
                                M0AttentionMap map = M0AttentionMap::softmax);

/// Φ^o(0) of limit A (§3.6): the logits vanish, σ is uniform over the keys the mask allows
/// (1/S, or 1/(a+1) for 0-based query a with the causal mask), so
/// Φ^o(0)(μa, νc) = Σ_{b,d} σ_ab σ_cd K^x(μb, νd); unmasked S^{−2} Σ_{b,d} K^x(μb, νd).
RowMatrix attention_m0_phi_o0_uniform(const SequenceData& data, const AttentionM0Options& opt);

/// Limit B of M0 (H → ∞ at fixed N, any α_A), exact-output mode, by Monte Carlo over
/// `head_samples` independently initialised heads (heads κ = 0 … n_h − 1 of `seed`).
///
/// In M0 the heads interact only through the common residuals Δ(t) (§3.4: a head site, no
/// residual stream, no response functions), so the single-site process of limit B is one head
/// with N coordinates i driven by a deterministic Δ(t), and Δ(t) = y − f(t) with
/// f_μ(t) = γ0⁻¹ ⟨N⁻¹ Σ_i w_i(t) ō_i(t, μ)⟩_head − (its t = 0 value) (§3.4 "exact output").
/// Each sampled head evolves by §3.4's head site — q_i = χ^Q_i + c_Q [K^x * g^q_i] (χ^Q_i = static
/// D^{−1/2} θ^Q_i(0)·x, likewise k, v), w_i(t) as in §3.4, then (H2), (H3), (H5), (H6) of §3.2 with
/// g^o_i = π_a w_i — written, as §3.4 recommends for small D, in parameter form
/// θ_i ← θ_i + c (η γ0 / (P √D)) Σ Δ g x. Every coordinate's update is linear in
/// z_i = (θ^Q_i, θ^K_i, θ^V_i, w_i) with coefficients that depend on the head only through its
/// empirical moments C1 = N⁻¹ Σ_i (θ^Q_i; θ^K_i)(θ^Q_i; θ^K_i)ᵀ and C2 = N⁻¹ Σ_i (θ^V_i; w_i)(θ^V_i; w_i)ᵀ,
/// so those close exactly: each head carries §3.4's recursion with its own random initial
/// moments and the factor N^{1−α_A} of (H6) on the key/query step,
///   A_μ = N^{1−α_A} X_μ C1[Q,K] X_μᵀ / D,  e_μ = X_μ C2[V,w] / √D,  s_μ = σ_μᵀ π,  F(μ) = s_μ·e_μ,
///   C1 ← T1 C1 T1ᵀ with T1 = [[I, c_Q ε B], [c_K ε Bᵀ, I]], ε = η γ0 N^{1−α_A},
///   C2 ← T2 C2 T2ᵀ with T2 = [[I, c_V η γ0 b], [c_w η γ0 bᵀ, 1]],
/// B and b the head's own (§3.4 with its σ_μ, e_μ), c_Q = c_K = N^{2α_A−2}, c_V = c_w = 1 (§1.5).
/// Cost O(P S D (S + D) + D³) per head and step, independent of N.
///
/// Returned: Δ (T×P) with its Monte Carlo standard error `Delta_se`, the loss, and per step and
/// sequence the head-mean logits and attention (H = 1 in the result). The standard error comes
/// from batch means over replicas: each head batch b (see above) is also run as an independent
/// limit-B solve of its own n_b ≈ n_h/B heads, driven by its own Δ_b (same draws, a second copy
/// of the state, so twice the cost), and se(Δ) = [B/(B−1) Σ_b (n_b/n_h)² (Δ_b − Δ̄)²]^{1/2}, the
/// O(n^{−1/2}) law carrying the replicas' spread to n_h heads. Replicas are needed because the
/// errors of f feed back through Δ: the spread of the batches' outputs under the common Δ (the
/// naive batch means) leaves that out and, on the §4.5 settings at t = 99, overstates the error
/// about 4× (training corrects earlier errors); the replica estimate matches the spread of
/// independent solves (a validation test).
///
/// `update` = ntk: Δ(0) = y, Δ(t+1) = Δ(t) − (η/P) K(t) Δ(t) with the head average K(t) of every
/// head's NTK (PackKernel::add_ntk in the source: the readout, value and key/query terms of §3.4
/// from the head's own moments), each replica with its own batch's K_b. Either way `ntk` holds K(t).
AttentionM0Trajectory attention_m0_limit_b(const SequenceData& data, const AttentionM0Options& opt, Index N,
                                           Index head_samples, std::uint64_t seed,
                                           ErrorUpdate update = ErrorUpdate::exact);

}  // namespace dmft
