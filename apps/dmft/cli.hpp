#pragma once
// The dmft command-line application: subcommands and error reporting.
#include <CLI/CLI.hpp>
#include <atomic>
#include <type_traits>
#include <string>
#include <vector>

#include "dmft/parameter_text.hpp"
#include "dmft/data.hpp"
#include "dmft/finite_width_file.hpp"
#include "dmft/parameters.hpp"

namespace dmft::cli {

/// One CLI option per field of the parameter list (STYLE habit 1): flags for bools, the last
/// value wins for the rest (so the command line beats a --config file).
template <class Params>
void add_parameter_options(CLI::App* s, Params& params) {
  for_each_parameter(params, [&](const ParameterInfo& info, auto& value) {
    const std::string flag = std::string("--") + info.name;
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, bool>) s->add_flag(flag, value, info.description);
    else {
      const std::string name = info.name;
      s->add_option(flag, value, info.description)
          ->capture_default_str()
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
          ->transform([name](std::string text) { return stored_text(name, text); });  // e.g. --depth inf
    }
  });
}

/// What `solve` and `train` share: --config (expanded before parsing by expand_config; declared
/// for --help), one option per parameter, --dry-run, and the list of options the user named
/// (on the command line or in the file), filled in after parsing.
template <class Params>
void add_command_options(CLI::App* s, std::string& config_file, Params& params, bool& dry_run,
                         std::vector<std::string>& given) {
  s->add_option("--config", config_file,
                "read options from a file: 'name = value' lines, names as below without dashes; keys under a "
                "[solve] or [train] header apply to that command only; options on the command line override the file");
  add_parameter_options(s, params);
  s->add_flag("--dry-run", dry_run, "validate, print the memory and cost estimate, and exit");
  s->callback([s, &given] {
    Params names;
    for_each_parameter(names, [&](const ParameterInfo& info, auto&) {
      if (s->count(std::string("--") + info.name) > 0) given.push_back(info.name);
    });
  });
}

/// Was this option named by the user (see add_command_options)?
inline bool was_given(const std::vector<std::string>& given, const std::string& name) {
  for (const auto& g : given)
    if (g == name) return true;
  return false;
}

/// Exit code for bad input: option, value and rule printed on one line.
inline constexpr int kBadInput = 2;

struct SolveCommand {
  SolveParameters params;
  bool dry_run = false;
  std::string config_file;  // expanded by expand_config before parsing
  std::vector<std::string> given;  // options named on the command line or in --config
};

/// For `solve` and `train` (the first argument), replaces "--config FILE" by the file's options,
/// placed before the command line's own so that those win; other subcommands' arguments are
/// returned as they are. Throws InputError for unknown keys.
std::vector<std::string> expand_config(const std::vector<std::string>& args);

void add_solve(CLI::App& app, SolveCommand& cmd);
int run_solve(const SolveCommand& cmd, const std::string& command_line);

/// `dmft solve` / `dmft train` of the attention model (cli_attention.cpp), after the option checks,
/// on the problem's data (token sequences).
int run_attention_solve(SolveParameters p, const Dataset& data, bool dry_run, const std::string& command_line);
int run_attention_train(TrainParameters p, const Dataset& data, bool dry_run, const std::string& command_line);
/// Refuses token sequences for the models that read one input vector per example, and data
/// without a token axis for the attention model.
std::vector<Violation> sequence_data_misuse(const std::string& model, const Dataset& data);
/// After `dmft train` stopped (or not): false (and a line on stderr) when no width finished, so
/// nothing is to be written; with `interrupted`, narrows `widths` to the finished ones and says so.
bool keep_finished_widths(const std::vector<WidthRuns>& results, bool interrupted, std::string& widths);

void add_info(CLI::App& app);
int run_info();

struct TrainCommand {
  TrainParameters params;
  bool dry_run = false;
  std::string config_file;
  std::vector<std::string> given;  // options named on the command line or in --config (they beat --like)
};
void add_train(CLI::App& app, TrainCommand& cmd);
int run_train(const TrainCommand& cmd, const std::string& command_line);

struct CompareCommand {
  std::string dmft_file, finite_file;
  std::string output = "comparison.h5";
  std::string csv;
  bool quiet = false;
};
void add_compare(CLI::App& app, CompareCommand& cmd);
int run_compare(const CompareCommand& cmd, const std::string& command_line);

/// dmft sweep expand|run|status|slurm|collect (parameter studies; docs in README "Parameter studies").
struct SweepCommand {
  std::string action;  // the sub-subcommand given
  std::string base, sweep_file, out_dir;  // expand
  bool force = false;
  std::string manifest;                   // the others
  long long index = 0, count = -1;        // run: points index..index+count-1 (-1: to the end)
  int threads = 0;                        // run: per point (0: SLURM_CPUS_PER_TASK, or the cores shared among local ranks)
  bool quiet = false;
  long long throttle = 10, points_per_task = 1, cpus_per_task = 4;  // slurm
  std::string time_limit = "01:00:00", memory, script;              // slurm
  std::string table, csv;                                           // collect
};
void add_sweep(CLI::App& app, SweepCommand& cmd);
int run_sweep(const SweepCommand& cmd, const std::string& command_line);
/// `dmft sweep run`: the points of the range, shared among MPI ranks when launched by mpirun.
int run_sweep_points(const SweepCommand& cmd);

/// This program's own path (/proc/self/exe), or "dmft" if it cannot be read.
std::string self_executable();

/// "1.5 GiB".
std::string human_bytes(double bytes);
/// SIGINT/SIGTERM set a flag that long runs poll; they stop cleanly and keep what is done.
void install_stop_handlers();
const std::atomic<bool>& stop_requested();
/// Fails early when `path` cannot be written (probes "<path>.tmp").
std::vector<Violation> check_writable(const std::string& option, const std::string& path);

/// Prints "dmft: error: <message>" for each message and returns kBadInput.
int report_errors(const std::vector<std::string>& messages);
int report_errors(const std::vector<Violation>& violations);
/// --max-memory-gb in bytes, or the machine's available memory when it is 0.
double memory_limit_bytes(double max_memory_gb);
/// Turns a CLI11 parse error into our one-line form.
std::string describe_parse_error(const CLI::ParseError& e);

}  // namespace dmft::cli
