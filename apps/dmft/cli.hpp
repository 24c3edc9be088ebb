#pragma once
// The dmft command-line application: subcommands and error reporting.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "dmft/parameters.hpp"

namespace dmft::cli {

/// Exit code for bad input: option, value and rule printed on one line.
inline constexpr int kBadInput = 2;

struct SolveCommand {
  SolveParameters params;
  bool dry_run = false;
  std::string config_file;  // expanded by expand_config before parsing
  bool P_given = false, D_given = false;  // set after parsing: --P / --D on the line or in the file
};

/// Replaces "--config FILE" (after the subcommand) by the file's options, placed before the
/// command line's own so that those win. Throws InputError for unknown keys.
std::vector<std::string> expand_config(const std::vector<std::string>& args);

void add_solve(CLI::App& app, SolveCommand& cmd);
int run_solve(const SolveCommand& cmd, const std::string& command_line);

void add_info(CLI::App& app);
int run_info();

/// Prints "dmft: error: <message>" for each message and returns kBadInput.
int report_errors(const std::vector<std::string>& messages);
/// Turns a CLI11 parse error into our one-line form.
std::string describe_parse_error(const CLI::ParseError& e);

}  // namespace dmft::cli
