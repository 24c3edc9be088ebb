#pragma once
// Gaussian expectations V_f(Σ)_{μν} = E_{h~N(0,Σ)}[f(h_μ) f(h_ν)] (theory mlp.md §3.6): the
// t = 0 kernels and the γ0 → 0 (lazy) solution. Closed forms for ReLU (arc-cosine kernels of
// degree 1 and 0), erf (arcsine kernel) and linear; 2-D Gauss–Hermite quadrature otherwise.
#include "dmft/activation.hpp"
#include "dmft/types.hpp"

namespace dmft {

/// E[φ(h_μ) φ(h_ν)], h ~ N(0, Σ).
Matrix gaussian_phi_kernel(const Activation& act, const Matrix& sigma);
/// E[φ'(h_μ) φ'(h_ν)], h ~ N(0, Σ).
Matrix gaussian_dphi_kernel(const Activation& act, const Matrix& sigma);

/// Quadrature route for any f, used for activations without a closed form and as a check of
/// the closed forms. `nodes` probabilists' Gauss–Hermite nodes per axis.
enum class Derivative { none, first };
Matrix gauss_hermite_kernel(const Activation& act, Derivative d, const Matrix& sigma, int nodes = 120);

}  // namespace dmft
