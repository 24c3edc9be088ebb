#include "dmft/solver.hpp"

#include <chrono>
#include <cmath>
#include <sstream>

#include "dmft/error_update.hpp"

namespace dmft {

std::string to_string(Termination t) {
  switch (t) {
    case Termination::converged: return "converged";
    case Termination::max_iter: return "max_iter";
    case Termination::numerical_failure: return "numerical_failure";
    case Termination::interrupted: return "interrupted";
  }
  return "?";
}

int exit_code(Termination t) {
  switch (t) {
    case Termination::converged: return 0;
    case Termination::max_iter: return 3;
    case Termination::numerical_failure: return 4;
    case Termination::interrupted: return 130;
  }
  return 1;
}

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool all_finite(const SiteAverages& s) {
  for (const auto& l : s.layers)
    if (!l.Phi.allFinite() || !l.G.allFinite()) return false;
  return s.output.allFinite();
}

RowMatrix residuals_from_ntk(const Model& model, const Problem& problem, const OrderParameters& state) {
  return ntk_residuals(problem.data->y, problem.T, problem.eta,
                       [&](Index t) { return model.ntk(problem, state, t); });
}

/// The `exact` update Δ = y − f, solved forward in time with the NTK recursion as its linear
/// part. Iterating Δ ← y − f[Δ] directly is a Volterra iteration whose transients grow like
/// (η λ t / P)^k / k! before its nilpotency wins, and overflow for long runs. Instead write
///   Δ(t+1) = Δ(t) − (η/P) K(t) Δ(t) − e(t),   e(t) = f(t+1) − f(t) − (η/P) K(t) Δ_old(t),
/// with f and K from the samples driven by Δ_old. e holds only the O(η²) part of the exact step,
/// so its dependence on Δ_old is weak; at the fixed point Δ = Δ_old this is exactly Δ = y − f.
RowMatrix exact_residuals(const Model& model, const Problem& problem, SiteAverages& est,
                          const RowMatrix& delta_old) {
  const Index T = problem.T, P = problem.P();
  OrderParameters sampled;  // borrows the estimates (no copy of the n×n kernels)
  sampled.layers = std::move(est.layers);
  RowMatrix out(T, P);
  out.row(0) = problem.data->y.transpose() - est.output.row(0);
  for (Index t = 0; t + 1 < T; ++t) {
    const Matrix K = model.ntk(problem, sampled, t);
    const double h = problem.eta / double(P);
    const Vector e = (est.output.row(t + 1) - est.output.row(t)).transpose() - h * (K * delta_old.row(t).transpose());
    const Vector d = out.row(t).transpose();
    out.row(t + 1) = (d - h * (K * d) - e).transpose();
  }
  est.layers = std::move(sampled.layers);
  return out;
}

/// As `damp`, for responses, which start at zero: relative to max(‖X_old‖, ‖X_new‖).
double damp_response(RowMatrix& x, const RowMatrix& x_new, double alpha) {
  const double scale = std::max(x.norm(), x_new.norm());
  const double change = (x_new - x).norm();
  x = (1.0 - alpha) * x + alpha * x_new;
  return scale > 0 ? change / scale : 0.0;
}

/// X ← (1−α)X + αX_new, returning ‖X_new − X_old‖_F / ‖X_old‖_F.
double damp(TwoTime& x, const TwoTime& x_new, double alpha) {
  const double old_norm = x.norm();
  const double change = (x_new - x).norm();
  x = (1.0 - alpha) * x + alpha * x_new;
  return old_norm > 0 ? change / old_norm : change;
}

void finish(const Model& model, const Problem& problem, Solution& sol) {
  sol.ntk.clear();
  for (Index t = 0; t < problem.T; ++t) {
    sol.ntk.push_back(model.ntk(problem, sol.state, t));
    sol.summary.max_stability_ratio =
        std::max(sol.summary.max_stability_ratio, stability_ratio(sol.ntk.back(), problem.eta));
  }
  sol.loss = loss_curve(sol.state.Delta);
  if (problem.error_update == ErrorUpdate::ntk && sol.summary.max_stability_ratio > 2.0) {
    std::ostringstream w;
    w << "ntk error update: max_t η λ_max(K(t))/P = " << sol.summary.max_stability_ratio
      << " > 2, the Euler recursion has left its stability region (use --error-update exact)";
    sol.summary.warnings.push_back(w.str());
  }
}

/// Extends a solution on T' steps to T'' > T' by copying the latest time index forward.
OrderParameters extend_in_time(const OrderParameters& in, Index T_old, Index T_new, Index P) {
  auto extend = [&](const TwoTime& k) {
    if (k.size() == 0) return k;  // absent (e.g. no standard errors)
    TwoTime out(T_new * P, T_new * P);
    for (Index t = 0; t < T_new; ++t)
      for (Index s = 0; s < T_new; ++s)
        out.block(t * P, s * P, P, P) = k.block(std::min(t, T_old - 1) * P, std::min(s, T_old - 1) * P, P, P);
    return out;
  };
  // Responses: the new time blocks start at zero (theory mlp.md §4.5).
  auto extend_response = [&](const Response& r) {
    Response out = r;
    if (r.empty()) return out;
    const Index rows_per_t = r.values.rows() / T_old, cols_per_t = r.values.cols() / T_old;
    out.values = RowMatrix::Zero(rows_per_t * T_new, cols_per_t * T_new);
    out.values.topLeftCorner(r.values.rows(), r.values.cols()) = r.values;
    // The row index is the leading dims of the shape (time first), the column index the rest
    // (time first): find where the columns start and update both time dims.
    std::size_t k = 0;
    for (unsigned long long rows = 1; k < r.shape.size() && rows < static_cast<unsigned long long>(r.values.rows()); ++k)
      rows *= r.shape[k];
    out.shape[0] = out.shape[k] = static_cast<unsigned long long>(T_new);
    return out;
  };
  OrderParameters out;
  for (const auto& l : in.layers)
    out.layers.push_back(LayerKernels{extend(l.Phi), extend(l.G), extend(l.Phi_se), extend(l.G_se),
                                      extend_response(l.A), extend_response(l.B)});
  out.Delta.resize(T_new, P);
  for (Index t = 0; t < T_new; ++t) out.Delta.row(t) = in.Delta.row(std::min(t, T_old - 1));
  return out;
}

/// A relative change per iteration above this means the iteration is running away.
constexpr double kDiverged = 1e6;

/// The damped outer loop on one continuation window.
void run_stage(const Model& model, const Problem& problem, const SolverOptions& options, Solution& sol,
               long long& k_total, const ProgressCallback& progress) {
  Summary& sum = sol.summary;
  OrderParameters& state = sol.state;
  const Vector& y = problem.data->y;
  const double y_scale = std::max(y.cwiseAbs().maxCoeff(), 1e-300);
  int below = 0;
  sum.reason = Termination::max_iter;
  sum.message = "iteration cap reached before the stopping rule held (window T = " + std::to_string(problem.T) + ")";

  for (long long k = 1; k <= options.max_iter; ++k) {
    if (options.stop && options.stop->load()) {
      sum.reason = Termination::interrupted;
      sum.message = "stopped by a signal at iteration " + std::to_string(k_total);
      return;
    }
    ++k_total;
    const auto t_iter = Clock::now();
    RowMatrix delta = problem.error_update == ErrorUpdate::ntk ? residuals_from_ntk(model, problem, state)
                                                               : state.Delta;
    SiteAverages est = model.sample(problem, state, delta);
    sum.sampling_seconds += seconds_since(t_iter);
    sum.flops += est.flops;
    sum.worst_source.note(est.sources);
    if (!all_finite(est) || !delta.allFinite()) {
      sum.reason = Termination::numerical_failure;
      sum.message = "non-finite kernels or residuals at iteration " + std::to_string(k_total) +
                    " (window T = " + std::to_string(problem.T) + "; try a smaller --damping or --eta)";
      return;
    }

    IterationRecord rec;
    const double a = options.damping;
    for (std::size_t l = 0; l < state.layers.size(); ++l) {
      rec.r_phi = std::max(rec.r_phi, damp(state.layers[l].Phi, est.layers[l].Phi, a));
      rec.r_g = std::max(rec.r_g, damp(state.layers[l].G, est.layers[l].G, a));
      for (auto [cur, nxt] : {std::pair{&state.layers[l].A, &est.layers[l].A}, std::pair{&state.layers[l].B, &est.layers[l].B}})
        if (!nxt->empty()) {
          if (cur->empty()) {
            *cur = *nxt;
            cur->values.setZero();
          }
          rec.r_response = std::max(rec.r_response, damp_response(cur->values, nxt->values, a));
        }
      state.layers[l].Phi_se = std::move(est.layers[l].Phi_se);
      state.layers[l].G_se = std::move(est.layers[l].G_se);
    }
    if (problem.error_update == ErrorUpdate::exact) {
      const RowMatrix target = exact_residuals(model, problem, est, delta);
      rec.r_delta = (target - state.Delta).cwiseAbs().maxCoeff() / y_scale;
      state.Delta = (1.0 - a) * state.Delta + a * target;
    } else {
      // state.Delta holds the previous iteration's Δ (at k = 1 the same recursion: no change)
      rec.r_delta = (delta - state.Delta).cwiseAbs().maxCoeff() / y_scale;
      state.Delta = delta;  // the Δ these kernels were sampled with (recomputed at the end)
    }
    sol.output_se = std::move(est.output_se);
    rec.noise = est.relative_noise;
    rec.tolerance = std::max(options.tol, options.noise_fraction * rec.noise);
    rec.seconds = seconds_since(t_iter);
    rec.window = problem.T;
    sum.history.push_back(rec);
    if (progress) progress(k_total, rec);

    if (std::max({rec.r_phi, rec.r_g, rec.r_response, rec.r_delta}) > kDiverged) {
      sum.reason = Termination::numerical_failure;
      sum.message = "diverging iterates at iteration " + std::to_string(k_total) + " (window T = " +
                    std::to_string(problem.T) + "; try a smaller --damping or --continuation-window)";
      return;
    }
    const bool small = std::max({rec.r_phi, rec.r_g, rec.r_response, rec.r_delta}) <= rec.tolerance && k > 1;
    below = small ? below + 1 : 0;
    if (below >= options.patience) {
      sum.reason = Termination::converged;
      std::ostringstream m;
      m << "relative change below " << rec.tolerance << " for " << options.patience << " iterations";
      sum.message = m.str();
      return;
    }
  }
}
}  // namespace

