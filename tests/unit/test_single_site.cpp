#include <doctest/doctest.h>

#include "dmft/single_site.hpp"

using namespace dmft;

namespace {
// The dense form of the tiled coupling: M(t,μ; s,ν) = c K(μ,ν) Δ(s,ν) for s < t.
TwoTime dense_from_tiled(double c, const Matrix& K, const RowMatrix& delta) {
  const Index T = delta.rows(), P = delta.cols();
  TwoTime M = TwoTime::Zero(T * P, T * P);
  for (Index t = 0; t < T; ++t)
    for (Index s = 0; s < t; ++s)
      M.block(t * P, s * P, P, P) = c * K * delta.row(s).asDiagonal();
  return M;
}
}  // namespace

TEST_CASE("tiled couplings (running sums) equal their dense form") {
  const Index T = 7, P = 4, m = 5, n = T * P;
  const Activation act(ActivationKind::tanh);
  Matrix Kc = Matrix::Random(P, P), Kd = Matrix::Random(P, P);
  const RowMatrix delta = RowMatrix::Random(T, P);
  const Matrix u = Matrix::Random(n, m), r = Matrix::Random(n, m);
  Coupling Ct{0.3, Kc}, Dt{0.2, Kd};
  LayerSweep tiled(act, T, P, Ct, Dt, u, r);
  tiled.run(delta);

  const TwoTime Md = dense_from_tiled(0.3, Kc, delta), Nd = dense_from_tiled(0.2, Kd, delta);
  Coupling Cd, Dd;
  Cd.dense = &Md;
  Dd.dense = &Nd;
  LayerSweep dense(act, T, P, Cd, Dd, u, r);
  dense.run(delta);
  CHECK((tiled.h() - dense.h()).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((tiled.g() - dense.g()).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((tiled.z() - dense.z()).cwiseAbs().maxCoeff() < 1e-13);

  // The solution satisfies the equations h = u + C g, z = r + D φ, g = φ'(h) z exactly.
  CHECK((dense.h() - (u + Md * dense.g())).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((dense.z() - (r + Nd * dense.phi())).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("causality: Δ(s) for s >= t never changes time t") {
  const Index T = 6, P = 3, m = 4, n = T * P;
  const Activation act(ActivationKind::softplus, 2.0);
  const Matrix u = Matrix::Random(n, m), r = Matrix::Random(n, m);
  Coupling C{0.5, Matrix::Random(P, P)}, D{0.5, Matrix::Ones(P, P)};
  RowMatrix d1 = RowMatrix::Random(T, P), d2 = d1;
  d2.bottomRows(3) *= -7.0;  // change Δ(s) for s >= 3
  LayerSweep a(act, T, P, C, D, u, r), b(act, T, P, C, D, u, r);
  a.run(d1);
  b.run(d2);
  const Index k = 4 * P;  // rows of t = 0..3 depend on Δ(s <= 2) only
  CHECK((a.h().topRows(k) - b.h().topRows(k)).norm() == 0.0);
  CHECK((a.g().topRows(k) - b.g().topRows(k)).norm() == 0.0);
  CHECK((a.h().bottomRows(n - k) - b.h().bottomRows(n - k)).norm() > 0.0);
}

#include "dmft/mlp_sampler.hpp"

TEST_CASE("pathwise responses on the causal blocks equal the dense formulas of theory mlp.md §3.4.2") {
  const Index T = 7, P = 3, n = T * P;
  TwoTime C = TwoTime::Random(n, n), D = TwoTime::Random(n, n);
  for (Index t = 0; t < T; ++t)
    for (Index s = 0; s < T; ++s) {
      if (s >= t) C.block(t * P, s * P, P, P).setZero();  // strictly causal
      if (s > t) D.block(t * P, s * P, P, P).setZero();   // causal, equal-time blocks kept
    }
  const Vector a = Vector::Random(n), b = Vector::Random(n);
  const Matrix M = Matrix::Identity(n, n) - Matrix(C) * b.asDiagonal() - Matrix(C) * a.asDiagonal() * Matrix(D) * a.asDiagonal();
  const Matrix Minv = M.inverse();
  const Matrix A_dense = a.asDiagonal() * Minv * Matrix(C) * a.asDiagonal();
  const Matrix B_dense = (a.asDiagonal() * Matrix(D) * a.asDiagonal() + Matrix(b.asDiagonal())) * Minv;
  for (Index block : {P, 2 * P, 3 * P, Index(0)}) {
    CAPTURE(block);
    Matrix A = Matrix::Zero(n, n), B = Matrix::Zero(n, n);
    ResponseWorkspace w(n);
    add_pathwise_responses(C, D, a, b, P, true, true, A, B, w, block);
    CHECK((A - A_dense).cwiseAbs().maxCoeff() < 1e-10 * (1 + A_dense.cwiseAbs().maxCoeff()));
    CHECK((B - B_dense).cwiseAbs().maxCoeff() < 1e-10 * (1 + B_dense.cwiseAbs().maxCoeff()));
  }
}
