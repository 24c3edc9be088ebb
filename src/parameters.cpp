#include "dmft/parameters.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "dmft/activation.hpp"
#include "dmft/errors.hpp"

namespace dmft {
namespace {
std::string show(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

/// Collects violations with the option name, the value and the rule.
class Rules {
 public:
  explicit Rules(std::vector<Violation>& out) : v(out) {}
  void positive(const char* name, double x) {
    if (!(x > 0) || !std::isfinite(x)) v.push_back({name, show(x), "must be finite and > 0"});
  }
  void at_least(const char* name, long long x, long long lo) {
    if (x < lo) v.push_back({name, std::to_string(x), "must be >= " + std::to_string(lo)});
  }
  void fail(const char* name, const std::string& value, const std::string& rule) { v.push_back({name, value, rule}); }
  void one_of(const char* name, const std::string& x, const std::vector<std::string>& allowed) {
    for (const auto& a : allowed)
      if (a == x) return;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    v.push_back({name, "'" + x + "'", "must be one of " + list});
  }
  void run_settings(int threads, double max_memory_gb, const std::string& output) {
    if (threads < 0) v.push_back({"threads", std::to_string(threads), "must be >= 0 (0: all cores)"});
    if (!(max_memory_gb >= 0) || !std::isfinite(max_memory_gb))
      v.push_back({"max-memory-gb", show(max_memory_gb), "must be finite and >= 0"});
    if (output.empty()) v.push_back({"output", "''", "must name a file"});
  }

 private:
  std::vector<Violation>& v;
};

void validate_problem(const ProblemParameters& p, Rules& r) {
  r.one_of("activation", p.activation, Activation::names());
  r.positive("beta", p.beta);
  if (p.depth < 1 && p.depth != kInfiniteDepth) r.fail("depth", std::to_string(p.depth), "must be >= 1, or inf");
  r.positive("sigma", p.sigma);
  r.one_of("responses", p.responses, {"full", "gia"});
  r.positive("beta0", p.beta0);
  r.at_least("branch-depth", p.branch_depth, 0);
  r.one_of("dataset", p.dataset, {"synthetic", "ds1", "sequences"});
  r.at_least("S", p.S, 1);
  r.one_of("target", p.target, {"teacher", "linear", "halves"});
  r.at_least("P", p.P, 1);
  r.at_least("D", p.D, 1);
  r.at_least("data-seed", p.data_seed, 0);
  r.at_least("T", p.T, 1);
  r.positive("eta", p.eta);
  r.positive("gamma0", p.gamma0);
}

}  // namespace

std::vector<Violation> validate(const SolveParameters& p) {
  std::vector<Violation> v;
  Rules r(v);
  validate_problem(p, r);
  r.one_of("error-update", p.error_update, {"exact", "ntk"});
  r.one_of("limit", p.limit, {"a", "b"});
  r.one_of("response-estimator", p.response_estimator, {"random-probe", "exact-tangent", "stein"});
  if (!(p.stein_jitter == 0 || (p.stein_jitter > 0 && p.stein_jitter <= 0.01)))
    v.push_back({"stein-jitter", show(p.stein_jitter), "must be 0 (automatic: min(0.01, 10/mc-samples)) or in (0, 0.01]"});
  r.at_least("mc-samples", p.mc_samples, 64);
  r.at_least("seed", p.seed, 0);
  r.one_of("strategy", p.strategy, {"iterate", "march"});
  r.positive("tol", p.tol);
  if (!(p.noise_fraction >= 0) || !std::isfinite(p.noise_fraction))
    v.push_back({"noise-fraction", show(p.noise_fraction), "must be finite and >= 0"});
  r.at_least("max-iter", p.max_iter, 1);
  if (!(p.damping > 0 && p.damping <= 1)) v.push_back({"damping", show(p.damping), "must be in (0, 1]"});
  r.at_least("continuation-window", p.continuation_window, 0);
  r.run_settings(p.threads, p.max_memory_gb, p.output);
  return v;
}

std::vector<Violation> validate(const TrainParameters& p) {
  std::vector<Violation> v;
  Rules r(v);
  validate_problem(p, r);
  try {
    parse_widths(p.widths);
  } catch (const InputError& e) {
    v.push_back({"widths", e.value(), e.rule()});
  }
  r.at_least("seeds", p.seeds, 1);
  r.at_least("seed", p.seed, 0);
  r.one_of("readout", p.readout, {"mean-field", "ntk"});
  r.one_of("width-axis", p.width_axis, {"head-dim", "heads"});
  r.one_of("seed-kernels", p.seed_kernels, {"keep", "mean"});
  r.run_settings(p.threads, p.max_memory_gb, p.output);
  return v;
}

void throw_violations(const std::vector<Violation>& problems) {
  if (problems.empty()) return;
  std::string rule = problems[0].rule;
  for (std::size_t i = 1; i < problems.size(); ++i)
    rule += "; also " + problems[i].option + " = " + problems[i].value + ": " + problems[i].rule;
  throw InputError(problems[0].option, problems[0].value, rule);
}

std::vector<long long> parse_increasing_integers(const std::string& text, const std::string& option, long long lo,
                                                 long long hi, const std::string& what, const std::string& example,
                                                 const std::string& plural) {
  std::vector<long long> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < lo || v > hi)
      throw InputError(option, "'" + text + "'", "'" + item + "' is not " + what + " (expected e.g. " + example + ")");
    if (!out.empty() && v <= out.back()) throw InputError(option, "'" + text + "'", plural + " must be strictly increasing");
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

std::vector<long long> parse_widths(const std::string& text) {
  return parse_increasing_integers(text, "--widths", 1, std::numeric_limits<long long>::max(), "a positive integer",
                                   "64,256,1024", "widths");
}

}  // namespace dmft
