#include "dmft/finite_width_file.hpp"

#include <filesystem>

#include "dmft/errors.hpp"
#include "dmft/output_common.hpp"

namespace dmft {
namespace {

/// The attention kernels (two-time arrays with token indices) that dmft compare reads back.
constexpr const char* kComparedTokenKernels[] = {"Phi_h", "Phi_o", "G_u", "G_Q", "G_K", "G_V"};

/// "N<width>", the group of one width (appended, not concatenated: GCC 12 warns falsely (-Wrestrict)
/// on "literal" + std::to_string).
std::string width_group(long long width) {
  std::string name = "N";
  name += std::to_string(width);
  return name;
}

/// Writes `name` (per seed, with a leading seed axis), `name_mean` and `name_std`.
void write_over_seeds(H5::Group& g, const std::string& name, const std::vector<const RowMatrix*>& per_seed,
                      const std::vector<hsize_t>& shape, const std::string& axes, const std::string& description,
                      bool keep_seeds) {
  if (keep_seeds) {
    std::vector<const double*> slices;
    for (const RowMatrix* m : per_seed) slices.push_back(m->data());
    h5::write_slices(g, name, slices, shape, "seed," + axes, description + ", one per seed");
  }
  const SeedStatistics s = seed_statistics(per_seed);
  h5::write_array(g, name + "_mean", s.mean.data(), shape, axes, description + ", mean over seeds");
  h5::write_array(g, name + "_std", s.std.data(), shape, axes,
                  description + ", sample standard deviation over seeds (0 for one seed)");
}

void write_file(const std::string& tmp, const TrainParameters& params, const std::string& command_line,
                const Dataset& data, const std::vector<WidthRuns>& widths) {
  const hsize_t T = hsize_t(params.T), P = hsize_t(data.P()), L = hsize_t(params.depth);
  H5::H5File f(tmp, H5F_ACC_TRUNC);
  H5::Group root = f.openGroup("/");
  write_provenance(root, kFiniteWidthFormat, kFiniteWidthVersion, command_line, params.model);
  h5::write_attr(root, "layout", "two-time arrays are row-major (T,P,T,P): element [t,mu,s,nu] = K(t,mu; s,nu)");
  H5::Group gp = h5::create_group(root, "parameters");
  write_parameters(gp, params);
  write_data_group(root, data);

  H5::Group gf = h5::create_group(root, "finite_width");
  h5::write_attr(gf, "network", params.responses == "gia" ? "decoupled_backward" : "standard");
  h5::write_attr(gf, "readout", params.readout);
  h5::write_attr(gf, "centred", 1);
  h5::write_attr(gf, "kernels", params.coord_check ? 0 : 1);
  h5::write_attr(gf, "seeds", params.seeds);
  std::vector<long long> ws;
  for (const auto& w : widths) ws.push_back(w.width);
  h5::write_int_array(gf, "widths", ws, "width", "network widths N; group N<width> holds each");
  std::vector<long long> seeds;
  for (long long k = 0; k < params.seeds; ++k) seeds.push_back(params.seed + k);
  h5::write_int_array(gf, "seed_values", seeds, "seed", "the seed of each network (index along every 'seed' axis)");

  const bool keep = params.seed_kernels == "keep";
  for (const auto& w : widths) {
    H5::Group gw = h5::create_group(gf, width_group(w.width));
    h5::write_attr(gw, "width", w.width);
    auto collect = [&](auto member) {
      std::vector<const RowMatrix*> v;
      for (const auto& r : w.runs) v.push_back(&(r.*member));
      return v;
    };
    std::vector<RowMatrix> loss_rows;
    for (const auto& r : w.runs) loss_rows.push_back(r.loss.transpose());
    std::vector<const RowMatrix*> losses;
    for (const auto& x : loss_rows) losses.push_back(&x);
    write_over_seeds(gw, "loss", losses, {T}, "t",
                     "mean squared residual (1/P) sum_mu Delta(t,mu)^2 (twice the objective), f centred", true);
    write_over_seeds(gw, "Delta", collect(&NetworkRun::Delta), {T, P}, "t,mu", "residuals y - (f(t) - f(0))", true);
    const NetworkRun& first = w.runs.front();
    if (first.ntk.size())  // finite M0 attention networks do not record it
      write_over_seeds(gw, "ntk", collect(&NetworkRun::ntk), {T, P, P}, "t,mu,nu",
                       data.sequences()
                           ? "effective NTK K(t) = gamma0^2 M sum_theta c_theta df/dtheta df/dtheta^T (attention.md 3.2)"
                           : "NTK G1*Kx + sum G^{l+1}*Phi^l + Phi^L at equal times (= gamma0^2 N J J^T); ResNets: a^2 on "
                             "the sum, no G1*Kx with a frozen input layer", true);
    if (first.logits.size()) {
      const hsize_t S = hsize_t(data.S);
      write_over_seeds(gw, "logits", collect(&NetworkRun::logits), {T, P, S, S}, "t,mu,a,b",
                       "attention logits A(t,mu)_ab = N^{-alpha_A} q_a.k_b, averaged over the heads", true);
      if (keep && first.logits_heads.size()) {  // every head's logits (head collapse, attention.md 4.6), per seed
        std::vector<const double*> slices;
        for (const auto& r : w.runs) slices.push_back(r.logits_heads.data());
        h5::write_slices(gw, "logits_heads", slices, {T, P, hsize_t(first.heads), S, S}, "seed,t,mu,head,a,b",
                         "attention logits A^head(t,mu)_ab of every head, one per seed");
      }
      H5::Group gk = h5::create_group(gw, "kernels");
      for (const auto& [name, K] : first.token_kernels) {
        std::vector<const RowMatrix*> per_seed;
        for (const auto& r : w.runs) per_seed.push_back(&r.token_kernels.at(name));
        write_over_seeds(gk, name, per_seed, {T, P, S, T, P, S}, "t,mu,a,s,nu,b",
                         "two-time array " + name + " of the finite network (attention.md 3.2 table, M^-1 sums)", keep);
      }
    }
    if (first.mean_abs_h.size() == 0) continue;  // attention: no coordinate check, no layers
    write_over_seeds(gw, "mean_abs_h", collect(&NetworkRun::mean_abs_h), {T, L}, "t,layer",
                     "coordinate check: mean over neurons and inputs of |h^l(t)|", true);
    write_over_seeds(gw, "mean_abs_dh", collect(&NetworkRun::mean_abs_dh), {T, L}, "t,layer",
                     "coordinate check: mean of |h^l(t) - h^l(0)|", true);
    if (params.coord_check) continue;
    for (hsize_t l = 0; l < L; ++l) {
      H5::Group gl = h5::create_group(gw, "layers/" + std::to_string(l + 1));
      std::vector<const RowMatrix*> phi, g;
      for (const auto& r : w.runs) {
        phi.push_back(&r.Phi[l]);
        g.push_back(&r.G[l]);
      }
      write_over_seeds(gl, "Phi", phi, {T, P, T, P}, "t,mu,s,nu", "feature kernel phi(h(t,mu)).phi(h(s,nu))/N", keep);
      write_over_seeds(gl, "G", g, {T, P, T, P}, "t,mu,s,nu", "gradient kernel g(t,mu).g(s,nu)/N", keep);
    }
  }
  h5::write_attr(root, "complete", 1);  // last
  f.close();
}

H5::H5File open_complete(const std::string& path, const std::string& format, const std::string& role) {
  h5::silence_errors();
  if (!std::filesystem::exists(path)) throw InputError(role, path, "no such file");
  H5::H5File f;
  try {
    f = H5::H5File(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception&) {
    throw InputError(role, path, "is not an HDF5 file");
  }
  H5::Group root = f.openGroup("/");
  if (!h5::has_attr(root, "format") || h5::read_string_attr(root, "format") != format)
    throw InputError(role, path, "is not a " + format + " file (written by " +
                                     (format == kFiniteWidthFormat ? "dmft train" : "dmft solve") + ")");
  if (!h5::has_attr(root, "complete") || h5::read_int_attr(root, "complete") != 1)
    throw InputError(role, path, "is incomplete (its run was interrupted or failed)");
  return f;
}

std::map<std::string, std::string> read_parameters(const H5::H5File& f) {
  std::map<std::string, std::string> out;
  H5::Group g = f.openGroup("/parameters");
  for (int i = 0; i < g.getNumAttrs(); ++i) {
    const std::string name = g.openAttribute(unsigned(i)).getName();
    out[name] = h5::read_attr_as_string(g, name);
  }
  return out;
}

RowMatrix read_matrix(const H5::H5File& f, const std::string& path, Index rows, Index cols) {
  std::vector<hsize_t> shape;
  const std::vector<double> v = h5::read_array(f, path, shape);
  if (Index(v.size()) != rows * cols) throw std::runtime_error(path + " has an unexpected size");
  return Eigen::Map<const RowMatrix>(v.data(), rows, cols);
}

/// Per-seed rows of a (K, ...) dataset, each reshaped to rows×cols.
std::vector<RowMatrix> read_per_seed(const H5::H5File& f, const std::string& path, Index K, Index rows, Index cols) {
  const RowMatrix all = read_matrix(f, path, K, rows * cols);
  std::vector<RowMatrix> out;
  for (Index k = 0; k < K; ++k) out.push_back(Eigen::Map<const RowMatrix>(all.row(k).data(), rows, cols));
  return out;
}

}  // namespace

void write_finite_width(const std::string& path, const TrainParameters& params, const std::string& command_line,
                        const Dataset& data, const std::vector<WidthRuns>& widths) {
  write_atomically(path, [&](const std::string& tmp) { write_file(tmp, params, command_line, data, widths); });
}

FiniteWidthResults read_finite_width(const std::string& path) {
  H5::H5File f = open_complete(path, kFiniteWidthFormat, "FINITE.h5");
  FiniteWidthResults r;
  r.parameters = read_parameters(f);
  r.data = read_data_group(f, path);
  r.T = std::stoll(r.parameters.at("T"));
  r.depth = std::stoi(r.parameters.at("depth"));
  H5::Group gf = f.openGroup("/finite_width");
  r.kernels = h5::read_int_attr(gf, "kernels") == 1;
  const Index T = r.T, P = r.data.P(), n = T * P;
  const Index seeds = Index(h5::read_int_array(f, "/finite_width/seed_values").size());
  for (long long N : h5::read_int_array(f, "/finite_width/widths")) {
    const std::string base = "/finite_width/" + width_group(N);
    FiniteWidthResults::Width w;
    w.N = N;
    const Index K = seeds;
    const auto loss = read_per_seed(f, base + "/loss", K, T, 1);
    const auto delta = read_per_seed(f, base + "/Delta", K, T, P);
    w.seeds.resize(std::size_t(K));
    for (Index k = 0; k < K; ++k) {
      w.seeds[std::size_t(k)].loss = loss[std::size_t(k)].col(0);
      w.seeds[std::size_t(k)].Delta = delta[std::size_t(k)];
    }
    w.mean.loss = read_matrix(f, base + "/loss_mean", T, 1).col(0);
    w.mean.Delta = read_matrix(f, base + "/Delta_mean", T, P);
    if (h5::has_object(f, base + "/ntk")) {
      const auto ntk = read_per_seed(f, base + "/ntk", K, T, P * P);
      for (Index k = 0; k < K; ++k) w.seeds[std::size_t(k)].ntk = ntk[std::size_t(k)];
      w.mean.ntk = read_matrix(f, base + "/ntk_mean", T, P * P);
    }
    if (r.data.sequences()) {  // attention networks
      const Index S = r.data.S, nt = T * P * S;
      const auto logits = read_per_seed(f, base + "/logits", K, T, P * S * S);
      for (Index k = 0; k < K; ++k) w.seeds[std::size_t(k)].logits = logits[std::size_t(k)];
      w.mean.logits = read_matrix(f, base + "/logits_mean", T, P * S * S);
      for (const std::string name : kComparedTokenKernels) {
        const std::string path_k = base + "/kernels/" + name;
        if (!h5::has_object(f, path_k + "_mean")) continue;
        w.mean.token_kernels[name] = read_matrix(f, path_k + "_mean", nt, nt);
        if (!h5::has_object(f, path_k)) continue;
        const auto per_seed = read_per_seed(f, path_k, K, nt, nt);
        for (Index k = 0; k < K; ++k) w.seeds[std::size_t(k)].token_kernels[name] = per_seed[std::size_t(k)];
      }
    }
    if (r.kernels && !r.data.sequences()) {
      for (int l = 1; l <= r.depth; ++l) {
        const std::string gl = base + "/layers/" + std::to_string(l);
        w.mean.Phi.push_back(read_matrix(f, gl + "/Phi_mean", n, n));
        w.mean.G.push_back(read_matrix(f, gl + "/G_mean", n, n));
        if (h5::has_object(f, gl + "/Phi")) {
          const auto phi = read_per_seed(f, gl + "/Phi", K, n, n);
          const auto g = read_per_seed(f, gl + "/G", K, n, n);
          for (Index k = 0; k < K; ++k) {
            w.seeds[std::size_t(k)].Phi.push_back(phi[std::size_t(k)]);
            w.seeds[std::size_t(k)].G.push_back(g[std::size_t(k)]);
          }
        }
      }
    }
    r.widths.push_back(std::move(w));
  }
  return r;
}

SolutionResults read_solution(const std::string& path) {
  H5::H5File f = open_complete(path, "dmft-solution", "DMFT.h5");
  SolutionResults r;
  r.parameters = read_parameters(f);
  r.data = read_data_group(f, path);
  r.model = h5::read_string_attr(f.openGroup("/"), "model");
  r.T = std::stoll(r.parameters.at("T"));
  const Index T = r.T, P = r.data.P(), n = T * P;
  r.kernels.loss = read_matrix(f, "/solution/loss", T, 1).col(0);
  r.kernels.Delta = read_matrix(f, "/solution/Delta", T, P);
  if (h5::has_object(f, "/solution/ntk")) r.kernels.ntk = read_matrix(f, "/solution/ntk", T, P * P);
  if (r.data.sequences()) {  // an attention solution (attention_file.cpp)
    const Index S = r.data.S, nt = T * P * S;
    r.kernels.logits = read_matrix(f, "/solution/attention/logits", T, P * S * S);
    for (const std::string name : kComparedTokenKernels)
      if (h5::has_object(f, "/solution/kernels/" + name))
        r.kernels.token_kernels[name] = read_matrix(f, "/solution/kernels/" + name, nt, nt);
    r.depth = 1;
    return r;
  }
  for (int l = 1; h5::has_object(f, "/solution/layers/" + std::to_string(l)); ++l) {
    const std::string gl = "/solution/layers/" + std::to_string(l);
    r.kernels.Phi.push_back(read_matrix(f, gl + "/Phi", n, n));
    r.kernels.G.push_back(read_matrix(f, gl + "/G", n, n));
  }
  r.depth = int(r.kernels.Phi.size());
  return r;
}

}  // namespace dmft
