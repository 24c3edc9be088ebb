// The shared mechanics of the limit-A causal sweeps (attention.md §3.3, §3.7): couplings, token
// sums and the coordinate site's attention at one step. See attention_sweep.hpp.
#include "attention_sweep.hpp"

namespace dmft::attention_sweep {

RowMatrix coupling(const RowsRef& response, const RowMatrix& K, double c_eps, const Vector& delta_tokens,
                   const Grid& g, Index t) {
  const Index lo = g.first(t);
  RowMatrix out = response;
  out.leftCols(lo).array() +=
      c_eps * (K.block(lo, 0, g.ps(), lo).array().rowwise() * delta_tokens.head(lo).transpose().array());
  return out;
}

RowMatrix equal_time(const RowMatrix& K, const Grid& g, Index t) {
  return K.block(g.first(t), g.first(t), g.ps(), g.ps());
}

Matrix token_weights(const Vector& w, const Grid& g) {
  Matrix W = Matrix::Zero(g.P, g.ps());
  for (Index mu = 0; mu < g.P; ++mu) W.block(mu, mu * g.S, 1, g.S) = w.transpose();
  return W;
}

Matrix token_sum(const RowMatrix& M, const Grid& g) {
  const Matrix ones = token_weights(Vector::Ones(g.S), g);
  return ones * M * ones.transpose();
}

void set_delta(RowMatrix& Delta, Vector& delta_tokens, const Vector& delta, const Grid& g, Index t) {
  Delta.row(t) = delta.transpose();
  for (Index nu = 0; nu < g.P; ++nu) delta_tokens.segment(g.first(t) + nu * g.S, g.S).setConstant(delta[nu]);
}

RowMatrix per_sequence(const std::vector<RowMatrix>& M, const RowMatrix& F, const Grid& g, bool transpose) {
  RowMatrix out(F.rows(), F.cols());
  for (Index mu = 0; mu < g.P; ++mu) {
    const RowMatrix& m = M[std::size_t(mu)];
    if (transpose)
      out.middleRows(mu * g.S, g.S).noalias() = m.transpose() * F.middleRows(mu * g.S, g.S);
    else
      out.middleRows(mu * g.S, g.S).noalias() = m * F.middleRows(mu * g.S, g.S);
  }
  return out;
}

HeadForward attend(const SiteSources& site, const RowMatrix& q, const RowMatrix& k, const RowMatrix& v, Index live,
                   const Grid& g, bool causal_mask) {
  HeadForward out;
  const RowMatrix qk = site.moment(q, k, live);
  for (Index mu = 0; mu < g.P; ++mu) {
    out.A.push_back(qk.block(mu * g.S, mu * g.S, g.S, g.S));
    out.sigma.push_back(masked_softmax(out.A.back(), causal_mask));
  }
  out.o = per_sequence(out.sigma, v, g, false);
  return out;
}

std::array<RowMatrix, 3> attention_backward(const SiteSources& site, const std::array<RowMatrix, 3>& qkv,
                                            const RowMatrix& go, const std::vector<RowMatrix>& sigma, Index live,
                                            const Grid& g) {
  const RowMatrix gov = site.moment(go, qkv[2], live);
  std::vector<RowMatrix> Dm;
  for (Index mu = 0; mu < g.P; ++mu)
    Dm.push_back(softmax_backward(sigma[std::size_t(mu)], gov.block(mu * g.S, mu * g.S, g.S, g.S)));
  return {per_sequence(Dm, qkv[1], g, false), per_sequence(Dm, qkv[0], g, true), per_sequence(sigma, go, g, true)};
}

void record_attention(AttentionM0Trajectory& out, const HeadForward& head) {
  for (std::size_t mu = 0; mu < head.A.size(); ++mu) {
    out.logits.push_back(head.A[mu]);
    out.attention.push_back(head.sigma[mu]);
  }
}

}  // namespace dmft::attention_sweep
