// ResNets with 1/√L branches (depth-μP; theory residual.md): h^{l+1} = h^l + (β0/√L_b) W^l φ(h^l)/√N.
// `resnet` samples whole depth trajectories by Monte Carlo (any activation; responses by random
// probes, exact tangents or Stein's lemma, the one for ReLU); `resnet_linear` solves φ = id exactly on unit-source pseudo-samples
// (§4). Both share the sweep, the static kernels and the NTK; only the single-site map differs.
#include <omp.h>

#include <cmath>

#include "dmft/parameter_text.hpp"
#include "dmft/registry.hpp"
#include "dmft/residual_sampler.hpp"
#include "dmft/residual_sweep.hpp"

namespace dmft {
namespace {

class ResidualModel : public Model {
 public:
  bool residual() const override { return true; }
  int hidden_layers(const Problem& pr) const override { return pr.depth; }

  std::vector<Violation> architecture_violations(const ProblemParameters& p) const override {
    std::vector<Violation> v;
    if (p.sigma != 1.0)
      v.push_back({"sigma", format_value(p.sigma),
                   "the residual models fix the initial weight std to 1 (the branch strength is --beta0, theory residual.md 1.1)"});
    return v;
  }

  std::vector<StaticLayer> static_kernels(const Problem& pr) const override { return residual_static_kernels(pr); }

  Matrix ntk(const Problem& pr, const OrderParameters& state, Index t) const override {
    // NTK = G¹∘Kx + a² Σ_l G^{l+1}∘Φ^l + Φ^L (theory residual.md §1.6, §2.5)
    return weighted_ntk(pr.data->Kx, state.layers, t, pr.branch() * pr.branch(), pr.train_input_layer);
  }

 protected:
  /// `trajectory_doubles`: the fields the single-site map holds at once beside the state.
  CostEstimate cost_of(const Problem& pr, bool exact_linear, double trajectory_doubles) const {
    const double n = double(pr.n()), L = double(pr.depth);
    CostEstimate c;
    // state and new estimate: Φ, G (+ errors), A, B per layer; couplings F, Bk per block.
    c.peak_bytes = 8.0 * (L * 12.0 * n * n + 2.0 * L * n * n + trajectory_doubles);
    c.flops_per_iteration = resnet_iteration_flops(pr, exact_linear);
    c.dominant_step = "causal sweeps over the depth trajectories and the kernel products (O(S L T² P²))";
    c.dominant_flops = c.flops_per_iteration;
    return c;
  }
};

class ResNet final : public ResidualModel {
 public:
  std::string name() const override { return "resnet"; }
  std::string description() const override {
    return "ResNet with beta0/sqrt(L) branches (depth-muP), any activation: Monte Carlo over whole depth trajectories, "
           "responses A, B by random-probe or exact tangents, or by Stein's lemma (ReLU)";
  }
  std::vector<Violation> validate(const SolveParameters& p) const override {
    std::vector<Violation> v = architecture_violations(p);
    for (auto& x : relu_response_violations(p, "residual.md 2.8", true)) v.push_back(x);
    if (p.response_estimator != "random-probe" && p.responses == "gia")
      v.push_back({"response-estimator", "'" + p.response_estimator + "'", "--responses gia has no responses to estimate"});
    return v;
  }
  SiteAverages sample(const Problem& pr, const OrderParameters& state, const RowMatrix& delta) const override {
    return sample_resnet(pr, state, delta);
  }
  CostEstimate cost(const Problem& pr) const override {
    // per batch of S/32 columns: h, φ, φ', g, z and tangents of every layer (about 10 L n each),
    // with up to three batches' worth alive at once (trajectories, probes, products)
    return cost_of(pr, false, 10.0 * pr.depth * double(pr.n()) * double(pr.samples) / 32.0 * 3.0);
  }
};

class ResNetLinear final : public ResidualModel {
 public:
  std::string name() const override { return "resnet_linear"; }
  std::string description() const override {
    return "ResNet with beta0/sqrt(L) branches and phi = id, solved exactly (unit-source transfer, no sampling)";
  }
  bool stochastic() const override { return false; }
  std::vector<Violation> architecture_violations(const ProblemParameters& p) const override {
    std::vector<Violation> v = ResidualModel::architecture_violations(p);
    if (p.activation != "linear")
      v.push_back({"activation", "'" + p.activation + "'",
                   "model resnet_linear is linear (use --activation linear, or --model resnet)"});
    return v;
  }
  std::vector<Violation> validate(const SolveParameters& p) const override {
    std::vector<Violation> v = architecture_violations(p);
    if (p.response_estimator != "random-probe")
      v.push_back({"response-estimator", "'" + p.response_estimator + "'",
                   "model resnet_linear computes A, B exactly (the option is for model resnet)"});
    return v;
  }
  SiteAverages sample(const Problem& pr, const OrderParameters& state, const RowMatrix& delta) const override {
    return exact_linear_resnet(pr, state, delta);
  }
  CostEstimate cost(const Problem& pr) const override {
    // φ^l and g^l of every layer for all P + 2(L−1)n + 1 pseudo-samples, plus one response
    // tangent sweep (dh, dg of every layer for n directions) per thread
    const double n = double(pr.n()), L = double(pr.depth);
    const double columns = double(pr.P()) + 2.0 * (L - 1.0) * n + 1.0;
    return cost_of(pr, true, 2.0 * L * n * columns + 4.0 * L * n * n * double(omp_get_max_threads()));
  }
};

}  // namespace

DMFT_REGISTER_MODEL("resnet", ResNet);
DMFT_REGISTER_MODEL("resnet_linear", ResNetLinear);

}  // namespace dmft
