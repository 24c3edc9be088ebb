#include "dmft/parameters.hpp"

#include <cmath>
#include <sstream>

#include "dmft/activation.hpp"

namespace dmft {
namespace {
std::string show(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

std::vector<Violation> validate(const SolveParameters& p) {
  std::vector<Violation> v;
  auto positive = [&](const char* name, double x) {
    if (!(x > 0) || !std::isfinite(x)) v.push_back({name, show(x), "must be finite and > 0"});
  };
  auto at_least = [&](const char* name, long long x, long long lo) {
    if (x < lo) v.push_back({name, std::to_string(x), "must be >= " + std::to_string(lo)});
  };
  auto one_of = [&](const char* name, const std::string& x, std::vector<std::string> allowed) {
    for (const auto& a : allowed)
      if (a == x) return;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    v.push_back({name, "'" + x + "'", "must be one of " + list});
  };
  one_of("activation", p.activation, Activation::names());
  positive("beta", p.beta);
  at_least("depth", p.depth, 1);
  positive("sigma", p.sigma);
  one_of("responses", p.responses, {"full", "gia"});
  one_of("dataset", p.dataset, {"synthetic", "ds1"});
  one_of("target", p.target, {"teacher", "linear", "halves"});
  at_least("P", p.P, 1);
  at_least("D", p.D, 1);
  at_least("T", p.T, 1);
  positive("eta", p.eta);
  positive("gamma0", p.gamma0);
  one_of("error-update", p.error_update, {"exact", "ntk"});
  at_least("mc-samples", p.mc_samples, 64);
  at_least("seed", p.seed, 0);
  at_least("data-seed", p.data_seed, 0);
  one_of("strategy", p.strategy, {"iterate", "march"});
  positive("tol", p.tol);
  if (!(p.noise_fraction >= 0) || !std::isfinite(p.noise_fraction))
    v.push_back({"noise-fraction", show(p.noise_fraction), "must be finite and >= 0"});
  at_least("max-iter", p.max_iter, 1);
  if (!(p.damping > 0 && p.damping <= 1)) v.push_back({"damping", show(p.damping), "must be in (0, 1]"});
  at_least("continuation-window", p.continuation_window, 0);
  if (p.threads < 0) v.push_back({"threads", std::to_string(p.threads), "must be >= 0 (0: all cores)"});
  if (!(p.max_memory_gb >= 0) || !std::isfinite(p.max_memory_gb))
    v.push_back({"max-memory-gb", show(p.max_memory_gb), "must be finite and >= 0"});
  if (p.output.empty()) v.push_back({"output", "''", "must name a file"});
  return v;
}

}  // namespace dmft
