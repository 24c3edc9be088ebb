#pragma once
// The data set a problem's options describe: --data FILE, or the generator (--dataset, --target,
// --P, --D, --data-seed). `dmft solve` and `dmft train` share it, so both see the same data.
#include "dmft/data.hpp"
#include "dmft/parameters.hpp"

namespace dmft {

Dataset dataset_for(const ProblemParameters& p);

/// --P / --D given together with --data or --dataset ds1 (which fix P and D themselves).
std::vector<Violation> data_option_conflicts(const ProblemParameters& p, bool P_given, bool D_given);

}  // namespace dmft
