// Comparing a test's output with a committed golden file.
//
// SJ_UPDATE_GOLDEN=1 rewrites the file instead (then review the diff before committing it).
// The graphs behind these files are built by stepjit's own C++ (gradient rules, optimizers,
// layers): a difference between compilers (g++ and clang order unsequenced function arguments
// differently, so `f(a(), b())` may build b's node first) shows up here as a failure.
#pragma once

#include "tests/support/cli.h"

#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>

namespace sj::test {

/// Expects `actual` to equal the file at `relative_path` (from the source tree); on a mismatch
/// reports the first differing line of each.
inline void expect_golden(const std::string& actual, const std::string& relative_path) {
  std::string path = source_path(relative_path);
  if (const char* update = std::getenv("SJ_UPDATE_GOLDEN"); update && *update == '1') {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  std::string want = read_file(path);
  if (want == actual) return;
  std::istringstream a(actual), w(want);
  std::string la, lw;
  for (int line = 1;; ++line) {
    bool more_a = bool(std::getline(a, la)), more_w = bool(std::getline(w, lw));
    if (!more_a && !more_w) break;
    if (more_a != more_w || la != lw) {
      ADD_FAILURE() << relative_path << ":" << line << ": differs (SJ_UPDATE_GOLDEN=1 rewrites "
                    << "it)\n  golden: " << (more_w ? lw : "<end of file>")
                    << "\n  actual: " << (more_a ? la : "<end of output>");
      return;
    }
  }
}

} // namespace sj::test
