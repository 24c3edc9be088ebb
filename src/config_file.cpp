#include "dmft/config_file.hpp"

#include <algorithm>
#include <fstream>

#include "dmft/errors.hpp"

namespace dmft {
namespace {
std::string trim(const std::string& x) {
  const auto a = x.find_first_not_of(" \t\r"), b = x.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : x.substr(a, b - a + 1);
}
}  // namespace

std::vector<ConfigEntry> read_config_file(const std::string& path, const std::string& option) {
  std::ifstream in(path);
  if (!in) throw InputError(option, path, "cannot be read");
  std::vector<ConfigEntry> out;
  std::string line, section;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    line = trim(line);
    if (line.empty()) continue;
    const std::string where = path + " line " + std::to_string(number);
    if (line.front() == '[') {
      if (line == "[solve]" || line == "[train]") {
        section = line.substr(1, line.size() - 2);
        continue;
      }
      throw InputError(option, where, "unknown section '" + line + "' (sections are [solve] and [train])");
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw InputError(option, where, "expected 'name = value', found '" + line + "'");
    ConfigEntry e{section, trim(line.substr(0, eq)), trim(line.substr(eq + 1)), number};
    if (e.value.size() >= 2 && (e.value.front() == '"' || e.value.front() == '\'') && e.value.back() == e.value.front())
      e.value = e.value.substr(1, e.value.size() - 2);
    std::replace(e.key.begin(), e.key.end(), '_', '-');
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace dmft
