#pragma once
// The one-block attention model M1 (theory attention.md §1.3): a trainable embedding onto a
// residual stream of width M = N·H, one multi-head softmax attention layer with an output
// projection, a skip ρ and a branch scale β, and a mean-field readout through a pointwise φ:
//
//   h_{μa} = D^{−1/2} W^E x_{μa}                    (M)
//   q^κ_{μa} = M^{−1/2} W^{Q,κ} h_{μa}, k, v likewise (N per head)
//   A^κ_{μ,ab} = N^{−α_A} q^κ_a·k^κ_b,  σ^κ = softmax_b(A^κ + m),  o^κ_a = Σ_b σ^κ_ab v^κ_b
//   u_{μa} = M^{−1/2} Σ_κ W^{O,κ} o^κ_{μa}           (M)
//   r = ρ h + β u,   f_μ = (γ0 M)^{−1} Σ_a π_a w·φ(r_{μa}) − [same at θ₀]
//
// Every weight i.i.d. N(0, 1); full-batch GD on 𝓛 = (1/2P) Σ Δ² with step c_θ η γ0² M per matrix
// (§1.5): c_E = λ_E, c_Q = λ_Q N^{2α_A−2}, c_K = λ_K N^{2α_A−2}, c_V = λ_V, c_O = λ_O, c_w = λ_w.
// Backward fields of §1.6. Units as in attention_m0.hpp (reported loss (1/P) Σ Δ²).
#include <cstdint>
#include <vector>

#include "dmft/activation.hpp"
#include "dmft/attention_m0.hpp"

namespace dmft {

/// Settings of M1: the M0 ones (η, γ0, T, α_A, mask, pooling, λ_Q, λ_K, λ_V, λ_w) and the block's.
struct AttentionM1Options {
  AttentionM0Options base;
  double rho = 1.0;   // skip ρ of r = ρ h + β u (≥ 0; the docs use 0 or 1)
  double beta = 1.0;  // branch scale β (> 0; β0 for one block)
  Activation phi{ActivationKind::linear};  // readout nonlinearity on r (linear: φ = id)
  double lr_e = 1.0;  // λ_E: embedding W^E (0 freezes it)
  double lr_o = 1.0;  // λ_O: output projection W^O

  /// Throws InputError naming the option, its value and the rule (base rules; ρ ≥ 0, β > 0,
  /// λ_E, λ_O ≥ 0 and finite).
  void validate() const;
};

/// One evaluation of the finite M1 network at its current weights, for all P sequences.
/// Row index of every field matrix: μ·S + a.
struct AttentionM1State {
  Vector f;                            // P: centred output
  RowMatrix h, u, r;                   // (P·S)×M
  std::vector<RowMatrix> q, k, v, o;   // per head κ: (P·S)×N
  std::vector<RowMatrix> A, sigma;     // index μ·H + κ: S×S logits (unmasked) and masked softmax
};

/// The finite M1 network with H heads of dimension N (M = N·H). Tensors (all i.i.d. N(0, 1),
/// drawn from RandomStream(seed, network, id, M) with fixed ids so a seed gives the same network
/// on any machine): W^E (M×D), per head W^{Q,κ}, W^{K,κ}, W^{V,κ} (N×M), W^{O,κ} (M×N), w (M).
class AttentionM1Network {
 public:
  AttentionM1Network(const SequenceData& data, const AttentionM1Options& opt, Index N, Index H, std::uint64_t seed);

  AttentionM1State evaluate() const;
  /// One GD step θ ← θ − c_θ η γ0² M ∂𝓛/∂θ with residuals `delta` (P) at the weights of `state`.
  void step(const AttentionM1State& state, const Vector& delta);
  /// 𝓛 = (1/2P) Σ_μ (y_μ − f_μ)² at the current weights (for finite differences).
  double objective() const;
  /// The uncentred output (P).
  Vector raw_output() const;
  /// The effective NTK K = γ0² M Σ_θ c_θ ∂f/∂θ ∂f/∂θᵀ (P×P) at the current weights, so that
  /// Δ(t+1) ≈ Δ(t) − (η/P) K Δ(t).
  Matrix ntk() const;
  /// The same at the weights of `state` (evaluate()'s result, not recomputed).
  Matrix ntk(const AttentionM1State& state) const;

  /// Trainable tensors: 0: W^E, then per head κ: 1 + 4κ + {0: W^Q, 1: W^K, 2: W^V, 3: W^O},
  /// last: w (M×1). Mutable for tests.
  std::vector<Matrix>& weights() { return weights_; }
  const std::vector<Matrix>& weights() const { return weights_; }
  Index width() const { return N_; }
  Index heads() const { return H_; }

 private:
  /// c_θ of tensor `tensor` (§1.5, times the λ of the options).
  double multiplier(std::size_t tensor) const;
  /// A gradient in factored form, scale·Lᵀ R: every gradient of this network is a sum over the
  /// (μ, a) rows of an outer product of a backward field and a forward field (§3.1), so the step
  /// is a rank-(P·S) update in place and the NTK a sum of (L Lᵀ)∘(R Rᵀ) blocks — no M×M temporaries.
  struct Factored {
    RowMatrix left, right;  // rows μ·S + a
    double scale = 1.0;
  };
  /// Σ_μ c_μ γ0 M ∂f_μ/∂θ for every tensor (layout of weights()), factored, over all P sequences
  /// of `state`, by the backward fields of §1.6. Row block μ of the factors belongs to f_μ alone.
  std::vector<Factored> gradients(const AttentionM1State& state, const Vector& c) const;

  const SequenceData* data_;
  AttentionM1Options opt_;
  Index N_, H_;
  RowMatrix X_;  // (P·S)×D, all tokens stacked, row μ·S + a
  Vector pi_;    // S: pooling vector
  std::vector<Matrix> weights_;
  Vector f0_;
};

/// Trains one finite M1 network for T steps; Δ(t), loss, logits and attention per head recorded
/// before the update of step t. With `record_kernels`: `ntk` (K(t) per step) and the two-time
/// arrays "Phi_h" = M⁻¹ h·h, "Phi_o" = M⁻¹ Σ_κ o^κ·o^κ, "G_u" = M⁻¹ g^u·g^u (g^u = β π_a w φ'(r),
/// §1.6), each (T·P·S)², index (t·P + μ)·S + a.
AttentionM0Trajectory train_attention_m1(const SequenceData& data, const AttentionM1Options& opt, Index N, Index H,
                                         std::uint64_t seed, bool record_kernels = false);

}  // namespace dmft
