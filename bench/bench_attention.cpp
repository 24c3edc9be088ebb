// Benchmark of limit A of the attention block M1 (theory attention.md §3.3, §3.7):
//  1. φ = id, the exact coefficient sweep (no sampling);
//  2. φ = tanh, the sampled residual site (coupled solve + kLimitAReplicas replicas), whose
//     dominant cost is the adjoint responses, about 2·(4/3) T³ (P S)³ n flops
//     (attention_limit_a_sampled_flops), on 1 thread and on all threads.
// Sizes: the §4.4 settings (P = S = 3, D = 4, T = 20) and a larger P = S = 4, T = 24; ρ = 1,
// γ0 = 3, η = 0.25, n samples (default 8000). Prints seconds, the flop model and GFLOP/s.
// Run it on a quiet machine. Usage: bench_attention [--samples n]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dmft/attention_limit_a.hpp"

using namespace dmft;

namespace {

double seconds(const std::chrono::steady_clock::time_point& start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void bench(Index P, Index S, Index T, Index samples) {
  const SequenceData data = make_gaussian_sequences(P, S, 4, 1);
  AttentionM1Options o;
  o.base.T = T;
  o.base.eta = 0.25;
  o.base.gamma0 = 3.0;
  o.rho = 1.0;
  auto start = std::chrono::steady_clock::now();
  attention_limit_a(data, o, AttentionBlock::m1);
  std::printf("P = %ld, S = %ld, T = %ld (T*P*S = %ld): phi = id exact sweep %.3f s\n", long(P), long(S), long(T),
              long(T * P * S), seconds(start));
  o.phi = Activation(ActivationKind::tanh);
  const double flops = attention_limit_a_sampled_flops(T, P, S, samples);
  const int all = omp_get_max_threads();
  for (int threads : {1, all}) {
    omp_set_num_threads(threads);
    start = std::chrono::steady_clock::now();
    attention_limit_a(data, o, AttentionBlock::m1, ErrorUpdate::exact, {samples, 1, false});
    const double s = seconds(start);
    std::printf("  phi = tanh, %ld samples, %d thread(s): %.3f s, adjoint model %.1f GFLOP, %.1f GFLOP/s\n",
                long(samples), threads, s, flops / 1e9, flops / 1e9 / s);
  }
  omp_set_num_threads(all);
}

}  // namespace

int main(int argc, char** argv) {
  Index samples = 8000;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--samples") samples = std::atol(argv[i + 1]);
  bench(3, 3, 20, samples);
  bench(4, 4, 24, samples);
  return 0;
}
