#pragma once
// The minimal attention model M0 (theory attention.md §1.2): one multi-head softmax attention layer
// acting directly on the input tokens, no residual stream, no output projection, a mean-field
// readout on the concatenated heads. Two things live here:
//
//  * `attention_m0_limit_a`: the exact finite-dimensional recursion of limit A (α_A = 1, N → ∞,
//    any H; heads collapse) of attention.md §3.4, exact-output mode (Δ = y − f from the site
//    average, exact for finite-step gradient descent). It is the strongest oracle of the
//    attention DMFT: O(D³) per step, no sampling.
//  * `AttentionM0Network` / `train_attention_m0`: the finite M0 network of §1.2 with H heads of
//    dimension N, trained by full-batch gradient descent as in §1.5 (learning rate
//    c_θ η γ0² M on every matrix, M = N·H, c_Q = c_K = N^{2α_A−2}, c_V = c_w = 1), with the exact
//    backward fields of §1.6.
//
// Units and conventions (theory README, "Conventions shared by every model"): objective
// 𝓛 = (1/2P) Σ_μ Δ_μ², Δ = y − f with the centred output f = f(θ) − f(θ₀); the reported `loss`
// is the mean squared residual (1/P) Σ_μ Δ_μ², so loss(0) = mean(y²). Attention matrices are
// indexed (query token a, key token b) and the softmax normalises over b.
//
// Limit B (H → ∞ at fixed N) and the t = 0 head statistics of §4.1 are in attention_m0_limit_b.hpp.
//
// The project's Dataset has no token axis yet, so sequence data has its own small struct here.
#include <array>
#include <map>
#include <string>
#include <cstdint>
#include <utility>
#include <vector>

#include "dmft/parameters.hpp"
#include "dmft/types.hpp"

namespace dmft {

/// P training sequences of S tokens in R^D and one scalar target per sequence.
struct SequenceData {
  Index P = 0, S = 0, D = 0;
  std::vector<RowMatrix> X;  // P matrices S×D, row a = token x_{μa}
  Vector y;                  // P targets

  /// Throws InputError unless X holds P finite S×D matrices and y P finite entries (P, S, D ≥ 1).
  void validate() const;
  /// All tokens stacked, (P·S)×D, row μ·S + a = x_{μa}.
  RowMatrix stacked_tokens() const;
};

/// Gaussian sequences: every token x_{μa} ~ N(0, I_D) and every target y_μ ~ N(0, 1), independent,
/// reproducible from `seed` (random streams of purpose `data`).
SequenceData make_gaussian_sequences(Index P, Index S, Index D, std::uint64_t seed);

/// Training settings shared by the limit-A recursion and the finite network.
struct AttentionM0Options {
  enum class Pool { mean, last };

  double eta = 0.1;     // base learning rate η; the step on matrix θ is c_θ η γ0² M
  double gamma0 = 1.0;  // feature-learning strength γ0 (readout 1/(γ0 M))
  Index T = 1;          // recorded steps t = 0..T−1 (T − 1 updates)
  /// Logit exponent: A = N^{−α_A} q·k, α_A ∈ {1, 1/2}. Limit A exists only for α_A = 1 (§2).
  double alpha_a = 1.0;
  /// Causal mask m_ab = −∞ for b > a (§1.1): query token a attends to keys b ≤ a only.
  bool causal_mask = false;
  /// Readout pooling π: mean (π_a = 1/S) or last token (π = e_S).
  Pool pool = Pool::mean;
  /// Learning-rate multipliers λ_θ ≥ 0 of the M0 matrices on top of §1.5's c_θ:
  /// c_Q = λ_Q N^{2α_A−2}, c_K = λ_K N^{2α_A−2}, c_V = λ_V, c_w = λ_w (limit A: N^{2α_A−2} = 1).
  /// 0 freezes that matrix.
  double lr_q = 1.0, lr_k = 1.0, lr_v = 1.0, lr_w = 1.0;

