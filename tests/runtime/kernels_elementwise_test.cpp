// Interpreter kernels of the elementwise ops: unary math, broadcasting binary ops, comparisons,
// select and cast. Expected values are written by hand or computed by a textbook formula here.
#include "tests/runtime/kernel_test_util.h"

#include <cstdint>
#include <fmt/format.h>
#include <limits>
#include <numbers>

namespace sj::test {
namespace {

using I32 = std::numeric_limits<int32_t>;
using I64 = std::numeric_limits<int64_t>;

// Applies `op` to a rank-1 constant `x` of each float dtype and compares with `expected`.
template <typename Op>
void check_float_unary(Op op, const std::vector<double>& x, const std::vector<double>& expected,
                       double tol = -1) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Shape shape{int64_t(x.size())};
    expect_values(eval(op(lit(g, dt, shape, x))), dt, shape, expected, tol);
  }
}

// The same for a dtype-specific case (e.g. overflow that differs between f32 and f64).
template <typename Op>
void check_unary(Op op, DType dt, const std::vector<double>& x, const std::vector<double>& expected,
                 double tol = -1) {
  Graph g;
  Shape shape{int64_t(x.size())};
  expect_values(eval(op(lit(g, dt, shape, x))), dt, shape, expected, tol);
}

// Applies `op` to two constants of dtype `dt` and compares with `expected` of `out_shape`.
template <typename Op>
void check_binary(Op op, DType dt, Shape a_shape, const std::vector<double>& a, Shape b_shape,
                  const std::vector<double>& b, Shape out_shape,
                  const std::vector<double>& expected, DType out_dtype) {
  Graph g;
  Tensor r = eval(op(lit(g, dt, a_shape, a), lit(g, dt, b_shape, b)));
  expect_values(r, out_dtype, out_shape, expected);
}

// As above, with the result dtype equal to the operands'.
template <typename Op>
void check_binary(Op op, DType dt, Shape a_shape, const std::vector<double>& a, Shape b_shape,
                  const std::vector<double>& b, Shape out_shape,
                  const std::vector<double>& expected) {
  check_binary(op, dt, a_shape, a, b_shape, b, out_shape, expected, dt);
}

// Integer ops on full-range values, built without going through double.
template <typename T, typename Op>
Tensor eval_ints(Op op, const std::vector<T>& a, const std::vector<T>& b) {
  Graph g;
  Value va = constant(g, Tensor::from<T>({int64_t(a.size())}, a));
  Value vb = constant(g, Tensor::from<T>({int64_t(b.size())}, b));
  return eval(op(va, vb));
}
template <typename T, typename Op>
Tensor eval_ints(Op op, const std::vector<T>& x) {
  Graph g;
  return eval(op(constant(g, Tensor::from<T>({int64_t(x.size())}, x))));
}

auto neg_op = [](Value x) { return sj::neg(x); };
auto abs_op = [](Value x) { return sj::abs(x); };
auto square_op = [](Value x) { return sj::square(x); };
auto relu_op = [](Value x) { return sj::relu(x); };
auto add_op = [](Value a, Value b) { return sj::add(a, b); };
auto sub_op = [](Value a, Value b) { return sj::sub(a, b); };
auto mul_op = [](Value a, Value b) { return sj::mul(a, b); };
auto div_op = [](Value a, Value b) { return sj::div(a, b); };
auto max_op = [](Value a, Value b) { return sj::maximum(a, b); };
auto min_op = [](Value a, Value b) { return sj::minimum(a, b); };
auto pow_op = [](Value a, Value b) { return sj::pow(a, b); };

// ---- unary -----------------------------------------------------------------------------------

TEST(Neg, FloatsIncludingZeroAndInfinity) {
  check_float_unary(neg_op, {1.5, -2, 0, kInf, kNaN}, {-1.5, 2, 0, -kInf, kNaN});
  Graph g;
  EXPECT_TRUE(std::signbit(eval(sj::neg(scalar(g, 0.0))).as_double(0))); // -0, not +0
}

