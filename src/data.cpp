#include "dmft/data.hpp"

#include <algorithm>
#include <cmath>

#include "dmft/attention_m0.hpp"
#include "dmft/errors.hpp"
#include "dmft/h5_util.hpp"
#include "dmft/rng.hpp"

namespace dmft {

SyntheticTarget synthetic_target_from_name(const std::string& name) {
  if (name == "teacher") return SyntheticTarget::teacher;
  if (name == "linear") return SyntheticTarget::linear;
  if (name == "halves") return SyntheticTarget::halves;
  throw InputError("--target", name, "must be one of teacher, linear, halves");
}

std::string to_string(SyntheticTarget t) {
  switch (t) {
    case SyntheticTarget::teacher: return "teacher";
    case SyntheticTarget::linear: return "linear";
    case SyntheticTarget::halves: return "halves";
  }
  return "?";
}

Dataset make_dataset(RowMatrix X, Vector y, std::string source, Index S) {
  if (S < 0) throw InputError("--data", source, "the number of tokens per sequence must be >= 1");
  if (X.rows() != y.size() * std::max<Index>(S, 1))
    throw InputError("--data", source,
                     S > 0 ? "X holds " + std::to_string(X.rows()) + " tokens but y has " + std::to_string(y.size()) +
                                 " targets of sequences of S = " + std::to_string(S) + " tokens (one target per sequence)"
                           : "X has " + std::to_string(X.rows()) + " rows but y has " + std::to_string(y.size()) +
                                 " entries (they must match: one target per example)");
  if (X.rows() < 1 || X.cols() < 1) throw InputError("--data", source, "X must have at least one row and one column");
  for (Index i = 0; i < X.size(); ++i)
    if (!std::isfinite(X.data()[i]))
      throw InputError("--data", source, "X contains a non-finite value at row " + std::to_string(i / X.cols()));
  for (Index i = 0; i < y.size(); ++i)
    if (!std::isfinite(y[i])) throw InputError("--data", source, "y contains a non-finite value at entry " + std::to_string(i));
  Dataset d;
  d.Kx = X * X.transpose() / double(X.cols());
  d.X = std::move(X);
  d.y = std::move(y);
  d.source = std::move(source);
  d.S = S;
  return d;
}

Dataset make_synthetic_sequences(Index P, Index S, Index D, std::uint64_t seed) {
  const SequenceData seq = make_gaussian_sequences(P, S, D, seed);
  return make_dataset(seq.stacked_tokens(), seq.y, "sequences", S);
}

SequenceData to_sequences(const Dataset& data) {
  if (!data.sequences())
    throw InputError("--data", data.source,
                     "the attention models need token sequences (X of shape P×S×D in the file, or --dataset sequences)");
  SequenceData seq;
  seq.P = data.P();
  seq.S = data.S;
  seq.D = data.D();
  for (Index mu = 0; mu < seq.P; ++mu) seq.X.push_back(data.X.middleRows(mu * seq.S, seq.S));
  seq.y = data.y;
  seq.validate();
  return seq;
}

Dataset make_synthetic(Index P, Index D, std::uint64_t seed, SyntheticTarget target) {
  RowMatrix X(P, D);
  for (Index mu = 0; mu < P; ++mu) {
    RandomStream rs(seed, StreamPurpose::data, 0, std::uint64_t(mu));
    for (Index j = 0; j < D; ++j) X(mu, j) = rs.normal();
  }
  RandomStream teacher_rs(seed, StreamPurpose::data, 1, 0);
  Vector w(D);
  for (Index j = 0; j < D; ++j) w[j] = teacher_rs.normal();
  Vector y(P);
  const Vector proj = X * w / std::sqrt(double(D));
  switch (target) {
    case SyntheticTarget::teacher:
      for (Index mu = 0; mu < P; ++mu) y[mu] = proj[mu] >= 0 ? 1.0 : -1.0;
      break;
    case SyntheticTarget::linear: {
      const double rms = std::sqrt(proj.squaredNorm() / double(P));
      y = rms > 0 ? Vector(proj / rms) : proj;
      break;
    }
    case SyntheticTarget::halves:
      for (Index mu = 0; mu < P; ++mu) y[mu] = mu < (P + 1) / 2 ? 1.0 : -1.0;
      break;
  }
  return make_dataset(std::move(X), std::move(y), "synthetic:" + to_string(target));
}

Dataset make_ds1() {
  const Index P = 8, D = 16;
  RowMatrix X(P, D);
  for (Index mu = 0; mu < P; ++mu)
    for (Index j = 0; j < D; ++j) X(mu, j) = std::cos(0.7 * double(mu + 1) * double(j + 1) + 0.3 * double(mu));
  Vector y(P);
  for (Index mu = 0; mu < P; ++mu) y[mu] = mu < 4 ? 1.0 : -1.0;
  return make_dataset(std::move(X), std::move(y), "ds1");
}

Dataset load_dataset(const std::string& path) {
  h5::silence_errors();
  H5::H5File f;
  try {
    f = H5::H5File(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception&) {
    throw InputError("--data", path, "cannot be opened as an HDF5 file");
  }
  for (const char* name : {"X", "y"})
    if (!h5::has_object(f, name))
      throw InputError("--data", path, std::string("has no dataset '") + name + "' (expected X: P×D, y: P)");
  std::vector<hsize_t> xs, ys;
  std::vector<double> x, yv;
  try {
    x = h5::read_array(f, "X", xs);
    yv = h5::read_array(f, "y", ys);
  } catch (const H5::Exception&) {
    throw InputError("--data", path, "X and y must be numeric datasets");
  }
  if (xs.size() != 2 && xs.size() != 3)
    throw InputError("--data", path, "X must be 2-D (P×D) or, for token sequences, 3-D (P×S×D); found rank " + std::to_string(xs.size()));
  if (ys.size() != 1 && !(ys.size() == 2 && ys[1] == 1))
    throw InputError("--data", path, "y must be 1-D (P), found rank " + std::to_string(ys.size()));
  const Index S = xs.size() == 3 ? Index(xs[1]) : 0, D = Index(xs.back());
  if (xs.size() == 3 && (S < 1 || D < 1)) throw InputError("--data", path, "X (P×S×D) must have S >= 1 and D >= 1");
  if (xs.size() == 3 && xs[0] != ys[0])
    throw InputError("--data", path, "X holds " + std::to_string(xs[0]) + " sequences but y has " + std::to_string(ys[0]) +
                                         " targets (one target per sequence)");
  RowMatrix X = Eigen::Map<RowMatrix>(x.data(), Index(x.size()) / std::max<Index>(D, 1), D);
  Vector y = Eigen::Map<Vector>(yv.data(), Index(ys[0]));
  return make_dataset(std::move(X), std::move(y), path, S);
}

}  // namespace dmft