  /// Throws InputError naming the option, its value and the rule (η > 0, γ0 > 0, T ≥ 1,
  /// α_A ∈ {1, 1/2}, multipliers ≥ 0 and finite), all violations in one message.
  void validate() const;
};

/// §1.5: the key/query learning-rate factor N^{2α_A−2} of c_Q = λ_Q N^{2α_A−2}, c_K likewise
/// (1 for α_A = 1, 1/N for α_A = 1/2).
double key_query_rate_factor(double alpha_a, Index N);

/// The head dimension N (≥ 1) and a head count (`heads_name` ≥ `min_heads`, else `rule`) of a
/// network or a head sampler, as violations (empty when both hold).
std::vector<Violation> head_shape_violations(Index N, Index heads, const std::string& heads_name, Index min_heads,
                                             const std::string& rule);

/// The pooling vector π ∈ R^S of `pool`.
Vector pooling_vector(AttentionM0Options::Pool pool, Index S);
/// softmax_b(A_ab + m_ab) row by row; with the causal mask the entries b > a are exactly 0.
RowMatrix masked_softmax(const RowMatrix& A, bool causal_mask);
/// The backward pass of the softmax (§1.6): D_ab = σ_ab (E_ab − Σ_c σ_ac E_ac), so that
/// γ0 M ∂f/∂A_ab = N D_ab when γ0 M ∂f/∂σ_ab = N E_ab.
RowMatrix softmax_backward(const RowMatrix& sigma, const RowMatrix& E);
/// The same for a pooled readout, E_ab = π_a e_b: D_ab = π_a σ_ab (e_b − Σ_c σ_ac e_c).
RowMatrix pooled_softmax_backward(const RowMatrix& sigma, const Vector& pi, const Vector& e);

/// A trajectory of M0: residuals, loss and, per step, example and head, the attention logits and
/// probabilities. Entry ((t·P + μ)·H + κ) of `logits` / `attention` is the S×S matrix of step t,
/// sequence μ, head κ. Logits are the raw N^{−α_A} q_a·k_b for every (a, b), masked or not (the
/// masked ones carry no weight, §5.8); `attention` is the masked softmax. Limit B
/// (attention_m0_limit_b.hpp) stores H = 1 and the averages over its sampled heads.
struct AttentionM0Trajectory {
  Index T = 0, P = 0, S = 0, H = 1;  // H = 1 for limit A (heads collapse, §3.3) and for limit B
  RowMatrix Delta;                   // T×P: Δ(t, μ) = y_μ − f_μ(t)
  /// T×P Monte Carlo standard error of Δ (limit B only; empty for limit A and finite networks).
  RowMatrix Delta_se;
  Vector loss;                       // T: (1/P) Σ_μ Δ(t, μ)² (README convention; starts at mean(y²))
  std::vector<RowMatrix> logits;     // T·P·H matrices S×S
  std::vector<RowMatrix> attention;  // T·P·H matrices S×S, rows sum to 1
  /// Optional: the effective NTK K(t) (P×P) per step, in the README's normalisation
  /// Δ(t+1) ≈ Δ(t) − (η/P) K(t) Δ(t), i.e. K = γ0² M Σ_θ c_θ ∂f/∂θ ∂f/∂θᵀ for a finite network.
  std::vector<Matrix> ntk;
  /// Optional two-time arrays by name ("Phi_h", "Phi_o", "G_u", "G_Q", "G_K", "G_V", "R_h", ...),
  /// each (T·P·S)×(T·P·S) row-major with index (t·P + μ)·S + a (theory README).
  std::map<std::string, RowMatrix> two_time;

  const RowMatrix& A(Index t, Index mu, Index head = 0) const { return logits[std::size_t((t * P + mu) * H + head)]; }
  const RowMatrix& sigma(Index t, Index mu, Index head = 0) const {
    return attention[std::size_t((t * P + mu) * H + head)];
  }
  /// The head average (1/H) Σ_κ A^κ(t, μ): what limit A's deterministic A(t, μ) describes.
  RowMatrix head_mean_A(Index t, Index mu) const;
  /// The head average (1/H) Σ_κ σ^κ(t, μ).
  RowMatrix head_mean_sigma(Index t, Index mu) const;

