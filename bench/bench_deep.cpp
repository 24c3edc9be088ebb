// Benchmarks of the deep models, each solved to convergence with the solver's defaults:
//  1. deep_mlp, the notebook's depth-3 problem: L = 3, P = 10, T = 100, D = 25, η = 0.1, γ0 = 1,
//     tanh(βh)/β with β = 0.8, S = 1000 samples, `halves` targets (exact error update);
//  2. deep_linear, the notebook's linear problem: L = 5, P = 20, T = 100, D = 40, η = 0.025,
//     γ0 = 1.5 (algebraic; exact error update).
// Prints the wall time to a converged solution, the iterations, the flops of the dominant step
// per full-size iteration (model cost), the flops actually done and the achieved GFLOP/s.
// Usage: bench_deep [--threads N] [--T T] [--samples S] [--only mlp|linear]
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dmft/data.hpp"
#include "dmft/memory_estimate.hpp"
#include "dmft/registry.hpp"
#include "dmft/solver.hpp"

namespace {

void run(const char* title, const std::string& model_name, dmft::Problem p) {
  const auto model = dmft::make_model(model_name);
  const dmft::CostEstimate cost = model->cost(p);
  std::printf("%s\n  %s, L = %d, P = %ld, T = %ld, n = T*P = %ld, S = %ld, threads = %d\n", title, model_name.c_str(),
              p.depth, long(p.P()), long(p.T), long(p.n()), long(p.samples), omp_get_max_threads());
  std::printf("  dominant step: %s, %.3e flops per full-size iteration (all steps: %.3e)\n", cost.dominant_step.c_str(),
              cost.dominant_flops, cost.flops_per_iteration);
  std::fflush(stdout);
  const dmft::Solution s = dmft::solve(*model, p, dmft::SolverOptions{});
  const auto& sum = s.summary;
  std::printf("  status: %s after %zu iterations (continuation windows included)\n", dmft::to_string(sum.reason).c_str(),
              sum.history.size());
  std::printf("  wall time to the converged solution: %.2f s\n", sum.wall_seconds);
  std::printf("  flops done: %.3e, achieved %.1f GFLOP/s\n", sum.flops, sum.flops / sum.sampling_seconds / 1e9);
  std::printf("  final loss: %.6g\n\n", s.loss[p.T - 1]);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  dmft::keep_freed_memory();
  long long T = 100, S = 1000;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_deep: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") omp_set_num_threads(std::atoi(next()));
    else if (a == "--T") T = std::atoll(next());
    else if (a == "--samples") S = std::atoll(next());
    else if (a == "--only") only = next();
    else {
      std::fprintf(stderr, "usage: bench_deep [--threads N] [--T T] [--samples S] [--only mlp|linear]\n");
      return 2;
    }
  }
  if (only.empty() || only == "linear") {
    const dmft::Dataset data = dmft::make_synthetic(20, 40, 1, dmft::SyntheticTarget::halves);
    dmft::Problem p;
    p.data = &data;
    p.activation = dmft::Activation(dmft::ActivationKind::linear);
    p.depth = 5;
    p.T = T;
    p.eta = 0.025;
    p.gamma0 = 1.5;
    run("deep linear network (algebraic)", "deep_linear", p);
  }
  if (only.empty() || only == "mlp") {
    const dmft::Dataset data = dmft::make_synthetic(10, 25, 1, dmft::SyntheticTarget::halves);
    dmft::Problem p;
    p.data = &data;
    p.activation = dmft::Activation(dmft::ActivationKind::tanh, 0.8);
    p.depth = 3;
    p.T = T;
    p.eta = 0.1;
    p.gamma0 = 1.0;
    p.samples = S;
    run("depth-3 tanh network (Monte Carlo, pathwise responses)", "deep_mlp", p);
  }
  return 0;
}
