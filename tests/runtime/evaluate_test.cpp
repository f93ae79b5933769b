// sj::evaluate (runtime/evaluate.h): a compiled model run on every row of x (10 rows in batches
// of 4, the last padded), its loss and metrics against values computed here in double.
#include "graph/parse.h"
#include "runtime/evaluate.h"

#include <cmath>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kRows = 10, kIn = 3, kOut = 3;

struct Fixture {
  Graph g = parse("graph linear {\n"
                  "  %x = input : f32[4,3]\n"
                  "  %w = variable : f32[3,3]\n"
                  "  %pred = matmul(%x, %w) : f32[4,3]\n"
                  "  output pred = %pred\n"
                  "}\n",
                  "linear.sj");
  std::vector<float> x, w;
  Fixture() {
    for (int64_t i = 0; i < kRows * kIn; ++i)
      x.push_back(float(std::sin(double(i) * 1.3)));
    for (int64_t i = 0; i < kIn * kOut; ++i)
      w.push_back(float(std::cos(double(i) * 0.7)));
  }
  CompiledStep step() {
    CompiledStep s = CompiledStep::compile(g);
    s.set_variable("w", Tensor::from<float>({kIn, kOut}, w));
    return s;
  }
  double z(int64_t i, int64_t c) const {
    double v = 0;
    for (int64_t k = 0; k < kIn; ++k)
      v += double(x[i * kIn + k]) * double(w[k * kOut + c]);
    return v;
  }
};

TEST(Evaluate, SparseCrossEntropyAccuracyAndTopKOverEveryRow) {
  Fixture f;
  CompiledStep model = f.step();
  std::vector<int32_t> y;
  double loss = 0;
  int right = 0, top2 = 0;
  for (int64_t i = 0; i < kRows; ++i) {
    y.push_back(int32_t((i * 7) % kOut));
    double m = -INFINITY, sum = 0;
    for (int64_t c = 0; c < kOut; ++c)
      m = std::max(m, f.z(i, c));
    for (int64_t c = 0; c < kOut; ++c)
      sum += std::exp(f.z(i, c) - m);
    loss -= f.z(i, y[i]) - m - std::log(sum);
    int above = 0;
    for (int64_t c = 0; c < kOut; ++c)
      above += f.z(i, c) > f.z(i, y[i]);
    right += above == 0;
    top2 += above < 2;
  }
  Evaluation e =
      evaluate(model, Tensor::from<float>({kRows, kIn}, f.x), Tensor::from<int32_t>({kRows}, y),
               {.loss = "sparse_ce", .metrics = {"accuracy", "top2"}});
  EXPECT_EQ(e.examples, kRows);
  EXPECT_NEAR(e.loss, loss / kRows, 1e-6);
  ASSERT_EQ(e.metrics.size(), 2u);
  EXPECT_EQ(e.metrics[0].first, "accuracy");
  EXPECT_DOUBLE_EQ(e.metrics[0].second, right / 10.0);
  EXPECT_DOUBLE_EQ(e.metrics[1].second, top2 / 10.0);
  EXPECT_THAT(e.str(), HasSubstr("evaluated 10 examples: loss "));
}

TEST(Evaluate, MeanSquaredErrorAgainstTargets) {
  Fixture f;
  CompiledStep model = f.step();
  std::vector<float> t(kRows * kOut);
  double sum = 0;
  for (int64_t i = 0; i < kRows * kOut; ++i) {
    t[i] = float(i % 4) * 0.25f;
    double d = f.z(i / kOut, i % kOut) - double(t[i]);
    sum += d * d;
  }
  Evaluation e = evaluate(model, Tensor::from<float>({kRows, kIn}, f.x),
                          Tensor::from<float>({kRows, kOut}, t), {.loss = "mse"});
  EXPECT_NEAR(e.loss, sum / double(kRows * kOut), 1e-6);
}

TEST(Evaluate, ErrorsNameTheLabelsAndTheRow) {
  Fixture f;
  CompiledStep model = f.step();
  Tensor x = Tensor::from<float>({kRows, kIn}, f.x);
  std::vector<int32_t> y(kRows, 0);
  y[6] = 5;
  try {
    evaluate(model, x, Tensor::from<int32_t>({kRows}, y));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("labels: label 5 at row 6 is not a class of the 3 the "
                                    "prediction scores (valid: [0, 3))"));
  }
  try {
    evaluate(model, Tensor::from<float>({2, 2}, {1, 2, 3, 4}), Tensor::from<int32_t>({2}, {0, 1}));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("evaluate: the model's input 'x' is f32[4,3], x is f32[2,2]"));
  }
}

TEST(Evaluate, ArgmaxAndSoftmaxOfTheLastAxis) {
  Tensor t = Tensor::from<float>({2, 3}, {1, 3, 2, 5, 5, -1});
  EXPECT_EQ(argmax_last_axis(t), Tensor::from<int64_t>({2}, {1, 0})); // ties: the first
  Tensor p = softmax_last_axis(t);
  double e = std::exp(1.0) + std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(p.as_double(1), std::exp(3.0) / e, 1e-7);
  EXPECT_NEAR(p.as_double(3) + p.as_double(4) + p.as_double(5), 1, 1e-6);
}

} // namespace
} // namespace sj
