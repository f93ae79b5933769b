// Dropout: the training output against a mask recomputed here from the generator's formula, the
// fraction dropped, the identity at inference, masks per step (compiled) that repeat across runs
// and resume from a checkpoint, the gradient against finite differences with the mask held
// fixed, the counter's place among the variables, errors, and a training run that learns.
#include "frontend/gradients.h"
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "runtime/checkpoint.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "runtime/training.h"
#include "runtime/variables.h"
#include "tests/support/errors.h"
#include "tests/support/random_reference.h"
#include "tests/support/rng.h"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <functional>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace sj {
namespace {

using testing::HasSubstr;

// The generator written out independently: tests/support/random_reference.h.
using test::random_bits_of;

/// Whether Dropout(rate, seed) keeps element i of an f32 tensor at step `counter`: the top 24
/// bits as a uniform in [0, 1), kept when >= rate (rounded to f32, as the layer's constant).
bool kept_f32(double rate, uint64_t seed, int64_t counter, int64_t i) {
  float u = float(random_bits_of(seed, uint64_t(counter), uint64_t(i)) >> 40) * 0x1.0p-24f;
  return u >= float(rate);
}

Tensor uniform_tensor(DType dt, const Shape& shape, uint64_t seed, double lo = -2, double hi = 2) {
  test::Rng rng(seed);
  Tensor t({dt, shape});
  visit_dtype(dt, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>)
      for (int64_t i = 0; i < t.num_elements(); ++i)
        t.data<T>()[i] = static_cast<T>(rng.uniform(lo, hi));
  });
  return t;
}

using test::error_of;

TEST(Dropout, TrainingOutputIsXTimesTheMaskOverKeep) {
  Graph g("drop");
  Value x = input(g, "x", {DType::f32, {16, 50}});
  Dropout dropout(0.3, 5);
  output("y", dropout(x, CallMode::training));
  Interpreter interpreter(g);
  Tensor xv = uniform_tensor(DType::f32, {16, 50}, 1);
  const float scale = float(1.0 / (1.0 - 0.3));
  for (int64_t step = 0; step < 3; ++step) {
    Tensor y = interpreter.run({{"x", xv}}).at("y");
    int dropped = 0;
    for (int64_t i = 0; i < y.num_elements(); ++i) {
      bool keep = kept_f32(0.3, 5, step, i);
      dropped += !keep;
      EXPECT_EQ(y.data<float>()[i], keep ? xv.data<float>()[i] * scale : 0.0f)
          << "step " << step << " element " << i;
    }
    EXPECT_GT(dropped, 0);
    EXPECT_EQ(interpreter.variable("dropout_0/counter"), Tensor::scalar(step + 1));
  }
}

TEST(Dropout, DropsAboutRateOfTheElementsAndKeepsTheMean) {
  for (double rate : {0.1, 0.5, 0.8}) {
    SCOPED_TRACE(rate);
    Graph g("drop");
    Value x = input(g, "x", {DType::f64, {100000}});
    Dropout dropout(rate, 99);
    output("y", dropout(x, CallMode::training));
    Tensor ones({DType::f64, {100000}});
    for (int64_t i = 0; i < ones.num_elements(); ++i)
      ones.data<double>()[i] = 1;
    Tensor y = Interpreter(g).run({{"x", ones}}).at("y");
    double zeros = 0, sum = 0;
    for (int64_t i = 0; i < y.num_elements(); ++i) {
      zeros += y.data<double>()[i] == 0;
      sum += y.data<double>()[i];
    }
    // Binomial standard error sqrt(r (1 - r) / n) <= 0.0016: within 5 of them.
    EXPECT_NEAR(zeros / 1e5, rate, 0.008);
    EXPECT_NEAR(sum / 1e5, 1.0, 0.008 / (1 - rate));
  }
}

TEST(Dropout, InferenceIsTheIdentity) {
  Graph g("infer");
  Value x = input(g, "x", {DType::f32, {4, 8}});
  Dropout dropout(0.5);
  EXPECT_EQ(dropout(x).id(), x.id());
  EXPECT_EQ(dropout(x, CallMode::inference).id(), x.id());
  Sequential model(Dense(3), Dropout(0.4), Dense(2));
  Value y = model(x);
  output("y", y);
  EXPECT_TRUE(g.nodes_of(Op::random_uniform).empty());
  EXPECT_TRUE(g.nodes_of(Op::assign).empty());
  for (ValueId v : g.nodes_of(Op::variable))
    EXPECT_THAT(g.node(v).name, testing::StartsWith("dense_"));
  // Zero rate is the identity in training too.
  Dropout none(0.0);
  EXPECT_EQ(none(x, CallMode::training).id(), x.id());
}

