// Weight decay for a chosen subset of the variables (OptimizerCommon::decay, nanoGPT's rule of
// decaying matrices only; OptimizerSpec's decay_min_rank and no_decay, the CLI's
// --decay-min-rank and --no-decay). With a zero gradient, one AdamW step changes a decayed
// variable by exactly -lr * lambda * theta and leaves the others as they were.
#include "frontend/optimizers.h"
#include "runtime/interpreter.h"
#include "tests/support/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

struct Step {
  Tensor w, b, scale;
};

Step one_step(Optimizer& opt) {
  Graph g;
  Value w = variable(g, "w", {DType::f64, {2, 2}}, Init::constant(2));
  Value b = variable(g, "b", {DType::f64, {2}}, Init::constant(2));
  Value scale = variable(g, "ln.scale", {DType::f64, {2, 2}}, Init::constant(2));
  // A loss whose gradient is exactly zero: every change comes from the decay.
  Value zero = scalar_like(w, 0.0);
  Value loss = reduce_sum(w * zero) + reduce_sum(b * zero) + reduce_sum(scale * zero);
  output("loss", loss);
  opt.minimize(loss, {w, b, scale});
  Interpreter run(g);
  run.run({});
  return {run.variable("w"), run.variable("b"), run.variable("ln.scale")};
}

Tensor filled(Shape s, double v) {
  return Tensor::from<double>(s, std::vector<double>(num_elements(s), v));
}

TEST(WeightDecayRule, OnlyTheChosenVariablesDecay) {
  // lr 0.1, lambda 0.5: 2 - 0.1 * 0.5 * 2 = 1.9.
  AdamW all({.learning_rate = 0.1, .weight_decay = 0.5});
  Step s = one_step(all);
  EXPECT_EQ(s.w, filled({2, 2}, 1.9));
  EXPECT_EQ(s.b, filled({2}, 1.9));
  AdamW matrices({.learning_rate = 0.1,
                  .weight_decay = 0.5,
                  .common = {.decay = [](const Value& v) { return v.rank() >= 2; }}});
  s = one_step(matrices);
  EXPECT_EQ(s.w, filled({2, 2}, 1.9));
  EXPECT_EQ(s.scale, filled({2, 2}, 1.9));
  EXPECT_EQ(s.b, filled({2}, 2.0));
}

TEST(WeightDecayRule, SpecRankAndNameRules) {
  auto opt = make_optimizer({.name = "adamw",
                             .learning_rate = 0.1,
                             .weight_decay = 0.5,
                             .decay_min_rank = 2,
                             .no_decay = "ln\\."});
  Step s = one_step(*opt);
  EXPECT_EQ(s.w, filled({2, 2}, 1.9));
  EXPECT_EQ(s.scale, filled({2, 2}, 2.0)); // a matrix, but its name matches
  EXPECT_EQ(s.b, filled({2}, 2.0));        // rank 1
  EXPECT_THAT(test::error_of([] { make_optimizer({.name = "adamw", .no_decay = "(ln"}); }),
              ::testing::HasSubstr("no_decay: '(ln' is not a valid regular expression"));
  EXPECT_THAT(test::error_of([] { make_optimizer({.name = "sgd", .decay_min_rank = -1}); }),
              ::testing::HasSubstr("decay_min_rank must be >= 0, got -1"));
}

} // namespace
} // namespace sj
