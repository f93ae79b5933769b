// Every op of graph/ops.def has an interpreter kernel and interpreter tests. Adding an op
// without them fails here.
//
// The tests of op `reduce_sum` are the test suite `ReduceSum` (the op name in PascalCase) in
// some tests/runtime/*_test.cpp. The test files are separate executables, so the registry is
// read from their sources: the suite names of every TEST/TEST_F/TYPED_TEST in them.
#include "graph/op_table.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
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

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

size_t skip_space(const std::string& s, size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
    ++i;
  return i;
}

// The suite names in `source`: the first argument of each TEST(, TEST_F(, TEST_P( and
// TYPED_TEST( (a plain scan; std::regex trips GCC 12's -Wmaybe-uninitialized).
void add_suites(const std::string& source, std::set<std::string>& suites) {
  for (std::string_view macro : {"TEST(", "TEST_F(", "TEST_P(", "TYPED_TEST("}) {
    for (size_t at = source.find(macro); at != std::string::npos; at = source.find(macro, at + 1)) {
      if (at > 0 && is_word_char(source[at - 1])) continue; // e.g. MY_TEST(
      size_t begin = skip_space(source, at + macro.size()), end = begin;
      while (end < source.size() && is_word_char(source[end]))
        ++end;
      size_t comma = skip_space(source, end);
      if (end > begin && comma < source.size() && source[comma] == ',')
        suites.insert(source.substr(begin, end - begin));
    }
  }
}

// The suite names of the tests in tests/runtime/*_test.cpp.
std::set<std::string> runtime_test_suites() {
  std::set<std::string> suites;
  std::filesystem::path dir = std::filesystem::path(SJ_SOURCE_DIR) / "tests" / "runtime";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string file = entry.path().filename().string();
    if (!file.ends_with("_test.cpp") || file == "op_coverage_test.cpp") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    add_suites(text.str(), suites);
  }
  return suites;
}

TEST(OpCoverage, FindsSuiteNames) {
  std::set<std::string> suites;
  add_suites("TEST(Add, X) {}\nTEST_F( ReduceSum ,Y)\nMY_TEST(Nope, Z)\nTEST(NoComma)", suites);
  EXPECT_EQ(suites, (std::set<std::string>{"Add", "ReduceSum"}));
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
