// Inference: a forward-only graph of the same model, compiled on the trained variables of the
// training step, shared without copying.
#include "frontend/gradients.h"
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "graph/initializers.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "runtime/training.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

TEST(Inference, PredictSharesTheTrainedVariables) {
  Sequential model(Dense(8, Activation::tanh), Dense(1));
  Graph train("train");
  auto x = input(train, "x", {DType::f32, {16, 4}});
  auto y = input(train, "y", {DType::f32, {16, 1}});
  auto loss = mean_squared_error(model(x), y);
  output("loss", loss);
  Adam({.learning_rate = 0.05}).minimize(loss, model.trainable_variables());

  Graph infer("predict");
  auto xi = input(infer, "x", {DType::f32, {16, 4}});
  output("pred", model(xi));

  auto step = CompiledStep::compile(train);
  auto predict = CompiledStep::compile(infer, {.share_variables = step.shared_variables()});
  std::map<std::string, Tensor> batch{{"x", random_normal({DType::f32, {16, 4}}, 1)},
                                      {"y", random_normal({DType::f32, {16, 1}}, 2)}};
  for (int i = 0; i < 10; ++i)
    step.run(batch);
  Tensor pred = predict.run({{"x", batch.at("x")}}).at("pred");

  // The interpreter, with the trained variables copied in, predicts the same.
  Interpreter reference(infer);
  for (const Value& v : model.trainable_variables())
    reference.set_variable(v.node().name, step.variable(v.node().name));
  Tensor want = reference.run({{"x", batch.at("x")}}).at("pred");
  for (int64_t i = 0; i < want.num_elements(); ++i)
    EXPECT_NEAR(pred.as_double(i), want.as_double(i), 1e-5 * (1 + std::abs(want.as_double(i))));
  // Training moved the weights: predictions differ from the untrained model's.
  Interpreter untrained(infer);
  EXPECT_FALSE(untrained.run({{"x", batch.at("x")}}).at("pred") == pred);
  // No copy: the two steps hold the same store.
  EXPECT_EQ(&predict.variables(), &step.variables());
}

TEST(Training, OneCallMatchesTheTwoStepForm) {
  auto build = [](Graph& g) {
    auto x = input(g, "x", {DType::f32, {8, 3}});
    auto y = input(g, "y", {DType::f32, {8, 1}});
    Sequential model(Dense(4, Activation::relu), Dense(1));
    return std::pair{mean_squared_error(model(x), y), model.trainable_variables()};
  };
  std::map<std::string, Tensor> batch{{"x", random_normal({DType::f32, {8, 3}}, 5)},
                                      {"y", random_normal({DType::f32, {8, 1}}, 6)}};
  Graph one("one");
  auto [loss1, vars1] = build(one);
  Adam adam1({.learning_rate = 0.05});
  auto step1 = compile_training_step(loss1, vars1, adam1);

  Graph two("two");
  auto [loss2, vars2] = build(two);
  output("loss", loss2);
  Adam adam2({.learning_rate = 0.05});
  adam2.apply_gradients(zip(gradients(loss2, vars2), vars2));
  auto step2 = CompiledStep::compile(two);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(step1.run(batch).at("loss"), step2.run(batch).at("loss")) << i;
}

TEST(Inference, SharedVariablesMustMatch) {
  Graph a("a");
  variable(a, "w", {DType::f32, {3}});
  output("w", Value(a, 0));
  Graph b("b");
  variable(b, "w", {DType::f32, {4}});
  output("w", Value(b, 0));
  auto step = CompiledStep::compile(a);
  try {
    CompiledStep::compile(b, {.share_variables = step.shared_variables()});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.message(), ::testing::HasSubstr("variable 'w' is f32[3] in the shared "
                                                  "variables but f32[4] in graph 'b'"));
  }
}

} // namespace
} // namespace sj
