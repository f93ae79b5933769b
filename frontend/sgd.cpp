// SGD with momentum, dampening, Nesterov momentum and weight decay (see optimizers.h).
#include "frontend/optimizers.h"

namespace sj {

SGD::SGD(SGDOptions o, Flavor flavor, Loc loc)
    : Optimizer("sgd", flavor, o.common, std::move(loc)), o_(o) {
  require(o.learning_rate >= 0, "learning_rate must be >= 0");
  require(o.momentum >= 0, "momentum must be >= 0");
  require(o.weight_decay >= 0, "weight_decay must be >= 0");
  require(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
          "Nesterov momentum needs a momentum > 0 and no dampening (as in PyTorch)");
  require(flavor == Flavor::torch || o.dampening == 0, "Keras's SGD has no dampening");
  declare("learning_rate", o.learning_rate);
  if (o.momentum != 0) declare("momentum", o.momentum);
  if (o.dampening != 0) declare("dampening", o.dampening);
  if (o.weight_decay != 0) declare("weight_decay", o.weight_decay);
}

SGD SGD::keras(double learning_rate, double momentum, bool nesterov, Loc loc) {
  return SGD({.learning_rate = learning_rate, .momentum = momentum, .nesterov = nesterov},
             Flavor::keras, std::move(loc));
}

Value SGD::update(UpdateContext& c, Value g, Value theta) {
  DType dt = theta.dtype();
  Value lr = c.learning_rate(dt);
  if (flavor() == Flavor::keras) {
    Value base = c.weight_decay(g, theta, /*decoupled=*/true);
    if (o_.momentum == 0) return base - lr * g;
    Value mu = c.hyper("momentum", dt);
    Value v = c.slot(theta, "momentum");
    Value v_kept = mu * v; // one node-building operand per expression (see adam.cpp)
    Value v_new = v_kept - lr * g;
    c.set(v, v_new);
    if (!o_.nesterov) return base + v_new;
    Value ahead = base + mu * v_new;
    return ahead - lr * g;
  }
  c.weight_decay(g, theta, /*decoupled=*/false);
  if (o_.momentum != 0) {
    Value mu = c.hyper("momentum", dt);
    Value b = c.slot(theta, "momentum");
    Value damped = o_.dampening != 0 ? (1.0 - c.hyper("dampening", dt)) * g : g;
    // PyTorch starts the buffer at g itself, undamped.
    Value first = c.first_step();
    Value b_new = select(first, g, mu * b + damped);
    c.set(b, b_new);
    g = o_.nesterov ? g + mu * b_new : b_new;
  }
  return theta - lr * g;
}

} // namespace sj
