// dmft train: finite networks of several widths and seeds in the DMFT's parameterisation.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli.hpp"
#include "dmft/attention_model.hpp"
#include "dmft/errors.hpp"
#include "dmft/finite_width_file.hpp"
#include "dmft/memory_estimate.hpp"
#include "dmft/problem_data.hpp"
#include "dmft/parameter_text.hpp"
#include "dmft/run_checks.hpp"

namespace dmft::cli {
namespace {

/// --like FILE: the problem options not given explicitly come from the solution's /parameters.
void take_problem_from(TrainParameters& p, const std::map<std::string, std::string>& stored,
                       const std::vector<std::string>& given) {
  ProblemParameters names;
  for_each_problem_parameter(names, [&](const ParameterInfo& info, auto&) {
    if (was_given(given, info.name)) return;
    const auto it = stored.find(info.name);
    if (it == stored.end()) return;
    if (const std::string error = set_parameter(p, info.name, it->second); !error.empty())
      throw InputError("like", it->second, "the stored " + std::string(info.name) + " " + error);
  });
}

void print_coordinate_check(const TrainParameters& p, const std::vector<WidthRuns>& widths) {
  // Seed means of mean|h^l(t)| and mean|h^l(t) − h^l(0)|, and their spread across widths.
  const int L = p.depth;
  const Index T = p.T;
  std::cout << "coordinate check (" << (p.readout == "mean-field" ? "mean-field readout 1/(gamma0 N)" : "ntk readout 1/(gamma0 sqrt N): deliberately wrong")
            << "), seed means over " << p.seeds << " seed(s), at t = " << T - 1 << ":\n";
  std::cout << "       N";
  for (int l = 1; l <= L; ++l) std::cout << "   mean|h^" << l << "|  mean|dh^" << l << "|";
  std::cout << "\n";
  std::vector<double> lo(std::size_t(L), 1e300), hi(std::size_t(L), 0);
  for (const auto& w : widths) {
    char line[64];
    std::snprintf(line, sizeof line, "%8lld", w.width);
    std::cout << line;
    std::vector<const RowMatrix*> hs, dhs;
    for (const auto& r : w.runs) {
      hs.push_back(&r.mean_abs_h);
      dhs.push_back(&r.mean_abs_dh);
    }
    const RowMatrix h_mean = seed_statistics(hs).mean, dh_mean = seed_statistics(dhs).mean;
    for (int l = 0; l < L; ++l) {
      const double h = h_mean(T - 1, l), dh = dh_mean(T - 1, l);
      lo[std::size_t(l)] = std::min(lo[std::size_t(l)], h);
      hi[std::size_t(l)] = std::max(hi[std::size_t(l)], h);
      std::snprintf(line, sizeof line, "  %10.4g  %10.4g", h, dh);
      std::cout << line;
    }
    std::cout << "\n";
  }
  std::cout << "max/min over widths of mean|h^l| at t = " << T - 1 << ":";
  for (int l = 0; l < L; ++l) std::cout << " layer " << l + 1 << ": " << hi[std::size_t(l)] / lo[std::size_t(l)];
  std::cout << " (flat in N means a width-independent parameterisation; 1.1 = 10%)\n";
}

}  // namespace

void add_train(CLI::App& app, TrainCommand& cmd) {
  CLI::App* s = app.add_subcommand("train", "train finite networks of several widths and seeds in the DMFT's "
                                            "parameterisation and record their loss, NTK and kernels");
  add_command_options(s, cmd.config_file, cmd.params, cmd.dry_run, cmd.given);
}

int run_train(const TrainCommand& cmd, const std::string& command_line) {
  TrainParameters p = cmd.params;
  std::vector<Violation> bad;
  Dataset data;
  bool have_data = false;
  if (!p.like.empty()) {
    try {
      const SolutionResults like = read_solution(p.like);
      take_problem_from(p, like.parameters, cmd.given);
      // Attention: a limit-B solution is approached by more heads at its head dimension.
      if (is_attention_model(p.model) && !was_given(cmd.given, "width-axis") && like.parameters.count("limit") &&
          like.parameters.at("limit") == "b")
        p.width_axis = "heads";
      data = like.data;  // the solution's own data, whatever produced them
      have_data = true;
      p.data.clear();
      p.P = data.P();
      p.D = data.D();
    } catch (const InputError& e) {
      return report_errors(std::vector<Violation>{{"like", p.like, e.rule()}});
    }
  }
  // With --like the solution's data fix P and D, whatever was given.
  for (auto& v : train_violations(p, p.like.empty() && was_given(cmd.given, "P"), p.like.empty() && was_given(cmd.given, "D")))
    bad.push_back(v);
  for (auto& v : check_writable("output", p.output)) bad.push_back(v);
  if (!bad.empty()) return report_errors(bad);
  const double limit = memory_limit_bytes(p.max_memory_gb);
  if (const auto v = too_large_for_memory(p, limit); !v.empty() && !is_attention_model(p.model)) return report_errors(v);
  if (!have_data) data = dataset_for(p);
  p.P = data.P();  // the data set decides P and D (--data, ds1 or --like); recorded as they are
  p.D = data.D();
  if (data.sequences()) p.S = data.S;
  if (is_attention_model(p.model)) return run_attention_train(p, data, cmd.dry_run, command_line);
  if (const auto v = sequence_data_misuse(p.model, data); !v.empty()) return report_errors(v);
  const std::vector<long long> widths = parse_widths(p.widths);
  const Readout readout = p.readout == "ntk" ? Readout::ntk : Readout::mean_field;
  const bool kernels = !p.coord_check;
  const int threads = p.threads > 0 ? p.threads : omp_get_max_threads();

  // Memory: the networks in flight (one per thread) plus every stored result.
  const Index n = p.T * data.P();
  // Every seed's kernels are held until the file is written (and then mean and std).
  const double per_seed_kernels = 2.0 * p.depth * double(n) * double(n) * 8.0;
  double peak = 0, flops = 0;
  for (long long N : widths) {
    const NetworkSpec spec = network_spec(p, N, readout);
    peak = std::max(peak, double(std::min<long long>(threads, p.seeds)) * network_run_bytes(spec, data.P(), data.D(), p.T, kernels));
    flops += double(p.seeds) * network_run_flops(spec, data.P(), data.D(), p.T, kernels);
  }
  peak += kernels ? double(widths.size()) * double(p.seeds) * per_seed_kernels : 0.0;
  std::ostringstream est;
  est << "estimate: peak memory " << human_bytes(peak) << " (limit " << human_bytes(limit) << "); " << flops / 1e9
      << " GFLOP in all (" << widths.size() << " width(s) x " << p.seeds << " seed(s), T = " << p.T << ", P = " << data.P() << ")";
  if (limit > 0 && peak > limit)
    return report_errors(std::vector<Violation>{{"widths", p.widths,
                                    "needs an estimated " + human_bytes(peak) + " but only " + human_bytes(limit) +
                                        " is available (N x N weights and (T*P)^2 kernels per layer and seed; reduce "
                                        "--widths, --seeds or --T, or use --seed-kernels mean)"}});
  if (cmd.dry_run) {
    std::cout << "dry run: train " << p.model << " " << p.activation << ", depth " << p.depth << ", widths " << p.widths
              << "\n" << est.str() << "\n";
    return 0;
  }

  omp_set_num_threads(threads);
  install_stop_handlers();
  if (!p.quiet) std::cerr << "dmft train " << p.model << ": " << est.str() << "; " << threads << " thread(s)\n";
  TrainOptions opt;
  opt.T = p.T;
  opt.kernels = kernels;
  opt.stop = &stop_requested();
  std::vector<WidthRuns> results;
  bool interrupted = false;
  for (long long N : widths) {
    const NetworkSpec spec = network_spec(p, N, readout);
    const auto start = std::chrono::steady_clock::now();
    auto progress = [&](Index done) {
      if (p.quiet) return;
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char line[160];
      std::snprintf(line, sizeof line, "N = %lld: %lld/%lld networks, %.1f s", N, (long long)done, p.seeds, sec);
      std::cerr << line << "\n";
    };
    try {
      results.push_back({N, train_seeds(spec, data, std::uint64_t(p.seed), p.seeds, opt, progress)});
    } catch (const Interrupted&) {
      interrupted = true;
      break;
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const WidthRuns& w = results.back();
    double final_loss = 0;
    for (const auto& r : w.runs) final_loss += r.loss[p.T - 1] / double(w.runs.size());
    if (!p.quiet) {
      char line[200];
      std::snprintf(line, sizeof line, "N = %lld done in %.2f s (%.1f GFLOP/s); seed-mean loss %.6g at t = 0, %.6g at t = %lld",
                    N, sec, double(p.seeds) * network_run_flops(spec, data.P(), data.D(), p.T, kernels) / sec / 1e9,
                    w.runs[0].loss[0], final_loss, p.T - 1);
      std::cerr << line << "\n";
    }
  }
  if (!keep_finished_widths(results, interrupted, p.widths)) return 130;
  write_finite_width(p.output, p, command_line, data, results);
  if (p.coord_check) print_coordinate_check(p, results);
  std::cout << "dmft train: " << p.model << " (" << p.activation << ", depth " << p.depth << ", "
            << (p.responses == "gia" ? "decoupled backward" : "standard") << " network), widths " << p.widths << ", "
            << p.seeds << " seed(s) each, T = " << p.T << ". Wrote " << p.output << ".\n";
  return interrupted ? 130 : 0;
}

}  // namespace dmft::cli
