// dmft sweep collect: every complete point of a manifest into one table.
#include <H5Cpp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "dmft/comparison.hpp"
#include "dmft/errors.hpp"
#include "dmft/finite_width_file.hpp"
#include "dmft/h5_util.hpp"
#include "dmft/output_common.hpp"
#include "dmft/parameter_text.hpp"
#include "dmft/sweep.hpp"

namespace dmft::sweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Target alignment yᵀ K y / (‖K‖_F ‖y‖²) of the P×P NTK at step t (1 when K ∝ yyᵀ).
double target_alignment(const RowMatrix& ntk, Index t, const Vector& y) {
  const Index P = y.size();
  const Eigen::Map<const RowMatrix> K(ntk.row(t).data(), P, P);
  const double norm = K.norm() * y.squaredNorm();
  return norm > 0 ? y.dot(K * y) / norm : kNaN;
}

/// The table under construction: columns by name, each row filled in column order.
class Builder {
 public:
  Column& add(const std::string& name, Column::Kind kind, const std::string& description) {
    columns_.push_back({kind, name, description, {}, {}});
    return columns_.back();
  }
  void set(const std::string& name, double v) { row_numbers_[name] = v; }
  void set(const std::string& name, const std::string& v) { row_texts_[name] = v; }
  void end_row() {
    for (Column& c : columns_) {
      if (c.kind == Column::text) {
        const auto it = row_texts_.find(c.name);
        c.texts.push_back(it == row_texts_.end() ? "" : it->second);
      } else {
        const auto it = row_numbers_.find(c.name);
        c.numbers.push_back(it == row_numbers_.end() ? (c.kind == Column::integer ? -1.0 : kNaN) : it->second);
      }
    }
    row_numbers_.clear();
    row_texts_.clear();
    ++rows_;
  }
  /// Forget a row half set (its point could not be read).
  void discard_row() {
    row_numbers_.clear();
    row_texts_.clear();
  }
  std::vector<Column> columns() const { return columns_; }
  std::size_t rows() const { return rows_; }

 private:
  std::vector<Column> columns_;
  std::map<std::string, double> row_numbers_;
  std::map<std::string, std::string> row_texts_;
  std::size_t rows_ = 0;
};

/// Effective values of the manifest's parameter columns for a point (defaults filled in).
std::map<std::string, std::string> effective_parameters(const Manifest& m, const Point& p) {
  std::map<std::string, std::string> out;
  with_parameters_of(p.command, [&](auto& params) {
    for (const auto& [name, value] : p.options) set_parameter(params, name, value);
    for (const auto& c : m.columns)
      if (is_parameter(p.command, c)) out[c] = parameter_text(params, c);
  });
  return out;
}

/// Seed-mean network (seed −1), layer mean (0) rows of `dmft compare` for one width.
void set_comparison(Builder& b, const Comparison& c, long long width) {
  for (const auto& r : c.rows) {
    if (r.width != width || r.seed != -1 || r.layer != 0) continue;
    if (r.quantity == "loss" && r.metric == "max_rel") b.set("vs_dmft_loss_max_rel", r.value);
    if (r.quantity != "loss" && r.metric == "rel_frobenius") b.set("vs_dmft_" + r.quantity + "_rel_error", r.value);
    if (r.quantity != "loss" && r.metric == "alignment") b.set("vs_dmft_" + r.quantity + "_alignment", r.value);
  }
}

void add_rows(const Manifest& m, const Point& p, Builder& b, Collected& out, const std::map<std::string, long long>& twin_of,
              const std::function<const SolutionResults&(long long)>& solution);

}  // namespace

