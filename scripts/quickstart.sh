#!/usr/bin/env bash
# README command 1: install what is missing, build in Release, run the default solve.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh" "$here/build"
"$here/build/bin/dmft" solve --output "${1:-default.h5}"
