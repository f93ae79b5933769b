// apply_gradients: what compiles but is wrong is an sj::Error at graph construction, naming
// what is wrong, at the caller's line. (What must not compile is in tests/compile_fail/.)
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "runtime/interpreter.h"
#include "tests/support/cli.h"

#include <functional>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an sj::Error";
  return Error({}, "");
}

struct Model {
  Graph g{"m"};
  Value x = input(g, "x", {DType::f32, {8, 3}});
  Value w = variable(g, "w", {DType::f32, {3, 2}}, Init::glorot_uniform(1));
  Value b = variable(g, "b", {DType::f32, {2}});
  Value loss = reduce_mean(square(matmul(x, w) + b));
};

TEST(ApplyGradients, ZipOfDifferentLengthsNamesBoth) {
  Model m;
  auto grads = gradients(m.loss, {m.w, m.b});
  const uint32_t line = __LINE__ + 1;
  Error e = error_of([&] { zip(grads, {m.w}); });
  EXPECT_THAT(e.message(), HasSubstr("zip: 2 gradients but 1 variable"));
  EXPECT_EQ(e.location().line, line);
}

TEST(ApplyGradients, GradientOfTheWrongShapeNamesBoth) {
  Model m;
  auto grads = gradients(m.loss, {m.w, m.b});
  Adam adam;
  Error e = error_of([&] { adam.apply_gradients(zip(grads, {m.b, m.w})); });
  EXPECT_THAT(e.message(), HasSubstr("the gradient for variable 'b' is f32[3,2] but the "
                                     "variable is f32[2]"));
  EXPECT_THAT(e.message(), HasSubstr("same order"));
}

TEST(ApplyGradients, GradientOfTheWrongDtype) {
  Graph g;
  auto w = variable(g, "w", {DType::f32, {2}});
  auto g64 = input(g, "g64", {DType::f64, {2}});
  SGD sgd;
  EXPECT_THAT(error_of([&] {
                sgd.apply_gradients({{g64, w}});
              }).message(),
              HasSubstr("the gradient for variable 'w' is f64[2] but the variable is f32[2]"));
}

TEST(ApplyGradients, TheSameVariableTwice) {
  Model m;
  auto grads = gradients(m.loss, {m.w, m.w});
  Adam adam;
  EXPECT_THAT(error_of([&] {
                adam.apply_gradients(zip(grads, {m.w, m.w}));
              }).message(),
              HasSubstr("variable 'w' appears twice (pairs 0 and 1)"));
}

TEST(ApplyGradients, ATargetThatIsNotAVariable) {
  Model m;
  auto grads = gradients(m.loss, {m.x, m.w});
  Adam adam;
  EXPECT_THAT(error_of([&] {
                adam.apply_gradients(zip(grads, {m.x, m.w}));
              }).message(),
              HasSubstr("the target 'x' is an input, not a variable: only variables hold state"));
  Value computed = exp(m.w);
  EXPECT_THAT(error_of([&] {
                adam.apply_gradients({{m.w, computed}});
              }).message(),
              HasSubstr("(an unnamed exp) is an exp, not a variable"));
}

TEST(ApplyGradients, AGradientPairedWithAnotherVariableOfTheSameType) {
  Graph g("two");
  Value x = input(g, "x", {DType::f32, {4}});
  Value a = variable(g, "a", {DType::f32, {4}}, Init::ones());
  Value b = variable(g, "b", {DType::f32, {4}}, Init::ones());
  Value loss = reduce_sum(x * a + square(b));
  auto grads = gradients(loss, {a, b});
  Adam adam;
  EXPECT_THAT(error_of([&] {
                adam.apply_gradients(zip(grads, {b, a}));
              }).message(),
              HasSubstr("pair 0: gradient 'grad.a' (of variable 'a') is paired with variable 'b': "
                        "each variable would be updated with another's gradient"));
  EXPECT_THAT(error_of([&] {
                adam.apply_gradients(zip({a, b}, grads));
              }).message(),
              HasSubstr("pair 0: the target 'grad.a' is a mul and the gradient is variable 'a': "
                        "the lists are swapped; write zip(grads, vars), gradients first"));
  adam.apply_gradients(zip(grads, {a, b})); // the right order builds
  EXPECT_TRUE(g.find("adam/step"));
}

TEST(ApplyGradients, AMissingGradientSaysWhichVariableAndWhy) {
  Model m;
  auto unused = variable(m.g, "unused", {DType::f32, {4}});
  auto grads = gradients(m.loss, {m.w, unused}, {.unconnected = Unconnected::none});
  EXPECT_TRUE(grads[1].is_null());
  Adam adam;
  Error e = error_of([&] { adam.apply_gradients(zip(grads, {m.w, unused})); });
  EXPECT_THAT(e.message(), HasSubstr("no gradient for variable 'unused' (pair 1)"));
  EXPECT_THAT(e.message(), HasSubstr("the loss does not depend on it"));
  // Nothing was added to the graph: the check runs before any update is built.
  EXPECT_FALSE(m.g.find("adam/step"));
}

