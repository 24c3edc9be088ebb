// Deep linear networks (φ = id), solved algebraically — no sampling (theory mlp.md §4).
//
// Every single-site equation is linear, so the Gaussian averages close in matrices. Per layer l,
// with u ~ N(0, σ²H^{l−1}) (n-vector) and r ~ N(0, σ²G^{l+1}) (T-vector, g = z is μ-independent):
//   h = u + C z,   z = r + D h,
//   C(t,μ; s) = σ²A^{l−1}(t,μ; s) + c Σ_ν H^{l−1}(t,μ; s,ν) Δ(s,ν) [s<t]        (n×T)
//   D(t; s,ν) = σ²B^l(t; s,ν)      + c G^{l+1}(t,s) Δ(s,ν) [s<t]                (T×n)
// Solving, h = R u + A r and z = Q r + B u with Q = (I − DC)⁻¹, A = CQ, B = QD, R = I + AD:
//   H^l = R(σ²H^{l−1})Rᵀ + A(σ²G^{l+1})Aᵀ,   G^l = Q(σ²G^{l+1})Qᵀ + B(σ²H^{l−1})Bᵀ     (§4.3, §4.6)
// R H Rᵀ is expanded (Woodbury) so nothing n×n is inverted: O(T n²) per layer.
// Shapes: H^l is n×n; G^l is T×T, stored expanded as G(t,μ; s,ν) = G^l(t,s) so that the core's
// NTK and output treat it like any kernel; A^l is (T,P,T) and B^l (T,T,P) (reduced, §4.1).
#include <cmath>

#include "dmft/registry.hpp"

namespace dmft {
namespace {

class DeepLinear final : public Model {
 public:
  std::string name() const override { return "deep_linear"; }
  std::string description() const override {
    return "deep linear network (phi = id), any depth: closed algebraic DMFT equations, no sampling";
  }

  std::vector<Violation> architecture_violations(const ProblemParameters& p) const override {
    if (p.activation != "linear")
      return {{"activation", "'" + p.activation + "'", "model deep_linear is linear (use --activation linear, or --model two_layer)"}};
    return {};
  }
  int hidden_layers(const Problem& pr) const override { return pr.depth; }
  bool stochastic() const override { return false; }

  std::vector<StaticLayer> static_kernels(const Problem& pr) const override {
    // Φ^l_st = σ^{2l} Kx, G^l_st = σ^{2(L+1−l)} (theory mlp.md §3.6 with φ = id).
    const double s2 = pr.sigma * pr.sigma;
    const Index P = pr.P();
    std::vector<StaticLayer> out;
    for (int l = 1; l <= pr.depth; ++l)
      out.push_back({std::pow(s2, l) * pr.data->Kx, std::pow(s2, pr.depth + 1 - l) * Matrix::Ones(P, P)});
    return out;
  }

  Matrix ntk(const Problem& pr, const OrderParameters& state, Index t) const override {
    return mlp_ntk(pr.data->Kx, state.layers, t);
  }

