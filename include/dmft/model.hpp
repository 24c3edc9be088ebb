#pragma once
// The model plugin interface. A model supplies the single-site equations of its architecture;
// the core supplies everything else (sampling utilities, kernel estimation, the outer loop,
// the error updates, output).
//
// CONTRACT — what a model must guarantee (tests/test_model_conformance.cpp checks it for every
// registered model):
//  * Layers. `hidden_layers` L ≥ 1 hidden layers, numbered l = 1..L; `layers` in every result
//    holds layer l at index l−1.
//  * Shapes and layout. Every two-time array is (T·P)×(T·P), row-major, index t·P + μ
//    (dmft::flat_index). Φ^l and G^l are exactly symmetric and positive semidefinite (Gram
//    estimates F Fᵀ/S are). Response functions, when a model has them, are strictly causal (A)
//    or causal with equal-time blocks (B): entries with s > t are exactly zero.
//  * Normalisation (theory README): loss L = (1/2P) Σ Δ², step η γ0² N on every weight, readout
//    1/(γ0 N), centred output. `sample` returns the readout average f(t, μ) = γ0⁻¹⟨…⟩ with the
//    centring f(0) = 0 applied per sample, so that Δ(t) = y − f(t) is the `exact` error update.
//  * Fields sampled and boundary conditions. The model draws its Gaussian sources from the
//    kernels it declares (layer 1 from σ²Kx, the readout side from σ²·11ᵀ, deeper layers from
//    Φ^{l−1}, G^{l+1}), through a continuous square root (dmft::GaussianSource), and reports
//    the smallest eigenvalue and clipped mass it met.
//  * Randomness. All random numbers come from dmft::RandomStream named by (seed, purpose,
//    layer, sample index) and are the same in every call (common random numbers across outer
//    iterations). Nothing may depend on the thread count: results are bit-for-bit identical for
//    any number of threads.
//  * Causality. `sample` with Δ given solves each sample's equations by forward substitution in
//    time; changing Δ(s) for s ≥ t never changes any quantity at time t.
//  * NTK. `ntk(state, t)` assembles the P×P effective NTK at step t from equal-time blocks only;
//    the core's `ntk` error update is Δ(t+1) = Δ(t) − (η/P) K(t) Δ(t).
//  * Lazy limit. `static_kernels` returns the t = 0 kernels Φ^l_st, G^l_st (P×P) in closed form
//    or by quadrature; at γ0 → 0 the solution must equal them at every (t, s).
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "dmft/activation.hpp"
#include "dmft/data.hpp"
#include "dmft/gaussian_source.hpp"
#include "dmft/parameters.hpp"
#include "dmft/types.hpp"

namespace dmft {

enum class ErrorUpdate { exact, ntk };
/// How the residual models estimate the responses A, B (theory residual.md §2.9): random-probe
/// tangents (R2), or one exact tangent per direction (R1, O(L² T³ P³) per sample: small problems).
/// How the residual models estimate A, B (theory residual.md §2.9): R2 tangents along random
/// probes, R1 one tangent per direction, R3 Stein's lemma through the causal source roots.
enum class ResponseEstimator { random_probe, exact_tangent, stein };

/// Everything fixed during one solve.
struct Problem {
  const Dataset* data = nullptr;
  Activation activation{ActivationKind::relu};
  int depth = 1;
  double sigma = 1.0;
  bool responses = true;  // false: gradient-independence approximation (A = B = 0)
  double beta0 = 1.0;     // residual models: branch strength
  int branch_depth = 0;   // residual models: L_b of the multiplier β0/√L_b (0: depth)
  bool train_input_layer = true;  // residual models: false freezes W^0
  ResponseEstimator response_estimator = ResponseEstimator::random_probe;  // residual models
  double stein_jitter = 0.0;  // stein: relative jitter of the source roots (bounds R⁻¹); 0: min(0.01, 10/S)
  Index T = 1;
  double eta = 0.1;
  double gamma0 = 1.0;
  ErrorUpdate error_update = ErrorUpdate::exact;
  Index samples = 64;
  std::uint64_t seed = 1;

