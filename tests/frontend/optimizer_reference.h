// Reference optimizers for tests: plain f64 loops written from the PyTorch (torch.optim) and
// Keras (keras.optimizers) documentation and source, not from stepjit's code. Nothing here
// includes a stepjit header, so a test's expected values cannot come from the code under test.
//
// A rule updates one variable (a flat vector θ) in place, given its gradient g (already
// clipped) and k, the number of steps taken before this one (t = k + 1). Slots live in a
// RefSlots under stepjit's naming, "<var>.<optimizer>_<slot>", so tests can compare them by
// name; a rule creates a slot the first time it asks for it, filled with its initial value.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sj::test {

using Vec = std::vector<double>;

/// |a - b| / max(|a|, |b|, 1e-12): a relative error that stays finite at 0.
inline double rel_error(double a, double b) {
  return std::abs(a - b) / std::max({std::abs(a), std::abs(b), 1e-12});
}

/// A learning-rate schedule: the rate for the step after k completed steps, given the base
/// rate. Empty means constant.
using RefSchedule = std::function<double(double lr, int64_t k)>;

inline double scheduled(double lr, const RefSchedule& schedule, int64_t k) {
  return schedule ? schedule(lr, k) : lr;
}

/// The slots of one variable, in a store shared by every variable ("w.adam_m", "b.adam_m").
class RefSlots {
public:
  RefSlots(std::map<std::string, Vec>& store, std::string prefix, size_t size)
      : store_(store), prefix_(std::move(prefix)), size_(size) {}
  /// The slot `name`, created filled with `init` if it does not exist yet.
  Vec& operator()(const std::string& name, double init = 0) {
    return store_.try_emplace(prefix_ + name, Vec(size_, init)).first->second;
  }

private:
  std::map<std::string, Vec>& store_;
  std::string prefix_;
  size_t size_;
};

/// One step of an optimizer on one variable.
using RefRule = std::function<void(RefSlots& slots, Vec& theta, const Vec& g, int64_t k)>;

// ---- gradient clipping (applied to every gradient before the rule) -------------------------

/// Each element clipped to [-c, c] (torch.nn.utils.clip_grad_value_, Keras clipvalue).
inline void ref_clip_value(std::vector<Vec*>& grads, double c) {
  for (Vec* g : grads)
    for (double& x : *g)
      x = std::min(std::max(x, -c), c);
}

/// Every gradient scaled by c / max(‖all gradients‖₂, c) (tf.clip_by_global_norm, Keras
/// global_clipnorm). Returns the norm before clipping.
inline double ref_clip_global_norm(std::vector<Vec*>& grads, double c) {
  double sum = 0;
  for (Vec* g : grads)
    for (double x : *g)
      sum += x * x;
  double norm = std::sqrt(sum);
  double scale = c / std::max(norm, c);
  for (Vec* g : grads)
    for (double& x : *g)
      x *= scale;
  return norm;
}

// ---- SGD -------------------------------------------------------------------------------------

struct RefSGD {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  RefSchedule schedule = {};
};

/// torch.optim.SGD, the algorithm box of its documentation:
///   if λ ≠ 0: g ← g + λθ
///   if μ ≠ 0: b ← g if t = 1 else μ b + (1 − τ) g;  g ← g + μ b if nesterov else b
///   θ ← θ − γ g
/// (the buffer "momentum_buffer" starts as a copy of the first, undamped, gradient).
inline RefRule torch_sgd(const RefSGD& h) {
  return [&h](RefSlots& slots, Vec& th, const Vec& grad, int64_t k) {
    double lr = scheduled(h.lr, h.schedule, k);
    Vec* buf = h.momentum != 0 ? &slots("momentum") : nullptr;
    for (size_t i = 0; i < th.size(); ++i) {
      double g = grad[i];
      if (h.weight_decay != 0) g += h.weight_decay * th[i];
      if (buf) {
        double& b = (*buf)[i];
        b = k == 0 ? g : h.momentum * b + (1 - h.dampening) * g;
        g = h.nesterov ? g + h.momentum * b : b;
      }
      th[i] -= lr * g;
    }
  };
}

