// Learning-rate schedules, end to end: SGD without momentum on loss = Σ w·c has the constant
// gradient c, so each step moves w by −lr_k c and the rate the graph used is recovered exactly
// as lr_k = −(w_{k+1} − w_k) / c. It is compared, step by step, with the formula of
// frontend/schedule.h written here in f64 (k = steps already taken, 0 on the first step).
//
// Tolerance: 1e-9 relative (|a − b| / max(|a|, |b|, 1e-12)). Recovering lr_k from a difference
// of w's of order 1 costs about 1e-16 / |lr_k c| ≲ 1e-12 relative here, far below it.
#include "frontend/optimizers.h"
#include "runtime/interpreter.h"
#include "tests/frontend/optimizer_reference.h"
#include "tests/support/errors.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <numbers>
#include <string>
#include <vector>

namespace sj {
namespace {

using test::Vec;
using ::testing::HasSubstr;

constexpr int64_t kSteps = 12;
constexpr double kTolerance = 1e-9;
const Vec kW0 = {1.0, 2.0, -3.0, 4.0};
const Vec kC = {0.5, -1.5, 2.0, 0.25}; // the gradient, every step

using RateFormula = std::function<double(int64_t k)>;
using BeforeStep = std::function<void(int64_t k, Interpreter& run)>;

/// Runs kSteps steps of SGD(lr, schedule) and checks each step's rate against `want`.
void expect_rates(double lr, const Schedule& schedule, const RateFormula& want,
                  const BeforeStep& before_step = {}) {
  Graph g("schedule");
  Value w = variable(g, "w", {DType::f64, {4}});
  Value c = constant(g, Tensor::from<double>({4}, kC));
  SGD sgd({.learning_rate = lr, .common = {.schedule = schedule}});
  sgd.minimize(reduce_sum(w * c), {w});

  Interpreter run(g);
  run.set_variable("w", Tensor::from<double>({4}, kW0));
  for (int64_t k = 0; k < kSteps; ++k) {
    if (before_step) before_step(k, run);
    auto before = run.variable("w").values<double>();
    Vec w_k(before.begin(), before.end());
    run.run({});
    auto after = run.variable("w").values<double>();
    double expected = want(k);
    for (size_t i = 0; i < kC.size(); ++i) {
      double rate = -(after[i] - w_k[i]) / kC[i];
      EXPECT_LE(test::rel_error(rate, expected), kTolerance)
          << schedule.str() << ", step k = " << k << ", element " << i << ": the graph used "
          << rate << ", the formula gives " << expected;
    }
  }
  EXPECT_EQ(run.variable("sgd/step"), Tensor::scalar(kSteps));
}

// ---- the formulas of schedule.h --------------------------------------------------------------

double cosine(double lr, int64_t k, int64_t decay_steps, double alpha) {
  double progress = double(std::min(k, decay_steps)) / double(decay_steps);
  return lr * ((1 - alpha) * (1 + std::cos(std::numbers::pi * progress)) / 2 + alpha);
}

double warmup_ramp(int64_t k, int64_t steps) {
  return std::min(double(k + 1) / double(steps), 1.0);
}

// ---- each schedule ---------------------------------------------------------------------------

TEST(Schedule, Constant) {
  Schedule s = Schedule::constant();
  EXPECT_EQ(s.str(), "constant");
  expect_rates(0.1, s, [](int64_t) { return 0.1; });
}

TEST(Schedule, ConstantIsTheDefault) {
  Graph g;
  Value w = variable(g, "w", {DType::f64, {4}});
  SGD sgd({.learning_rate = 0.1});
  sgd.minimize(reduce_sum(w * constant(g, Tensor::from<double>({4}, kC))), {w});
  Interpreter run(g);
  for (int64_t k = 0; k < 3; ++k)
    run.run({});
  for (size_t i = 0; i < kC.size(); ++i)
    EXPECT_LE(test::rel_error(run.variable("w").values<double>()[i], -3 * 0.1 * kC[i]), kTolerance);
}

TEST(Schedule, StepDecay) {
  // lr · factor^⌊k / every⌋
  Schedule s = Schedule::step_decay(3, 0.5);
  EXPECT_EQ(s.str(), "step_decay(3, 0.5)");
  expect_rates(0.1, s, [](int64_t k) { return 0.1 * std::pow(0.5, std::floor(double(k) / 3)); });
}

TEST(Schedule, StepDecayEveryStep) {
  expect_rates(0.2, Schedule::step_decay(1, 0.8),
               [](int64_t k) { return 0.2 * std::pow(0.8, double(k)); });
}

TEST(Schedule, ExponentialDecay) {
  // lr · rate^(k / decay_steps)
  Schedule s = Schedule::exponential_decay(4, 0.5);
  EXPECT_EQ(s.str(), "exponential_decay(4, 0.5)");
  expect_rates(0.1, s, [](int64_t k) { return 0.1 * std::pow(0.5, double(k) / 4); });
}

TEST(Schedule, ExponentialDecayStaircase) {
  // lr · rate^⌊k / decay_steps⌋
  Schedule s = Schedule::exponential_decay(4, 0.3, true);
  EXPECT_EQ(s.str(), "exponential_decay(4, 0.3, staircase)");
  expect_rates(0.1, s, [](int64_t k) { return 0.1 * std::pow(0.3, std::floor(double(k) / 4)); });
}

TEST(Schedule, CosineDecayWithAlpha) {
  // lr · ((1 − α)(1 + cos(π min(k, n) / n)) / 2 + α): down to α lr at k = n, then flat (the
  // 12 steps go past n = 10).
  Schedule s = Schedule::cosine_decay(10, 0.1);
  EXPECT_EQ(s.str(), "cosine_decay(10, 0.1)");
  expect_rates(0.1, s, [](int64_t k) { return cosine(0.1, k, 10, 0.1); });
}

TEST(Schedule, CosineDecayToZero) {
  // α = 0: the rate reaches 0 at k = 8 and w stops moving.
  expect_rates(0.1, Schedule::cosine_decay(8), [](int64_t k) { return cosine(0.1, k, 8, 0); });
}

TEST(Schedule, LinearWarmupIntoConstant) {
  // lr · min((k + 1) / steps, 1)
  Schedule s = Schedule::linear_warmup(4);
  EXPECT_EQ(s.str(), "linear_warmup(4, constant)");
  expect_rates(0.1, s, [](int64_t k) { return 0.1 * warmup_ramp(k, 4); });
}

TEST(Schedule, LinearWarmupOfOneStepIsConstant) {
  expect_rates(0.1, Schedule::linear_warmup(1), [](int64_t) { return 0.1; });
}

TEST(Schedule, LinearWarmupIntoCosineDecay) {
  // after(max(k − steps, 0)) · min((k + 1) / steps, 1): the cosine starts from its own step 0
  // once the warmup is over.
  Schedule s = Schedule::linear_warmup(3, Schedule::cosine_decay(6, 0.2));
  EXPECT_EQ(s.str(), "linear_warmup(3, cosine_decay(6, 0.2))");
  expect_rates(0.1, s, [](int64_t k) {
    return cosine(0.1, std::max<int64_t>(k - 3, 0), 6, 0.2) * warmup_ramp(k, 3);
  });
}

TEST(Schedule, LinearWarmupIntoStepDecay) {
  expect_rates(0.1, Schedule::linear_warmup(2, Schedule::step_decay(3, 0.5)), [](int64_t k) {
    double later = double(std::max<int64_t>(k - 2, 0));
    return 0.1 * std::pow(0.5, std::floor(later / 3)) * warmup_ramp(k, 2);
  });
}

TEST(Schedule, AppliesToTheCurrentLearningRateVariable) {
  // The schedule scales whatever the learning-rate variable holds: changing it mid-run changes
  // the base, not the schedule's position.
  double lr = 0.1;
  expect_rates(
      0.1, Schedule::exponential_decay(4, 0.5),
      [&](int64_t k) { return lr * std::pow(0.5, double(k) / 4); },
      [&](int64_t k, Interpreter& run) {
        if (k != 5) return;
        lr = 0.4;
        run.set_variable("sgd/learning_rate", Tensor::scalar(0.4));
      });
}

// ---- invalid arguments -----------------------------------------------------------------------

using test::error_message;

TEST(Schedule, NonPositiveStepsAreErrors) {
  EXPECT_THAT(error_message([] { Schedule::step_decay(0, 0.5); }),
              HasSubstr("step_decay: the number of steps must be positive, got 0"));
  EXPECT_THAT(error_message([] { Schedule::step_decay(-3, 0.5); }),
              HasSubstr("step_decay: the number of steps must be positive, got -3"));
  EXPECT_THAT(error_message([] { Schedule::exponential_decay(0, 0.5); }),
              HasSubstr("exponential_decay: the number of steps must be positive, got 0"));
  EXPECT_THAT(error_message([] { Schedule::exponential_decay(-1, 0.5, true); }),
              HasSubstr("exponential_decay: the number of steps must be positive, got -1"));
  EXPECT_THAT(error_message([] { Schedule::cosine_decay(0); }),
              HasSubstr("cosine_decay: the number of steps must be positive, got 0"));
  EXPECT_THAT(error_message([] { Schedule::cosine_decay(-5, 0.1); }),
              HasSubstr("cosine_decay: the number of steps must be positive, got -5"));
  EXPECT_THAT(error_message([] { Schedule::linear_warmup(0); }),
              HasSubstr("linear_warmup: the number of steps must be positive, got 0"));
  EXPECT_THAT(error_message([] { Schedule::linear_warmup(-2, Schedule::cosine_decay(5)); }),
              HasSubstr("linear_warmup: the number of steps must be positive, got -2"));
}

} // namespace
} // namespace sj
