// Optimizers append the training update to the graph: each variable's new value, its slot
// variables (moments, accumulators), the step counter, and the `assign` nodes that store them.
// The whole step (forward, gradients, update) is then one graph.
//
//   sj::Adam adam({.learning_rate = 0.01});
//   auto grads = sj::gradients(loss, vars);
//   adam.apply_gradients(sj::zip(grads, vars));       // or: adam.minimize(loss, vars)
//
// Misuse that C++ can reject does not compile: apply_gradients is a member (there is no
// optimizer-less form) and takes (gradient, variable) pairs (a bare list of gradients does not
// convert). Misuse it cannot reject is an sj::Error at graph construction, at the caller's line.
//
// Hyperparameters are state: each lives in a scalar variable "<optimizer>/<name>" (e.g.
// "adam/learning_rate") that host code may change between steps (Interpreter::set_variable)
// without rebuilding anything. Their values at construction also decide the graph's structure:
// a momentum or weight decay that is 0 at construction adds no nodes (and so cannot be turned
// on later); give it a nonzero value at construction to tune it later.
#pragma once

#include "frontend/schedule.h"
#include "graph/builder.h"

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sj {

/// One (gradient, variable) pair for apply_gradients. There is no conversion from a bare Value,
/// so `apply_gradients(grads)` does not compile; zip() makes the pairs.
struct GradVar {
  GradVar(Value grad, Value var) : grad(grad), var(var) {}
  Value grad;
  Value var;
};

/// Pairs grads[i] with vars[i], like Python's zip, except that lists of different lengths are
/// an error naming both lengths (Python silently truncates).
std::vector<GradVar> zip(const std::vector<Value>& grads, const std::vector<Value>& vars,
                         Loc loc = {});

/// Gradient clipping, as graph nodes before the update. 0 disables each.
struct Clipping {
  double value = 0;       ///< clip each gradient element to [-value, value]
  double global_norm = 0; ///< scale every gradient by min(1, global_norm / sqrt(sum of all g^2))
};

/// Which library's formulas and defaults an optimizer follows.
enum class Flavor { torch, keras };

class UpdateContext;

/// Which variables an optimizer's weight decay applies to: true for those it decays. Empty: all
/// of them. nanoGPT's rule, decaying matrices but not biases, norms' scales or embeddings'
/// vectors: `[](const sj::Value& v) { return v.rank() >= 2; }`.
using DecayRule = std::function<bool(const Value& variable)>;

/// What every optimizer takes besides its own hyperparameters.
struct OptimizerCommon {
  Schedule schedule = Schedule::constant();
  Clipping clipping = {};
  /// The variables weight decay applies to (empty: all): see DecayRule.
  DecayRule decay = {};
  /// Leave every variable, slot and the step counter unchanged on a step whose gradients are not
  /// all finite (a NaN or an infinity), as optax's apply_if_finite does, and count such steps in
  /// the i64 variable "<optimizer>/nonfinite_steps" (Optimizer::nonfinite_steps). The test is
  /// one extra pass over the gradients (the sum of g * 0, which is NaN exactly when some g is
  /// not finite), fused into the loops that compute them where it can be.
  bool skip_nonfinite = false;
};

/// The base of every optimizer: validates pairs, clips, owns hyperparameter variables and the
/// step counter, and calls the subclass's per-variable rule.
class Optimizer {
public:
  virtual ~Optimizer() = default;
  Optimizer(Optimizer&&) = default;
  Optimizer& operator=(Optimizer&&) = default;

  /// Appends the update of every pair's variable, and of the step counter, to the variables'
  /// graph. Returns each variable's new value (the assign nodes), in pair order. An optimizer
  /// applies once to one graph: the step it builds updates each variable exactly once.
  std::vector<Value> apply_gradients(const std::vector<GradVar>& pairs, Loc loc = {});
  /// gradients(loss, vars) followed by apply_gradients(zip(grads, vars)): the GradientTape flow
  /// in one call. The two-step form stays available.
  std::vector<Value> minimize(Value loss, const std::vector<Value>& vars, Loc loc = {});

  /// The scalar variable holding hyperparameter `name` ("learning_rate", "beta1", ...), named
  /// "<optimizer>/<name>" in the graph. Available after apply_gradients.
  Value hyperparameter(std::string_view name) const;
  /// The step counter: the i64 variable "<optimizer>/step", the number of updates applied.
  Value step() const;
  /// With OptimizerCommon::skip_nonfinite: the i64 variable "<optimizer>/nonfinite_steps", the
  /// number of steps skipped because a gradient was not finite. sj::Error without the option.
  Value nonfinite_steps() const;
  /// "adam", or "adam_1" if the graph already had an optimizer of that name.
  const std::string& name() const { return name_; }
  Flavor flavor() const { return flavor_; }
  /// Every hyperparameter with its initial value, in declaration order.
  const std::vector<std::pair<std::string, double>>& hyperparameters() const { return hypers_; }

protected:
  /// `loc`: the user's line constructing the optimizer, where option errors are reported.
  Optimizer(std::string name, Flavor flavor, const OptimizerCommon& common, Loc loc = {});
  /// Declares a hyperparameter (a variable, created when the optimizer is applied).
  void declare(std::string name, double initial);
  /// Throws an sj::Error for an invalid option (e.g. a negative learning rate).
  void require(bool ok, const std::string& message) const;
  /// The new value of `var` after one step with gradient `grad` (already clipped).
  virtual Value update(UpdateContext& ctx, Value grad, Value var) = 0;

private:
  friend class UpdateContext;
  std::string name_;
  Flavor flavor_;
  Schedule schedule_;
  Clipping clipping_;
  DecayRule decay_;
  bool skip_nonfinite_ = false;
  Location loc_; // where the optimizer was constructed
  std::vector<std::pair<std::string, double>> hypers_;
  Graph* graph_ = nullptr;
  std::vector<std::pair<std::string, ValueId>> hyper_vars_;
  ValueId step_ = 0;
  ValueId nonfinite_steps_ = 0;
};

/// What an update rule sees for one variable in one step.
class UpdateContext {
public:
  /// `finite`: with skip_nonfinite, the bool scalar that is true when this step's gradients are
  /// all finite (set() then keeps a slot's old value otherwise); null without.
  UpdateContext(Optimizer& opt, Graph& graph, Value k, Location loc, Value finite = {})
      : opt_(opt), graph_(graph), k_(k), loc_(std::move(loc)), finite_(finite) {}

  /// Hyperparameter `name` as a scalar of `dtype`.
  Value hyper(std::string_view name, DType dtype);
  /// The learning rate of this step (the schedule applied to the learning_rate variable).
  Value learning_rate(DType dtype);
  /// Steps taken before this one (k = 0 on the first step), and this step's number t = k + 1.
  Value k(DType dtype);
  Value t(DType dtype);
  /// True on the first step (k == 0).
  Value first_step();
  /// The slot variable "<var>.<optimizer>_<slot>" (e.g. "w.adam_m"), of var's type, created
  /// filled with `init`; its value before this step.
  Value slot(Value var, std::string_view slot, double init = 0);
  /// Weight decay, when the optimizer declared a "weight_decay" hyperparameter λ: decoupled, it
  /// returns θ − lr λ θ as the value the update starts from; otherwise (L2) it adds λ θ to `g`
  /// and returns θ. Without weight decay it returns θ.
  Value weight_decay(Value& g, Value theta, bool decoupled);
  /// Stores a slot's value after this step (its old value on a skipped non-finite step).
  void set(Value slot, Value value);
  /// `value` as the new value of `state`, or state's old value on a skipped non-finite step.
  Value guarded(Value state, Value value);

private:
  Optimizer& opt_;
  Graph& graph_;
  Value k_; // i64 steps taken
  Location loc_;
  Value finite_;
  // Per-dtype values shared by every variable's update (one node each, not one per variable).
  std::map<std::pair<std::string, DType>, Value> cache_;
};

} // namespace sj
