#include "dmft/residual_sweep.hpp"

#include "dmft/feature_memory.hpp"

namespace dmft {

ResidualCouplings::ResidualCouplings(const Problem& pr, const OrderParameters& state, const RowMatrix& d)
    : L(pr.depth), T(pr.T), P(pr.P()), a(pr.branch()), k(pr.coupling()), delta(d) {
  const Index n = pr.n();
  if (pr.train_input_layer) {
    F0 = TwoTime::Zero(n, n);
    add_feature_memory(F0, pr.data->Kx.replicate(T, T), k, delta);
  }
  F.assign(std::size_t(L - 1), TwoTime());
  Bk.assign(std::size_t(L - 1), TwoTime());
  for (int l = 1; l < L; ++l) {
    const LayerKernels& here = state.layers[std::size_t(l - 1)];
    const LayerKernels& above = state.layers[std::size_t(l)];
    TwoTime& f = F[std::size_t(l - 1)];
    TwoTime& b = Bk[std::size_t(l - 1)];
    f = TwoTime::Zero(n, n);
    b = TwoTime::Zero(n, n);
    if (pr.responses && !here.A.empty()) f += a * here.A.values;
    if (pr.responses && !here.B.empty()) b += here.B.values;
    add_feature_memory(f, here.Phi, k * a * a, delta);
    add_feature_memory(b, above.G, k * a, delta);
  }
}

void residual_sweep(const Activation& act, const ResidualCouplings& cp, const ResidualSources& src, ResidualPaths& out) {
  const int L = cp.L;
  const Index T = cp.T, P = cp.P, n = T * P, m = src.u1.cols();
  const double a = cp.a;
  for (auto* v : {&out.h, &out.phi, &out.dphi, &out.g}) v->assign(std::size_t(L), Matrix(n, m));
  out.z.assign(std::size_t(L - 1), Matrix(n, m));
  out.zL.resize(T, m);
  auto rows = [&](Matrix& x, Index t) { return x.middleRows(t * P, P); };
  auto activate = [&](int l, Index t) {
    const auto li = std::size_t(l);
    rows(out.phi[li], t) = rows(out.h[li], t).unaryExpr([&](double x) { return act.phi(x); });
    rows(out.dphi[li], t) = rows(out.h[li], t).unaryExpr([&](double x) { return act.dphi(x); });
  };
  for (Index t = 0; t < T; ++t) {
    // Forward, layers increasing: h¹ = u¹ + F0 g¹(s<t); h^{l+1} = h^l + a u^{l+1} + F^l g^{l+1}(s<t).
    rows(out.h[0], t) = src.u1;
    if (cp.F0.size() && t > 0) rows(out.h[0], t).noalias() += cp.F0.block(t * P, 0, P, t * P) * out.g[0].topRows(t * P);
    activate(0, t);
    for (int l = 1; l < L; ++l) {
      const auto b = std::size_t(l - 1), li = std::size_t(l);
      rows(out.h[li], t) = rows(out.h[b], t) + a * src.u[b].middleRows(t * P, P);
      if (t > 0) rows(out.h[li], t).noalias() += cp.F[b].block(t * P, 0, P, t * P) * out.g[li].topRows(t * P);
      activate(l, t);
    }
    // Backward, layers decreasing: g^L = φ'(h^L) z^L; z^l = r^l + Bk^l φ(h^l)(s≤t); g^l = g^{l+1} + a φ'(h^l) z^l.
    const auto top = std::size_t(L - 1);
    if (t == 0) out.zL.row(0) = src.xi;
    else out.zL.row(t) = out.zL.row(t - 1) + cp.k * (cp.delta.row(t - 1) * rows(out.phi[top], t - 1));
    rows(out.g[top], t) = rows(out.dphi[top], t) * out.zL.row(t).asDiagonal();
    for (int l = L - 1; l >= 1; --l) {
      const auto b = std::size_t(l - 1);
      rows(out.z[b], t) = src.r[b].middleRows(t * P, P);
      rows(out.z[b], t).noalias() += cp.Bk[b].block(t * P, 0, P, (t + 1) * P) * out.phi[b].topRows((t + 1) * P);
      rows(out.g[b], t) = rows(out.g[b + 1], t) + a * rows(out.dphi[b], t).cwiseProduct(rows(out.z[b], t));
    }
  }
}

void residual_tangent_sweep(const Activation& act, const ResidualCouplings& cp, const ResidualPaths* primal,
                            const std::vector<Matrix>& dr, const std::vector<Matrix>& du, Index m,
                            ResidualTangents& out) {
  const int L = cp.L;
  const Index T = cp.T, P = cp.P, n = T * P;
  const double a = cp.a;
  out.dh.assign(std::size_t(L), Matrix(n, m));
  out.dg.assign(std::size_t(L), Matrix(n, m));
  out.adh.assign(std::size_t(L), Matrix(n, m));  // φ'(h^l) dh^l
  std::vector<Matrix>& adh = out.adh;
  Eigen::RowVectorXd dzL(m);
  Matrix dz(P, m);
  auto rows = [&](Matrix& x, Index t) { return x.middleRows(t * P, P); };
  // φ''(h) at the samples, for the second-order terms of the backward pass.
  auto curvature = [&](int l, Index t) {
    return primal->h[std::size_t(l)].middleRows(t * P, P).unaryExpr([&](double x) { return act.ddphi(x); });
  };
  // x ← φ'(h^l(t)) x in place (φ' = 1 without a primal: linear φ).
  auto apply_slope = [&](int l, Index t, auto&& x) {
    if (primal) x.array() *= primal->dphi[std::size_t(l)].middleRows(t * P, P).array();
  };
  for (Index t = 0; t < T; ++t) {
    rows(out.dh[0], t).setZero();
    if (cp.F0.size() && t > 0) rows(out.dh[0], t).noalias() += cp.F0.block(t * P, 0, P, t * P) * out.dg[0].topRows(t * P);
    rows(adh[0], t) = rows(out.dh[0], t);
    apply_slope(0, t, rows(adh[0], t));
    for (int l = 1; l < L; ++l) {
      const auto b = std::size_t(l - 1), li = std::size_t(l);
      rows(out.dh[li], t) = rows(out.dh[b], t);
      if (du[b].size()) rows(out.dh[li], t) += a * du[b].middleRows(t * P, P);
      if (t > 0) rows(out.dh[li], t).noalias() += cp.F[b].block(t * P, 0, P, t * P) * out.dg[li].topRows(t * P);
      rows(adh[li], t) = rows(out.dh[li], t);
      apply_slope(l, t, rows(adh[li], t));
    }
    // dz^L(t) = k Σ_{s<t,ν} Δ(s,ν) φ'(h^L(s,ν)) dh^L(s,ν);  dg^L = φ''(h^L) dh^L z^L + φ'(h^L) dz^L.
    const auto top = std::size_t(L - 1);
    if (t == 0) dzL.setZero();
    else dzL += cp.k * (cp.delta.row(t - 1) * rows(adh[top], t - 1));
    rows(out.dg[top], t) = dzL.replicate(P, 1);
    apply_slope(L - 1, t, rows(out.dg[top], t));
    if (primal && act.kind() != ActivationKind::linear)
      rows(out.dg[top], t) += curvature(L - 1, t).cwiseProduct(rows(out.dh[top], t)) * primal->zL.row(t).asDiagonal();
    for (int l = L - 1; l >= 1; --l) {
      const auto b = std::size_t(l - 1);
      // dz^l = dr^l + Σ_{s≤t} Bk^l (φ'(h^l) dh^l)(s);  dg^l = dg^{l+1} + a(φ''(h^l) dh^l z^l + φ'(h^l) dz^l).
      if (dr[b].size()) dz = dr[b].middleRows(t * P, P);
      else dz.setZero();
      dz.noalias() += cp.Bk[b].block(t * P, 0, P, (t + 1) * P) * adh[b].topRows((t + 1) * P);
      apply_slope(int(b), t, dz);
      rows(out.dg[b], t) = rows(out.dg[b + 1], t) + a * dz;
      if (primal && act.kind() != ActivationKind::linear)
        rows(out.dg[b], t) += a * curvature(int(b), t)
                                      .cwiseProduct(rows(out.dh[b], t))
                                      .cwiseProduct(primal->z[b].middleRows(t * P, P));
    }
  }
}

double residual_sweep_flops(int L, Index T, Index P) {
  // Per step t and layer: a P×(tP) by (tP)×1 product forward and P×((t+1)P) backward.
  double f = 0;
  for (Index t = 0; t < T; ++t) f += 2.0 * double(P) * double(t * P) + 2.0 * double(P) * double((t + 1) * P);
  return double(L) * f;
}

}  // namespace dmft
