// Interpreter kernels of the reductions: axes (negative, empty, all), keepdims, accuracy of the
// double accumulation, integer sums, NaN in reduce_max; argmax (first maximum, NaN, ties).
#include "tests/runtime/kernel_test_util.h"

#include <cstdint>
#include <limits>

namespace sj::test {
namespace {

using ReduceFn = Value (*)(Value, Axes, bool, Loc);

// Reduces a constant x of dtype `dt` and compares with `expected` of shape `out`.
void check_reduce(ReduceFn op, DType dt, Shape shape, const std::vector<double>& x, Axes axes,
                  bool keepdims, Shape out, const std::vector<double>& expected, double tol = -1) {
  Graph g;
  Tensor r = eval(op(lit(g, dt, shape, x), axes, keepdims, Loc{}));
  expect_values(r, dt, out, expected, tol);
}

// An explicit empty axes list (a default-constructed Axes means every axis).
const Axes kNoAxes = std::vector<int64_t>{};

// x = [[1, 2, 3], [4, 5, 6]]
const std::vector<double> k23 = {1, 2, 3, 4, 5, 6};

// 2x3x4 with x[i][j][k] = 12 i + 4 j + k, and its sums over one axis by explicit loops.
std::vector<double> iota(int64_t n) {
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i)
    v.push_back(double(i));
  return v;
}
std::vector<double> sum_234(int axis) {
  int64_t dims[3] = {2, 3, 4};
  std::vector<double> out;
  for (int64_t a = 0; a < (axis == 0 ? 1 : 2); ++a)
    for (int64_t b = 0; b < (axis == 1 ? 1 : 3); ++b)
      for (int64_t c = 0; c < (axis == 2 ? 1 : 4); ++c) {
        double s = 0;
        for (int64_t r = 0; r < dims[axis]; ++r) {
          int64_t idx[3] = {a, b, c};
          idx[axis] = r;
          s += double(12 * idx[0] + 4 * idx[1] + idx[2]);
        }
        out.push_back(s);
      }
  return out;
}

TEST(ReduceSum, OneAxisAllAxesAndNegativeAxes) {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    SCOPED_TRACE(dtype_name(dt));
    check_reduce(sj::reduce_sum, dt, {2, 3}, k23, {0}, false, {3}, {5, 7, 9});
    check_reduce(sj::reduce_sum, dt, {2, 3}, k23, {1}, false, {2}, {6, 15});
    check_reduce(sj::reduce_sum, dt, {2, 3}, k23, {-1}, false, {2}, {6, 15});
    check_reduce(sj::reduce_sum, dt, {2, 3}, k23, {-2}, false, {3}, {5, 7, 9});
    check_reduce(sj::reduce_sum, dt, {2, 3}, k23, {0, 1}, false, {}, {21});
    check_reduce(sj::reduce_sum, dt, {2, 3}, k23, {1, 0}, false, {}, {21});
    check_reduce(sj::reduce_sum, dt, {2, 3}, k23, kNoAxes, false, {2, 3},
                 k23); // empty list: a copy
  }
}

TEST(ReduceSum, Keepdims) {
  check_reduce(sj::reduce_sum, DType::f32, {2, 3}, k23, {0}, true, {1, 3}, {5, 7, 9});
  check_reduce(sj::reduce_sum, DType::f64, {2, 3}, k23, {-1}, true, {2, 1}, {6, 15});
  check_reduce(sj::reduce_sum, DType::i32, {2, 3}, k23, {0, 1}, true, {1, 1}, {21});
  check_reduce(sj::reduce_sum, DType::f32, {2, 3}, k23, kNoAxes, true, {2, 3}, k23);
}

TEST(ReduceSum, MiddleAxesOfRankThree) {
  for (int axis = 0; axis < 3; ++axis) {
    SCOPED_TRACE(axis);
    Shape out = {2, 3, 4};
    out[axis] = 1;
    check_reduce(sj::reduce_sum, DType::f64, {2, 3, 4}, iota(24), {axis}, true, out, sum_234(axis));
  }
  // Axes 0 and 2 of [2,3,4]: row j sums 12 i + 4 j + k over i < 2, k < 4 = 48 + 32 j + 12.
  check_reduce(sj::reduce_sum, DType::f32, {2, 3, 4}, iota(24), {0, -1}, false, {3}, {60, 92, 124});
}

