#pragma once
// The data set a problem's options describe: --data FILE, or the generator (--dataset, --target,
// --P, --D, --data-seed). `dmft solve` and `dmft train` share it, so both see the same data.
#include "dmft/data.hpp"
#include "dmft/model.hpp"
#include "dmft/parameters.hpp"

namespace dmft {

Dataset dataset_for(const ProblemParameters& p);

/// The solver's view of a solve's parameters on `data` (which must outlive the Problem).
Problem problem_for(const SolveParameters& p, const Dataset& data);

/// --P / --D given together with --data or --dataset ds1 (which fix P and D themselves).
std::vector<Violation> data_option_conflicts(const ProblemParameters& p, bool P_given, bool D_given);

/// Before generating data: a generated data set whose single (P·T)² kernel already exceeds
/// `limit_bytes` is refused here, without building its P×P input Gram matrix first.
std::vector<Violation> too_large_for_memory(const ProblemParameters& p, double limit_bytes);

}  // namespace dmft
