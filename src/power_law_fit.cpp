#include "dmft/power_law_fit.hpp"

#include <ceres/ceres.h>

#include <cmath>

namespace dmft {
namespace {

struct PowerLawResidual {
  PowerLawResidual(double N, double y, double sigma) : log_N(std::log(N)), y(y), sigma(sigma) {}
  template <class T>
  bool operator()(const T* const log_c, const T* const a, T* residual) const {
    residual[0] = (exp(log_c[0] - a[0] * log_N) - y) / sigma;
    return true;
  }
  double log_N, y, sigma;
};

}  // namespace

PowerLawFit fit_power_law(const std::vector<double>& N, const std::vector<double>& y, const std::vector<double>& sigma) {
  PowerLawFit fit;
  const std::size_t m = N.size();
  if (m < 2 || y.size() != m || sigma.size() != m) {
    fit.message = "needs at least two widths";
    return fit;
  }
  for (std::size_t i = 0; i < m; ++i)
    if (!(N[i] > 0 && y[i] > 0 && sigma[i] > 0) || !std::isfinite(y[i])) {
      fit.message = "needs positive, finite errors and weights";
      return fit;
    }
  // Start from the least-squares line through (log N, log y).
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const double lx = std::log(N[i]), ly = std::log(y[i]);
    sx += lx;
    sy += ly;
    sxx += lx * lx;
    sxy += lx * ly;
  }
  const double slope = (double(m) * sxy - sx * sy) / (double(m) * sxx - sx * sx);
  double a = -slope, log_c = (sy - slope * sx) / double(m);

  ceres::Problem problem;
  for (std::size_t i = 0; i < m; ++i)
    problem.AddResidualBlock(new ceres::AutoDiffCostFunction<PowerLawResidual, 1, 1, 1>(
                                 new PowerLawResidual(N[i], y[i], sigma[i])),
                             nullptr, &log_c, &a);
  ceres::Solver::Options options;
  options.linear_solver_type = ceres::DENSE_QR;
  options.max_num_iterations = 200;
  options.function_tolerance = 1e-14;
  options.parameter_tolerance = 1e-14;
  options.gradient_tolerance = 1e-16;
  options.num_threads = 1;
  ceres::Solver::Summary summary;
  ceres::Solve(options, &problem, &summary);
  if (!summary.IsSolutionUsable()) {
    fit.message = "Ceres: " + summary.message;
    return fit;
  }
  const double chi2 = 2.0 * summary.final_cost;  // Ceres minimises ½Σr²
  const int dof = int(m) - 2;
  fit.chi2_dof = dof > 0 ? chi2 / dof : 0.0;
  fit.a = a;
  fit.c = std::exp(log_c);

  ceres::Covariance::Options copt;
  copt.algorithm_type = ceres::DENSE_SVD;
  copt.null_space_rank = -1;
  ceres::Covariance covariance(copt);
  std::vector<std::pair<const double*, const double*>> blocks = {{&a, &a}, {&log_c, &log_c}};
  if (!covariance.Compute(blocks, &problem)) {
    fit.message = "the covariance of the fit is singular";
    return fit;
  }
  double var_a = 0, var_log_c = 0;
  covariance.GetCovarianceBlock(&a, &a, &var_a);
  covariance.GetCovarianceBlock(&log_c, &log_c, &var_log_c);
  const double inflate = std::max(1.0, fit.chi2_dof);
  fit.a_se = std::sqrt(var_a * inflate);
  fit.c_se = fit.c * std::sqrt(var_log_c * inflate);
  fit.ok = true;
  fit.message = summary.BriefReport();
  return fit;
}

}  // namespace dmft
