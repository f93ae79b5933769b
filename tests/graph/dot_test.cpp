// Graphviz export: one box per value, operand -> user edges, output nodes, escaped labels.
#include "graph/builder.h"
#include "graph/dot.h"
#include "graph/parse.h"

#include <algorithm>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A minimal DOT syntax check: quoted strings close (with backslash escapes), braces and
// brackets balance outside them, and every statement line ends with ';' or a brace.
::testing::AssertionResult well_formed(const std::string& dot) {
  int braces = 0, brackets = 0;
  bool quoted = false;
  for (size_t i = 0; i < dot.size(); ++i) {
    char c = dot[i];
    if (quoted) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quoted = false;
      else if (c == '\n')
        return ::testing::AssertionFailure() << "raw newline in a string";
      continue;
    }
    if (c == '"') quoted = true;
    braces += (c == '{') - (c == '}');
    brackets += (c == '[') - (c == ']');
    if (braces < 0 || brackets < 0) return ::testing::AssertionFailure() << "unbalanced at " << i;
  }
  if (quoted || braces || brackets) return ::testing::AssertionFailure() << "unclosed";
  return ::testing::AssertionSuccess();
}

size_t count(const std::string& s, std::string_view what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1))
    ++n;
  return n;
}

Graph small_model() {
  return parse(R"(graph net {
  %x = input : f32[4,3]
  %w = variable {init = glorot_uniform, seed = 1} : f32[3,2]
  %c = constant {value = 0.5} : f32[]
  %0 = matmul(%x, %w) : f32[4,2]
  %h = mul(%0, %c) : f32[4,2]
  %1 = relu(%h) : f32[4,2]
  %s = reduce_sum(%1) {axes = [0, 1]} : f32[]
  %v = variable : f32[]
  %2 = assign(%v, %s) : f32[]
  output y = %1
  output s = %2
}
)");
}

TEST(Dot, OneNodePerValueLabelledWithNameOpAndType) {
  std::string dot = to_dot(small_model());
  EXPECT_TRUE(well_formed(dot)) << dot;
  EXPECT_THAT(dot, HasSubstr("digraph \"net\" {\n"));
  EXPECT_THAT(dot, HasSubstr("  v0 [label=\"%x\\ninput\\nf32[4,3]\", shape=invhouse"));
  EXPECT_THAT(dot, HasSubstr("  v1 [label=\"%w\\nvariable {init = glorot_uniform, seed = 1}\\n"
                             "f32[3,2]\", shape=cylinder"));
  EXPECT_THAT(dot, HasSubstr("  v2 [label=\"%c\\nconstant {value = 0.5}\\nf32[]\", shape=note"));
  EXPECT_THAT(dot, HasSubstr("  v3 [label=\"%0\\nmatmul\\nf32[4,2]\", shape=box"));
  EXPECT_THAT(dot, HasSubstr("  v6 [label=\"%s\\nreduce_sum {axes = [0, 1]}\\nf32[]\""));
  for (int i = 0; i < 9; ++i)
    EXPECT_EQ(count(dot, fmt::format("  v{} [label=", i)), 1u) << i;
  EXPECT_EQ(count(dot, " [label=\"%"), 9u);
}

TEST(Dot, SourcesEffectsAndOutputsLookDistinct) {
  std::string dot = to_dot(small_model());
  auto line_of = [&](std::string_view prefix) {
    size_t at = dot.find(prefix);
    EXPECT_NE(at, std::string::npos) << prefix;
    return dot.substr(at, dot.find('\n', at) - at);
  };
  auto style = [&](std::string_view prefix) {
    std::string line = line_of(prefix);
    return line.substr(line.find("\", ") + 3); // everything after the label
  };
  std::vector<std::string> styles = {style("  v0 "), style("  v1 "), style("  v2 "),
                                     style("  v3 "), style("  v8 "), style("  out0 ")};
  std::sort(styles.begin(), styles.end());
  EXPECT_EQ(std::unique(styles.begin(), styles.end()), styles.end())
      << "input, variable, constant, plain op, assign and output share a style:\n"
      << dot;
  // Plain ops share one style.
  EXPECT_EQ(style("  v3 "), style("  v5 "));
}

TEST(Dot, EdgesGoFromOperandToUserAndNameOrderedOperands) {
  std::string dot = to_dot(small_model());
  EXPECT_THAT(dot, HasSubstr("  v0 -> v3 [label=\"a\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  v1 -> v3 [label=\"b\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  v4 -> v5;\n")); // one operand: no label
  EXPECT_THAT(dot, HasSubstr("  v7 -> v8 [label=\"variable\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  v6 -> v8 [label=\"value\"];\n"));
  // Eight operand edges (matmul 2, mul 2, relu 1, reduce_sum 1, assign 2) and two output edges.
  EXPECT_EQ(count(dot, " -> "), 10u);
}

TEST(Dot, OutputsAreNodesFedByTheirValue) {
  std::string dot = to_dot(small_model());
  EXPECT_THAT(dot, HasSubstr("  out0 [label=\"output y\", shape=doubleoctagon"));
  EXPECT_THAT(dot, HasSubstr("  v5 -> out0;\n"));
  EXPECT_THAT(dot, HasSubstr("  out1 [label=\"output s\""));
  EXPECT_THAT(dot, HasSubstr("  v8 -> out1;\n"));
}

TEST(Dot, VariadicOperandsAreNumberedAndRepeatedOperandsKeepTheirEdges) {
  Graph g("cat");
  auto x = input(g, "x", {DType::f32, {1, 2}});
  auto y = input(g, "y", {DType::f32, {1, 2}});
  concat({x, y, x}, 0);
  add(x, x);
  std::string dot = to_dot(g);
  EXPECT_THAT(dot, HasSubstr("  v0 -> v2 [label=\"0\"];\n  v1 -> v2 [label=\"1\"];\n"
                             "  v0 -> v2 [label=\"2\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  v0 -> v3 [label=\"a\"];\n  v0 -> v3 [label=\"b\"];\n"));
}

TEST(Dot, LabelsAreEscaped) {
  Graph g("we\"ird\\name\nhere");
  input(g, "x", {DType::f32, {2}});
  std::string dot = to_dot(g);
  EXPECT_TRUE(well_formed(dot)) << dot;
  EXPECT_THAT(dot, HasSubstr("digraph \"we\\\"ird\\\\name\\nhere\" {"));
}

TEST(Dot, LongAttributesAreShortened) {
  Graph g("big");
  std::vector<float> values(1000);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>(i);
  constant(g, Tensor::from<float>({1000}, values));
  std::string dot = to_dot(g);
  EXPECT_THAT(dot, HasSubstr("constant {value = [0.0, 1.0, 2.0"));
  EXPECT_THAT(dot, HasSubstr("...\\nf32[1000]"));
  EXPECT_THAT(dot, Not(HasSubstr("999.0")));
  EXPECT_LT(dot.size(), 400u);
}

TEST(Dot, EmptyGraph) {
  std::string dot = to_dot(Graph("empty"));
  EXPECT_TRUE(well_formed(dot));
  EXPECT_THAT(dot, HasSubstr("digraph \"empty\" {"));
  EXPECT_EQ(count(dot, " -> "), 0u);
}

} // namespace
} // namespace sj
