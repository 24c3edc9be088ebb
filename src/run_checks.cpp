#include "dmft/run_checks.hpp"

#include "dmft/attention_model.hpp"
#include "dmft/depth_limit.hpp"
#include "dmft/errors.hpp"
#include "dmft/finite_width.hpp"
#include "dmft/parameter_text.hpp"
#include "dmft/problem_data.hpp"
#include "dmft/registry.hpp"

namespace dmft {
namespace {
/// True for a registered residual model; an unknown model is reported on its own elsewhere.
bool is_residual_model(const std::string& name) {
  try {
    return make_model(name)->residual();
  } catch (const InputError&) {
    return true;
  }
}

/// False for a registered model without the marching strategy (an unknown model: reported elsewhere).
bool lacks_march(const std::string& name) {
  try {
    return !make_model(name)->can_march();
  } catch (const InputError&) {
    return false;
  }
}

/// The residual options given to a model without residual branches.
std::vector<Violation> residual_option_violations(const ProblemParameters& p) {
  std::vector<Violation> out;
  if (is_residual_model(p.model)) return out;
  const std::string rule = "only the residual models (resnet, resnet_linear) have branches; model " + p.model + " has none";
  if (p.beta0 != 1.0) out.push_back({"beta0", format_value(p.beta0), rule});
  if (p.branch_depth != 0) out.push_back({"branch-depth", std::to_string(p.branch_depth), rule});
  if (!p.train_input_layer) out.push_back({"train-input-layer", "false", rule + " (its input layer always trains)"});
  return out;
}
}  // namespace

std::vector<Violation> solve_violations(const SolveParameters& p, bool P_given, bool D_given) {
  std::vector<Violation> bad = validate(p);
  if (is_attention_model(p.model)) {  // its own rules (models/attention)
    for (auto& v : attention_solve_violations(p)) bad.push_back(v);
    for (auto& v : data_option_conflicts(p, P_given, D_given)) bad.push_back(v);
    return bad;
  }
  for (auto& v : attention_option_misuse(p)) bad.push_back(v);
  if (p.limit != SolveParameters{}.limit)
    bad.push_back({"limit", "'" + p.limit + "'", "an option of the attention model (limits A and B); model " + p.model + " has one limit"});
  try {
    for (auto& v : make_model(p.model)->validate(p)) bad.push_back(v);
  } catch (const InputError& e) {
    bad.insert(bad.begin(), Violation{"model", e.value(), e.rule()});
  }
  for (auto& v : residual_option_violations(p)) bad.push_back(v);
  if (p.depth != kInfiniteDepth && p.depth_grid != SolveParameters{}.depth_grid)
    bad.push_back({"depth-grid", "'" + p.depth_grid + "'", "only used with --depth inf"});
  if (p.strategy == "march" && lacks_march(p.model))
    bad.push_back({"strategy", "'march'", "model " + p.model + " has no marching strategy (use --strategy iterate)"});
  if (p.depth == kInfiniteDepth) {  // --depth inf
    if (!is_residual_model(p.model))
      bad.push_back({"depth", "inf", "only the residual models (resnet, resnet_linear) have an infinite-depth limit"});
    if (p.branch_depth != 0)
      bad.push_back({"branch-depth", std::to_string(p.branch_depth), "with --depth inf the branch multiplier follows each grid's depth (leave it 0)"});
    try {
      parse_depth_grid(p.depth_grid);
    } catch (const InputError& e) {
      bad.push_back({"depth-grid", e.value(), e.rule()});
    }
  }
  if (p.response_estimator != "random-probe" && !is_residual_model(p.model))
    bad.push_back({"response-estimator", "'" + p.response_estimator + "'",
                   "only the residual models (resnet) choose a response estimator; model " + p.model + " has its own"});
  if (p.stein_jitter != SolveParameters{}.stein_jitter && p.response_estimator != "stein")
    bad.push_back({"stein-jitter", format_value(p.stein_jitter), "only used with --response-estimator stein"});
  for (auto& v : data_option_conflicts(p, P_given, D_given)) bad.push_back(v);
  return bad;
}

std::vector<Violation> train_violations(const TrainParameters& p, bool P_given, bool D_given) {
  std::vector<Violation> bad = validate(p);
  if (is_attention_model(p.model)) {
    for (auto& v : attention_train_violations(p)) bad.push_back(v);
    for (auto& v : data_option_conflicts(p, P_given, D_given)) bad.push_back(v);
    return bad;
  }
  for (auto& v : attention_option_misuse(p)) bad.push_back(v);
  if (p.width_axis != TrainParameters{}.width_axis)
    bad.push_back({"width-axis", "'" + p.width_axis + "'", "an option of the attention model; model " + p.model + " has one width"});
  if (p.depth == kInfiniteDepth) bad.push_back({"depth", "inf", "a finite network has a finite depth (dmft train needs --depth >= 1)"});
  else for (auto& v : network_violations(p)) bad.push_back(v);
  for (auto& v : residual_option_violations(p)) bad.push_back(v);
  for (auto& v : data_option_conflicts(p, P_given, D_given)) bad.push_back(v);
  return bad;
}

}  // namespace dmft
