#pragma once
// Finite attention networks of growing head dimension N against limit A (attention.md §4.3, §4.4),
// shared by the M0 and M1 validation tests: the per-seed rms errors of Δ and of the head-mean
// logits at the last step, and the convergence checks on their seed means.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "dmft/attention_m0.hpp"
#include "helpers.hpp"

namespace dmft::test {

struct WidthErrors {
  Index N;
  MeanSe delta, logits;
};

/// rms Δ and head-mean logit errors at t = `last` of networks seeds 1 … `seeds` at each width of
/// `Ns` against `limit`; `train(N, seed)` trains one network. Seeds run in parallel (OpenMP).
template <class Train>
std::vector<WidthErrors> width_errors(const Train& train, const AttentionM0Trajectory& limit, const std::vector<Index>& Ns,
                                      int seeds, Index last) {
  std::vector<WidthErrors> out;
  for (Index N : Ns) {
    std::vector<double> d(static_cast<std::size_t>(seeds)), a(static_cast<std::size_t>(seeds));
#pragma omp parallel for schedule(dynamic)
    for (int s = 0; s < seeds; ++s) {
      const AttentionM0Trajectory run = train(N, std::uint64_t(s + 1));
      d[std::size_t(s)] = rms_delta_error(run, limit, last);
      a[std::size_t(s)] = rms_logit_error(run, limit, last);
    }
    out.push_back({N, mean_se(d), mean_se(a)});
    MESSAGE("N = " << N << ": rms Delta error " << out.back().delta.mean << " +- " << out.back().delta.se
                   << ", rms A error " << out.back().logits.mean << " +- " << out.back().logits.se << " (" << seeds
                   << " seeds)");
  }
  return out;
}

/// The networks approach limit A: the seed-mean rms Δ error is below 0.01 at the largest N (the
/// issue's bound); the logit error falls from the smallest to the largest N by more than
/// `fall_sigmas` combined standard errors, and so does the Δ error when the widths span a factor
/// 16; no Δ error rises by more than 2 combined standard errors between neighbouring widths; the
/// log-log slope of the Δ error (and with `logit_slope` of the logit error) is −1/2 within 3
/// standard errors (delta method from the relative standard errors of the two extreme means).
inline void check_width_convergence(const std::vector<WidthErrors>& e, double fall_sigmas, bool logit_slope) {
  CHECK(e.back().delta.mean < 0.01);
  const auto combined_se = [](const MeanSe& a, const MeanSe& b) { return std::sqrt(a.se * a.se + b.se * b.se); };
  CHECK(e.front().logits.mean - e.back().logits.mean > fall_sigmas * combined_se(e.front().logits, e.back().logits));
  if (e.back().N >= 16 * e.front().N)
    CHECK(e.front().delta.mean - e.back().delta.mean > fall_sigmas * combined_se(e.front().delta, e.back().delta));
  for (std::size_t k = 0; k + 1 < e.size(); ++k) {
    CAPTURE(e[k].N);
    CHECK(e[k].delta.mean - e[k + 1].delta.mean > -2 * combined_se(e[k].delta, e[k + 1].delta));
  }
  const double span = std::log(double(e.back().N) / double(e.front().N));
  const auto slope = [&](const MeanSe& lo, const MeanSe& hi) {
    return std::pair{std::log(hi.mean / lo.mean) / span, std::hypot(lo.se / lo.mean, hi.se / hi.mean) / span};
  };
  const auto [delta_slope, delta_slope_se] = slope(e.front().delta, e.back().delta);
  const auto [logits_slope, logits_slope_se] = slope(e.front().logits, e.back().logits);
  MESSAGE("log-log slope of the rms Delta error: " << delta_slope << " +- " << delta_slope_se
                                                   << ", of the rms A error: " << logits_slope << " +- " << logits_slope_se);
  CHECK(std::abs(delta_slope + 0.5) < 3 * delta_slope_se);
  if (logit_slope) CHECK(std::abs(logits_slope + 0.5) < 3 * logits_slope_se);
}

}  // namespace dmft::test