  SiteAverages sample(const Problem& pr, const OrderParameters& cur, const RowMatrix& delta) const override {
    const Index T = pr.T, P = pr.P(), n = pr.n();
    const int L = pr.depth;
    const double c = pr.coupling(), s2 = pr.sigma * pr.sigma;
    const TwoTime H0 = pr.data->Kx.replicate(T, T);
    SiteAverages out;
    out.layers.resize(L);
    for (int l = 1; l <= L; ++l) {
      const TwoTime& Hprev = l == 1 ? H0 : cur.layers[l - 2].Phi;
      const Matrix Gnext = l == L ? Matrix::Ones(T, T) : reduce(cur.layers[l].G, T, P);
      // Couplings (strictly causal feature-learning parts; responses when kept).
      Matrix C = Matrix::Zero(n, T), D = Matrix::Zero(T, n);
      for (Index s = 0; s < T; ++s) {
        const Vector hd = Hprev.middleCols(s * P, P) * delta.row(s).transpose();  // Σ_ν H(·; s,ν) Δ(s,ν)
        C.col(s).tail(n - (s + 1) * P) = c * hd.tail(n - (s + 1) * P);            // rows t > s
        for (Index t = s + 1; t < T; ++t) D.block(t, s * P, 1, P) = c * Gnext(t, s) * delta.row(s);
      }
      if (pr.responses && l > 1 && !cur.layers[l - 2].A.empty()) C += s2 * cur.layers[l - 2].A.values;
      if (pr.responses && l < L && !cur.layers[l - 1].B.empty()) D += s2 * cur.layers[l - 1].B.values;

      // I − DC is unit lower triangular in time (DC(t,s) ≠ 0 only for s < t: D reaches s' ≤ t,
      // C reaches s < s'), so Q is a triangular solve and keeps exact zeros above the diagonal.
      const Matrix IDC = Matrix::Identity(T, T) - D * C;
      const Matrix Q = IDC.triangularView<Eigen::UnitLower>().solve(Matrix::Identity(T, T));
      const Matrix A = C * Q;   // ∂h/∂r  (n×T)
      const Matrix B = Q * D;   // ∂z/∂u  (T×n)
      // H = R X Rᵀ + A (σ²G) Aᵀ with X = σ²H^{l−1}, R = I + A D:
      //   R X Rᵀ = X + A(DX) + (A(DX))ᵀ + A(DXDᵀ)Aᵀ
      const Matrix DX = s2 * (D * Hprev);  // T×n
      const Matrix ADX = A * DX;          // n×n
      TwoTime H = s2 * Hprev;
      H += ADX + ADX.transpose();
      H.noalias() += A * ((DX * D.transpose() + s2 * Gnext) * A.transpose());
      const Matrix BX = s2 * (B * Hprev);  // T×n
      Matrix G = s2 * Q * Gnext * Q.transpose() + BX * B.transpose();
      symmetrise(H);
      G = (0.5 * (G + G.transpose())).eval();

      LayerKernels& k = out.layers[l - 1];
      k.Phi = std::move(H);
      k.G = expand(G, T, P);
      if (pr.responses && l < L) k.A = Response{A, {u64(T), u64(P), u64(T)}, "t,mu,s"};
      if (pr.responses && l > 1) out.layers[l - 2].B = Response{B, {u64(T), u64(T), u64(P)}, "t,s,nu"};

      if (l == L) {
        // Exact readout (§4.4): ⟨z hᵀ⟩ = Q σ²G^{L+1} Aᵀ + B X Rᵀ, f(t,μ) = ⟨z(t) h(t,μ)⟩ / γ0.
        const Matrix ZH = s2 * Q * Gnext * A.transpose() + BX + (BX * D.transpose()) * A.transpose();
        out.output.resize(T, P);
        for (Index t = 0; t < T; ++t) out.output.row(t) = ZH.block(t, t * P, 1, P) / pr.gamma0;
        out.output_se = RowMatrix::Zero(T, P);
      }
    }
    out.relative_noise = 0.0;  // deterministic
    out.sources.min_eigenvalue = std::numeric_limits<double>::infinity();
    out.flops = double(L) * 10.0 * double(T) * double(n) * double(n);
    return out;
  }

  CostEstimate cost(const Problem& pr) const override {
    const double n = double(pr.n()), T = double(pr.T), L = double(pr.depth);
    CostEstimate c;
    // state (H, expanded G per layer) + the new estimate of the same + per-layer temporaries
    c.peak_bytes = 8.0 * (4.0 * L * n * n + 3.0 * n * n + 8.0 * n * T);
    c.dominant_step = "Woodbury kernel updates A(DX), A(DXDᵀ)Aᵀ, D H (O(T n²) per layer)";
    c.dominant_flops = L * 10.0 * T * n * n;
    c.flops_per_iteration = c.dominant_flops;
    return c;
  }

 private:
  static unsigned long long u64(Index i) { return static_cast<unsigned long long>(i); }
  static Matrix reduce(const TwoTime& full, Index T, Index P) {
    Matrix g(T, T);
    for (Index t = 0; t < T; ++t)
      for (Index s = 0; s < T; ++s) g(t, s) = full(t * P, s * P);
    return g;
  }
  static TwoTime expand(const Matrix& g, Index T, Index P) {
    TwoTime full(T * P, T * P);
    for (Index t = 0; t < T; ++t)
      for (Index s = 0; s < T; ++s) full.block(t * P, s * P, P, P).setConstant(g(t, s));
    return full;
  }
  static void symmetrise(TwoTime& k) {
    const Index n = k.rows();
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < i; ++j) k(i, j) = k(j, i) = 0.5 * (k(i, j) + k(j, i));
  }
};

}  // namespace

DMFT_REGISTER_MODEL("deep_linear", DeepLinear);

}  // namespace dmft
