// Variable initializers: determinism, the Keras formulas for ranges and scales, and sample
// statistics within statistical tolerance (limits and moments are computed here, not taken
// from graph/initializers.cpp).
#include "graph/builder.h"
#include "graph/initializers.h"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <numbers>

namespace sj {
namespace {

Tensor init(const TensorType& type, const Init& how) {
  Graph g;
  return initial_value(variable(g, "v", type, how).node());
}

std::vector<double> values(const Tensor& t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.num_elements(); ++i)
    v.push_back(t.as_double(i));
  return v;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v)
    s += x;
  return s / double(v.size());
}

double stddev(const std::vector<double>& v) {
  double m = mean(v), s = 0;
  for (double x : v)
    s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v)
    m = std::max(m, std::abs(x));
  return m;
}

TEST(Initializers, SameSeedSameBits) {
  for (const Init& how : {Init::glorot_uniform(3), Init::he_normal(3), Init::uniform(-1, 2, 3),
                          Init::normal(0.5, 2, 3)})
    for (DType dt : {DType::f32, DType::f64}) {
      SCOPED_TRACE(how.kind + " " + std::string(dtype_name(dt)));
      TensorType type{dt, {17, 5}};
      EXPECT_EQ(init(type, how), init(type, how));
    }
}

TEST(Initializers, DifferentSeedsDiffer) {
  for (const auto& [a, b] : {std::pair{Init::glorot_uniform(1), Init::glorot_uniform(2)},
                             std::pair{Init::he_normal(0), Init::he_normal(1)},
                             std::pair{Init::uniform(0, 1, 10), Init::uniform(0, 1, 11)},
                             std::pair{Init::normal(0, 1, 5), Init::normal(0, 1, 6)}}) {
    SCOPED_TRACE(a.kind);
    std::vector<double> x = values(init({DType::f64, {1000}}, a));
    std::vector<double> y = values(init({DType::f64, {1000}}, b));
    int same = 0;
    for (size_t i = 0; i < x.size(); ++i)
      same += x[i] == y[i];
    EXPECT_LT(same, 5);
  }
}

TEST(Initializers, ElementsWithinOneTensorDiffer) {
  std::vector<double> v = values(init({DType::f64, {1000}}, Init::normal(0, 1, 1)));
  std::sort(v.begin(), v.end());
  EXPECT_EQ(std::unique(v.begin(), v.end()), v.end());
}

TEST(Initializers, ConstantKinds) {
  EXPECT_EQ(init({DType::f32, {2, 2}}, Init::zeros()), Tensor::from<float>({2, 2}, {0, 0, 0, 0}));
  EXPECT_EQ(init({DType::i32, {3}}, Init::ones()), Tensor::from<int32_t>({3}, {1, 1, 1}));
  EXPECT_EQ(init({DType::f64, {}}, Init::constant(-2.5)), Tensor::scalar(-2.5));
  EXPECT_EQ(init({DType::i64, {2}}, Init::constant(7)), Tensor::from<int64_t>({2}, {7, 7}));
  EXPECT_EQ(init({DType::f32, {0}}, Init::glorot_uniform(1)).num_elements(), 0);
}

// Keras: limit = sqrt(6 / (fan_in + fan_out)).
void check_glorot(const Shape& shape, double fan_in, double fan_out) {
  SCOPED_TRACE(shape_str(shape));
  double limit = std::sqrt(6 / (fan_in + fan_out));
  std::vector<double> v = values(init({DType::f64, shape}, Init::glorot_uniform(42)));
  for (double x : v) {
    EXPECT_GE(x, -limit);
    EXPECT_LT(x, limit);
  }
  if (v.size() < 50) return; // too few values for statistics
  // Spread over the whole range, centred on 0.
  EXPECT_GT(max_abs(v), 0.9 * limit);
  double se = limit / std::sqrt(3.0) / std::sqrt(double(v.size()));
  EXPECT_NEAR(mean(v), 0, 5 * se);
}

TEST(Initializers, GlorotUniformLimitFollowsKerasFans) {
  check_glorot({100, 10}, 100, 10);
  check_glorot({3, 3, 16, 32}, 3 * 3 * 16, 3 * 3 * 32); // receptive field 3x3
  check_glorot({50}, 50, 50);
  check_glorot({}, 1, 1);
}

