// Losses and accuracy on inputs small enough to compute by hand (the arithmetic is in the
// comments), with Keras's and PyTorch's default reduction, the mean over the batch; their
// gradients by hand (also compiled), and against central differences
// (tests/passes/gradient_check_util.h). tests/frontend/losses_test.cpp has the shape errors and
// more cases.
#include "frontend/losses.h"
#include "runtime/compiled_step.h"
#include "tests/passes/gradient_check_util.h"

#include <functional>

namespace sj::test {
namespace {

const double kLn2 = std::log(2.0), kLn3 = std::log(3.0), kLn5 = std::log(5.0);

// A graph of f64 inputs fed with fixed values: a loss, its value and its gradients.
class Losses : public ::testing::Test {
protected:
  Value in(const Shape& shape, const std::vector<double>& values) {
    std::string name = fmt::format("in_{}", feeds_.size());
    feeds_[name] = float_tensor(DType::f64, shape, values);
    return input(g_, name, feeds_[name].type());
  }
  template <typename T>
  Value labels(const Shape& shape, const std::vector<T>& values) {
    std::string name = fmt::format("in_{}", feeds_.size());
    feeds_[name] = Tensor::from<T>(shape, values);
    return input(g_, name, feeds_[name].type());
  }
  double value(Value loss) {
    EXPECT_EQ(loss.rank(), 0);
    output("value", loss);
    return Interpreter(g_).run(feeds_).at("value").as_double(0);
  }
  /// d loss / d x, interpreted, as doubles; the same graph compiled computes the same loss
  /// and gradient (within 1e-12 relative).
  std::vector<double> gradient(Value loss, Value x) {
    Value d = gradients(loss, {x})[0];
    output("value", loss);
    output("gradient", d);
    std::map<std::string, Tensor> interpreted = Interpreter(g_).run(feeds_);
    CompiledStep step = CompiledStep::compile(g_);
    for (const auto& [name, t] : step.run(feeds_))
      EXPECT_LE(relative_error(t, interpreted.at(name)), 1e-12) << "compiled " << name;
    const Tensor& t = interpreted.at("gradient");
    std::vector<double> v(t.num_elements());
    for (int64_t i = 0; i < t.num_elements(); ++i)
      v[i] = t.as_double(i);
    return v;
  }
  static void expect_near(const std::vector<double>& got, const std::vector<double>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-14) << "element " << i;
  }

