#pragma once
// The single-site maps of the residual models (theory residual.md §2, §4, §5), shared by the
// `resnet` (Monte Carlo) and `resnet_linear` (exact) plugins: sources, the causal sweep of
// residual_sweep.hpp, kernel and response estimates, the readout average.
#include <vector>

#include "dmft/model.hpp"

namespace dmft {

/// Static (t = 0) kernels at finite depth (§5): H¹ = Kx, Φ^l = V_φ(H^l), Φ̇^l = V_φ'(H^l),
/// H^{l+1} = H^l + a² Φ^l; G^L = Φ̇^L, G^l = G^{l+1} ∘ (1 + a² Φ̇^l).
std::vector<StaticLayer> residual_static_kernels(const Problem& pr);
/// The pre-activation kernels H^l of the same recursion (diagnostics and tests).
std::vector<Matrix> residual_static_preactivations(const Problem& pr);

/// The L → ∞ static limit (§3.4) on a uniform grid of `steps` RK4 steps in τ ∈ [0, 1]:
/// dH/dτ = β0² Φ(H), H(0) = Kx;  G(τ) = Φ̇(H(1)) ∘ exp(β0² ∫_τ^1 Φ̇(H)),
/// NTK₀ = G(0)∘Kx + β0² ∫_0^1 G∘Φ(H) dτ + Φ(H(1)) (trapezoid rule; the input term only when
/// the input layer trains). Index k of H, Phi, G is τ = k/steps.
struct StaticDepthLimit {
  std::vector<Matrix> H, Phi, G;
  Matrix ntk;
};
StaticDepthLimit residual_static_limit(const Activation& act, const Matrix& Kx, double beta0, int steps,
                                       bool train_input_layer = true);

/// Monte Carlo single-site map: S sampled depth trajectories, responses by random probes (R2)
/// or exact tangents (R1), kernels with batch-means standard errors.
SiteAverages sample_resnet(const Problem& pr, const OrderParameters& state, const RowMatrix& delta);

/// Linear φ, exact (§4): the sweep run on unit-source pseudo-samples (the columns of a square
/// root of each source covariance), so that Σ over pseudo-samples of F Fᵀ is the kernel exactly;
/// A and B from one tangent per direction, which for linear φ do not depend on the sample.
SiteAverages exact_linear_resnet(const Problem& pr, const OrderParameters& state, const RowMatrix& delta);

/// Flops of one outer iteration of either map.
double resnet_iteration_flops(const Problem& pr, bool exact_linear);

}  // namespace dmft
