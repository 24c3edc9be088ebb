#pragma once
// The single-site equations of one layer (theory mlp.md §3.2), for a block of m samples at once
// (samples are columns), solved by forward substitution in training time:
//
//   h(t) = u(t) + Σ_{s<t} C(t,s) g(s)
//   z(t) = r(t) + Σ_{s≤t} D(t,s) φ(h(s))
//   g(t) = φ'(h(t)) ∘ z(t)
//
// Every coupling points backwards in time, so one sweep over t gives the exact solution for the
// given sources and couplings — no inner Picard loop.
//
// A coupling has two parts:
//  - a *tiled* feature-learning part c·K·diag(Δ(s)) on s < t, with K a time-independent P×P
//    kernel (layer 1: K = Kx; readout side: K = 11ᵀ). It is applied through a running sum,
//    Σ_{s<t} diag(Δ(s)) x(s), so a step costs O(P²m) and Δ(s) may be supplied as the sweep goes
//    (the time-marching strategy);
//  - an optional *dense* block-lower n×n part (response functions, or feature-learning terms with
//    a two-time kernel), strictly causal or with equal-time blocks.
#include "dmft/activation.hpp"
#include "dmft/types.hpp"

namespace dmft {

struct Coupling {
  double c = 0.0;                  // coefficient of the tiled part (η γ0 / P)
  Matrix K;                        // P×P tiled kernel; empty: no tiled part
  const TwoTime* dense = nullptr;  // optional n×n block-lower part; not owned
  bool dense_equal_time = false;   // whether `dense` has equal-time (s = t) blocks
};

class LayerSweep {
 public:
  /// u, r: n×m sources (row t·P + μ, one column per sample).
  LayerSweep(const Activation& act, Index T, Index P, const Coupling& C, const Coupling& D, Matrix u, Matrix r);

  /// Computes h, φ, φ', z, g at step t from the committed steps s < t.
  void advance(Index t);
  /// Moves step t into the past with its residual Δ(t) (length P).
  void commit(Index t, const Eigen::Ref<const Vector>& delta_t);
  /// advance + commit for t = 0..T−1 with a known Δ (T×P).
  void run(const RowMatrix& delta);

  const Matrix& h() const { return h_; }
  const Matrix& phi() const { return phi_; }
  const Matrix& dphi() const { return dphi_; }
  const Matrix& z() const { return z_; }
  const Matrix& g() const { return g_; }
  Index samples() const { return u_.cols(); }

 private:
  const Activation& act_;
  Index T_, P_;
  const Coupling& C_;
  const Coupling& D_;
  Matrix u_, r_;
  Matrix h_, phi_, dphi_, z_, g_;  // n×m
  Matrix sum_g_, sum_phi_;         // P×m running sums Σ_{s<t} diag(Δ(s)) x(s)
};

}  // namespace dmft
