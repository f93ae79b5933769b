// Adam and AdamW, with AMSGrad, in PyTorch's and Keras's forms (see optimizers.h).
#include "frontend/optimizers.h"

namespace sj {

Adam::Adam(AdamOptions o, Flavor flavor, Loc loc)
    : Adam(o, flavor, "adam", false, std::move(loc)) {}

Adam::Adam(AdamOptions o, Flavor flavor, std::string name, bool decoupled, Loc loc)
    : Optimizer(std::move(name), flavor, o.common, std::move(loc)), o_(o),
      decoupled_(decoupled || flavor == Flavor::keras) {
  require(o.learning_rate >= 0, "learning_rate must be >= 0");
  require(o.beta1 >= 0 && o.beta1 < 1, "beta1 must be in [0, 1)");
  require(o.beta2 >= 0 && o.beta2 < 1, "beta2 must be in [0, 1)");
  require(o.epsilon >= 0, "epsilon must be >= 0");
  require(o.weight_decay >= 0, "weight_decay must be >= 0");
  declare("learning_rate", o.learning_rate);
  declare("beta1", o.beta1);
  declare("beta2", o.beta2);
  declare("epsilon", o.epsilon);
  if (o.weight_decay != 0) declare("weight_decay", o.weight_decay);
}

Adam Adam::keras(double learning_rate, Loc loc) {
  return Adam({.learning_rate = learning_rate, .epsilon = 1e-7}, Flavor::keras, std::move(loc));
}

AdamW::AdamW(AdamOptions o, Flavor flavor, Loc loc)
    : Adam(o, flavor, "adamw", true, std::move(loc)) {}

AdamW AdamW::keras(double learning_rate, double weight_decay, Loc loc) {
  return AdamW({.learning_rate = learning_rate, .epsilon = 1e-7, .weight_decay = weight_decay},
               Flavor::keras, std::move(loc));
}

Value Adam::update(UpdateContext& c, Value g, Value theta) {
  DType dt = theta.dtype();
  Value lr = c.learning_rate(dt);
  Value b1 = c.hyper("beta1", dt), b2 = c.hyper("beta2", dt), eps = c.hyper("epsilon", dt);
  Value t = c.t(dt);
  Value base = c.weight_decay(g, theta, decoupled_);
  Value m = c.slot(theta, "m"), v = c.slot(theta, "v");
  // One node-building operand per expression, as everywhere in the update rules: C++ leaves
  // the order of two unspecified, and every compiler must build the same graph.
  Value m_kept = b1 * m;
  Value m_new = m_kept + (1.0 - b1) * g;
  Value v_kept = b2 * v;
  Value g2 = square(g);
  Value v_new = v_kept + (1.0 - b2) * g2;
  c.set(m, m_new);
  c.set(v, v_new);
  Value v_used = v_new;
  if (o_.amsgrad) {
    Value vmax = c.slot(theta, "vmax");
    v_used = maximum(vmax, v_new);
    c.set(vmax, v_used);
  }
  Value bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
  if (flavor() == Flavor::keras) {
    Value alpha = lr * sqrt(bc2) / bc1;
    Value step = alpha * m_new;
    return base - step / (sqrt(v_used) + eps);
  }
  Value step = lr * (m_new / bc1);
  return base - step / (sqrt(v_used / bc2) + eps);
}

} // namespace sj
