// Benchmark of one outer iteration of the residual models' DMFT (theory residual.md §8):
//  1. resnet (Monte Carlo, R2 random-probe responses): tanh, synthetic data P = 10, D = 20,
//     T = 20, L = 16, β0 = 1, γ0 = 1, η = 0.2, S = 4000 samples; model.sample at the initial
//     state (static kernels, lazy Δ), warm-up once, then the median of --repeats calls;
//  2. the split of that iteration, replayed phase by phase through the public sweep API with
//     the sampler's batching (32 batches, tasks of 64 columns): sources, primal + 2 tangent
//     sweeps, kernel/response products;
//  3. resnet_linear (exact, φ = id) at the same L, T, P: one call;
//  4. resnet with R1 exact tangents, only at a tiny size (O(L² T³ P³) per sample), beside R2.
// Prints seconds per iteration, the model's flops (resnet_iteration_flops), GFLOP/s, threads,
// CPU/wall time (how many threads were busy), the peak memory estimate of model.cost beside the
// process's peak RSS so far. Run it on a quiet machine: other jobs on the cores skew every figure.
// Usage: bench_resnet [--samples S] [--threads N] [--repeats R]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dmft/data.hpp"
#include "dmft/kernel_estimator.hpp"
#include "dmft/memory_estimate.hpp"
#include "dmft/registry.hpp"
#include "dmft/residual_sampler.hpp"
#include "dmft/residual_sweep.hpp"
#include "dmft/rng.hpp"
#include "dmft/solver.hpp"

