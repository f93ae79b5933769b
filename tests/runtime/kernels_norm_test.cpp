// The interpreter's layer_norm kernels against the formula in double written out here (mean,
// biased variance from the centered values, 1 / sqrt(var + epsilon)), including rows with a large
// mean (where E[x^2] - E[x]^2 would cancel) and C = 1; layer_norm_stats; layer_norm_backprop and
// the op's gradient rule against the gradient of the composition (reduce_mean, sub, square,
// rsqrt, mul, add) by the rules of those ops.
#include "frontend/gradients.h"
#include "tests/runtime/kernel_test_util.h"
#include "tests/support/rng.h"

#include <cmath>

namespace sj::test {
namespace {

constexpr DType f32 = DType::f32, f64 = DType::f64;

// The definition, in long double (a few more digits than the kernels' double), for rows of `n`
// values of x (already rounded to the dtype).
std::vector<double> layer_norm_ref(const std::vector<double>& x, int64_t n,
                                   const std::vector<double>& gamma,
                                   const std::vector<double>& beta, double eps) {
  using Long = long double;
  std::vector<double> y;
  for (size_t first = 0; first < x.size(); first += size_t(n)) {
    Long mean = 0, var = 0;
    for (int64_t k = 0; k < n; ++k)
      mean += x[first + size_t(k)];
    mean /= Long(n);
    for (int64_t k = 0; k < n; ++k)
      var += (x[first + size_t(k)] - mean) * (x[first + size_t(k)] - mean);
    var /= Long(n);
    for (int64_t k = 0; k < n; ++k)
      y.push_back(double((x[first + size_t(k)] - mean) / std::sqrt(var + eps) * gamma[size_t(k)] +
                         beta[size_t(k)]));
  }
  return y;
}

// `values` as the dtype would hold them.
std::vector<double> rounded(DType dt, std::vector<double> values) {
  if (dt == f32)
    for (double& v : values)
      v = double(float(v));
  return values;
}

TEST(LayerNorm, RowsByHand) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    // Row 0: mean 2.5, variance 1.25; row 1: mean 0, variance 4.5; epsilon 0.25.
    std::vector<double> x = {1, 2, 3, 4, -3, 0, 0, 3};
    std::vector<double> gamma = {1, 2, 0.5, -1}, beta = {0, 1, 0, 0.5};
    Value y =
        layer_norm(lit(g, dt, {2, 4}, x), lit(g, dt, {4}, gamma), lit(g, dt, {4}, beta), 0.25);
    std::vector<double> want = layer_norm_ref(x, 4, gamma, beta, 0.25);
    // (1 - 2.5) / sqrt(1.5) = -1.2247...: the first element, by hand.
    EXPECT_NEAR(want[0], -1.5 / std::sqrt(1.5), 1e-15);
    expect_values(eval(y), dt, {2, 4}, want, dt == f32 ? 2e-7 : 1e-14);
  }
}

TEST(LayerNorm, LargeMeanKeepsTheVarianceAccurate) {
  // x = 1000 + noise of 1e-3: in f32, E[x^2] - E[x]^2 would lose every digit of the variance
  // (1e6 against 1e-7); the centered second pass keeps them.
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Rng rng(7);
    std::vector<double> x;
    for (int i = 0; i < 3 * 37; ++i)
      x.push_back(1000 + rng.uniform(-1e-3, 1e-3));
    x = rounded(dt, x);
    std::vector<double> gamma(37, 1.0), beta(37, 0.0);
    Graph g;
    Value y =
        layer_norm(lit(g, dt, {3, 37}, x), lit(g, dt, {37}, gamma), lit(g, dt, {37}, beta), 1e-12);
    std::vector<double> want = layer_norm_ref(x, 37, gamma, beta, 1e-12);
    Tensor got = eval(y);
    for (size_t i = 0; i < want.size(); ++i)
      // f64: the mean, rounded to double (half an ulp of 1000, 6e-14), over the spread
      // (6e-4) moves xhat by 1e-10.
      EXPECT_NEAR(got.as_double(int64_t(i)), want[i], dt == f32 ? 1e-6 : 1e-9) << i;
  }
}

TEST(LayerNorm, OneFeatureGivesBeta) {
  // C = 1: every row is its own mean, so y = 0 * rstd * gamma + beta = beta.
  Graph g;
  Value y = layer_norm(lit(g, f32, {3, 1}, {5, -2, 1e30}), lit(g, f32, {1}, {3}),
                       lit(g, f32, {1}, {0.5}));
  expect_values(eval(y), f32, {3, 1}, {0.5, 0.5, 0.5});
}

