#pragma once
// A finite-width MLP or ResNet in exactly the DMFT's parameterisation (theory mlp.md §2,
// residual.md §1 with NetworkSpec::branch > 0): hidden layers
// scaled 1/√N, mean-field readout 1/(γ0 N), step η γ0² N on every weight, centred output
// f̃ = f − f(θ₀), full-batch gradient descent with the closed-form updates of §2.3.
// Covers two_layer (L = 1), deep_mlp and deep_linear (φ = id), resnet and resnet_linear (branches
// a = β0/√L_b, optionally a frozen input layer), and the decoupled-backward ("GIA") network of
// theory residual.md §1.6, whose infinite-width limit is the DMFT with A = B = 0.
#include <cstdint>
#include <vector>

#include "dmft/activation.hpp"
#include "dmft/data.hpp"
#include "dmft/types.hpp"

namespace dmft {

/// Output scale of the readout. `mean_field` is the DMFT's 1/(γ0 N). `ntk` is 1/(γ0 √N) with the
/// same step η γ0² N: a deliberately wrong scaling whose feature updates grow like √N, used to
/// show that the coordinate check detects a broken parameterisation.
enum class Readout { mean_field, ntk };

struct NetworkSpec {
  int depth = 1;        // hidden layers L
  Index width = 64;     // N
  Activation activation{ActivationKind::relu};
  double sigma = 1.0;   // std of every initial weight entry
  double gamma0 = 1.0;
  double eta = 0.1;     // base learning rate; the step is η γ0² N
  bool decoupled_backward = false;
  Readout readout = Readout::mean_field;
  /// Residual branch multiplier a = β0/√L (theory residual.md §1.1): h^{l+1} = h^l + a W^l φ(h^l)/√N.
  /// 0: no skip connections (the MLP, h^{l+1} = W^l φ(h^l)/√N).
  double branch = 0.0;
  /// false: the input layer W^0 keeps its initial weights (theory residual.md §9 item 9); the NTK
  /// then has no G¹∘Kx term. The backward field g¹ is still computed (the DMFT's G¹).
  bool train_input_layer = true;
};

/// Everything of one evaluation at the current weights, for all P inputs at once.
struct NetworkState {
  std::vector<Matrix> h;    // pre-activations h^l, N×P, layer l at index l−1
  std::vector<Matrix> phi;  // φ(h^l), N×P
  std::vector<Matrix> g;    // backward fields g^l = (readout scale)⁻¹ ∂f/∂h^l, N×P (§2.2)
  Vector f;                 // centred output f̃ = f − f(θ₀), P
};

class MlpNetwork {
 public:
  /// Draws the initial weights i.i.d. N(0, σ²) from random streams named by (seed, network,
  /// tensor, width): the same seed and width give the same network on any machine.
  MlpNetwork(const NetworkSpec& spec, const Dataset& data, std::uint64_t seed);

  /// Forward and backward pass at the current weights (§2.1, §2.2).
  NetworkState evaluate() const;
  /// One gradient-descent step θ ← θ − η γ0² N ∇𝓛 with Δ = y − f̃ from `state` (§2.3, closed form);
  /// W^0 is left as it is when the input layer is frozen.
  void step(const NetworkState& state, const Vector& delta);

  /// The training objective 𝓛 = (1/2P) Σ_μ (f̃_μ − y_μ)² at the current weights.
  double objective() const;
  /// The NTK from the fields, K = G¹∘Kx + Σ_l G^{l+1}∘Φ^l + Φ^L with kernels (1/N)·FᵀF at equal
  /// time (§2.4); a ResNet has a² on the sum (residual.md §1.6), a frozen input layer no G¹∘Kx.
  /// Equals γ0² N J Jᵀ for the mean-field readout, J the Jacobian in the trained weights only.
  Matrix ntk(const NetworkState& state) const;

  /// Trainable tensors in the order W^0 (N×D), W^1..W^{L−1} (N×N), w (N×1), materialised
  /// (pending low-rank updates folded in); mutable for tests.
  std::vector<Matrix>& weights();
  /// 1/(γ0 N) or 1/(γ0 √N).
  double readout_scale() const;
  /// The uncentred output at the current weights (P).
  Vector raw_output() const;

 private:
  NetworkState forward() const;

  /// The updates of a hidden matrix are rank P per step. They are kept as factors,
  /// W^l(t) = W^l + U Vᵀ (U = (k/√N) g^{l+1} diag Δ, V = φ(h^l), P columns per step), so a step
  /// reads each N×N matrix twice (forward, backward) and writes it never, instead of three
  /// passes and a write: the products have only P columns, so their speed is memory-bound. The
  /// factors are folded into W^l when they reach `capacity` columns.
  struct LowRank {
    Matrix U, V;
    Index rank = 0;
  };
  void fold(std::size_t hidden);

  NetworkSpec spec_;
  const Dataset* data_;
  std::vector<Matrix> weights_;
  std::vector<Matrix> backward_;  // decoupled backward: W̃^l(t) = W̃^l(0) + (W^l(t) − W^l(0))
  std::vector<LowRank> pending_;  // per hidden matrix W^1..W^{L−1}
  Vector f0_;                     // f(θ₀), subtracted from every output
};

/// Columns of the pending low-rank factors before they are folded into an N×N matrix.
Index low_rank_capacity(Index width, Index P);

/// Flops of one training step (forward, backward, update) for P inputs of dimension D.
double network_step_flops(const NetworkSpec& spec, Index P, Index D);

}  // namespace dmft
