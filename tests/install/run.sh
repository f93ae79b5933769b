#!/usr/bin/env bash
# Installs stepjit from the build tree into a scratch prefix, then configures, builds and runs
# an out-of-tree project that uses it through find_package(stepjit).
set -euo pipefail
build="$1" source="$2"
scratch="$build/test-tmp/install"
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$source/tests/install/consumer" -B "$scratch/consumer" -G Ninja \
      -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$scratch/consumer" >/dev/null
"$scratch/consumer/consumer"
