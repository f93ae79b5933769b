// Interpreter kernel of matmul: 2-D, each transpose flag, batched with broadcast batch
// dimensions, empty inner dimension, accuracy of the double accumulation.
#include "tests/runtime/kernel_test_util.h"

namespace sj::test {
namespace {

Tensor eval_matmul(DType dt, Shape a_shape, const std::vector<double>& a, Shape b_shape,
                   const std::vector<double>& b, bool ta = false, bool tb = false) {
  Graph g;
  return eval(sj::matmul(lit(g, dt, a_shape, a), lit(g, dt, b_shape, b), {ta, tb}));
}

// A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]], A B = [[58,64],[139,154]], and the
// transposed layouts of A and B.
const std::vector<double> kA = {1, 2, 3, 4, 5, 6}, kAt = {1, 4, 2, 5, 3, 6};
const std::vector<double> kB = {7, 8, 9, 10, 11, 12}, kBt = {7, 9, 11, 8, 10, 12};
const std::vector<double> kAB = {58, 64, 139, 154};

TEST(Matmul, TwoByThreeTimesThreeByTwo) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    expect_values(eval_matmul(dt, {2, 3}, kA, {3, 2}, kB), dt, {2, 2}, kAB);
    // B A = [[7+32, 14+40, 21+48], [9+40, 18+50, 27+60], [11+48, 22+60, 33+72]]
    expect_values(eval_matmul(dt, {3, 2}, kB, {2, 3}, kA), dt, {3, 3},
                  {39, 54, 69, 49, 68, 87, 59, 82, 105});
  }
}

TEST(Matmul, EachTransposeFlag) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    expect_values(eval_matmul(dt, {3, 2}, kAt, {3, 2}, kB, true, false), dt, {2, 2}, kAB);
    expect_values(eval_matmul(dt, {2, 3}, kA, {2, 3}, kBt, false, true), dt, {2, 2}, kAB);
    expect_values(eval_matmul(dt, {3, 2}, kAt, {2, 3}, kBt, true, true), dt, {2, 2}, kAB);
  }
}

TEST(Matmul, BatchWithBroadcastOperand) {
  // a: two batches [[1,2]] and [[3,4]]; b = [[5],[6]] shared by both.
  expect_values(eval_matmul(DType::f32, {2, 1, 2}, {1, 2, 3, 4}, {2, 1}, {5, 6}), DType::f32,
                {2, 1, 1}, {17, 39});
  // The same b given a batch dimension of 1.
  expect_values(eval_matmul(DType::f64, {2, 1, 2}, {1, 2, 3, 4}, {1, 2, 1}, {5, 6}), DType::f64,
                {2, 1, 1}, {17, 39});
  // Only b is batched: [2,3] x [2,3,2] with b's batches B and 2 B.
  std::vector<double> b2 = kB;
  for (double v : kB)
    b2.push_back(2 * v);
  expect_values(eval_matmul(DType::f32, {2, 3}, kA, {2, 3, 2}, b2), DType::f32, {2, 2, 2},
                {58, 64, 139, 154, 116, 128, 278, 308});
}

TEST(Matmul, BatchDimensionsBroadcastAgainstEachOther) {
  // a: batch [2,1] of row vectors a0 = [1,2], a1 = [3,4]; b: batch [3] of columns [1,0],
  // [0,1], [1,1]. Result [2,3,1,1]: out[i][j] = a_i . b_j.
  expect_values(eval_matmul(DType::f64, {2, 1, 1, 2}, {1, 2, 3, 4}, {3, 2, 1}, {1, 0, 0, 1, 1, 1}),
                DType::f64, {2, 3, 1, 1}, {1, 2, 3, 3, 4, 7});
}

// An independent reference: out[p][q][i][j] = sum_k A(p)[i][k] B(q)[k][j] for a of batch
// [2,1] and b of batch [3], with A and B read transposed from storage when asked.
TEST(Matmul, BroadcastBatchesWithTransposesMatchLoops) {
  const int64_t m = 4, k = 3, n = 5;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "ta=" << ta << " tb=" << tb);
      Shape a_shape = ta ? Shape{2, 1, k, m} : Shape{2, 1, m, k};
      Shape b_shape = tb ? Shape{3, n, k} : Shape{3, k, n};
      std::vector<double> a, b;
      for (int64_t i = 0; i < 2 * m * k; ++i)
        a.push_back(double(i * 7 % 11 - 5));
      for (int64_t i = 0; i < 3 * k * n; ++i)
        b.push_back(double(i * 5 % 13 - 6));
      auto at = [&](int64_t p, int64_t i, int64_t kk) {
        return a[p * m * k + (ta ? kk * m + i : i * k + kk)];
      };
      auto bt = [&](int64_t q, int64_t kk, int64_t j) {
        return b[q * k * n + (tb ? j * k + kk : kk * n + j)];
      };
      std::vector<double> expected;
      for (int64_t p = 0; p < 2; ++p)
        for (int64_t q = 0; q < 3; ++q)
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
              double s = 0;
              for (int64_t kk = 0; kk < k; ++kk)
                s += at(p, i, kk) * bt(q, kk, j);
              expected.push_back(s);
            }
      for (DType dt : kFloatTypes)
        expect_values(eval_matmul(dt, a_shape, a, b_shape, b, ta, tb), dt, {2, 3, m, n}, expected);
    }
}

TEST(Matmul, EmptyInnerDimensionGivesZeros) {
  expect_values(eval_matmul(DType::f32, {2, 0}, {}, {0, 3}, {}), DType::f32, {2, 3},
                {0, 0, 0, 0, 0, 0});
  expect_values(eval_matmul(DType::f64, {0, 2}, {}, {2, 3}, {1, 2, 3, 4, 5, 6}), DType::f64, {0, 3},
                {});
}

TEST(Matmul, F32AccumulatesBeyondF32) {
  // [2^24, 1, 1] . [1, 1, 1]: f32 running sums would stay at 2^24; the exact 2^24 + 2 is an f32.
  expect_values(eval_matmul(DType::f32, {1, 3}, {16777216, 1, 1}, {3, 1}, {1, 1, 1}), DType::f32,
                {1, 1}, {16777218}, 0);
}

TEST(Matmul, NaNAndInfinityPropagate) {
  expect_values(eval_matmul(DType::f64, {2, 2}, {kNaN, 0, 1, 2}, {2, 1}, {1, kInf}), DType::f64,
                {2, 1}, {kNaN, kInf});
}

} // namespace
} // namespace sj::test
