// The optimizers. Each follows PyTorch's torch.optim by default (formulas and defaults as its
// documentation gives them step by step); `X::keras(...)` gives Keras's formulas and defaults
// for users porting Keras code. Notation: θ a variable, g its gradient, lr the learning rate
// after the schedule, t = 1, 2, ... the step number, λ the weight decay.
//
// Slots are variables named after their variable: "w.sgd_momentum", "w.adam_m", ...
#pragma once

#include "frontend/optimizer.h"

namespace sj {

/// SGD, PyTorch (torch.optim.SGD):
///   g ← g + λθ                                   (if λ ≠ 0)
///   b ← g on step 1, else μ b + (1 − dampening) g (if μ ≠ 0; slot "sgd_momentum")
///   g ← g + μ b if nesterov, else b               (if μ ≠ 0)
///   θ ← θ − lr g
/// Keras (keras.optimizers.SGD), SGD::keras: v ← μ v − lr g; θ ← θ + v, or θ + μ v − lr g with
/// nesterov (if μ ≠ 0, slot "sgd_momentum"); θ ← θ − lr g without momentum; λ decoupled:
/// θ ← θ − lr λ θ first.
struct SGDOptions {
  double learning_rate = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  OptimizerCommon common = {};
};

class SGD final : public Optimizer {
public:
  explicit SGD(SGDOptions options = {}, Flavor flavor = Flavor::torch, Loc loc = {});
  /// Keras's defaults: learning_rate 0.01.
  static SGD keras(double learning_rate = 0.01, double momentum = 0, bool nesterov = false,
                   Loc loc = {});

private:
  Value update(UpdateContext& ctx, Value grad, Value var) override;
  SGDOptions o_;
};

/// Adam, PyTorch (torch.optim.Adam), defaults lr 1e-3, β1 0.9, β2 0.999, ε 1e-8:
///   g ← g + λθ                                   (if λ ≠ 0: L2, not decoupled)
///   m ← β1 m + (1 − β1) g ;  v ← β2 v + (1 − β2) g²        (slots "adam_m", "adam_v")
///   m̂ ← m / (1 − β1^t) ;  v̂ ← v / (1 − β2^t)
///   amsgrad: vmax ← max(vmax, v) and v̂ ← vmax / (1 − β2^t) (slot "adam_vmax")
///   θ ← θ − lr m̂ / (√v̂ + ε)
/// Keras (keras.optimizers.Adam), Adam::keras, defaults lr 1e-3, ε 1e-7, with ε applied to the
/// uncorrected v ("epsilon hat"):
///   m ← β1 m + (1 − β1) g ;  v ← β2 v + (1 − β2) g² ;  amsgrad: vmax ← max(vmax, v), v ← vmax
///   θ ← θ − lr √(1 − β2^t) / (1 − β1^t) · m / (√v + ε)
///   λ decoupled: θ ← θ − lr λ θ first.
struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  OptimizerCommon common = {};
};

class Adam : public Optimizer {
public:
  explicit Adam(AdamOptions options = {}, Flavor flavor = Flavor::torch, Loc loc = {});
  /// Keras's defaults: epsilon 1e-7, applied the Keras way.
  static Adam keras(double learning_rate = 1e-3, Loc loc = {});

protected:
  Adam(AdamOptions options, Flavor flavor, std::string name, bool decoupled, Loc loc);
  Value update(UpdateContext& ctx, Value grad, Value var) override;
  AdamOptions o_;
  bool decoupled_; // AdamW: weight decay applied to θ directly, not added to g
};

/// AdamW, PyTorch (torch.optim.AdamW), default λ 0.01: θ ← θ − lr λ θ, then Adam without the
/// L2 term. Keras (keras.optimizers.AdamW), AdamW::keras: default λ 0.004, Keras's Adam.
class AdamW final : public Adam {
public:
  explicit AdamW(AdamOptions options = {.weight_decay = 0.01}, Flavor flavor = Flavor::torch,
                 Loc loc = {});
  static AdamW keras(double learning_rate = 1e-3, double weight_decay = 0.004, Loc loc = {});
};

