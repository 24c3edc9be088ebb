#pragma once
// Training finite networks and measuring them as the DMFT measures its solution (theory mlp.md
// §2.4): at each step t = 0..T−1, before the update of step t, the residuals Δ(t), the loss, the
// NTK and the fields φ(h^l(t)), g^l(t); afterwards the two-time kernels Φ^l_N = FᵀF/N and G^l_N.
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dmft/network.hpp"
#include "dmft/parameters.hpp"

namespace dmft {

/// The models with a finite network here and their architecture rules (two_layer: one hidden
/// layer; deep_linear: φ = id; the residual models their own), one violation per broken rule.
std::vector<Violation> network_violations(const ProblemParameters& p);
/// The network of width N that a problem describes (responses gia: the decoupled-backward network;
/// residual models: branches a = β0/√L_b and the input layer trained or frozen as given).
NetworkSpec network_spec(const ProblemParameters& p, Index width, Readout readout = Readout::mean_field);

/// One trained network (one width, one seed).
struct NetworkRun {
  Vector loss;                   // T: mean squared residual (1/P) Σ_μ Δ(t, μ)²
  RowMatrix Delta;               // T×P
  RowMatrix ntk;                 // T×(P·P): row t is K_N(t), row-major P×P
  RowMatrix mean_abs_h;          // T×L: mean over neurons and inputs of |h^l(t)|
  RowMatrix mean_abs_dh;         // T×L: mean of |h^l(t) − h^l(0)| (the feature update)
  std::vector<TwoTime> Phi, G;   // per layer, (T·P)×(T·P); empty when kernels are not measured
  // Attention networks (theory attention.md): no layers, no coordinate check (those stay empty).
  RowMatrix logits;              // T×(P·S·S): head-mean logits A(t, μ)_ab, row t, index (μ·S + a)·S + b
  RowMatrix logits_heads;        // T×(P·H·S·S): every head's logits, index ((μ·H + κ)·S + a)·S + b
  Index heads = 1;               // H of logits_heads
  std::map<std::string, TwoTime> token_kernels;  // by name, (T·P·S)², index (t·P + μ)·S + a
};

struct TrainOptions {
  Index T = 1;
  bool kernels = true;                     // false: loss, NTK and coordinates only (coordinate check)
  const std::atomic<bool>* stop = nullptr; // set by a signal handler: throws Interrupted
};

struct Interrupted : std::exception {
  const char* what() const noexcept override { return "interrupted"; }
};

/// Trains one network for T steps from seed `seed` and measures it.
NetworkRun train_network(const NetworkSpec& spec, const Dataset& data, std::uint64_t seed, const TrainOptions& opt);

/// Trains `count` networks with seeds first, first+1, ... in parallel over seeds (one thread per
/// network; the result does not depend on the number of threads). `progress(done)` is called
/// from the calling thread's team after each network.
std::vector<NetworkRun> train_seeds(const NetworkSpec& spec, const Dataset& data, std::uint64_t first, Index count,
                                    const TrainOptions& opt, const std::function<void(Index)>& progress = {});

/// Mean and sample standard deviation over seeds, elementwise.
struct SeedStatistics {
  RowMatrix mean, std;
};
SeedStatistics seed_statistics(const std::vector<const RowMatrix*>& runs);

/// Bytes held while training one network (weights and recorded fields) and the flops of one
/// network's whole run including the kernels.
double network_run_bytes(const NetworkSpec& spec, Index P, Index D, Index T, bool kernels);
double network_run_flops(const NetworkSpec& spec, Index P, Index D, Index T, bool kernels);

}  // namespace dmft
