#pragma once
// The feature-learning memory term shared by every single-site process (theory mlp.md §3.2,
// residual.md §2.3): the strictly causal kernel K(t,μ; s,ν) Δ(s,ν) [s < t].
#include "dmft/types.hpp"

namespace dmft {

/// out(t,·; s,·) += scale · K(t,·; s,·) diag(Δ(s)) for s < t; blocks with s ≥ t are untouched.
inline void add_feature_memory(TwoTime& out, const TwoTime& K, double scale, const RowMatrix& delta) {
  const Index T = delta.rows(), P = delta.cols();
  for (Index t = 1; t < T; ++t)
    for (Index s = 0; s < t; ++s)
      out.block(t * P, s * P, P, P).noalias() += scale * K.block(t * P, s * P, P, P) * delta.row(s).asDiagonal();
}

}  // namespace dmft
