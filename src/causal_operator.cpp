#include "dmft/single_site.hpp"

#include <stdexcept>

namespace dmft {

LayerSweep::LayerSweep(const Activation& act, Index T, Index P, const Coupling& C, const Coupling& D,
                       Matrix u, Matrix r)
    : act_(act), T_(T), P_(P), C_(C), D_(D), u_(std::move(u)), r_(std::move(r)) {
  const Index n = T * P, m = u_.cols();
  if (u_.rows() != n || r_.rows() != n || r_.cols() != m)
    throw std::invalid_argument("LayerSweep: sources must be (T·P)×m");
  h_.resize(n, m);
  phi_.resize(n, m);
  dphi_.resize(n, m);
  z_.resize(n, m);
  g_.resize(n, m);
  sum_g_ = Matrix::Zero(P, m);
  sum_phi_ = Matrix::Zero(P, m);
}

void LayerSweep::advance(Index t) {
  const Index P = P_, row = t * P;
  auto h = h_.middleRows(row, P);
  h = u_.middleRows(row, P);
  if (C_.K.size()) h.noalias() += C_.c * (C_.K * sum_g_);
  if (C_.dense && t > 0)  // strictly causal: s < t
    h.noalias() += C_.dense->block(row, 0, P, row) * g_.topRows(row);

  auto phi = phi_.middleRows(row, P);
  auto dphi = dphi_.middleRows(row, P);
  for (Index j = 0; j < h.cols(); ++j)
    for (Index i = 0; i < P; ++i) {
      phi(i, j) = act_.phi(h(i, j));
      dphi(i, j) = act_.dphi(h(i, j));
    }

  auto z = z_.middleRows(row, P);
  z = r_.middleRows(row, P);
  if (D_.K.size()) z.noalias() += D_.c * (D_.K * sum_phi_);
  if (D_.dense) {
    const Index upto = D_.dense_equal_time ? row + P : row;
    if (upto > 0) z.noalias() += D_.dense->block(row, 0, P, upto) * phi_.topRows(upto);
  }
  g_.middleRows(row, P) = dphi.cwiseProduct(z);
}

void LayerSweep::commit(Index t, const Eigen::Ref<const Vector>& delta_t) {
  const Index row = t * P_;
  sum_g_.noalias() += delta_t.asDiagonal() * g_.middleRows(row, P_);
  sum_phi_.noalias() += delta_t.asDiagonal() * phi_.middleRows(row, P_);
}

void LayerSweep::run(const RowMatrix& delta) {
  for (Index t = 0; t < T_; ++t) {
    advance(t);
    commit(t, delta.row(t).transpose());
  }
}

}  // namespace dmft
