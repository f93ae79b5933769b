// `stepjit export`: models defined in C++ shared libraries, written as text IR.
#include "graph/builder.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "runtime/compiled_step.h"
#include "runtime/export.h"
#include "tests/support/cli.h"
#include "tests/support/rng.h"

#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using test::run_stepjit;
using ::testing::HasSubstr;

std::string library(const std::string& relative) {
  // One literal prefix: g++ 12 gives a false -Warray-bounds on a chain of string + at -O2.
  return std::string(SJ_BINARY_DIR "/") + relative;
}
const std::string kWorkloads = library("examples/libstepjit_models.so");
const std::string kTestModels = library("tests/libsj_test_models.so");

Graph parse_file(const std::string& path) { return parse(test::read_file(path), path); }

// Random feeds of every input's type (labels in [0, 10)).
std::map<std::string, Tensor> random_feeds(const Graph& g, uint64_t seed) {
  test::Rng rng(seed);
  std::map<std::string, Tensor> feeds;
  for (ValueId v : g.nodes_of(Op::input)) {
    Tensor t(g.type(v));
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      if (t.dtype() == DType::i32)
        t.data<int32_t>()[i] = static_cast<int32_t>(rng.below(10));
      else
        t.data<float>()[i] = static_cast<float>(rng.uniform(-1, 1));
    }
    feeds.emplace(g.node(v).name, std::move(t));
  }
  return feeds;
}

std::string signature(const Graph& g, Op op) {
  std::string s;
  for (ValueId v : g.nodes_of(op))
    s += g.node(v).name + " " + g.type(v).str() + " " + attrs_str(g.node(v)) + "\n";
  return s;
}

TEST(Export, ListsTheWorkloadModels) {
  auto r = run_stepjit("export " + kWorkloads + " --list");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "seed\nmlp\nwide\ncnn\ngpt\n");
}

// examples/models/*.sj are written by hand, with comments; the C++ models of
// examples/models/models.cpp must define the same computation: same inputs, variables (names,
// types, initializers) and outputs, and the same output values on the same feeds.
TEST(Export, TheCppWorkloadsMatchExamplesModelsSj) {
  std::string dir = test::temp_dir("export_workloads");
  auto r = run_stepjit("export " + kWorkloads + " --out-dir " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string name : {"seed", "mlp", "wide", "cnn", "gpt"}) {
    SCOPED_TRACE(name);
    EXPECT_THAT(r.out, HasSubstr("wrote model '" + name + "'"));
    Graph exported = parse_file(dir + "/" + name + ".sj");
    Graph written = parse_file(test::source_path("examples/models/" + name + ".sj"));
    EXPECT_EQ(exported.name(), written.name());
    EXPECT_EQ(signature(exported, Op::input), signature(written, Op::input));
    EXPECT_EQ(signature(exported, Op::variable), signature(written, Op::variable));
    ASSERT_EQ(exported.outputs().size(), written.outputs().size());
    auto feeds = random_feeds(written, 7);
    auto a = CompiledStep::compile(exported).run(feeds);
    auto b = CompiledStep::compile(written).run(feeds);
    for (const Output& o : written.outputs()) {
      SCOPED_TRACE(o.name);
      ASSERT_TRUE(a.count(o.name));
      const Tensor &x = a.at(o.name), &y = b.at(o.name);
      ASSERT_EQ(x.type(), y.type());
      for (int64_t i = 0; i < x.num_elements(); ++i)
        ASSERT_NEAR(x.as_double(i), y.as_double(i), 1e-5 * (1 + std::abs(y.as_double(i))))
            << "element " << i;
    }
  }
}

TEST(Export, OneModelToAFileOrStandardOutput) {
  std::string dir = test::temp_dir("export_one");
  auto r = run_stepjit("export " + kTestModels + " --model tiny -o " + dir + "/tiny.sj");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrote model 'tiny' (6 nodes, 2 variables)"));
  Graph g = parse_file(dir + "/tiny.sj");
  EXPECT_EQ(g.name(), "tiny");
  EXPECT_TRUE(g.find("dense_0/kernel"));

  auto s = run_stepjit("export " + kTestModels + " --model tiny");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out, test::read_file(dir + "/tiny.sj"));
  // What was exported runs from the shell.
  auto c = run_stepjit("check " + dir + "/tiny.sj");
  EXPECT_EQ(c.exit_code, 0) << c.err;
}

TEST(Export, TheCppApiWritesTheSameText) {
  Graph g("api");
  auto x = input(g, "x", {DType::f32, {2}});
  output("y", relu(x));
  std::string path = test::temp_dir("export_api") + "/api.sj";
  export_model(g, path);
  EXPECT_EQ(test::read_file(path), print(g));
  EXPECT_THROW(export_model(g, "/nonexistent-dir/x.sj"), Error);
}

TEST(Export, ABuildErrorNamesTheModelAndTheUsersLine) {
  auto r = run_stepjit("export " + kTestModels + " --model broken");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("building model 'broken'"));
  EXPECT_THAT(r.err, HasSubstr("test_models.cpp:"));
  EXPECT_THAT(r.err, HasSubstr("matmul"));
  auto l = run_stepjit("export " + kTestModels + " --list");
  EXPECT_EQ(l.exit_code, 0);
  EXPECT_THAT(l.out, HasSubstr("broken  (fails to build"));
}

TEST(Export, BadArgumentsAreExplained) {
  struct Case {
    std::string args, message;
  } cases[] = {
      {"export /nonexistent/lib.so", "no such file '/nonexistent/lib.so'"},
      {"export " + test::source_path("examples/models/seed.sj"), "cannot load"},
      {"export " + library("tests/libsj_test_no_models.so"), "registers no models"},
      {"export " + kTestModels, "has 2 models (tiny, broken): choose one with --model"},
      {"export " + kTestModels + " --model nope", "has no model named 'nope' (its models: tiny, "
                                                  "broken)"},
      {"export " + kWorkloads + " --model seed --model mlp -o x.sj", "-o writes one model"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    auto r = run_stepjit(c.args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr(c.message));
  }
  EXPECT_EQ(run_stepjit("export").exit_code, 2);
}

} // namespace
} // namespace sj
