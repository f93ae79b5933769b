// Interpreter kernel of random_uniform: values against the hash formula written out here,
// statistics of the stream, independence from the counter, and the shape rule's errors.
#include "tests/runtime/kernel_test_util.h"
#include "tests/support/errors.h"
#include "tests/support/random_reference.h"

#include <fmt/format.h>
#include <functional>
#include <gmock/gmock.h>
#include <set>

namespace sj::test {
namespace {

using ::testing::HasSubstr;

// The generator written out independently: tests/support/random_reference.h.
using test::random_bits_of;
double expected_value(DType dt, uint64_t seed, int64_t counter, int64_t i) {
  uint64_t bits = random_bits_of(seed, uint64_t(counter), uint64_t(i));
  // The top 24 or 53 bits over 2^24 or 2^53: exact in double.
  return dt == DType::f32 ? double(bits >> 40) / 16777216.0
                          : double(bits >> 11) / 9007199254740992.0;
}

Tensor draw(DType dt, Shape shape, int64_t seed, int64_t counter) {
  Graph g;
  Value c = constant(g, Tensor::scalar(counter));
  return eval(random_uniform(c, {dt, std::move(shape)}, seed));
}

TEST(RandomUniform, EqualsTheHashFormula) {
  for (DType dt : kFloatTypes) {
    for (int64_t counter : {int64_t{0}, int64_t{1}, int64_t{41}, int64_t{-1}}) {
      SCOPED_TRACE(fmt::format("{} counter {}", dtype_name(dt), counter));
      Tensor t = draw(dt, {3, 5}, 7, counter);
      ASSERT_EQ(t.type().str(), (TensorType{dt, {3, 5}}.str()));
      for (int64_t i = 0; i < t.num_elements(); ++i)
        EXPECT_EQ(t.as_double(i), expected_value(dt, 7, counter, i)) << "element " << i;
    }
  }
}

TEST(RandomUniform, SeedDefaultsToZeroAndScalarShape) {
  Graph g;
  Value c = constant(g, Tensor::scalar(int64_t{3}));
  Tensor t = eval(random_uniform(c, {DType::f64, {}}));
  EXPECT_EQ(t.as_double(0), expected_value(DType::f64, 0, 3, 0));
  Tensor empty = eval(random_uniform(c, {DType::f32, {2, 0}}));
  EXPECT_EQ(empty.num_elements(), 0);
}

TEST(RandomUniform, MeanAndVarianceOfAUniform) {
  for (DType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor t = draw(dt, {100000}, 12345, 2);
    double sum = 0, sum_sq = 0, lo = 1, hi = 0;
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      double v = t.as_double(i);
      sum += v;
      sum_sq += v * v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    double n = double(t.num_elements()), mean = sum / n, var = sum_sq / n - mean * mean;
    // Standard errors: 0.29 / sqrt(n) ~ 0.0009 for the mean, ~0.0003 for the variance.
    EXPECT_NEAR(mean, 0.5, 0.005);
    EXPECT_NEAR(var, 1.0 / 12, 0.002);
    EXPECT_GE(lo, 0.0);
    EXPECT_LT(hi, 1.0);
    EXPECT_LT(lo, 1e-3);
    EXPECT_GT(hi, 1 - 1e-3);
  }
}

TEST(RandomUniform, CountersAndSeedsGiveDifferentStreams) {
  Tensor a = draw(DType::f64, {1000}, 5, 0);
  Tensor b = draw(DType::f64, {1000}, 5, 1);
  Tensor c = draw(DType::f64, {1000}, 6, 0);
  int same_ab = 0, same_ac = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    same_ab += a.as_double(i) == b.as_double(i);
    same_ac += a.as_double(i) == c.as_double(i);
  }
  EXPECT_EQ(same_ab, 0);
  EXPECT_EQ(same_ac, 0);
  // The same (seed, counter) is the same stream: a pure function.
  EXPECT_EQ(draw(DType::f64, {1000}, 5, 1), b);
  // Elements of one draw are distinct too (no short cycle in the index).
  std::set<double> distinct;
  for (int64_t i = 0; i < 1000; ++i)
    distinct.insert(a.as_double(i));
  EXPECT_EQ(distinct.size(), 1000u);
}

TEST(RandomUniform, FollowsAVariableCounterAcrossSteps) {
  Graph g("steps");
  Value counter = variable(g, "counter", {DType::i64, {}}, Init::constant(10));
  Value u = random_uniform(counter, {DType::f32, {4}}, 3);
  assign(counter, counter + 1);
  output("u", u);
  Interpreter interpreter(g);
  for (int64_t step = 10; step < 13; ++step) {
    Tensor t = interpreter.run({}).at("u");
    for (int64_t i = 0; i < 4; ++i)
      EXPECT_EQ(t.as_double(i), expected_value(DType::f32, 3, step, i)) << "step " << step;
  }
}

using test::error_of;

TEST(RandomUniform, ShapeErrors) {
  Graph g;
  Value i32_counter = constant(g, Tensor::scalar(int32_t{0}));
  Value vector_counter = input(g, "v", {DType::i64, {2}});
  Value c = constant(g, Tensor::scalar(int64_t{0}));
  EXPECT_THAT(error_of([&] {
                random_uniform(i32_counter, {DType::f32, {2}});
              }),
              HasSubstr("random_uniform(i32[]): operand 'counter' must be an i64 scalar (i64[]), "
                        "got i32[]"));
  EXPECT_THAT(error_of([&] {
                random_uniform(vector_counter, {DType::f32, {2}});
              }),
              HasSubstr("must be an i64 scalar (i64[]), got i64[2]"));
  EXPECT_THAT(error_of([&] {
                random_uniform(c, {DType::i32, {2}});
              }),
              HasSubstr("dtype = i32 must be f32 or f64"));
  EXPECT_THAT(error_of([&] {
                random_uniform(c, {DType::f32, {2, -1}});
              }),
              HasSubstr("shape = [2,-1] has a negative dimension"));
}

} // namespace
} // namespace sj::test
