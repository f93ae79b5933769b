#!/usr/bin/env bash
# README command 2: set up, build, and run every test, as CI does (.ci/run runs exactly this).
#
#   1. g++ 12 (build/): the main ctest suite; warnings are errors.
#   2. clang 19 with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/): the tests of
#      untrusted input and generated code (asan_default below; STEPJIT_ASAN_TESTS=all: the whole
#      suite), then each libFuzzer target for STEPJIT_FUZZ_SECONDS (30) on its corpus;
#      warnings are errors (so both compilers are checked).
#   3. clang 19 with ThreadSanitizer (build-tsan/): only the tests that run threads (the thread
#      pool, the threaded GEMM, compiled steps on 2 threads), only their targets built.
#
# Prints how long each stage took and fails if any stage fails (all stages run regardless).
# On a fresh Debian 12 machine, as root, it installs what is missing first.
#
#   STEPJIT_QUICK=1 bash scripts/test.sh     stage 1 only: the quick g++ suite
#   bash scripts/test.sh -R Parse            extra arguments go to stage 1's ctest (and make it
#                                            the only stage, as STEPJIT_QUICK=1 does)
#   STEPJIT_STAGES="asan tsan"               choose stages (gcc asan tsan; default all three)
#   STEPJIT_FUZZ_SECONDS=600                 fuzz longer (docs/testing.md: for hours)
#   STEPJIT_ASAN_TESTS=all                   the whole suite in the ASan build (or a list of
#                                            tests/ paths without .cpp)
# Build directories: STEPJIT_BUILD_DIR (build), STEPJIT_ASAN_DIR (build-asan), STEPJIT_TSAN_DIR
# (build-tsan). Options given here apply when a directory is configured for the first time.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="$(nproc)"
stages="${STEPJIT_STAGES:-gcc asan tsan}"
if [ -n "${STEPJIT_QUICK:-}" ] || [ "$#" -gt 0 ]; then stages="gcc"; fi
fuzz_seconds="${STEPJIT_FUZZ_SECONDS:-30}"
asan="${STEPJIT_ASAN_DIR:-$root/build-asan}"
tsan="${STEPJIT_TSAN_DIR:-$root/build-tsan}"

failed=()
report=()
start_all=$SECONDS
# Sets `cpu` to the CPU seconds (user + system) used so far by finished child processes
# (`times` must run in this shell, not in a $(...) subshell, to see them).
cpu_file="$(mktemp)"
trap 'rm -f "$cpu_file"' EXIT
cpu_seconds() {
  times >"$cpu_file"
  cpu="$(tail -n 1 "$cpu_file" | awk '{ s = 0; for (i = 1; i <= 2; ++i) { split($i, p, "m"); s += p[1] * 60 + p[2] } printf "%d", s }')"
}
# stage NAME COMMAND...: runs a stage, records its wall-clock and CPU time and whether it failed.
stage() {
  local name="$1" t0=$SECONDS c0 status=0
  cpu_seconds
  c0=$cpu
  shift
  echo "==== stepjit: $name"
  "$@" || status=$?
  local dt=$((SECONDS - t0))
  cpu_seconds
  local used=$((cpu - c0))
  report+=("$(printf '%-46s %3d:%02d  %6d CPU-s  %s' "$name" $((dt / 60)) $((dt % 60)) "$used" \
    "$([ $status -eq 0 ] && echo ok || echo "FAILED ($status)")")")
  [ $status -eq 0 ] || failed+=("$name")
  echo "==== stepjit: $name: $((dt / 60)) min $((dt % 60)) s, $used CPU-s$([ $status -eq 0 ] || echo ", FAILED")"
  return 0
}

# clang-19, libclang-rt-19-dev (the sanitizer and libFuzzer runtimes) and libomp-19-dev
# (OpenMP for clang) for stages 2 and 3; setup.sh installs the rest.
install_clang() {
  STEPJIT_EXTRA_PACKAGES="clang-19 libclang-rt-19-dev libomp-19-dev" \
    bash "$root/scripts/setup.sh" --install-only
}

# configure DIR ARGS...: cmake -G Ninja, once (a configured directory keeps its options).
configure() {
  local dir="$1"
  shift
  [ -f "$dir/build.ninja" ] && return 0
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
}

# A failed build still runs the tests that did build (one CI run shows every failure); the
# stage fails either way.
gcc_stage() {
  local built=0 tested=0
  STEPJIT_CONFIGURE_ARGS="-DSTEPJIT_WERROR=ON -DSTEPJIT_DEBUG_INFO=lines -DSTEPJIT_LINKER=gold" \
    bash "$root/scripts/setup.sh" || built=$?
  ctest --test-dir "${STEPJIT_BUILD_DIR:-$root/build}" --output-on-failure -j "$jobs" "$@" ||
    tested=$?
  return $((built || tested))
}

# Instrumented builds: line tables only (enough for every stack trace), no bench/. Every build
# links with gold (binutils, always there with g++): ~5x less link time than bfd.
sanitizer_args=(-DCMAKE_CXX_COMPILER=clang++-19 -DSTEPJIT_WERROR=ON -DSTEPJIT_DEBUG_INFO=lines
                -DSTEPJIT_BUILD_BENCH=OFF -DSTEPJIT_LINKER=gold)