OrderParameters initial_state(const Model& model, const Problem& problem) {
  const Index T = problem.T;
  OrderParameters s;
  for (const StaticLayer& st : model.static_kernels(problem)) {
    LayerKernels l;
    l.Phi = st.Phi.replicate(T, T);  // Φ(t,μ; s,ν) = Φ_st(μ,ν) for all t, s
    l.G = st.G.replicate(T, T);
    s.layers.push_back(std::move(l));
  }
  s.Delta = residuals_from_ntk(model, problem, s);
  return s;
}

Solution solve(const Model& model, const Problem& problem, const SolverOptions& options,
               const ProgressCallback& progress) {
  const auto t_start = Clock::now();
  Solution sol;
  Summary& sum = sol.summary;
  sum.worst_source.min_eigenvalue = std::numeric_limits<double>::infinity();
  if (options.strategy == Strategy::march) {
    if (!model.can_march())
      throw std::invalid_argument("model '" + model.name() + "' has no marching strategy");
    RowMatrix delta;
    const auto t0 = Clock::now();
    SiteAverages est = model.march(problem, delta);
    sum.sampling_seconds = seconds_since(t0);
    sum.flops = est.flops;
    sum.worst_source.note(est.sources);
    IterationRecord rec;
    rec.noise = est.relative_noise;
    rec.seconds = sum.sampling_seconds;
    sum.history.push_back(rec);
    if (progress) progress(1, rec);
    if (!all_finite(est) || !delta.allFinite()) {
      sum.reason = Termination::numerical_failure;
      sum.message = "non-finite values in the marching sweep";
    } else {
      sum.reason = Termination::converged;
      sum.message = "one causal sweep (exact for the fixed samples)";
    }
    sol.state.layers = std::move(est.layers);
    sol.state.Delta = std::move(delta);
    sol.output_se = std::move(est.output_se);
    finish(model, problem, sol);
    sum.wall_seconds = seconds_since(t_start);
    return sol;
  }

  // Time continuation (theory mlp.md §4.5): the equations are causal, so the solution on
  // [0, T') does not depend on later times. Solve on growing windows, each warm-started from the
  // last converged one by copying its latest time index forward (responses: zeros). A wrong Δ
  // over a long window can drive the iteration far away (and overflow); a short one cannot. The
  // window grows by a step that doubles after each success and halves after a failure
  // (non-finite or diverging iterates), restarting from the last converged window.
  const Index first = options.continuation_window > 0 ? std::min<Index>(options.continuation_window, problem.T) : problem.T;
  Problem stage = problem;
  OrderParameters good;  // last converged window (T_done steps)
  RowMatrix good_se;
  Index T_done = 0, step = first;
  long long k_total = 0;
  for (;;) {
    const Index next = std::min<Index>(T_done + step, problem.T);
    stage.T = next;
    sol.state = T_done == 0 ? initial_state(model, stage) : extend_in_time(good, T_done, next, stage.P());
    if (T_done > 0 && problem.error_update == ErrorUpdate::ntk) sol.state.Delta = residuals_from_ntk(model, stage, sol.state);
    run_stage(model, stage, options, sol, k_total, progress);
    if (sum.reason == Termination::converged) {
      T_done = next;
      if (T_done == problem.T) break;
      good = sol.state;
      good_se = sol.output_se;
      step *= 2;
      continue;
    }
    if (sum.reason != Termination::numerical_failure || step == 1 || options.continuation_window <= 0) break;
    step = std::max<Index>(1, step / 2);  // retry a shorter extension from the last good window
    if (T_done > 0) sol.state = good;
  }
  if (sum.reason != Termination::converged && T_done > 0 && stage.T > T_done) {
    // Keep the last converged window rather than a failed or unfinished longer one.
    sol.state = good;
    sol.output_se = good_se;
    stage.T = T_done;
  }
  if (stage.T < problem.T) {  // stopped in an earlier window: keep the shapes of the full problem
    sum.message += "; times t >= " + std::to_string(stage.T) + " copy the last solved time";
    sol.state = extend_in_time(sol.state, stage.T, problem.T, problem.P());
    const RowMatrix se = sol.output_se.size() ? sol.output_se : RowMatrix::Zero(stage.T, problem.P());
    sol.output_se.resize(problem.T, problem.P());
    for (Index t = 0; t < problem.T; ++t) sol.output_se.row(t) = se.row(std::min(t, stage.T - 1));
  }
  OrderParameters& state = sol.state;
  if (problem.error_update == ErrorUpdate::ntk && sum.reason != Termination::numerical_failure)
    state.Delta = residuals_from_ntk(model, problem, state);  // consistent with the stored kernels
  finish(model, problem, sol);
  sum.wall_seconds = seconds_since(t_start);
  return sol;
}

