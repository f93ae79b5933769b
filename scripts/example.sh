#!/usr/bin/env bash
# README command 1: set up, build, and run the main example.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
build="${STEPJIT_BUILD_DIR:-$root/build}"
exec "$build/examples/seed_adam" "$@"