TEST(ReduceSum, ScalarsSizeOneAndEmptyDimensions) {
  check_reduce(sj::reduce_sum, DType::f32, {}, {2.5}, kNoAxes, false, {}, {2.5});
  check_reduce(sj::reduce_sum, DType::f32, {1, 3, 1}, {1, 2, 3}, {0, 2}, false, {3}, {1, 2, 3});
  // Summing an empty axis gives the identity, 0; an empty kept axis gives an empty result.
  check_reduce(sj::reduce_sum, DType::f64, {0, 3}, {}, {0}, false, {3}, {0, 0, 0});
  check_reduce(sj::reduce_sum, DType::i64, {0, 3}, {}, {1}, false, {0}, {});
}

TEST(ReduceSum, FloatsAccumulateBeyondTheDtype) {
  // In f32, 2^24 + 1 + 1 summed left to right stays 2^24; the oracle keeps the exact 2^24 + 2.
  check_reduce(sj::reduce_sum, DType::f32, {3}, {16777216, 1, 1}, {0}, false, {}, {16777218}, 0);
  // Compensated: 1e16 + 1 - 1e16 is 1, not 0, even in f64.
  check_reduce(sj::reduce_sum, DType::f64, {3}, {1e16, 1, -1e16}, {0}, false, {}, {1}, 0);
  // One million times 0.1 in f64 is 100000 to the last bits.
  std::vector<double> tenths(1000000, 0.1);
  check_reduce(sj::reduce_sum, DType::f64, {1000000}, tenths, {0}, false, {}, {100000}, 1e-15);
}

TEST(ReduceSum, InfinityAndNaNPropagate) {
  const double inf = kInf;
  check_reduce(sj::reduce_sum, DType::f32, {2, 2}, {inf, 1, inf, -inf}, {1}, false, {2},
               {inf, kNaN});
  check_reduce(sj::reduce_sum, DType::f64, {3}, {1, kNaN, 2}, {0}, false, {}, {kNaN});
}

TEST(ReduceSum, IntegersWrapLikeIntegerAdds) {
  using I32 = std::numeric_limits<int32_t>;
  using I64 = std::numeric_limits<int64_t>;
  Graph g;
  Value x = constant(g, Tensor::from<int32_t>({3}, {I32::max(), 1, 1}));
  expect_ints(eval(sj::reduce_sum(x, {0})), DType::i32, {}, {int64_t(I32::min()) + 1});
  // The intermediate overflow cancels: max + 1 - 1 is max whatever the order.
  Value y = constant(g, Tensor::from<int64_t>({3}, {I64::max(), 1, -1}));
  expect_ints(eval(sj::reduce_sum(y, {0})), DType::i64, {}, {I64::max()});
}

TEST(ReduceMean, AxesKeepdimsAndCopies) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    check_reduce(sj::reduce_mean, dt, {2, 3}, k23, {1}, false, {2}, {2, 5});
    check_reduce(sj::reduce_mean, dt, {2, 3}, k23, {-2}, false, {3}, {2.5, 3.5, 4.5});
    check_reduce(sj::reduce_mean, dt, {2, 3}, k23, {0, 1}, false, {}, {3.5});
    check_reduce(sj::reduce_mean, dt, {2, 3}, k23, {0, 1}, true, {1, 1}, {3.5});
    check_reduce(sj::reduce_mean, dt, {2, 3}, k23, kNoAxes, false, {2, 3}, k23);
    check_reduce(sj::reduce_mean, dt, {}, {-1.5}, kNoAxes, false, {}, {-1.5});
    check_reduce(sj::reduce_mean, dt, {3}, {1, 2, 2}, {0}, false, {}, {5.0 / 3});
  }
  // Mean over the middle axis of [2,3,4]: the sums above divided by 3.
  std::vector<double> expected = sum_234(1);
  for (double& v : expected)
    v /= 3;
  check_reduce(sj::reduce_mean, DType::f32, {2, 3, 4}, iota(24), {1}, false, {2, 4}, expected);
}

TEST(ReduceMax, AxesKeepdimsAndIntegers) {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    SCOPED_TRACE(dtype_name(dt));
    const std::vector<double> x = {3, -1, 7, 2, 9, -4};
    check_reduce(sj::reduce_max, dt, {2, 3}, x, {1}, false, {2}, {7, 9});
    check_reduce(sj::reduce_max, dt, {2, 3}, x, {0}, true, {1, 3}, {3, 9, 7});
    check_reduce(sj::reduce_max, dt, {2, 3}, x, {-1, -2}, false, {}, {9});
    check_reduce(sj::reduce_max, dt, {2, 3}, x, kNoAxes, false, {2, 3}, x);
    check_reduce(sj::reduce_max, dt, {2}, {-5, -6}, {0}, false, {}, {-5});
  }
  using I64 = std::numeric_limits<int64_t>;
  Graph g;
  Value x = constant(g, Tensor::from<int64_t>({2}, {I64::min(), I64::min()}));
  expect_ints(eval(sj::reduce_max(x, {0})), DType::i64, {}, {I64::min()});
}

