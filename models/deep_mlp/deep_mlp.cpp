// The deep nonlinear MLP with L hidden layers (theory mlp.md §2–3): the full DMFT with the
// response functions A^l, B^l coupling neighbouring layers (B with its equal-time blocks), or
// the gradient-independence approximation (--responses gia: A = B = 0) for comparison.
// The single-site map is the core's sample_mlp; L = 1 is exactly the two_layer model.
#include "dmft/kernel_estimator.hpp"
#include "dmft/mlp_sampler.hpp"
#include "dmft/registry.hpp"

namespace dmft {
namespace {

class DeepMlp final : public Model {
 public:
  std::string name() const override { return "deep_mlp"; }
  std::string description() const override {
    return "deep MLP, L hidden layers, any activation; pathwise response functions A, B (or --responses gia)";
  }

  std::vector<Violation> validate(const SolveParameters& p) const override {
    std::vector<Violation> v = architecture_violations(p);
    for (auto& x : relu_response_violations(p, "mlp.md 3.4.3", false)) v.push_back(x);
    return v;
  }
  int hidden_layers(const Problem& pr) const override { return pr.depth; }

  std::vector<StaticLayer> static_kernels(const Problem& pr) const override { return mlp_static_kernels(pr); }

  Matrix ntk(const Problem& pr, const OrderParameters& state, Index t) const override {
    return mlp_ntk(pr.data->Kx, state.layers, t);
  }

  SiteAverages sample(const Problem& pr, const OrderParameters& state, const RowMatrix& delta) const override {
    return sample_mlp(pr, state, delta);
  }

  CostEstimate cost(const Problem& pr) const override {
    const double n = double(pr.n()), S = double(pr.samples), L = double(pr.depth);
    const double groups = std::min(std::ceil(S / double(kSampleChunk)), double(kResponseGroups));
    const bool responses = pr.responses && pr.depth > 1;
    CostEstimate c;
    // per layer: state Φ, G (+ errors) and A, B; the new estimate of the same; sample matrices;
    // dense couplings C, D; per-chunk response accumulators (and 3 n×n work matrices per thread)
    c.peak_bytes = 8.0 * (L * (responses ? 12.0 : 8.0) * n * n + 2.0 * n * S + 2.0 * n * n +
                          (responses ? 2.0 * groups * n * n + 2.0 * 3.0 * n * n : 0.0));
    const double kernel = 2.0 * kernel_estimate_flops(n, S);
    // Responses: A in layers 1..L−1, B in layers 2..L (both in the middle ones).
    double jacobian = 0;
    for (int l = 1; responses && l <= pr.depth; ++l)
      jacobian += S * pathwise_response_flops(n, l < pr.depth, l > 1);
    c.dominant_step = responses ? "per-sample Jacobians of the responses (causal blocks only, ≈ (4/3) n³ per sample and layer)"
                                : "kernel estimation Φ = ⟨φφᵀ⟩, G = ⟨ggᵀ⟩";
    c.dominant_flops = responses ? jacobian : L * kernel;
    c.flops_per_iteration = L * (kernel + 4.0 * n * n * S) + jacobian;
    return c;
  }
};

}  // namespace

DMFT_REGISTER_MODEL("deep_mlp", DeepMlp);

}  // namespace dmft
