// dmft: the DMFT solver for wide neural networks that learn features.
#include <algorithm>
#include <iostream>

#include "cli.hpp"
#include "dmft/errors.hpp"
#include "dmft/memory_estimate.hpp"

int main(int argc, char** argv) {
  dmft::keep_freed_memory();
  // The recorded command line leaves out the run settings that cannot change the result
  // (--threads, --quiet), so that the same inputs give byte-identical files (docs/FORMAT.md).
  std::string command_line;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quiet" || a.rfind("--threads=", 0) == 0) continue;
    if (a == "--threads") {
      ++i;
      continue;
    }
    if (a.find_first_of(" \t\"'") != std::string::npos) a = "'" + a + "'";
    command_line += (i ? " " : "") + a;
  }

  CLI::App app{"dmft — dynamical mean-field theory of wide neural networks that learn features"};
  app.require_subcommand(1);
  dmft::cli::SolveCommand solve;
  dmft::cli::add_solve(app, solve);
  dmft::cli::TrainCommand train;
  dmft::cli::add_train(app, train);
  dmft::cli::CompareCommand compare;
  dmft::cli::add_compare(app, compare);
  dmft::cli::SweepCommand sweep;
  dmft::cli::add_sweep(app, sweep);
  dmft::cli::add_info(app);
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
      args = dmft::cli::expand_config(args);
    } catch (const dmft::InputError& e) {
      return dmft::cli::report_errors(std::vector<std::string>{e.what()});
    }
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return dmft::cli::report_errors(std::vector<std::string>{dmft::cli::describe_parse_error(e)});
  }
  try {
    if (app.got_subcommand("info")) return dmft::cli::run_info();
    if (app.got_subcommand("train")) return dmft::cli::run_train(train, command_line);
    if (app.got_subcommand("sweep")) return dmft::cli::run_sweep(sweep, command_line);
    if (app.got_subcommand("compare")) return dmft::cli::run_compare(compare, command_line);
    return dmft::cli::run_solve(solve, command_line);
  } catch (const dmft::InputError& e) {
    return dmft::cli::report_errors(std::vector<std::string>{e.what()});
  } catch (const std::exception& e) {
    std::cerr << "dmft: failed: " << e.what() << "\n";
    return 1;
  }
}
