#pragma once
// The /depth_limit group of a `dmft solve --depth inf` file (docs/FORMAT.md).
#include <H5Cpp.h>

#include "dmft/depth_limit.hpp"

namespace dmft {

void write_depth_limit(H5::Group& root, const DepthLimit& d, Index T, Index P);

}  // namespace dmft