TEST(ReduceMax, PropagatesNaNAndHandlesInfinities) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    check_reduce(sj::reduce_max, dt, {3, 2}, {1, kNaN, kNaN, 5, -kInf, -kInf}, {1}, false, {3},
                 {kNaN, kNaN, -kInf});
    check_reduce(sj::reduce_max, dt, {2}, {kInf, kNaN}, {0}, false, {}, {kNaN});
  }
}

TEST(ReduceMax, PositiveZeroBeatsNegativeZero) {
  Graph g;
  Value x = lit(g, DType::f32, {2}, {-0.0, 0.0});
  Value y = lit(g, DType::f32, {2}, {0.0, -0.0});
  EXPECT_FALSE(std::signbit(eval(sj::reduce_max(x, {0})).as_double(0)));
  EXPECT_FALSE(std::signbit(eval(sj::reduce_max(y, {0})).as_double(0)));
  EXPECT_TRUE(
      std::signbit(eval(sj::reduce_max(lit(g, DType::f64, {1}, {-0.0}), {0})).as_double(0)));
}

// argmax of a constant x of dtype `dt`: i64 indices of shape `out`.
void check_argmax(DType dt, Shape shape, const std::vector<double>& x, int64_t axis, bool keepdims,
                  Shape out, const std::vector<int64_t>& expected) {
  Graph g;
  expect_ints(eval(sj::argmax(lit(g, dt, shape, x), axis, keepdims)), DType::i64, out, expected);
}

TEST(Argmax, EveryAxisKeepdimsAndDtypes) {
  // x[i][j][k] = 12 i + 4 j + k, with the maximum of each row along any axis at its end, and
  // one row reversed.
  std::vector<double> x = iota(24);
  x[0] = 3, x[3] = 0; // row [0][0][:] = 3, 1, 2, 0
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    SCOPED_TRACE(dtype_name(dt));
    check_argmax(dt, {2, 3, 4}, x, 2, false, {2, 3}, {0, 3, 3, 3, 3, 3});
    check_argmax(dt, {2, 3, 4}, x, -1, true, {2, 3, 1}, {0, 3, 3, 3, 3, 3});
    check_argmax(dt, {2, 3, 4}, x, 1, false, {2, 4}, {2, 2, 2, 2, 2, 2, 2, 2});
    check_argmax(dt, {2, 3, 4}, x, 0, true, {1, 3, 4}, std::vector<int64_t>(12, 1));
    check_argmax(dt, {5}, {2, 9, -1, 9, 0}, 0, false, {}, {1});     // the first of tied maxima
    check_argmax(dt, {3, 1}, {7, -7, 0}, 1, false, {3}, {0, 0, 0}); // a size-1 axis
  }
  using I64 = std::numeric_limits<int64_t>;
  Graph g;
  Value big = constant(g, Tensor::from<int64_t>({3}, {I64::min(), I64::max(), I64::max()}));
  expect_ints(eval(sj::argmax(big, 0)), DType::i64, {}, {1});
}

TEST(Argmax, NaNIsTheMaximumAndTheFirstNaNWins) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    // Rows: a NaN after the maximum, two NaNs, all -inf, +inf and NaN, signed zeros.
    check_argmax(dt, {5, 4}, {1,     5,     kNaN,  2,     //
                              kNaN,  3,     kNaN,  9,     //
                              -kInf, -kInf, -kInf, -kInf, //
                              1,     kInf,  kNaN,  kInf,  //
                              -0.0,  0.0,   -0.0,  0.0},
                 1, false, {5}, {2, 0, 0, 2, 0});
    check_argmax(dt, {3}, {-kInf, -1e30, -kInf}, 0, false, {}, {1});
  }
}

TEST(Argmax, EmptyResultWhenAnotherAxisIsEmpty) {
  check_argmax(DType::f32, {0, 3}, {}, 1, false, {0}, {});
}

} // namespace
} // namespace sj::test
