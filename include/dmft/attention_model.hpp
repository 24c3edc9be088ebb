#pragma once
// The `attention` model plugin (theory attention.md): what `dmft solve --model attention` and
// `dmft train --model attention` run. The attention DMFT's order parameters carry token indices
// ((T·P·S)² two-time arrays) and its limits are not the outer loop of the MLP models, so the
// plugin has its own entry points instead of the dmft::Model interface:
//
//   block m0, limit a: the general limit-A solver (coefficient rows, attention_limit_a.hpp), with
//                      the O(D³) moment recursion of §3.4 run beside it as a built-in oracle;
//   block m1, limit a: the same solver with the residual site (φ = id);
//   block m0, limit b: Monte Carlo over --mc-samples heads of dimension --head-dim (§3.4 head
//                      site per head, attention_m0_limit_b.hpp), both error updates;
//   block m1, limit b: frozen embedding (--lr-e 0) and φ = id: Monte Carlo heads with the
//                      head-level response R^o by tangents, the residual site exact
//                      (attention_m1_limit_b.hpp).
#include <string>
#include <vector>

#include "dmft/attention_limit_a.hpp"
#include "dmft/data.hpp"
#include "dmft/model.hpp"
#include "dmft/parameters.hpp"

namespace dmft {

inline constexpr const char* kAttentionModel = "attention";
inline bool is_attention_model(const std::string& model) { return model == kAttentionModel; }
/// One line for `dmft info`.
std::string attention_model_description();

/// The attention settings of a problem (η, γ0, T, α_A, mask, pooling, multipliers, ρ, β = --beta0, φ).
AttentionM1Options attention_options(const ProblemParameters& p);
AttentionBlock attention_block(const ProblemParameters& p);

/// Rules of the attention options shared by solve and train (block, α_A, pooling, ρ, multipliers,
/// heads, head-dim, data), one violation per broken rule; and, for the other models, the attention
/// options given to them.
std::vector<Violation> attention_problem_violations(const ProblemParameters& p);
std::vector<Violation> attention_option_misuse(const ProblemParameters& p);
/// Solve-only rules: limit A needs α_A = 1 and (M1) φ = id; limit B of M1 needs a frozen
/// embedding, φ = id and the exact error update; the MLP solver options do not apply.
std::vector<Violation> attention_solve_violations(const SolveParameters& p);
/// Train-only rules (--width-axis, --readout, --coord-check do not apply...).
std::vector<Violation> attention_train_violations(const TrainParameters& p);

/// The result of one attention solve.
struct AttentionSolution {
  AttentionM0Trajectory trajectory;  // H = 1: limit A's deterministic A(t), limit B's head mean
  std::string method;                // what was solved, in words (written to the file)
  /// M0 limit A: max over (t, μ) of |Δ_solver − Δ_recursion| and over (t, μ, a, b) of the logits,
  /// the built-in oracle of §3.4 (negative where there is none).
  double oracle_delta = -1, oracle_logits = -1;
  double max_stability_ratio = 0;    // max_t η λ_max(K(t)) / P (where K is known)
  std::vector<std::string> warnings;
  double seconds = 0;
};

AttentionSolution solve_attention(const SolveParameters& p, const Dataset& data);
/// Peak memory and work of solve_attention, for --dry-run and the memory guard.
CostEstimate attention_solve_cost(const SolveParameters& p, Index P, Index S, Index D);

/// One finite network of the problem (block, options) with head dimension N and H heads, trained
/// for T steps; `kernels`: also K(t) and the two-time arrays the block records.
AttentionM0Trajectory train_attention_network(const ProblemParameters& p, const Dataset& data, Index N, Index H,
                                              std::uint64_t seed, bool kernels);
/// Bytes held while training one such network (weights, recorded fields and arrays).
double attention_network_bytes(const ProblemParameters& p, Index P, Index S, Index D, Index N, Index H, bool kernels);

}  // namespace dmft