Collected collect(const Manifest& m) {
  Collected out;
  Builder b;
  b.add("index", Column::integer, "point index in the manifest");
  b.add("command", Column::text, "solve (the DMFT, infinite width) or train (finite networks)");
  b.add("hash", Column::text, "hash of the point's recorded parameters (manifest)");
  b.add("problem_hash", Column::text, "hash of the problem parameters: a train point and its solve twin share it");
  b.add("output", Column::text, "the point's output file, relative to the manifest");
  b.add("width", Column::integer, "network width N; 0 for a solve (the infinite-width limit)");
  b.add("status", Column::text, "solve: converged | max_iter | numerical_failure; train: trained");
  for (const auto& c : m.columns) {
    const bool text = (is_parameter("solve", c) ? parameter_kind("solve", c) : parameter_kind("train", c)) == "text";
    // Numbers as float64 (integers included), so that "not an option of this point's command" is NaN.
    b.add(c, text ? Column::text : Column::real,
          "parameter --" + c + " (its default where the point did not set it; NaN or empty where its command has no such option)");
  }
  b.add("loss_initial", Column::real, "loss at t = 0, (1/P) sum_mu Delta^2 (twice the objective); train: seed mean");
  b.add("loss_final", Column::real, "loss at t = T-1; train: seed mean");
  b.add("loss_final_std", Column::real, "train: standard deviation over seeds of the loss at t = T-1 (ddof 1); NaN for one seed or a solve");
  b.add("iterations", Column::integer, "solve: outer iterations; train: -1");
  b.add("noise_floor", Column::real, "solve: Monte Carlo noise floor of the last iteration (NaN without sampling or for train)");
  b.add("ntk_target_alignment_initial", Column::real, "y^T K y / (||K||_F ||y||^2) of the NTK at t = 0 (train: seed-mean NTK)");
  b.add("ntk_target_alignment_final", Column::real, "the same at t = T-1: how far the kernel has aligned with the target");
  b.add("dmft_index", Column::integer, "train: index of the complete solve point with the same problem (-1: none)");
  for (const char* q : {"ntk", "Phi", "G"}) {
    b.add(std::string("vs_dmft_") + q + "_rel_error", Column::real,
          std::string("train: ||K_N - K_inf||_F / ||K_inf||_F of ") + q + " against the solve twin (seed-mean network" +
              (q[0] == 'n' ? ")" : ", mean over layers)"));
    b.add(std::string("vs_dmft_") + q + "_alignment", Column::real,
          std::string("train: <K_N, K_inf>_F / (||K_N||_F ||K_inf||_F) of ") + q + " against the solve twin");
  }
  b.add("vs_dmft_loss_max_rel", Column::real, "train: max_t |loss_N - loss_inf| / loss_inf against the solve twin");

  // Complete solve points by problem, for the comparisons; a solution is read (whole) only for
  // them, and dropped after the last train point that needs it.
  std::map<std::string, long long> twin_of, train_points_left;
  std::vector<PointStatus> state(m.points.size());
  for (const auto& p : m.points) {
    state[std::size_t(p.index)] = point_status(m, p);
    if (p.command == "solve" && state[std::size_t(p.index)] == PointStatus::complete && !twin_of.count(p.problem_hash))
      twin_of[p.problem_hash] = p.index;
    if (p.command == "train" && state[std::size_t(p.index)] == PointStatus::complete) ++train_points_left[p.problem_hash];
  }
  std::map<long long, SolutionResults> solutions;
  auto solution = [&](long long index) -> const SolutionResults& {
    auto it = solutions.find(index);
    if (it == solutions.end()) it = solutions.emplace(index, read_solution(absolute(m, m.points[std::size_t(index)].output))).first;
    return it->second;
  };

  for (const auto& p : m.points) {
    const PointStatus s = state[std::size_t(p.index)];
    if (s != PointStatus::complete) {
      out.skipped.push_back(p.index);
      out.skipped_state.push_back(to_string(s));
      continue;
    }
    try {
      add_rows(m, p, b, out, twin_of, solution);
    } catch (const std::exception& e) {  // a file we cannot read is reported, not fatal to the table
      b.discard_row();
      out.skipped.push_back(p.index);
      out.skipped_state.push_back("unreadable");
      out.notes.push_back("point " + std::to_string(p.index) + ": " + e.what());
    } catch (const H5::Exception& e) {
      b.discard_row();
      out.skipped.push_back(p.index);
      out.skipped_state.push_back("unreadable");
      out.notes.push_back("point " + std::to_string(p.index) + ": " + e.getDetailMsg());
    }
    if (p.command == "train" && --train_points_left[p.problem_hash] == 0 && twin_of.count(p.problem_hash))
      solutions.erase(twin_of[p.problem_hash]);
  }
  out.columns = b.columns();
  out.rows = b.rows();
  return out;
}

