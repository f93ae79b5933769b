// Every op of graph/ops.def has an interpreter kernel and interpreter tests. Adding an op
// without them fails here.
//
// The tests of op `reduce_sum` are the test suite `ReduceSum` (the op name in PascalCase) in
// some tests/runtime/*_test.cpp. The test files are separate executables, so the registry is
// read from their sources: the suite names of every TEST/TEST_F/TYPED_TEST in them.
#include "graph/op_table.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace sj {
namespace {

std::string pascal_case(std::string_view name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? char(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

// The suite names of the tests in tests/runtime/*_test.cpp.
std::set<std::string> runtime_test_suites() {
  std::set<std::string> suites;
  std::filesystem::path dir = std::filesystem::path(SJ_SOURCE_DIR) / "tests" / "runtime";
  std::regex test_macro(R"(\b(?:TEST|TEST_F|TYPED_TEST|TEST_P)\s*\(\s*(\w+)\s*,)");
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string file = entry.path().filename().string();
    if (!file.ends_with("_test.cpp") || file == "op_coverage_test.cpp") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    std::string source = text.str();
    for (std::sregex_iterator it(source.begin(), source.end(), test_macro), end; it != end; ++it)
      suites.insert((*it)[1]);
  }
  return suites;
}

TEST(OpCoverage, PascalCaseOfOpNames) {
  EXPECT_EQ(pascal_case("softmax_cross_entropy"), "SoftmaxCrossEntropy");
  EXPECT_EQ(pascal_case("add"), "Add");
}

TEST(OpCoverage, EveryOpHasAnInterpreterKernel) {
  for (Op op : kAllOps)
    EXPECT_NE(op_def(op).eval, nullptr) << "op '" << op_name(op) << "' has no interpreter kernel "
                                        << "(set .eval in its graph/ops/<family>.cpp entry)";
}

TEST(OpCoverage, EveryOpHasInterpreterTests) {
  std::set<std::string> suites = runtime_test_suites();
  ASSERT_FALSE(suites.empty()) << "no tests found under " << SJ_SOURCE_DIR << "/tests/runtime";
  for (Op op : kAllOps) {
    std::string suite = pascal_case(op_name(op));
    EXPECT_TRUE(suites.count(suite))
        << "op '" << op_name(op) << "' has no interpreter tests: add TEST(" << suite
        << ", ...) with hand-computed values to a tests/runtime/*_test.cpp";
  }
}

} // namespace
} // namespace sj