TEST(Neg, IntegersWrapAtTheMinimum) {
  expect_ints(eval_ints<int32_t>(neg_op, {5, -7, I32::min(), I32::max()}), DType::i32, {4},
              {-5, 7, I32::min(), -int64_t(I32::max())});
  expect_ints(eval_ints<int64_t>(neg_op, {3, I64::min()}), DType::i64, {2}, {-3, I64::min()});
}

TEST(Abs, Floats) {
  check_float_unary(abs_op, {-1.5, 2, -kInf, kNaN}, {1.5, 2, kInf, kNaN});
  Graph g;
  EXPECT_FALSE(std::signbit(eval(sj::abs(scalar(g, -0.0, DType::f64))).as_double(0)));
}

TEST(Abs, IntegersWrapAtTheMinimum) {
  expect_ints(eval_ints<int32_t>(abs_op, {-5, 6, 0, I32::min()}), DType::i32, {4},
              {5, 6, 0, I32::min()});
  expect_ints(eval_ints<int64_t>(abs_op, {-5, I64::min()}), DType::i64, {2}, {5, I64::min()});
}

TEST(Exp, Values) {
  check_float_unary([](Value x) { return sj::exp(x); }, {0, 1, -1, 2.5, -kInf},
                    {1, 2.718281828459045, 0.36787944117144233, 12.182493960703473, 0});
}

TEST(Exp, OverflowDependsOnTheDtype) {
  auto exp_op = [](Value x) { return sj::exp(x); };
  check_unary(exp_op, DType::f32, {100}, {kInf});
  check_unary(exp_op, DType::f64, {100, 1000}, {2.6881171418161356e43, kInf});
}

TEST(Log, ValuesAndDomainEdges) {
  check_float_unary(
      [](Value x) { return sj::log(x); }, {1, 2, 8, 0.5, 0, -1, kInf},
      {0, 0.6931471805599453, 2.0794415416798357, -0.6931471805599453, -kInf, kNaN, kInf});
}

TEST(Sqrt, Values) {
  check_float_unary([](Value x) { return sj::sqrt(x); }, {4, 2, 0, 0.25, -1, kInf},
                    {2, 1.4142135623730951, 0, 0.5, kNaN, kInf});
}

TEST(Rsqrt, Values) {
  check_float_unary([](Value x) { return sj::rsqrt(x); }, {4, 0.25, 2, 0, kInf, -4},
                    {0.5, 2, 0.7071067811865476, kInf, 0, kNaN});
}

TEST(Square, Floats) {
  check_float_unary(square_op, {3, -1.5, 0.5, -kInf, kNaN}, {9, 2.25, 0.25, kInf, kNaN});
}

TEST(Square, IntegersWrap) {
  // 46341^2 = 2147488281 = 2^31 + 4633 wraps to -2147479015; 3037000500^2 exceeds 2^63.
  expect_ints(eval_ints<int32_t>(square_op, {-4, 46341}), DType::i32, {2}, {16, -2147479015});
  expect_ints(eval_ints<int64_t>(square_op, {-4, 3037000500}), DType::i64, {2},
              {16, -9223372036709301616});
}

TEST(Relu, FloatsKeepNaN) {
  check_float_unary(relu_op, {-1, 0, 2.5, kNaN, -kInf, kInf}, {0, 0, 2.5, kNaN, 0, kInf});
}

TEST(Relu, Integers) {
  for (DType dt : kIntTypes)
    check_unary(relu_op, dt, {-3, 0, 4}, {0, 0, 4});
}

TEST(Sigmoid, ModerateValuesMatchTheTextbookFormula) {
  std::vector<double> x = {0, 1, -2, 4.5, -0.75}, expected;
  for (double v : x)
    expected.push_back(1 / (1 + std::exp(-v)));
  check_float_unary([](Value v) { return sj::sigmoid(v); }, x, expected);
}