  Graph g_{"losses"};
  std::map<std::string, Tensor> feeds_;
};

// ---- mean squared and mean absolute error --------------------------------------------------

TEST_F(Losses, MseOfTwoElements) {
  // mse([1, 2], [0, 4]) = (1^2 + (-2)^2) / 2 = (1 + 4) / 2 = 2.5.
  EXPECT_DOUBLE_EQ(value(mean_squared_error(in({2}, {1, 2}), in({2}, {0, 4}))), 2.5);
}

TEST_F(Losses, MseIsTheMeanOverTheBatchOfEachRowsMean) {
  // Differences [[0, 2, 0], [-1, -1, -1]]. Keras: per row (0 + 4 + 0) / 3 = 4/3 and
  // (1 + 1 + 1) / 3 = 1, then the batch mean (4/3 + 1) / 2 = 7/6; PyTorch's mean over all six:
  // 7 / 6. Not the sum over the batch (7/3).
  Value p = in({2, 3}, {1, 2, 3, 0, 0, 0}), t = in({2, 3}, {1, 0, 3, 1, 1, 1});
  EXPECT_NEAR(value(mean_squared_error(p, t)), 7.0 / 6, 1e-15);
}

TEST_F(Losses, MaeIsTheMeanOverTheBatchOfEachRowsMean) {
  // |differences| [[0, 2, 0], [1, 1, 1]]: rows 2/3 and 1, batch mean (2/3 + 1) / 2 = 5/6.
  Value p = in({2, 3}, {1, 2, 3, 0, 0, 0}), t = in({2, 3}, {1, 0, 3, 1, 1, 1});
  EXPECT_NEAR(value(mean_absolute_error(p, t)), 5.0 / 6, 1e-15);
}

TEST_F(Losses, MaeOfTwoElements) {
  // mae([1, 2], [0, 4]) = (|1| + |-2|) / 2 = 1.5.
  EXPECT_DOUBLE_EQ(value(mean_absolute_error(in({2}, {1, 2}), in({2}, {0, 4}))), 1.5);
}

TEST_F(Losses, MseGradientIsTwiceTheDifferenceOverTheCount) {
  // d/dp mean((p - t)^2) = 2 (p - t) / N: p - t = [1, -2], N = 2 -> [1, -2].
  Value p = in({2}, {1, 2});
  expect_near(gradient(mean_squared_error(p, in({2}, {0, 4})), p), {1, -2});
}

TEST_F(Losses, MseGradientWithRespectToTheTargets) {
  // d/dt mean((p - t)^2) = -2 (p - t) / N = [-1, 2].
  Value t = in({2}, {0, 4});
  expect_near(gradient(mean_squared_error(in({2}, {1, 2}), t), t), {-1, 2});
}

TEST_F(Losses, MaeGradientIsTheSignOverTheCount) {
  // d/dp mean(|p - t|) = sign(p - t) / N: signs [+, -, +, -] over 4 -> [0.25, -0.25, ...].
  Value p = in({2, 2}, {1, 2, 5, -3});
  expect_near(gradient(mean_absolute_error(p, in({2, 2}, {0, 4, 1, 0})), p),
              {0.25, -0.25, 0.25, -0.25});
}

// ---- binary cross-entropy from logits ------------------------------------------------------

TEST_F(Losses, BinaryCrossEntropyOfLogitsWithSimpleProbabilities) {
  // sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4. Per element
  // -z log p - (1 - z) log(1 - p):
  //   x = 0,     z = 1: -log(1/2) = ln 2
  //   x = ln 3,  z = 1: -log(3/4) = ln(4/3)
  //   x = -ln 3, z = 0: -log(1 - 1/4) = ln(4/3)
  //   x = ln 3,  z = 0: -log(1 - 3/4) = ln 4
  // Mean over the batch of 2 rows of 2: (ln 2 + 2 ln(4/3) + ln 4) / 4 = ln(2 * 16/9 * 4) / 4
  // = ln(128/9) / 4.
  Value x = in({2, 2}, {0, kLn3, -kLn3, kLn3}), z = in({2, 2}, {1, 1, 0, 0});
  EXPECT_NEAR(value(binary_crossentropy_from_logits(x, z)), std::log(128.0 / 9) / 4, 1e-15);
}

TEST_F(Losses, BinaryCrossEntropyOfASoftTarget) {
  // x = ln 3 (p = 3/4), z = 1/2: -(1/2 ln(3/4) + 1/2 ln(1/4)) = 1/2 ln(16/3).
  Value x = in({1}, {kLn3}), z = in({1}, {0.5});
  EXPECT_NEAR(value(binary_crossentropy_from_logits(x, z)), 0.5 * std::log(16.0 / 3), 1e-15);
}

TEST_F(Losses, BinaryCrossEntropyOfHugeLogitsIsFinite) {
  // x = -1000, z = 1: -log(sigmoid(-1000)) = log(1 + e^1000) = 1000 + log(1 + e^-1000) = 1000
  // in f64; x = 1000, z = 0 the same by symmetry; the two right ones cost log(1 + e^-1000) = 0.
  // Mean (1000 + 1000 + 0 + 0) / 4 = 500 (a naive log(sigmoid(x)) gives inf).
  Value x = in({4}, {-1000, 1000, 1000, -1000}), z = in({4}, {1, 0, 1, 0});
  EXPECT_DOUBLE_EQ(value(binary_crossentropy_from_logits(x, z)), 500);
}

TEST_F(Losses, BinaryCrossEntropyGradientIsSigmoidMinusTargetOverTheCount) {
  // d/dx = (sigmoid(x) - z) / N: sigmoids [1/2, 3/4, 1/4, 3/4] - z [1, 1, 0, 0]
  // = [-1/2, -1/4, 1/4, 3/4], over 4: [-1/8, -1/16, 1/16, 3/16].
  Value x = in({2, 2}, {0, kLn3, -kLn3, kLn3});
  expect_near(gradient(binary_crossentropy_from_logits(x, in({2, 2}, {1, 1, 0, 0})), x),
              {-1.0 / 8, -1.0 / 16, 1.0 / 16, 3.0 / 16});
}

TEST_F(Losses, BinaryCrossEntropyGradientWithRespectToTheTargets) {
  // d/dz of max(x, 0) - x z + log(1 + e^-|x|), averaged: -x / N = [0, -ln 3, ln 3, -ln 3] / 4.
  Value z = in({2, 2}, {1, 1, 0, 0});
  expect_near(gradient(binary_crossentropy_from_logits(in({2, 2}, {0, kLn3, -kLn3, kLn3}), z), z),
              {0, -kLn3 / 4, kLn3 / 4, -kLn3 / 4});
}

// ---- categorical and sparse categorical cross-entropy from logits --------------------------

// Row 0: logits [0, ln 2, ln 5], softmax [1, 2, 5] / 8. Row 1: [0, 0, 0], softmax 1/3 each.
const std::vector<double> kLogits = {0, kLn2, kLn5, 0, 0, 0};
// Row 0 labelled 2: -ln(5/8) = ln(8/5); row 1 labelled 1: -ln(1/3) = ln 3. Mean over the batch:
// (ln(8/5) + ln 3) / 2 = ln(24/5) / 2.
const double kCrossEntropy = std::log(24.0 / 5) / 2;
// d/dlogits = (softmax - one_hot) / rows: row 0 [1/8, 2/8, 5/8 - 1] / 2, row 1
// [1/3, 1/3 - 1, 1/3] / 2.
const std::vector<double> kCrossEntropyGradient = {1.0 / 16, 1.0 / 8,  -3.0 / 16,
                                                   1.0 / 6,  -1.0 / 3, 1.0 / 6};

TEST_F(Losses, CategoricalCrossEntropyOfOneHotTargets) {
  Value l = in({2, 3}, kLogits), t = in({2, 3}, {0, 0, 1, 0, 1, 0});
  EXPECT_NEAR(value(categorical_crossentropy_from_logits(l, t)), kCrossEntropy, 1e-15);
}

TEST_F(Losses, CategoricalCrossEntropyOfSoftTargets) {
  // Row 0 against [1/2, 1/2, 0]: -(1/2 ln(1/8) + 1/2 ln(2/8)) = (ln 8 + ln 4) / 2 = 5/2 ln 2.
  Value l = in({1, 3}, {0, kLn2, kLn5}), t = in({1, 3}, {0.5, 0.5, 0});
  EXPECT_NEAR(value(categorical_crossentropy_from_logits(l, t)), 2.5 * kLn2, 1e-15);
}

TEST_F(Losses, CategoricalCrossEntropyIsStableForHugeLogits) {
  // Softmax does not change when a row is shifted: the logits + 1000 give the same mean, not
  // inf - inf.
  std::vector<double> shifted = kLogits;
  for (double& x : shifted)
    x += 1000;
  Value l = in({2, 3}, shifted), t = in({2, 3}, {0, 0, 1, 0, 1, 0});
  EXPECT_NEAR(value(categorical_crossentropy_from_logits(l, t)), kCrossEntropy, 1e-12);
}

TEST_F(Losses, CategoricalCrossEntropyAveragesOverEveryLeadingAxis) {
  // [1, 2, 3]: the two rows are rows of a sequence; still the mean over both.
  Value l = in({1, 2, 3}, kLogits), t = in({1, 2, 3}, {0, 0, 1, 0, 1, 0});
  EXPECT_NEAR(value(categorical_crossentropy_from_logits(l, t)), kCrossEntropy, 1e-15);
}

TEST_F(Losses, CategoricalCrossEntropyGradientIsSoftmaxMinusTargetsOverTheRows) {
  Value l = in({2, 3}, kLogits);
  expect_near(gradient(categorical_crossentropy_from_logits(l, in({2, 3}, {0, 0, 1, 0, 1, 0})), l),
              kCrossEntropyGradient);
}

TEST_F(Losses, SparseCategoricalCrossEntropyOfI32Labels) {
  Value l = in({2, 3}, kLogits);
  EXPECT_NEAR(value(sparse_categorical_crossentropy_from_logits(l, labels<int32_t>({2}, {2, 1}))),
              kCrossEntropy, 1e-15);
}

TEST_F(Losses, SparseCategoricalCrossEntropyOfI64Labels) {
  Value l = in({2, 3}, kLogits);
  EXPECT_NEAR(value(sparse_categorical_crossentropy_from_logits(l, labels<int64_t>({2}, {2, 1}))),
              kCrossEntropy, 1e-15);
}

TEST_F(Losses, SparseCategoricalCrossEntropyAveragesOverEveryLeadingAxis) {
  Value l = in({1, 2, 3}, kLogits);
  EXPECT_NEAR(
      value(sparse_categorical_crossentropy_from_logits(l, labels<int32_t>({1, 2}, {2, 1}))),
      kCrossEntropy, 1e-15);
}

TEST_F(Losses, SparseCategoricalCrossEntropyGradientIsSoftmaxMinusOneHotOverTheRows) {
  Value l = in({2, 3}, kLogits);
  expect_near(
      gradient(sparse_categorical_crossentropy_from_logits(l, labels<int32_t>({2}, {2, 1})), l),
      kCrossEntropyGradient);
}

// ---- accuracy ------------------------------------------------------------------------------

TEST_F(Losses, AccuracyIsTheFractionOfRowsRight) {
  // Row maxima at 1, 0, 1; labels 1, 1, 1: right, wrong, right -> 2/3.
  Value l = in({3, 2}, {0.1, 0.9, 0.8, 0.2, 0.3, 0.7});
  EXPECT_NEAR(value(accuracy(l, labels<int64_t>({3}, {1, 1, 1}))), 2.0 / 3, 1e-15);
}

TEST_F(Losses, AccuracyOverEveryLeadingAxisInTheLogitsDtype) {
  // [2, 2, 2] logits, rows maxima at 0, 1, 1, 0; labels [[0, 0], [1, 1]]: right, wrong, right,
  // wrong -> 2/4 = 0.5, as f32.
  Graph g;
  auto l = constant(g, Tensor::from<float>({2, 2, 2}, {3, 1, 0, 2, -1, 1, 5, 4}));
  Value a = accuracy(l, constant(g, Tensor::from<int32_t>({2, 2}, {0, 0, 1, 1})));
  EXPECT_EQ(a.type().str(), "f32[]");
  output("a", a);
  EXPECT_EQ(Interpreter(g).run({}).at("a").data<float>()[0], 0.5f);
}

TEST_F(Losses, AccuracyAddsNoGradient) {
  // loss + accuracy has the loss's gradient: the hand-computed one above.
  Value l = in({2, 3}, kLogits);
  Value loss = categorical_crossentropy_from_logits(l, in({2, 3}, {0, 0, 1, 0, 1, 0}));
  expect_near(gradient(loss + accuracy(l, labels<int32_t>({2}, {2, 1})), l), kCrossEntropyGradient);
}

// ---- every loss's gradient against central differences -------------------------------------

struct LossCase {
  std::string name;
  std::function<Value(GradCheck&)> build; // the scalar loss; c.wrt() what to differentiate
};

// Random probability rows [rows, classes] (positive, summing to 1).
std::vector<double> probability_rows(GradCheck& c, int64_t rows, int64_t classes) {
  std::vector<double> p = c.random(rows * classes, 0.1, 1);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t k = 0; k < classes; ++k)
      sum += p[r * classes + k];
    for (int64_t k = 0; k < classes; ++k)
      p[r * classes + k] /= sum;
  }
  return p;
}

