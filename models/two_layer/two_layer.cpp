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
#include "dmft/mlp_sampler.hpp"
#include "dmft/registry.hpp"

namespace dmft {
namespace {

class TwoLayer final : public Model {
 public:
  std::string name() const override { return "two_layer"; }
  std::string description() const override {
    return "two-layer network (one hidden layer), any activation; no response functions needed";
  }

  std::vector<Violation> architecture_violations(const ProblemParameters& p) const override {
    if (p.depth != 1)
      return {{"depth", std::to_string(p.depth), "model two_layer has exactly one hidden layer (use --depth 1)"}};
    return {};
  }
  int hidden_layers(const Problem&) const override { return 1; }

  std::vector<StaticLayer> static_kernels(const Problem& pr) const override { return mlp_static_kernels(pr); }

  Matrix ntk(const Problem& pr, const OrderParameters& state, Index t) const override {
    return mlp_ntk(pr.data->Kx, state.layers, t);
  }

  SiteAverages sample(const Problem& pr, const OrderParameters& state, const RowMatrix& delta) const override {
    return sample_mlp(pr, state, delta);  // the MLP single-site map with L = 1
  }

  bool can_march() const override { return true; }

  SiteAverages march(const Problem& pr, RowMatrix& delta) const override {
    // One sweep over t with all samples in step (theory mlp.md §7.5): Δ(t) is fixed as soon as
    // the samples reach time t, so the result is the exact fixed point for these samples. The
    // couplings of layer 1 are tiled (running sums), so they take Δ(s) as the sweep goes.
    const Index P = pr.P();
    const Vector& y = pr.data->y;
    delta = y.transpose().replicate(pr.T, 1);  // only read through the dense couplings: none here
    const OrderParameters none;
    const MlpLayer layer(pr, none, delta, 1);
    const Index chunks = layer.chunks();
    std::vector<LayerSweep> sweeps;
    for (Index j = 0; j < chunks; ++j) sweeps.push_back(layer.make_sweep(j));
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
        // K(t) from the equal-time blocks of these samples, by the core's MLP formula
        std::vector<LayerKernels> tt(1);
        tt[0].Phi = phi_tt / double(pr.samples);
        tt[0].G = g_tt / double(pr.samples);
        const Matrix K = mlp_ntk(pr.data->Kx, tt, 0);
        next = next - (pr.eta / double(P)) * (K * next);
      }
#pragma omp parallel for schedule(dynamic, 1)
      for (Index j = 0; j < chunks; ++j) sweeps[j].commit(t, delta.row(t).transpose());
    }
    LayerSamples samples;
    samples.phi.resize(pr.n(), pr.samples);
    samples.g.resize(pr.n(), pr.samples);
    samples.z_readout.resize(pr.T, pr.samples);
    for (Index j = 0; j < chunks; ++j) samples.store(j, sweeps[j], true, pr.T, P);
    SiteAverages out;
    out.layers.push_back(layer_kernels(samples, out.relative_noise));
    readout_average(pr, samples, out.output, out.output_se);
    out.sources = layer.source_report();
    out.flops = 2.0 * kernel_estimate_flops(double(pr.n()), double(pr.samples));
    return out;
  }

  CostEstimate cost(const Problem& pr) const override {
    const double n = double(pr.n()), S = double(pr.samples), P = double(pr.P()), T = double(pr.T);
    const double threads = 2.0;  // per-thread sweep buffers are small; count two
    CostEstimate c;
    // state (Φ, G and their errors) + the new estimate of the same + sample matrices φ, g, z
    c.peak_bytes = 8.0 * (8.0 * n * n + 2.0 * n * S + T * S + threads * 9.0 * n * double(kSampleChunk));
    c.dominant_step = "kernel estimation Φ = ⟨φφᵀ⟩, G = ⟨ggᵀ⟩ (two rank-S updates of n×n)";
    c.dominant_flops = 2.0 * kernel_estimate_flops(n, S);
    c.flops_per_iteration = c.dominant_flops + 4.0 * n * P * S + 4.0 * n * S;
    (void)T;
    return c;
  }

};

}  // namespace

DMFT_REGISTER_MODEL("two_layer", TwoLayer);

}  // namespace dmft
