// The two-layer network f = w·φ(W⁰x/√D)/(γ0 N) (theory mlp.md §2.1, §5).
//
// One hidden layer, so no response functions: each sample is an independent neuron driven by
// the shared residuals Δ,
//   h(t,μ) = u_μ + c Σ_{s<t} Σ_ν Kx_{μν} Δ(s,ν) g(s,ν),      u ~ N(0, σ²Kx), constant in t
//   z(t)   = ξ   + c Σ_{s<t} Σ_ν Δ(s,ν) φ(h(s,ν)),           ξ ~ N(0, σ²),  the readout weight
//   g = φ'(h) z,  Φ¹ = ⟨φφᵀ⟩,  G¹ = ⟨ggᵀ⟩,  f(t,μ) = γ0⁻¹⟨z(t) φ(h(t,μ))⟩ (centred)
// with c = η γ0 / P: the tiled couplings of the core's LayerSweep with K = Kx and K = 11ᵀ.
#include <cmath>
#include <vector>

#include "dmft/kernel_estimator.hpp"
#include "dmft/registry.hpp"
#include "dmft/rng.hpp"
#include "dmft/single_site.hpp"
#include "dmft/static_kernels.hpp"

namespace dmft {
namespace {

constexpr Index kChunk = 64;  // samples per block; fixed, so results do not depend on threads

class TwoLayer final : public Model {
 public:
  std::string name() const override { return "two_layer"; }
  std::string description() const override {
    return "two-layer network (one hidden layer), any activation; no response functions needed";
  }

  std::vector<Violation> validate(const SolveParameters& p) const override {
    if (p.depth != 1)
      return {{"depth", std::to_string(p.depth), "model two_layer has exactly one hidden layer (use --depth 1)"}};
    return {};
  }
  int hidden_layers(const Problem&) const override { return 1; }

  std::vector<StaticLayer> static_kernels(const Problem& pr) const override {
    // Φ¹_st = V_φ(σ²Kx), G¹_st = σ² V_φ'(σ²Kx) (theory mlp.md §3.6 with G² = 1).
    const double s2 = pr.sigma * pr.sigma;
    const Matrix cov = s2 * pr.data->Kx;
    return {StaticLayer{gaussian_phi_kernel(pr.activation, cov), s2 * gaussian_dphi_kernel(pr.activation, cov)}};
  }

  Matrix ntk(const Problem& pr, const OrderParameters& state, Index t) const override {
    return mlp_ntk(pr.data->Kx, state.layers, t);
  }

  SiteAverages sample(const Problem& pr, const OrderParameters&, const RowMatrix& delta) const override {
    const Setup s(pr);
    const Index chunks = s.chunks();
    Matrix Fphi(pr.n(), pr.samples), Fg(pr.n(), pr.samples), Z(pr.T, pr.samples);
#pragma omp parallel for schedule(dynamic, 1)
    for (Index j = 0; j < chunks; ++j) {
      LayerSweep sweep = s.make_sweep(j);
      sweep.run(delta);
      s.store(j, sweep, Fphi, Fg, Z);
    }
    return s.averages(Fphi, Fg, Z);
  }

  bool can_march() const override { return true; }

  SiteAverages march(const Problem& pr, RowMatrix& delta) const override {
    // One sweep over t with all samples in step (theory mlp.md §7.5): Δ(t) is fixed as soon as
    // the samples reach time t, so the result is the exact fixed point for these samples.
    const Setup s(pr);
    const Index chunks = s.chunks(), P = pr.P();
    std::vector<LayerSweep> sweeps;
    for (Index j = 0; j < chunks; ++j) sweeps.push_back(s.make_sweep(j));
    const Vector& y = pr.data->y;
    delta.resize(pr.T, P);
    Vector next = y;  // ntk mode: Δ(t) from the recursion
    for (Index t = 0; t < pr.T; ++t) {
#pragma omp parallel for schedule(dynamic, 1)
      for (Index j = 0; j < chunks; ++j) sweeps[j].advance(t);
      const Index row = t * P;
      if (pr.error_update == ErrorUpdate::exact) {
        Vector f = Vector::Zero(P);
        for (const auto& sw : sweeps)  // fixed order: thread-independent
          f += (sw.phi().middleRows(row, P) * sw.z().row(row).transpose() -
                sw.phi().topRows(P) * sw.z().row(0).transpose());
        delta.row(t) = (y - f / (pr.gamma0 * double(pr.samples))).transpose();
      } else {
        delta.row(t) = next.transpose();
        Matrix phi_tt = Matrix::Zero(P, P), g_tt = Matrix::Zero(P, P);
        for (const auto& sw : sweeps) {
          phi_tt.noalias() += sw.phi().middleRows(row, P) * sw.phi().middleRows(row, P).transpose();
          g_tt.noalias() += sw.g().middleRows(row, P) * sw.g().middleRows(row, P).transpose();
        }
        const Matrix K = (g_tt.cwiseProduct(pr.data->Kx) + phi_tt) / double(pr.samples);
        next = next - (pr.eta / double(P)) * (K * next);
      }
#pragma omp parallel for schedule(dynamic, 1)
      for (Index j = 0; j < chunks; ++j) sweeps[j].commit(t, delta.row(t).transpose());
    }
    Matrix Fphi(pr.n(), pr.samples), Fg(pr.n(), pr.samples), Z(pr.T, pr.samples);
    for (Index j = 0; j < chunks; ++j) s.store(j, sweeps[j], Fphi, Fg, Z);
    return s.averages(Fphi, Fg, Z);
  }

