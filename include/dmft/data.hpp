#pragma once
// Training data: inputs X (P×D, row = example), targets y (P), input Gram Kx = X Xᵀ / D.
#include <cstdint>
#include <string>

#include "dmft/types.hpp"

namespace dmft {

struct Dataset {
  RowMatrix X;  // P×D
  Vector y;     // P
  Matrix Kx;    // P×P, X Xᵀ / D
  std::string source;  // "synthetic:<target>", "ds1" or the file path

  Index P() const { return X.rows(); }
  Index D() const { return X.cols(); }
};

/// Targets of the synthetic generator.
///  - teacher: y = sign(w·x/√D) for a random Gaussian teacher w (±1 labels);
///  - linear:  y = w·x/√D, rescaled so that mean(y²) = 1;
///  - halves:  y = +1 for the first ⌈P/2⌉ examples, −1 for the rest (the notebooks' labels).
enum class SyntheticTarget { teacher, linear, halves };
SyntheticTarget synthetic_target_from_name(const std::string& name);
std::string to_string(SyntheticTarget t);

/// Gaussian inputs x ~ N(0, I_D), targets as above; reproducible from `seed`.
Dataset make_synthetic(Index P, Index D, std::uint64_t seed, SyntheticTarget target);
/// The deterministic data set DS1 of theory mlp.md Appendix B (P = 8, D = 16).
Dataset make_ds1();
/// Reads datasets `X` (P×D) and `y` (P) from an HDF5 file; throws dmft::InputError naming the
/// problem (missing dataset, wrong rank, mismatched P, non-finite entries).
Dataset load_dataset(const std::string& path);
/// Builds Kx and checks X, y for finiteness and matching sizes.
Dataset make_dataset(RowMatrix X, Vector y, std::string source);

}  // namespace dmft
