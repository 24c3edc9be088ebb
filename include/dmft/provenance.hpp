#pragma once
// Build provenance (git hash and dirty flag, versions), recorded in every output file and
// printed by `dmft info`.
#include <string>

namespace dmft::build {
extern const char* const git_hash;
extern const bool git_dirty;
extern const char* const version;
extern const char* const compiler;
extern const char* const eigen_version;
extern const char* const hdf5_version;
extern const char* const ceres_version;
extern const char* const cli11_version;
}  // namespace dmft::build

namespace dmft {
/// "0.1.0 (git 1a2b3c…, dirty)".
std::string version_string();
}
