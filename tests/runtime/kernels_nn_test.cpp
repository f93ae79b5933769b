// Interpreter kernels of the neural-network ops: softmax, log_softmax, softmax_cross_entropy,
// one_hot and gather, including their stability on large inputs and run-time index errors.
#include "tests/runtime/kernel_test_util.h"

#include <cmath>
#include <fmt/format.h>

namespace sj::test {
namespace {

// Textbook softmax and log-softmax of one row (fine for the small inputs they are used on).
std::vector<double> naive_softmax(const std::vector<double>& row) {
  double sum = 0;
  for (double v : row)
    sum += std::exp(v);
  std::vector<double> out;
  for (double v : row)
    out.push_back(std::exp(v) / sum);
  return out;
}
std::vector<double> naive_log_softmax(const std::vector<double>& row) {
  double sum = 0;
  for (double v : row)
    sum += std::exp(v);
  std::vector<double> out;
  for (double v : row)
    out.push_back(v - std::log(sum));
  return out;
}
std::vector<double> concat_rows(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Softmax, LastAxis) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value x = lit(g, dt, {2, 3}, {1, 2, 3, -1, 0, 0.5});
    std::vector<double> expected =
        concat_rows(naive_softmax({1, 2, 3}), naive_softmax({-1, 0, 0.5}));
    expect_values(eval(sj::softmax(x)), dt, {2, 3}, expected);
    expect_values(eval(sj::softmax(x, 1)), dt, {2, 3}, expected);
  }
}

TEST(Softmax, FirstAndMiddleAxes) {
  Graph g;
  // Columns of [[1,2],[3,5]] along axis 0: (1,3) and (2,5).
  std::vector<double> c0 = naive_softmax({1, 3}), c1 = naive_softmax({2, 5});
  expect_values(eval(sj::softmax(lit(g, DType::f64, {2, 2}, {1, 2, 3, 5}), 0)), DType::f64, {2, 2},
                {c0[0], c1[0], c0[1], c1[1]});
  // [1,3,2] along axis -2: each of the two columns of three.
  std::vector<double> a = naive_softmax({0, 2, 4}), b = naive_softmax({1, 1, -3});
  expect_values(eval(sj::softmax(lit(g, DType::f32, {1, 3, 2}, {0, 1, 2, 1, 4, -3}), -2)),
                DType::f32, {1, 3, 2}, {a[0], b[0], a[1], b[1], a[2], b[2]});
}

TEST(Softmax, LargeInputsAreStable) {
  // Shifting a row does not change its softmax; e^1000 would overflow without the max shift.
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    expect_values(eval(sj::softmax(lit(g, dt, {3}, {1000, 1001, 1002}))), dt, {3},
                  naive_softmax({0, 1, 2}));
    expect_values(eval(sj::softmax(lit(g, dt, {3}, {-1000, -1001, -1002}))), dt, {3},
                  naive_softmax({0, -1, -2}));
    expect_values(eval(sj::softmax(lit(g, dt, {2}, {1000, 0}))), dt, {2}, {1, 0});
  }
}

TEST(Softmax, NaNSpoilsOnlyItsRowAndMinusInfinityGetsZero) {
  Graph g;
  Value x = lit(g, DType::f32, {3, 2}, {kNaN, 0, 1, 1, -kInf, 0});
  expect_values(eval(sj::softmax(x)), DType::f32, {3, 2}, {kNaN, kNaN, 0.5, 0.5, 0, 1});
  // A row of -inf only is 0 / 0: NaN, as in the textbook formula.
  expect_values(eval(sj::softmax(lit(g, DType::f64, {2}, {-kInf, -kInf}))), DType::f64, {2},
                {kNaN, kNaN});
  expect_values(eval(sj::log_softmax(lit(g, DType::f64, {2}, {-kInf, 0}))), DType::f64, {2},
                {-kInf, 0});
}

TEST(LogSoftmax, LastAndFirstAxes) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value x = lit(g, dt, {2, 3}, {1, 2, 3, -1, 0, 0.5});
    expect_values(eval(sj::log_softmax(x)), dt, {2, 3},
                  concat_rows(naive_log_softmax({1, 2, 3}), naive_log_softmax({-1, 0, 0.5})));
    std::vector<double> c0 = naive_log_softmax({1, -1}), c1 = naive_log_softmax({2, 0}),
                        c2 = naive_log_softmax({3, 0.5});
    expect_values(eval(sj::log_softmax(x, 0)), dt, {2, 3},
                  {c0[0], c1[0], c2[0], c0[1], c1[1], c2[1]});
  }
}

