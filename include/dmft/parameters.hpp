#pragma once
// The parameters of a solve, described once. `for_each_parameter` is the single list of fields:
// the CLI options, the config file keys, the /parameters group of the output and the validation
// messages are all generated from it (STYLE habit 1).
#include <cstdint>
#include <string>
#include <vector>

namespace dmft {

/// What defines the network, its data and its training: shared by `dmft solve` (the limit) and
/// `dmft train` (finite widths), so that both describe the same problem with the same options.
/// --depth inf (the residual models' L → ∞ limit, dmft solve) as stored in `depth`.
inline constexpr int kInfiniteDepth = -1;

struct ProblemParameters {
  // Model
  std::string model = "two_layer";
  std::string activation = "relu";
  double beta = 1.0;     // sharpness of tanh(βh)/β and softplus log(1+e^{βh})/β
  int depth = 1;         // hidden layers L (kInfiniteDepth: "inf", the residual models' L → ∞ limit)
  double sigma = 1.0;    // std of every initial weight entry
  std::string responses = "full";  // full | gia (gradient-independence approximation: A = B = 0)
  // Residual networks (models resnet, resnet_linear; theory residual.md §1.1)
  double beta0 = 1.0;            // branch strength: blocks h^{l+1} = h^l + (β0/√L_b) W^l φ(h^l)/√N
  int branch_depth = 0;          // L_b of the branch multiplier (0: the depth L)
  bool train_input_layer = true; // false: W^0 frozen (no F0 memory, no G¹∘Kx NTK term)
  // Attention (model attention; theory attention.md §1): the branch scale β is --beta0
  std::string block = "m0";      // m0: one attention layer on the tokens | m1: embedding, attention, W^O, skip, readout
  double alpha_a = 1.0;          // logit exponent α_A: A = N^{−α_A} q·k (1: muP, 0.5: standard)
  long long heads = 1;           // H heads (dmft train; limit A does not depend on it)
  long long head_dim = 2;        // N per head (limit B of dmft solve; dmft train with --width-axis heads)
  std::string pool = "mean";     // readout pooling over tokens: mean | last
  bool causal_mask = false;      // query token a attends to keys b <= a only
  double rho = 1.0;              // M1 skip ρ of r = ρ h + β u
  double lr_e = 1.0, lr_q = 1.0, lr_k = 1.0, lr_v = 1.0, lr_o = 1.0, lr_w = 1.0;  // learning-rate multipliers (0 freezes)
  // Data
  std::string data;              // HDF5 file with X (P×D) and y (P); empty: generated
  std::string dataset = "synthetic";  // synthetic | ds1 (when no --data)
  std::string target = "teacher";     // synthetic targets: teacher | linear | halves
  long long P = 10;
  long long D = 20;
  long long S = 4;           // tokens per sequence (--dataset sequences)
  long long data_seed = 1;   // the synthetic data set
  // Dynamics
  long long T = 50;
  double eta = 0.5;
  double gamma0 = 1.0;
};

struct SolveParameters : ProblemParameters {
  std::string error_update = "exact";  // exact | ntk
  std::string limit = "a";             // attention: a (N → ∞, α_A = 1) | b (H → ∞ at fixed N, Monte Carlo heads)
  std::string response_estimator = "random-probe";  // residual models: random-probe | exact-tangent | stein
  double stein_jitter = 0.0;  // stein: sources drawn with cov K + ε·mean(diag K₀₀)·I; 0: min(0.01, 10/S)
  std::string depth_grid = "8,16,32";  // with --depth inf: the depths solved and extrapolated
  // Monte Carlo and the outer loop
  long long mc_samples = 4000;
  long long seed = 1;        // Monte Carlo streams
  std::string strategy = "iterate";  // iterate | march
  double tol = 1e-6;
  double noise_fraction = 0.1;
  long long max_iter = 500;
  double damping = 1.0;
  long long continuation_window = 16;  // first window of the time continuation; 0: off
  // Run settings (not written to /parameters: they do not change the result)
  std::string output = "dmft.h5";
  int threads = 0;
  double max_memory_gb = 0.0;  // 0: the machine's available memory
  bool quiet = false;
};

/// `dmft train`: finite networks of several widths and seeds (theory mlp.md §2).
struct TrainParameters : ProblemParameters {
  std::string widths = "64,256,1024";  // comma-separated list of widths N
  std::string width_axis = "head-dim"; // attention: what --widths lists, head-dim (N at --heads H) | heads (H at --head-dim N)
  long long seeds = 4;                 // networks per width
  long long seed = 1;                  // first seed; seed k of a width uses seed + k
  std::string readout = "mean-field";  // mean-field: 1/(γ0 N) | ntk: 1/(γ0 √N) (deliberately wrong)
  bool coord_check = false;            // only the coordinate check (no kernels)
  std::string seed_kernels = "keep";   // keep | mean: store every seed's kernels, or mean and std only
  std::string like;                    // take the problem (parameters and data) from a dmft solve file
  std::string output = "finite.h5";
  int threads = 0;
  double max_memory_gb = 0.0;
  bool quiet = false;
};

/// How a field is used: `recorded` fields go into /parameters (and fix the result).
struct ParameterInfo {
  const char* name;         // option name without dashes, also the config key
  const char* description;  // one line, with units and allowed values
  bool recorded;
};

/// Calls v(info, field&) for every field of the problem, in a fixed order.
template <class P, class V>
void for_each_problem_parameter(P& p, V&& v) {
  v(ParameterInfo{"model", "model plugin name (dmft info lists them)", true}, p.model);
  v(ParameterInfo{"activation", "relu | tanh | erf | linear | softplus", true}, p.activation);
  v(ParameterInfo{"beta", "sharpness β of tanh(βh)/β and softplus log(1+e^{βh})/β (> 0)", true}, p.beta);
  v(ParameterInfo{"depth", "number of hidden layers L (>= 1; two_layer: 1), or inf (residual models, dmft solve: extrapolated over --depth-grid)", true}, p.depth);
  v(ParameterInfo{"sigma", "std σ of every initial weight entry (> 0)", true}, p.sigma);
  v(ParameterInfo{"responses", "full (response functions A, B) | gia (A = B = 0; in dmft train: the decoupled-backward network whose limit that is)", true}, p.responses);
  v(ParameterInfo{"beta0", "residual models: branch strength β0 of h^{l+1} = h^l + (β0/√L_b) W^l φ(h^l)/√N (> 0)", true}, p.beta0);
  v(ParameterInfo{"branch-depth", "residual models: L_b in the branch multiplier β0/√L_b (0: the depth L)", true}, p.branch_depth);
  v(ParameterInfo{"train-input-layer", "residual models: train the input layer W^0 (true) or freeze it (false)", true}, p.train_input_layer);
  v(ParameterInfo{"block", "attention: m0 (one multi-head attention layer on the tokens, mean-field readout) | m1 (embedding, attention with output projection, skip --rho, branch scale --beta0, readout through --activation; theory attention.md 1.2, 1.3)", true}, p.block);
  v(ParameterInfo{"alpha-a", "attention: logit exponent α_A of A = N^{-α_A} q·k, 1 (muP; limit A) or 0.5", true}, p.alpha_a);
  v(ParameterInfo{"heads", "attention: number of heads H of the finite networks (>= 1; limit A does not depend on it)", true}, p.heads);
  v(ParameterInfo{"head-dim", "attention: key/query/value dimension N per head of limit B (dmft solve --limit b) and of dmft train --width-axis heads (>= 1)", true}, p.head_dim);
  v(ParameterInfo{"pool", "attention: readout pooling over tokens, mean (π_a = 1/S) | last (π = e_S)", true}, p.pool);
  v(ParameterInfo{"causal-mask", "attention: query token a attends only to keys b <= a", true}, p.causal_mask);
  v(ParameterInfo{"rho", "attention m1: skip ρ of r = ρ h + β u (>= 0; the docs use 0 or 1)", true}, p.rho);
  v(ParameterInfo{"lr-e", "attention m1: learning-rate multiplier of the embedding W^E (>= 0; 0 freezes it)", true}, p.lr_e);
  v(ParameterInfo{"lr-q", "attention: learning-rate multiplier of W^Q on top of N^{2α_A-2} (>= 0; 0 freezes it)", true}, p.lr_q);
  v(ParameterInfo{"lr-k", "attention: learning-rate multiplier of W^K on top of N^{2α_A-2} (>= 0; 0 freezes it)", true}, p.lr_k);
  v(ParameterInfo{"lr-v", "attention: learning-rate multiplier of W^V (>= 0; 0 freezes it)", true}, p.lr_v);
  v(ParameterInfo{"lr-o", "attention m1: learning-rate multiplier of the output projection W^O (>= 0; 0 freezes it)", true}, p.lr_o);
  v(ParameterInfo{"lr-w", "attention: learning-rate multiplier of the readout w (>= 0; 0 freezes it)", true}, p.lr_w);
  v(ParameterInfo{"data", "HDF5 file with datasets X (P×D, or P×S×D token sequences for the attention model) and y (P); empty: generate", true}, p.data);
  v(ParameterInfo{"dataset", "generated data set when no --data: synthetic | ds1 | sequences (P sequences of S Gaussian tokens in R^D, targets N(0, 1): the attention model's)", true}, p.dataset);
  v(ParameterInfo{"target", "synthetic targets: teacher (sign of a random linear teacher) | linear | halves", true}, p.target);
  v(ParameterInfo{"P", "number of training examples of the synthetic data set (>= 1)", true}, p.P);
  v(ParameterInfo{"D", "input (token) dimension of the synthetic data set (>= 1)", true}, p.D);
  v(ParameterInfo{"S", "tokens per sequence of --dataset sequences (>= 1)", true}, p.S);
  v(ParameterInfo{"data-seed", "seed of the synthetic data set (>= 0)", true}, p.data_seed);
  v(ParameterInfo{"T", "number of recorded gradient-descent steps t = 0..T-1 (>= 1)", true}, p.T);
  v(ParameterInfo{"eta", "base learning rate η; the network's step is η γ0² N (> 0)", true}, p.eta);
  v(ParameterInfo{"gamma0", "feature-learning strength γ0 (> 0; → 0 is the lazy/NTK limit)", true}, p.gamma0);
}

/// Every field of a solve: the problem, then the solver's own.
template <class V>
void for_each_parameter(SolveParameters& p, V&& v) {
  for_each_problem_parameter(p, v);
  v(ParameterInfo{"error-update", "exact (Δ = y − f from the readout average) | ntk (Euler recursion)", true}, p.error_update);
  v(ParameterInfo{"limit", "attention: a (N → ∞ with α_A = 1, heads collapse; solved without sampling for φ = id) | b (H → ∞ at fixed --head-dim N, --mc-samples Monte Carlo heads)", true}, p.limit);
  v(ParameterInfo{"depth-grid", "with --depth inf (residual models): the depths M solved and Richardson-extrapolated to L = inf, e.g. 8,16,32 (theory residual.md 3.2)", true}, p.depth_grid);
  v(ParameterInfo{"response-estimator", "residual models: random-probe (tangents along Rademacher probes, theory residual.md 2.9 R2) | exact-tangent (one tangent per direction, R1: small problems) | stein (derivative-free, R3 with causal Cholesky roots: the one for ReLU)", true}, p.response_estimator);
  v(ParameterInfo{"stein-jitter", "with --response-estimator stein: relative jitter ε of the sources' Cholesky roots, drawn with covariance K + ε·mean(diag K(0,0))·I, which bounds the inverse root that Stein's lemma divides by (stability of the outer loop) at the price of an O(ε) bias; 0 (default): ε = min(0.01, 10/S); else 0 < ε <= 0.01", true}, p.stein_jitter);
  v(ParameterInfo{"mc-samples", "Monte Carlo samples S of the single-site process (>= 64)", true}, p.mc_samples);
  v(ParameterInfo{"seed", "seed of the Monte Carlo samples (>= 0); vary it for independent replicas", true}, p.seed);
  v(ParameterInfo{"strategy", "iterate (damped outer loop) | march (one causal sweep in time)", true}, p.strategy);
  v(ParameterInfo{"tol", "stop when the relative change per iteration is below max(tol, noise-fraction·ν)", true}, p.tol);
  v(ParameterInfo{"noise-fraction", "fraction of the Monte Carlo noise floor ν below which iterating stops (>= 0)", true}, p.noise_fraction);
  v(ParameterInfo{"max-iter", "outer iteration cap (>= 1)", true}, p.max_iter);
  v(ParameterInfo{"damping", "weight α of the new iterate, X ← (1−α)X + αX_new, in (0, 1]", true}, p.damping);
  v(ParameterInfo{"continuation-window", "iterate on growing time windows w, 2w, 4w, ..., T (0: the whole T at once)", true}, p.continuation_window);
  v(ParameterInfo{"output", "HDF5 file to write", false}, p.output);
  v(ParameterInfo{"threads", "worker threads (0: all cores); results do not depend on it", false}, p.threads);
  v(ParameterInfo{"max-memory-gb", "refuse runs whose estimated peak memory exceeds this (0: available memory)", false}, p.max_memory_gb);
  v(ParameterInfo{"quiet", "no progress lines", false}, p.quiet);
}

/// Every field of `dmft train`: the problem, then the finite networks' own.
template <class V>
void for_each_parameter(TrainParameters& p, V&& v) {
  for_each_problem_parameter(p, v);
  v(ParameterInfo{"widths", "comma-separated widths N of the networks, e.g. 64,256,1024 (each >= 1); attention: see --width-axis", true}, p.widths);
  v(ParameterInfo{"width-axis", "attention: what --widths lists, head-dim (N per head at --heads H: convergence to limit A) | heads (H at --head-dim N: convergence to limit B)", true}, p.width_axis);
  v(ParameterInfo{"seeds", "networks per width, with seeds seed, seed+1, ... (>= 1)", true}, p.seeds);
  v(ParameterInfo{"seed", "first network seed (>= 0)", true}, p.seed);
  v(ParameterInfo{"readout", "mean-field (1/(γ0 N), the DMFT's) | ntk (1/(γ0 √N) with the same step: a deliberately wrong scaling for the coordinate check)", true}, p.readout);
  v(ParameterInfo{"coord-check", "only the coordinate check: mean |h| per layer and step across widths (no kernels)", true}, p.coord_check);
  v(ParameterInfo{"seed-kernels", "keep (every seed's Phi, G in the file, needed for per-seed errors) | mean (mean and std over seeds only)", true}, p.seed_kernels);
  v(ParameterInfo{"like", "take the problem (model, parameters and data) from a dmft solve output file; options given here override it", false}, p.like);
  v(ParameterInfo{"output", "HDF5 file to write", false}, p.output);
  v(ParameterInfo{"threads", "worker threads (0: all cores); results do not depend on it", false}, p.threads);
  v(ParameterInfo{"max-memory-gb", "refuse runs whose estimated peak memory exceeds this (0: available memory)", false}, p.max_memory_gb);
  v(ParameterInfo{"quiet", "no progress lines", false}, p.quiet);
}

/// One broken rule: the option, its value and the rule.
struct Violation {
  std::string option, value, rule;
  std::string message() const { return "--" + option + " = " + value + ": " + rule; }
};

/// Throws one InputError naming the first violation and listing the others in its rule; returns
/// when there are none.
void throw_violations(const std::vector<Violation>& problems);

/// Checks the generic rules (ranges, choices). Model-specific rules are the model's.
std::vector<Violation> validate(const SolveParameters& p);
std::vector<Violation> validate(const TrainParameters& p);

/// Parses a comma-separated, strictly increasing list of integers in [lo, hi] given to `option`;
/// throws InputError naming the option: "'x' is not <what> (expected e.g. <example>)" or
/// "<plural> must be strictly increasing".
std::vector<long long> parse_increasing_integers(const std::string& text, const std::string& option, long long lo,
                                                 long long hi, const std::string& what, const std::string& example,
                                                 const std::string& plural);
/// Parses --widths ("64,256,1024"): throws InputError naming the option unless every entry is a
/// positive integer and the list is strictly increasing.
std::vector<long long> parse_widths(const std::string& text);

}  // namespace dmft
