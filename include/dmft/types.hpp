#pragma once
// Basic array types. Two-time order parameters are (T·P)×(T·P) row-major matrices with
// index a(t,μ) = t·P + μ (theory README, "Two-time arrays"), so their memory is exactly a
// row-major (T,P,T,P) array.
#include <Eigen/Dense>

namespace dmft {

using Index = Eigen::Index;
using Matrix = Eigen::MatrixXd;  // column-major: sample trajectories are columns
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXd;
using TwoTime = RowMatrix;       // (T·P)×(T·P), index t·P + μ

/// Flattened two-time index a(t, μ) = t·P + μ.
constexpr Index flat_index(Index t, Index mu, Index P) { return t * P + mu; }

}  // namespace dmft