namespace {

void add_rows(const Manifest& m, const Point& p, Builder& b, Collected& out, const std::map<std::string, long long>& twin_of,
              const std::function<const SolutionResults&(long long)>& solution) {
  {
    const auto params = effective_parameters(m, p);
    auto common = [&]() {
      b.set("index", double(p.index));
      b.set("command", p.command);
      b.set("hash", p.hash);
      b.set("problem_hash", p.problem_hash);
      b.set("output", p.output);
      for (const auto& [name, value] : params) {
        double x = 0;
        if (parameter_kind(p.command, name) == "text") b.set(name, value);
        else if (parse_value(value, x)) b.set(name, x);
      }
    };
    const std::string path = absolute(m, p.output);
    if (p.command == "solve") {  // only the loss, the NTK and /convergence: not the kernels
      H5::H5File f(path, H5F_ACC_RDONLY);
      H5::Group conv = f.openGroup("/convergence");
      std::vector<hsize_t> shape;
      const std::vector<double> loss = h5::read_array(f, "/solution/loss", shape);
      const std::vector<double> ntk = h5::read_array(f, "/solution/ntk", shape);  // (T, P, P)
      const std::vector<double> y = h5::read_array(f, "/data/y", shape);
      const Index T = Index(loss.size()), P = Index(y.size());
      const RowMatrix K = Eigen::Map<const RowMatrix>(ntk.data(), T, P * P);
      const Vector yv = Eigen::Map<const Vector>(y.data(), P);
      common();
      b.set("width", 0.0);
      b.set("status", h5::read_string_attr(conv, "status"));
      b.set("loss_initial", loss.front());
      b.set("loss_final", loss.back());
      b.set("iterations", double(h5::read_int_attr(conv, "iterations")));
      const std::vector<double> noise = h5::read_array(f, "/convergence/noise_floor", shape);
      if (!noise.empty() && noise.back() > 0) b.set("noise_floor", noise.back());
      b.set("ntk_target_alignment_initial", target_alignment(K, 0, yv));
      b.set("ntk_target_alignment_final", target_alignment(K, T - 1, yv));
      b.end_row();
      return;
    }
    const FiniteWidthResults r = read_finite_width(path);
    std::optional<Comparison> vs;
    const auto twin = twin_of.find(p.problem_hash);
    if (twin != twin_of.end() && r.kernels) {
      const SolutionResults& dmft = solution(twin->second);
      const auto why = incompatibilities(dmft, r);
      if (why.empty()) vs = compare(dmft, r);
      else out.notes.push_back("point " + std::to_string(p.index) + ": not compared with point " + std::to_string(twin->second) + ": " + why.front());
    }
    for (const auto& w : r.widths) {
      common();
      b.set("width", double(w.N));
      b.set("status", std::string("trained"));
      b.set("loss_initial", w.mean.loss[0]);
      b.set("loss_final", w.mean.loss[r.T - 1]);
      if (w.seeds.size() > 1) {  // with one seed: NaN (no spread to estimate)
        double sum = 0, sq = 0;
        for (const auto& k : w.seeds) sum += k.loss[r.T - 1];
        const double mean = sum / double(w.seeds.size());
        for (const auto& k : w.seeds) sq += (k.loss[r.T - 1] - mean) * (k.loss[r.T - 1] - mean);
        b.set("loss_final_std", std::sqrt(sq / double(w.seeds.size() - 1)));
      }
      b.set("ntk_target_alignment_initial", target_alignment(w.mean.ntk, 0, r.data.y));
      b.set("ntk_target_alignment_final", target_alignment(w.mean.ntk, r.T - 1, r.data.y));
      if (vs) {
        b.set("dmft_index", double(twin->second));
        set_comparison(b, *vs, w.N);
      }
      b.end_row();
    }
  }
}

}  // namespace

void write_collected(const std::string& path, const Manifest& m, const Collected& c, const std::string& command_line) {
  write_atomically(path, [&](const std::string& tmp) {
    H5::H5File f(tmp, H5F_ACC_TRUNC);
    H5::Group root = f.openGroup("/");
    std::string models;  // the root `model` attribute: the models of the sweep's points
    for (const auto& p : m.points)
      for (const auto& [name, value] : p.options)
        if (name == "model" && models.find(value) == std::string::npos) models += (models.empty() ? "" : ",") + value;
    write_provenance(root, "dmft-sweep", 1, command_line, models.empty() ? ProblemParameters{}.model : models);
    h5::write_attr(root, "manifest", m.path);
    h5::write_attr(root, "points", (long long)m.points.size());
    h5::write_attr(root, "points_collected", (long long)(m.points.size() - c.skipped.size()));
    std::string axes;
    for (const auto& a : m.axes) axes += (axes.empty() ? "" : ",") + a;
    h5::write_attr(root, "axes", axes);
    H5::Group t = h5::create_group(root, "table");
    h5::write_attr(t, "description", "one row per complete solve point, and per width of a complete train point; "
                                     "columns are datasets of equal length (axis 'row')");
    std::string order;
    for (const auto& col : c.columns) order += (order.empty() ? "" : ",") + col.name;
    h5::write_attr(t, "columns", order);
    for (const auto& col : c.columns) {
      if (col.kind == Column::text) {
        h5::write_string_array(t, col.name, col.texts, "row", col.description);
      } else if (col.kind == Column::integer) {
        std::vector<long long> v(col.numbers.begin(), col.numbers.end());
        h5::write_int_array(t, col.name, v, "row", col.description);
      } else {
        h5::write_array(t, col.name, col.numbers, "row", col.description);
      }
    }
    H5::Group s = h5::create_group(root, "skipped");
    h5::write_int_array(s, "index", c.skipped, "point", "points whose output is not complete");
    h5::write_string_array(s, "state", c.skipped_state, "point", "missing | being written | incomplete | interrupted | failed (an error record exists) | unreadable");
    h5::write_attr(root, "complete", 1);  // last
  });
}

void write_collected_csv(const std::string& path, const Collected& c) {
  std::ofstream out(path);
  if (!out) throw InputError("--csv", path, "cannot be written");
  auto quoted = [](const std::string& x) {
    if (x.find_first_of(",\"\n") == std::string::npos) return x;
    std::string q = "\"";
    for (char ch : x) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return q + "\"";
  };
  for (std::size_t k = 0; k < c.columns.size(); ++k) out << (k ? "," : "") << c.columns[k].name;
  out << "\n";
  for (std::size_t r = 0; r < c.rows; ++r) {
    for (std::size_t k = 0; k < c.columns.size(); ++k) {
      const Column& col = c.columns[k];
      if (k) out << ",";
      if (col.kind == Column::text) out << quoted(col.texts[r]);
      else if (std::isfinite(col.numbers[r])) out << (col.kind == Column::integer ? format_value((long long)col.numbers[r]) : format_value(col.numbers[r]));
    }
    out << "\n";
  }
}

}  // namespace dmft::sweep
