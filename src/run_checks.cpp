#include "dmft/run_checks.hpp"

#include "dmft/errors.hpp"
#include "dmft/finite_width.hpp"
#include "dmft/problem_data.hpp"
#include "dmft/registry.hpp"

namespace dmft {

std::vector<Violation> solve_violations(const SolveParameters& p, bool P_given, bool D_given) {
  std::vector<Violation> bad = validate(p);
  try {
    for (auto& v : make_model(p.model)->validate(p)) bad.push_back(v);
  } catch (const InputError& e) {
    bad.insert(bad.begin(), Violation{"model", e.value(), e.rule()});
  }
  for (auto& v : data_option_conflicts(p, P_given, D_given)) bad.push_back(v);
  return bad;
}

std::vector<Violation> train_violations(const TrainParameters& p, bool P_given, bool D_given) {
  std::vector<Violation> bad = validate(p);
  for (auto& v : network_violations(p)) bad.push_back(v);
  for (auto& v : data_option_conflicts(p, P_given, D_given)) bad.push_back(v);
  return bad;
}

}  // namespace dmft
