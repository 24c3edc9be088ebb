// dmft solve / dmft train for the attention model (theory attention.md): the memory guard and
// --dry-run, progress, the output files, the one-line summaries.
#include <omp.h>

#include <chrono>
#include <exception>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli.hpp"
#include "dmft/attention_file.hpp"
#include "dmft/attention_model.hpp"
#include "dmft/finite_width_file.hpp"

namespace dmft::cli {
namespace {

int refuse_memory(const std::string& option, const std::string& value, double need, double limit, const std::string& what) {
  return report_errors(std::vector<Violation>{
      {option, value, "needs an estimated " + human_bytes(need) + " but only " + human_bytes(limit) + " is available (" + what + ")"}});
}

}  // namespace

std::vector<Violation> sequence_data_misuse(const std::string& model, const Dataset& data) {
  if (is_attention_model(model) && !data.sequences())
    return {{"data", data.source, "the attention model needs token sequences: X of shape P x S x D (or --dataset sequences)"}};
  if (!is_attention_model(model) && data.sequences())
    return {{"data", data.source, "holds token sequences (X of shape P x S x D), which only --model attention reads; model " +
                                      model + " needs one input vector per example (X of shape P x D)"}};
  return {};
}

int run_attention_solve(SolveParameters p, const Dataset& data, bool dry_run, const std::string& command_line) {
  if (const auto v = sequence_data_misuse(p.model, data); !v.empty()) return report_errors(v);
  p.P = data.P();
  p.D = data.D();
  p.S = data.S;
  const double limit = memory_limit_bytes(p.max_memory_gb);
  const CostEstimate cost = attention_solve_cost(p, data.P(), data.S, data.D());
  const Index n = p.T * data.P() * data.S;
  std::ostringstream est;
  est << "estimate: peak memory " << human_bytes(cost.peak_bytes) << " (limit " << human_bytes(limit) << "); "
      << cost.flops_per_iteration / 1e9 << " GFLOP, dominated by " << cost.dominant_step;
  if (limit > 0 && cost.peak_bytes > limit)
    return refuse_memory("T", std::to_string(p.T), cost.peak_bytes, limit,
                         "the attention arrays carry token indices, (T*P*S)^2 = " + std::to_string(n) + "^2 doubles each; reduce --T, --P or --S");
  if (dry_run) {
    std::cout << "dry run: attention " << p.block << ", limit " << p.limit << ", P = " << data.P() << ", S = " << data.S
              << ", D = " << data.D() << ", T = " << p.T << ", n = T*P*S = " << n
              << (p.limit == "b" ? ", " + std::to_string(p.mc_samples) + " Monte Carlo heads of N = " + std::to_string(p.head_dim)
                  : p.block == "m1" && p.activation != "linear" ? ", " + std::to_string(p.mc_samples) + " Monte Carlo residual samples"
                                                                : std::string())
              << "\n" << est.str() << "\n";
    return 0;
  }
  omp_set_num_threads(p.threads > 0 ? p.threads : omp_get_max_threads());
  if (!p.quiet) std::cerr << "dmft attention: " << est.str() << "\n";
  const AttentionSolution sol = solve_attention(p, data);
  for (const auto& w : sol.warnings) std::cerr << "dmft: warning: " << w << "\n";
  write_attention_solution(p.output, p, command_line, data, sol);
  const AttentionM0Trajectory& tr = sol.trajectory;
  std::cout << "dmft solve: attention " << p.block << ", limit " << p.limit << ", P = " << tr.P << ", S = " << tr.S
            << ", D = " << data.D() << ", T = " << tr.T << ", eta = " << p.eta << ", gamma0 = " << p.gamma0 << ", alpha_A = " << p.alpha_a
            << ", " << p.error_update << " error update: " << sol.method << ". Loss " << tr.loss[0] << " at t = 0, "
            << tr.loss[tr.T - 1] << " at t = " << tr.T - 1;
  if (tr.Delta_se.size()) std::cout << " (Monte Carlo s.e. of Delta up to " << tr.Delta_se.maxCoeff() << ")";
  if (sol.oracle_delta >= 0)
    std::cout << "; built-in oracle (3.4 recursion): max |Delta - Delta_rec| = " << sol.oracle_delta << ", logits "
              << sol.oracle_logits;
  std::cout << "; " << sol.seconds << " s. Wrote " << p.output << ".\n";
  return 0;
}

int run_attention_train(TrainParameters p, const Dataset& data, bool dry_run, const std::string& command_line) {
  if (const auto v = sequence_data_misuse(p.model, data); !v.empty()) return report_errors(v);
  const std::vector<long long> widths = parse_widths(p.widths);
  const bool heads_axis = p.width_axis == "heads";
  const bool kernels = p.block == "m1";  // the finite M1 network records K(t) and its two-time arrays
  const int threads = p.threads > 0 ? p.threads : omp_get_max_threads();
  const double limit = memory_limit_bytes(p.max_memory_gb);
  double peak = 0;
  for (long long w : widths) {
    const Index N = heads_axis ? p.head_dim : w, H = heads_axis ? w : p.heads;
    peak = std::max(peak, double(std::min<long long>(threads, p.seeds)) *
                              attention_network_bytes(p, data.P(), data.S, data.D(), N, H, kernels));
  }
  const double n = double(p.T * data.P() * data.S);
  // Kept until the file is written: per seed the two-time arrays (m1) and, with --seed-kernels keep,
  // every head's logits.
  const double heads_max = heads_axis ? double(widths.back()) : double(p.heads);
  peak += double(widths.size()) * double(p.seeds) *
          ((kernels ? 3.0 * n * n * 8.0 : 0.0) + (p.seed_kernels == "keep" ? 8.0 * n * double(data.S) * heads_max : 0.0));
  std::ostringstream est;
  est << "estimate: peak memory " << human_bytes(peak) << " (limit " << human_bytes(limit) << "); " << widths.size()
      << " " << (heads_axis ? "head count(s)" : "head dimension(s)") << " x " << p.seeds << " seed(s), T = " << p.T;
  if (limit > 0 && peak > limit)
    return refuse_memory("widths", p.widths, peak, limit, "weights of M = N*H and (T*P*S)^2 arrays per seed; reduce --widths, --seeds or --T");
  if (dry_run) {
    std::cout << "dry run: train attention " << p.block << ", " << (heads_axis ? "heads H = " : "head dimensions N = ") << p.widths
              << (heads_axis ? " at N = " + std::to_string(p.head_dim) : " at H = " + std::to_string(p.heads)) << "\n" << est.str() << "\n";
    return 0;
  }
  omp_set_num_threads(threads);
  install_stop_handlers();
  if (!p.quiet) std::cerr << "dmft train attention: " << est.str() << "; " << threads << " thread(s)\n";
  std::vector<WidthRuns> results;
  bool interrupted = false;
  for (long long w : widths) {
    const Index N = heads_axis ? p.head_dim : w, H = heads_axis ? w : p.heads;
    const auto start = std::chrono::steady_clock::now();
    WidthRuns runs{w, std::vector<NetworkRun>(std::size_t(p.seeds))};
    // One network per thread; each is independent of the thread count. An exception inside the
    // parallel loop would terminate the program: keep the first and rethrow it after the loop.
    std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 1)
    for (long long k = 0; k < p.seeds; ++k) {
      if (stop_requested()) continue;
      try {
        runs.runs[std::size_t(k)] = attention_network_run(
            train_attention_network(p, data, N, H, std::uint64_t(p.seed + k), kernels), p.seed_kernels == "keep");
      } catch (...) {
#pragma omp critical(attention_train_failure)
        if (!failure) failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
    if (stop_requested()) {
      interrupted = true;
      break;
    }
    results.push_back(std::move(runs));
    if (!p.quiet) {
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double final_loss = 0;
      for (const auto& r : results.back().runs) final_loss += r.loss[p.T - 1] / double(p.seeds);
      char line[200];
      std::snprintf(line, sizeof line, "N = %lld, H = %lld: %lld networks in %.2f s; seed-mean loss %.6g at t = %lld",
                    (long long)N, (long long)H, p.seeds, sec, final_loss, p.T - 1);
      std::cerr << line << "\n";
    }
  }
  if (!keep_finished_widths(results, interrupted, p.widths)) return 130;
  write_finite_width(p.output, p, command_line, data, results);
  std::cout << "dmft train: attention " << p.block << ", " << (heads_axis ? "heads H = " : "head dimensions N = ") << p.widths
            << (heads_axis ? " at N = " + std::to_string(p.head_dim) : " at H = " + std::to_string(p.heads)) << ", " << p.seeds
            << " seed(s) each, T = " << p.T << ". Wrote " << p.output << ".\n";
  return interrupted ? 130 : 0;
}

}  // namespace dmft::cli