namespace {

using dmft::Index;
using dmft::Matrix;
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
/// Process CPU seconds (all threads; idle OpenMP threads spinning at a barrier count too).
double cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

dmft::Problem problem(const dmft::Dataset& data, bool linear, int L, Index T, Index S) {
  dmft::Problem p;
  p.data = &data;
  p.activation = dmft::Activation(linear ? dmft::ActivationKind::linear : dmft::ActivationKind::tanh);
  p.depth = L;
  p.T = T;
  p.beta0 = 1.0;
  p.gamma0 = 1.0;
  p.eta = 0.2;
  p.samples = S;
  return p;
}

/// Times `calls` evaluations of model.sample at the initial state (after `warmup` untimed
/// ones) and prints the median with the model's flops and cost estimate.
double time_iteration(const char* title, const std::string& name, const dmft::Problem& p, int warmup, int calls) {
  const auto model = dmft::make_model(name);
  const dmft::OrderParameters state = dmft::initial_state(*model, p);
  const dmft::CostEstimate cost = model->cost(p);
  std::printf("%s\n  %s, L = %d, P = %ld, T = %ld, n = T*P = %ld, S = %ld%s, threads = %d\n", title, name.c_str(),
              p.depth, long(p.P()), long(p.T), long(p.n()), long(p.samples), model->stochastic() ? "" : " (unused)",
              omp_get_max_threads());
  std::fflush(stdout);
  for (int i = 0; i < warmup; ++i) (void)model->sample(p, state, state.Delta);
  std::vector<double> secs;
  double flops = 0, cpu = 0;
  for (int i = 0; i < calls; ++i) {
    const auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    flops = model->sample(p, state, state.Delta).flops;
    cpu += cpu_seconds() - c0;
    secs.push_back(since(t0));
  }
  double wall = 0;
  for (double x : secs) wall += x;
  std::sort(secs.begin(), secs.end());
  const double med = secs[secs.size() / 2];
  std::printf("  seconds per outer iteration: %.3f (median of %d; min %.3f, max %.3f; %d warm-up)\n", med, calls,
              secs.front(), secs.back(), warmup);
  std::printf("  flops per iteration (model): %.3e, achieved %.2f GFLOP/s\n", flops, flops / med / 1e9);
  std::printf("  CPU time / wall time over the timed calls: %.2f (threads busy on average)\n", cpu / wall);
  std::printf("  peak memory estimate (model.cost): %.1f MB; process peak RSS so far: %.1f MB\n",
              cost.peak_bytes / 1e6, dmft::peak_resident_bytes() / 1e6);
  std::fflush(stdout);
  return med;
}

/// The phases of sample_resnet (R2) replayed with the public API: same batches and tasks, the
/// same random streams' kind of work, each phase a parallel loop timed on its own (wall).
void split_resnet(const dmft::Problem& p) {
  const auto model = dmft::make_model("resnet");
  const dmft::OrderParameters st = dmft::initial_state(*model, p);
  const int L = p.depth, B = L - 1, batches = dmft::kStandardErrorBatches;
  const Index n = p.n(), P = p.P(), S = p.samples, cols = 64;
  double wall[4] = {0, 0, 0, 0}, cpu[4] = {0, 0, 0, 0};  // setup, sources, sweeps, products
  auto t0 = Clock::now();
  double c0 = cpu_seconds();
  auto stop = [&](int k) { wall[k] += since(t0); cpu[k] += cpu_seconds() - c0; };
  const dmft::ResidualCouplings cp(p, st, st.Delta);  // memory kernels F, Bk
  const dmft::GaussianSource rx = dmft::GaussianSource::symmetric_root(p.data->Kx);
  std::vector<dmft::GaussianSource> ru, rr;  // 2(L−1) causal roots of n×n covariances
  for (int b = 0; b < B; ++b) {
    const Matrix& Phi = st.layers[std::size_t(b)].Phi;
    const Matrix& G = st.layers[std::size_t(b + 1)].G;
    ru.push_back(dmft::GaussianSource::jittered_cholesky(Phi, 1e-10, Phi.topLeftCorner(P, P).diagonal().mean()));
    rr.push_back(dmft::GaussianSource::jittered_cholesky(G, 1e-10, G.topLeftCorner(P, P).diagonal().mean()));
  }
  stop(0);
  std::vector<Matrix> K(std::size_t(2 * L + 2 * B), Matrix::Zero(n, n));
  for (int batch = 0; batch < batches; ++batch) {
    const Index first = S * batch / batches, m = S * (batch + 1) / batches - first, tasks = (m + cols - 1) / cols;
    std::vector<dmft::ResidualSources> src(static_cast<std::size_t>(tasks));
    std::vector<std::vector<Matrix>> wr(static_cast<std::size_t>(tasks)), wu = wr;
    t0 = Clock::now();
    c0 = cpu_seconds();
#pragma omp parallel for schedule(dynamic, 1)
    for (Index task = 0; task < tasks; ++task) {  // sources: normals, ±1 probes, root draws
      const Index mm = std::min(cols, m - task * cols);
      dmft::RandomStream rs(p.seed, dmft::StreamPurpose::source, 0, static_cast<unsigned long long>(first + task * cols));
      auto normals = [&](Index r) { Matrix z(r, mm); for (Index k = 0; k < z.size(); ++k) z.data()[k] = rs.normal(); return z; };
      auto signs = [&]() { Matrix z(n, mm); for (Index k = 0; k < z.size(); ++k) z.data()[k] = (rs.next_u64() >> 63) ? 1.0 : -1.0; return z; };
      auto& s = src[std::size_t(task)];
      s.u1 = rx.draw(normals(P));
      s.xi = normals(1).row(0);
      for (int b = 0; b < B; ++b) {
        s.u.push_back(ru[std::size_t(b)].draw(normals(n)));
        s.r.push_back(rr[std::size_t(b)].draw(normals(n)));
        wr[std::size_t(task)].push_back(signs());
        wu[std::size_t(task)].push_back(signs());
      }
    }
    stop(1);
    std::vector<Matrix> F(K.size(), Matrix(n, m)), W(std::size_t(2 * B), Matrix(n, m));  // product factors
    t0 = Clock::now();
    c0 = cpu_seconds();
#pragma omp parallel for schedule(dynamic, 1)
    for (Index task = 0; task < tasks; ++task) {  // primal sweep + 2 tangent sweeps
      const Index col0 = task * cols, mm = std::min(cols, m - col0);
      const auto ti = std::size_t(task);
      dmft::ResidualPaths paths;
      dmft::ResidualTangents tr, tu;
      const std::vector<Matrix> none(static_cast<std::size_t>(B));
      dmft::residual_sweep(p.activation, cp, src[ti], paths);
      dmft::residual_tangent_sweep(p.activation, cp, &paths, wr[ti], none, mm, tr);
      dmft::residual_tangent_sweep(p.activation, cp, &paths, none, wu[ti], mm, tu);
      for (int l = 0; l < L; ++l) {
        F[std::size_t(l)].middleCols(col0, mm) = paths.phi[std::size_t(l)];
        F[std::size_t(L + l)].middleCols(col0, mm) = paths.g[std::size_t(l)];
      }
      for (int b = 0; b < B; ++b) {
        const auto bi = std::size_t(b);
        F[std::size_t(2 * L + b)].middleCols(col0, mm) = paths.dphi[bi].cwiseProduct(tr.dh[bi]);
        F[std::size_t(2 * L + B + b)].middleCols(col0, mm) = tu.dg[bi + 1];
        W[bi].middleCols(col0, mm) = wr[ti][bi];
        W[std::size_t(B + b)].middleCols(col0, mm) = wu[ti][bi];
      }
    }
    stop(2);
    t0 = Clock::now();
    c0 = cpu_seconds();
#pragma omp parallel for schedule(dynamic, 1)
    for (int j = 0; j < 2 * L + 2 * B; ++j) {  // kernels Φ, G (rank updates), responses A, B (GEMMs)
      const auto jj = std::size_t(j);
      if (j < 2 * L) K[jj].selfadjointView<Eigen::Lower>().rankUpdate(F[jj], 1.0 / double(S));
      else K[jj].noalias() += F[jj] * W[std::size_t(j - 2 * L)].transpose();
    }
    stop(3);
  }
  // Flops as resnet_iteration_flops counts them (the symmetric rank updates do half of 2L n² S).
  const double nn = double(n) * double(n) * double(S);
  const double flops[4] = {0, 4.0 * B * nn, 3.0 * double(S) * dmft::residual_sweep_flops(L, p.T, P), (2.0 * L + 4.0 * B) * nn};
  const char* what[4] = {"couplings + 2(L-1) source roots    ", "sources (normals, probes, draws)    ",
                         "primal + 2 tangent sweeps           ", "kernel + response products          "};
  std::printf("split of one resnet iteration (replayed phase by phase, %d batches of ~%ld columns, tasks of %ld):\n",
              batches, long(S / batches), long(cols));
  for (int k = 0; k < 4; ++k) {
    std::printf("  %s %7.3f s, CPU/wall %.2f", what[k], wall[k], cpu[k] / wall[k]);
    if (flops[k] > 0) std::printf(", %.3e flops, %.2f GFLOP/s", flops[k], flops[k] / wall[k] / 1e9);
    std::printf("\n");
  }
  std::printf("  sum of phases: %.3f s\n", wall[0] + wall[1] + wall[2] + wall[3]);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  dmft::keep_freed_memory();
  long long S = 4000;
  int repeats = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_resnet: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") omp_set_num_threads(std::atoi(next()));
    else if (a == "--samples") S = std::atoll(next());
    else if (a == "--repeats") repeats = std::max(1, std::atoi(next()));
    else {
      std::fprintf(stderr, "usage: bench_resnet [--samples S] [--threads N] [--repeats R]\n");
      return 2;
    }
  }
  const int L = 16;
  const Index T = 20;
  const dmft::Dataset data = dmft::make_synthetic(10, 20, 1, dmft::SyntheticTarget::halves);