TEST(Sigmoid, LargeMagnitudesSaturateWithoutNaN) {
  auto sigmoid_op = [](Value v) { return sj::sigmoid(v); };
  check_float_unary(sigmoid_op, {1000, -1000, kInf, -kInf, kNaN}, {1, 0, 1, 0, kNaN});
  // Far in the left tail sigmoid(x) = e^x / (1 + e^x), still accurate in f64.
  check_unary(sigmoid_op, DType::f64, {-700, -100},
              {std::exp(-700.0) / (1 + std::exp(-700.0)), 3.720075976020836e-44}, 1e-13);
}

TEST(Tanh, Values) {
  std::vector<double> x = {0, 0.5, -2, 3}, expected;
  for (double v : x)
    expected.push_back((std::exp(2 * v) - 1) / (std::exp(2 * v) + 1));
  check_float_unary([](Value v) { return sj::tanh(v); }, x, expected);
  check_float_unary([](Value v) { return sj::tanh(v); }, {1000, -1000}, {1, -1});
}

TEST(Gelu, ExactUsesTheNormalCdf) {
  // x * Phi(x) with Phi from tables: Phi(1) = 0.841344746068543, Phi(2) = 0.977249868051821.
  check_float_unary([](Value v) { return sj::gelu(v); }, {0, 1, -1, 2},
                    {0, 0.8413447460685429, -0.15865525393145707, 1.9544997361036416});
  // Far left tail: -10 * Phi(-10) = -7.6198530241605e-23, not 0 from 1 + erf(...) cancelling.
  check_float_unary([](Value v) { return sj::gelu(v); }, {-10}, {-7.6198530241605260e-23}, 1e-7);
}

TEST(Gelu, ApproximateUsesTheTanhForm) {
  std::vector<double> x = {0, 1, -1, 2, -3}, expected;
  for (double v : x)
    expected.push_back(
        0.5 * v * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (v + 0.044715 * v * v * v))));
  check_float_unary([](Value v) { return sj::gelu(v, true); }, x, expected);
  // A published value: gelu_tanh(1) = 0.8411919906082768.
  check_float_unary([](Value v) { return sj::gelu(v, true); }, {1}, {0.8411919906082768});
}

TEST(Softplus, ModerateValuesMatchTheTextbookFormula) {
  std::vector<double> x = {0, 1, -1, 2.5, -4}, expected;
  for (double v : x)
    expected.push_back(std::log(1 + std::exp(v)));
  check_float_unary([](Value v) { return sj::softplus(v); }, x, expected);
}

TEST(Softplus, LargeMagnitudesAreStable) {
  auto softplus_op = [](Value v) { return sj::softplus(v); };
  check_float_unary(softplus_op, {1000, -1000, kInf, -kInf, kNaN}, {1000, 0, kInf, 0, kNaN});
  // log(1 + e^-50) = e^-50 to within e^-100; log(1 + e^50) = 50 + e^-50 rounds to 50.
  check_unary(softplus_op, DType::f64, {-50, 50}, {1.9287498479639178e-22, 50});
}

TEST(Erf, MatchesPublishedValues) {
  // erf(0.5) = 0.5204998778130465, erf(1) = 0.8427007929497149, erf(2) = 0.9953222650189527.
  check_float_unary([](Value v) { return sj::erf(v); }, {0, 0.5, -1, 2, kInf, -kInf},
                    {0, 0.5204998778130465, -0.8427007929497149, 0.9953222650189527, 1, -1});
}

TEST(Sin, MatchesKnownValues) {
  const double pi = std::numbers::pi;
  check_float_unary([](Value v) { return sj::sin(v); }, {0, pi / 6, pi / 2, -pi / 2, 1},
                    {0, 0.5, 1, -1, 0.8414709848078965});
}

TEST(Cos, MatchesKnownValues) {
  const double pi = std::numbers::pi;
  check_float_unary([](Value v) { return sj::cos(v); }, {0, pi / 3, pi, -pi, 1},
                    {1, 0.5, -1, -1, 0.5403023058681398});
}