/// keras.optimizers.SGD.update_step, with the base optimizer's decoupled weight decay applied
/// to the variable first (BaseOptimizer._apply_weight_decay: θ ← θ − θ λ lr):
///   μ ≠ 0: m ← −g lr + m μ;  θ ← θ + (−g lr + m μ) if nesterov else θ + m
///   μ = 0: θ ← θ − g lr
inline RefRule keras_sgd(const RefSGD& h) {
  return [&h](RefSlots& slots, Vec& th, const Vec& grad, int64_t k) {
    double lr = scheduled(h.lr, h.schedule, k);
    Vec* m = h.momentum != 0 ? &slots("momentum") : nullptr;
    for (size_t i = 0; i < th.size(); ++i) {
      if (h.weight_decay != 0) th[i] = th[i] - th[i] * h.weight_decay * lr;
      double g = grad[i];
      if (!m) {
        th[i] += -g * lr;
        continue;
      }
      double& mi = (*m)[i];
      mi = -g * lr + mi * h.momentum;
      th[i] += h.nesterov ? -g * lr + mi * h.momentum : mi;
    }
  };
}

// ---- Adam and AdamW --------------------------------------------------------------------------

struct RefAdam {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  RefSchedule schedule = {};
};

/// torch.optim.Adam (decoupled = false: λ is an L2 term added to g) and torch.optim.AdamW
/// (decoupled = true: θ ← θ − γ λ θ first), as torch/optim/adam.py computes them:
///   m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²
///   amsgrad: vmax ← max(vmax, v), and vmax replaces v below
///   θ ← θ − (γ / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
inline RefRule torch_adam(const RefAdam& h, bool decoupled) {
  return [&h, decoupled](RefSlots& slots, Vec& th, const Vec& grad, int64_t k) {
    double lr = scheduled(h.lr, h.schedule, k);
    double t = static_cast<double>(k + 1);
    double bias1 = 1 - std::pow(h.beta1, t), bias2 = 1 - std::pow(h.beta2, t);
    Vec& m = slots("m");
    Vec& v = slots("v");
    Vec* vmax = h.amsgrad ? &slots("vmax") : nullptr;
    for (size_t i = 0; i < th.size(); ++i) {
      double g = grad[i];
      if (h.weight_decay != 0) {
        if (decoupled)
          th[i] *= 1 - lr * h.weight_decay;
        else
          g += h.weight_decay * th[i];
      }
      m[i] = h.beta1 * m[i] + (1 - h.beta1) * g;
      v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g;
      double second = v[i];
      if (vmax) second = (*vmax)[i] = std::max((*vmax)[i], v[i]);
      double denom = std::sqrt(second) / std::sqrt(bias2) + h.epsilon;
      th[i] -= lr / bias1 * m[i] / denom;
    }
  };
}

/// keras.optimizers.Adam.update_step (AdamW is the same with a default weight decay), with
/// the decoupled weight decay of the base optimizer first:
///   α ← lr √(1 − β2^t) / (1 − β1^t)
///   m ← m + (g − m)(1 − β1);  v ← v + (g² − v)(1 − β2)
///   amsgrad: v̂ ← max(v̂, v), and v̂ replaces v below
///   θ ← θ − α m / (√v + ε)
inline RefRule keras_adam(const RefAdam& h) {
  return [&h](RefSlots& slots, Vec& th, const Vec& grad, int64_t k) {
    double lr = scheduled(h.lr, h.schedule, k);
    double t = static_cast<double>(k + 1);
    double alpha = lr * std::sqrt(1 - std::pow(h.beta2, t)) / (1 - std::pow(h.beta1, t));
    Vec& m = slots("m");
    Vec& v = slots("v");
    Vec* vhat = h.amsgrad ? &slots("vmax") : nullptr;
    for (size_t i = 0; i < th.size(); ++i) {
      if (h.weight_decay != 0) th[i] = th[i] - th[i] * h.weight_decay * lr;
      double g = grad[i];
      m[i] += (g - m[i]) * (1 - h.beta1);
      v[i] += (g * g - v[i]) * (1 - h.beta2);
      double second = v[i];
      if (vhat) second = (*vhat)[i] = std::max((*vhat)[i], v[i]);
      th[i] -= alpha * m[i] / (std::sqrt(second) + h.epsilon);
    }
  };
}

// ---- RMSprop ---------------------------------------------------------------------------------

struct RefRMSprop {
  double lr = 1e-2;
  double alpha = 0.99; // Keras's rho
  double epsilon = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  RefSchedule schedule = {};
};

