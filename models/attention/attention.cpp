// The `attention` model plugin (theory attention.md): option rules, the solve (limits A and B) and
// the finite networks of `dmft train`. See include/dmft/attention_model.hpp.
#include "dmft/attention_model.hpp"

#include <chrono>
#include <cmath>

#include "dmft/attention_limit_a.hpp"
#include "dmft/attention_m0_limit_b.hpp"
#include "dmft/attention_m1_limit_b.hpp"
#include "dmft/error_update.hpp"
#include "dmft/errors.hpp"
#include "dmft/parameter_text.hpp"

namespace dmft {
namespace {

bool is_m1(const ProblemParameters& p) { return p.block == "m1"; }

/// The multipliers with their option names.
std::vector<std::pair<const char*, double>> multipliers(const ProblemParameters& p) {
  return {{"lr-e", p.lr_e}, {"lr-q", p.lr_q}, {"lr-k", p.lr_k}, {"lr-v", p.lr_v}, {"lr-o", p.lr_o}, {"lr-w", p.lr_w}};
}

/// Peak bytes of one trajectory record (Δ, logits and attention per step, sequence and head).
double trajectory_bytes(Index T, Index P, Index S, Index H) {
  return 8.0 * double(T) * double(P) * (1.0 + 2.0 * double(H) * double(S * S));
}

}  // namespace

std::string attention_model_description() {
  return "multi-head self-attention (theory attention.md): --block m0 (one attention layer on the tokens) or m1 "
         "(embedding, attention with W^O, skip --rho, branch --beta0, readout); dmft solve --limit a (N -> inf, "
         "alpha_A = 1; no sampling for phi = id, Monte Carlo residual sites for a smooth phi) or --limit b (H -> inf at --head-dim N, Monte Carlo heads; m1 with a "
         "frozen embedding); "
         "needs token sequences (--dataset sequences or --data with X of shape P x S x D)";
}

AttentionBlock attention_block(const ProblemParameters& p) { return is_m1(p) ? AttentionBlock::m1 : AttentionBlock::m0; }

AttentionM1Options attention_options(const ProblemParameters& p) {
  AttentionM1Options o;
  o.base.eta = p.eta;
  o.base.gamma0 = p.gamma0;
  o.base.T = p.T;
  o.base.alpha_a = p.alpha_a;
  o.base.causal_mask = p.causal_mask;
  o.base.pool = p.pool == "last" ? AttentionM0Options::Pool::last : AttentionM0Options::Pool::mean;
  o.base.lr_q = p.lr_q;
  o.base.lr_k = p.lr_k;
  o.base.lr_v = p.lr_v;
  o.base.lr_w = p.lr_w;
  o.rho = p.rho;
  o.beta = p.beta0;
  o.phi = Activation::from_name(p.activation, p.beta);
  o.lr_e = p.lr_e;
  o.lr_o = p.lr_o;
  return o;
}

std::vector<Violation> attention_problem_violations(const ProblemParameters& p) {
  std::vector<Violation> out;
  if (p.block != "m0" && p.block != "m1") out.push_back({"block", "'" + p.block + "'", "must be one of m0, m1"});
  if (p.alpha_a != 1.0 && p.alpha_a != 0.5)
    out.push_back({"alpha-a", format_value(p.alpha_a), "must be 1 (muP) or 0.5 (attention.md 1.1)"});
  if (p.pool != "mean" && p.pool != "last") out.push_back({"pool", "'" + p.pool + "'", "must be one of mean, last"});
  if (p.heads < 1) out.push_back({"heads", std::to_string(p.heads), "must be >= 1"});
  if (p.head_dim < 1) out.push_back({"head-dim", std::to_string(p.head_dim), "must be >= 1"});
  if (!(p.rho >= 0) || !std::isfinite(p.rho)) out.push_back({"rho", format_value(p.rho), "must be finite and >= 0"});
  for (const auto& [name, value] : multipliers(p))
    if (!(value >= 0) || !std::isfinite(value))
      out.push_back({name, format_value(value), "a learning-rate multiplier must be finite and >= 0 (0 freezes the matrix)"});
  if (p.depth != 1)
    out.push_back({"depth", std::to_string(p.depth), "the attention model has one block (the L-block model of attention.md 3.5 is not implemented)"});
  if (p.sigma != 1.0)
    out.push_back({"sigma", format_value(p.sigma), "the attention model initialises every weight N(0, 1) (attention.md 1.1)"});
  if (p.responses != "full")
    out.push_back({"responses", "'" + p.responses + "'", "the attention model has no gradient-independence variant"});
  if (p.branch_depth != 0 || !p.train_input_layer)
    out.push_back({p.branch_depth != 0 ? "branch-depth" : "train-input-layer",
                   p.branch_depth != 0 ? std::to_string(p.branch_depth) : "false",
                   "a ResNet option; the attention model uses --beta0 (branch scale beta) and --lr-e (0 freezes the embedding)"});
  if (p.data.empty() && p.dataset != "sequences")
    out.push_back({"dataset", "'" + p.dataset + "'",
                   "the attention model needs token sequences: --dataset sequences (with --P, --S, --D) or --data with X of shape P x S x D"});
  if (!is_m1(p)) {  // M0 has no residual stream, no W^O and no readout nonlinearity (attention.md 1.2)
    const std::string rule = "block m0 has no embedding, output projection, skip or readout nonlinearity (use --block m1)";
    if (p.lr_e != 1.0) out.push_back({"lr-e", format_value(p.lr_e), rule});
    if (p.lr_o != 1.0) out.push_back({"lr-o", format_value(p.lr_o), rule});
    if (p.rho != 1.0) out.push_back({"rho", format_value(p.rho), rule});
    if (p.beta0 != 1.0) out.push_back({"beta0", format_value(p.beta0), rule});
    if (p.activation != ProblemParameters{}.activation) out.push_back({"activation", "'" + p.activation + "'", rule});
    if (p.beta != 1.0) out.push_back({"beta", format_value(p.beta), rule});
  }
  if (p.dataset == "sequences" && p.target != ProblemParameters{}.target)
    out.push_back({"target", "'" + p.target + "'", "--dataset sequences draws its targets y ~ N(0, 1); --target is for --dataset synthetic"});
  if (!p.data.empty() && p.S != ProblemParameters{}.S)
    out.push_back({"S", std::to_string(p.S), "cannot be combined with --data (the file fixes S)"});
  return out;
}

std::vector<Violation> attention_option_misuse(const ProblemParameters& p) {
  std::vector<Violation> out;
  if (is_attention_model(p.model)) return out;
  const std::string rule = "an option of the attention model; model " + p.model + " has no attention layer";
  const ProblemParameters d;
  if (p.block != d.block) out.push_back({"block", "'" + p.block + "'", rule});
  if (p.alpha_a != d.alpha_a) out.push_back({"alpha-a", format_value(p.alpha_a), rule});
  if (p.heads != d.heads) out.push_back({"heads", std::to_string(p.heads), rule});
  if (p.head_dim != d.head_dim) out.push_back({"head-dim", std::to_string(p.head_dim), rule});
  if (p.pool != d.pool) out.push_back({"pool", "'" + p.pool + "'", rule});
  if (p.causal_mask) out.push_back({"causal-mask", "true", rule});
  if (p.rho != d.rho) out.push_back({"rho", format_value(p.rho), rule});
  for (const auto& [name, value] : multipliers(p))
    if (value != 1.0) out.push_back({name, format_value(value), rule});
  if (p.data.empty() && p.dataset == "sequences")
    out.push_back({"dataset", "'sequences'", "token sequences are read only by the attention model (--model attention)"});
  if (p.S != d.S) out.push_back({"S", std::to_string(p.S), "tokens per sequence: only --dataset sequences with --model attention"});
  return out;
}

std::vector<Violation> attention_solve_violations(const SolveParameters& p) {
  std::vector<Violation> out = attention_problem_violations(p);
  const SolveParameters d;
  if (p.limit == "a") {
    if (p.alpha_a != 1.0)
      out.push_back({"alpha-a", format_value(p.alpha_a), "limit A (N -> inf) exists only for alpha_A = 1 (attention.md 2); use --limit b for 0.5"});
    const bool sampled = is_m1(p) && p.activation != "linear";  // Monte Carlo residual sites
    if (sampled && p.activation == "relu")
      out.push_back({"activation", "'relu'",
                     "limit A of block m1 needs a smooth phi (tanh, softplus, ...): the equal-time response "
                     "R^u = beta^2 pi <w phi''(r)> (attention.md 3.2) has a Dirac delta for relu that tangents miss"});
    const std::string exact = "limit A with phi = id (and block m0) is solved without sampling";
    if (!sampled && p.mc_samples != d.mc_samples)
      out.push_back({"mc-samples", std::to_string(p.mc_samples), exact + " (samples are used with a nonlinear --activation or --limit b)"});
    if (sampled && p.mc_samples < kLimitAMinSamples)
      out.push_back({"mc-samples", std::to_string(p.mc_samples), "must be >= " + std::to_string(kLimitAMinSamples)});
    if (!sampled && p.seed != d.seed)
      out.push_back({"seed", std::to_string(p.seed), exact + " (the seed is used with a nonlinear --activation or --limit b)"});
    if (p.head_dim != d.head_dim)
      out.push_back({"head-dim", std::to_string(p.head_dim), "limit A is N -> inf (used with --limit b)"});
  } else if (p.limit == "b") {
    if (is_m1(p) && p.lr_e != 0)
      out.push_back({"lr-e", format_value(p.lr_e),
                     "limit B of block m1 is implemented with a frozen embedding (--lr-e 0; attention.md 4.5): a trained "
                     "embedding needs the equal-time head responses R^Q, R^K, which the docs never simulated"});
    if (is_m1(p) && p.activation != "linear")
      out.push_back({"activation", "'" + p.activation + "'",
                     "limit B of block m1 is implemented for phi = id (--activation linear)"});
    if (is_m1(p) && p.error_update != "exact")
      out.push_back({"error-update", "'" + p.error_update + "'", "limit B of block m1 is implemented with the exact error update only"});
  }
  if (p.heads != d.heads)
    out.push_back({"heads", std::to_string(p.heads), "dmft solve takes H -> inf (limit B) or collapses the heads (limit A); --heads is for dmft train"});
  const std::string other = "an option of the MLP and ResNet solvers; the attention solve does not use it";
  if (p.response_estimator != d.response_estimator)
    out.push_back({"response-estimator", "'" + p.response_estimator + "'", other});
  if (p.stein_jitter != d.stein_jitter) out.push_back({"stein-jitter", format_value(p.stein_jitter), other});
  if (p.depth_grid != d.depth_grid) out.push_back({"depth-grid", "'" + p.depth_grid + "'", other});
  const std::string loop = "the attention solve is one causal sweep, without the outer loop this option controls";
  if (p.strategy != d.strategy) out.push_back({"strategy", "'" + p.strategy + "'", loop});
  if (p.tol != d.tol) out.push_back({"tol", format_value(p.tol), loop});
  if (p.noise_fraction != d.noise_fraction) out.push_back({"noise-fraction", format_value(p.noise_fraction), loop});
  if (p.max_iter != d.max_iter) out.push_back({"max-iter", std::to_string(p.max_iter), loop});
  if (p.damping != d.damping) out.push_back({"damping", format_value(p.damping), loop});
  if (p.continuation_window != d.continuation_window)
    out.push_back({"continuation-window", std::to_string(p.continuation_window), loop});
  return out;
}

std::vector<Violation> attention_train_violations(const TrainParameters& p) {
  std::vector<Violation> out = attention_problem_violations(p);
  const TrainParameters d;
  if (p.readout != d.readout)
    out.push_back({"readout", "'" + p.readout + "'", "the attention networks have the mean-field readout 1/(gamma0 M) only"});
  if (p.coord_check) out.push_back({"coord-check", "true", "not available for the attention model"});
  if (p.width_axis == "heads" && p.heads != d.heads)
    out.push_back({"heads", std::to_string(p.heads), "with --width-axis heads the head counts are --widths"});
  if (p.width_axis == "head-dim" && p.head_dim != d.head_dim)
    out.push_back({"head-dim", std::to_string(p.head_dim), "with --width-axis head-dim the head dimensions are --widths"});
  return out;
}

AttentionSolution solve_attention(const SolveParameters& p, const Dataset& data) {
  const auto start = std::chrono::steady_clock::now();
  const SequenceData seq = to_sequences(data);
  const AttentionM1Options opt = attention_options(p);
  const AttentionBlock block = attention_block(p);
  const ErrorUpdate update = p.error_update == "ntk" ? ErrorUpdate::ntk : ErrorUpdate::exact;
  AttentionSolution out;
  if (p.limit == "a") {
    const bool sampled = block == AttentionBlock::m1 && opt.phi.kind() != ActivationKind::linear;
    out.trajectory = attention_limit_a(seq, opt, block, update, {Index(p.mc_samples), std::uint64_t(p.seed)});
    out.method = std::string("limit A (alpha_A = 1, N -> inf, heads collapse), ") + (block == AttentionBlock::m0 ? "block m0" : "block m1");
    if (sampled)
      out.method += ", phi = " + opt.phi.name() + ": coordinate site by coefficient rows, residual site by Monte Carlo over " +
                    std::to_string(p.mc_samples) + " samples with adjoint-tangent responses, one causal sweep, " +
                    std::to_string(std::min<Index>(Index(p.mc_samples), kLimitAReplicas)) + " replicas for the standard error (attention.md 3.2, 3.7)";
    else
      out.method += ", phi = id: coefficient representation over the sites' Gaussian sources, one causal sweep, no sampling "
                    "(attention.md 3.3, 3.7)";
    if (block == AttentionBlock::m0 && update == ErrorUpdate::exact) {
      // The built-in oracle (attention.md 3.4): the O(D^3) moment recursion of the same limit.
      const AttentionM0Limit oracle = attention_m0_limit_a(seq, opt.base);
      out.oracle_delta = (out.trajectory.Delta - oracle.Delta).cwiseAbs().maxCoeff();
      out.oracle_logits = 0;
      for (std::size_t i = 0; i < oracle.logits.size(); ++i)
        out.oracle_logits = std::max(out.oracle_logits, (out.trajectory.logits[i] - oracle.logits[i]).cwiseAbs().maxCoeff());
    }
  } else if (block == AttentionBlock::m0) {
    out.trajectory = attention_m0_limit_b(seq, opt.base, Index(p.head_dim), Index(p.mc_samples), std::uint64_t(p.seed), update);
    out.method = "limit B (H -> inf at N = " + std::to_string(p.head_dim) + "), block m0: Monte Carlo over " +
                 std::to_string(p.mc_samples) + " heads, each carried exactly by its own moment recursion (attention.md 3.4)";
  } else {
    out.trajectory = attention_m1_limit_b(seq, opt, Index(p.head_dim), Index(p.mc_samples), std::uint64_t(p.seed));
    out.method = "limit B (H -> inf at N = " + std::to_string(p.head_dim) + "), block m1 with a frozen embedding, phi = id: "
                 "Monte Carlo over " + std::to_string(p.mc_samples) +
                 " heads with the head-level response R^o by forward tangents, the residual site exact (attention.md 3.2, 3.7)";
  }
  for (const Matrix& K : out.trajectory.ntk) out.max_stability_ratio = std::max(out.max_stability_ratio, stability_ratio(K, p.eta));
  if (update == ErrorUpdate::ntk && out.max_stability_ratio > 2)
    out.warnings.push_back("eta lambda_max(K)/P reached " + format_value(out.max_stability_ratio) +
                           " > 2: the ntk (Euler) error update is unstable here; use --error-update exact (attention.md 4.7)");
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

CostEstimate attention_solve_cost(const SolveParameters& p, Index P, Index S, Index D) {
  CostEstimate c;
  const double T = double(p.T), n = T * double(P) * double(S);
  if (p.limit == "a") {
    const AttentionBlock block = attention_block(p);
    const bool sampled = block == AttentionBlock::m1 && p.activation != "linear";
    c.peak_bytes = attention_limit_a_bytes(p.T, P, S, block, sampled ? Index(p.mc_samples) : 0) + trajectory_bytes(p.T, P, S, 1);
    // Kernels F C F^T of every field against the past: per step O((P S) n_src n) with n_src ~ 4 n (M1) or
    // 3 P S + 1 (M0) sources.
    const double sources = block == AttentionBlock::m1 ? 4.0 * n + double(P * S) + 1 : 3.0 * double(P * S) + 1;
    c.dominant_step = "coefficient-row kernels F C F^T";
    c.dominant_flops = 10.0 * (2.0 * n * sources * sources + 2.0 * n * n * sources);  // about ten fields
    if (sampled) {
      const double coordinate = c.dominant_flops * double(1 + std::min<Index>(Index(p.mc_samples), kLimitAReplicas));
      c.dominant_flops = attention_limit_a_sampled_flops(p.T, P, S, Index(p.mc_samples));
      c.dominant_step = "adjoint tangents of the sampled residual site (responses R^h, R^u)";
      c.flops_per_iteration = c.dominant_flops + coordinate;
    } else {
      c.flops_per_iteration = c.dominant_flops;
    }
  } else if (attention_block(p) == AttentionBlock::m1) {
    // Every head and its replica keep their tangents (attention_m1_limit_b.hpp), plus the two-time arrays.
    const double heads = double(p.mc_samples), N = double(p.head_dim), d = double(D);
    c.peak_bytes = 2.0 * heads * 8.0 * N * N * (T - 1) * (T * double(P) + 3 * d) + 3.0 * 8.0 * n * n +
                   trajectory_bytes(p.T, P, S, 1);
    c.dominant_step = "head tangents (N (T-1) directions per head, coupled and replica)";
    c.dominant_flops = 2.0 * heads * T * (1 + N * (T - 1)) * N * double(P * S) * (double(S) + d) * 4;
    c.flops_per_iteration = c.dominant_flops;
  } else {
    // Per head and replica: the moments C1, C2 and the factors Z_μ, p_μ of every sequence.
    const double heads = double(p.mc_samples), d = double(D);
    c.peak_bytes = 2.0 * heads * 8.0 * (4 * d * d + (d + 1) * (d + 1) + double(P) * (d * d + d)) +
                   trajectory_bytes(p.T, P, S, 1);
    c.dominant_step = "head steps (moment recursion and NTK per head, coupled and replica)";
    c.dominant_flops =
        2.0 * heads * T * (double(P * S) * d * (double(S) + d) * 4 + 16 * d * d * d + 2.0 * double(P) * d * d * (2 * d + double(P)));
    c.flops_per_iteration = c.dominant_flops;
  }
  return c;
}

AttentionM0Trajectory train_attention_network(const ProblemParameters& p, const Dataset& data, Index N, Index H,
                                              std::uint64_t seed, bool kernels) {
  const SequenceData seq = to_sequences(data);
  const AttentionM1Options opt = attention_options(p);
  if (is_m1(p)) return train_attention_m1(seq, opt, N, H, seed, kernels);
  return train_attention_m0(seq, opt.base, N, H, seed);
}

double attention_network_bytes(const ProblemParameters& p, Index P, Index S, Index D, Index N, Index H, bool kernels) {
  const double M = double(N) * double(H), rows = double(P) * double(S), T = double(p.T);
  double weights = is_m1(p) ? 8.0 * (M * double(D) + 4.0 * M * M + M) : 8.0 * (3.0 * M * double(D) + M);
  double fields = 8.0 * rows * M * (is_m1(p) ? 12.0 : 6.0);
  if (kernels && is_m1(p)) {
    const double n = T * rows;
    fields += 8.0 * 3.0 * n * M + 8.0 * 3.0 * n * n;  // stored h, o, g^u of every step and their Gram arrays
  }
  return weights + fields + trajectory_bytes(p.T, P, S, H);
}

}  // namespace dmft