TEST(StopGradient, IsTheIdentityForEveryDtype) {
  check_float_unary([](Value v) { return sj::stop_gradient(v); }, {0, -1.5, kInf, 3},
                    {0, -1.5, kInf, 3});
  Graph g;
  Value i = constant(g, Tensor::from<int64_t>({2}, {I64::min(), 7}));
  EXPECT_EQ(eval(stop_gradient(i)), Tensor::from<int64_t>({2}, {I64::min(), 7}));
  Value b = constant(g, Tensor::from<bool>({2}, {true, false}));
  EXPECT_EQ(eval(stop_gradient(b)), Tensor::from<bool>({2}, {true, false}));
}

// ---- binary arithmetic ---------------------------------------------------------------------

TEST(Add, BroadcastsARowAcrossAMatrix) {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    SCOPED_TRACE(dtype_name(dt));
    check_binary(add_op, dt, {2, 3}, {1, 2, 3, 4, 5, 6}, {3}, {10, 20, 30}, {2, 3},
                 {11, 22, 33, 14, 25, 36});
    check_binary(add_op, dt, {3}, {10, 20, 30}, {2, 3}, {1, 2, 3, 4, 5, 6}, {2, 3},
                 {11, 22, 33, 14, 25, 36});
  }
}

TEST(Add, BroadcastsAColumnAgainstARow) {
  for (DType dt : kFloatTypes)
    check_binary(add_op, dt, {2, 1}, {1, 2}, {1, 3}, {10, 20, 30}, {2, 3},
                 {11, 21, 31, 12, 22, 32});
}

TEST(Add, ScalarsAndSizeOneDimensions) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    check_binary(add_op, dt, {}, {0.5}, {2, 2}, {1, 2, 3, 4}, {2, 2}, {1.5, 2.5, 3.5, 4.5});
    check_binary(add_op, dt, {2, 2}, {1, 2, 3, 4}, {}, {0.5}, {2, 2}, {1.5, 2.5, 3.5, 4.5});
    check_binary(add_op, dt, {}, {1.25}, {}, {2}, {}, {3.25});
    check_binary(add_op, dt, {1, 1, 3}, {1, 2, 3}, {2, 1, 1}, {10, 20}, {2, 1, 3},
                 {11, 12, 13, 21, 22, 23});
    check_binary(add_op, dt, {0, 3}, {}, {3}, {1, 2, 3}, {0, 3}, {});
  }
}

TEST(Add, F32ResultIsRoundedToF32) {
  // 2^24 + 1 is not an f32: it rounds (to even) to 2^24, as IEEE f32 addition does.
  check_binary(add_op, DType::f32, {}, {16777216}, {}, {1}, {}, {16777216});
  check_binary(add_op, DType::f64, {}, {16777216}, {}, {1}, {}, {16777217});
}

TEST(Add, IntegersWrap) {
  expect_ints(eval_ints<int32_t>(add_op, {I32::max(), -5}, {1, I32::min()}), DType::i32, {2},
              {I32::min(), I32::max() - 4});
  expect_ints(eval_ints<int64_t>(add_op, {I64::max()}, {1}), DType::i64, {1}, {I64::min()});
}

TEST(Sub, Broadcasts) {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    SCOPED_TRACE(dtype_name(dt));
    check_binary(sub_op, dt, {3}, {1, 2, 3}, {2, 3}, {1, 1, 1, 4, 5, 6}, {2, 3},
                 {0, 1, 2, -3, -3, -3});
    check_binary(sub_op, dt, {2, 1}, {10, 20}, {}, {1}, {2, 1}, {9, 19});
  }
}

TEST(Sub, IntegersWrap) {
  expect_ints(eval_ints<int32_t>(sub_op, {I32::min()}, {1}), DType::i32, {1}, {I32::max()});
  expect_ints(eval_ints<int64_t>(sub_op, {I64::min()}, {1}), DType::i64, {1}, {I64::max()});
}