/// torch.optim.RMSprop:
///   if λ ≠ 0: g ← g + λθ
///   v ← α v + (1 − α) g²
///   centered: a ← α a + (1 − α) g;  d ← √(v − a²) + ε,  else d ← √v + ε
///   μ > 0: b ← μ b + g / d;  θ ← θ − γ b,  else θ ← θ − γ g / d
inline RefRule torch_rmsprop(const RefRMSprop& h) {
  return [&h](RefSlots& slots, Vec& th, const Vec& grad, int64_t k) {
    double lr = scheduled(h.lr, h.schedule, k);
    Vec& v = slots("v");
    Vec* avg = h.centered ? &slots("avg") : nullptr;
    Vec* buf = h.momentum > 0 ? &slots("momentum") : nullptr;
    for (size_t i = 0; i < th.size(); ++i) {
      double g = grad[i];
      if (h.weight_decay != 0) g += h.weight_decay * th[i];
      v[i] = h.alpha * v[i] + (1 - h.alpha) * g * g;
      double d;
      if (avg) {
        double& a = (*avg)[i];
        a = h.alpha * a + (1 - h.alpha) * g;
        d = std::sqrt(v[i] - a * a) + h.epsilon;
      } else {
        d = std::sqrt(v[i]) + h.epsilon;
      }
      if (buf) {
        double& b = (*buf)[i];
        b = h.momentum * b + g / d;
        th[i] -= lr * b;
      } else {
        th[i] -= lr * g / d;
      }
    }
  };
}

/// keras.optimizers.RMSprop.update_step (ρ = alpha), after the decoupled weight decay:
///   v ← ρ v + (1 − ρ) g²
///   centered: a ← ρ a + (1 − ρ) g;  D ← v − a² + ε,  else D ← v + ε
///   Δ ← lr g / √D
///   μ > 0: m ← μ m + Δ;  θ ← θ − m,  else θ ← θ − Δ
inline RefRule keras_rmsprop(const RefRMSprop& h) {
  return [&h](RefSlots& slots, Vec& th, const Vec& grad, int64_t k) {
    double lr = scheduled(h.lr, h.schedule, k);
    Vec& v = slots("v");
    Vec* avg = h.centered ? &slots("avg") : nullptr;
    Vec* mom = h.momentum > 0 ? &slots("momentum") : nullptr;
    for (size_t i = 0; i < th.size(); ++i) {
      if (h.weight_decay != 0) th[i] = th[i] - th[i] * h.weight_decay * lr;
      double g = grad[i];
      v[i] = h.alpha * v[i] + (1 - h.alpha) * g * g;
      double denominator;
      if (avg) {
        double& a = (*avg)[i];
        a = h.alpha * a + (1 - h.alpha) * g;
        denominator = v[i] - a * a + h.epsilon;
      } else {
        denominator = v[i] + h.epsilon;
      }
      double increment = lr * g / std::sqrt(denominator);
      if (mom) {
        double& m = (*mom)[i];
        m = h.momentum * m + increment;
        th[i] -= m;
      } else {
        th[i] -= increment;
      }
    }
  };
}

// ---- Adagrad ---------------------------------------------------------------------------------

struct RefAdagrad {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double epsilon = 1e-10;
  RefSchedule schedule = {};
};

/// torch.optim.Adagrad:
///   if λ ≠ 0: g ← g + λθ
///   γ' ← γ / (1 + (t − 1) η)
///   s ← s + g²                      (s starts at initial_accumulator_value)
///   θ ← θ − γ' g / (√s + ε)
inline RefRule torch_adagrad(const RefAdagrad& h) {
  return [&h](RefSlots& slots, Vec& th, const Vec& grad, int64_t k) {
    double lr = scheduled(h.lr, h.schedule, k);
    double clr = lr / (1 + static_cast<double>(k) * h.lr_decay);
    Vec& s = slots("sum", h.initial_accumulator_value);
    for (size_t i = 0; i < th.size(); ++i) {
      double g = grad[i];
      if (h.weight_decay != 0) g += h.weight_decay * th[i];
      s[i] += g * g;
      th[i] -= clr * g / (std::sqrt(s[i]) + h.epsilon);
    }
  };
}

/// keras.optimizers.Adagrad.update_step, after the decoupled weight decay:
///   s ← s + g²;  θ ← θ − lr g / √(s + ε)
inline RefRule keras_adagrad(const RefAdagrad& h) {
  return [&h](RefSlots& slots, Vec& th, const Vec& grad, int64_t k) {
    double lr = scheduled(h.lr, h.schedule, k);
    Vec& s = slots("sum", h.initial_accumulator_value);
    for (size_t i = 0; i < th.size(); ++i) {
      if (h.weight_decay != 0) th[i] = th[i] - th[i] * h.weight_decay * lr;
      double g = grad[i];
      s[i] += g * g;
      th[i] -= lr * g / std::sqrt(s[i] + h.epsilon);
    }
  };
}

} // namespace sj::test
