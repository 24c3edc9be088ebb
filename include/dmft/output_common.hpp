#pragma once
// What every dmft output file shares: provenance attributes, the /parameters group generated from
// the parameter list, the /data group, and the write-to-temporary-then-rename discipline.
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "dmft/data.hpp"
#include "dmft/h5_util.hpp"
#include "dmft/parameters.hpp"

namespace dmft {

/// Root attributes: format, format_version, dmft_version, git_hash, git_dirty, command_line, model.
void write_provenance(H5::Group& root, const std::string& format, int version, const std::string& command_line,
                      const std::string& model);

/// /solution/loss (T, with its `normalisation` attribute) and /solution/Delta (T×P): the residual
/// record every solve writes.
void write_loss_and_residuals(H5::Group& solution, const Vector& loss, const RowMatrix& Delta);
/// /solution/ntk: K(t) for t = 0..T−1 as one (T, P, P) array.
void write_ntk_series(H5::Group& solution, const std::vector<Matrix>& K, const std::string& description);

/// /data: X (P×D), y (P), Kx (P×P) and the attribute `source`.
void write_data_group(H5::Group& root, const Dataset& data);
/// Reads /data/X and /data/y back (as written by write_data_group).
Dataset read_data_group(const H5::H5File& f, const std::string& path);

/// /parameters: one attribute per recorded field of `params`.
template <class Params>
void write_parameters(H5::Group& g, Params copy) {
  for_each_parameter(copy, [&](const ParameterInfo& info, auto& value) {
    if (!info.recorded) return;
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool> || std::is_same_v<T, double>)
      h5::write_attr(g, info.name, value);
    else h5::write_attr(g, info.name, static_cast<long long>(value));
  });
}

/// Runs `write(tmp)` on "<path>.tmp" and renames it to `path`; on failure removes the temporary
/// and throws std::runtime_error naming the file. A file at `path` is therefore always whole.
void write_atomically(const std::string& path, const std::function<void(const std::string& tmp)>& write);

}  // namespace dmft
