// Expanding a sweep into its manifest, and reading the manifest back.
#include <H5Cpp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "dmft/config_file.hpp"
#include "dmft/errors.hpp"
#include "dmft/h5_util.hpp"
#include "dmft/parameter_text.hpp"
#include "dmft/run_checks.hpp"
#include "dmft/sweep.hpp"

namespace fs = std::filesystem;

namespace dmft::sweep {
namespace {

/// Options that `dmft sweep run` sets itself, or that would make a point depend on another file's
/// parameters: refused in the base file and as axes.
bool is_run_setting(const std::string& name) {
  return name == "output" || name == "threads" || name == "quiet" || name == "like" || name == "config";
}

std::string rule_for_run_setting(const std::string& name) {
  if (name == "like") return "cannot be swept or set in a sweep (give the problem options themselves)";
  return "is set by dmft sweep run, not by the sweep";
}

/// Every recorded parameter (defaults included) as "name=value" lines: what the hash covers.
template <class Params>
std::string recorded_text(Params& p, bool problem_only) {
  std::string text;
  auto add = [&](const ParameterInfo& info, auto& value) {
    if (info.recorded) text += std::string(info.name) + "=" + format_value(value) + "\n";
  };
  if (problem_only) for_each_problem_parameter(p, add);
  else for_each_parameter(p, add);
  return text;
}

std::string padded(long long i, int digits) {
  std::string s = std::to_string(i);
  return std::string(std::size_t(std::max(0, digits - int(s.size()))), '0') + s;
}

/// Options in the order of the command's parameter list, so that a point reads back as written
/// and its command line is the same however the base and the axes were ordered.
void sort_options(const std::string& command, std::vector<std::pair<std::string, std::string>>& options) {
  std::vector<std::string> order;
  with_parameters_of(command, [&](auto& params) {
    for_each_parameter(params, [&](const ParameterInfo& info, auto&) { order.push_back(info.name); });
  });
  auto rank = [&](const std::string& name) { return std::find(order.begin(), order.end(), name) - order.begin(); };
  std::stable_sort(options.begin(), options.end(), [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t tab = line.find('\t', pos);
    out.push_back(line.substr(pos, tab == std::string::npos ? std::string::npos : tab - pos));
    if (tab == std::string::npos) return out;
    pos = tab + 1;
  }
}

}  // namespace

std::string stable_hash(const std::string& text) {
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a, 64 bit
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string label(const std::vector<std::pair<std::string, std::string>>& values) {
  std::string s;
  for (const auto& [name, value] : values) s += (s.empty() ? "" : ", ") + name + " = " + value;
  return s;
}

std::string label(const Manifest& m, const Point& p) {
  std::vector<std::pair<std::string, std::string>> values;
  for (const auto& axis : m.axes) {
    std::string value = axis == "command" ? p.command : "";
    for (const auto& [name, v] : p.options)
      if (name == axis) value = v;
    values.push_back({axis, value});
  }
  return label(values);
}

std::string Point::stem() const { return fs::path(output).stem().string(); }

Manifest expand(const std::string& base_path, const std::string& sweep_path, const std::string& directory) {
  const std::vector<ConfigEntry> base = read_config_file(base_path, "--config");
  const std::vector<AxisGroup> groups = read_sweep_axes(sweep_path);
  std::string default_command = "solve";
  for (const ConfigEntry& e : base) {
    const std::string at = base_path + " line " + std::to_string(e.line);
    if (e.value.find('\t') != std::string::npos) throw InputError("--config", at, "values cannot hold tabs (the manifest is tab-separated)");
    if (e.key == "command") {
      if (!e.section.empty()) throw InputError("--config", at, "'command' belongs before any [solve]/[train] section");
      if (!is_command(e.value)) throw InputError("--config", at, "command = '" + e.value + "' must be solve or train");
      default_command = e.value;
    } else if (is_run_setting(e.key)) {
      throw InputError("--config", at, "'" + e.key + "' " + rule_for_run_setting(e.key));
    } else if (!e.section.empty() && !is_parameter(e.section, e.key)) {  // checked even if no point uses the section
      throw InputError("--config", at, "unknown key '" + e.key + "' for dmft " + e.section + " (keys are its option names without dashes)");
    }
  }
  Manifest m;
  for (const auto& g : groups)
    for (const auto& a : g.axes) {
      if (is_run_setting(a.name))
        throw InputError("--sweep", sweep_path + " line " + std::to_string(a.line), "axis '" + a.name + "' " + rule_for_run_setting(a.name));
      for (const auto& v : a.values) {
        if (a.name == "command" && !is_command(v))
          throw InputError("--sweep", sweep_path + " line " + std::to_string(a.line), "command = '" + v + "' must be solve or train");
        if (v.find_first_of("\t\r\n") != std::string::npos)  // the manifest is tab-separated lines
          throw InputError("--sweep", sweep_path + " line " + std::to_string(a.line), "axis '" + a.name + "': values cannot hold tabs or line breaks");
      }
      m.axes.push_back(a.name);
    }

  const auto combos = combine(groups);
  std::vector<std::string> problems;  // every violation, each naming its point
  std::map<std::string, long long> by_hash;
  const int digits = std::max<int>(4, int(std::to_string(combos.size() ? combos.size() - 1 : 0).size()));
  for (std::size_t i = 0; i < combos.size(); ++i) {
    Point pt;
    pt.index = (long long)i;
    pt.command = default_command;
    for (const auto& [name, value] : combos[i])
      if (name == "command") pt.command = value;
    const std::string point_name = "point " + std::to_string(i) + " (" + label(combos[i]) + ")";
    // The options in force: the base's common entries, its section for this command, then the axes.
    std::vector<std::pair<std::string, std::string>> given;
    auto give = [&](const std::string& name, std::string value) {
      // A data file named relative to where the sweep is expanded; points run in the manifest's directory.
      if (name == "data" && !value.empty() && fs::path(value).is_relative()) value = fs::absolute(value).lexically_normal().string();
      for (auto& g : given)
        if (g.first == name) {
          g.second = value;
          return;
        }
      given.push_back({name, value});
    };
    for (const ConfigEntry& e : base) {
      if (e.key == "command" || (!e.section.empty() && e.section != pt.command)) continue;
      if (!is_parameter(pt.command, e.key)) {
        problems.push_back(base_path + " line " + std::to_string(e.line) + ": '" + e.key + "' is not an option of dmft " +
                           pt.command + (e.section.empty() ? " (put it under the section of the command it is for)" : ""));
        continue;
      }
      give(e.key, e.value);
    }
    for (const auto& [name, value] : combos[i]) {
      if (name == "command") continue;
      if (!is_parameter(pt.command, name)) {
        problems.push_back(point_name + ": sweep axis '" + name + "' is not an option of dmft " + pt.command);
        continue;
      }
      give(name, value);
    }
    with_parameters_of(pt.command, [&](auto& params) {
      bool P_given = false, D_given = false;
      for (const auto& [name, value] : given) {
        const std::string error = set_parameter(params, name, value);
        if (!error.empty()) {
          problems.push_back(point_name + ": --" + name + " = " + value + ": " + error);
          continue;
        }
        pt.options.push_back({name, parameter_text(params, name)});
        P_given |= name == "P";
        D_given |= name == "D";
      }
      std::vector<Violation> bad;
      if constexpr (std::is_same_v<std::decay_t<decltype(params)>, SolveParameters>) bad = solve_violations(params, P_given, D_given);
      else bad = train_violations(params, P_given, D_given);
      for (const auto& v : bad) problems.push_back(point_name + ": " + v.message());
      sort_options(pt.command, pt.options);
      pt.hash = stable_hash("dmft " + pt.command + "\n" + recorded_text(params, false));
      pt.problem_hash = stable_hash(recorded_text(params, true));
    });
    if (const auto twin = by_hash.find(pt.hash); twin != by_hash.end())
      problems.push_back(point_name + ": the same run as point " + std::to_string(twin->second) +
                         " (an axis over an option that does not change the result?)");
    by_hash[pt.hash] = pt.index;
    pt.output = "points/" + padded(pt.index, digits) + "-" + pt.command + "-" + pt.hash.substr(0, 10) + ".h5";
    m.points.push_back(std::move(pt));
  }
  if (!problems.empty()) {
    std::string all;
    for (std::size_t k = 0; k < problems.size() && k < 20; ++k) all += (k ? "\n  " : "\n  ") + problems[k];
    if (problems.size() > 20) all += "\n  ... and " + std::to_string(problems.size() - 20) + " more";
    throw InputError("--sweep", sweep_path, std::to_string(problems.size()) + " problem(s) with the expanded points:" + all);
  }
  // Columns: every option set anywhere, in the order of the parameter lists.
  std::set<std::string> used;
  for (const auto& p : m.points)
    for (const auto& o : p.options) used.insert(o.first);
  for (const char* command : {"solve", "train"})
    with_parameters_of(command, [&](auto& params) {
      for_each_parameter(params, [&](const ParameterInfo& info, auto&) {
        if (used.count(info.name) && std::find(m.columns.begin(), m.columns.end(), info.name) == m.columns.end())
          m.columns.push_back(info.name);
      });
    });
  m.directory = fs::absolute(directory).lexically_normal().string();
  m.path = (fs::path(m.directory) / "manifest").string();
  m.description = "base " + fs::absolute(base_path).lexically_normal().string() + ", sweep " +
                  fs::absolute(sweep_path).lexically_normal().string();
  return m;
}

void write_manifest(const Manifest& m) {
  fs::create_directories(m.directory);
  const std::string tmp = m.path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw InputError("--out", m.directory, "cannot be written");
    out << "# dmft sweep manifest, format 1. One row per point; an empty cell: the option is not set (its default).\n"
        << "# Outputs, logs/ and errors/ are relative to this file's directory. Hashes: FNV-1a 64 of the recorded parameters.\n"
        << "# from: " << m.description << "\n"
        << "# axes:";
    for (const auto& a : m.axes) out << " " << a;
    out << "\nindex\tcommand\thash\tproblem_hash\toutput";
    for (const auto& c : m.columns) out << "\t" << c;
    out << "\n";
    for (const auto& p : m.points) {
      out << p.index << "\t" << p.command << "\t" << p.hash << "\t" << p.problem_hash << "\t" << p.output;
      for (const auto& c : m.columns) {
        out << "\t";
        for (const auto& [name, value] : p.options)
          if (name == c) out << value;
      }
      out << "\n";
    }
    if (!out) throw InputError("--out", m.directory, "cannot be written");
  }
  fs::rename(tmp, m.path);
}

Manifest read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("--manifest", path, "cannot be read (dmft sweep expand writes DIR/manifest)");
  Manifest m;
  m.path = fs::absolute(path).lexically_normal().string();
  m.directory = fs::path(m.path).parent_path().string();
  std::string line;
  int number = 0;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    ++number;
    const std::string at = path + " line " + std::to_string(number);
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.rfind("# from: ", 0) == 0) m.description = line.substr(8);
      if (line.rfind("# axes:", 0) == 0) {
        std::istringstream names(line.substr(7));
        for (std::string a; names >> a;) m.axes.push_back(a);
      }
      continue;
    }
    const auto cells = split_tabs(line);
    if (header.empty()) {
      header = cells;
      if (header.size() < 5 || header[0] != "index" || header[4] != "output")
        throw InputError("--manifest", at, "is not a dmft sweep manifest header");
      m.columns.assign(header.begin() + 5, header.end());
      continue;
    }
    if (cells.size() != header.size())
      throw InputError("--manifest", at, "has " + std::to_string(cells.size()) + " cells, the header " + std::to_string(header.size()));
    Point p;
    if (!parse_value(cells[0], p.index) || p.index != (long long)m.points.size())
      throw InputError("--manifest", at, "index '" + cells[0] + "' out of order");
    p.command = cells[1];
    p.hash = cells[2];
    p.problem_hash = cells[3];
    p.output = cells[4];
    if (!is_command(p.command)) throw InputError("--manifest", at, "command '" + p.command + "' must be solve or train");
    for (std::size_t c = 5; c < cells.size(); ++c)
      if (!cells[c].empty()) p.options.push_back({header[c], cells[c]});
    sort_options(p.command, p.options);
    m.points.push_back(std::move(p));
  }
  if (header.empty()) throw InputError("--manifest", path, "has no header row");
  return m;
}

