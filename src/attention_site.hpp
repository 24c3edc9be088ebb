#pragma once
// Internal to the attention solvers (src/attention_limit_a.cpp, src/attention_m1_limit_b.cpp): the
// coefficient-row representation of a linear-Gaussian site (attention.md §3.3) and the causal
// filling of a symmetric two-time array, shared by the limit-A sweep and limit B's residual site.
#include <algorithm>
#include <vector>

#include "dmft/types.hpp"

namespace dmft::attention_site {

using RowsRef = Eigen::Ref<const RowMatrix>;

/// The Gaussian sources of one site as consecutive column blocks of its coefficient rows. A block
/// is static (over (μ, a), or a scalar) or time-indexed (T·P·S); its covariance is held by
/// pointer because, for time-indexed blocks, it is an order parameter that grows during the sweep.
class SiteSources {
 public:
  /// Appends a block of `size` sources with covariance `cov` (size × size); returns its offset.
  Index add(Index size, const RowMatrix* cov, bool timed) {
    blocks_.push_back({width_, size, cov, timed});
    width_ += size;
    return blocks_.back().offset;
  }
  Index width() const { return width_; }

  /// ⟨F G⟩ = F C Gᵀ, using of every time-indexed block only its first `live` sources (those of
  /// steps ≤ t, the only ones rows of steps ≤ t have coefficients on).
  RowMatrix moment(const RowsRef& F, const RowsRef& G, Index live) const {
    RowMatrix out = RowMatrix::Zero(F.rows(), G.rows());
    for (const Block& b : blocks_) {
      const Index m = b.timed ? std::min(live, b.size) : b.size;
      const RowMatrix FC = F.middleCols(b.offset, m) * b.cov->topLeftCorner(m, m);
      out.noalias() += FC * G.middleCols(b.offset, m).transpose();
    }
    return out;
  }

 private:
  struct Block {
    Index offset, size;
    const RowMatrix* cov;
    bool timed;
  };
  std::vector<Block> blocks_;
  Index width_ = 0;
};

/// Adds the sources ζ(offset + i) to row i of F: the "χ(I)" / "ξ(I)" term of a field.
inline void add_sources(RowMatrix& F, Index offset) {
  for (Index i = 0; i < F.rows(); ++i) F(i, offset + i) += 1.0;
}

/// Stores K(t, s ≤ t) of a symmetric two-time array from `row` (P·S × ≥ (t+1)·P·S, columns s ≤ t
/// of step t's rows; `first` = t·P·S, `ps` = P·S): the block, its transpose and the symmetrised
/// equal-time block.
inline void fill_two_time(RowMatrix& K, const RowsRef& row, Index first, Index ps) {
  K.block(first, 0, ps, first) = row.leftCols(first);
  K.block(0, first, first, ps) = row.leftCols(first).transpose();
  K.block(first, first, ps, ps) = 0.5 * (row.middleCols(first, ps) + row.middleCols(first, ps).transpose());
}

}  // namespace dmft::attention_site
