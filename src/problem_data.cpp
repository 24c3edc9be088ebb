#include "dmft/problem_data.hpp"

namespace dmft {

Dataset dataset_for(const ProblemParameters& p) {
  if (!p.data.empty()) return load_dataset(p.data);
  if (p.dataset == "ds1") return make_ds1();
  if (p.dataset == "sequences") return make_synthetic_sequences(p.P, p.S, p.D, std::uint64_t(p.data_seed));
  return make_synthetic(p.P, p.D, std::uint64_t(p.data_seed), synthetic_target_from_name(p.target));
}

Problem problem_for(const SolveParameters& p, const Dataset& data) {
  Problem pr;
  pr.data = &data;
  pr.activation = Activation::from_name(p.activation, p.beta);
  pr.depth = p.depth;
  pr.sigma = p.sigma;
  pr.responses = p.responses == "full";
  pr.beta0 = p.beta0;
  pr.branch_depth = p.branch_depth;
  pr.train_input_layer = p.train_input_layer;
  pr.response_estimator = p.response_estimator == "exact-tangent" ? ResponseEstimator::exact_tangent
                          : p.response_estimator == "stein"       ? ResponseEstimator::stein
                                                                  : ResponseEstimator::random_probe;
  pr.stein_jitter = p.stein_jitter;
  pr.T = p.T;
  pr.eta = p.eta;
  pr.gamma0 = p.gamma0;
  pr.error_update = p.error_update == "ntk" ? ErrorUpdate::ntk : ErrorUpdate::exact;
  pr.samples = p.mc_samples;
  pr.seed = std::uint64_t(p.seed);
  return pr;
}

std::vector<Violation> data_option_conflicts(const ProblemParameters& p, bool P_given, bool D_given) {
  std::vector<Violation> out;
  for (auto [given, name, value] : {std::tuple{P_given, "P", p.P}, std::tuple{D_given, "D", p.D}})
    if (given && (!p.data.empty() || p.dataset == "ds1"))
      out.push_back({name, std::to_string(value),
                     std::string("cannot be combined with ") + (p.data.empty() ? "--dataset ds1" : "--data") +
                         " (the data set fixes P and D)"});
  return out;
}

std::vector<Violation> too_large_for_memory(const ProblemParameters& p, double limit_bytes) {
  if (!p.data.empty() || limit_bytes <= 0) return {};
  // Sequence data: the two-time arrays carry token indices, (T·P·S)².
  const double P = p.dataset == "ds1" ? 8.0 : double(p.P) * (p.dataset == "sequences" ? double(p.S) : 1.0),
               n = P * double(p.T);
  if (8.0 * n * n <= limit_bytes) return {};
  return {{"T", std::to_string(p.T),
           "P·T = " + std::to_string((long long)n) + ": one (P·T)² kernel alone needs " +
               std::to_string(8.0 * n * n / (1024.0 * 1024 * 1024)) + " GiB, more than the memory limit (reduce --P or --T)"}};
}

}  // namespace dmft