TEST(LogSoftmax, LargeInputsAreStable) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    // log(e^1000 / (e^1000 + 1)) = -log1p(e^-1000) = 0; the other entry is -1000 - that.
    expect_values(eval(sj::log_softmax(lit(g, dt, {2}, {1000, 0}))), dt, {2}, {0, -1000});
    expect_values(eval(sj::log_softmax(lit(g, dt, {3}, {1000, 1001, 1002}))), dt, {3},
                  naive_log_softmax({0, 1, 2}));
  }
}

// The mean over rows of log(sum(exp(row))) - row[label], by the textbook formula.
double naive_cross_entropy(const std::vector<std::vector<double>>& rows,
                           const std::vector<int>& labels) {
  double total = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    double sum = 0;
    for (double v : rows[r])
      sum += std::exp(v);
    total += std::log(sum) - rows[r][labels[r]];
  }
  return total / double(rows.size());
}

TEST(SoftmaxCrossEntropy, MeanOverRows) {
  for (DType dt : kFloatTypes)
    for (DType lt : kIntTypes) {
      SCOPED_TRACE(fmt::format("{} logits, {} labels", dtype_name(dt), dtype_name(lt)));
      Graph g;
      Value logits = lit(g, dt, {2, 3}, {1, 2, 3, 1, 1, 1});
      Value labels = lit(g, lt, {2}, {2, 0});
      // Row 1 alone is log 3: uniform logits.
      double expected = naive_cross_entropy({{1, 2, 3}, {1, 1, 1}}, {2, 0});
      EXPECT_NEAR(expected,
                  (std::log(std::exp(1) + std::exp(2) + std::exp(3)) - 3 + std::log(3.0)) / 2,
                  1e-15);
      expect_values(eval(sj::softmax_cross_entropy(logits, labels)), dt, {}, {expected});
    }
}

TEST(SoftmaxCrossEntropy, OneRowAndRankThree) {
  Graph g;
  // logits [3] with a scalar label: one row.
  expect_values(eval(sj::softmax_cross_entropy(lit(g, DType::f64, {3}, {0.5, -1, 2}),
                                               lit(g, DType::i32, {}, {1}))),
                DType::f64, {}, {naive_cross_entropy({{0.5, -1, 2}}, {1})});
  // logits [2,2,2] with labels [2,2]: four rows.
  expect_values(
      eval(sj::softmax_cross_entropy(lit(g, DType::f32, {2, 2, 2}, {0, 1, 2, 0, 1, 1, -1, 3}),
                                     lit(g, DType::i64, {2, 2}, {1, 0, 0, 1}))),
      DType::f32, {}, {naive_cross_entropy({{0, 1}, {2, 0}, {1, 1}, {-1, 3}}, {1, 0, 0, 1})});
}

TEST(SoftmaxCrossEntropy, LargeLogitsAreStable) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value logits = lit(g, dt, {2, 2}, {1000, 0, 1000, 0});
    // Row 0 picks the dominant class (loss log1p(e^-1000) = 0), row 1 the other (loss 1000).
    expect_values(eval(sj::softmax_cross_entropy(logits, lit(g, DType::i32, {2}, {0, 1}))), dt, {},
                  {500});
  }
}

TEST(SoftmaxCrossEntropy, LabelOutOfRangeIsARunTimeError) {
  Graph g;
  Value logits = lit(g, DType::f32, {2, 3}, {1, 2, 3, 4, 5, 6});
  Value labels = input(g, "labels", {DType::i32, {2}});
  int line = __LINE__ + 1;
  Value loss = sj::softmax_cross_entropy(logits, labels);
  expect_error(
      [&] {
        eval(loss, {{"labels", tensor(DType::i32, {2}, {0, 3})}});
      },
      {"softmax_cross_entropy", "label 3", "position [1]", "3 classes", "[0, 3)"});
  expect_error(
      [&] {
        eval(loss, {{"labels", tensor(DType::i32, {2}, {-1, 0})}});
      },
      {"label -1", "position [0]"});
  // The error points at the line that built the node.
  try {
    eval(loss, {{"labels", tensor(DType::i32, {2}, {0, 3})}});
  } catch (const Error& e) {
    EXPECT_EQ(e.location().line, uint32_t(line));
  }
  // In range, the same graph runs.
  expect_values(eval(loss, {{"labels", tensor(DType::i32, {2}, {2, 0})}}), DType::f32, {},
                {naive_cross_entropy({{1, 2, 3}, {4, 5, 6}}, {2, 0})});
}

