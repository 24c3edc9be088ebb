#pragma once
// The single-site process of a ResNet with 1/√L branches (theory residual.md §2.2–2.4, §2.9).
// One sample is a whole trajectory through every layer — the fields of one residual channel are
// correlated across depth — so the sources of all layers are drawn together and each training
// step is one forward pass up the layers and one backward pass down (the causal sweep of §2.3):
// everything on the right-hand side is known when it is needed, no inner fixed point.
// Samples are the columns of n×m matrices (n = T·P, row t·P + μ), so every step is a GEMM.
#include <vector>

#include "dmft/activation.hpp"
#include "dmft/model.hpp"

namespace dmft {

/// The deterministic memory kernels of one outer iteration (§2.3), from the state and Δ.
/// With k = η γ0 / P (the docs' c/P) and a = β0/√L_b:
///   F0    = k Kx(μ,ν) Δ(s,ν) [s<t]                      (empty when the input layer is frozen)
///   F^l   = a A^l + k a² Φ^l(t,μ;s,ν) Δ(s,ν) [s<t]       (blocks l = 1..L−1)
///   Bk^l  = B^l [s≤t] + k a G^{l+1}(t,μ;s,ν) Δ(s,ν) [s<t]
struct ResidualCouplings {
  ResidualCouplings(const Problem& pr, const OrderParameters& state, const RowMatrix& delta);
  int L;
  Index T, P;
  double a, k;
  TwoTime F0;
  std::vector<TwoTime> F, Bk;  // block l at index l−1
  RowMatrix delta;             // T×P
};

/// The Gaussian sources of m samples (§2.2), one column each.
struct ResidualSources {
  Matrix u1;              // P×m: u¹ ~ N(0, Kx), constant in t
  std::vector<Matrix> u;  // block l at index l−1: u^{l+1} ~ N(0, Φ^l), n×m
  std::vector<Matrix> r;  // block l at index l−1: r^l ~ N(0, G^{l+1}), n×m
  Eigen::RowVectorXd xi;  // 1×m: the readout weight ξ ~ N(0, 1)
};

/// Trajectories of m samples.
struct ResidualPaths {
  std::vector<Matrix> h, phi, dphi, g;  // layer l at index l−1, n×m
  std::vector<Matrix> z;                // block l at index l−1: z^l, n×m
  Matrix zL;                            // T×m: z^L(t) = ξ + k Σ_{s<t,ν} Δ(s,ν) φ(h^L(s,ν))
};

/// The causal sweep of §2.3 for the samples whose sources are given.
void residual_sweep(const Activation& act, const ResidualCouplings& cp, const ResidualSources& src, ResidualPaths& out);

/// Forward-mode tangents at frozen order parameters (§2.9): the change of every h^l, g^l when the
/// sources r^l move by dr[l−1] and u^{l+1} by du[l−1] (n×m each; an empty matrix is zero).
/// `primal` gives φ'(h), φ''(h) z at the samples; nullptr means φ linear (φ' = 1, φ'' = 0), where
/// the tangents do not depend on the sample.
struct ResidualTangents {
  std::vector<Matrix> dh, dg;  // layer l at index l−1, n×m
  std::vector<Matrix> adh;     // φ'(h^l) dh^l, the tangent of φ(h^l), layer l at index l−1
};
void residual_tangent_sweep(const Activation& act, const ResidualCouplings& cp, const ResidualPaths* primal,
                            const std::vector<Matrix>& dr, const std::vector<Matrix>& du, Index m,
                            ResidualTangents& out);

/// Flops of one sweep (primal or tangent) per sample: Σ_t Σ_l the causal GEMM rows, ≈ 2 L T² P².
double residual_sweep_flops(int L, Index T, Index P);

}  // namespace dmft
