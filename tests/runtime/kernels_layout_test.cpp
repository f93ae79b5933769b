// Interpreter kernels of the layout ops: transpose, reshape, broadcast_to, concat, slice. They
// move elements exactly, for every dtype.
#include "tests/runtime/kernel_test_util.h"

namespace sj::test {
namespace {

constexpr DType kSomeTypes[] = {DType::f32, DType::f64, DType::i32, DType::i64};

std::vector<double> iota(int64_t n) {
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i)
    v.push_back(double(i));
  return v;
}

TEST(Transpose, Matrix) {
  for (DType dt : kSomeTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value x = lit(g, dt, {2, 3}, {1, 2, 3, 4, 5, 6});
    expect_values(eval(sj::transpose(x)), dt, {3, 2}, {1, 4, 2, 5, 3, 6});
    expect_values(eval(sj::transpose(x, {0, 1})), dt, {2, 3}, {1, 2, 3, 4, 5, 6});
  }
  Graph g;
  Value b = lit(g, DType::boolean, {2, 2}, {1, 1, 0, 0});
  expect_values(eval(sj::transpose(b)), DType::boolean, {2, 2}, {1, 0, 1, 0});
}

TEST(Transpose, RankThreePermutation) {
  // x[i][j][k] = 12 i + 4 j + k of shape [2,3,4]; perm [2,0,1] gives y[k][i][j] = x[i][j][k].
  Graph g;
  Tensor y = eval(sj::transpose(lit(g, DType::f32, {2, 3, 4}, iota(24)), {2, 0, 1}));
  std::vector<double> expected;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        expected.push_back(12 * i + 4 * j + k);
  expect_values(y, DType::f32, {4, 2, 3}, expected);
}

TEST(Transpose, ScalarAndEmpty) {
  Graph g;
  expect_values(eval(sj::transpose(lit(g, DType::f64, {}, {3.5}))), DType::f64, {}, {3.5});
  expect_values(eval(sj::transpose(lit(g, DType::f64, {0, 2}, {}))), DType::f64, {2, 0}, {});
}

TEST(Reshape, KeepsRowMajorOrder) {
  for (DType dt : kSomeTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value x = lit(g, dt, {2, 3}, {1, 2, 3, 4, 5, 6});
    expect_values(eval(sj::reshape(x, {3, 2})), dt, {3, 2}, {1, 2, 3, 4, 5, 6});
    expect_values(eval(sj::reshape(x, {6})), dt, {6}, {1, 2, 3, 4, 5, 6});
    expect_values(eval(sj::reshape(x, {1, 6, 1})), dt, {1, 6, 1}, {1, 2, 3, 4, 5, 6});
  }
}

TEST(Reshape, ScalarsAndBools) {
  Graph g;
  Value s = lit(g, DType::f32, {}, {7});
  expect_values(eval(sj::reshape(s, {1, 1})), DType::f32, {1, 1}, {7});
  expect_values(eval(sj::reshape(sj::reshape(s, {1}), {})), DType::f32, {}, {7});
  Value b = lit(g, DType::boolean, {4}, {1, 0, 0, 1});
  expect_values(eval(sj::reshape(b, {2, 2})), DType::boolean, {2, 2}, {1, 0, 0, 1});
}

TEST(BroadcastTo, RowsColumnsAndScalars) {
  for (DType dt : kSomeTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    expect_values(eval(sj::broadcast_to(lit(g, dt, {3}, {1, 2, 3}), {2, 3})), dt, {2, 3},
                  {1, 2, 3, 1, 2, 3});
    expect_values(eval(sj::broadcast_to(lit(g, dt, {2, 1}, {1, 2}), {2, 3})), dt, {2, 3},
                  {1, 1, 1, 2, 2, 2});
    expect_values(eval(sj::broadcast_to(lit(g, dt, {}, {5}), {2, 2})), dt, {2, 2}, {5, 5, 5, 5});
    expect_values(eval(sj::broadcast_to(lit(g, dt, {1, 2}, {1, 2}), {2, 1, 2})), dt, {2, 1, 2},
                  {1, 2, 1, 2});
  }
}

TEST(BroadcastTo, IdentityAndEmpty) {
  Graph g;
  expect_values(eval(sj::broadcast_to(lit(g, DType::f32, {2}, {1, 2}), {2})), DType::f32, {2},
                {1, 2});
  expect_values(eval(sj::broadcast_to(lit(g, DType::f32, {1}, {1}), {3, 0})), DType::f32, {3, 0},
                {});
  expect_values(eval(sj::broadcast_to(lit(g, DType::boolean, {2, 1}, {1, 0}), {2, 2})),
                DType::boolean, {2, 2}, {1, 1, 0, 0});
}

TEST(Concat, AlongEachAxis) {
  for (DType dt : kSomeTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value a = lit(g, dt, {1, 2}, {1, 2});
    Value b = lit(g, dt, {2, 2}, {3, 4, 5, 6});
    expect_values(eval(sj::concat({a, b}, 0)), dt, {3, 2}, {1, 2, 3, 4, 5, 6});
    expect_values(eval(sj::concat({b, a}, -2)), dt, {3, 2}, {3, 4, 5, 6, 1, 2});
    Value c = lit(g, dt, {2, 1}, {7, 8});
    expect_values(eval(sj::concat({b, c}, 1)), dt, {2, 3}, {3, 4, 7, 5, 6, 8});
    expect_values(eval(sj::concat({c, b, c}, -1)), dt, {2, 4}, {7, 3, 4, 7, 8, 5, 6, 8});
  }
}

TEST(Concat, RankThreeMiddleAxisEmptyAndSingleOperands) {
  Graph g;
  // [2,1,2] and [2,2,2] along axis 1: per leading index, a's row then b's two rows.
  Value a = lit(g, DType::f64, {2, 1, 2}, {0, 1, 2, 3});
  Value b = lit(g, DType::f64, {2, 2, 2}, {10, 11, 12, 13, 14, 15, 16, 17});
  expect_values(eval(sj::concat({a, b}, 1)), DType::f64, {2, 3, 2},
                {0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17});
  Value empty = lit(g, DType::f64, {2, 0, 2}, {});
  expect_values(eval(sj::concat({empty, a, empty}, 1)), DType::f64, {2, 1, 2}, {0, 1, 2, 3});
  expect_values(eval(sj::concat({a}, 0)), DType::f64, {2, 1, 2}, {0, 1, 2, 3});
  Value t = lit(g, DType::boolean, {1}, {1});
  Value f = lit(g, DType::boolean, {2}, {0, 0});
  expect_values(eval(sj::concat({f, t}, 0)), DType::boolean, {3}, {0, 0, 1});
}

TEST(Slice, Boxes) {
  for (DType dt : kSomeTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value x = lit(g, dt, {3, 4}, iota(12)); // x[i][j] = 4 i + j
    expect_values(eval(sj::slice(x, {1, 1}, {3, 3})), dt, {2, 2}, {5, 6, 9, 10});
    expect_values(eval(sj::slice(x, {0, 3}, {3, 4})), dt, {3, 1}, {3, 7, 11});
    expect_values(eval(sj::slice(x, {0, 0}, {3, 4})), dt, {3, 4}, iota(12));
    expect_values(eval(sj::slice(x, {2, 1}, {2, 4})), dt, {0, 3}, {});
  }
}

TEST(Slice, RankThreeMatchesLoops) {
  Graph g;
  Tensor y = eval(sj::slice(lit(g, DType::i32, {2, 3, 4}, iota(24)), {1, 0, 1}, {2, 2, 4}));
  std::vector<double> expected;
  for (int i = 1; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 1; k < 4; ++k)
        expected.push_back(12 * i + 4 * j + k);
  expect_values(y, DType::i32, {1, 2, 3}, expected);
  Value s = lit(g, DType::f32, {}, {2});
  expect_values(eval(sj::slice(s, {}, {})), DType::f32, {}, {2});
}

} // namespace
} // namespace sj::test
