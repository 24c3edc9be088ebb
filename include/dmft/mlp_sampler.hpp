#pragma once
// The single-site map of a multilayer perceptron with L hidden layers (theory mlp.md §3.2–3.4),
// shared by the two_layer and deep_mlp models.
//
// Layer l has its own samples: u^l ~ N(0, σ²Φ^{l−1}) (layer 1: σ²Kx, constant in t) and
// r^l ~ N(0, σ²G^{l+1}) (layer L: one scalar σξ per sample, the readout weight), and
//   C^l = σ²A^{l−1} + c (E_< ∘ Φ^{l−1}) D_Δ      (layer 1: the tiled c·Kx)
//   D^l = σ²B^l     + c (E_< ∘ G^{l+1}) D_Δ      (layer L: the tiled c·11ᵀ; B has equal-time blocks)
// Kernels Φ^l = ⟨φφᵀ⟩, G^l = ⟨ggᵀ⟩; responses by the pathwise estimator (§3.4.2), per sample,
// with M = I − C diag(b) − C diag(a) D diag(a), a = φ'(h), b = φ''(h) z (M is unit lower
// triangular in the flattened index, so M⁻¹ is a triangular solve):
//   A^l     = ⟨diag(a) M⁻¹ C diag(a)⟩                  (l = 1..L−1)
//   B^{l−1} = ⟨(diag(a) D diag(a) + diag(b)) M⁻¹⟩      (l = 2..L)
// Layers use the previous iterate's Φ^{l−1}, G^{l+1}, A^{l−1}, B^l (a Jacobi sweep).
#include <memory>
#include <vector>

#include "dmft/gaussian_source.hpp"
#include "dmft/model.hpp"
#include "dmft/single_site.hpp"

namespace dmft {

/// Samples per block; fixed, so that results do not depend on the thread count.
inline constexpr Index kSampleChunk = 64;
/// Groups of chunks that accumulate responses separately (fixed: thread-independent sums).
inline constexpr Index kResponseGroups = 16;

/// One layer's sources and couplings for a given state and Δ.
class MlpLayer {
 public:
  MlpLayer(const Problem& pr, const OrderParameters& state, const RowMatrix& delta, int layer);
  Index chunks() const { return (pr_.samples + kSampleChunk - 1) / kSampleChunk; }
  /// The sweep of samples [j·64, …) with their sources drawn from the named random streams.
  LayerSweep make_sweep(Index chunk) const;
  /// Dense n×n forms of C and D (for the responses).
  TwoTime dense_C() const;
  TwoTime dense_D() const;
  FactorReport source_report() const;
  int layer() const { return layer_; }

 private:
  const Problem& pr_;
  int layer_;
  std::unique_ptr<GaussianSource> u_root_, r_root_;  // r_root_ empty on layer L (scalar)
  TwoTime C_dense_, D_dense_;                        // empty where the coupling is tiled only
  Coupling C_, D_;
  const RowMatrix* delta_ = nullptr;
};

/// Trajectories of all samples of one layer, gathered from the sweeps (samples as columns).
struct LayerSamples {
  Matrix phi, g;  // n×S
  Matrix z_readout;  // T×S, layer L only: z(t) (μ-independent)
  void store(Index chunk, const LayerSweep& sweep, bool readout, Index T, Index P);
};

/// Kernel estimates of one layer (and, with `readout`, the centred f of the last layer).
LayerKernels layer_kernels(const LayerSamples& s, double& relative_noise);
/// f(t,μ) = (γ0 S)⁻¹ Σ_i [z_i(t)φ_i(t,μ) − z_i(0)φ_i(0,μ)] and its standard error (§3.5).
void readout_average(const Problem& pr, const LayerSamples& s, RowMatrix& f, RowMatrix& f_se);

/// Static (t = 0) kernels of an L-layer MLP (theory mlp.md §3.6, general σ):
///   Φ^l = V_φ(σ²Φ^{l−1}) with Φ^0 = Kx;  G^L = σ² V_φ'(σ²Φ^{L−1});  G^l = σ² G^{l+1} ∘ V_φ'(σ²Φ^{l−1}).
std::vector<StaticLayer> mlp_static_kernels(const Problem& pr);

/// Work matrices of add_pathwise_responses (n×n each), reused across samples.
struct ResponseWorkspace {
  explicit ResponseWorkspace(Index n) : M(n, n), R(n, n), X(n, n) {}
  Matrix M, R, X;
};

/// Adds one sample's pathwise responses to A_sum (diag(a) M⁻¹ C diag(a)) and B_sum
/// ((diag(a) D diag(a) + diag(b)) M⁻¹), M = I − C diag(b) − C diag(a) D diag(a). C must be
/// strictly block-lower and D block-lower in time (blocks of P). Only the causal parts are
/// computed, in row/column blocks of `block` (a multiple of P; 0: about 64): ≈ 2n³ flops per
/// sample for both, a third of dense products.
void add_pathwise_responses(const TwoTime& C, const TwoTime& D, const Vector& a, const Vector& b, Index P,
                            bool want_A, bool want_B, Matrix& A_sum, Matrix& B_sum, ResponseWorkspace& work,
                            Index block = 0);
Index response_block_width(Index P);
/// Flops of add_pathwise_responses for one sample (to leading order in n).
double pathwise_response_flops(double n, bool want_A, bool want_B);

/// The whole single-site map of an L-layer MLP (L = problem.depth).
SiteAverages sample_mlp(const Problem& pr, const OrderParameters& state, const RowMatrix& delta);

}  // namespace dmft