TEST(Mul, OuterProductByBroadcasting) {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    SCOPED_TRACE(dtype_name(dt));
    check_binary(mul_op, dt, {2, 1}, {2, 3}, {1, 3}, {1, 10, 100}, {2, 3},
                 {2, 20, 200, 3, 30, 300});
  }
  check_binary(mul_op, DType::f64, {}, {-0.5}, {3}, {2, kInf, 0}, {3}, {-1, -kInf, -0.0});
}

TEST(Mul, IntegersWrap) {
  expect_ints(eval_ints<int32_t>(mul_op, {65536, -65536, 46341}, {65536, 65536, 46341}), DType::i32,
              {3}, {0, 0, -2147479015});
  expect_ints(eval_ints<int64_t>(mul_op, {int64_t{1} << 32}, {int64_t{1} << 32}), DType::i64, {1},
              {0});
}

TEST(Div, ValuesAndIeeeSpecialCases) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    check_binary(div_op, dt, {4}, {1, -1, 0.5, 3}, {}, {2}, {4}, {0.5, -0.5, 0.25, 1.5});
    check_binary(div_op, dt, {3}, {1, -1, 0}, {1}, {0}, {3}, {kInf, -kInf, kNaN});
    check_binary(div_op, dt, {2, 1}, {1, 2}, {3}, {3, 4, 8}, {2, 3},
                 {1.0 / 3, 0.25, 0.125, 2.0 / 3, 0.5, 0.25});
  }
}

TEST(Maximum, ValuesBroadcastingAndNaN) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    check_binary(max_op, dt, {4}, {1, kNaN, 3, -kInf}, {4}, {2, 1, kNaN, -5}, {4},
                 {2, kNaN, kNaN, -5});
    check_binary(max_op, dt, {2, 1}, {0, 5}, {3}, {-1, 2, 7}, {2, 3}, {0, 2, 7, 5, 5, 7});
  }
  for (DType dt : kIntTypes)
    check_binary(max_op, dt, {3}, {-3, 4, 0}, {}, {1}, {3}, {1, 4, 1});
}

TEST(Maximum, PositiveZeroBeatsNegativeZeroInEitherOrder) {
  Graph g;
  Value pz = scalar(g, 0.0), nz = scalar(g, -0.0);
  EXPECT_FALSE(std::signbit(eval(sj::maximum(pz, nz)).as_double(0)));
  EXPECT_FALSE(std::signbit(eval(sj::maximum(nz, pz)).as_double(0)));
}

TEST(Minimum, ValuesBroadcastingAndNaN) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    check_binary(min_op, dt, {4}, {1, kNaN, 3, kInf}, {4}, {2, 1, kNaN, 5}, {4},
                 {1, kNaN, kNaN, 5});
    check_binary(min_op, dt, {2, 1}, {0, 5}, {3}, {-1, 2, 7}, {2, 3}, {-1, 0, 0, -1, 2, 5});
  }
  for (DType dt : kIntTypes)
    check_binary(min_op, dt, {3}, {-3, 4, 0}, {}, {1}, {3}, {-3, 1, 0});
}

TEST(Minimum, NegativeZeroBeatsPositiveZeroInEitherOrder) {
  Graph g;
  Value pz = scalar(g, 0.0), nz = scalar(g, -0.0);
  EXPECT_TRUE(std::signbit(eval(sj::minimum(pz, nz)).as_double(0)));
  EXPECT_TRUE(std::signbit(eval(sj::minimum(nz, pz)).as_double(0)));
}

TEST(Pow, FollowsCPow) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    check_binary(pow_op, dt, {6}, {2, 2, 4, -8, 0, -2}, {6}, {3, 0.5, -0.5, 0.25, 0, 3}, {6},
                 {8, 1.4142135623730951, 0.5, kNaN, 1, -8});
    check_binary(pow_op, dt, {3}, {1, 2, 3}, {}, {2}, {3}, {1, 4, 9});
    check_binary(pow_op, dt, {2}, {0, kNaN}, {2}, {-1, 0}, {2}, {kInf, 1});
  }
}