  // Cost model, from resnet_iteration_flops (R2): per iteration ≈ S·(3 sweeps of 2 L T² P²)
  // + kernels 2L n² S + source draws 2(L−1)·2n² S + response products 2(L−1)·2n² S.
  const dmft::Problem mc = problem(data, false, L, T, S);
  const double n = double(mc.n()), sweep = dmft::residual_sweep_flops(L, T, mc.P());
  std::printf("cost model per outer iteration (resnet, R2 responses; n = T P):\n"
              "  S * 3 sweeps * 2 L T^2 P^2   = %.3e  (primal + 2 random-probe tangents)\n"
              "  kernels 2 L n^2 S            = %.3e  (Phi, G of every layer)\n"
              "  source draws 2(L-1) 2 n^2 S  = %.3e  (u, r of every block)\n"
              "  responses 2(L-1) 2 n^2 S     = %.3e  (A, B probe products)\n"
              "  total (resnet_iteration_flops) = %.3e\n\n",
              3 * double(S) * sweep, 2.0 * L * n * n * double(S), 4.0 * (L - 1) * n * n * double(S),
              4.0 * (L - 1) * n * n * double(S), dmft::resnet_iteration_flops(mc, false));

  const double t_mc = time_iteration("1. resnet, tanh, Monte Carlo, R2 random-probe responses", "resnet", mc, 1, repeats);
  split_resnet(mc);
  std::printf("  (model.sample median: %.3f s)\n\n", t_mc);

  // Stein (R3): no tangent sweeps; the moments ⟨φ εᵀ⟩, ⟨g εᵀ⟩ (2(L−1)·2n²S) and 2(L−1) triangular
  // solves of n×n (2(L−1) n³) replace them. The same tanh problem as 1, so the times compare.
  dmft::Problem stein = mc;
  stein.response_estimator = dmft::ResponseEstimator::stein;
  std::printf("cost model (resnet, Stein responses): S sweeps + kernels + sources + 2(L-1)(2 n^2 S + n^3) = %.3e\n",
              dmft::resnet_iteration_flops(stein, false));
  time_iteration("1b. resnet, tanh, Monte Carlo, Stein responses", "resnet", stein, 1, repeats);
  std::printf("\n");

  const dmft::Problem lin = problem(data, true, L, T, S);
  std::printf("cost model (resnet_linear): n_src = P + 2(L-1)n + 1 = %ld columns; n_src sweeps + 2(L-1)n tangent\n"
              "  sweeps + kernels 2L n^2 n_src = %.3e flops\n",
              long(mc.P() + 2 * (L - 1) * mc.n() + 1), dmft::resnet_iteration_flops(lin, true));
  time_iteration("2. resnet_linear, exact (phi = id)", "resnet_linear", lin, 0, 1);
  std::printf("\n");

  // R1 is O(L² T³ P³) per sample: only a tiny problem, beside R2 at the same size.
  const dmft::Dataset tiny_data = dmft::make_synthetic(4, 20, 1, dmft::SyntheticTarget::halves);
  dmft::Problem tiny = problem(tiny_data, false, 4, 5, 256);
  time_iteration("3a. resnet tiny, R2 random-probe responses", "resnet", tiny, 1, repeats);
  tiny.response_estimator = dmft::ResponseEstimator::exact_tangent;
  time_iteration("3b. resnet tiny, R1 exact-tangent responses", "resnet", tiny, 1, repeats);
  return 0;
}
