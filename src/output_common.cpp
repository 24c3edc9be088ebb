#include "dmft/output_common.hpp"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "dmft/provenance.hpp"

namespace dmft {

void write_provenance(H5::Group& root, const std::string& format, int version, const std::string& command_line,
                      const std::string& model) {
  h5::write_attr(root, "format", format);
  h5::write_attr(root, "format_version", version);
  h5::write_attr(root, "dmft_version", build::version);
  h5::write_attr(root, "git_hash", build::git_hash);
  h5::write_attr(root, "git_dirty", build::git_dirty);
  h5::write_attr(root, "command_line", command_line);
  h5::write_attr(root, "model", model);
}

void write_loss_and_residuals(H5::Group& gs, const Vector& loss, const RowMatrix& Delta) {
  h5::write_array(gs, "loss", std::vector<double>(loss.data(), loss.data() + loss.size()), "t", "mean squared residual");
  H5::DataSet loss_ds = gs.openDataSet("loss");
  h5::write_attr(loss_ds, "normalisation",
                 "loss(t) = (1/P) sum_mu Delta(t,mu)^2, the mean squared residual (twice the training "
                 "objective (1/2P) sum_mu Delta^2); loss(0) = mean(y^2)");
  h5::write_array(gs, "Delta", Delta.data(), {hsize_t(Delta.rows()), hsize_t(Delta.cols())}, "t,mu",
                  "residuals Delta(t,mu) = y_mu - f_mu(t), f centred so that f(0) = 0");
}

void write_ntk_series(H5::Group& gs, const std::vector<Matrix>& K, const std::string& description) {
  const hsize_t T = hsize_t(K.size()), P = K.empty() ? 0 : hsize_t(K.front().rows());
  std::vector<double> ntk;
  ntk.reserve(std::size_t(T * P * P));
  for (const Matrix& k : K) {
    const RowMatrix kr = k;
    ntk.insert(ntk.end(), kr.data(), kr.data() + kr.size());
  }
  h5::write_array(gs, "ntk", ntk.data(), {T, P, P}, "t,mu,nu", description);
}

void write_data_group(H5::Group& root, const Dataset& data) {
  const hsize_t P = hsize_t(data.P());
  H5::Group gd = h5::create_group(root, "data");
  h5::write_attr(gd, "source", data.source);
  const RowMatrix Kx = data.Kx;
  if (data.sequences()) {
    const hsize_t S = hsize_t(data.S);
    h5::write_array(gd, "X", data.X.data(), {P, S, hsize_t(data.D())}, "mu,a,d", "token x_{mu a}: sequence mu, token a");
    h5::write_array(gd, "y", data.y.data(), {P}, "mu", "targets, one per sequence");
    h5::write_array(gd, "Kx", Kx.data(), {P, S, P, S}, "mu,a,nu,b", "token kernel K^x(mu a, nu b) = x_{mu a}.x_{nu b} / D");
    return;
  }
  h5::write_array(gd, "X", data.X.data(), {P, hsize_t(data.D())}, "mu,d", "inputs, one row per example");
  h5::write_array(gd, "y", data.y.data(), {P}, "mu", "targets");
  h5::write_array(gd, "Kx", Kx.data(), {P, P}, "mu,nu", "input Gram matrix X Xᵀ / D");
}

Dataset read_data_group(const H5::H5File& f, const std::string& path) {
  std::vector<hsize_t> sx, sy;
  const std::vector<double> x = h5::read_array(f, "/data/X", sx);
  const std::vector<double> y = h5::read_array(f, "/data/y", sy);
  if ((sx.size() != 2 && sx.size() != 3) || sy.size() != 1 || sx[0] != sy[0])
    throw std::runtime_error(path + ": /data/X and /data/y have inconsistent shapes");
  const Index S = sx.size() == 3 ? Index(sx[1]) : 0, D = Index(sx.back());
  if (D < 1 || (sx.size() == 3 && S < 1)) throw std::runtime_error(path + ": /data/X has an empty axis");
  RowMatrix X = Eigen::Map<const RowMatrix>(x.data(), Index(x.size()) / D, D);
  Vector yv = Eigen::Map<const Vector>(y.data(), Index(sy[0]));
  const std::string source = h5::read_string_attr(f.openGroup("/data"), "source");
  return make_dataset(std::move(X), std::move(yv), source, S);
}

void write_atomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  h5::silence_errors();
  const std::string tmp = path + ".tmp";
  try {
    write(tmp);
  } catch (const H5::Exception& e) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + e.getDetailMsg());
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
}

}  // namespace dmft
