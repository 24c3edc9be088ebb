#pragma once
// Limit A of the attention models (theory attention.md §3.3, §3.7): α_A = 1, N → ∞ at any H,
// heads collapse and every attention matrix is a deterministic cross-kernel. The coordinate (head)
// site is then linear in its Gaussian sources with deterministic coefficients, for any φ: each
// field is a coefficient row over its sources ([χ^Q | χ^K | χ^V | ξ^O]), kernels are F C Fᵀ and
// responses are blocks of the rows, marched causally in time in one sweep (§3.7). The residual
// site of M1 is solved the same way for φ = id (exact, no sampling) and by Monte Carlo with
// adjoint-tangent responses for a smooth nonlinear φ (src/attention_m1_residual_sampled.cpp).
//
// For M0 (§3.4: no residual stream, q, k, v read x directly, g^o = π_a w) this is the field-form
// coordinate-site DMFT; the O(D³) moment recursion attention_m0_limit_a is its independent oracle.
#include <cstdint>

#include "dmft/attention_m1.hpp"
#include "dmft/model.hpp"

namespace dmft {

enum class AttentionBlock { m0, m1 };

/// Fewest residual-site samples of a sampled limit-A solve, and its replicas: the samples are split
/// into min(n, kLimitAReplicas) contiguous batches, each also solved on its own, and se(Δ) is the
/// batch-means error of attention_m0_limit_b.hpp.
inline constexpr Index kLimitAMinSamples = 64;
inline constexpr Index kLimitAReplicas = 10;

/// Monte Carlo settings of limit A of M1 with a nonlinear φ (not used otherwise).
struct LimitASampling {
  Index samples = 0;       // residual-site samples n (≥ kLimitAMinSamples)
  std::uint64_t seed = 1;  // sample i draws from RandomStream(seed, source, 7400, i)
  /// Sample the residual site also for φ = id (where the exact site is used otherwise): a check
  /// of the sampler and its adjoint responses against the exact coefficient rows.
  bool sample_linear = false;
};

/// Limit A of `block` (M0 ignores ρ, β, φ, λ_E, λ_O). Requires α_A = 1; for M1 a linear φ (exact)
/// or a smooth one (sampled; ReLU is refused: its φ'' is a delta). InputError names the option.
/// Returns (H = 1): Δ (and, sampled, its standard error Delta_se), loss, the deterministic logits
/// and attention per step and sequence, `ntk` K(t) (P×P, §3.2 / §3.4) and the two-time arrays of
/// §3.2's order-parameter table that the block has, named "Phi_h", "Phi_o", "G_u", "G_Q", "G_K",
/// "G_V", "R_h", "R_u", "R_o", "R_Q", "R_K", "R_V" (M0: "Phi_o", "G_Q", "G_K", "G_V"), each
/// (T·P·S)², index (t·P + μ)·S + a. `update`: exact (Δ = y − f from the site average, the default
/// of the project) or ntk (Δ(t+1) = Δ(t) − (η/P) K(t) Δ(t)).
AttentionM0Trajectory attention_limit_a(const SequenceData& data, const AttentionM1Options& opt, AttentionBlock block,
                                        ErrorUpdate update = ErrorUpdate::exact, const LimitASampling& sampling = {});

/// Peak bytes attention_limit_a holds for these sizes (coefficient rows, two-time arrays and, with
/// `samples` > 0, the sampled residual site), for the memory guard of `dmft solve --dry-run`.
double attention_limit_a_bytes(Index T, Index P, Index S, AttentionBlock block, Index samples = 0);
/// Flops of the sampled residual site's adjoint responses over a run (the dominant step).
double attention_limit_a_sampled_flops(Index T, Index P, Index S, Index samples);

}  // namespace dmft
