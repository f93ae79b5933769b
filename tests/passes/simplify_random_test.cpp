// simplify() and random_uniform: the op is a pure function of (seed, counter, index), so two
// nodes with the same counter operand and attributes may merge and a constant counter may fold,
// but different counters, seeds or shapes must stay apart, and a variable counter never folds.
#include "graph/builder.h"
#include "passes/simplify.h"
#include "runtime/interpreter.h"

#include <gtest/gtest.h>

namespace sj {
namespace {

TEST(SimplifyRandom, MergesOnlyIdenticalDraws) {
  Graph g("draws");
  Value n = variable(g, "n", {DType::i64, {}});
  Value m = variable(g, "m", {DType::i64, {}});
  Value a = random_uniform(n, {DType::f32, {8}}, 1);
  Value same = random_uniform(n, {DType::f32, {8}}, 1);
  Value other_counter = random_uniform(m, {DType::f32, {8}}, 1);
  Value other_seed = random_uniform(n, {DType::f32, {8}}, 2);
  Value other_shape = random_uniform(n, {DType::f32, {2, 4}}, 1);
  Value other_dtype = random_uniform(n, {DType::f64, {8}}, 1);
  output("y", a + same + other_counter + other_seed + reshape(other_shape, {8}) +
                  cast(other_dtype, DType::f32));
  assign(n, n + 1);
  Graph s = simplify(g);
  EXPECT_EQ(s.nodes_of(Op::random_uniform).size(), 5u);
  // Nothing is folded: every counter is a variable.
  Interpreter before(g), after(s);
  for (int step = 0; step < 2; ++step)
    EXPECT_EQ(after.run({}).at("y"), before.run({}).at("y")) << "step " << step;
}

TEST(SimplifyRandom, FoldsAConstantCounterToTheSameNumbers) {
  Graph g("folded");
  Value c1 = constant(g, Tensor::scalar(int64_t{1}));
  Value c2 = constant(g, Tensor::scalar(int64_t{2}));
  output("a", random_uniform(c1, {DType::f32, {16}}, 9));
  output("b", random_uniform(c2, {DType::f32, {16}}, 9));
  Graph s = simplify(g);
  EXPECT_TRUE(s.nodes_of(Op::random_uniform).empty());
  auto want = Interpreter(g).run({});
  auto got = Interpreter(s).run({});
  EXPECT_EQ(got.at("a"), want.at("a"));
  EXPECT_EQ(got.at("b"), want.at("b"));
  EXPECT_NE(got.at("a"), got.at("b"));
}

} // namespace
} // namespace sj
