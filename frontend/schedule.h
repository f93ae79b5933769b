// Learning-rate schedules, computed in the graph from the optimizer's step counter, so a
// schedule never needs a recompile and the host never computes a rate.
//
// `k` below is the number of steps already taken (0 for the first step); `lr` is the value of
// the optimizer's learning-rate variable (which host code may change between steps).
#pragma once

#include "graph/builder.h"

#include <functional>
#include <string>

namespace sj {

class Schedule {
public:
  /// lr
  static Schedule constant();
  /// lr * factor^floor(k / every): drop by `factor` every `every` steps (PyTorch's StepLR).
  static Schedule step_decay(int64_t every, double factor);
  /// lr * rate^(k / decay_steps), with floor(k / decay_steps) when `staircase` (Keras's
  /// ExponentialDecay).
  static Schedule exponential_decay(int64_t decay_steps, double rate, bool staircase = false);
  /// lr * ((1 - alpha) * (1 + cos(pi * min(k, decay_steps) / decay_steps)) / 2 + alpha)
  /// (Keras's CosineDecay): from lr down to alpha * lr over `decay_steps`, then flat.
  static Schedule cosine_decay(int64_t decay_steps, double alpha = 0);
  /// after(max(k - steps, 0)) * min((k + 1) / steps, 1): a linear ramp over the first `steps`
  /// steps into `after`, which then starts from its own step 0. Composes with any schedule.
  static Schedule linear_warmup(int64_t steps, Schedule after = constant());

  /// The rate for the step after `k` completed steps (`k` and `lr` are float scalars).
  Value rate(Value lr, Value k) const { return fn_(lr, k); }
  /// E.g. "linear_warmup(100, cosine_decay(1000, 0))".
  const std::string& str() const { return text_; }

private:
  Schedule(std::function<Value(Value, Value)> fn, std::string text)
      : fn_(std::move(fn)), text_(std::move(text)) {}
  std::function<Value(Value, Value)> fn_;
  std::string text_;
};

} // namespace sj
