// The differentiation pass: gradients of a two-layer MLP against a derivation written out by
// hand below (independent of the pass), naming, and every misuse with its message.
#include "frontend/gradients.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "runtime/interpreter.h"
#include "tests/support/cli.h"

#include <cmath>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

// A row-major matrix of doubles, just enough for the hand derivation.
struct Mat {
  int64_t rows, cols;
  std::vector<double> v;
  double& at(int64_t r, int64_t c) { return v[r * cols + c]; }
  double at(int64_t r, int64_t c) const { return v[r * cols + c]; }
};

Mat matrix(int64_t rows, int64_t cols, double seed) {
  Mat m{rows, cols, std::vector<double>(rows * cols)};
  for (int64_t i = 0; i < rows * cols; ++i)
    m.v[i] = std::sin(seed + 1.7 * double(i)) * 0.9;
  return m;
}

Tensor tensor(const Mat& m) { return Tensor::from<double>({m.rows, m.cols}, m.v); }
Tensor tensor(const std::vector<double>& v) { return Tensor::from<double>({int64_t(v.size())}, v); }

void expect_near(const Tensor& got, const std::vector<double>& want, const char* what) {
  ASSERT_EQ(got.num_elements(), int64_t(want.size())) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got.as_double(int64_t(i)), want[i], 1e-12 * (1 + std::abs(want[i])))
        << what << "[" << i << "]";
}

TEST(Differentiate, TwoLayerMlpMatchesAHandDerivation) {
  // pred = relu(x W1 + b1) W2 + b2, loss = mean((pred - y)^2), in f64.
  const int64_t n = 4, in = 3, hidden = 5, out = 2;
  Mat x = matrix(n, in, 0.1), y = matrix(n, out, 0.2), w1 = matrix(in, hidden, 0.3),
      w2 = matrix(hidden, out, 0.4);
  std::vector<double> b1 = {0.1, -0.2, 0.05, 0.3, -0.1}, b2 = {0.2, -0.3};

  Graph g("mlp");
  auto vx = input(g, "x", {DType::f64, {n, in}});
  auto vy = input(g, "y", {DType::f64, {n, out}});
  auto vw1 = input(g, "w1", {DType::f64, {in, hidden}});
  auto vb1 = input(g, "b1", {DType::f64, {hidden}});
  auto vw2 = input(g, "w2", {DType::f64, {hidden, out}});
  auto vb2 = input(g, "b2", {DType::f64, {out}});
  auto pred = matmul(relu(matmul(vx, vw1) + vb1), vw2) + vb2;
  auto loss = reduce_mean(square(pred - vy));
  auto grads = gradients(loss, {vw1, vb1, vw2, vb2});
  output("loss", loss);
  for (size_t i = 0; i < grads.size(); ++i)
    output("g" + std::to_string(i), grads[i]);
  verify(g);

  // The derivation: z = x W1 + b1, h = relu(z), p = h W2 + b2, e = p - y, loss = sum(e^2) / 8.
  Mat z{n, hidden, std::vector<double>(n * hidden)}, h = z, p{n, out, std::vector<double>(n * out)};
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < hidden; ++j) {
      z.at(r, j) = b1[j];
      for (int64_t k = 0; k < in; ++k)
        z.at(r, j) += x.at(r, k) * w1.at(k, j);
      h.at(r, j) = std::max(z.at(r, j), 0.0);
    }
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < out; ++j) {
      p.at(r, j) = b2[j];
      for (int64_t k = 0; k < hidden; ++k)
        p.at(r, j) += h.at(r, k) * w2.at(k, j);
    }
  // dL/dp = 2 e / 8; dW2 = h^T dp; db2 = column sums of dp; dh = dp W2^T; dz = dh where z > 0;
  // dW1 = x^T dz; db1 = column sums of dz.
  Mat dp = p;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < out; ++j)
      dp.at(r, j) = 2 * (p.at(r, j) - y.at(r, j)) / double(n * out);
  std::vector<double> dw2(hidden * out), db2(out), dw1(in * hidden), db1(hidden);
  Mat dz{n, hidden, std::vector<double>(n * hidden)};
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < out; ++j) {
      db2[j] += dp.at(r, j);
      for (int64_t k = 0; k < hidden; ++k)
        dw2[k * out + j] += h.at(r, k) * dp.at(r, j);
    }
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < hidden; ++k) {
      double dh = 0;
      for (int64_t j = 0; j < out; ++j)
        dh += dp.at(r, j) * w2.at(k, j);
      dz.at(r, k) = z.at(r, k) > 0 ? dh : 0;
      db1[k] += dz.at(r, k);
      for (int64_t i = 0; i < in; ++i)
        dw1[i * hidden + k] += x.at(r, i) * dz.at(r, k);
    }

  Interpreter interpreter(g);
  auto r = interpreter.run({{"x", tensor(x)},
                            {"y", tensor(y)},
                            {"w1", tensor(w1)},
                            {"b1", tensor(b1)},
                            {"w2", tensor(w2)},
                            {"b2", tensor(b2)}});
  expect_near(r.at("g0"), dw1, "dW1");
  expect_near(r.at("g1"), db1, "db1");
  expect_near(r.at("g2"), dw2, "dW2");
  expect_near(r.at("g3"), db2, "db2");
  // The data was chosen so that the relu mask is mixed (the test exercises both branches).
  int positive = 0;
  for (double v : z.v)
    positive += v > 0;
  EXPECT_GT(positive, 0);
  EXPECT_LT(positive, int(z.v.size()));
}

