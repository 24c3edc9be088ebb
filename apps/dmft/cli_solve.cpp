#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "cli.hpp"
#include "dmft/attention_model.hpp"
#include "dmft/config_file.hpp"
#include "dmft/depth_limit.hpp"
#include "dmft/depth_limit_file.hpp"
#include "dmft/errors.hpp"
#include "dmft/parameter_text.hpp"
#include "dmft/memory_estimate.hpp"
#include "dmft/problem_data.hpp"
#include "dmft/registry.hpp"
#include "dmft/run_checks.hpp"
#include "dmft/solution_file.hpp"
#include "dmft/solver.hpp"

namespace dmft::cli {

std::vector<std::string> expand_config(const std::vector<std::string>& args) {
  // Only solve and train read config files (`sweep expand --config` names a sweep's base file).
  if (args.empty() || !is_command(args.front())) return args;
  const std::string command = args.front();
  // Find "--config FILE" or "--config=FILE" after the subcommand.
  std::string file;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      file = args[++i];
    } else if (args[i].rfind("--config=", 0) == 0) {
      file = args[i].substr(9);
    } else {
      rest.push_back(args[i]);
    }
  }
  if (file.empty()) return args;
  // The subcommand decides which keys a config file may hold.
  std::vector<std::string> from_file;
  for (const ConfigEntry& e : read_config_file(file)) {
    // Keys under [solve] or [train] are for that subcommand only; they are checked against it.
    const std::string& owner = e.section.empty() ? command : e.section;
    if (!is_parameter(owner, e.key))
      throw InputError("--config", file + " line " + std::to_string(e.line),
                       "unknown key '" + e.key + "' for dmft " + owner + " (keys are its option names without dashes)");
    if (owner != command) continue;
    for (auto& word : option_arguments(owner, e.key, e.value)) from_file.push_back(word);
  }
  // Insert the file's options right after the subcommand, so that the command line wins.
  std::vector<std::string> out{rest.front()};
  out.insert(out.end(), from_file.begin(), from_file.end());
  out.insert(out.end(), rest.begin() + 1, rest.end());
  return out;
}

void add_solve(CLI::App& app, SolveCommand& cmd) {
  CLI::App* s = app.add_subcommand("solve", "solve the DMFT of a model and write an HDF5 file");
  add_command_options(s, cmd.config_file, cmd.params, cmd.dry_run, cmd.given);
}

