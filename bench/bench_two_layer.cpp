// Benchmark of the two-layer ReLU model on the notebooks' problem (P = 25, T = 200, D = 40,
// η = 0.075, γ0 = 3, S = 1000 Monte Carlo samples, `halves` targets, exact error update).
//
// Measures, after one warm-up call each:
//  - seconds per outer iteration: wall time of model->sample(problem, state, Δ) from the initial
//    state (single-site sweeps + the two kernel estimates Φ, G + the readout average);
//  - seconds of the dominant step alone: dmft::estimate_kernel on a random n×S matrix
//    (n = T·P), counted twice (Φ and G);
//  - flops (model->cost and 2·kernel_estimate_flops) and the achieved GFLOP/s of both;
//  - optionally (--full) the wall time and iteration count of a whole dmft::solve.
// Usage: bench_two_layer [--threads N] [--samples S] [--T T] [--P P] [--reps R] [--max-iter K] [--full]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dmft/data.hpp"
#include "dmft/kernel_estimator.hpp"
#include "dmft/memory_estimate.hpp"
#include "dmft/registry.hpp"
#include "dmft/solver.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// Mean seconds of `reps` calls of f after one warm-up call.
template <class F>
double time_mean(int reps, F&& f) {
  f();
  const auto t0 = Clock::now();
  for (int r = 0; r < reps; ++r) f();
  return since(t0) / double(reps);
}

[[noreturn]] void usage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s [--threads N] [--samples S] [--T T] [--P P] [--reps R] [--max-iter K] [--full]\n", prog);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  dmft::keep_freed_memory();  // as the dmft program does
  long long P = 25, T = 200, S = 1000, max_iter = 200;
  int threads = 0, reps = 3;
  bool full = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> long long {
      if (i + 1 >= argc) usage(argv[0]);
      char* end = nullptr;
      const long long v = std::strtoll(argv[++i], &end, 10);
      if (*end != '\0' || v < 1) usage(argv[0]);
      return v;
    };
    if (a == "--threads") threads = int(value());
    else if (a == "--samples") S = value();
    else if (a == "--T") T = value();
    else if (a == "--P") P = value();
    else if (a == "--reps") reps = int(value());
    else if (a == "--max-iter") max_iter = value();
    else if (a == "--full") full = true;
    else usage(argv[0]);
  }
  if (threads > 0) omp_set_num_threads(threads);

  const dmft::Dataset data = dmft::make_synthetic(P, 40, 1, dmft::SyntheticTarget::halves);
  auto model = dmft::make_model("two_layer");
  dmft::Problem problem;
  problem.data = &data;
  problem.activation = dmft::Activation(dmft::ActivationKind::relu);
  problem.depth = 1;
  problem.sigma = 1.0;
  problem.T = T;
  problem.eta = 0.075;
  problem.gamma0 = 3.0;
  problem.error_update = dmft::ErrorUpdate::exact;
  problem.samples = S;
  problem.seed = 1;
  const double n = double(problem.n());

  std::printf("problem: two_layer relu P=%lld T=%lld D=40 eta=0.075 gamma0=3 samples=%lld (n = T*P = %.0f)\n",
              P, T, S, n);
  std::printf("threads: %d\n", omp_get_max_threads());
  std::printf("timed calls: %d after 1 warm-up\n", reps);

  // One outer iteration: model->sample from the initial state.
  const dmft::OrderParameters state = dmft::initial_state(*model, problem);
  const dmft::RowMatrix delta = state.Delta;
  const double t_iter = time_mean(reps, [&] {
    dmft::SiteAverages est = model->sample(problem, state, delta);
    if (!est.output.allFinite()) std::fprintf(stderr, "warning: non-finite output\n");
  });

  // The dominant step alone: one kernel estimate on a random n×S matrix (×2 for Φ and G).
  std::srand(1);
  const dmft::Matrix F = dmft::Matrix::Random(problem.n(), S);
  const double t_kernel_one = time_mean(reps, [&] {
    dmft::KernelEstimate k = dmft::estimate_kernel(F);
    if (!(k.relative_noise >= 0)) std::fprintf(stderr, "warning: bad noise estimate\n");
  });
  const double t_kernel = 2.0 * t_kernel_one;

  const dmft::CostEstimate cost = model->cost(problem);
  const double kernel_flops = 2.0 * dmft::kernel_estimate_flops(n, double(S));

  std::printf("seconds per outer iteration: %.3f\n", t_iter);
  std::printf("seconds of kernel estimation (Phi and G, 2 x estimate_kernel): %.3f (%.1f%% of an iteration)\n",
              t_kernel, 100.0 * t_kernel / t_iter);
  std::printf("seconds of one estimate_kernel: %.3f\n", t_kernel_one);
  std::printf("seconds of the rest of an iteration (sweeps, readout, copies): %.3f\n", t_iter - t_kernel);
  std::printf("flops of kernel estimation (2 x kernel_estimate_flops): %.4g\n", kernel_flops);
  std::printf("flops per iteration (model cost): %.4g\n", cost.flops_per_iteration);
  std::printf("GFLOP/s of kernel estimation: %.2f\n", kernel_flops / t_kernel * 1e-9);
  std::printf("GFLOP/s of a whole iteration: %.2f\n", cost.flops_per_iteration / t_iter * 1e-9);
  std::printf("GFLOP/s per thread (kernel estimation): %.2f\n",
              kernel_flops / t_kernel * 1e-9 / double(omp_get_max_threads()));

  if (full) {
    dmft::SolverOptions options;
    options.max_iter = max_iter;
    const auto t0 = Clock::now();
    const dmft::Solution sol = dmft::solve(*model, problem, options);
    const double wall = since(t0);
    std::printf("full solve: %s\n", sol.summary.brief().c_str());
    std::printf("full solve seconds: %.2f\n", wall);
    std::printf("full solve iterations: %zu\n", sol.summary.history.size());
    std::printf("full solve sampling seconds: %.2f\n", sol.summary.sampling_seconds);
  }
  return 0;
}
