#pragma once
// Writes a user data set (X: P×D, y: P) as `dmft solve --data` expects it.
#include <string>

#include "dmft/h5_util.hpp"

namespace dmft::test {
inline void write_xy(const std::string& path, const RowMatrix& X, const Vector& y) {
  h5::silence_errors();
  H5::H5File f(path, H5F_ACC_TRUNC);
  H5::Group root = f.openGroup("/");
  h5::write_array(root, "X", X.data(), {hsize_t(X.rows()), hsize_t(X.cols())}, "mu,d");
  h5::write_array(root, "y", y.data(), {hsize_t(y.size())}, "mu");
}
}  // namespace dmft::test
