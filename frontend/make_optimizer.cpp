// Optimizers by name (stepjit dump --stage=train --optimizer=adam ...).
#include "frontend/optimizers.h"

#include <fmt/format.h>

namespace sj {

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec) {
  bool keras = spec.flavor == Flavor::keras;
  auto set = [](std::optional<double> v, double& field) {
    if (v) field = *v;
  };
  OptimizerCommon common{.clipping = spec.clipping};
  auto not_for = [&](const std::optional<double>& v, const char* what) {
    if (v)
      throw Error(
          {}, fmt::format("{} has no {} option (sgd and rmsprop have momentum)", spec.name, what));
  };
  if (spec.name == "sgd") {
    SGDOptions o{.learning_rate = keras ? 0.01 : 1e-3, .common = common};
    set(spec.learning_rate, o.learning_rate);
    set(spec.momentum, o.momentum);
    set(spec.weight_decay, o.weight_decay);
    return std::make_unique<SGD>(o, spec.flavor);
  }
  if (spec.name == "adam" || spec.name == "adamw") {
    not_for(spec.momentum, "momentum");
    bool w = spec.name == "adamw";
    AdamOptions o{.epsilon = keras ? 1e-7 : 1e-8,
                  .weight_decay = w ? (keras ? 0.004 : 0.01) : 0.0,
                  .common = common};
    set(spec.learning_rate, o.learning_rate);
    set(spec.weight_decay, o.weight_decay);
    if (w) return std::make_unique<AdamW>(o, spec.flavor);
    return std::make_unique<Adam>(o, spec.flavor);
  }
  if (spec.name == "rmsprop") {
    RMSpropOptions o{.learning_rate = keras ? 1e-3 : 1e-2,
                     .alpha = keras ? 0.9 : 0.99,
                     .epsilon = keras ? 1e-7 : 1e-8,
                     .common = common};
    set(spec.learning_rate, o.learning_rate);
    set(spec.momentum, o.momentum);
    set(spec.weight_decay, o.weight_decay);
    return std::make_unique<RMSprop>(o, spec.flavor);
  }
  if (spec.name == "adagrad") {
    not_for(spec.momentum, "momentum");
    AdagradOptions o{.learning_rate = keras ? 1e-3 : 1e-2,
                     .initial_accumulator_value = keras ? 0.1 : 0.0,
                     .epsilon = keras ? 1e-7 : 1e-10,
                     .common = common};
    set(spec.learning_rate, o.learning_rate);
    set(spec.weight_decay, o.weight_decay);
    return std::make_unique<Adagrad>(o, spec.flavor);
  }
  throw Error({}, fmt::format("unknown optimizer '{}' (known: sgd, adam, adamw, rmsprop, adagrad)",
                              spec.name));
}

} // namespace sj