  CostEstimate cost(const Problem& pr) const override {
    const double n = double(pr.n()), S = double(pr.samples), P = double(pr.P()), T = double(pr.T);
    const double threads = 2.0;  // per-thread sweep buffers are small; count two
    CostEstimate c;
    // state (Φ, G and their errors) + the new estimate of the same + sample matrices φ, g, z
    c.peak_bytes = 8.0 * (8.0 * n * n + 2.0 * n * S + T * S + threads * 9.0 * n * double(kChunk));
    c.dominant_step = "kernel estimation Φ = ⟨φφᵀ⟩, G = ⟨ggᵀ⟩ (two rank-S updates of n×n)";
    c.dominant_flops = 2.0 * kernel_estimate_flops(n, S);
    c.flops_per_iteration = c.dominant_flops + 4.0 * n * P * S + 4.0 * n * S;
    (void)T;
    return c;
  }

 private:
  /// What one evaluation needs: sources, couplings, and how samples map to chunks.
  struct Setup {
    const Problem& pr;
    GaussianSource root;
    Coupling C, D;

    explicit Setup(const Problem& p)
        : pr(p), root(GaussianSource::symmetric_root(p.sigma * p.sigma * p.data->Kx)) {
      C.c = D.c = p.coupling();
      C.K = p.data->Kx;                            // Φ⁰ = Kx tiled over time
      D.K = Matrix::Ones(p.P(), p.P());            // G² = 1: the readout side
    }
    Index chunks() const { return (pr.samples + kChunk - 1) / kChunk; }

    LayerSweep make_sweep(Index j) const {
      const Index P = pr.P(), first = j * kChunk, m = std::min(kChunk, pr.samples - first);
      Matrix zu(P, m), zr(1, m);
      for (Index i = 0; i < m; ++i) {
        RandomStream rs(pr.seed, StreamPurpose::source, 1, std::uint64_t(first + i));
        for (Index mu = 0; mu < P; ++mu) zu(mu, i) = rs.normal();
        zr(0, i) = rs.normal();
      }
      Matrix u = root.draw(zu).replicate(pr.T, 1);     // constant in t
      Matrix r = (pr.sigma * zr).replicate(pr.n(), 1);  // one scalar per sample
      return LayerSweep(pr.activation, pr.T, P, C, D, std::move(u), std::move(r));
    }

    void store(Index j, const LayerSweep& sw, Matrix& Fphi, Matrix& Fg, Matrix& Z) const {
      const Index first = j * kChunk, m = sw.samples();
      Fphi.middleCols(first, m) = sw.phi();
      Fg.middleCols(first, m) = sw.g();
      for (Index t = 0; t < pr.T; ++t) Z.block(t, first, 1, m) = sw.z().row(t * pr.P());
    }

    SiteAverages averages(const Matrix& Fphi, const Matrix& Fg, const Matrix& Z) const {
      SiteAverages out;
      KernelEstimate phi = estimate_kernel(Fphi), g = estimate_kernel(Fg);
      out.relative_noise = std::max(phi.relative_noise, g.relative_noise);
      out.layers.push_back(LayerKernels{std::move(phi.mean), std::move(g.mean), std::move(phi.se), std::move(g.se)});
      // Centred readout average f(t,μ) = (γ0 S)⁻¹ Σ_i [z_i(t)φ_i(t,μ) − z_i(0)φ_i(0,μ)] (§3.5).
      const Index P = pr.P(), S = pr.samples;
      out.output.resize(pr.T, P);
      out.output_se.resize(pr.T, P);
#pragma omp parallel for
      for (Index t = 0; t < pr.T; ++t)
        for (Index mu = 0; mu < P; ++mu) {
          double sum = 0, sum2 = 0;
          for (Index i = 0; i < S; ++i) {
            const double v = Z(t, i) * Fphi(t * P + mu, i) - Z(0, i) * Fphi(mu, i);
            sum += v;
            sum2 += v * v;
          }
          const double mean = sum / double(S);
          const double var = std::max(sum2 / double(S) - mean * mean, 0.0) * double(S) / double(S - 1);
          out.output(t, mu) = mean / pr.gamma0;
          out.output_se(t, mu) = std::sqrt(var / double(S)) / pr.gamma0;
        }
      out.sources = root.report();
      const double n = double(pr.n());
      out.flops = 2.0 * kernel_estimate_flops(n, double(S)) + 4.0 * n * double(P) * double(S);
      return out;
    }
  };
};

}  // namespace

DMFT_REGISTER_MODEL("two_layer", TwoLayer);

}  // namespace dmft
