// passes/schedule: sources first, scalars as early as their operands allow, the rest in order.
#include "frontend/optimizers.h"
#include "graph/initializers.h"
#include "graph/parse.h"
#include "passes/schedule.h"
#include "passes/simplify.h"
#include "runtime/interpreter.h"
#include "tests/support/cli.h"

#include <gtest/gtest.h>

namespace sj {
namespace {

Graph adam_mlp() {
  std::string path = test::source_path("examples/models/mlp.sj");
  Graph g = parse(test::read_file(path), path);
  std::vector<Value> vars;
  for (ValueId v : g.nodes_of(Op::variable))
    vars.emplace_back(g, v);
  Adam({.learning_rate = 1e-3}).minimize(Value(g, *g.output("loss")), vars);
  return simplify(g);
}

std::vector<std::string> names_of(const Graph& g, Op op) {
  std::vector<std::string> names;
  for (ValueId v : g.nodes_of(op))
    names.push_back(g.node(v).name);
  return names;
}

TEST(Schedule, KeepsTheNodesTheCallingConventionAndTheResults) {
  Graph g = adam_mlp();
  Graph s = schedule(g);
  ASSERT_EQ(s.size(), g.size());
  EXPECT_EQ(names_of(s, Op::input), names_of(g, Op::input));
  EXPECT_EQ(names_of(s, Op::variable), names_of(g, Op::variable));
  ASSERT_EQ(s.outputs().size(), g.outputs().size());
  for (size_t i = 0; i < g.outputs().size(); ++i)
    EXPECT_EQ(s.outputs()[i].name, g.outputs()[i].name);
  // Operands come before their users (Graph::add checks it), and the step computes the same.
  Interpreter a(g), b(s);
  std::map<std::string, Tensor> feeds{
      {"x", random_normal({DType::f32, {128, 784}}, 1)},
      {"labels", Tensor::from<int32_t>({128}, std::vector<int32_t>(128, 3))}};
  for (int step = 0; step < 2; ++step)
    EXPECT_TRUE(a.run(feeds).at("loss") == b.run(feeds).at("loss"));
  for (const auto& [name, t] : a.variables().all())
    EXPECT_TRUE(b.variable(name) == t) << name;
}

// Adam's bias corrections (scalars of the step counter) move before every matrix product, so
// each weight update reads only values computed before its gradient's product.
TEST(Schedule, ScalarsComeBeforeTheMatrixProducts) {
  Graph s = schedule(adam_mlp());
  ValueId first_matmul = s.nodes_of(Op::matmul).front();
  int scalars = 0;
  for (ValueId v = 0; v < s.size(); ++v) {
    const Node& n = s.node(v);
    bool source = n.op == Op::input || n.op == Op::variable || n.op == Op::constant;
    if (n.type.rank() != 0 || source || n.def().has_effect) continue;
    bool from_state = true; // reads only sources and other such scalars
    for (ValueId o : n.operands)
      from_state &= s.node(o).type.rank() == 0 || s.node(o).op == Op::variable;
    if (!from_state) continue;
    EXPECT_LT(v, first_matmul) << node_label(n);
    ++scalars;
  }
  EXPECT_GE(scalars, 4); // 1 - beta1, 1 - beta2, 1 - beta1^t, 1 - beta2^t, ...
}

} // namespace
} // namespace sj
