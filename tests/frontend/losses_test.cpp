// Losses and metrics against values computed by hand.
#include "frontend/losses.h"
#include "runtime/interpreter.h"

#include <cmath>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

double eval(Graph& g, Value v) {
  output("out", v);
  Interpreter run(g);
  return run.run({}).at("out").as_double(0);
}

Value c64(Graph& g, Shape shape, std::vector<double> values) {
  return constant(g, Tensor::from<double>(std::move(shape), values));
}

TEST(Losses, MeanSquaredAndAbsoluteError) {
  Graph g;
  auto p = c64(g, {2, 2}, {1, 2, 3, 4}), t = c64(g, {2, 2}, {0, 2, 5, 1});
  // Differences 1, 0, -2, 3: squares 1 + 0 + 4 + 9 = 14 over 4; absolutes 6 over 4.
  EXPECT_DOUBLE_EQ(eval(g, mean_squared_error(p, t)), 14.0 / 4);
  Graph h;
  EXPECT_DOUBLE_EQ(
      eval(h, mean_absolute_error(c64(h, {2, 2}, {1, 2, 3, 4}), c64(h, {2, 2}, {0, 2, 5, 1}))),
      6.0 / 4);
}

TEST(Losses, BinaryCrossEntropyFromLogitsIsStable) {
  Graph g;
  std::vector<double> x = {0.5, -2, 30, -30}, z = {1, 0, 1, 1};
  double want = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double p = 1 / (1 + std::exp(-x[i]));
    // -z log p - (1 - z) log(1 - p), with log p = -log(1 + e^-x) for the extreme logits.
    double log_p = -std::log1p(std::exp(-x[i])), log_q = -std::log1p(std::exp(x[i]));
    want += -(z[i] * log_p + (1 - z[i]) * log_q);
    (void)p;
  }
  want /= 4;
  EXPECT_NEAR(eval(g, binary_crossentropy_from_logits(c64(g, {4}, x), c64(g, {4}, z))), want,
              1e-12);
}

TEST(Losses, CategoricalAndSparseCrossEntropyAgree) {
  std::vector<double> logits = {1, 2, 3, 0, 0, 5};
  // Row 0: label 2, -log(e^3 / (e + e^2 + e^3)); row 1: label 0, -log(1 / (2 + e^5)).
  double r0 = -(3 - std::log(std::exp(1) + std::exp(2) + std::exp(3)));
  double r1 = -(0 - std::log(2 + std::exp(5)));
  Graph g;
  auto l = c64(g, {2, 3}, logits);
  auto hot = c64(g, {2, 3}, {0, 0, 1, 1, 0, 0});
  EXPECT_NEAR(eval(g, categorical_crossentropy_from_logits(l, hot)), (r0 + r1) / 2, 1e-12);
  Graph h;
  auto labels = constant(h, Tensor::from<int32_t>({2}, {2, 0}));
  EXPECT_NEAR(eval(h, sparse_categorical_crossentropy_from_logits(c64(h, {2, 3}, logits), labels)),
              (r0 + r1) / 2, 1e-12);
}

TEST(Losses, Accuracy) {
  Graph g;
  auto logits = c64(g, {4, 3}, {1, 2, 3, 5, 0, 0, 0, 1, 1, 2, 2, 0});
  // Row maxima at: 2, 0, {1, 2} (tie), {0, 1} (tie). Labels 2, 1, 2, 0: right, wrong, right
  // (ties for the max), right.
  auto labels = constant(g, Tensor::from<int64_t>({4}, {2, 1, 2, 0}));
  EXPECT_DOUBLE_EQ(eval(g, accuracy(logits, labels)), 0.75);
}

TEST(Losses, MismatchedShapesAreExplained) {
  Graph g;
  auto pred = input(g, "pred", {DType::f32, {32, 1}});
  auto target = input(g, "target", {DType::f32, {32}});
  try {
    mean_squared_error(pred, target);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.message(), HasSubstr("mean_squared_error(f32[32,1], f32[32])"));
    EXPECT_THAT(e.message(), HasSubstr("reshape the targets to [32,1]"));
    EXPECT_THAT(e.location().file, HasSubstr("losses_test.cpp"));
  }
  auto logits = input(g, "logits", {DType::f32, {8, 3}});
  auto bad = input(g, "bad", {DType::i32, {8, 3}});
  EXPECT_THROW(accuracy(logits, bad), Error);
}

} // namespace
} // namespace sj