TEST(Dropout, TheCounterIsStateNotATrainableVariable) {
  Graph g("train");
  Value x = input(g, "x", {DType::f32, {4, 8}});
  Sequential model(Dense(3), Dropout(0.4), Dense(2), Dropout(0.1));
  output("y", model(x, CallMode::training));
  std::vector<std::string> trainable;
  for (Value v : model.trainable_variables())
    trainable.push_back(v.node().name);
  EXPECT_EQ(trainable, (std::vector<std::string>{"dense_0/kernel", "dense_0/bias", "dense_1/kernel",
                                                 "dense_1/bias"}));
  ASSERT_EQ(model.layers()[1]->variables().size(), 1u);
  EXPECT_EQ(model.layers()[1]->variables()[0].node().name, "dropout_0/counter");
  EXPECT_EQ(model.layers()[1]->variables()[0].type().str(), "i64[]");
  EXPECT_TRUE(model.layers()[1]->trainable_variables().empty());
  EXPECT_EQ(model.layers()[3]->variables()[0].node().name, "dropout_1/counter");
  // Every variable of the graph is state the runtime keeps and checkpoints save.
  Variables vars(g);
  EXPECT_EQ(vars.get("dropout_0/counter"), Tensor::scalar(int64_t{0}));
  EXPECT_EQ(vars.get("dropout_1/counter"), Tensor::scalar(int64_t{0}));
  // Default seeds are the layer's number + 1: the two layers draw different streams.
  std::vector<int64_t> seeds;
  for (ValueId v : g.nodes_of(Op::random_uniform))
    seeds.push_back(g.node(v).attrs.integer("seed"));
  EXPECT_EQ(seeds, (std::vector<int64_t>{1, 2}));
}

// A compiled training-mode graph: y = dropout(ones).
struct Masks {
  Graph g{"masks"};
  Dropout dropout{0.5, 7};
  Masks() {
    Value x = input(g, "x", {DType::f32, {64}});
    output("y", dropout(x, CallMode::training));
  }
};

Tensor ones_f32(int64_t n) {
  Tensor t({DType::f32, {n}});
  for (int64_t i = 0; i < n; ++i)
    t.data<float>()[i] = 1;
  return t;
}

TEST(Dropout, CompiledMasksChangePerStepAndRepeatAcrossRunsAndCheckpoints) {
  Tensor x = ones_f32(64);
  std::vector<Tensor> first;
  {
    Masks m;
    CompiledStep step = CompiledStep::compile(m.g);
    for (int i = 0; i < 3; ++i)
      first.push_back(step.run({{"x", x}}).at("y"));
  }
  EXPECT_NE(first[0], first[1]);
  EXPECT_NE(first[1], first[2]);
  for (int64_t s = 0; s < 3; ++s)
    for (int64_t i = 0; i < 64; ++i)
      EXPECT_EQ(first[size_t(s)].data<float>()[i], kept_f32(0.5, 7, s, i) ? 2.0f : 0.0f)
          << "step " << s << " element " << i;

  // A fresh model with the same seed: the same masks.
  Masks again;
  CompiledStep step = CompiledStep::compile(again.g);
  EXPECT_EQ(step.run({{"x", x}}).at("y"), first[0]);
  // The counter is saved: a step loaded from the checkpoint continues the sequence.
  std::string path =
      (std::filesystem::temp_directory_path() / "sj_dropout_test.safetensors").string();
  save_checkpoint(path, step.variables());
  Masks resumed;
  CompiledStep other = CompiledStep::compile(resumed.g);
  load_checkpoint(path, other.variables());
  std::filesystem::remove(path);
  EXPECT_EQ(other.run({{"x", x}}).at("y"), first[1]);
  EXPECT_EQ(other.run({{"x", x}}).at("y"), first[2]);
}

TEST(Dropout, CompiledEqualsInterpretedBitForBit) {
  Graph g("both");
  Value x = input(g, "x", {DType::f64, {5, 33}});
  Dropout dropout(0.25);
  output("y", Dense(4)(dropout(x, CallMode::training)));
  Tensor xv = uniform_tensor(DType::f64, {5, 33}, 3);
  Interpreter interpreter(g);
  CompiledStep step = CompiledStep::compile(g);
  for (int i = 0; i < 3; ++i) {
    Tensor want = interpreter.run({{"x", xv}}).at("y");
    Tensor got = step.run({{"x", xv}}).at("y");
    for (int64_t k = 0; k < want.num_elements(); ++k)
      EXPECT_NEAR(got.data<double>()[k], want.data<double>()[k], 1e-12) << "step " << i;
  }
  EXPECT_EQ(step.variable("dropout_0/counter"), Tensor::scalar(int64_t{3}));
}