// ---- comparisons and select ----------------------------------------------------------------

// A comparison of a = [1, 2, 3, NaN] with b = [2, 2, 2, 1]; `expected` covers the first three
// (NaN compares false). Integers compare [1, 2, 3] with the scalar 2.
void check_comparison(Value (*op)(Value, Value, Loc), const std::vector<double>& expected) {
  auto apply = [&](Value a, Value b) { return op(a, b, Loc{}); };
  std::vector<double> with_nan = expected;
  with_nan.push_back(0);
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    check_binary(apply, dt, {4}, {1, 2, 3, kNaN}, {4}, {2, 2, 2, 1}, {4}, with_nan, DType::boolean);
  }
  for (DType dt : kIntTypes) {
    SCOPED_TRACE(dtype_name(dt));
    check_binary(apply, dt, {3}, {1, 2, 3}, {}, {2}, {3}, expected, DType::boolean);
  }
}

TEST(Greater, Values) { check_comparison(sj::greater, {0, 0, 1}); }
TEST(GreaterEqual, Values) { check_comparison(sj::greater_equal, {0, 1, 1}); }
TEST(Less, Values) { check_comparison(sj::less, {1, 0, 0}); }
TEST(Equal, Values) { check_comparison(sj::equal, {0, 1, 0}); }

TEST(Equal, NaNIsNotEqualToItself) {
  check_binary([](Value a, Value b) { return sj::equal(a, b); }, DType::f32, {2}, {kNaN, 0}, {2},
               {kNaN, -0.0}, {2}, {0, 1}, DType::boolean);
}

TEST(Greater, Broadcasts) {
  check_binary([](Value a, Value b) { return sj::greater(a, b); }, DType::f64, {2, 1}, {1, 5}, {3},
               {0, 3, 6}, {2, 3}, {1, 0, 0, 1, 1, 0}, DType::boolean);
}

TEST(Select, BroadcastsAllThreeOperands) {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean}) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value cond = lit(g, DType::boolean, {2, 1}, {1, 0});
    Value a = lit(g, dt, {1, 3}, {1, 0, 1});
    Value b = lit(g, dt, {}, {0});
    expect_values(eval(sj::select(cond, a, b)), dt, {2, 3}, {1, 0, 1, 0, 0, 0});
  }
  Graph g;
  Value cond = lit(g, DType::boolean, {3}, {1, 0, 1});
  expect_values(eval(sj::select(cond, lit(g, DType::f32, {3}, {1, 2, 3}),
                                lit(g, DType::f32, {3}, {-1, -2, -3}))),
                DType::f32, {3}, {1, -2, 3});
}

TEST(Select, AnyNonzeroByteIsTrue) {
  // A fed bool tensor may hold bytes other than 0 and 1 (e.g. read from a file).
  Graph g;
  Value cond = input(g, "cond", {DType::boolean, {2}});
  Value r = sj::select(cond, lit(g, DType::f32, {2}, {1, 2}), lit(g, DType::f32, {2}, {-1, -2}));
  Tensor fed({DType::boolean, {2}});
  fed.bytes()[0] = std::byte{2};
  expect_values(eval(r, {{"cond", fed}}), DType::f32, {2}, {1, -2});
}

// ---- cast ----------------------------------------------------------------------------------

Tensor eval_cast(const Tensor& x, DType to) {
  Graph g;
  return eval(sj::cast(constant(g, x), to));
}

TEST(Cast, FloatToIntTruncatesTowardZero) {
  for (DType from : kFloatTypes)
    for (DType to : kIntTypes) {
      SCOPED_TRACE(fmt::format("{} -> {}", dtype_name(from), dtype_name(to)));
      expect_ints(eval_cast(tensor(from, {6}, {2.75, -2.75, -0.5, 0.5, -0.0, 7}), to), to, {6},
                  {2, -2, 0, 0, 0, 7});
    }
}