TEST(ApplyGradients, EmptyPairsAndASecondApplication) {
  Model m;
  Adam adam;
  EXPECT_THAT(error_of([&] { adam.apply_gradients({}); }).message(), HasSubstr("nothing"));
  adam.minimize(m.loss, {m.w, m.b});
  EXPECT_THAT(error_of([&] { adam.minimize(m.loss, {m.w}); }).message(),
              HasSubstr("already applied to graph 'm'"));
}

TEST(ApplyGradients, InvalidHyperparameters) {
  EXPECT_THAT(error_of([] { Adam({.learning_rate = -1}); }).message(),
              HasSubstr("adam: learning_rate must be >= 0"));
  // At the line constructing the optimizer, as docs/optimizers.md promises.
  const uint32_t line = __LINE__ + 1;
  Error e = error_of([] { RMSprop::keras(-0.5); });
  EXPECT_EQ(e.location().line, line);
  EXPECT_THAT(e.location().file, ::testing::EndsWith("apply_gradients_test.cpp"));
  EXPECT_EQ(error_of([] { AdamW({.beta2 = 2}); }).location().line, __LINE__);
  EXPECT_THAT(error_of([] { Adam({.beta1 = 1}); }).message(), HasSubstr("beta1 must be in"));
  EXPECT_THAT(error_of([] { SGD({.nesterov = true}); }).message(),
              HasSubstr("Nesterov momentum needs a momentum > 0"));
  EXPECT_THAT(error_of([] { SGD({.common = {.clipping = {.value = -1}}}); }).message(),
              HasSubstr("clipping thresholds must be >= 0"));
}

TEST(ApplyGradients, BuildsOneVerifiedStepWithReadableStateNames) {
  Model m;
  Adam adam({.learning_rate = 0.01, .amsgrad = true});
  auto grads = gradients(m.loss, {m.w, m.b});
  auto updated = adam.apply_gradients(zip(grads, {m.w, m.b}));
  verify(m.g);
  ASSERT_EQ(updated.size(), 2u);
  EXPECT_EQ(updated[0].node().op, Op::assign);
  for (const char* name : {"adam/learning_rate", "adam/beta1", "adam/beta2", "adam/epsilon",
                           "adam/step", "w.adam_m", "w.adam_v", "w.adam_vmax", "b.adam_m"})
    EXPECT_TRUE(m.g.find(name)) << name;
  EXPECT_EQ(adam.hyperparameter("learning_rate").id(), *m.g.find("adam/learning_rate"));
  EXPECT_EQ(adam.step().type().str(), "i64[]");
  EXPECT_THAT(error_of([&] { adam.hyperparameter("momentum"); }).message(),
              HasSubstr("has no hyperparameter 'momentum'"));
  // A second optimizer in the same graph gets its own names.
  Graph& g = m.g;
  auto v = variable(g, "v", {DType::f32, {}});
  Adam second;
  second.minimize(reduce_sum(square(v)), {v});
  EXPECT_EQ(second.name(), "adam_1");
  EXPECT_TRUE(g.find("adam_1/step"));
}

TEST(ApplyGradients, TheLearningRateChangesWithoutRebuilding) {
  Graph g;
  auto w = variable(g, "w", {DType::f64, {}}, Init::constant(1.0));
  SGD sgd({.learning_rate = 0.1});
  sgd.minimize(w * 3.0, {w}); // g = 3
  Interpreter run(g);
  run.run({});
  EXPECT_DOUBLE_EQ(run.variable("w").data<double>()[0], 1.0 - 0.1 * 3);
  run.set_variable("sgd/learning_rate", Tensor::scalar(0.5));
  run.run({});
  EXPECT_DOUBLE_EQ(run.variable("w").data<double>()[0], 1.0 - 0.1 * 3 - 0.5 * 3);
  EXPECT_EQ(run.variable("sgd/step"), Tensor::scalar(int64_t{2}));
}

TEST(ApplyGradients, CliDumpsTheTrainingStep) {
  std::string seed = test::source_path("examples/models/seed.sj");
  auto r = test::run_stepjit("dump " + seed + " --stage=train --optimizer=adam --lr=0.01");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("%adam/learning_rate = variable {init = constant, value = 0.01}"));
  EXPECT_THAT(r.out, HasSubstr("%dense_0/kernel.adam_m = variable : f32[100,10]"));
  EXPECT_THAT(r.out, HasSubstr("assign(%dense_0/kernel, "));
  EXPECT_THAT(r.out, HasSubstr("assign(%adam/step, "));
  for (const char* opt : {"sgd", "adamw", "rmsprop", "adagrad"}) {
    r = test::run_stepjit("dump " + seed + " --stage=train --optimizer=" + std::string(opt) +
                          " --keras --clip-norm=1");
    EXPECT_EQ(r.exit_code, 0) << opt << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr("%" + std::string(opt) + "/step = variable"));
  }
  r = test::run_stepjit("dump " + seed + " --stage=train --optimizer=adam --momentum=0.9");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("adam has no momentum option"));
  r = test::run_stepjit("dump " + seed + " --stage=train --optimizer=nope");
  EXPECT_EQ(r.exit_code, 2);
}

} // namespace
} // namespace sj