TEST(Initializers, UniformWithinLowHigh) {
  std::vector<double> v = values(init({DType::f64, {100000}}, Init::uniform(-2, 3, 9)));
  for (double x : v) {
    ASSERT_GE(x, -2);
    ASSERT_LT(x, 3);
  }
  // U[-2, 3): mean 0.5, stddev 5 / sqrt(12).
  double sd = 5 / std::sqrt(12.0), n = double(v.size());
  EXPECT_NEAR(mean(v), 0.5, 5 * sd / std::sqrt(n));
  EXPECT_NEAR(stddev(v), sd, 0.01 * sd);
  std::vector<double> f = values(init({DType::f32, {1000}}, Init::uniform(-0.05, 0.05, 1)));
  for (double x : f) {
    EXPECT_GE(x, double(-0.05f));
    EXPECT_LE(x, double(0.05f));
  }
}

TEST(Initializers, NormalMeanAndStddev) {
  const double mu = 1.5, sigma = 0.5;
  std::vector<double> v = values(init({DType::f64, {200000}}, Init::normal(mu, sigma, 4)));
  double n = double(v.size());
  // Standard errors: sigma / sqrt(n) for the mean, about sigma / sqrt(2 n) for the stddev.
  EXPECT_NEAR(mean(v), mu, 5 * sigma / std::sqrt(n));
  EXPECT_NEAR(stddev(v), sigma, 5 * sigma / std::sqrt(2 * n));
  // A normal sample of this size reaches beyond 4 sigma.
  double far = 0;
  for (double x : v)
    far = std::max(far, std::abs(x - mu));
  EXPECT_GT(far, 4 * sigma);
  // stddev 0 gives the mean exactly.
  for (double x : values(init({DType::f32, {10}}, Init::normal(2, 0, 1))))
    EXPECT_EQ(x, 2);
}

TEST(Initializers, HeNormalIsTruncatedAtTwoStddevAndHasKerasScale) {
  // Keras: stddev sqrt(2 / fan_in) after truncation; the untruncated normal's scale s is that
  // divided by the stddev of a standard normal truncated to [-2, 2]:
  // sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2))).
  const double fan_in = 400;
  double phi2 = std::exp(-2.0) / std::sqrt(2 * std::numbers::pi);
  double truncated_sd = std::sqrt(1 - 4 * phi2 / std::erf(std::numbers::sqrt2));
  EXPECT_NEAR(truncated_sd, 0.8796256610342398, 1e-12);
  double target = std::sqrt(2 / fan_in), s = target / truncated_sd;

  std::vector<double> v = values(init({DType::f64, {400, 300}}, Init::he_normal(11)));
  for (double x : v)
    ASSERT_LE(std::abs(x), 2 * s);
  EXPECT_GT(max_abs(v), 1.95 * s); // the truncation point is reached, not a narrower range
  double n = double(v.size());
  EXPECT_NEAR(mean(v), 0, 5 * target / std::sqrt(n));
  EXPECT_NEAR(stddev(v), target, 5 * target / std::sqrt(2 * n));

  // A conv kernel's fan_in includes the receptive field: [3,3,8,16] -> 72.
  std::vector<double> conv = values(init({DType::f32, {3, 3, 8, 16}}, Init::he_normal(2)));
  double s_conv = std::sqrt(2 / 72.0) / truncated_sd;
  for (double x : conv)
    ASSERT_LE(std::abs(x), 2 * s_conv * (1 + 1e-7));
  EXPECT_GT(max_abs(conv), 1.9 * s_conv);
}

TEST(Initializers, RandomUniform01IsInTheUnitInterval) {
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double u = random_uniform01(123, uint64_t(i));
    ASSERT_GE(u, 0);
    ASSERT_LT(u, 1);
    sum += u;
  }
  EXPECT_NEAR(sum / n, 0.5, 5 / std::sqrt(12.0 * n));
  EXPECT_EQ(random_uniform01(5, 17), random_uniform01(5, 17));
  EXPECT_NE(random_uniform01(5, 17), random_uniform01(6, 17));
}

} // namespace
} // namespace sj
