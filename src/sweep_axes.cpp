// The sweep file (TOML, read with toml++): [product] and [[zip]] tables of axes.
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "dmft/errors.hpp"
#include "dmft/parameter_text.hpp"
#include "dmft/sweep.hpp"

namespace dmft::sweep {
namespace {

std::string where(const std::string& path, const toml::node& n) {
  return path + " line " + std::to_string(n.source().begin.line);
}

/// Grid values are rounded to 12 significant digits so that a log grid 0.25..4 gives 0.5, not
/// 0.49999999999999994.
std::string grid_value(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.12g", x);
  return format_value(std::strtod(buf, nullptr));
}

std::string scalar_text(const toml::node& n, const std::string& path, const std::string& axis) {
  if (auto s = n.value_exact<std::string>()) return *s;
  if (auto i = n.value_exact<int64_t>()) return format_value(static_cast<long long>(*i));
  if (auto d = n.value_exact<double>()) return format_value(*d);
  if (auto b = n.value_exact<bool>()) return format_value(*b);
  throw InputError("--sweep", where(path, n), "axis '" + axis + "': values must be numbers, strings or booleans");
}

double number(const toml::node& n, const std::string& path, const std::string& axis) {
  if (auto d = n.value<double>()) return *d;  // integers convert
  throw InputError("--sweep", where(path, n), "axis '" + axis + "': grid bounds must be numbers");
}

std::vector<std::string> grid(const toml::table& t, const std::string& path, const std::string& axis) {
  const bool log = t.contains("log"), linear = t.contains("linear");
  const std::string kind = log ? "log" : "linear";
  for (auto&& [k, v] : t)
    if (k.str() != "log" && k.str() != "linear" && k.str() != "points")
      throw InputError("--sweep", where(path, v), "axis '" + axis + "': unknown grid key '" + std::string(k.str()) +
                                                      "' (a grid is {linear = [lo, hi], points = n} or {log = [lo, hi], points = n})");
  if (log == linear)
    throw InputError("--sweep", where(path, t), "axis '" + axis + "': a grid needs exactly one of linear = [lo, hi] or log = [lo, hi]");
  const toml::array* bounds = t[kind].as_array();
  if (!bounds || bounds->size() != 2)
    throw InputError("--sweep", where(path, t), "axis '" + axis + "': " + kind + " must be [lo, hi]");
  const double lo = number(*bounds->get(0), path, axis), hi = number(*bounds->get(1), path, axis);
  const auto points = t["points"].value<int64_t>();
  if (!points) throw InputError("--sweep", where(path, t), "axis '" + axis + "': a grid needs points = n");
  if (*points < 1)
    throw InputError("--sweep", where(path, t), "axis '" + axis + "': points = " + std::to_string(*points) + " must be >= 1 (an empty axis)");
  if (!std::isfinite(lo) || !std::isfinite(hi))
    throw InputError("--sweep", where(path, t), "axis '" + axis + "': grid bounds must be finite");
  if (log && (lo <= 0 || hi <= 0))
    throw InputError("--sweep", where(path, t), "axis '" + axis + "': log = [" + format_value(lo) + ", " + format_value(hi) +
                                                    "]: a log grid needs bounds > 0");
  std::vector<std::string> values;
  const auto n = static_cast<std::size_t>(*points);
  for (std::size_t k = 0; k < n; ++k) {
    const double f = n == 1 ? 0.0 : double(k) / double(n - 1);
    values.push_back(grid_value(log ? std::exp(std::log(lo) + f * (std::log(hi) - std::log(lo))) : lo + f * (hi - lo)));
  }
  return values;
}

Axis read_axis(const std::string& name, const toml::node& v, const std::string& path) {
  Axis a{name, {}, int(v.source().begin.line)};
  if (name.find('_') != std::string::npos) std::replace(a.name.begin(), a.name.end(), '_', '-');
  if (!is_parameter("solve", a.name) && !is_parameter("train", a.name) && a.name != "command")
    throw InputError("--sweep", where(path, v), "unknown parameter '" + a.name + "' (not an option of dmft solve or dmft train)");
  if (const toml::array* list = v.as_array()) {
    for (const toml::node& x : *list) a.values.push_back(scalar_text(x, path, a.name));
  } else if (const toml::table* t = v.as_table()) {
    a.values = grid(*t, path, a.name);
  } else {
    a.values.push_back(scalar_text(v, path, a.name));  // a single value: an axis of one
  }
  if (a.values.empty()) throw InputError("--sweep", where(path, v), "axis '" + a.name + "' is empty");
  return a;
}

AxisGroup read_group(const toml::table& t, bool zip, const std::string& path) {
  AxisGroup g{zip, {}};
  for (auto&& [k, v] : t) g.axes.push_back(read_axis(std::string(k.str()), v, path));
  // toml++ keeps keys sorted; the file's order is the order the user wrote.
  std::sort(g.axes.begin(), g.axes.end(), [](const Axis& a, const Axis& b) { return a.line < b.line; });
  if (g.axes.empty()) throw InputError("--sweep", where(path, t), std::string(zip ? "a [[zip]]" : "the [product]") + " table has no axes");
  if (zip)
    for (const Axis& a : g.axes)
      if (a.values.size() != g.axes.front().values.size())
        throw InputError("--sweep", path + " line " + std::to_string(a.line),
                         "zipped axes must have equal lengths: '" + a.name + "' has " + std::to_string(a.values.size()) +
                             " values, '" + g.axes.front().name + "' has " + std::to_string(g.axes.front().values.size()));
  return g;
}

}  // namespace

std::vector<AxisGroup> read_sweep_axes(const std::string& path) {
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    if (b.line == 0) throw InputError("--sweep", path, "cannot be read");
    throw InputError("--sweep", path + " line " + std::to_string(b.line), std::string(e.description()));
  }
  std::vector<AxisGroup> groups;
  for (auto&& [k, v] : doc) {
    const std::string key(k.str());
    if (key == "product") {
      const toml::table* t = v.as_table();
      if (!t) throw InputError("--sweep", where(path, v), "'product' must be a table: [product]");
      groups.push_back(read_group(*t, false, path));
    } else if (key == "zip") {
      const toml::array* tables = v.as_array();
      if (!tables || !tables->is_array_of_tables())
        throw InputError("--sweep", where(path, v), "'zip' must be tables: [[zip]]");
      for (const toml::node& t : *tables) groups.push_back(read_group(*t.as_table(), true, path));
    } else {
      throw InputError("--sweep", where(path, v), "unknown key '" + key + "' (a sweep file has a [product] table and [[zip]] tables of axes)");
    }
  }
  if (groups.empty()) throw InputError("--sweep", path, "has no axes (write them under [product] or [[zip]])");
  std::vector<std::string> seen;
  for (const auto& g : groups)
    for (const auto& a : g.axes) {
      if (std::find(seen.begin(), seen.end(), a.name) != seen.end())
        throw InputError("--sweep", path + " line " + std::to_string(a.line), "axis '" + a.name + "' is given twice");
      seen.push_back(a.name);
    }
  return groups;
}

