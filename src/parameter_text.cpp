#include "dmft/parameter_text.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace dmft {

bool parse_value(const std::string& text, std::string& value) {
  value = text;
  return true;
}

bool parse_value(const std::string& text, double& value) {
  std::size_t used = 0;
  try {
    const double v = std::stod(text, &used);
    if (used != text.size()) return false;
    value = v;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool parse_value(const std::string& text, long long& value) {
  // Integers may be written as numbers ("1e3", "4.0") as long as they are integral.
  double v = 0;
  if (!parse_value(text, v) || !std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9.0e15) return false;
  value = static_cast<long long>(v);
  return true;
}

bool parse_value(const std::string& text, int& value) {
  long long v = 0;
  if (!parse_value(text, v) || v < -2147483647LL || v > 2147483647LL) return false;
  value = static_cast<int>(v);
  return true;
}

bool parse_value(const std::string& text, bool& value) {
  if (text == "true" || text == "1") value = true;
  else if (text == "false" || text == "0") value = false;
  else return false;
  return true;
}

std::string format_value(const std::string& value) { return value; }
std::string format_value(long long value) { return std::to_string(value); }
std::string format_value(int value) { return std::to_string(value); }
std::string format_value(bool value) { return value ? "true" : "false"; }
std::string format_value(double value) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);  // shortest text that reads back exactly
  return std::string(buf, r.ptr);
}

namespace {
template <class Test>
bool find_parameter(const std::string& command, const std::string& name, Test&& test) {
  bool found = false;
  try {
    with_parameters_of(command, [&](auto& p) {
      for_each_parameter(p, [&](const ParameterInfo& info, auto& value) {
        if (name == info.name) found = test(info, value);
      });
    });
  } catch (const std::invalid_argument&) {
    return false;
  }
  return found;
}
}  // namespace

bool is_command(const std::string& name) { return name == "solve" || name == "train"; }

std::vector<std::string> option_arguments(const std::string& command, const std::string& name, const std::string& value) {
  if (!is_flag(command, name)) return {"--" + name, value};
  bool on = false;
  if (parse_value(value, on) && on) return {"--" + name};
  return {};
}

bool is_parameter(const std::string& command, const std::string& name) {
  return find_parameter(command, name, [](const ParameterInfo&, auto&) { return true; });
}

bool is_flag(const std::string& command, const std::string& name) {
  return find_parameter(command, name, [](const ParameterInfo&, auto& value) {
    return std::is_same_v<std::decay_t<decltype(value)>, bool>;
  });
}

bool is_recorded(const std::string& command, const std::string& name) {
  return find_parameter(command, name, [](const ParameterInfo& info, auto&) { return info.recorded; });
}

std::string parameter_kind(const std::string& command, const std::string& name) {
  std::string kind;
  find_parameter(command, name, [&](const ParameterInfo&, auto& value) {
    using T = std::decay_t<decltype(value)>;
    kind = std::is_same_v<T, double> ? "number" : (std::is_integral_v<T> && !std::is_same_v<T, bool>) ? "integer" : "text";
    return true;
  });
  return kind;
}

}  // namespace dmft
