#pragma once
// The self-describing HDF5 output of a solve (docs/FORMAT.md). Written to "<path>.tmp" and
// renamed when complete, so a file at `path` is always whole; the root attribute `complete` is
// written last. The file holds no timings, thread counts or dates: the same inputs give the same
// bytes.
#include <functional>
#include <string>

#include "dmft/data.hpp"
#include "dmft/model.hpp"
#include "dmft/parameters.hpp"
#include "dmft/solver.hpp"

namespace H5 {
class Group;
}

namespace dmft {

inline constexpr const char* kFormatName = "dmft-solution";
inline constexpr int kFormatVersion = 1;

void write_solution(const std::string& path, const SolveParameters& params, const std::string& command_line,
                    const Problem& problem, const Solution& solution,
                    const std::function<void(H5::Group& root)>& extra = {});

}  // namespace dmft