/// RMSprop, PyTorch (torch.optim.RMSprop), defaults lr 1e-2, α 0.99, ε 1e-8:
///   g ← g + λθ                                               (if λ ≠ 0)
///   v ← α v + (1 − α) g²                                     (slot "rmsprop_v")
///   centered: a ← α a + (1 − α) g; ṽ ← v − a², else ṽ ← v   (slot "rmsprop_avg")
///   μ ≠ 0: b ← μ b + g / (√ṽ + ε); θ ← θ − lr b             (slot "rmsprop_momentum")
///   else:  θ ← θ − lr g / (√ṽ + ε)
/// Keras (keras.optimizers.RMSprop), RMSprop::keras, defaults lr 1e-3, ρ = α 0.9, ε 1e-7, with
/// ε inside the root: Δ ← lr g / √(ṽ + ε); μ ≠ 0: b ← μ b + Δ, θ ← θ − b; else θ ← θ − Δ.
struct RMSpropOptions {
  double learning_rate = 1e-2;
  double alpha = 0.99;
  double epsilon = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  OptimizerCommon common = {};
};

class RMSprop final : public Optimizer {
public:
  explicit RMSprop(RMSpropOptions options = {}, Flavor flavor = Flavor::torch, Loc loc = {});
  static RMSprop keras(double learning_rate = 1e-3, Loc loc = {});

private:
  Value update(UpdateContext& ctx, Value grad, Value var) override;
  RMSpropOptions o_;
};

/// Adagrad, PyTorch (torch.optim.Adagrad), defaults lr 1e-2, lr_decay 0, ε 1e-10:
///   g ← g + λθ                                    (if λ ≠ 0)
///   lr' ← lr / (1 + (t − 1) lr_decay)
///   s ← s + g²                                    (slot "adagrad_sum", starts at
///                                                  initial_accumulator_value)
///   θ ← θ − lr' g / (√s + ε)
/// Keras (keras.optimizers.Adagrad), Adagrad::keras, defaults lr 1e-3, initial accumulator
/// 0.1, ε 1e-7: s ← s + g²; θ ← θ − lr g / √(s + ε).
struct AdagradOptions {
  double learning_rate = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double epsilon = 1e-10;
  OptimizerCommon common = {};
};

class Adagrad final : public Optimizer {
public:
  explicit Adagrad(AdagradOptions options = {}, Flavor flavor = Flavor::torch, Loc loc = {});
  static Adagrad keras(double learning_rate = 1e-3, Loc loc = {});

private:
  Value update(UpdateContext& ctx, Value grad, Value var) override;
  AdagradOptions o_;
};

} // namespace sj

#include <memory>
#include <optional>

namespace sj {

/// An optimizer chosen by name, for tools and scripts: "sgd", "adam", "adamw", "rmsprop",
/// "adagrad". Options left unset take that optimizer's defaults (PyTorch's, or Keras's with
/// Flavor::keras).
struct OptimizerSpec {
  std::string name = "adam";
  Flavor flavor = Flavor::torch;
  std::optional<double> learning_rate = std::nullopt;
  std::optional<double> momentum = std::nullopt;     // sgd, rmsprop
  std::optional<double> weight_decay = std::nullopt; // all
  std::optional<double> dampening = std::nullopt;    // sgd
  bool nesterov = false;                             // sgd
  std::optional<double> beta1 = std::nullopt;        // adam, adamw
  std::optional<double> beta2 = std::nullopt;        // adam, adamw
  std::optional<double> epsilon = std::nullopt;      // adam, adamw, rmsprop, adagrad
  bool amsgrad = false;                              // adam, adamw
  std::optional<double> alpha = std::nullopt;        // rmsprop
  bool centered = false;                             // rmsprop
  std::optional<double> lr_decay = std::nullopt;     // adagrad
  Clipping clipping = {};
  bool skip_nonfinite = false; // OptimizerCommon::skip_nonfinite
  /// Weight decay only for variables of at least this rank (nanoGPT: 2); 0: every rank.
  int64_t decay_min_rank = 0;
  /// Weight decay not for variables whose name this ECMAScript regex matches (searched).
  std::string no_decay = {};
};
std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec);

} // namespace sj
