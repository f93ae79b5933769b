// Higher-order differentiation, op by op: the gradient graph is ordinary IR, so differentiating
// it again gives Hessian-vector products. Each check forms s = sum(grad * V) from the first-order
// gradient and compares d s / d x (= H V) with central differences of s, which the interpreter
// computes by running the first-order gradient graph (tests/passes/gradient_check_util.h; the
// same 1e-6 tolerance holds: measured errors are below 1e-9). For elementwise ops, H V is also
// compared with the second derivative written out by hand.
//
// The sweep over every op of the table, one order up, is in gradient_check_test.cpp; these are
// the plain second derivatives of the ops training relies on most.
#include "tests/passes/gradient_check_util.h"

#include <functional>

namespace sj::test {
namespace {

// For y = f(x) elementwise and loss = sum(W * y): s = sum(W f'(x) V), so d s / d x =
// W V f''(x). Checks that against `f2` (the second derivative, by hand), and against central
// differences.
void check_elementwise(const char* name, Value (*f)(Value, Loc), double lo, double hi,
                       const std::function<double(double)>& f2) {
  SCOPED_TRACE(name);
  GradCheck c(seed_of(name));
  Value x = c.uniform("x", {3, 4}, lo, hi);
  Value w = c.weights({3, 4});
  Value loss = reduce_sum(f(x, Loc()) * w);
  std::vector<Value> first = gradients(loss, {x});
  Value v = c.weights({3, 4});
  Value s = reduce_sum(first[0] * v);
  GradientReport r = check_gradients(s, c.wrt(), c.feeds());
  ASSERT_EQ(r.analytic.size(), 1u);

  const Tensor& xs = c.feeds().at("x");
  const Tensor& ws = w.node().attrs.tensor("value");
  const Tensor& vs = v.node().attrs.tensor("value");
  std::vector<double> expected;
  for (int64_t k = 0; k < xs.num_elements(); ++k)
    expected.push_back(ws.as_double(k) * vs.as_double(k) * f2(xs.as_double(k)));
  // A few roundings in double on both sides.
  EXPECT_LT(relative_error(r.analytic[0], float_tensor(DType::f64, {3, 4}, expected)), 1e-13);
}

TEST(SecondOrder, Tanh) {
  check_elementwise("tanh", sj::tanh, -2, 2, [](double x) {
    double t = std::tanh(x);
    return -2 * t * (1 - t * t);
  });
}

TEST(SecondOrder, Sigmoid) {
  check_elementwise("sigmoid", sj::sigmoid, -3, 3, [](double x) {
    double s = 1 / (1 + std::exp(-x));
    return s * (1 - s) * (1 - 2 * s);
  });
}

TEST(SecondOrder, Exp) {
  check_elementwise("exp", sj::exp, -2, 2, [](double x) { return std::exp(x); });
}

TEST(SecondOrder, Square) {
  check_elementwise("square", sj::square, -2, 2, [](double) { return 2.0; });
}

TEST(SecondOrder, Log) {
  check_elementwise("log", sj::log, 0.5, 3, [](double x) { return -1 / (x * x); });
}

TEST(SecondOrder, MulWithBroadcasting) {
  // The only second derivatives are the mixed ones, d^2 / da db: s couples a to V_b and b to V_a
  // through the unbroadcast sums.
  GradCheck c(seed_of("mul"));
  Value a = c.uniform("a", {2, 1, 3}, -2, 2);
  Value b = c.uniform("b", {4, 3}, -2, 2);
  check_second_order(c, weighted_sum(c, a * b));
}

TEST(SecondOrder, DivWithBroadcasting) {
  GradCheck c(seed_of("div"));
  Value a = c.uniform("a", {3, 4}, -2, 2);
  Value b = c.away_from_zero("b", {4}, 0.5, 2);
  check_second_order(c, weighted_sum(c, a / b));
}

TEST(SecondOrder, Matmul) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(fmt::format("transpose_a = {}, transpose_b = {}", ta, tb));
      GradCheck c(seed_of(fmt::format("matmul{}{}", ta, tb)));
      Value a = c.uniform("a", ta ? Shape{3, 5} : Shape{5, 3}, -1, 1);
      Value b = c.uniform("b", tb ? Shape{4, 3} : Shape{3, 4}, -1, 1);
      check_second_order(c, weighted_sum(c, matmul(a, b, {.transpose_a = ta, .transpose_b = tb})));
    }
}

