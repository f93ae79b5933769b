#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages only), configures and builds stepjit in build/.
# Run by scripts/example.sh and scripts/test.sh; safe to run again (does only what's needed).
#
#   setup.sh                  install, configure (once), build
#   setup.sh --install-only   install only
# Environment: STEPJIT_BUILD_DIR (default build/); STEPJIT_EXTRA_PACKAGES, more packages to
# install (test.sh: clang-19 and its runtimes); STEPJIT_CONFIGURE_ARGS, CMake options used
# when the build directory is configured for the first time (test.sh: -DSTEPJIT_WERROR=ON ...).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${STEPJIT_BUILD_DIR:-$root/build}"

packages=(cmake ninja-build g++ llvm-19-dev libeigen3-dev libgtest-dev libgmock-dev libbenchmark-dev
          libcli11-dev nlohmann-json3-dev libfmt-dev)
read -r -a extra <<<"${STEPJIT_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "stepjit: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "${1:-}" = "--install-only" ] && exit 0

if [ ! -f "$build/build.ninja" ]; then
  read -r -a configure_args <<<"${STEPJIT_CONFIGURE_ARGS:-}"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${configure_args[@]}" >/dev/null
fi
cmake --build "$build" -j "$(nproc)" -- -k 0 # (every error at once; fails all the same)
