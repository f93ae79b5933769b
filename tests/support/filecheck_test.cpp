// The golden-test matcher must fail when it should, or golden tests prove nothing.
#include "tests/support/filecheck.h"

#include <gtest/gtest.h>

namespace sj::test {
namespace {

const char* kOutput = "graph g {\n"
                      "  %x = input : f32[2]\n"
                      "  %0 = exp(%x) : f32[2]\n"
                      "  %1 = mul(%0, %x) : f32[2]\n"
                      "  output y = %1\n"
                      "}\n";

TEST(FileCheck, Passes) {
  EXPECT_EQ(filecheck(kOutput, "# CHECK: input\n# CHECK-NEXT: exp(%x)\n# CHECK: output y"), "");
  EXPECT_EQ(filecheck(kOutput, "CHECK: [[E:%[0-9]+]] = exp\nCHECK: mul([[E]], %x)\n"
                               "CHECK: output y = {{%[0-9]+}}"),
            "");
  EXPECT_EQ(filecheck(kOutput, "CHECK: input\nCHECK-NOT: add\nCHECK: output"), "");
}

TEST(FileCheck, Fails) {
  EXPECT_NE(filecheck(kOutput, "CHECK: add("), "");
  EXPECT_NE(filecheck(kOutput, "CHECK: input\nCHECK-NEXT: mul"), "");
  EXPECT_NE(filecheck(kOutput, "CHECK: input\nCHECK-NOT: exp\nCHECK: mul"), "");
  EXPECT_NE(filecheck(kOutput, "CHECK: exp\nCHECK-NOT: mul"), "");
  EXPECT_NE(filecheck(kOutput, "CHECK: mul\nCHECK: exp"), ""); // order matters
  EXPECT_NE(filecheck(kOutput, "CHECK: [[E:%[0-9]+]] = exp\nCHECK: mul(%x, [[E]])"), "");
  EXPECT_NE(filecheck(kOutput, "CHECK: [[UNDEFINED]]"), "");
  EXPECT_NE(filecheck(kOutput, "no directives here"), "");
  EXPECT_NE(filecheck(kOutput, "CHECK: f32.2"), "") << ". must be literal, not a regex";
  EXPECT_EQ(filecheck(kOutput, "CHECK: f32[2]"), "");
}

} // namespace
} // namespace sj::test
