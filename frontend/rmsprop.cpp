// RMSprop, centered or not, with momentum, in PyTorch's and Keras's forms (see optimizers.h).
#include "frontend/optimizers.h"

namespace sj {

RMSprop::RMSprop(RMSpropOptions o, Flavor flavor, Loc loc)
    : Optimizer("rmsprop", flavor, o.common, std::move(loc)), o_(o) {
  require(o.learning_rate >= 0, "learning_rate must be >= 0");
  require(o.alpha >= 0 && o.alpha < 1, "alpha must be in [0, 1)");
  require(o.epsilon >= 0, "epsilon must be >= 0");
  require(o.momentum >= 0, "momentum must be >= 0");
  require(o.weight_decay >= 0, "weight_decay must be >= 0");
  declare("learning_rate", o.learning_rate);
  declare("alpha", o.alpha);
  declare("epsilon", o.epsilon);
  if (o.momentum != 0) declare("momentum", o.momentum);
  if (o.weight_decay != 0) declare("weight_decay", o.weight_decay);
}

RMSprop RMSprop::keras(double learning_rate, Loc loc) {
  return RMSprop({.learning_rate = learning_rate, .alpha = 0.9, .epsilon = 1e-7}, Flavor::keras,
                 std::move(loc));
}

Value RMSprop::update(UpdateContext& c, Value g, Value theta) {
  DType dt = theta.dtype();
  bool keras = flavor() == Flavor::keras;
  Value lr = c.learning_rate(dt);
  Value alpha = c.hyper("alpha", dt), eps = c.hyper("epsilon", dt);
  Value base = c.weight_decay(g, theta, keras);
  Value v = c.slot(theta, "v");
  Value v_kept = alpha * v; // one node-building operand per expression (see adam.cpp)
  Value g2 = square(g);
  Value v_new = v_kept + (1.0 - alpha) * g2;
  c.set(v, v_new);
  Value spread = v_new;
  if (o_.centered) {
    Value a = c.slot(theta, "avg");
    Value a_kept = alpha * a;
    Value a_new = a_kept + (1.0 - alpha) * g;
    c.set(a, a_new);
    spread = v_new - square(a_new);
  }
  // PyTorch adds epsilon to the root; Keras adds it under the root and scales by lr first.
  Value scaled = keras ? lr * g : g;
  Value step = keras ? scaled / sqrt(spread + eps) : g / (sqrt(spread) + eps);
  if (o_.momentum != 0) {
    Value b = c.slot(theta, "momentum");
    Value b_new = c.hyper("momentum", dt) * b + step;
    c.set(b, b_new);
    step = b_new;
  }
  return keras ? base - step : base - lr * step;
}

} // namespace sj
