// plan_memory's in-place variable updates: an assigned value is computed straight into its
// variable only when no read of the old value, no output and no run-time error can tell the
// difference. Each case checks the decision and that the compiled step still computes what
// the interpreter computes, step after step.
#include "frontend/optimizers.h"
#include "graph/parse.h"
#include "passes/fuse.h"
#include "passes/plan_memory.h"
#include "passes/simplify.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "tests/support/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

// The storage of the value assigned to variable `name`.
Storage assigned_storage(const Graph& g, const MemoryPlan& plan, const std::string& name) {
  ValueId var = *g.find(name);
  for (ValueId v = 0; v < g.size(); ++v)
    if (g.node(v).op == Op::assign && g.node(v).operands[0] == var) {
      const Buffer& b = plan.buffers[g.node(v).operands[1]];
      if (b.storage == Storage::in_place) {
        EXPECT_EQ(b.target, var) << name;
      }
      return b.storage;
    }
  ADD_FAILURE() << "no assign of " << name;
  return Storage::none;
}

MemoryPlan plan_of(const Graph& g) { return plan_memory(g, fuse(g)); }

// Three steps compiled (without simplify, so the plan checked is the plan compiled) and
// interpreted on the same feeds: every variable and output bit-identical after each.
void expect_same_as_interpreter(const Graph& g, const std::map<std::string, Tensor>& feeds = {}) {
  auto step = CompiledStep::compile(g, {.simplify = false, .use_cache = false});
  Interpreter reference(g);
  for (int i = 0; i < 3; ++i) {
    auto out = step.run(feeds);
    auto want = reference.run(feeds);
    for (const auto& [name, t] : want)
      EXPECT_TRUE(out.at(name) == t) << "output " << name << " after step " << i + 1;
    for (const auto& [name, t] : reference.variables().all())
      EXPECT_TRUE(step.variable(name) == t) << "variable " << name << " after step " << i + 1;
  }
}

Graph parse_text(const std::string& text) { return parse(text, "in_place.sj"); }

TEST(InPlace, AdamUpdatesWriteVariablesAndSlotsInPlace) {
  std::string path = test::source_path("examples/models/seed.sj");
  Graph g = parse(test::read_file(path), path);
  std::vector<Value> vars;
  for (ValueId v : g.nodes_of(Op::variable))
    vars.emplace_back(g, v);
  Adam({.learning_rate = 0.01}).minimize(Value(g, *g.output("loss")), vars);
  g = simplify(g);
  MemoryPlan plan = plan_of(g);
  for (std::string var : {"dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias"})
    for (std::string name : {var, var + ".adam_m", var + ".adam_v"})
      EXPECT_EQ(assigned_storage(g, plan, name), Storage::in_place) << name;
  // The weights alone no longer take arena space: 100x10 + 10 + 10x1 + 1 floats, three times.
  EXPECT_LT(plan.arena_bytes, 8000);
}

// w := w * 2, and then whatever `rest` does with w.
struct Case {
  const char* name;
  const char* rest;
  bool in_place;
};
const Case kCases[] = {
    {"ASimpleUpdate", "", true},
    {"NotWhenTheVariableIsAnOutput", "  output old = %w\n", false},
    {"NotWhenTheOldValueIsReadAfterTheUpdate",
     "  %s = reduce_sum(%w) {axes = [0]} : f32[]\n  output s = %s\n", false},
};

class InPlaceCases : public testing::TestWithParam<Case> {};

TEST_P(InPlaceCases, DecisionAndResults) {
  Graph g = parse_text(std::string("graph g {\n"
                                   "  %w = variable {init = ones} : f32[4]\n"
                                   "  %two = constant {value = 2.0} : f32[]\n"
                                   "  %new = mul(%w, %two) : f32[4]\n"
                                   "  %a = assign(%w, %new) : f32[4]\n") +
                       GetParam().rest + "}\n");
  EXPECT_EQ(assigned_storage(g, plan_of(g), "w") == Storage::in_place, GetParam().in_place);
  expect_same_as_interpreter(g);
}

INSTANTIATE_TEST_SUITE_P(Updates, InPlaceCases, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

// %other reads w in the same loop as %new, but after %new is stored: w stays put. z, read by
// nothing else, is updated in place.
TEST(InPlace, NotWhenALaterMemberOfTheSameLoopReadsTheOldValue) {
  Graph g = parse_text(R"(graph g {
  %w = variable {init = ones} : f32[4]
  %z = variable : f32[4]
  %two = constant {value = 2.0} : f32[]
  %new = mul(%w, %two) : f32[4]
  %other = add(%w, %new) : f32[4]
  %a = assign(%w, %new) : f32[4]
  %b = assign(%z, %other) : f32[4]
})");
  FusionPlan fusion = fuse(g);
  ASSERT_EQ(fusion.loop[*g.find("new")], fusion.loop[*g.find("other")]) << "one loop group";
  MemoryPlan plan = plan_memory(g, fusion);
  EXPECT_NE(assigned_storage(g, plan, "w"), Storage::in_place);
  EXPECT_EQ(assigned_storage(g, plan, "z"), Storage::in_place);
  expect_same_as_interpreter(g);
}

TEST(InPlace, NotForASwap) {
  Graph g = parse_text(R"(graph g {
  %p = variable {init = ones} : f32[4]
  %q = variable : f32[4]
  %a = assign(%p, %q) : f32[4]
  %b = assign(%q, %p) : f32[4]
})");
  MemoryPlan plan = plan_of(g);
  EXPECT_NE(assigned_storage(g, plan, "p"), Storage::in_place);
  EXPECT_NE(assigned_storage(g, plan, "q"), Storage::in_place);
  expect_same_as_interpreter(g);
}

// A gather after the update could still fail: then no variable may have changed, so the
// update is not written in place. A gather before it: in place, and skipped on failure.
TEST(InPlace, AFailedStepStillChangesNoVariable) {
  for (bool gather_first : {true, false}) {
    SCOPED_TRACE(gather_first ? "gather before the update" : "gather after the update");
    std::string gather = "  %row = gather(%table, %ids) : f32[1,2]\n";
    std::string update = "  %new = mul(%w, %two) : f32[4]\n  %a = assign(%w, %new) : f32[4]\n";
    Graph g =
        parse_text("graph g {\n  %w = variable {init = ones} : f32[4]\n"
                   "  %two = constant {value = 2.0} : f32[]\n"
                   "  %table = variable {init = ones} : f32[3,2]\n"
                   "  %ids = input : i32[1]\n" +
                   (gather_first ? gather + update : update + gather) + "  output row = %row\n}\n");
    EXPECT_EQ(assigned_storage(g, plan_of(g), "w") == Storage::in_place, gather_first);
    auto step = CompiledStep::compile(g, {.simplify = false, .use_cache = false});
    Tensor bad = Tensor::from<int32_t>({1}, {3}), good = Tensor::from<int32_t>({1}, {1});
    EXPECT_THROW(step.run({{"ids", bad}}), Error);
    EXPECT_TRUE(step.variable("w") == Tensor::from<float>({4}, {1, 1, 1, 1}));
    step.run({{"ids", good}});
    EXPECT_TRUE(step.variable("w") == Tensor::from<float>({4}, {2, 2, 2, 2}));
    expect_same_as_interpreter(g, {{"ids", good}});
  }
}

} // namespace
} // namespace sj