TEST(Cast, FloatToIntSaturatesAndMapsNaNToZero) {
  for (DType from : kFloatTypes) {
    SCOPED_TRACE(dtype_name(from));
    expect_ints(
        eval_cast(tensor(from, {7}, {1e10, -1e10, kInf, -kInf, kNaN, 2147483648.0, -2147483648.0}),
                  DType::i32),
        DType::i32, {7},
        {I32::max(), I32::min(), I32::max(), I32::min(), 0, I32::max(), I32::min()});
    expect_ints(eval_cast(tensor(from, {5}, {1e19, -1e19, kInf, -kInf, kNaN}), DType::i64),
                DType::i64, {5}, {I64::max(), I64::min(), I64::max(), I64::min(), 0});
  }
  // The largest values below the limits convert exactly: 2^31 - 128 (f32), 2^63 - 1024 (f64).
  expect_ints(eval_cast(tensor(DType::f32, {1}, {2147483520.0}), DType::i32), DType::i32, {1},
              {2147483520});
  expect_ints(
      eval_cast(tensor(DType::f64, {3},
                       {9223372036854774784.0, 9223372036854775808.0, -9223372036854775808.0}),
                DType::i64),
      DType::i64, {3}, {9223372036854774784, I64::max(), I64::min()});
  expect_ints(eval_cast(tensor(DType::f64, {2}, {2147483647.75, -2147483648.75}), DType::i32),
              DType::i32, {2}, {I32::max(), I32::min()});
}

TEST(Cast, ToBoolIsNonzero) {
  for (DType from : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    SCOPED_TRACE(dtype_name(from));
    expect_values(eval_cast(tensor(from, {4}, {0, -0.0, 3, -1}), DType::boolean), DType::boolean,
                  {4}, {0, 0, 1, 1});
  }
  expect_values(eval_cast(tensor(DType::f32, {3}, {kNaN, 0.5, -kInf}), DType::boolean),
                DType::boolean, {3}, {1, 1, 1});
}

TEST(Cast, BoolToNumberIsZeroOrOne) {
  for (DType to : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean}) {
    SCOPED_TRACE(dtype_name(to));
    Tensor b({DType::boolean, {3}});
    b.bytes()[0] = std::byte{1};
    b.bytes()[2] = std::byte{0x80}; // not a canonical bool: still true, and no UB
    Graph g;
    Value x = input(g, "x", b.type());
    expect_values(eval(sj::cast(x, to), {{"x", b}}), to, {3}, {1, 0, 1});
  }
}

TEST(Cast, IntToIntWrapsAndIntToFloatRounds) {
  Tensor big = Tensor::from<int64_t>({3}, {(int64_t{1} << 32) + 5, -1, int64_t{1} << 31});
  expect_ints(eval_cast(big, DType::i32), DType::i32, {3}, {5, -1, I32::min()});
  expect_ints(eval_cast(Tensor::from<int32_t>({2}, {I32::min(), 7}), DType::i64), DType::i64, {2},
              {I32::min(), 7});
  // 2^24 + 1 and 2^53 + 1 round to even.
  expect_values(eval_cast(Tensor::from<int32_t>({1}, {16777217}), DType::f32), DType::f32, {1},
                {16777216}, 0);
  expect_values(eval_cast(Tensor::from<int64_t>({1}, {(int64_t{1} << 53) + 1}), DType::f64),
                DType::f64, {1}, {9007199254740992.0}, 0);
}

TEST(Cast, FloatToFloatRoundsToNearest) {
  expect_values(eval_cast(tensor(DType::f64, {3}, {0.1, 1e300, -1e-300}), DType::f32), DType::f32,
                {3}, {double(0.1f), kInf, 0}, 0);
  expect_values(eval_cast(tensor(DType::f32, {2}, {0.1, kNaN}), DType::f64), DType::f64, {2},
                {double(0.1f), kNaN}, 0);
  expect_values(eval_cast(tensor(DType::f32, {1}, {1.5}), DType::f32), DType::f32, {1}, {1.5});
}

} // namespace
} // namespace sj::test
