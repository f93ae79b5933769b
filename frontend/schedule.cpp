#include "frontend/schedule.h"

#include <fmt/format.h>
#include <numbers>

namespace sj {

namespace {

// floor(x) for x >= 0, through an integer cast (there is no floor op; k is never negative).
Value floor_nonnegative(Value x) { return cast(cast(x, DType::i64), x.dtype()); }

void require_positive(int64_t steps, const char* what) {
  if (steps <= 0)
    throw Error({}, fmt::format("{}: the number of steps must be positive, got {}", what, steps));
}

} // namespace

Schedule Schedule::constant() {
  return {[](Value lr, Value) { return lr; }, "constant"};
}

Schedule Schedule::step_decay(int64_t every, double factor) {
  require_positive(every, "step_decay");
  return {[=](Value lr, Value k) {
            Value drops = floor_nonnegative(k / double(every));
            return lr * pow(scalar_like(k, factor), drops);
          },
          fmt::format("step_decay({}, {})", every, factor)};
}

Schedule Schedule::exponential_decay(int64_t decay_steps, double rate, bool staircase) {
  require_positive(decay_steps, "exponential_decay");
  return {[=](Value lr, Value k) {
            Value e = k / double(decay_steps);
            if (staircase) e = floor_nonnegative(e);
            return lr * pow(scalar_like(k, rate), e);
          },
          fmt::format("exponential_decay({}, {}{})", decay_steps, rate,
                      staircase ? ", staircase" : "")};
}

Schedule Schedule::cosine_decay(int64_t decay_steps, double alpha) {
  require_positive(decay_steps, "cosine_decay");
  return {[=](Value lr, Value k) {
            Value progress = minimum(k, scalar_like(k, double(decay_steps))) / double(decay_steps);
            Value cosine = (cos(progress * std::numbers::pi) + 1.0) * 0.5;
            return lr * (cosine * (1 - alpha) + alpha);
          },
          fmt::format("cosine_decay({}, {})", decay_steps, alpha)};
}

Schedule Schedule::linear_warmup(int64_t steps, Schedule after) {
  require_positive(steps, "linear_warmup");
  std::string text = fmt::format("linear_warmup({}, {})", steps, after.str());
  return {[=](Value lr, Value k) {
            // One node-building operand per expression (see frontend/optimizer.cpp).
            Value fraction = (k + 1.0) / double(steps);
            Value ramp = minimum(fraction, scalar_like(k, 1.0));
            Value after_warmup = k - double(steps);
            Value later = maximum(after_warmup, scalar_like(k, 0.0));
            return after.rate(lr, later) * ramp;
          },
          text};
}

} // namespace sj