std::string Summary::brief() const {
  std::ostringstream s;
  s << to_string(reason) << " after " << history.size() << " iteration(s) in " << wall_seconds << " s";
  if (!history.empty()) s << "; noise floor ν = " << history.back().noise;
  return s.str();
}

std::string Summary::full() const {
  std::ostringstream s;
  s << "status: " << to_string(reason) << " (" << message << ")\n";
  s << "iterations: " << history.size() << ", wall time " << wall_seconds << " s (sampling "
    << sampling_seconds << " s, " << flops / std::max(sampling_seconds, 1e-9) / 1e9 << " GFLOP/s)\n";
  s << "smallest source eigenvalue: " << worst_source.min_eigenvalue << ", clipped mass "
    << worst_source.clipped_mass << "\n";
  s << "max_t eta*lambda_max(K(t))/P: " << max_stability_ratio << "\n";
  s << " iter      r_Phi        r_G    r_Delta      noise        tol\n";
  for (std::size_t k = 0; k < history.size(); ++k) {
    const auto& r = history[k];
    char line[160];
    std::snprintf(line, sizeof line, "%5zu %10.3e %10.3e %10.3e %10.3e %10.3e\n", k + 1, r.r_phi, r.r_g,
                  r.r_delta, r.noise, r.tolerance);
    s << line;
  }
  for (const auto& w : warnings) s << "warning: " << w << "\n";
  return s.str();
}

}  // namespace dmft