  Index P() const { return data->P(); }
  Index n() const { return T * data->P(); }
  /// Coupling coefficient c = η γ0 / P (theory mlp.md §2.3).
  double coupling() const { return eta * gamma0 / double(P()); }
  /// Residual branch multiplier a = β0/√L_b (theory residual.md §0).
  double branch() const { return beta0 / std::sqrt(double(branch_depth > 0 ? branch_depth : depth)); }
};

/// The order parameters of one layer.
/// A response function stored with its own layout: `values` is the row-major flattening of an
/// array of shape `shape` (e.g. (T,P,T,P), or (T,P,T) and (T,T,P) for the deep linear reduced
/// A and B). The leading dims of `shape` make the row index and the rest the column index, each
/// with time first, so a response on T' steps is the top-left corner of the same response on
/// T > T' steps.
struct Response {
  RowMatrix values;  // empty: the layer has no such response
  std::vector<unsigned long long> shape;
  std::string axes;
  bool empty() const { return values.size() == 0; }
};

struct LayerKernels {
  TwoTime Phi, G;        // (T·P)×(T·P)
  TwoTime Phi_se, G_se;  // Monte Carlo standard errors (zero for deterministic solutions)
  Response A;            // forward response A^l (strictly causal); empty where the model has none
  Response B;            // backward response B^l (causal, with equal-time blocks); likewise
};

/// The state of the outer loop: the kernels of every layer and the residuals.
struct OrderParameters {
  std::vector<LayerKernels> layers;  // layer l at index l−1
  RowMatrix Delta;                   // T×P residuals Δ(t, μ) = y_μ − f_μ(t)
};

/// One evaluation of the single-site map.
struct SiteAverages {
  std::vector<LayerKernels> layers;
  RowMatrix output;     // T×P readout average f(t, μ) (centred)
  RowMatrix output_se;  // its Monte Carlo standard error
  FactorReport sources; // worst smallest eigenvalue / clipped mass of the source covariances
  double relative_noise = 0.0;  // max over kernels of ‖se‖/‖K‖: the noise floor ν
  double flops = 0.0;           // work done, for benchmarks
};

/// Static (t = 0) kernels of one layer, P×P.
struct StaticLayer {
  Matrix Phi, G;
};

/// Memory and work of one outer iteration, for --dry-run.
struct CostEstimate {
  double peak_bytes = 0;
  double flops_per_iteration = 0;
  std::string dominant_step;
  double dominant_flops = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;

  /// Rules of the architecture itself (e.g. two_layer has one hidden layer), shared by the DMFT
  /// and the finite network of `dmft train`.
  virtual std::vector<Violation> architecture_violations(const ProblemParameters&) const { return {}; }
  /// Every model-specific rule of a solve: the architecture's and the solver's (e.g. estimators
  /// that are biased for some activation); generic ranges are checked by dmft::validate.
  virtual std::vector<Violation> validate(const SolveParameters& p) const { return architecture_violations(p); }
  virtual int hidden_layers(const Problem& problem) const = 0;
  /// True for the residual models (the options --beta0, --branch-depth, --train-input-layer).
  virtual bool residual() const { return false; }
  /// False for models solved without sampling (no standard errors, no noise floor).
  virtual bool stochastic() const { return true; }

  /// t = 0 kernels per layer (closed form or quadrature).
  virtual std::vector<StaticLayer> static_kernels(const Problem& problem) const = 0;

  /// One evaluation of the self-consistency map: sample every layer with the current order
  /// parameters and residuals Δ (T×P) held fixed; return new kernel estimates and f(t, μ).
  virtual SiteAverages sample(const Problem& problem, const OrderParameters& current,
                              const RowMatrix& delta) const = 0;

  /// P×P effective NTK K(t) from the equal-time blocks of `state`.
  virtual Matrix ntk(const Problem& problem, const OrderParameters& state, Index t) const = 0;

  /// Optional second strategy: one causal sweep in time with fixed samples (theory mlp.md
  /// §7.5). Returns the converged state directly.
  virtual bool can_march() const { return false; }
  virtual SiteAverages march(const Problem& problem, RowMatrix& delta) const;

  /// Memory and flops of one outer iteration.
  virtual CostEstimate cost(const Problem& problem) const = 0;
};

/// The refusal of ReLU where pathwise/tangent estimates of the responses are biased (φ'' is a
/// delta): depth >= 2 or inf with --responses full. `where` names the theory section.
std::vector<Violation> relu_response_violations(const SolveParameters& p, const std::string& where, bool stein_available);

/// NTK of a multilayer perceptron: K(t) = G¹_tt∘Kx + Σ_{l=1}^{L−1} G^{l+1}_tt∘Φ^l_tt + Φ^L_tt
/// (theory mlp.md §3.5). Shared by every MLP-type model.
Matrix mlp_ntk(const Matrix& Kx, const std::vector<LayerKernels>& layers, Index t);
/// The same with the hidden terms weighted by `hidden_weight` (a ResNet's a² = β0²/L_b, theory
/// residual.md §1.6) and the input term dropped when the input layer is frozen.
Matrix weighted_ntk(const Matrix& Kx, const std::vector<LayerKernels>& layers, Index t, double hidden_weight,
                    bool input_layer_trains);

}  // namespace dmft
