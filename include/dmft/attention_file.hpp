#pragma once
// The HDF5 output of `dmft solve --model attention` (docs/FORMAT.md, "attention"): the format of
// every solve (dmft-solution: provenance, /parameters, /data with X as P×S×D, /solution/loss,
// /solution/Delta), with the attention arrays that carry token indices: /solution/attention/logits
// and /sigma (T,P,S,S) and /solution/kernels/<name> (T,P,S,T,P,S). Written to a temporary and
// renamed, like every output.
#include <string>

#include "dmft/attention_model.hpp"
#include "dmft/finite_width.hpp"

namespace dmft {

void write_attention_solution(const std::string& path, const SolveParameters& params, const std::string& command_line,
                              const Dataset& data, const AttentionSolution& solution);

/// A finite network's trajectory as one seed's record of the dmft-finite-width file: loss, Δ,
/// K(t) (if recorded), the head-mean logits, with `every_head` every head's logits, and the
/// two-time arrays.
NetworkRun attention_network_run(const AttentionM0Trajectory& trajectory, bool every_head);

}  // namespace dmft