std::vector<LossCase> loss_cases() {
  using C = GradCheck;
  return {
      {"mse",
       [](C& c) {
         return mean_squared_error(c.uniform("p", {4, 3}, -2, 2), c.uniform("t", {4, 3}, -2, 2));
       }},
      // p - t at least 0.2 from 0: no finite difference straddles |.|'s kink.
      {"mae",
       [](C& c) {
         std::vector<double> t = c.random(12, -2, 2), p = t;
         for (double& x : p)
           x += c.rng().signed_uniform(0.2, 1);
         return mean_absolute_error(c.input("p", {4, 3}, p), c.input("t", {4, 3}, t));
       }},
      {"binary_crossentropy",
       [](C& c) {
         return binary_crossentropy_from_logits(c.uniform("x", {4, 3}, -3, 3),
                                                c.uniform("z", {4, 3}, 0, 1));
       }},
      {"categorical_crossentropy",
       [](C& c) {
         Value l = c.uniform("logits", {4, 3}, -2, 2);
         return categorical_crossentropy_from_logits(
             l, c.input("t", {4, 3}, probability_rows(c, 4, 3)));
       }},
      {"categorical_crossentropy_rank3",
       [](C& c) {
         Value l = c.uniform("logits", {2, 2, 3}, -2, 2);
         return categorical_crossentropy_from_logits(
             l, c.input("t", {2, 2, 3}, probability_rows(c, 4, 3)));
       }},
      {"sparse_categorical_crossentropy",
       [](C& c) {
         return sparse_categorical_crossentropy_from_logits(c.uniform("logits", {4, 3}, -2, 2),
                                                            c.indices("labels", {4}, {2, 0, 1, 2}));
       }},
      {"sparse_categorical_crossentropy_rank3",
       [](C& c) {
         return sparse_categorical_crossentropy_from_logits(
             c.uniform("logits", {2, 2, 3}, -2, 2),
             c.indices("labels", {2, 2}, {1, 0, 2, 2}, DType::i32));
       }},
  };
}

void PrintTo(const LossCase& c, std::ostream* os) { *os << c.name; }

class LossGradients : public ::testing::TestWithParam<LossCase> {};

TEST_P(LossGradients, MatchCentralDifferences) {
  GradCheck c(seed_of(GetParam().name));
  Value loss = GetParam().build(c);
  check_gradients(loss, c.wrt(), c.feeds());
}

INSTANTIATE_TEST_SUITE_P(EveryLoss, LossGradients, ::testing::ValuesIn(loss_cases()),
                         [](const auto& info) { return info.param.name; });

} // namespace
} // namespace sj::test
