// The interpreter's attention kernels against values computed by hand (softmax of a few
// scores, in double, written out here) and against the composition softmax(q kᵀ scale + mask) v
// built from matmul and softmax: fully masked rows, -inf in the mask, causal with Tq != Tk,
// depths that are not a multiple of the vector width, mask broadcasting, attention_lse, the
// backward against the gradient of the composition, and the shape errors' messages.
#include "frontend/gradients.h"
#include "tests/runtime/kernel_test_util.h"
#include "tests/support/errors.h"
#include "tests/support/rng.h"

#include <cmath>

namespace sj::test {
namespace {

constexpr DType f32 = DType::f32, f64 = DType::f64;

// softmax over `s` (in double), weights of v's rows; -inf entries get weight 0.
std::vector<double> softmax_of(const std::vector<double>& s) {
  double m = -kInf;
  for (double x : s)
    m = std::max(m, x);
  std::vector<double> p;
  double sum = 0;
  for (double x : s)
    sum += std::exp(x - m);
  for (double x : s)
    p.push_back(std::exp(x - m) / sum);
  return p;
}

TEST(Attention, TwoKeysByHand) {
  for (DType dt : kFloatTypes) {
    Graph g;
    // q = [1, 0]; keys [1, 0] and [0, 0]: scores q.k / sqrt(2) = [1/sqrt2, 0].
    Value q = lit(g, dt, {1, 1, 1, 2}, {1, 0});
    Value k = lit(g, dt, {1, 1, 2, 2}, {1, 0, 0, 0});
    Value v = lit(g, dt, {1, 1, 2, 2}, {1, 2, 3, 4});
    std::vector<double> p = softmax_of({1 / std::sqrt(2.0), 0});
    expect_values(eval(attention(q, k, v)), dt, {1, 1, 1, 2},
                  {p[0] * 1 + p[1] * 3, p[0] * 2 + p[1] * 4}, dt == f32 ? 1e-6 : 1e-14);
    // An explicit scale: scores [2, 0].
    std::vector<double> p2 = softmax_of({2, 0});
    expect_values(eval(attention(q, k, v, {.scale = 2})), dt, {1, 1, 1, 2},
                  {p2[0] * 1 + p2[1] * 3, p2[0] * 2 + p2[1] * 4}, dt == f32 ? 1e-6 : 1e-14);
    expect_values(eval(attention_lse(q, k, {.scale = 2})), dt, {1, 1, 1},
                  {std::log(std::exp(2.0) + 1)}, dt == f32 ? 1e-6 : 1e-14);
  }
}

TEST(Attention, FullyMaskedRowsGiveZeroAndNoGradient) {
  for (DType dt : kFloatTypes) {
    Graph g;
    // Two queries, three keys; query 0 sees no key (all -inf), query 1 only key 2 (others -inf).
    Value q = lit(g, dt, {1, 1, 2, 1}, {1, 2});
    Value k = lit(g, dt, {1, 1, 3, 1}, {1, 1, 1});
    Value v = lit(g, dt, {1, 1, 3, 1}, {10, 20, 30});
    Value mask = lit(g, dt, {2, 3}, {-kInf, -kInf, -kInf, -kInf, -kInf, 0.5});
    Value y = attention(q, k, v, {.mask = mask, .scale = 1});
    expect_values(eval(y), dt, {1, 1, 2, 1}, {0, 30});
    // lse: -inf for the empty row; 2 * 1 + 0.5 for the other.
    expect_values(eval(attention_lse(q, k, {.mask = mask, .scale = 1})), dt, {1, 1, 2},
                  {-kInf, 2.5});
    // The backward: the empty row passes nothing; query 1 has p = 1 on key 2, so dv_2 = dy_1
    // and dq = dk = 0 (a softmax of one key does not move).
    Value dy = lit(g, dt, {1, 1, 2, 1}, {7, 5});
    Value lse = attention_lse(q, k, {.mask = mask, .scale = 1});
    Value packed = attention_backprop(q, k, v, y, dy, lse, {.mask = mask, .scale = 1});
    expect_values(eval(packed), dt, {1, 1, 8, 1}, {0, 0, 0, 0, 0, 0, 0, 5});
  }
}

TEST(Attention, CausalWithFewerQueriesThanKeys) {
  // Tq = 2, Tk = 3 (the queries are the last two positions): query 0 sees keys 0-1, query 1
  // all three. Scores q_i k_j = (i + 1) * (j + 1) / 4 with D = 1 and scale 1/4.
  for (DType dt : kFloatTypes) {
    Graph g;
    Value q = lit(g, dt, {1, 1, 2, 1}, {1, 2});
    Value k = lit(g, dt, {1, 1, 3, 1}, {1, 2, 3});
    Value v = lit(g, dt, {1, 1, 3, 1}, {1, 10, 100});
    std::vector<double> p0 = softmax_of({0.25, 0.5});
    std::vector<double> p1 = softmax_of({0.5, 1.0, 1.5});
    expect_values(eval(attention(q, k, v, {.causal = true, .scale = 0.25})), dt, {1, 1, 2, 1},
                  {p0[0] + 10 * p0[1], p1[0] + 10 * p1[1] + 100 * p1[2]}, dt == f32 ? 1e-6 : 1e-14);
    // Tq = 3 > Tk = 2: query 0 sees nothing (j <= 0 + 2 - 3), query 1 key 0, query 2 both.
    Value q3 = lit(g, dt, {1, 1, 3, 1}, {1, 1, 1});
    Value k2 = lit(g, dt, {1, 1, 2, 1}, {0, 0});
    Value v2 = lit(g, dt, {1, 1, 2, 1}, {4, 8});
    expect_values(eval(attention(q3, k2, v2, {.causal = true})), dt, {1, 1, 3, 1}, {0, 4, 6});
  }
}

TEST(Attention, MinusInfinityInTheMaskHidesAKey) {
  Graph g;
  Value q = lit(g, f64, {1, 1, 1, 1}, {1});
  Value k = lit(g, f64, {1, 1, 3, 1}, {1, 2, 3});
  Value v = lit(g, f64, {1, 1, 3, 1}, {1, 10, 100});
  Value mask = lit(g, f64, {3}, {0, -kInf, 1});
  std::vector<double> p = softmax_of({1, 4}); // keys 0 and 2: scores 1 and 3 + 1
  expect_values(eval(attention(q, k, v, {.mask = mask, .scale = 1})), f64, {1, 1, 1, 1},
                {p[0] + 100 * p[1]}, 1e-14);
}

TEST(Attention, NaNAndInfinityPropagate) {
  Graph g;
  Value q = lit(g, f64, {1, 1, 2, 1}, {1, 1});
  Value k = lit(g, f64, {1, 1, 2, 1}, {1, 1});
  Value v = lit(g, f64, {1, 1, 2, 1}, {1, 2});
  Value mask = lit(g, f64, {2, 2}, {kNaN, 0, kInf, 0});
  Tensor y = eval(attention(q, k, v, {.mask = mask}));
  EXPECT_TRUE(std::isnan(y.as_double(0)));
  EXPECT_TRUE(std::isnan(y.as_double(1))); // +inf - +inf in the softmax
}

// Random q, k, v and mask of the given shapes; attention against the composition.
void expect_composition(DType dt, int64_t b, int64_t h, int64_t tq, int64_t tk, int64_t d,
                        Shape mask_shape, bool causal, double scale) {
  Graph g;
  Rng rng(uint64_t(b * 1000 + tq * 100 + tk * 10 + d + (causal ? 7 : 0)));
  auto random = [&](Shape s, double lo, double hi) {
    std::vector<double> x(size_t(num_elements(s)));
    for (double& e : x)
      e = rng.uniform(lo, hi);
    return lit(g, dt, s, x);
  };
  Value q = random({b, h, tq, d}, -1, 1);
  Value k = random({b, h, tk, d}, -1, 1);
  Value v = random({b, h, tk, d}, -2, 2);
  Value mask = random(mask_shape, -1, 1);
  Value y = attention(q, k, v, {.mask = mask, .causal = causal, .scale = scale});
  // The composition: scores, then -inf above the causal diagonal, softmax, product.
  double f = scale != 0 ? scale : 1 / std::sqrt(double(d));
  Value s = matmul(q, k, {.transpose_b = true}) * f + mask;
  if (causal) {
    std::vector<double> hide;
    for (int64_t i = 0; i < tq; ++i)
      for (int64_t j = 0; j < tk; ++j)
        hide.push_back(j <= i + tk - tq ? 0 : -kInf);
    s = s + lit(g, dt, {tq, tk}, hide);
  }
  Tensor want = eval(matmul(softmax(s), v));
  Tensor got = eval(y);
  ASSERT_EQ(got.type(), want.type());
  for (int64_t i = 0; i < got.num_elements(); ++i) {
    // Rows with no visible key: 0 here, NaN in the composition (softmax of all -inf).
    double w = std::isnan(want.as_double(i)) ? 0 : want.as_double(i);
    EXPECT_NEAR(got.as_double(i), w, dt == f32 ? 2e-6 : 1e-13) << "element " << i;
  }
}

TEST(Attention, AgreesWithItsComposition) {
  for (DType dt : kFloatTypes) {
    expect_composition(dt, 2, 3, 5, 7, 5, {}, false, 0);            // D = 5, no mask
    expect_composition(dt, 1, 2, 6, 4, 17, {6, 4}, true, 0);        // causal, Tq > Tk
    expect_composition(dt, 2, 1, 3, 9, 3, {2, 1, 1, 9}, true, 0.7); // per-batch key mask
    expect_composition(dt, 1, 2, 4, 4, 2, {2, 4, 1}, false, -1.5);  // per-head, per-query
  }
}

TEST(Attention, MaskBroadcastsLikeTheFullMask) {
  Graph g;
  Value q = lit(g, f64, {2, 1, 2, 1}, {1, 2, 3, 4});
  Value k = lit(g, f64, {2, 1, 3, 1}, {1, 0, -1, 2, 1, 0});
  Value v = lit(g, f64, {2, 1, 3, 1}, {1, 2, 3, 4, 5, 6});
  Value row = lit(g, f64, {3}, {0.5, -1, 2});
  std::vector<double> full;
  for (int i = 0; i < 4; ++i)
    full.insert(full.end(), {0.5, -1, 2});
  Value all = lit(g, f64, {2, 1, 2, 3}, full);
  Tensor a = eval(attention(q, k, v, {.mask = row}));
  Tensor b = eval(attention(q, k, v, {.mask = all}));
  for (int64_t i = 0; i < a.num_elements(); ++i)
    EXPECT_EQ(a.as_double(i), b.as_double(i));
}

TEST(Attention, ShapeErrorsSayWhatToChange) {
  Graph g;
  Value q = input(g, "q", {f32, {2, 4, 6, 8}});
  Value k = input(g, "k", {f32, {2, 4, 5, 8}});
  Value v = input(g, "v", {f32, {2, 4, 5, 8}});
  expect_error(
      [&] {
        attention(input(g, "q3", {f32, {2, 6, 8}}), k, v);
      },
      {"attention(f32[2,6,8], f32[2,4,5,8], f32[2,4,5,8], f32[])",
       "q [2,6,8] must have rank 4, [batch, heads, queries, depth]"});
  expect_error(
      [&] {
        attention(q, input(g, "k16", {f32, {2, 4, 5, 16}}), v);
      },
      {"k [2,4,5,16] must be [batch, heads, keys, depth] with q's batch 2, heads 4 and "
       "depth 8: make it [2, 4, keys, 8]"});
  expect_error(
      [&] {
        attention(q, k, input(g, "v4", {f32, {2, 4, 4, 8}}));
      },
      {"v [2,4,4,8] must have k's shape [2,4,5,8]"});
  expect_error(
      [&] {
        attention(q, k, v, {.mask = input(g, "m", {f32, {5, 6}})});
      },
      {"the mask [5,6] does not broadcast to the scores' shape [2,4,6,5] ([batch, "
       "heads, queries, keys]); make it e.g. [6, 5]"});
  expect_error([&] { attention(q, k, input(g, "v64", {f64, {2, 4, 5, 8}})); }, {"f64"});
  expect_error([&] { attention(q, k, v, {.scale = std::nan("")}); },
               {"scale = nan must be a finite number (0, the default, means 1/sqrt(depth))"});
}

TEST(AttentionLse, IsTheLogSumExpOfEachRow) {
  Graph g;
  Value q = lit(g, f64, {1, 1, 2, 2}, {1, 0, 0, 1});
  Value k = lit(g, f64, {1, 1, 2, 2}, {1, 2, 3, 4});
  // Row 0: scores [1, 3]; row 1: [2, 4] (scale 1).
  expect_values(eval(attention_lse(q, k, {.scale = 1})), f64, {1, 1, 2},
                {std::log(std::exp(1.0) + std::exp(3.0)), std::log(std::exp(2.0) + std::exp(4.0))},
                1e-14);
  expect_error(
      [&] {
        attention_lse(q, input(g, "k", {f64, {1, 2, 2, 2}}));
      },
      {"attention_lse(f64[1,1,2,2], f64[1,2,2,2], f64[])", "with q's batch 1, heads 1"});
}

TEST(AttentionBackprop, IsTheGradientOfTheComposition) {
  for (bool causal : {false, true}) {
    Graph g;
    Rng rng(causal ? 3 : 4);
    auto random = [&](Shape s) {
      std::vector<double> x(size_t(num_elements(s)));
      for (double& e : x)
        e = rng.uniform(-1, 1);
      return lit(g, f64, s, x);
    };
    int64_t tq = 4, tk = 5, d = 3;
    Value q = random({1, 2, tq, d}), k = random({1, 2, tk, d}), v = random({1, 2, tk, d});
    Value mask = random({tk});
    Value dy = random({1, 2, tq, d});
    AttentionOptions o{.mask = mask, .causal = causal};
    Value y = attention(q, k, v, o);
    Value lse = attention_lse(q, k, o);
    Tensor packed = eval(attention_backprop(q, k, v, y, dy, lse, o));
    // The composition's gradient of sum(y * dy), by the rules of matmul and softmax.
    Value s = matmul(q, k, {.transpose_b = true}) * (1 / std::sqrt(3.0)) + mask;
    if (causal) {
      std::vector<double> hide;
      for (int64_t i = 0; i < tq; ++i)
        for (int64_t j = 0; j < tk; ++j)
          hide.push_back(j <= i + tk - tq ? 0 : -1e300); // finite: no NaN in the rules
      s = s + lit(g, f64, {tq, tk}, hide);
    }
    Value loss = reduce_sum(matmul(softmax(s), v) * dy);
    std::vector<Value> grads = gradients(loss, {q, k, v});
    Tensor want = eval(concat(grads, 2));
    ASSERT_EQ(packed.type(), want.type());
    for (int64_t i = 0; i < want.num_elements(); ++i)
      EXPECT_NEAR(packed.as_double(i), want.as_double(i), 1e-13) << "element " << i;
  }
}

TEST(AttentionBackprop, ShapeErrors) {
  Graph g;
  Value q = input(g, "q", {f32, {1, 2, 3, 4}});
  Value k = input(g, "k", {f32, {1, 2, 5, 4}});
  Value y = input(g, "y", {f32, {1, 2, 3, 4}});
  expect_error(
      [&] {
        attention_backprop(q, k, k, y, y, input(g, "lse", {f32, {1, 2, 5}}));
      },
      {"lse [1,2,5] must be [batch, heads, queries] = [1,2,3]"});
  expect_error(
      [&] {
        attention_backprop(q, k, k, y, input(g, "dy", {f32, {1, 2, 5, 4}}), y);
      },
      {"dy [1,2,5,4] must have q's shape [1,2,3,4]"});
}

} // namespace
} // namespace sj::test
