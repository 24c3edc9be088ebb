#pragma once
// Parameters as text, by name: what config files, sweep manifests and collected tables need.
// Everything is driven by for_each_parameter, so no list of fields is repeated here (STYLE habit 1).
// Canonical text is the shortest text that reads back to the same value ("0.50" → "0.5",
// "1e3" → "1000" for integers), so equal values give equal text and equal hashes.
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "dmft/parameters.hpp"

namespace dmft {

/// Parses `text` into `value`; false when it is not a value of that type (integers must be
/// integral, booleans true|false|1|0).
/// The text an option value is parsed from: named values that stand for a number (--depth inf is
/// kInfiniteDepth, the residual models' L → ∞ limit), else the text itself. Used by the command
/// line and by config and sweep files alike.
inline std::string stored_text(const std::string& name, const std::string& text) {
  if (name == "depth" && text == "inf") return std::to_string(kInfiniteDepth);
  return text;
}

bool parse_value(const std::string& text, std::string& value);
bool parse_value(const std::string& text, double& value);
bool parse_value(const std::string& text, long long& value);
bool parse_value(const std::string& text, int& value);
bool parse_value(const std::string& text, bool& value);

std::string format_value(const std::string& value);
std::string format_value(double value);
std::string format_value(long long value);
std::string format_value(int value);
std::string format_value(bool value);

/// The parameter list of a subcommand ("solve" or "train"); throws std::invalid_argument otherwise.
template <class F>
void with_parameters_of(const std::string& command, F&& f) {
  if (command == "solve") {
    SolveParameters p;
    f(p);
  } else if (command == "train") {
    TrainParameters p;
    f(p);
  } else {
    throw std::invalid_argument("no parameter list for '" + command + "'");
  }
}

/// "solve" or "train": the subcommands with a parameter list.
bool is_command(const std::string& name);
bool is_parameter(const std::string& command, const std::string& name);
bool is_flag(const std::string& command, const std::string& name);
bool is_recorded(const std::string& command, const std::string& name);
/// "number" (double or integer fields), "integer" or "text" (strings and flags); "" if unknown.
std::string parameter_kind(const std::string& command, const std::string& name);

/// The command-line words for one option: {"--name", value}, or for a flag {"--name"} when true
/// and nothing when false.
std::vector<std::string> option_arguments(const std::string& command, const std::string& name, const std::string& value);

/// Sets field `name` of p from text. Returns "" on success, otherwise the rule broken.
template <class Params>
std::string set_parameter(Params& p, const std::string& name, const std::string& text) {
  std::string error = "is not an option";
  for_each_parameter(p, [&](const ParameterInfo& info, auto& value) {
    if (name != info.name) return;
    using T = std::decay_t<decltype(value)>;
    if (parse_value(stored_text(name, text), value)) error.clear();
    else if constexpr (std::is_same_v<T, bool>) error = "must be true or false";
    else if constexpr (std::is_same_v<T, double>) error = "must be a number";
    else error = "must be an integer";
  });
  return error;
}

/// Canonical text of field `name` of p ("" if there is no such field).
template <class Params>
std::string parameter_text(Params& p, const std::string& name) {
  std::string out;
  for_each_parameter(p, [&](const ParameterInfo& info, auto& value) {
    if (name == info.name) out = format_value(value);
  });
  return out;
}

}  // namespace dmft
