// Adagrad with learning-rate decay, in PyTorch's and Keras's forms (see optimizers.h).
#include "frontend/optimizers.h"

namespace sj {

Adagrad::Adagrad(AdagradOptions o, Flavor flavor, Loc loc)
    : Optimizer("adagrad", flavor, o.common, std::move(loc)), o_(o) {
  require(o.learning_rate >= 0, "learning_rate must be >= 0");
  require(o.lr_decay >= 0, "lr_decay must be >= 0");
  require(o.initial_accumulator_value >= 0, "initial_accumulator_value must be >= 0");
  require(o.epsilon >= 0, "epsilon must be >= 0");
  require(o.weight_decay >= 0, "weight_decay must be >= 0");
  require(flavor == Flavor::torch || o.lr_decay == 0, "Keras's Adagrad has no lr_decay");
  declare("learning_rate", o.learning_rate);
  declare("epsilon", o.epsilon);
  if (o.lr_decay != 0) declare("lr_decay", o.lr_decay);
  if (o.weight_decay != 0) declare("weight_decay", o.weight_decay);
}

Adagrad Adagrad::keras(double learning_rate, Loc loc) {
  return Adagrad(
      {.learning_rate = learning_rate, .initial_accumulator_value = 0.1, .epsilon = 1e-7},
      Flavor::keras, std::move(loc));
}

Value Adagrad::update(UpdateContext& c, Value g, Value theta) {
  DType dt = theta.dtype();
  bool keras = flavor() == Flavor::keras;
  Value lr = c.learning_rate(dt);
  Value eps = c.hyper("epsilon", dt);
  Value base = c.weight_decay(g, theta, keras);
  if (o_.lr_decay != 0) {
    Value k = c.k(dt); // one node-building operand per expression (see adam.cpp)
    lr = lr / (1.0 + k * c.hyper("lr_decay", dt));
  }
  Value s = c.slot(theta, "sum", o_.initial_accumulator_value);
  Value s_new = s + square(g);
  c.set(s, s_new);
  Value step = lr * g;
  return keras ? base - step / sqrt(s_new + eps) : base - step / (sqrt(s_new) + eps);
}

} // namespace sj
