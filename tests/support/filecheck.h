// A small FileCheck for golden IR tests, after LLVM's: the expected output is written as
// directives in comments, so one .sj file holds a pass's input and what it must produce.
//
//   # CHECK:      %0 = matmul(%x, %w) : f32[32,10]     a later line contains this
//   # CHECK-NEXT: relu(%0)                              the very next line contains this
//   # CHECK-NOT:  transpose                             no line between the neighbouring
//                                                       matches contains this
//   # CHECK:      [[G:%[0-9]+]] = mul                   capture a name...
//   # CHECK:      add([[G]], {{%[a-z]+}})               ...use it; {{...}} is a regex
//
// Patterns match within one line; text outside {{ }} and [[ ]] is literal; surrounding
// whitespace is ignored.
#pragma once

#include <string>
#include <string_view>

namespace sj::test {

/// Checks `output` against the CHECK directives found in `checks` (lines containing
/// `CHECK:`, `CHECK-NEXT:` or `CHECK-NOT:`). Returns "" on success, else what failed, with the
/// directive's line number and the output near the failure.
std::string filecheck(std::string_view output, std::string_view checks);

} // namespace sj::test