  /// An empty trajectory of T steps, P sequences of S tokens and H heads: Δ (and, with
  /// `with_se`, its standard error) sized T×P, room for T·P·H logit and attention matrices.
  static AttentionM0Trajectory sized(Index T, Index P, Index S, Index H, bool with_se = false);
};
using AttentionM0Limit = AttentionM0Trajectory;  // the recursion's result (H = 1)
using AttentionM0Run = AttentionM0Trajectory;    // a finite network's result

/// Limit A of M0 (attention.md §3.4), exact-output mode. Every head coordinate carries
/// z = (θ^Q, θ^K, θ^V, w) ∈ R^{3D+1}, i.i.d. N(0, I) at t = 0, whose dynamics is linear with
/// deterministic coefficients; the second moments C1 = E[(θ^Q;θ^K)(θ^Q;θ^K)ᵀ] (2D×2D) and
/// C2 = E[(θ^V;w)(θ^V;w)ᵀ] ((D+1)×(D+1)) close. Each step: A_μ = X_μ C1[Q,K] X_μᵀ/D,
/// σ_μ = softmax(A_μ + m), e_μ = X_μ C2[V,w]/√D, s_μ = σ_μᵀπ, f_μ = s_μ·e_μ/γ0, Δ = y − f, then
/// C1 ← T1 C1 T1ᵀ, C2 ← T2 C2 T2ᵀ. Requires α_A = 1 (throws InputError otherwise); c_θ = λ_θ
/// (the options' multipliers). The result has H = 1.
AttentionM0Limit attention_m0_limit_a(const SequenceData& data, const AttentionM0Options& opt);

/// The same recursion from given initial second moments C1(0) (2D×2D) and C2(0) ((D+1)×(D+1))
/// instead of the identity. For α_A = 1 and H = 1 the finite network is exactly this recursion
/// started from its own empirical moments (`AttentionM0Network::moments`): every coordinate's
/// update is linear in z_i with coefficients that depend on the weights only through
/// N⁻¹ Σ_i z_i z_iᵀ, and T1, T2 never mix the (Q, K) and (V, w) blocks. (The network's output is
/// centred, so the recursion's targets must be y + f(θ₀), f(θ₀) the network's uncentred initial
/// output.) The finite network's error against limit A is therefore the recursion's response to
/// the O(N^{-1/2}) perturbations of C(0) and of the targets.
AttentionM0Limit attention_m0_moment_recursion(const SequenceData& data, const AttentionM0Options& opt, const Matrix& C1,
                                               const Matrix& C2);

/// The limit-A NTK at t = 0 (P×P), the kernel of the lazy limit Δ(t) → (I − η K(0)/P)^t y as
/// γ0 → 0 (§3.6). At t = 0 the logits vanish, so σ is uniform over the keys allowed by the mask,
/// E = D = 0 and G^Q = G^K = 0; with s_μ = σ_μᵀπ the readout term c_w⟨ō(μ)ō(ν)⟩ and the value
/// term c_V Σ_bd G^V K^x (G^V(μb, νd) = s_μb s_νd ⟨w²⟩) are equal, so
/// K(0)_μν = (c_w + c_V) s_μᵀ X_μ X_νᵀ s_ν / D (= 2 s_μᵀ X_μ X_νᵀ s_ν / D with unit multipliers).
Matrix attention_m0_limit_a_ntk0(const SequenceData& data, const AttentionM0Options& opt);

/// The initial weights of head κ of an M0 network with head dimension N on D-dimensional tokens:
/// {W^Q, W^K, W^V (N×D), w (N×1)}, i.i.d. N(0, 1), entry i of tensor τ ∈ {0: Q, 1: K, 2: V, 3: w}
/// (column-major) the i-th normal of the random stream (seed, network, 4κ + τ, N). The finite
/// network and limit B's head sampler (attention_m0_limit_b.hpp) both draw their heads here, so
/// limit B with n_h heads and a network with H = n_h heads of the same seed start identical.
std::array<Matrix, 4> attention_m0_head_weights(Index N, Index D, Index head, std::uint64_t seed);
/// Tensor τ ∈ {0: W^Q, 1: W^K, 2: W^V, 3: w} alone of attention_m0_head_weights(N, D, head, seed).
Matrix attention_m0_head_tensor(Index N, Index D, Index head, int tensor, std::uint64_t seed);

/// One evaluation of the finite network at its current weights, for all P sequences.
struct AttentionM0State {
  Vector f;                     // P: centred output f(θ) − f(θ₀)
  std::vector<RowMatrix> q, k, v;  // per head κ: (P·S)×N, row μ·S + a = q^κ_{μa} = D^{−1/2} W^{Q,κ} x_{μa}
  std::vector<RowMatrix> A;     // index μ·H + κ: S×S logits N^{−α_A} q_a·k_b (unmasked)
  std::vector<RowMatrix> sigma; // index μ·H + κ: S×S masked softmax
};

/// The finite M0 network (§1.2) with H heads of dimension N: per head κ the matrices W^{Q,κ},
/// W^{K,κ}, W^{V,κ} (N×D) and the readout w^κ (N), all initialised i.i.d. N(0, 1) by
/// attention_m0_head_weights(N, D, κ, seed), so the same seed and N give the same network on any
/// machine. Output
/// f_μ = (γ0 M)^{−1} Σ_κ Σ_a π_a w^κ·o^κ_{μa} − [same at θ₀], o^κ_{μa} = Σ_b σ^κ_{μ,ab} v^κ_{μb}.
class AttentionM0Network {
 public:
  AttentionM0Network(const SequenceData& data, const AttentionM0Options& opt, Index N, Index H, std::uint64_t seed);

