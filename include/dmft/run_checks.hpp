#pragma once
// Every rule `dmft solve` and `dmft train` check before any work, in one place, so that a sweep
// can refuse a bad point when it is expanded rather than when it runs.
#include <vector>

#include "dmft/parameters.hpp"

namespace dmft {

/// Generic rules, the model's own (unknown model included), and --P/--D against the data set.
std::vector<Violation> solve_violations(const SolveParameters& p, bool P_given, bool D_given);
/// Generic rules, the finite network's (models with a network), and --P/--D against the data set.
std::vector<Violation> train_violations(const TrainParameters& p, bool P_given, bool D_given);

}  // namespace dmft
