// Benchmark of the finite-width network (dmft train): the theory doc's T18/T19 network, deep
// linear L = 3, P = 10, D = 20, N = 4000, T = 20, and a depth-3 tanh network on DS1 (P = 8,
// N = 4096, T = 16). Prints the time per training step, the flop count of one step (forward,
// backward and update: ≈ 6·(L−1)·N²·P for the hidden layers), the achieved GFLOP/s, and the
// seeds-per-second throughput of train_seeds on all threads.
// Usage: bench_network [--threads N] [--seeds K]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dmft/finite_width.hpp"
#include "dmft/memory_estimate.hpp"

namespace {

void run(const char* title, const dmft::NetworkSpec& spec, const dmft::Dataset& data, dmft::Index T, long seeds) {
  const double step_flops = dmft::network_step_flops(spec, data.P(), data.D());
  std::printf("%s\n  N = %ld, L = %d, P = %ld, D = %ld, T = %ld, threads = %d\n", title, long(spec.width), spec.depth,
              long(data.P()), long(data.D()), long(T), omp_get_max_threads());
  std::printf("  flops per step: %.3e (weights streamed: %.0f MB per step)\n", step_flops,
              3.0 * (spec.depth - 1) * double(spec.width) * double(spec.width) * 8 / 1e6);
  // One network, one thread: the initialisation (Gaussian weights), then the time per step.
  auto t0 = std::chrono::steady_clock::now();
  dmft::MlpNetwork net(spec, data, 1);
  const double init = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  initialisation (%.3g Gaussian numbers): %.3f s\n",
              double(spec.depth - 1) * double(spec.width) * double(spec.width), init);
  t0 = std::chrono::steady_clock::now();
  for (dmft::Index t = 0; t < T; ++t) {
    const dmft::NetworkState s = net.evaluate();
    net.step(s, data.y - s.f);
  }
  const double one = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  one network, one thread: %.3f s per step, %.1f GFLOP/s\n", one / double(T), step_flops * double(T) / one / 1e9);
  // Seeds in parallel, with the kernels measured as dmft train does.
  dmft::TrainOptions opt;
  opt.T = T;
  t0 = std::chrono::steady_clock::now();
  dmft::train_seeds(spec, data, 1, seeds, opt);
  const double all = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double flops = double(seeds) * dmft::network_run_flops(spec, data.P(), data.D(), T, true);
  std::printf("  %ld seeds on all threads (with kernels): %.2f s, %.2f networks/s, %.1f GFLOP/s\n\n", seeds, all,
              double(seeds) / all, flops / all / 1e9);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  dmft::keep_freed_memory();
  long seeds = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) omp_set_num_threads(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--seeds")) seeds = std::atol(argv[i + 1]);
  }
  {
    const dmft::Dataset data = dmft::make_synthetic(10, 20, 1, dmft::SyntheticTarget::halves);
    dmft::NetworkSpec spec;
    spec.depth = 3;
    spec.width = 4000;
    spec.activation = dmft::Activation::from_name("linear");
    spec.eta = 0.5;
    run("deep linear network (theory T19)", spec, data, 20, seeds);
  }
  {
    const dmft::Dataset data = dmft::make_ds1();
    dmft::NetworkSpec spec;
    spec.depth = 3;
    spec.width = 4096;
    spec.activation = dmft::Activation::from_name("tanh");
    spec.eta = 0.25;
    run("depth-3 tanh network on DS1", spec, data, 16, seeds);
  }
  return 0;
}
