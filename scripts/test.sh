#!/usr/bin/env bash
# README command 2: install what is missing, build in Release, run the whole test suite via ctest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh" "$here/build"
cd "$here/build"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" "$@"
