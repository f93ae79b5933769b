# Build options: warnings, debug information, sanitizers, fuzzing and what gets built. CI
# (scripts/test.sh) builds three ways with them; docs/testing.md describes each build.
#
#   STEPJIT_WERROR=ON                    warnings are errors (-Wall -Wextra are always on)
#   STEPJIT_DEBUG_INFO=full|lines|none   -g (default), -g1 (line tables: enough for stack traces,
#                                        about 30% cheaper to compile), or none
#   STEPJIT_SANITIZE=address,undefined   instrumented build (or `thread`); errors abort the test
#   STEPJIT_FUZZ=ON                      libFuzzer targets in tests/fuzz (clang only)
#   STEPJIT_BUILD_BENCH=OFF              no bench/ (not run by ctest)
#   STEPJIT_TEST_PCH=OFF                 no precompiled header for the tests
#   STEPJIT_LINKER=gold                  link with -fuse-ld=gold (or lld, mold): ~5x faster than
#                                        the default bfd for the ~60 test executables

option(STEPJIT_WERROR "Treat compiler warnings as errors" OFF)
set(STEPJIT_DEBUG_INFO "full" CACHE STRING "Debug information: full (-g), lines (-g1) or none")
set_property(CACHE STEPJIT_DEBUG_INFO PROPERTY STRINGS full lines none)
set(STEPJIT_SANITIZE "" CACHE STRING
    "Sanitizers to build with: address,undefined or thread (empty: none)")
option(STEPJIT_FUZZ "Build the libFuzzer targets of tests/fuzz (clang)" OFF)
option(STEPJIT_BUILD_BENCH "Build the benchmarks (bench/)" ON)
option(STEPJIT_TEST_PCH "Compile the tests with one precompiled header" ON)
set(STEPJIT_LINKER "" CACHE STRING "Linker, as -fuse-ld=<linker> (gold, lld, mold; empty: default)")

if(STEPJIT_LINKER)
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_LINK_OPTIONS -fuse-ld=${STEPJIT_LINKER})
  check_cxx_source_compiles("int main() { return 0; }" SJ_LINKER_WORKS_${STEPJIT_LINKER})
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(NOT SJ_LINKER_WORKS_${STEPJIT_LINKER})
    message(FATAL_ERROR "STEPJIT_LINKER=${STEPJIT_LINKER}: -fuse-ld=${STEPJIT_LINKER} does not link")
  endif()
  add_link_options(-fuse-ld=${STEPJIT_LINKER})
endif()

add_compile_options(-Wall -Wextra)
# clang 19 with libstdc++ 12 (Debian 12) warns inside <algorithm> on every std::stable_sort:
# libstdc++ calls its own deprecated get_temporary_buffer there, and clang reports it in the
# caller's file. Undefining __DEPRECATED turns off libstdc++'s deprecation attributes only
# (our own [[deprecated]] still warns; the g++ build still checks our uses of libstdc++).
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-std=c++20 -Werror")
  check_cxx_source_compiles([[
    #include <algorithm>
    #include <vector>
    int main() { std::vector<int> v; std::stable_sort(v.begin(), v.end()); }]]
    SJ_STABLE_SORT_WITHOUT_WARNINGS)
  unset(CMAKE_REQUIRED_FLAGS)
  if(NOT SJ_STABLE_SORT_WITHOUT_WARNINGS)
    add_compile_options(-U__DEPRECATED)
  endif()
endif()
if(STEPJIT_WERROR)
  add_compile_options(-Werror)
endif()

# Debug information: rewrite the -g of the configurations that have one.
if(NOT STEPJIT_DEBUG_INFO MATCHES "^(full|lines|none)$")
  message(FATAL_ERROR "STEPJIT_DEBUG_INFO must be full, lines or none, not '${STEPJIT_DEBUG_INFO}'")
endif()
if(NOT STEPJIT_DEBUG_INFO STREQUAL "full")
  set(sj_g "")
  if(STEPJIT_DEBUG_INFO STREQUAL "lines")
    set(sj_g "-g1") # g++: line tables and function names; clang: -gline-tables-only
  endif()
  foreach(config DEBUG RELWITHDEBINFO)
    string(REGEX REPLACE "(^| )-g( |$)" "\\1${sj_g}\\2" CMAKE_CXX_FLAGS_${config}
                         "${CMAKE_CXX_FLAGS_${config}}")
  endforeach()
endif()

# Sanitizers. -fno-sanitize-recover=all: every report aborts the process, so a test that
# triggers one fails (UBSan would otherwise print and carry on). The runtime options every test
# runs with (ctest sets them) are in cmake/sanitizer_env.cmake.
set(SJ_SANITIZERS "")
if(STEPJIT_SANITIZE)
  string(REPLACE "," ";" SJ_SANITIZERS "${STEPJIT_SANITIZE}")
  foreach(s ${SJ_SANITIZERS})
    if(NOT s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "STEPJIT_SANITIZE: unknown sanitizer '${s}' "
                          "(address, undefined, thread or leak)")
    endif()
  endforeach()
  if("thread" IN_LIST SJ_SANITIZERS AND "address" IN_LIST SJ_SANITIZERS)
    message(FATAL_ERROR "STEPJIT_SANITIZE: thread and address cannot be combined")
  endif()
  set(sj_flags -fsanitize=${STEPJIT_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  if("undefined" IN_LIST SJ_SANITIZERS AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # -fsanitize=function checks an indirect call by reading a signature stored just before
    # the callee; compiled steps are called through function pointers into JIT code, which has
    # none (it is not built by clang), so the check cannot apply there.
    list(APPEND sj_flags -fno-sanitize=function)
  endif()
  add_compile_options(${sj_flags})
  add_link_options(-fsanitize=${STEPJIT_SANITIZE})
  # The usual optimization for instrumented code: -O1 keeps stack traces exact and the run
  # fast enough (RelWithDebInfo is -O2 otherwise).
  string(REPLACE "-O2" "-O1" CMAKE_CXX_FLAGS_RELWITHDEBINFO "${CMAKE_CXX_FLAGS_RELWITHDEBINFO}")
  message(STATUS "stepjit: sanitizers ${STEPJIT_SANITIZE}")
endif()

# STEPJIT_TESTS: define only these gtest executables, as tests/ paths without .cpp, each
# `path[:gtest filter]` (then no example, compile-fail or install test either); empty: all.
# CI's ASan build runs a subset (scripts/test.sh); a ThreadSanitizer build defaults to the
# tests that run threads (SJ_THREAD_TESTS, tests/CMakeLists.txt).
set(STEPJIT_TESTS "" CACHE STRING "Only these tests (tests/ paths without .cpp[:filter]); empty: all")
set(SJ_TEST_SUBSET OFF)
if(STEPJIT_TESTS OR "thread" IN_LIST SJ_SANITIZERS)
  set(SJ_TEST_SUBSET ON)
endif()

if(STEPJIT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "STEPJIT_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++-19")
  endif()
  # The libraries get libFuzzer's coverage instrumentation (sj_fuzz_coverage below); the fuzz
  # targets link libFuzzer itself (-fsanitize=fuzzer, tests/fuzz/CMakeLists.txt).
endif()

# Called for each library after it is defined: coverage for the fuzzers to follow.
function(sj_fuzz_coverage target)
  if(STEPJIT_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

include(${CMAKE_CURRENT_LIST_DIR}/sanitizer_env.cmake)
