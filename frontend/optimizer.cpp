#include "frontend/optimizer.h"

#include "frontend/gradients.h"

#include <fmt/format.h>
#include <set>

namespace sj {

std::vector<GradVar> zip(const std::vector<Value>& grads, const std::vector<Value>& vars, Loc loc) {
  if (grads.size() != vars.size())
    throw Error(loc.where, fmt::format("zip: {} gradient{} but {} variable{}: each gradient pairs "
                                       "with the variable at the same position, so the lists "
                                       "must have the same length",
                                       grads.size(), grads.size() == 1 ? "" : "s", vars.size(),
                                       vars.size() == 1 ? "" : "s"));
  std::vector<GradVar> pairs;
  for (size_t i = 0; i < grads.size(); ++i)
    pairs.emplace_back(grads[i], vars[i]);
  return pairs;
}

Optimizer::Optimizer(std::string name, Flavor flavor, const OptimizerCommon& common, Loc loc)
    : name_(std::move(name)), flavor_(flavor), schedule_(common.schedule),
      clipping_(common.clipping), decay_(common.decay), skip_nonfinite_(common.skip_nonfinite),
      loc_(std::move(loc.where)) {
  require(clipping_.value >= 0 && clipping_.global_norm >= 0,
          fmt::format("clipping thresholds must be >= 0 (0 disables), got value = {}, "
                      "global_norm = {}",
                      clipping_.value, clipping_.global_norm));
}

void Optimizer::declare(std::string name, double initial) {
  hypers_.emplace_back(std::move(name), initial);
}

void Optimizer::require(bool ok, const std::string& message) const {
  if (!ok) throw Error(loc_, fmt::format("{}: {}", name_, message));
}

Value Optimizer::hyperparameter(std::string_view name) const {
  if (!graph_)
    throw Error({}, fmt::format("{}: hyperparameter '{}' exists once the optimizer is applied "
                                "(apply_gradients or minimize)",
                                name_, name));
  for (const auto& [n, v] : hyper_vars_)
    if (n == name) return {*graph_, v};
  std::vector<std::string> names;
  for (const auto& [n, v] : hyper_vars_)
    names.push_back(n);
  throw Error({}, fmt::format("{}: has no hyperparameter '{}' (it has: {})", name_, name,
                              fmt::join(names, ", ")));
}

Value Optimizer::step() const {
  if (!graph_)
    throw Error({},
                fmt::format("{}: the step counter exists once the optimizer is applied", name_));
  return {*graph_, step_};
}

Value Optimizer::nonfinite_steps() const {
  if (!graph_ || !skip_nonfinite_)
    throw Error({}, fmt::format("{}: the count of skipped steps exists once an optimizer with "
                                "skip_nonfinite = true is applied",
                                name_));
  return {*graph_, nonfinite_steps_};
}

std::vector<Value> Optimizer::minimize(Value loss, const std::vector<Value>& vars, Loc loc) {
  return apply_gradients(zip(gradients(loss, vars, {}, loc), vars, loc), loc);
}

std::vector<Value> Optimizer::apply_gradients(const std::vector<GradVar>& pairs, Loc loc) {
  const Location& where = loc.where;
  auto fail = [&](const std::string& message) {
    throw Error(where, fmt::format("{}.apply_gradients: {}", name_, message));
  };
  if (pairs.empty()) fail("no (gradient, variable) pairs: there is nothing to update");
  auto g0 = [](const GradVar& p) -> const Graph& { return p.var.graph(); };

  // Everything that compiles but is wrong is rejected here, before the graph changes.
  for (size_t i = 0; i < pairs.size(); ++i) {
    const GradVar& p = pairs[i];
    if (p.var.is_null()) fail(fmt::format("pair {}: the variable is a null Value", i));
    const Node& target = p.var.node();
    // zip(vars, grads): the target is the gradient gradients() named after the "gradient".
    if (target.op != Op::variable && !p.grad.is_null() && p.grad.node().op == Op::variable &&
        target.name == "grad." + p.grad.node().name)
      fail(fmt::format("pair {}: the target {} is {} and the gradient is variable '{}': the "
                       "lists are swapped; write zip(grads, vars), gradients first",
                       i, value_label(g0(p), p.var.id()), op_with_article(target),
                       p.grad.node().name));
    if (target.op != Op::variable)
      fail(fmt::format("pair {}: the target {} is {}, not a variable: only variables hold "
                       "state that an optimizer can update",
                       i, value_label(g0(p), p.var.id()), op_with_article(target)));
    if (p.grad.is_null())
      fail(fmt::format("no gradient for variable '{}' (pair {}): the loss does not depend on "
                       "it, so gradients() with Unconnected::none gave a null gradient. Leave "
                       "it out of the variables to train, or use Unconnected::zero",
                       target.name, i));
    if (&p.grad.graph() != &p.var.graph())
      fail(fmt::format("pair {}: the gradient and variable '{}' belong to different graphs", i,
                       target.name));
    if (&p.var.graph() != &pairs[0].var.graph())
      fail(fmt::format("pair {}: variable '{}' belongs to another graph than pair 0's", i,
                       target.name));
    if (p.grad.type() != p.var.type())
      fail(fmt::format("the gradient for variable '{}' is {} but the variable is {}: a "
                       "gradient must have its variable's dtype and shape (are the lists "
                       "given to zip in the same order?)",
                       target.name, p.grad.type().str(), p.var.type().str()));
    // gradients() names the gradient of variable a "grad.a": paired with another variable of
    // the same type (zip in different orders), each would silently update the other.
    const std::string& gname = p.grad.node().name;
    if (gname.starts_with("grad.") && gname != "grad." + target.name)
      if (auto owner = g0(p).find(gname.substr(5)); owner && g0(p).node(*owner).op == Op::variable)
        fail(fmt::format("pair {}: gradient '{}' (of variable '{}') is paired with variable '{}': "
                         "each variable would be updated with another's gradient; give zip the "
                         "variables in the order given to gradients()",
                         i, gname, gname.substr(5), target.name));
    for (size_t j = 0; j < i; ++j)
      if (pairs[j].var.id() == p.var.id())
        fail(fmt::format("variable '{}' appears twice (pairs {} and {}): a step updates each "
                         "variable once; sum its gradients first",
                         target.name, j, i));
  }
  Graph& g = pairs[0].var.graph();
  if (graph_)
    fail(fmt::format("this optimizer was already applied to graph '{}': one optimizer builds one "
                     "step, updating each variable once; apply it to all variables in one call",
                     graph_->name()));

  // Every node below is the user's apply_gradients (or minimize) line, also those the update
  // rules build with operators inside stepjit.
  AttributeTo attribute(g, where, fmt::format("{}.apply_gradients", name_));

  // Hyperparameter variables and the step counter, under a name unused in this graph.
  std::string base = name_;
  for (int n = 1; g.find(name_ + "/step"); ++n)
    name_ = fmt::format("{}_{}", base, n);
  graph_ = &g;
  DType dtype = pairs[0].var.dtype();
  for (const auto& [hp, value] : hypers_)
    hyper_vars_.emplace_back(
        hp, variable(g, name_ + "/" + hp, {dtype, {}}, Init::constant(value), where).id());
  Value counter = variable(g, name_ + "/step", {DType::i64, {}}, Init::zeros(), where);
  step_ = counter.id();

  // skip_nonfinite: g * 0 is 0 for every finite g and NaN otherwise, so the sum over all
  // gradients is 0 exactly when the step may apply (simplify keeps x * 0: it is not IEEE-exact).
  Value finite;
  if (skip_nonfinite_) {
    Value probe;
    for (const GradVar& p : pairs) {
      Value zeroed = mul(p.grad, scalar_like(p.grad, 0, where), where);
      Value s = cast(reduce_sum(zeroed, Axes::all(), false, where), dtype, where);
      probe = probe.is_null() ? s : add(probe, s, where);
    }
    finite = equal(probe, scalar_like(probe, 0, where), where);
    Value skipped = variable(g, name_ + "/nonfinite_steps", {DType::i64, {}}, Init::zeros(), where);
    nonfinite_steps_ = skipped.id();
    Value one = scalar_like(skipped, 1, where);
    Value more = add(skipped, one, where);
    assign(skipped, select(finite, skipped, more, where), where);
  }

  // Clipping, as graph nodes on the gradients.
  std::vector<Value> grads;
  for (const GradVar& p : pairs)
    grads.push_back(p.grad);
  if (clipping_.value > 0)
    for (Value& gr : grads) {
      // One node-building operand per expression: C++ leaves the order of two unspecified,
      // and every compiler must build the same graph.
      Value floored = maximum(gr, scalar_like(gr, -clipping_.value, where), where);
      gr = minimum(floored, scalar_like(gr, clipping_.value, where), where);
    }
  if (clipping_.global_norm > 0) {
    Value sum;
    for (const Value& gr : grads) {
      Value s = cast(reduce_sum(square(gr, where), Axes::all(), false, where), dtype, where);
      sum = sum.is_null() ? s : add(sum, s, where);
    }
    Value norm = sqrt(sum, where);
    Value limit = scalar_like(norm, clipping_.global_norm, where);
    Value scale = div(limit, maximum(norm, limit, where), where);
    for (Value& gr : grads)
      gr = mul(gr, gr.dtype() == dtype ? scale : cast(scale, gr.dtype()), where);
  }

  UpdateContext ctx(*this, g, counter, where, finite);
  std::vector<Value> updated;
  for (size_t i = 0; i < pairs.size(); ++i) {
    Value next = update(ctx, grads[i], pairs[i].var);
    updated.push_back(assign(pairs[i].var, ctx.guarded(pairs[i].var, next), where));
  }
  Value counted = add(counter, scalar_like(counter, 1, where), where);
  assign(counter, ctx.guarded(counter, counted), where);
  return updated;
}

Value UpdateContext::hyper(std::string_view name, DType dtype) {
  auto key = std::pair{std::string(name), dtype};
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  Value v = opt_.hyperparameter(name);
  if (v.dtype() != dtype) v = cast(v, dtype, loc_);
  return cache_.emplace(key, v).first->second;
}

Value UpdateContext::k(DType dtype) {
  auto key = std::pair{std::string("/k"), dtype};
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  return cache_.emplace(key, cast(k_, dtype, loc_)).first->second;
}

Value UpdateContext::t(DType dtype) {
  auto key = std::pair{std::string("/t"), dtype};
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  Value k_now = k(dtype);
  return cache_.emplace(key, add(k_now, scalar(graph_, 1, dtype, loc_), loc_)).first->second;
}

Value UpdateContext::learning_rate(DType dtype) {
  auto key = std::pair{std::string("/lr"), dtype};
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  Value base = hyper("learning_rate", dtype);
  Value k_now = k(dtype);
  return cache_.emplace(key, opt_.schedule_.rate(base, k_now)).first->second;
}

Value UpdateContext::first_step() {
  auto key = std::pair{std::string("/first"), DType::boolean};
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  return cache_.emplace(key, equal(k_, scalar_like(k_, 0, loc_), loc_)).first->second;
}

Value UpdateContext::slot(Value var, std::string_view slot, double init) {
  std::string name = fmt::format("{}.{}_{}", var.node().name, opt_.name_, slot);
  return variable(graph_, name, var.type(), init == 0 ? Init::zeros() : Init::constant(init), loc_);
}

Value UpdateContext::weight_decay(Value& g, Value theta, bool decoupled) {
  bool declared = false;
  for (const auto& [name, value] : opt_.hypers_)
    declared = declared || name == "weight_decay";
  if (!declared || (opt_.decay_ && !opt_.decay_(theta))) return theta;
  Value wd = hyper("weight_decay", theta.dtype());
  if (decoupled) return theta - learning_rate(theta.dtype()) * wd * theta;
  g = g + wd * theta;
  return theta;
}

void UpdateContext::set(Value slot, Value value) { assign(slot, guarded(slot, value), loc_); }

Value UpdateContext::guarded(Value state, Value value) {
  return finite_.is_null() ? value : select(finite_, value, state, loc_);
}

} // namespace sj