TEST(SoftmaxCrossEntropy, PositionIsAMultiIndex) {
  Graph g;
  Value logits = lit(g, DType::f64, {2, 2, 3}, std::vector<double>(12, 0));
  Value labels = lit(g, DType::i64, {2, 2}, {0, 1, 2, 7});
  expect_error([&] { eval(sj::softmax_cross_entropy(logits, labels)); },
               {"label 7", "position [1, 1]"});
}

TEST(OneHot, RowsAndOutOfRangeIndices) {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean})
    for (DType it : kIntTypes) {
      SCOPED_TRACE(fmt::format("{} from {}", dtype_name(dt), dtype_name(it)));
      Graph g;
      // -1 and 3 are outside [0, 3): zero rows.
      expect_values(eval(sj::one_hot(lit(g, it, {4}, {0, 2, -1, 3}), 3, dt)), dt, {4, 3},
                    {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});
    }
}

TEST(OneHot, ScalarAndMatrixIndices) {
  Graph g;
  expect_values(eval(sj::one_hot(lit(g, DType::i32, {}, {1}), 2)), DType::f32, {2}, {0, 1});
  expect_values(eval(sj::one_hot(lit(g, DType::i64, {2, 2}, {1, 0, 1, 5}), 2)), DType::f32,
                {2, 2, 2}, {0, 1, 1, 0, 0, 1, 0, 0});
  expect_values(eval(sj::one_hot(lit(g, DType::i32, {0}, {}), 4)), DType::f32, {0, 4}, {});
}

TEST(Gather, RowsByIndex) {
  for (DType it : kIntTypes) {
    SCOPED_TRACE(dtype_name(it));
    Graph g;
    Value table = lit(g, DType::f32, {4, 2}, {0, 1, 10, 11, 20, 21, 30, 31}); // row r: 10 r + c
    expect_values(eval(sj::gather(table, lit(g, it, {3}, {3, 0, 3}))), DType::f32, {3, 2},
                  {30, 31, 0, 1, 30, 31});
    expect_values(eval(sj::gather(table, lit(g, it, {2, 2}, {1, 2, 0, 1}))), DType::f32, {2, 2, 2},
                  {10, 11, 20, 21, 0, 1, 10, 11});
    expect_values(eval(sj::gather(table, lit(g, it, {}, {2}))), DType::f32, {2}, {20, 21});
    expect_values(eval(sj::gather(table, lit(g, it, {0}, {}))), DType::f32, {0, 2}, {});
  }
}

TEST(Gather, VectorsAndOtherDtypes) {
  Graph g;
  expect_values(eval(sj::gather(lit(g, DType::i64, {5}, {5, 6, 7, 8, 9}),
                                lit(g, DType::i32, {3}, {4, 0, 2}))),
                DType::i64, {3}, {9, 5, 7});
  expect_values(eval(sj::gather(lit(g, DType::boolean, {2, 2}, {1, 0, 0, 1}),
                                lit(g, DType::i32, {2}, {1, 1}))),
                DType::boolean, {2, 2}, {0, 1, 0, 1});
  Value t3 = lit(g, DType::f64, {2, 1, 2}, {1, 2, 3, 4});
  expect_values(eval(sj::gather(t3, lit(g, DType::i32, {1}, {1}))), DType::f64, {1, 1, 2}, {3, 4});
}

TEST(Gather, IndexOutOfRangeIsARunTimeError) {
  Graph g;
  Value table = lit(g, DType::f32, {4, 2}, std::vector<double>(8, 1));
  Value indices = input(g, "ids", {DType::i64, {3}});
  Value rows = sj::gather(table, indices);
  expect_error(
      [&] {
        eval(rows, {{"ids", tensor(DType::i64, {3}, {0, 4, 1})}});
      },
      {"gather", "index 4", "position [1]", "4 rows"});
  expect_error(
      [&] {
        eval(rows, {{"ids", tensor(DType::i64, {3}, {0, 1, -2})}});
      },
      {"index -2", "position [2]"});
  Graph g2;
  Value ids2 = lit(g2, DType::i32, {2, 2}, {0, 1, 9, 0});
  expect_error(
      [&] {
        eval(sj::gather(lit(g2, DType::f32, {4}, {1, 2, 3, 4}), ids2));
      },
      {"index 9", "position [1, 0]"});
}

