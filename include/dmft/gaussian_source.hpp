#pragma once
// Gaussian sources x ~ N(0, Σ) drawn through a *continuous* square root of Σ (theory README,
// "Gaussian sources"): the symmetric root V diag(√λ₊) Vᵀ, or a jittered Cholesky factor. Never
// the raw V diag(√λ), whose jumps at near-degenerate eigenvalues break the outer iteration.
#include "dmft/types.hpp"

namespace dmft {

/// Relative jitter of the causal source roots: enough for an unpivoted Cholesky factor of the
/// rank-deficient time-tiled kernels, far below any Monte Carlo error.
inline constexpr double kCausalJitter = 1e-10;

/// What factoring a covariance met: its smallest eigenvalue (NaN when not computed), the
/// negative spectral mass clipped to zero (relative to the trace), and the jitter added.
struct FactorReport {
  double min_eigenvalue = 0.0;
  double clipped_mass = 0.0;
  double jitter = 0.0;
  /// Keeps the worse of this and `r` in every field (a NaN eigenvalue means "not computed").
  void note(const FactorReport& r) {
    if (r.min_eigenvalue < min_eigenvalue) min_eigenvalue = r.min_eigenvalue;
    clipped_mass = clipped_mass > r.clipped_mass ? clipped_mass : r.clipped_mass;
    jitter = jitter > r.jitter ? jitter : r.jitter;
  }
};

class GaussianSource {
 public:
  /// Σ^{1/2} = V diag(√max(λ,0)) Vᵀ; reports λ_min and the clipped mass Σ|λ₋| / tr Σ.
  static GaussianSource symmetric_root(const Matrix& covariance);
  /// Lower Cholesky factor of Σ + εI with ε = relative·scale, raised tenfold until the
  /// factorisation succeeds (scale ≤ 0: mean(diag Σ)); reports ε (λ_min is not computed: NaN).
  /// The factor is lower triangular, so x's first k entries depend only on Σ's leading k×k
  /// block and ζ's first k entries: with a `scale` that does not depend on the matrix size,
  /// draws are causal (a source on T' < T steps is the head of the source on T steps). The
  /// jitter is always added: a singular Σ has no unique Cholesky factor, and an unpivoted one
  /// is then not continuous.
  static GaussianSource jittered_cholesky(const Matrix& covariance, double relative = 1e-10, double scale = 0);

  /// The sources of a two-time kernel K ((T·P)×(T·P)): jittered Cholesky with the jitter on the
  /// scale of the t = 0 block, so draws up to step t do not depend on T (causal sampling).
  static GaussianSource causal_root(const Matrix& K, Index P, double relative = kCausalJitter) {
    return jittered_cholesky(K, relative, K.topLeftCorner(P, P).diagonal().mean());
  }

  /// x = R ζ for ζ ~ N(0, I): each column of `normals` is one sample.
  Matrix draw(const Matrix& normals) const {
    if (lower_) return factor_.triangularView<Eigen::Lower>() * normals;  // half the flops of a dense product
    return factor_ * normals;
  }
  /// C R⁻¹ for a lower-triangular (Cholesky) factor R: a triangular solve, no inverse formed.
  /// Causal C (zero above the block diagonal in time) gives causal C R⁻¹.
  Matrix times_inverse(const Matrix& C) const;
  const Matrix& factor() const { return factor_; }
  const FactorReport& report() const { return report_; }

 private:
  Matrix factor_;
  FactorReport report_;
  bool lower_ = false;  // the factor is lower triangular (Cholesky)
};

}  // namespace dmft