  /// Forward pass at the current weights.
  AttentionM0State evaluate() const;
  /// One gradient-descent step (§1.5) with residuals `delta` (P) at the weights of `state`:
  /// W ← W + c_W (η γ0 / (P √D)) Σ_{μ,a} Δ_μ g^W_{μa} x_{μa}ᵀ for W ∈ {Q, K, V} and
  /// w ← w + c_w (η γ0 / P) Σ_μ Δ_μ Σ_a π_a o_{μa}, with the backward fields of §1.6 (g = γ0 M ∂f/∂field):
  /// g^o_a = π_a w, E_ab = N^{−1} g^o_a·v_b, D_ab = σ_ab (E_ab − Σ_c σ_ac E_ac),
  /// g^q_a = N^{1−α_A} Σ_b D_ab k_b, g^k_b = N^{1−α_A} Σ_a D_ab q_a, g^v_b = Σ_a σ_ab g^o_a.
  /// This is θ ← θ − c_θ η γ0² M ∂𝓛/∂θ.
  void step(const AttentionM0State& state, const Vector& delta);

  /// The objective 𝓛 = (1/2P) Σ_μ (y_μ − f_μ)² at the current weights (for finite differences).
  double objective() const;
  /// The uncentred output (P) at the current weights.
  Vector raw_output() const;

  /// Learning-rate multiplier c of tensor 0..3 (Q, K, V, w): N^{2α_A−2}, N^{2α_A−2}, 1, 1.
  double multiplier(int tensor) const;
  /// Per-matrix step size c_θ η γ0² M of tensor 0..3 (Q, K, V, w).
  double learning_rate(int tensor) const { return multiplier(tensor) * opt_.eta * opt_.gamma0 * opt_.gamma0 * double(N_ * H_); }

  /// Empirical second moments of head κ: C1 = N⁻¹ [W^Q W^K]ᵀ[W^Q W^K] (2D×2D) and
  /// C2 = N⁻¹ [W^V w]ᵀ[W^V w] ((D+1)×(D+1)), the finite-N counterparts of §3.4's C1, C2.
  std::pair<Matrix, Matrix> moments(Index head) const;

  /// Trainable tensors, index 4κ + {0: W^Q (N×D), 1: W^K, 2: W^V, 3: w (N×1)}; mutable for tests.
  std::vector<Matrix>& weights() { return weights_; }
  const std::vector<Matrix>& weights() const { return weights_; }
  Index width() const { return N_; }
  Index heads() const { return H_; }

 private:
  const SequenceData* data_;
  AttentionM0Options opt_;
  Index N_, H_;
  RowMatrix X_;       // (P·S)×D, all tokens stacked, row μ·S + a
  Vector pi_;         // S
  std::vector<Matrix> weights_;
  Vector f0_;         // P: f(θ₀)
};

/// Trains one finite M0 network for T steps (Δ(t), loss and attention recorded before the
/// update of step t, as the DMFT records them).
AttentionM0Run train_attention_m0(const SequenceData& data, const AttentionM0Options& opt, Index N, Index H,
                                  std::uint64_t seed);

/// rms over μ of Δ_a(t, μ) − Δ_b(t, μ). Both trajectories must have the same T, P and S
/// (std::invalid_argument otherwise).
double rms_delta_error(const AttentionM0Trajectory& a, const AttentionM0Trajectory& b, Index t);
/// rms over (μ, a, b) of the head-mean logits of `a` minus those of `b` at step t.
double rms_logit_error(const AttentionM0Trajectory& a, const AttentionM0Trajectory& b, Index t);

}  // namespace dmft
