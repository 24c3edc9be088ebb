#pragma once
// The outer self-consistency loop (theory mlp.md §7): damped iteration of the order parameters
// with common random numbers, or the one-sweep causal marching strategy; a stopping rule on the
// relative change of the kernels and of Δ against the Monte Carlo noise floor; a Summary.
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "dmft/model.hpp"

namespace dmft {

enum class Termination { converged, max_iter, numerical_failure, interrupted };
std::string to_string(Termination t);
/// CLI exit code: 0 converged, 3 max_iter, 4 numerical failure, 130 interrupted.
int exit_code(Termination t);

enum class Strategy { iterate, march };

struct SolverOptions {
  Strategy strategy = Strategy::iterate;
  double tol = 1e-6;             // relative change per iteration
  double noise_fraction = 0.1;   // stop once the change is below this fraction of ν
  long long max_iter = 500;     // per continuation stage
  double damping = 1.0;          // α: X ← (1−α) X + α X_new (kernels and, in exact mode, Δ)
  int patience = 2;              // consecutive iterations below tolerance
  long long continuation_window = 16;  // first time window of the continuation; 0: none
  const std::atomic<bool>* stop = nullptr;  // set asynchronously (signals): stop at the next boundary
};

/// One outer iteration's record.
struct IterationRecord {
  double r_phi = 0, r_g = 0, r_delta = 0;  // relative changes (Δ: max|change| / max|y|)
  double r_response = 0;                   // relative change of the responses A, B (if any)
  double noise = 0;                        // ν of the new estimate
  double tolerance = 0;                    // max(tol, noise_fraction·ν)
  double seconds = 0;
  long long window = 0;                    // time window T' of the continuation stage
};

struct Summary {
  Termination reason = Termination::max_iter;
  std::string message;  // why, in words
  std::vector<IterationRecord> history;
  double wall_seconds = 0;
  double sampling_seconds = 0;
  double flops = 0;
  FactorReport worst_source;       // smallest eigenvalue met, clipped mass, jitter
  double max_stability_ratio = 0;  // max_t η λ_max(K(t)) / P
  std::vector<std::string> warnings;

  std::string brief() const;
  std::string full() const;
};

struct Solution {
  OrderParameters state;
  RowMatrix output_se;          // T×P standard error of f (exact mode)
  std::vector<Matrix> ntk;      // K(t), P×P, t = 0..T−1
  Vector loss;                  // (1/P) Σ_μ Δ(t, μ)²
  Summary summary;
};

using ProgressCallback = std::function<void(long long iteration, const IterationRecord&)>;

Solution solve(const Model& model, const Problem& problem, const SolverOptions& options,
               const ProgressCallback& progress = {});

/// Builds the t = 0 state: static kernels tiled over all (t, s), Δ from the lazy recursion.
OrderParameters initial_state(const Model& model, const Problem& problem);

}  // namespace dmft