# The ASan+UBSan build runs the tests of what takes untrusted input or computes addresses: the
# parser and verifier, the readers, the interpreter and its kernels, the code generator, the
# GEMM, convolution and attention kernels, the CLI on bad files and flags, the PyTorch
# references, the goldens that pin clang's graphs to g++'s, and clang's compile-fail wordings.
# Left to stage 1: the frontend's and the passes' unit tests (plain C++ over graphs) and the
# end-to-end examples (their kernels are these tests' kernels; instrumented, the GPT example
# alone takes two minutes). The whole suite instrumented (passed on 2026-12-04, 1283 tests)
# would make .ci/run about 30 minutes on CI's machine: STEPJIT_ASAN_TESTS=all runs it, or
# STEPJIT_ASAN_TESTS="path ..." (tests/ paths without .cpp) any other set.
asan_default=(graph/parse_errors_test graph/print_parse_test graph/shape_errors_test
              graph/verify_test runtime/interpreter_test runtime/npy_test runtime/checkpoint_test
              runtime/csv_test runtime/file_util_test runtime/batcher_test
              runtime/token_batcher_test runtime/kernels_conv_test runtime/kernels_nn_test
              runtime/kernels_layout_test runtime/kernels_attention_test runtime/op_coverage_test
              runtime/torch_reference_test codegen/perf_map_test codegen/compiled_step_test
              codegen/check_numerics_test
              codegen/ops_compiled_test codegen/pathological_graphs_test
              codegen/random_graphs_test kernels/gemm_test kernels/conv_test
              kernels/attention_test passes/golden_test frontend/training_graphs_test
              frontend/torch_gpt_reference_test tools/cli_files_test tools/cli_flags_test
              compile_fail)
if [ "${STEPJIT_ASAN_TESTS:-}" = all ]; then
  asan_tests=()
elif [ -n "${STEPJIT_ASAN_TESTS:-}" ]; then
  read -r -a asan_tests <<<"$STEPJIT_ASAN_TESTS"
else
  asan_tests=("${asan_default[@]}")
fi
asan_build() {
  install_clang || return
  configure "$asan" "${sanitizer_args[@]}" -DSTEPJIT_SANITIZE=address,undefined \
    -DSTEPJIT_FUZZ=ON || return
  cmake "$asan" -DSTEPJIT_FUZZ_SECONDS="$fuzz_seconds" \
    "-DSTEPJIT_TESTS=$(IFS=';'; echo "${asan_tests[*]}")" >/dev/null || return
  cmake --build "$asan" -j "$jobs" -- -k 0
}
asan_suite() { ctest --test-dir "$asan" --output-on-failure -j "$jobs" -LE fuzz; }
asan_fuzz() {
  ctest --test-dir "$asan" --output-on-failure -j "$jobs" -L fuzz || return
  cat "$asan"/tests/fuzz/*/runs.txt 2>/dev/null | tail -n 4
}

# The targets of SJ_THREAD_TESTS in tests/CMakeLists.txt (the one list of the thread tests):
# `kernels/gemm_test:*Filter*` is target kernels_gemm_test.
mapfile -t tsan_targets < <(sed -n '/^set(SJ_THREAD_TESTS/,/)/p' "$root/tests/CMakeLists.txt" |
  grep -o '[a-z_]*/[a-z_]*_test' | tr '/' '_')
tsan_build() {
  install_clang || return
  configure "$tsan" "${sanitizer_args[@]}" -DSTEPJIT_SANITIZE=thread || return
  cmake --build "$tsan" -j "$jobs" --target "${tsan_targets[@]}" -- -k 0
}
tsan_suite() { ctest --test-dir "$tsan" --output-on-failure -j "$jobs"; }

for s in $stages; do
  case "$s" in
  gcc) stage "1. g++: build, ctest" gcc_stage "$@" ;;
  asan)
    stage "2a. clang ASan+UBSan: install, build" asan_build
    stage "2b. clang ASan+UBSan: ctest (asan tests)" asan_suite
    stage "2c. clang ASan+UBSan: fuzz, ${fuzz_seconds} s per target" asan_fuzz
    ;;
  tsan)
    stage "3a. clang TSan: build the thread tests" tsan_build
    stage "3b. clang TSan: ctest (thread tests)" tsan_suite
    ;;
  *)
    echo "stepjit: unknown stage '$s' in STEPJIT_STAGES (gcc asan tsan)" >&2
    exit 2
    ;;
  esac
done

total=$((SECONDS - start_all))
echo
echo "==== stepjit: stage times (wall clock min:s on $jobs cores, and CPU seconds)"
printf '%s\n' "${report[@]}"
cpu_seconds
printf '%-46s %3d:%02d  %6d CPU-s\n' "total" $((total / 60)) $((total % 60)) "$cpu"
if ((${#failed[@]})); then
  echo "stepjit: FAILED: ${failed[*]}" >&2
  exit 1
fi