TEST(Differentiate, GradientsOfNamedValuesAreNamedGradDotName) {
  Graph g;
  auto w = variable(g, "layer/w", {DType::f32, {3}}, Init::ones());
  auto v = variable(g, "v", {DType::f32, {3}}, Init::ones());
  auto loss = reduce_sum(exp(w) * v);
  auto grads = gradients(loss, {w, v});
  EXPECT_EQ(grads[0].node().name, "grad.layer/w");
  EXPECT_EQ(grads[1].node().name, "grad.v");
  EXPECT_THAT(print(g), HasSubstr("%grad.layer/w = mul("));
}

TEST(Differentiate, TheLossWithRespectToItselfIsOne) {
  Graph g;
  auto x = input(g, "x", {DType::f64, {}});
  auto grads = gradients(x, {x});
  output("g", grads[0]);
  Interpreter run(g);
  EXPECT_EQ(run.run({{"x", Tensor::scalar(3.0)}}).at("g"), Tensor::scalar(1.0));
}

// ---- misuse ------------------------------------------------------------------------------

Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an sj::Error";
  return Error({}, "");
}

TEST(Differentiate, NonScalarLossSuggestsAReduction) {
  Graph g;
  auto x = input(g, "x", {DType::f32, {32, 1}});
  auto w = variable(g, "w", {DType::f32, {1}});
  auto pred = named(x * w, "pred");
  const uint32_t line = __LINE__ + 1;
  Error e = error_of([&] { gradients(pred, {w}); });
  EXPECT_THAT(e.message(), HasSubstr("the loss must be a scalar, but 'pred' is f32[32,1]"));
  EXPECT_THAT(e.message(), HasSubstr("reduce_mean or reduce_sum"));
  EXPECT_EQ(e.location().line, line);
  EXPECT_THAT(e.location().file, HasSubstr("differentiate_test.cpp"));
}

TEST(Differentiate, EmptyWrt) {
  Graph g;
  auto x = input(g, "x", {DType::f32, {}});
  EXPECT_THAT(error_of([&] { gradients(exp(x), {}); }).message(), HasSubstr("`wrt` is empty"));
}

TEST(Differentiate, IntegerLossOrWrt) {
  Graph g;
  auto i = input(g, "i", {DType::i32, {}});
  auto x = input(g, "x", {DType::f32, {}});
  EXPECT_THAT(error_of([&] { gradients(i, {x}); }).message(),
              HasSubstr("the loss must be floating point"));
  EXPECT_THAT(error_of([&] { gradients(exp(x), {i}); }).message(),
              HasSubstr("'i' is i32[]: integer and bool values carry no gradient"));
}

