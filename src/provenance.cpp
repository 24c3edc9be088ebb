#include "dmft/provenance.hpp"

namespace dmft {
std::string version_string() {
  return std::string(build::version) + " (git " + build::git_hash + (build::git_dirty ? ", dirty" : "") + ")";
}
}  // namespace dmft
