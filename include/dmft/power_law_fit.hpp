#pragma once
// Weighted least-squares fit of y ≈ c·N^(−a) (Ceres), with standard errors from the fit's
// covariance. Used by `dmft compare` for the rate at which finite networks approach the DMFT.
#include <string>
#include <vector>

namespace dmft {

struct PowerLawFit {
  double a = 0, a_se = 0;  // exponent and its standard error
  double c = 0, c_se = 0;  // prefactor and its standard error
  double chi2_dof = 0;     // χ² per degree of freedom (0 when there are none)
  bool ok = false;         // false: fewer than 2 points, non-positive data or a failed solve
  std::string message;
};

/// Minimises Σ_i ((c N_i^(−a) − y_i)/σ_i)² over (log c, a), starting from the log-log line.
/// Standard errors are √diag of the covariance, inflated by √(χ²/dof) when that exceeds 1
/// (scatter beyond the stated σ_i widens the error bar; it never narrows it).
PowerLawFit fit_power_law(const std::vector<double>& N, const std::vector<double>& y, const std::vector<double>& sigma);

}  // namespace dmft