int run_solve(const SolveCommand& cmd, const std::string& command_line) {
  SolveParameters p = cmd.params;
  std::vector<Violation> bad = solve_violations(p, was_given(cmd.given, "P"), was_given(cmd.given, "D"));
  // Fail before the work, not after it: the output must be writable.
  for (auto& v : check_writable("output", p.output)) bad.push_back(v);
  if (!bad.empty()) return report_errors(bad);
  if (is_attention_model(p.model)) return run_attention_solve(p, dataset_for(p), cmd.dry_run, command_line);
  const std::unique_ptr<Model> model = make_model(p.model);

  const double limit = memory_limit_bytes(p.max_memory_gb);
  if (const auto v = too_large_for_memory(p, limit); !v.empty()) return report_errors(v);
  const Dataset data = dataset_for(p);
  if (const auto v = sequence_data_misuse(p.model, data); !v.empty()) return report_errors(v);
  {  // the data set decides P and D (--data or ds1); recorded as they are
    p.P = data.P();
    p.D = data.D();
  }
  Problem pr = problem_for(p, data);
  // --depth inf: solve on each depth of --depth-grid and extrapolate (theory residual.md 3.2).
  const std::vector<int> grids = p.depth == kInfiniteDepth ? parse_depth_grid(p.depth_grid) : std::vector<int>{};
  if (!grids.empty()) pr.depth = grids.back();  // the finest grid: its cost, and /solution

  const CostEstimate cost = model->cost(pr);
  std::ostringstream est;
  est << "estimate: peak memory " << human_bytes(cost.peak_bytes) << " (limit " << human_bytes(limit) << "); "
      << cost.flops_per_iteration / 1e9 << " GFLOP per outer iteration, dominated by " << cost.dominant_step << " ("
      << cost.dominant_flops / 1e9 << " GFLOP)";
  if (limit > 0 && cost.peak_bytes > limit) {
    std::ostringstream rule;
    rule << "P·T = " << pr.n() << " needs an estimated " << human_bytes(cost.peak_bytes) << " but only "
         << human_bytes(limit) << " is available (the kernels are (P·T)² doubles each; reduce --P or --T)";
    return report_errors(std::vector<Violation>{{"T", std::to_string(p.T), rule.str()}});
  }
  if (cmd.dry_run) {
    std::cout << "dry run: " << p.model << " " << p.activation << ", P = " << pr.P() << ", T = " << pr.T
              << ", S = " << pr.samples << ", n = T·P = " << pr.n() << "\n"
              << est.str() << "\n";
    return 0;
  }

  const int threads = p.threads > 0 ? p.threads : omp_get_max_threads();
  omp_set_num_threads(threads);
  install_stop_handlers();

  SolverOptions opt;
  opt.strategy = p.strategy == "march" ? Strategy::march : Strategy::iterate;
  opt.tol = p.tol;
  opt.noise_fraction = p.noise_fraction;
  opt.max_iter = p.max_iter;
  opt.damping = p.damping;
  opt.continuation_window = p.continuation_window;
  opt.stop = &stop_requested();

  const bool tty = isatty(fileno(stderr));
  auto progress = [&](long long k, const IterationRecord& r) {
    if (p.quiet) return;
    char line[240];
    std::snprintf(line, sizeof line,
                  "iter %4lld  r_Phi %.2e  r_G %.2e  r_AB %.2e  r_Delta %.2e  noise %.2e  tol %.2e  %.2f s", k,
                  r.r_phi, r.r_g, r.r_response, r.r_delta, r.noise, r.tolerance, r.seconds);
    std::cerr << line << (tty ? "\r" : "\n") << std::flush;
  };
  if (!p.quiet)
    std::cerr << "dmft " << p.model << ": " << est.str() << "; " << threads << " thread(s)\n";
  std::vector<Solution> by_depth;
  for (int M : grids) {
    Problem q = pr;
    q.depth = M;
    if (!p.quiet) std::cerr << "dmft: depth grid " << M << " of " << p.depth_grid << "\n";
    by_depth.push_back(solve(*model, q, opt, progress));
    if (tty && !p.quiet) std::cerr << "\n";
    if (by_depth.back().summary.reason != Termination::converged) break;  // reported below
  }
  Solution single;  // the one solve of a finite depth (with --depth inf, /solution is the finest grid's)
  if (grids.empty()) single = solve(*model, pr, opt, progress);
  const Solution& sol = grids.empty() ? single : by_depth.back();
  if (grids.empty() && tty && !p.quiet) std::cerr << "\n";
  for (const auto& w : sol.summary.warnings) std::cerr << "dmft: warning: " << w << "\n";
  if (!grids.empty() && by_depth.size() < grids.size()) {
    std::cerr << "dmft: the solve at depth " << grids[by_depth.size() - 1] << " ended " << to_string(sol.summary.reason)
              << " (" << sol.summary.message << "); no extrapolation, nothing written\n";
    return exit_code(sol.summary.reason);
  }
  std::function<void(H5::Group&)> extra;
  DepthLimit limit_result;
  if (!grids.empty()) {
    std::vector<const Solution*> ptrs;
    for (const auto& s : by_depth) ptrs.push_back(&s);
    limit_result = extrapolate_depth(grids, ptrs);
    extra = [&](H5::Group& root) { write_depth_limit(root, limit_result, pr.T, pr.P()); };
  }
  write_solution(p.output, p, command_line, pr, sol, extra);

  const Summary& s = sol.summary;
  std::cout << "dmft solve: " << p.model << " (" << p.activation << ", depth " << (p.depth == kInfiniteDepth ? std::string("inf") : std::to_string(p.depth)) << "), P = " << pr.P()
            << ", T = " << pr.T << ", D = " << data.D() << ", eta = " << pr.eta << ", gamma0 = " << pr.gamma0 << ", "
            << (model->stochastic() ? std::to_string(pr.samples) + " Monte Carlo samples, " : std::string("no sampling, "))
            << p.error_update << " error update. " << to_string(s.reason) << " after " << s.history.size()
            << " iteration(s) (" << s.message << ") in " << s.wall_seconds << " s. Loss " << sol.loss[0]
            << " at t = 0, " << sol.loss[pr.T - 1] << " at t = " << pr.T - 1;
  if (model->stochastic() && !s.history.empty())
  {
    std::cout << "; Monte Carlo noise floor " << s.history.back().noise;
    std::cout << "; smallest source eigenvalue " << s.worst_source.min_eigenvalue;
    if (s.worst_source.jitter > 0) std::cout << " (Cholesky sources: jitter up to " << s.worst_source.jitter << ")";
  }
  if (!grids.empty()) {
    const Index t = pr.T - 1;
    std::cout << ". Depth limit from L = " << p.depth_grid << ": loss at t = " << t << " is " << limit_result.loss_inf[t]
              << " +- " << limit_result.loss_error[t] << " (Richardson; L = " << grids.back() << ": "
              << limit_result.loss.back()[t] << "); /solution holds the L = " << grids.back() << " solution, /depth_limit the extrapolation";
  }
  std::cout << ". Wrote " << p.output << ".\n";
  return exit_code(s.reason);
}

}  // namespace dmft::cli
