// Optimizers by name (stepjit dump --stage=train --optimizer=adam ...).
#include "frontend/optimizers.h"

#include <fmt/format.h>
#include <regex>

namespace sj {

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec) {
  bool keras = spec.flavor == Flavor::keras;
  auto set = [](std::optional<double> v, double& field) {
    if (v) field = *v;
  };
  OptimizerCommon common{.clipping = spec.clipping, .skip_nonfinite = spec.skip_nonfinite};
  if (spec.decay_min_rank < 0)
    throw Error({}, fmt::format("decay_min_rank must be >= 0, got {}", spec.decay_min_rank));
  if (spec.decay_min_rank > 0 || !spec.no_decay.empty()) {
    std::optional<std::regex> skip;
    try {
      if (!spec.no_decay.empty()) skip.emplace(spec.no_decay, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw Error({}, fmt::format("no_decay: '{}' is not a valid regular expression ({})",
                                  spec.no_decay, e.what()));
    }
    common.decay = [rank = spec.decay_min_rank, skip](const Value& v) {
      return v.rank() >= rank && !(skip && std::regex_search(v.node().name, *skip));
    };
  }
  // An option the chosen optimizer does not have is a mistake, not something to ignore.
  auto not_for = [&](bool given, const char* what, const char* which) {
    if (given)
      throw Error({}, fmt::format("{} has no {} option ({} {})", spec.name, what,
                                  std::string_view(which).find(',') == std::string_view::npos
                                      ? "only"
                                      : "options of",
                                  which));
  };
  const std::string& n = spec.name;
  not_for(spec.momentum && n != "sgd" && n != "rmsprop", "momentum", "sgd, rmsprop");
  not_for((spec.dampening || spec.nesterov) && n != "sgd", "dampening/nesterov", "sgd");
  not_for((spec.beta1 || spec.beta2 || spec.amsgrad) && n != "adam" && n != "adamw",
          "beta1/beta2/amsgrad", "adam, adamw");
  not_for((spec.alpha || spec.centered) && n != "rmsprop", "alpha/centered", "rmsprop");
  not_for(spec.lr_decay && n != "adagrad", "lr_decay", "adagrad");
  not_for(spec.epsilon && n == "sgd", "epsilon", "adam, adamw, rmsprop, adagrad");
  if (spec.name == "sgd") {
    SGDOptions o{.learning_rate = keras ? 0.01 : 1e-3, .common = common};
    set(spec.learning_rate, o.learning_rate);
    set(spec.momentum, o.momentum);
    set(spec.weight_decay, o.weight_decay);
    set(spec.dampening, o.dampening);
    o.nesterov = spec.nesterov;
    return std::make_unique<SGD>(o, spec.flavor, Loc(Location{}));
  }
  if (spec.name == "adam" || spec.name == "adamw") {
    bool w = spec.name == "adamw";
    AdamOptions o{.epsilon = keras ? 1e-7 : 1e-8,
                  .weight_decay = w ? (keras ? 0.004 : 0.01) : 0.0,
                  .common = common};
    set(spec.learning_rate, o.learning_rate);
    set(spec.weight_decay, o.weight_decay);
    set(spec.beta1, o.beta1);
    set(spec.beta2, o.beta2);
    set(spec.epsilon, o.epsilon);
    o.amsgrad = spec.amsgrad;
    if (w) return std::make_unique<AdamW>(o, spec.flavor, Loc(Location{}));
    return std::make_unique<Adam>(o, spec.flavor, Loc(Location{}));
  }
  if (spec.name == "rmsprop") {
    RMSpropOptions o{.learning_rate = keras ? 1e-3 : 1e-2,
                     .alpha = keras ? 0.9 : 0.99,
                     .epsilon = keras ? 1e-7 : 1e-8,
                     .common = common};
    set(spec.learning_rate, o.learning_rate);
    set(spec.momentum, o.momentum);
    set(spec.weight_decay, o.weight_decay);
    set(spec.alpha, o.alpha);
    set(spec.epsilon, o.epsilon);
    o.centered = spec.centered;
    return std::make_unique<RMSprop>(o, spec.flavor, Loc(Location{}));
  }
  if (spec.name == "adagrad") {
    AdagradOptions o{.learning_rate = keras ? 1e-3 : 1e-2,
                     .initial_accumulator_value = keras ? 0.1 : 0.0,
                     .epsilon = keras ? 1e-7 : 1e-10,
                     .common = common};
    set(spec.learning_rate, o.learning_rate);
    set(spec.weight_decay, o.weight_decay);
    set(spec.epsilon, o.epsilon);
    set(spec.lr_decay, o.lr_decay);
    return std::make_unique<Adagrad>(o, spec.flavor, Loc(Location{}));
  }
  throw Error({}, fmt::format("unknown optimizer '{}' (known: sgd, adam, adamw, rmsprop, adagrad)",
                              spec.name));
}

} // namespace sj