std::vector<std::vector<std::pair<std::string, std::string>>> combine(const std::vector<AxisGroup>& groups) {
  // Each product axis and each zip group is one factor; a factor's entry k sets its axes' k-th values.
  struct Factor {
    std::vector<const Axis*> axes;
    std::size_t size;
  };
  std::vector<Factor> factors;
  for (const auto& g : groups) {
    if (g.zip) {
      Factor f{{}, g.axes.front().values.size()};
      for (const auto& a : g.axes) f.axes.push_back(&a);
      factors.push_back(f);
    } else {
      for (const auto& a : g.axes) factors.push_back({{&a}, a.values.size()});
    }
  }
  std::size_t total = 1;
  for (const auto& f : factors) {
    if (f.size > kMaxPoints / total)
      throw InputError("--sweep", "the axes", "give more than " + std::to_string(kMaxPoints) +
                                                   " points (split the study into several sweeps)");
    total *= f.size;
  }
  std::vector<std::vector<std::pair<std::string, std::string>>> points(total);
  for (std::size_t i = 0; i < total; ++i) {
    std::size_t rest = i;
    std::vector<std::size_t> entry(factors.size());
    for (std::size_t f = factors.size(); f-- > 0;) {  // the last factor varies fastest
      entry[f] = rest % factors[f].size;
      rest /= factors[f].size;
    }
    for (std::size_t f = 0; f < factors.size(); ++f)
      for (const Axis* a : factors[f].axes) points[i].push_back({a->name, a->values[entry[f]]});
  }
  return points;
}

}  // namespace dmft::sweep