TEST(Gather, EveryIndexIsCheckedEvenWhenRowsAreEmpty) {
  // A table of empty rows reads nothing, but index 7 is still outside its 4 rows (issue 11
  // row 7): the same rule whatever the row size.
  Graph g;
  Value table = lit(g, DType::f32, {4, 0}, {});
  expect_error(
      [&] {
        eval(sj::gather(table, lit(g, DType::i32, {2}, {7, -1})));
      },
      {"gather", "index 7", "position [0]", "4 rows"});
  // A table without rows has no valid index.
  Graph g2;
  expect_error(
      [&] {
        eval(sj::gather(lit(g2, DType::f32, {0, 4}, {}), lit(g2, DType::i32, {2}, {0, 0})));
      },
      {"index 0", "position [0]", "0 rows", "no variable was updated"});
}

TEST(ScatterAdd, RowsAddedAtTheirIndices) {
  for (DType it : kIntTypes) {
    SCOPED_TRACE(dtype_name(it));
    Graph g;
    // Updates row i is 10 i + c; rows 1 and 3 get two updates each, rows 0 and 2 none.
    Value updates = lit(g, DType::f32, {4, 2}, {0, 1, 10, 11, 20, 21, 30, 31});
    expect_values(eval(sj::scatter_add(updates, lit(g, it, {4}, {3, 1, 3, 1}), 4)), DType::f32,
                  {4, 2}, {0, 0, 10 + 30, 11 + 31, 0, 0, 0 + 20, 1 + 21});
    // Indices of rank 2, rows of rank 0 (a vector table), and no indices at all.
    expect_values(eval(sj::scatter_add(lit(g, DType::f32, {2, 2}, {1, 2, 4, 8}),
                                       lit(g, it, {2, 2}, {0, 2, 2, 2}), 3)),
                  DType::f32, {3}, {1, 0, 14});
    expect_values(eval(sj::scatter_add(lit(g, DType::f32, {0, 3}, {}), lit(g, it, {0}, {}), 2)),
                  DType::f32, {2, 3}, {0, 0, 0, 0, 0, 0});
  }
}

TEST(ScatterAdd, IntegersWrapAndF64) {
  Graph g;
  expect_values(eval(sj::scatter_add(lit(g, DType::i32, {2}, {2147483647, 1}),
                                     lit(g, DType::i32, {2}, {0, 0}), 1)),
                DType::i32, {1}, {-2147483648.0});
  // 1e16 + 1 - 1e16 into one row: plain f64 addition gives 0 (1e16 + 1 rounds to 1e16), the
  // oracle's compensated sum the exact 1.
  expect_values(eval(sj::scatter_add(lit(g, DType::f64, {3}, {1e16, 1, -1e16}),
                                     lit(g, DType::i64, {3}, {0, 0, 0}), 1)),
                DType::f64, {1}, {1});
}

TEST(ScatterAdd, ShapeRule) {
  Graph g;
  Value updates = input(g, "u", {DType::f32, {3, 2}});
  expect_error(
      [&] {
        sj::scatter_add(updates, input(g, "i", {DType::i32, {4}}), 5);
      },
      {"scatter_add(f32[3,2], i32[4])", "must start with the indices' shape [4]"});
  expect_error(
      [&] {
        sj::scatter_add(updates, input(g, "j", {DType::i32, {3}}), -1);
      },
      {"rows = -1"});
  expect_error(
      [&] {
        sj::scatter_add(updates, input(g, "k", {DType::f32, {3}}), 2);
      },
      {"scatter_add"});
}

TEST(ScatterAdd, IndexOutOfRangeIsARunTimeError) {
  Graph g;
  Value ids = input(g, "ids", {DType::i64, {3}});
  Value table = sj::scatter_add(lit(g, DType::f32, {3, 2}, std::vector<double>(6, 1)), ids, 4);
  expect_error(
      [&] {
        eval(table, {{"ids", tensor(DType::i64, {3}, {0, 4, 9})}});
      },
      {"scatter_add", "index 4", "position [1]", "4 rows"});
  // Empty rows: still checked.
  Graph g2;
  expect_error(
      [&] {
        eval(sj::scatter_add(lit(g2, DType::f32, {2, 0}, {}), lit(g2, DType::i32, {2}, {0, 2}), 2));
      },
      {"index 2", "position [1]"});
}

} // namespace
} // namespace sj::test
