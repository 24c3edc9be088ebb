#pragma once
// Limit A of the attention models (theory attention.md §3.3, §3.7): α_A = 1, N → ∞ at any H,
// heads collapse and every attention matrix is a deterministic cross-kernel. With φ = id every
// site process is linear in its Gaussian sources with deterministic coefficients, so the DMFT is
// solved without Monte Carlo: each field is a coefficient row over its site's sources
// (coordinate site [χ^Q | χ^K | χ^V | ξ^O], residual site [χ^E | w0 | χ^O | ξ^Q | ξ^K | ξ^V]),
// kernels are F C Fᵀ and responses are blocks of the coefficient rows, marched causally in time
// in one sweep (§3.7).
//
// For M0 (§3.4: no residual stream, q, k, v read x directly, g^o = π_a w) this is the field-form
// coordinate-site DMFT; the O(D³) moment recursion attention_m0_limit_a is its independent oracle.
#include "dmft/attention_m1.hpp"
#include "dmft/model.hpp"

namespace dmft {

enum class AttentionBlock { m0, m1 };

/// Limit A of `block` with φ = id (M0 ignores ρ, β, φ, λ_E, λ_O). Requires α_A = 1 and, for M1,
/// a linear φ (InputError naming the option otherwise). Returns (H = 1): Δ, loss, the
/// deterministic logits and attention per step and sequence, `ntk` K(t) (P×P, §3.2 / §3.4) and
/// the two-time arrays of §3.2's order-parameter table that the block has, named
/// "Phi_h", "Phi_o", "G_u", "G_Q", "G_K", "G_V", "R_h", "R_u", "R_o", "R_Q", "R_K", "R_V"
/// (M0: "Phi_o", "G_Q", "G_K", "G_V"), each (T·P·S)², index (t·P + μ)·S + a.
/// `update`: exact (Δ = y − f from the site average, the default of the project) or ntk
/// (Δ(t+1) = Δ(t) − (η/P) K(t) Δ(t)).
AttentionM0Trajectory attention_limit_a(const SequenceData& data, const AttentionM1Options& opt, AttentionBlock block,
                                        ErrorUpdate update = ErrorUpdate::exact);

/// Peak bytes attention_limit_a holds for these sizes (coefficient rows and two-time arrays), for
/// the memory guard of `dmft solve --dry-run`.
double attention_limit_a_bytes(Index T, Index P, Index S, AttentionBlock block);

}  // namespace dmft
