#include <iostream>

#include "cli.hpp"

namespace dmft::cli {

int report_errors(const std::vector<std::string>& messages) {
  for (const auto& m : messages) std::cerr << "dmft: error: " << m << "\n";
  return kBadInput;
}

int report_errors(const std::vector<Violation>& violations) {
  std::vector<std::string> messages;
  for (const auto& v : violations) messages.push_back(v.message());
  return report_errors(messages);
}

std::string describe_parse_error(const CLI::ParseError& e) {
  std::string what = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    // "The following arguments were not expected: --foo 3"
    const auto colon = what.find(':');
    const std::string args = colon == std::string::npos ? what : what.substr(colon + 2);
    return args + ": unknown option or argument (see 'dmft <subcommand> --help' for the options)";
  }
  if (dynamic_cast<const CLI::ConfigError*>(&e) || what.find("INI") != std::string::npos ||
      what.find("configuration") != std::string::npos)
    return "--config: " + what + " (config keys are the option names without dashes)";
  if (dynamic_cast<const CLI::ConversionError*>(&e)) {
    // CLI11: "Could not convert: --eta = abc"
    const auto colon = what.find(": ");
    const std::string which = colon == std::string::npos ? what : what.substr(colon + 2);
    return which + ": must be a number of the option's type (integer or real; see 'dmft <subcommand> --help')";
  }
  if (dynamic_cast<const CLI::ValidationError*>(&e)) return what;
  if (dynamic_cast<const CLI::RequiredError*>(&e)) return what + " (subcommands: solve, train, compare, info)";
  return what;
}

}  // namespace dmft::cli
