#include <omp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <type_traits>
#include <unistd.h>

#include "cli.hpp"
#include "dmft/errors.hpp"
#include "dmft/memory_estimate.hpp"
#include "dmft/registry.hpp"
#include "dmft/solution_file.hpp"
#include "dmft/solver.hpp"

namespace dmft::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

std::string human_bytes(double b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int k = 0;
  while (b >= 1024 && k < 4) {
    b /= 1024;
    ++k;
  }
  char s[32];
  std::snprintf(s, sizeof s, "%.3g %s", b, unit[k]);
  return s;
}

Dataset make_data(const SolveParameters& p) {
  if (!p.data.empty()) return load_dataset(p.data);
  if (p.dataset == "ds1") return make_ds1();
  return make_synthetic(p.P, p.D, p.seed, synthetic_target_from_name(p.target));
}

}  // namespace

void add_solve(CLI::App& app, SolveCommand& cmd) {
  CLI::App* s = app.add_subcommand("solve", "solve the DMFT of a model and write an HDF5 file");
  s->set_config("--config", "", "read options from a file: one 'name = value' per line (names as below, no dashes)");
  s->allow_config_extras(CLI::config_extras_mode::error);
  for_each_parameter(cmd.params, [&](const ParameterInfo& info, auto& value) {
    const std::string flag = std::string("--") + info.name;
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, bool>) s->add_flag(flag, value, info.description);
    else s->add_option(flag, value, info.description)->capture_default_str();
  });
  s->add_flag("--dry-run", cmd.dry_run, "validate, print the memory and cost estimate, and exit");
}

int run_solve(const SolveCommand& cmd, const std::string& command_line) {
  SolveParameters p = cmd.params;
  std::vector<Violation> bad = validate(p);
  std::unique_ptr<Model> model;
  try {
    model = make_model(p.model);
    for (auto& v : model->validate(p)) bad.push_back(v);
  } catch (const InputError& e) {
    bad.insert(bad.begin(), Violation{"model", e.value(), e.rule()});
  }
  if (!bad.empty()) {
    std::vector<std::string> msgs;
    for (const auto& v : bad) msgs.push_back(v.message());
    return report_errors(msgs);
  }

  const Dataset data = make_data(p);
  if (!p.data.empty()) {  // the file decides P and D
    p.P = data.P();
    p.D = data.D();
  }
  Problem pr;
  pr.data = &data;
  pr.activation = Activation::from_name(p.activation, p.beta);
  pr.depth = p.depth;
  pr.sigma = p.sigma;
  pr.T = p.T;
  pr.eta = p.eta;
  pr.gamma0 = p.gamma0;
  pr.error_update = p.error_update == "ntk" ? ErrorUpdate::ntk : ErrorUpdate::exact;
  pr.samples = p.mc_samples;
  pr.seed = p.seed;

  const CostEstimate cost = model->cost(pr);
  const double limit = p.max_memory_gb > 0 ? p.max_memory_gb * 1024.0 * 1024.0 * 1024.0 : available_memory_bytes();
  std::ostringstream est;
  est << "estimate: peak memory " << human_bytes(cost.peak_bytes) << " (limit " << human_bytes(limit) << "); "
      << cost.flops_per_iteration / 1e9 << " GFLOP per outer iteration, dominated by " << cost.dominant_step << " ("
      << cost.dominant_flops / 1e9 << " GFLOP)";
  if (limit > 0 && cost.peak_bytes > limit) {
    std::ostringstream rule;
    rule << "P·T = " << pr.n() << " needs an estimated " << human_bytes(cost.peak_bytes) << " but only "
         << human_bytes(limit) << " is available (the kernels are (P·T)² doubles each; reduce --P or --T)";
    return report_errors({Violation{"T", std::to_string(p.T), rule.str()}.message()});
  }
  if (cmd.dry_run) {
    std::cout << "dry run: " << p.model << " " << p.activation << ", P = " << pr.P() << ", T = " << pr.T
              << ", S = " << pr.samples << ", n = T·P = " << pr.n() << "\n"
              << est.str() << "\n";
    return 0;
  }

  const int threads = p.threads > 0 ? p.threads : omp_get_max_threads();
  omp_set_num_threads(threads);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  SolverOptions opt;
  opt.strategy = p.strategy == "march" ? Strategy::march : Strategy::iterate;
  opt.tol = p.tol;
  opt.noise_fraction = p.noise_fraction;
  opt.max_iter = p.max_iter;
  opt.damping = p.damping;
  opt.stop = &g_stop;

  const bool tty = isatty(fileno(stderr));
  auto progress = [&](long long k, const IterationRecord& r) {
    if (p.quiet) return;
    char line[200];
    std::snprintf(line, sizeof line,
                  "iter %4lld  r_Phi %.2e  r_G %.2e  r_Delta %.2e  noise %.2e  tol %.2e  %.2f s", k, r.r_phi,
                  r.r_g, r.r_delta, r.noise, r.tolerance, r.seconds);
    std::cerr << line << (tty ? "\r" : "\n") << std::flush;
  };
  if (!p.quiet)
    std::cerr << "dmft " << p.model << ": " << est.str() << "; " << threads << " thread(s)\n";
  const Solution sol = solve(*model, pr, opt, progress);
  if (tty && !p.quiet) std::cerr << "\n";
  for (const auto& w : sol.summary.warnings) std::cerr << "dmft: warning: " << w << "\n";

  write_solution(p.output, p, command_line, pr, sol);

  const Summary& s = sol.summary;
  std::cout << "dmft solve: " << p.model << " (" << p.activation << "), P = " << pr.P() << ", T = " << pr.T
            << ", D = " << data.D() << ", eta = " << pr.eta << ", gamma0 = " << pr.gamma0 << ", " << pr.samples
            << " samples, " << p.error_update << " error update. " << to_string(s.reason) << " after "
            << s.history.size() << " iteration(s) (" << s.message << ") in " << s.wall_seconds
            << " s. Loss " << sol.loss[0] << " at t = 0, " << sol.loss[pr.T - 1] << " at t = " << pr.T - 1;
  if (!s.history.empty()) std::cout << "; Monte Carlo noise floor " << s.history.back().noise;
  std::cout << "; smallest source eigenvalue " << s.worst_source.min_eigenvalue << ". Wrote " << p.output << ".\n";
  return exit_code(s.reason);
}

}  // namespace dmft::cli
