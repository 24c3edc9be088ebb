#pragma once
// Shared test helpers: problems on DS1, replicated solves, statistics.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include "dmft/data.hpp"
#include "dmft/registry.hpp"
#include "dmft/solver.hpp"

namespace dmft::test {

inline Problem make_problem(const Dataset& data, const std::string& activation, Index T, double eta,
                            double gamma0, Index samples, std::uint64_t seed,
                            ErrorUpdate mode = ErrorUpdate::exact) {
  Problem p;
  p.data = &data;
  p.activation = Activation::from_name(activation);
  p.T = T;
  p.eta = eta;
  p.gamma0 = gamma0;
  p.samples = samples;
  p.seed = seed;
  p.error_update = mode;
  return p;
}

inline SolverOptions tight_options(Strategy strategy = Strategy::iterate) {
  SolverOptions o;
  o.strategy = strategy;
  o.tol = 1e-9;
  o.noise_fraction = 0.0;  // iterate to the fixed point of the fixed samples
  o.max_iter = 400;
  return o;
}

/// Mean and standard error of a set of replicas.
struct MeanSe {
  double mean = 0, se = 0;
};
inline MeanSe mean_se(const std::vector<double>& x) {
  MeanSe r;
  for (double v : x) r.mean += v;
  r.mean /= double(x.size());
  double ss = 0;
  for (double v : x) ss += (v - r.mean) * (v - r.mean);
  r.se = std::sqrt(ss / double(x.size() - 1) / double(x.size()));
  return r;
}

/// Central differences (step h) of the scalar objective `f()` with respect to every entry of `w`,
/// which is restored entry by entry: the finite-difference gradient the networks' updates are
/// checked against.
template <class F>
Matrix central_difference(Matrix& w, F&& f, double h = 1e-6) {
  Matrix g(w.rows(), w.cols());
  for (Index i = 0; i < w.size(); ++i) {
    const double x = w.data()[i];
    w.data()[i] = x + h;
    const double up = f();
    w.data()[i] = x - h;
    const double down = f();
    w.data()[i] = x;
    g.data()[i] = (up - down) / (2 * h);
  }
  return g;
}

/// Independent Monte Carlo solves (each with Δ and its reported standard error Δ_se) at step t:
/// the ratio rms over μ of the reported standard error / rms over μ of the seed standard
/// deviation of Δ(t, μ). Near 1 when the reported errors are right.
template <class Run>
double reported_se_over_seed_spread(const std::vector<Run>& runs, Index t) {
  const Index P = runs.front().Delta.cols();
  const double seeds = double(runs.size());
  double spread = 0, reported = 0;
  for (Index mu = 0; mu < P; ++mu) {
    std::vector<double> x;
    for (const Run& r : runs) {
      x.push_back(r.Delta(t, mu));
      reported += r.Delta_se(t, mu) * r.Delta_se(t, mu) / (seeds * double(P));
    }
    const MeanSe m = mean_se(x);
    spread += m.se * m.se * seeds / double(P);  // sample variance
  }
  MESSAGE("rms seed spread of Delta(" << t << ") " << std::sqrt(spread) << ", rms reported standard error "
                                      << std::sqrt(reported) << ", ratio " << std::sqrt(reported / spread));
  return std::sqrt(reported / spread);
}

/// A log-log slope with its standard error.
struct Slope {
  double value, se;
};
/// Least-squares slope of log(y) on log(x) over several independent points, with its standard
/// error from the points' relative standard errors (delta method).
inline Slope fitted_log_slope(const std::vector<double>& x, const std::vector<MeanSe>& y) {
  const std::size_t n = x.size();
  double xbar = 0;
  for (double v : x) xbar += std::log(v) / double(n);
  double sxx = 0;
  for (double v : x) sxx += (std::log(v) - xbar) * (std::log(v) - xbar);
  Slope s{0, 0};
  for (std::size_t k = 0; k < n; ++k) {
    const double w = (std::log(x[k]) - xbar) / sxx;
    s.value += w * std::log(y[k].mean);
    s.se += w * w * (y[k].se / y[k].mean) * (y[k].se / y[k].mean);
  }
  s.se = std::sqrt(s.se);
  return s;
}

/// Solves the same problem with seeds first..first+count−1 (independent Monte Carlo replicas).
inline std::vector<Solution> replicas(const Model& model, Problem p, std::uint64_t first, int count,
                                      const SolverOptions& o) {
  std::vector<Solution> out;
  for (int k = 0; k < count; ++k) {
    p.seed = first + std::uint64_t(k);
    out.push_back(solve(model, p, o));
  }
  return out;
}

}  // namespace dmft::test