PointStatus point_status(const Manifest& m, const Point& p) {
  const OutputState s = output_state(m, p);
  if (s == OutputState::complete) return PointStatus::complete;
  if (fs::exists(error_record(m, p))) return PointStatus::failed;
  if (s == OutputState::interrupted) return PointStatus::interrupted;
  if (fs::exists(absolute(m, p.output) + ".tmp")) return PointStatus::being_written;
  return s == OutputState::incomplete ? PointStatus::incomplete : PointStatus::pending;
}

const char* to_string(PointStatus s) {
  switch (s) {
    case PointStatus::complete: return "complete";
    case PointStatus::failed: return "failed";
    case PointStatus::interrupted: return "interrupted";
    case PointStatus::being_written: return "being written";
    case PointStatus::incomplete: return "incomplete";
    case PointStatus::pending: return "missing";
  }
  return "?";
}

std::string absolute(const Manifest& m, const std::string& relative) { return (fs::path(m.directory) / relative).string(); }
std::string error_record(const Manifest& m, const Point& p) { return absolute(m, "errors/" + p.stem() + ".txt"); }
std::string log_file(const Manifest& m, const Point& p) { return absolute(m, "logs/" + p.stem() + ".log"); }

OutputState output_state(const Manifest& m, const Point& p) {
  const std::string path = absolute(m, p.output);
  if (!fs::exists(path)) return OutputState::missing;
  h5::silence_errors();
  try {
    H5::H5File f(path, H5F_ACC_RDONLY);
    H5::Group root = f.openGroup("/");
    const std::string format = p.command == "solve" ? "dmft-solution" : "dmft-finite-width";
    if (!h5::has_attr(root, "format") || h5::read_string_attr(root, "format") != format) return OutputState::incomplete;
    if (!h5::has_attr(root, "complete") || h5::read_int_attr(root, "complete") != 1) return OutputState::incomplete;
    if (p.command == "solve") {
      H5::Group c = f.openGroup("/convergence");
      if (h5::read_string_attr(c, "status") == "interrupted") return OutputState::interrupted;
    } else {
      TrainParameters defaults;
      std::string widths = defaults.widths;
      for (const auto& [name, value] : p.options)
        if (name == "widths") widths = value;
      if (h5::read_int_array(f, "/finite_width/widths") != parse_widths(widths)) return OutputState::interrupted;
    }
    return OutputState::complete;
  } catch (const H5::Exception&) {
    return OutputState::incomplete;
  }
}

std::vector<std::string> point_arguments(const Point& p) {
  std::vector<std::string> args{p.command};
  for (const auto& [name, value] : p.options)
    for (auto& word : option_arguments(p.command, name, value)) args.push_back(word);
  args.push_back("--output");
  args.push_back(p.output);
  return args;
}

}  // namespace dmft::sweep