TEST(LayerNorm, NaNAndInfinityPropagateToTheirRow) {
  Graph g;
  Value y = layer_norm(lit(g, f64, {3, 2}, {kNaN, 1, kInf, 1, 1, 3}), lit(g, f64, {2}, {1, 1}),
                       lit(g, f64, {2}, {0, 0}), 0);
  expect_values(eval(y), f64, {3, 2}, {kNaN, kNaN, kNaN, kNaN, -1, 1});
}

TEST(LayerNormStats, MeanAndReciprocalStandardDeviationPerRow) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value s = layer_norm_stats(lit(g, dt, {2, 1, 4}, {1, 2, 3, 4, -3, 0, 0, 3}), 0.25);
    // Row 0: mean 2.5, var 1.25; row 1: mean 0, var 4.5.
    expect_values(eval(s), dt, {2, 1, 2}, {2.5, 1 / std::sqrt(1.5), 0, 1 / std::sqrt(4.75)});
  }
}

// The composition the op replaced (frontend/layers.cpp before it was one op).
Value composition(Value x, Value gamma, Value beta, double eps) {
  Value mean = reduce_mean(x, {-1}, true);
  Value centered = x - mean;
  Value var = reduce_mean(square(centered), {-1}, true);
  Value normalized = centered * rsqrt(var + eps);
  Value scaled = normalized * gamma;
  return scaled + beta;
}

TEST(LayerNormBackprop, IsTheGradientOfTheComposition) {
  for (double eps : {1e-5, 0.5}) {
    SCOPED_TRACE(eps);
    Graph g;
    Rng rng(eps == 0.5 ? 3 : 4);
    auto random = [&](Shape s, double lo, double hi) {
      std::vector<double> x(size_t(num_elements(s)));
      for (double& e : x)
        e = rng.uniform(lo, hi);
      return lit(g, f64, s, x);
    };
    Value x = random({2, 3, 5}, -2, 3);
    Value gamma = random({5}, -1.5, 1.5);
    Value beta = random({5}, -1, 1);
    Value dy = random({2, 3, 5}, -1, 1);
    Tensor dx = eval(layer_norm_backprop(x, gamma, dy, layer_norm_stats(x, eps)));
    Value loss = reduce_sum(composition(x, gamma, beta, eps) * dy);
    std::vector<Value> want = gradients(loss, {x, gamma, beta});
    Tensor want_dx = eval(want[0]);
    ASSERT_EQ(dx.type(), want_dx.type());
    for (int64_t i = 0; i < dx.num_elements(); ++i)
      EXPECT_NEAR(dx.as_double(i), want_dx.as_double(i), 1e-13) << "element " << i;
    // The rule of layer_norm (dx by the op, dgamma and dbeta as sums) gives all three.
    Value fused_loss = reduce_sum(layer_norm(x, gamma, beta, eps) * dy);
    std::vector<Value> got = gradients(fused_loss, {x, gamma, beta});
    for (size_t k = 0; k < 3; ++k) {
      Tensor a = eval(got[k]), b = eval(want[k]);
      ASSERT_EQ(a.type(), b.type()) << k;
      for (int64_t i = 0; i < a.num_elements(); ++i)
        EXPECT_NEAR(a.as_double(i), b.as_double(i), 1e-13) << "gradient " << k << " element " << i;
    }
  }
}

TEST(LayerNormBackprop, UsesTheStatsItIsGiven) {
  // With stats (mean 0, rstd 1) of its own, dx = h - mean(h) - x mean(h x), h = dy gamma.
  Graph g;
  Value x = lit(g, f64, {1, 2}, {1, -1});
  Value dx = layer_norm_backprop(x, lit(g, f64, {2}, {2, 1}), lit(g, f64, {1, 2}, {1, 1}),
                                 lit(g, f64, {1, 2}, {0, 1}));
  // h = [2, 1], mean(h) = 1.5, mean(h x) = (2 - 1) / 2 = 0.5: dx = [2 - 1.5 - 0.5, 1 - 1.5 + 0.5].
  expect_values(eval(dx), f64, {1, 2}, {0, 0});
  Value dx2 = layer_norm_backprop(x, lit(g, f64, {2}, {3, 1}), lit(g, f64, {1, 2}, {1, 1}),
                                  lit(g, f64, {1, 2}, {0, 2}));
  // h = [3, 1], mean(h) = 2, xhat = [2, -2], mean(h xhat) = (6 - 2) / 2 = 2:
  // dx = 2 [3 - 2 - 4, 1 - 2 + 4] = [-6, 6].
  expect_values(eval(dx2), f64, {1, 2}, {-6, 6});
}

} // namespace
} // namespace sj::test
