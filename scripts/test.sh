#!/usr/bin/env bash
# README command 2: set up, build, and run the whole test suite with ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
build="${STEPJIT_BUILD_DIR:-$root/build}"
cd "$build"
exec ctest --output-on-failure -j "$(nproc)" "$@"