TEST(SecondOrder, MatmulBatchedWithBroadcastBatchDimensions) {
  GradCheck c(seed_of("matmul_batched"));
  Value a = c.uniform("a", {2, 1, 3, 4}, -1, 1);
  Value b = c.uniform("b", {3, 4, 2}, -1, 1);
  check_second_order(c, weighted_sum(c, matmul(a, b)));
}

TEST(SecondOrder, MatmulChainedThroughTanh) {
  // A layer: the Hessian has both the pure d^2 / da^2 terms (through tanh) and mixed terms.
  GradCheck c(seed_of("layer"));
  Value x = c.uniform("x", {4, 3}, -1, 1);
  Value w = c.uniform("w", {3, 2}, -1, 1);
  check_second_order(c, weighted_sum(c, tanh(matmul(x, w))));
}

TEST(SecondOrder, ReduceSumThroughANonlinearity) {
  // reduce_sum is linear, so its own Hessian is zero; through tanh the gradient depends on x
  // and its second-order gradient runs through reduce_sum's rule (reshape, broadcast_to) and
  // their rules in turn.
  GradCheck c(seed_of("reduce_sum"));
  Value x = c.uniform("x", {2, 3, 4}, -1, 1);
  check_second_order(c, weighted_sum(c, tanh(reduce_sum(x, {0, -1}, /*keepdims=*/true))));
  GradCheck d(seed_of("reduce_sum2"));
  Value y = d.uniform("x", {2, 3, 4}, -1, 1);
  check_second_order(d, weighted_sum(d, tanh(reduce_sum(y, {1}))));
}

TEST(SecondOrder, LinearLossHasAnUnconnectedSecondDerivative) {
  // loss = sum(W * reduce_sum(x)): the gradient is W broadcast, a constant, so s does not
  // depend on x. That is an error by default; with Unconnected::zero it is zeros, which the
  // central differences (exactly 0: s is bit-identical whatever x is) confirm.
  GradCheck c(seed_of("linear"));
  Value x = c.uniform("x", {2, 3, 4}, -1, 1);
  Value loss = weighted_sum(c, reduce_sum(x, {0, 2}));
  std::vector<Value> first = gradients(loss, {x});
  Value s = reduce_sum(first[0] * c.weights(x.shape()));
  EXPECT_THROW(gradients(s, {x}), Error);
  GradientReport r =
      check_gradients(s, c.wrt(), c.feeds(), {.gradient = {.unconnected = Unconnected::zero}});
  ASSERT_EQ(r.analytic.size(), 1u);
  for (int64_t k = 0; k < r.analytic[0].num_elements(); ++k)
    EXPECT_EQ(r.analytic[0].as_double(k), 0.0);
}

TEST(SecondOrder, Softmax) {
  for (int64_t axis : {0, 1, -1}) {
    SCOPED_TRACE(fmt::format("axis = {}", axis));
    GradCheck c(seed_of(fmt::format("softmax{}", axis)));
    Value x = c.uniform("x", {3, 4}, -2, 2);
    check_second_order(c, weighted_sum(c, softmax(x, axis)));
  }
}

TEST(SecondOrder, SoftmaxCrossEntropy) {
  GradCheck c(seed_of("xent"));
  Value logits = c.uniform("logits", {4, 5}, -2, 2);
  Value labels = c.indices("labels", {4}, {2, 0, 4, 2});
  check_second_order(c, softmax_cross_entropy(logits, labels));
}

TEST(ThirdOrder, Tanh) {
  // Differentiate three times: s1 = sum(grad * V1), s2 = sum(d s1 / d x * V2), and d s2 / d x
  // against central differences of s2 (each of which runs a second-order gradient graph).
  GradCheck c(seed_of("tanh3"));
  Value x = c.uniform("x", {3, 4}, -2, 2);
  Value loss = weighted_sum(c, tanh(x));
  std::vector<Value> first = gradients(loss, {x});
  Value s1 = reduce_sum(first[0] * c.weights(x.shape()));
  check_second_order(c, s1);
}

TEST(ThirdOrder, MlpLayer) {
  GradCheck c(seed_of("mlp3"));
  Value x = c.uniform("x", {4, 3}, -1, 1);
  Value w = c.uniform("w", {3, 2}, -1, 1);
  Value loss = weighted_sum(c, sigmoid(matmul(x, w)));
  std::vector<Value> first = gradients(loss, c.wrt());
  Value s1 =
      reduce_sum(first[0] * c.weights(x.shape())) + reduce_sum(first[1] * c.weights(w.shape()));
  check_second_order(c, s1);
}

} // namespace
} // namespace sj::test
