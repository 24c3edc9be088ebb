#include "dmft/comparison.hpp"

#include <cmath>
#include <fstream>
#include <map>
#include <tuple>
#include <stdexcept>

#include "dmft/errors.hpp"
#include "dmft/output_common.hpp"
#include "dmft/registry.hpp"

namespace dmft {

double relative_frobenius(const Eigen::Ref<const RowMatrix>& x, const Eigen::Ref<const RowMatrix>& reference) {
  return (x - reference).norm() / reference.norm();
}

double alignment(const Eigen::Ref<const RowMatrix>& x, const Eigen::Ref<const RowMatrix>& reference) {
  return x.cwiseProduct(reference).sum() / (x.norm() * reference.norm());
}

std::vector<std::string> incompatibilities(const SolutionResults& dmft, const FiniteWidthResults& finite) {
  std::vector<std::string> out;
  const Dataset& a = dmft.data;
  const Dataset& b = finite.data;
  if (a.S != b.S) {
    out.push_back("the data sets differ (DMFT: " + a.source + ", S = " + std::to_string(a.S) + " tokens per sequence; finite: " +
                  b.source + ", S = " + std::to_string(b.S) + "); train with --like DMFT.h5 to use the solution's data");
    return out;
  }
  if (a.P() != b.P() || a.D() != b.D() || (a.X - b.X).cwiseAbs().maxCoeff() > 1e-12 * (1 + a.X.cwiseAbs().maxCoeff()) ||
      (a.y - b.y).cwiseAbs().maxCoeff() > 1e-12 * (1 + a.y.cwiseAbs().maxCoeff()))
    out.push_back("the data sets differ (DMFT: " + a.source + ", P = " + std::to_string(a.P()) +
                  "; finite: " + b.source + ", P = " + std::to_string(b.P()) +
                  "); train with --like DMFT.h5 to use the solution's data");
  const std::string act = dmft.parameters.at("activation");
  std::vector<std::string> names = {"activation", "depth", "sigma", "responses", "T", "eta", "gamma0"};
  if (act == "tanh" || act == "softplus") names.push_back("beta");
  // A ResNet is a different network from an MLP of the same depth, and its branch options change
  // it. Files of the other models may predate these options, so they are compared only here.
  auto residual = [](const std::string& model) {
    try {
      return make_model(model)->residual();
    } catch (const InputError&) {
      return false;  // a model this build does not know: its parameters are compared as they are
    }
  };
  const std::string dmft_model = dmft.parameters.count("model") ? dmft.parameters.at("model") : dmft.model;
  const std::string finite_model = finite.parameters.count("model") ? finite.parameters.at("model") : "?";
  if (residual(dmft_model) != residual(finite_model))
    out.push_back("--model differs: DMFT file has " + dmft_model + ", finite-width file has " + finite_model + " (" +
                  (residual(dmft_model) ? "the DMFT's network has residual branches, the finite one none"
                                           : "the finite network has residual branches, the DMFT's none") + ")");
  if (residual(dmft_model))
    for (const char* name : {"beta0", "branch-depth", "train-input-layer"}) names.push_back(name);
  if ((dmft_model == "attention") != (finite_model == "attention"))
    out.push_back("--model differs: DMFT file has " + dmft_model + ", finite-width file has " + finite_model);
  if (dmft_model == "attention" && finite_model == "attention") {
    // Limit A is N -> inf (networks of growing head dimension), limit B is H -> inf at the solve's N.
    const std::string limit = dmft.parameters.count("limit") ? dmft.parameters.at("limit") : "?";
    const std::string axis = finite.parameters.count("width-axis") ? finite.parameters.at("width-axis") : "?";
    if (limit == "a" && axis != "head-dim")
      out.push_back("--width-axis is " + axis + ": limit A (N -> inf) is approached by networks of growing head dimension (--width-axis head-dim)");
    if (limit == "b" && axis != "heads")
      out.push_back("--width-axis is " + axis + ": limit B (H -> inf at fixed N) is approached by networks with more heads (--width-axis heads)");
    if (limit == "b") names.push_back("head-dim");
  }
  if (dmft_model == "attention")
    for (const char* name : {"block", "alpha-a", "pool", "causal-mask", "rho", "beta0", "lr-e", "lr-q", "lr-k", "lr-v", "lr-o", "lr-w"})
      names.push_back(name);
  for (const auto& name : names) {
    const std::string x = dmft.parameters.count(name) ? dmft.parameters.at(name) : "?";
    const std::string y = finite.parameters.count(name) ? finite.parameters.at(name) : "?";
    bool same = x == y;
    if (!same) {  // numbers written with different precision
      try {
        same = std::abs(std::stod(x) - std::stod(y)) <= 1e-12 * std::max(1.0, std::abs(std::stod(x)));
      } catch (const std::exception&) {
      }
    }
    if (!same) out.push_back("--" + name + " differs: DMFT file has " + x + ", finite-width file has " + y);
  }
  return out;
}

namespace {

void add_metrics(std::vector<ComparisonRow>& rows, long long N, long long seed, int layer, const std::string& q,
                 const RowMatrix& x, const RowMatrix& ref) {
  rows.push_back({N, seed, layer, q, "rel_frobenius", relative_frobenius(x, ref)});
  rows.push_back({N, seed, layer, q, "alignment", alignment(x, ref)});
}

void add_loss_metrics(std::vector<ComparisonRow>& rows, long long N, long long seed, const Vector& x, const Vector& ref) {
  const RowMatrix xr = x.transpose(), rr = ref.transpose();
  add_metrics(rows, N, seed, 0, "loss", xr, rr);
  rows.push_back({N, seed, 0, "loss", "max_abs", (x - ref).cwiseAbs().maxCoeff()});
  rows.push_back({N, seed, 0, "loss", "max_rel", ((x - ref).cwiseAbs().array() / ref.cwiseAbs().array()).maxCoeff()});
}

/// Metrics of one network (or the seed mean) against the DMFT.
/// rms over the last row of x − reference (attention: the docs' rms error at the last step).
double rms_final(const RowMatrix& x, const RowMatrix& reference) {
  const Index t = x.rows() - 1;
  return std::sqrt((x.row(t) - reference.row(t)).squaredNorm() / double(x.cols()));
}

/// Attention: residuals, head-mean logits and the two-time arrays with token indices.
void compare_attention(std::vector<ComparisonRow>& rows, long long N, long long seed, const KernelSet& net,
                       const KernelSet& ref) {
  add_metrics(rows, N, seed, 0, "Delta", net.Delta, ref.Delta);
  rows.push_back({N, seed, 0, "Delta", "rms_final", rms_final(net.Delta, ref.Delta)});
  add_metrics(rows, N, seed, 0, "A", net.logits, ref.logits);
  rows.push_back({N, seed, 0, "A", "rms_final", rms_final(net.logits, ref.logits)});
  for (const auto& [name, K] : net.token_kernels)
    if (const auto it = ref.token_kernels.find(name); it != ref.token_kernels.end())
      add_metrics(rows, N, seed, 0, name, K, it->second);
}

void compare_one(std::vector<ComparisonRow>& rows, long long N, long long seed, const KernelSet& net,
                 const KernelSet& ref) {
  add_loss_metrics(rows, N, seed, net.loss, ref.loss);
  if (net.ntk.size() && ref.ntk.size()) add_metrics(rows, N, seed, 0, "ntk", net.ntk, ref.ntk);
  if (net.logits.size() && ref.logits.size()) compare_attention(rows, N, seed, net, ref);
  for (const char* q : {"Phi", "G"}) {
    const auto& mine = std::string(q) == "Phi" ? net.Phi : net.G;
    const auto& theirs = std::string(q) == "Phi" ? ref.Phi : ref.G;
    if (mine.empty()) continue;
    double err = 0, al = 0;
    for (std::size_t l = 0; l < mine.size(); ++l) {
      const double e = relative_frobenius(mine[l], theirs[l]), a = alignment(mine[l], theirs[l]);
      rows.push_back({N, seed, int(l + 1), q, "rel_frobenius", e});
      rows.push_back({N, seed, int(l + 1), q, "alignment", a});
      err += e;
      al += a;
    }
    rows.push_back({N, seed, 0, q, "rel_frobenius", err / double(mine.size())});
    rows.push_back({N, seed, 0, q, "alignment", al / double(mine.size())});
  }
}

}  // namespace

Comparison compare(const SolutionResults& dmft, const FiniteWidthResults& finite) {
  if (!finite.kernels) throw std::runtime_error("the finite-width file is a coordinate check (no kernels)");
  Comparison c;
  c.model = dmft.model;
  const long long first_seed = std::stoll(finite.parameters.at("seed"));
  for (const auto& w : finite.widths) {
    for (std::size_t k = 0; k < w.seeds.size(); ++k)
      compare_one(c.rows, w.N, first_seed + (long long)k, w.seeds[k], dmft.kernels);
    compare_one(c.rows, w.N, -1, w.mean, dmft.kernels);
  }
  // Rates: the per-seed relative error (mean over seeds ± its standard error) against N. Where the
  // per-seed kernels were not stored, the seed-mean error is fitted instead (it has no error bars;
  // relative weights of 10% are used and the error bar comes from the scatter alone).
  // One pass over the table: the rel_frobenius values of each (quantity, layer), per width.
  std::map<std::tuple<std::string, int, std::string>, std::map<long long, std::vector<double>>> per_seed, seed_mean;
  for (const auto& r : c.rows)
    if (r.metric == "rel_frobenius" || r.metric == "rms_final")
      (r.seed >= 0 ? per_seed : seed_mean)[{r.quantity, r.layer, r.metric}][r.width].push_back(r.value);
  for (const auto& [key, by_width] : seed_mean) {
    RateFit f;
    f.quantity = std::get<0>(key);
    f.layer = std::get<1>(key);
    f.metric = std::get<2>(key);
    const auto it = per_seed.find(key);
    f.data = it != per_seed.end() ? "per-seed" : "seed-mean";
    for (const auto& w : finite.widths) {
      const std::vector<double>& v = (it != per_seed.end() ? it->second : by_width).at(w.N);
      double m = 0, ss = 0;
      for (double x : v) m += x;
      m /= double(v.size());
      for (double x : v) ss += (x - m) * (x - m);
      const double se = v.size() > 1 ? std::sqrt(ss / double(v.size() - 1) / double(v.size())) : 0.0;
      f.widths.push_back(double(w.N));
      f.error.push_back(m);
      f.error_se.push_back(se > 0 ? se : 0.1 * m);
    }
    f.fit = fit_power_law(f.widths, f.error, f.error_se);
    c.fits.push_back(std::move(f));
  }
  return c;
}

void write_comparison(const std::string& path, const Comparison& c, const std::string& dmft_path,
                      const std::string& finite_path, const std::string& command_line) {
  write_atomically(path, [&](const std::string& tmp) {
    H5::H5File f(tmp, H5F_ACC_TRUNC);
    H5::Group root = f.openGroup("/");
    write_provenance(root, "dmft-comparison", 1, command_line, c.model);
    h5::write_attr(root, "dmft_file", dmft_path);
    h5::write_attr(root, "finite_width_file", finite_path);
    H5::Group gt = h5::create_group(root, "table");
    h5::write_attr(gt, "description",
                   "tidy table, one row per (width, seed, layer, quantity, metric); seed -1 is the seed-mean "
                   "network; layer 0 is the loss/ntk, or for Phi and G the mean over layers. rel_frobenius = "
                   "||K_N - K_inf||_F / ||K_inf||_F over the whole (T,P,T,P) array; alignment = <K_N,K_inf>_F / "
                   "(||K_N||_F ||K_inf||_F); loss max_abs = max_t |loss_N - loss_inf|, max_rel = max_t of that / loss_inf");
    std::vector<long long> width, seed, layer;
    std::vector<std::string> quantity, metric;
    std::vector<double> value;
    for (const auto& r : c.rows) {
      width.push_back(r.width);
      seed.push_back(r.seed);
      layer.push_back(r.layer);
      quantity.push_back(r.quantity);
      metric.push_back(r.metric);
      value.push_back(r.value);
    }
    h5::write_int_array(gt, "width", width, "row", "network width N");
    h5::write_int_array(gt, "seed", seed, "row", "network seed; -1: the seed-mean network");
    h5::write_int_array(gt, "layer", layer, "row", "hidden layer (1..L); 0: loss/ntk, or the mean over layers");
    h5::write_string_array(gt, "quantity", quantity, "row",
                           "loss | ntk | Phi | G; attention: Delta | A (head-mean logits) | Phi_h | Phi_o | G_u | ...");
    h5::write_string_array(gt, "metric", metric, "row",
                           "rel_frobenius | alignment | max_abs | max_rel | rms_final (attention: rms over mu (and a, b) of the "
                           "difference at t = T-1, absolute)");
    h5::write_array(gt, "value", value, "row", "the metric (dimensionless)");

    H5::Group gf = h5::create_group(root, "fits");
    h5::write_attr(gf, "description",
                   "rel_frobenius ~ c * N^(-a), weighted least squares (Ceres) on the mean over seeds of the per-seed "
                   "error with its standard error as weight; a_se, c_se from the fit covariance, inflated by "
                   "sqrt(chi2_dof) when > 1");
    std::vector<std::string> q, data, metric_of_fit;
    std::vector<long long> l, ok;
    std::vector<double> a, a_se, cc, c_se, chi2;
    for (const auto& fit : c.fits) {
      q.push_back(fit.quantity);
      metric_of_fit.push_back(fit.metric);
      l.push_back(fit.layer);
      data.push_back(fit.data);
      ok.push_back(fit.fit.ok);
      a.push_back(fit.fit.a);
      a_se.push_back(fit.fit.a_se);
      cc.push_back(fit.fit.c);
      c_se.push_back(fit.fit.c_se);
      chi2.push_back(fit.fit.chi2_dof);
    }
    h5::write_string_array(gf, "quantity", q, "fit");
    h5::write_string_array(gf, "metric", metric_of_fit, "fit", "rel_frobenius | rms_final: the error that was fitted");
    h5::write_int_array(gf, "layer", l, "fit", "as in /table");
    h5::write_string_array(gf, "data", data, "fit", "per-seed | seed-mean: which errors were fitted");
    h5::write_int_array(gf, "ok", ok, "fit", "1 if the fit succeeded");
    h5::write_array(gf, "a", a, "fit", "fitted exponent");
    h5::write_array(gf, "a_se", a_se, "fit", "standard error of a");
    h5::write_array(gf, "c", cc, "fit", "fitted prefactor");
    h5::write_array(gf, "c_se", c_se, "fit", "standard error of c");
    h5::write_array(gf, "chi2_dof", chi2, "fit", "chi^2 per degree of freedom (0 with two widths)");
    h5::write_attr(root, "complete", 1);
    f.close();
  });
}

void write_comparison_csv(const std::string& path, const Comparison& c) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << "width,seed,layer,quantity,metric,value\n";
  out.precision(17);
  for (const auto& r : c.rows)
    out << r.width << ',' << r.seed << ',' << r.layer << ',' << r.quantity << ',' << r.metric << ',' << r.value << '\n';
}

}  // namespace dmft