TEST(Differentiate, UnconnectedValuesAreAllListedWithTheZeroOption) {
  Graph g;
  auto x = input(g, "x", {DType::f32, {4}});
  auto w0 = variable(g, "w0", {DType::f32, {4}});
  auto w1 = variable(g, "w1", {DType::f32, {4}});
  auto w2 = variable(g, "w2", {DType::f32, {4}});
  auto loss = named(reduce_sum(x * w0), "loss");
  (void)exp(w2); // used, but not by the loss
  Error e = error_of([&] { gradients(loss, {w0, w1, w2}); });
  EXPECT_THAT(e.message(), HasSubstr("the loss 'loss' does not depend on 'w1', 'w2'"));
  EXPECT_THAT(e.message(), HasSubstr("Unconnected::zero"));
  EXPECT_THAT(e.message(), HasSubstr("unconnected_gradients=ZERO"));

  auto grads = gradients(loss, {w0, w1, w2}, {.unconnected = Unconnected::zero});
  output("g1", grads[1]);
  output("g2", grads[2]);
  Interpreter run(g);
  auto r = run.run({{"x", Tensor::from<float>({4}, {1, 2, 3, 4})}});
  EXPECT_EQ(r.at("g1"), Tensor::from<float>({4}, {0, 0, 0, 0}));
  EXPECT_EQ(r.at("g2"), Tensor::from<float>({4}, {0, 0, 0, 0}));
}

TEST(Differentiate, APathThroughAnIntegerStopsTheGradientAndIsExplained) {
  Graph g;
  auto w = variable(g, "w", {DType::f32, {3}});
  auto rounded = cast(cast(w, DType::i32), DType::f32);
  const uint32_t cast_line = __LINE__ - 1;
  auto loss = reduce_sum(rounded);
  Error e = error_of([&] { gradients(loss, {w}); });
  EXPECT_THAT(e.message(), HasSubstr("does not depend on 'w'"));
  EXPECT_THAT(e.message(), HasSubstr("'w' reaches the loss only through cast at"));
  EXPECT_THAT(e.message(), HasSubstr(fmt::format("differentiate_test.cpp:{}", cast_line)));
  EXPECT_THAT(e.message(), HasSubstr("its result is i32[3], and integer and bool values carry "
                                     "no gradient"));
}

TEST(Differentiate, StopGradientIsExplained) {
  Graph g;
  auto w = variable(g, "w", {DType::f32, {3}});
  auto loss = reduce_sum(stop_gradient(w) * 2.0);
  EXPECT_THAT(error_of([&] { gradients(loss, {w}); }).message(),
              HasSubstr("only through stop_gradient at"));
  // With another path, the stopped one simply contributes nothing: d/dw (sg(w) * w) = sg(w).
  Graph g2;
  auto x = input(g2, "x", {DType::f64, {2}});
  auto grads = gradients(reduce_sum(stop_gradient(x) * x), {x});
  output("g", grads[0]);
  Interpreter run(g2);
  EXPECT_EQ(run.run({{"x", Tensor::from<double>({2}, {3, -4})}}).at("g"),
            Tensor::from<double>({2}, {3, -4}));
}

TEST(Differentiate, ValuesFromAnotherGraph) {
  Graph g1("one"), g2("two");
  auto a = input(g1, "a", {DType::f32, {}});
  auto b = input(g2, "b", {DType::f32, {}});
  EXPECT_THAT(error_of([&] { gradients(exp(a), {b}); }).message(), HasSubstr("graph 'two'"));
}

// ---- the CLI -----------------------------------------------------------------------------

TEST(Differentiate, CliDumpsTheGradientGraph) {
  std::string seed = test::source_path("examples/models/seed.sj");
  auto r = test::run_stepjit("dump " + seed + " --stage=grad --wrt=all-variables");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias"})
    EXPECT_THAT(r.out, HasSubstr(fmt::format("output grad.{0} = %grad.{0}", name)));

  r = test::run_stepjit("dump " + seed + " --stage=grad --wrt=dense_1/bias");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("output grad.dense_1/bias"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("grad.dense_0")));

  r = test::run_stepjit("dump " + seed + " --stage=grad --loss=pred");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the loss must be a scalar, but 'pred' is f32[32,1]"));

  r = test::run_stepjit("dump " + seed + " --stage=grad --wrt=nope");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no value named 'nope'"));

  r = test::run_stepjit("dump " + seed + " --stage=grad --wrt=x");
  EXPECT_EQ(r.exit_code, 0) << r.err; // inputs can be differentiated too
  EXPECT_THAT(r.out, HasSubstr("output grad.x"));
}

} // namespace
} // namespace sj