// d loss / d kernel of Dense(Dropout(x)) against central differences, with the counter reset
// before every evaluation so the mask stays fixed; and d loss / d x = mask / (1 - rate) * ...
TEST(Dropout, GradientMatchesFiniteDifferencesWithTheMaskFixed) {
  Graph g("grad");
  Value x = input(g, "x", {DType::f64, {6, 10}});
  Dropout dropout(0.4, 3);
  Dense dense(3, Activation::tanh);
  Value y = dense(dropout(x, CallMode::training));
  Value loss = reduce_sum(y * y);
  output("loss", loss);
  Value kernel = dense.variables()[0];
  std::vector<Value> grads = gradients(loss, {kernel, x});
  output("d_kernel", grads[0]);
  output("d_x", grads[1]);
  Interpreter interpreter(g);
  Tensor xv = uniform_tensor(DType::f64, {6, 10}, 8);
  auto run = [&] {
    interpreter.set_variable("dropout_0/counter", Tensor::scalar(int64_t{4}));
    return interpreter.run({{"x", xv}});
  };
  std::map<std::string, Tensor> at = run();
  Tensor w = interpreter.variable("dense_0/kernel");
  double worst = 0;
  for (int64_t i = 0; i < w.num_elements(); ++i) {
    double h = 1e-6;
    Tensor plus = w, minus = w;
    plus.data<double>()[i] += h;
    minus.data<double>()[i] -= h;
    interpreter.set_variable("dense_0/kernel", plus);
    double lp = run().at("loss").data<double>()[0];
    interpreter.set_variable("dense_0/kernel", minus);
    double lm = run().at("loss").data<double>()[0];
    double numeric = (lp - lm) / (2 * h);
    worst = std::max(worst, std::abs(numeric - at.at("d_kernel").data<double>()[i]));
  }
  EXPECT_LT(worst, 1e-6);
  // Dropped inputs get no gradient; kept ones are scaled by 1 / (1 - rate) = 5/3: compare with
  // the gradient of the same Dense at the dropped-out input directly.
  const Tensor& dx = at.at("d_x");
  int zero = 0;
  for (int64_t i = 0; i < dx.num_elements(); ++i) {
    uint64_t bits = random_bits_of(3, 4, uint64_t(i));
    bool keep = double(bits >> 11) * 0x1.0p-53 >= 0.4;
    if (!keep) {
      EXPECT_EQ(dx.data<double>()[i], 0.0) << i;
      ++zero;
    } else {
      EXPECT_NE(dx.data<double>()[i], 0.0) << i;
    }
  }
  EXPECT_GT(zero, 0);
}

TEST(Dropout, RateOutsideZeroToOneIsAnErrorAtTheUsersLine) {
  for (double rate : {1.0, -0.1, 1.5, std::nan("")}) {
    int line = __LINE__ + 1;
    std::string e = error_of([&] { Dropout d(rate); });
    EXPECT_THAT(e, HasSubstr("Dropout: rate must be in [0, 1)"));
    EXPECT_THAT(e, HasSubstr(fmt::format("dropout_test.cpp:{}:", line)));
  }
}

TEST(Dropout, OtherMistakesAreExplained) {
  Graph g("bad");
  Value ids = input(g, "ids", {DType::i32, {4}});
  Dropout d(0.5);
  EXPECT_THAT(error_of([&] { d(ids, CallMode::training); }),
              HasSubstr("Dropout(0.5): needs a floating-point input, got i32[4]"));
  Value x = input(g, "x", {DType::f32, {4}});
  d(x, CallMode::training);
  EXPECT_THAT(error_of([&] { d(x, CallMode::training); }),
              HasSubstr("Dropout 'dropout_0': called in training mode twice in one graph"));
}

TEST(Dropout, CompiledTrainingOfASequentialWithDropoutLowersTheLoss) {
  // y = sum of the features of x, learned by Dense(32, relu) -> Dropout(0.2) -> Dense(1).
  Graph g("fit");
  Value x = input(g, "x", {DType::f32, {32, 4}});
  Value target = input(g, "y", {DType::f32, {32, 1}});
  Sequential model(Dense(32, Activation::relu), Dropout(0.2, 11), Dense(1));
  Value loss = mean_squared_error(model(x, CallMode::training), target);
  Adam adam({.learning_rate = 0.01});
  CompiledStep step = compile_training_step(loss, model.trainable_variables(), adam);
  Tensor xv = uniform_tensor(DType::f32, {32, 4}, 21, -1, 1);
  Tensor yv({DType::f32, {32, 1}});
  for (int64_t r = 0; r < 32; ++r) {
    float s = 0;
    for (int64_t k = 0; k < 4; ++k)
      s += xv.data<float>()[r * 4 + k];
    yv.data<float>()[r] = s;
  }
  auto mean_loss = [&](int steps) {
    double sum = 0;
    for (int i = 0; i < steps; ++i)
      sum += step.run({{"x", xv}, {"y", yv}}).at("loss").data<float>()[0];
    return sum / steps;
  };
  double early = mean_loss(10);
  mean_loss(280);
  double late = mean_loss(10);
  EXPECT_LT(late, early / 5) << "early " << early << ", late " << late;
  EXPECT_EQ(step.variable("dropout_0/counter"), Tensor::scalar(int64_t{300}));
}

} // namespace
} // namespace sj
