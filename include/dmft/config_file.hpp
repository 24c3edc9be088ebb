#pragma once
// The `--config` file: "name = value" lines, '#' comments, optional quotes around the value, and
// the section headers [solve] and [train], whose keys apply only to that subcommand (keys before
// any header apply to both). Names are the option names without dashes ('_' may stand for '-').
#include <string>
#include <vector>

namespace dmft {

struct ConfigEntry {
  std::string section;  // "", "solve" or "train"
  std::string key;      // option name, '_' replaced by '-'
  std::string value;    // unquoted
  int line = 0;
};

/// Reads every entry in file order; throws InputError(option, "FILE line N", rule) for a line that
/// is not "name = value" or an unknown section.
std::vector<ConfigEntry> read_config_file(const std::string& path, const std::string& option = "--config");

}  // namespace dmft
