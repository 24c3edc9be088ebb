#pragma once
// Training data: inputs X (P×D, row = example), targets y (P), input Gram Kx = X Xᵀ / D.
// Sequence data (the attention models, theory attention.md §1.1): P sequences of S tokens in R^D,
// stored with all tokens stacked, X (P·S)×D with row μ·S + a = x_{μa}, so Kx = X Xᵀ / D is the
// token kernel K^x(μa, νb), (P·S)×(P·S), index μ·S + a.
#include <cstdint>
#include <string>

#include "dmft/types.hpp"

namespace dmft {

struct Dataset {
  RowMatrix X;  // P×D (sequences: (P·S)×D, row μ·S + a)
  Vector y;     // P
  Matrix Kx;    // P×P, X Xᵀ / D (sequences: (P·S)×(P·S))
  std::string source;  // "synthetic:<target>", "ds1", "sequences" or the file path
  Index S = 0;  // tokens per sequence; 0: not sequence data (one input vector per example)

  Index P() const { return y.size(); }
  Index D() const { return X.cols(); }
  bool sequences() const { return S > 0; }
};

struct SequenceData;
/// The attention models' view of sequence data (P matrices S×D); throws InputError naming --data
/// unless `data` holds sequences.
SequenceData to_sequences(const Dataset& data);

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
/// Gaussian token sequences for the attention models: every token x_{μa} ~ N(0, I_D), every target
/// y_μ ~ N(0, 1), independent, reproducible from `seed` (make_gaussian_sequences).
Dataset make_synthetic_sequences(Index P, Index S, Index D, std::uint64_t seed);
/// Reads datasets `X` (P×D, or P×S×D for sequences) and `y` (P) from an HDF5 file; throws
/// dmft::InputError naming the problem (missing dataset, wrong rank, mismatched P, non-finite entries).
Dataset load_dataset(const std::string& path);
/// Builds Kx and checks X, y for finiteness and matching sizes. `S` > 0: X holds P sequences of S
/// tokens stacked ((P·S)×D).
Dataset make_dataset(RowMatrix X, Vector y, std::string source, Index S = 0);

}  // namespace dmft
