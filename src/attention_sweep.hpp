#pragma once
// Internal to the limit-A solvers (src/attention_limit_a.cpp, src/attention_m1_*.cpp): the step grid
// of the causal sweep (attention.md §3.7), the causal couplings built from two-time arrays, and the
// coordinate site's attention at one step (§3.3: A, E deterministic cross-kernels).
#include <array>
#include <vector>

#include "dmft/attention_m0.hpp"
#include "attention_site.hpp"

namespace dmft::attention_sweep {

using attention_site::RowsRef;
using attention_site::SiteSources;

/// Sizes of a sweep: T steps, P sequences, S tokens. Rows of step t are t·P·S … (t+1)·P·S − 1 of
/// every field matrix (index (t·P + μ)·S + a).
struct Grid {
  Index T, P, S;
  Index ps() const { return P * S; }
  Index tps() const { return T * P * S; }
  Index first(Index t) const { return t * P * S; }  // first row of step t; also the number of rows before it
  Index live(Index t) const { return first(t + 1); }  // rows of steps ≤ t
};

/// Stores K(t, s ≤ t) of a symmetric two-time array (attention_site::fill_two_time) on the grid.
inline void fill_two_time(RowMatrix& K, const RowsRef& row, const Grid& g, Index t) {
  attention_site::fill_two_time(K, row, g.first(t), g.ps());
}

/// Coefficients of the P·S fields of step t on a partner field's rows: the response block
/// R(t; s) (`response`, P·S × its columns: s < t, or s ≤ t with an equal-time block) plus the
/// gradient convolution of §3.0, c (ηγ0/P) K(t; s) Δ_ν(s) for s < t (`c_eps` = c ηγ0/P;
/// `delta_tokens` holds Δ_ν(s) at index (s·P + ν)·S + b).
RowMatrix coupling(const RowsRef& response, const RowMatrix& K, double c_eps, const Vector& delta_tokens, const Grid& g,
                   Index t);

/// The equal-time block K(t, t) (P·S × P·S) of a two-time array.
RowMatrix equal_time(const RowMatrix& K, const Grid& g, Index t);

/// P × P·S token weights: row μ holds w_a at columns μ·S + a. With w = π it pools a step's rows
/// into Σ_a π_a F(t, μ, a); with w = 1 it sums tokens.
Matrix token_weights(const Vector& w, const Grid& g);

/// Σ_{a,b} M(μa, νb) of an equal-time array (P·S × P·S): a P × P matrix.
Matrix token_sum(const RowMatrix& M, const Grid& g);

/// Δ(t, ν) into row t of `Delta` and at the indices (t·P + ν)·S + b of `delta_tokens`.
void set_delta(RowMatrix& Delta, Vector& delta_tokens, const Vector& delta, const Grid& g, Index t);

/// The rows of the P sequences of one step, each multiplied by its own S×S matrix (or its transpose).
RowMatrix per_sequence(const std::vector<RowMatrix>& M, const RowMatrix& F, const Grid& g, bool transpose);

struct HeadForward {
  std::vector<RowMatrix> A, sigma;  // P logits A(t, μ) and attention σ(t, μ), S×S
  RowMatrix o;                      // P·S rows of o(t)
};

/// (H2) A(t,μ)_ab = ⟨q(t,μ,a) k(t,μ,b)⟩ (§3.3: the same-sequence block of C^{qk}), σ = softmax_b(A + m);
/// (H3) o(t,μ,a) = Σ_b σ_ab v(t,μ,b). q, k, v are coefficient rows of the coordinate site.
HeadForward attend(const SiteSources& site, const RowMatrix& q, const RowMatrix& k, const RowMatrix& v, Index live,
                   const Grid& g, bool causal_mask);

/// (H5) E(t,μ)_ab = ⟨g^o(t,μ,a) v(t,μ,b)⟩, D_ab = σ_ab (E_ab − Σ_c σ_ac E_ac);
/// (H6) with N^{1−α_A} = 1 (§3.3): g^q = D k, g^k = Dᵀ q, g^v = σᵀ g^o. Returns {g^q, g^k, g^v}.
std::array<RowMatrix, 3> attention_backward(const SiteSources& site, const std::array<RowMatrix, 3>& qkv,
                                            const RowMatrix& go, const std::vector<RowMatrix>& sigma, Index live,
                                            const Grid& g);

/// Appends one step's logits and attention (H = 1) to a trajectory.
void record_attention(AttentionM0Trajectory& out, const HeadForward& head);

}  // namespace dmft::attention_sweep
