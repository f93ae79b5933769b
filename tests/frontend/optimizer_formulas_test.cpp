// Every optimizer and option, in PyTorch's and Keras's flavors, against its reference formula:
// five interpreter steps of a small f64 model, compared after each step (every variable, every
// slot, the step counter) with the same algorithm written as plain loops in
// optimizer_reference.h from the PyTorch and Keras documentation, on a gradient derived by
// hand below. Also: hyperparameters changed between steps (the same graph, no rebuild), and
// gradient clipping.
//
// Tolerance: 1e-6 relative (|a − b| / max(|a|, |b|, 1e-12)). Both sides compute in f64, in
// slightly different orders, so agreement is in practice ~1e-14; 1e-6 leaves room for that and
// for nothing else (a wrong bias correction, ε placement or decay changes values by far more,
// as the non-default hyperparameters below make sure).
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "runtime/interpreter.h"
#include "tests/frontend/optimizer_reference.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <numbers>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace sj {
namespace {

using test::RefAdagrad;
using test::RefAdam;
using test::RefRMSprop;
using test::RefSGD;
using test::Vec;

constexpr int kSteps = 5;
constexpr double kTolerance = 1e-6;

// ---- the model and its hand-derived gradient -------------------------------------------------
//
// x: [4, 3] and y: [4, 2] are inputs fed with different values every step; w: [3, 2] and
// b: [2] are the variables.
//
//   r = x w + b − y,   r_ij = Σ_k x_ik w_kj + b_j − y_ij
//   L = Σ_ij r_ij²
//
// ∂L/∂r_ij = 2 r_ij, and r_ij depends on w_kj through x_ik and on b_j with coefficient 1:
//
//   ∂L/∂w_kj = Σ_i 2 r_ij x_ik   (2 xᵀ r)
//   ∂L/∂b_j  = Σ_i 2 r_ij        (2 · column sums of r)
constexpr int64_t kRows = 4, kIn = 3, kOut = 2;

const Vec kW0 = {0.3, -0.2, 0.1, 0.5, -0.4, 0.25}; // row-major [3, 2]
const Vec kB0 = {0.05, -0.1};

struct Batch {
  Vec x, y;
};

/// The batch fed on step k (0-based): smooth, nonzero, and different every step.
Batch batch(int64_t k) {
  Batch d{Vec(kRows * kIn), Vec(kRows * kOut)};
  for (int64_t i = 0; i < kRows * kIn; ++i)
    d.x[i] = std::sin(0.7 * double(i) + 1.1 * double(k) + 0.3);
  for (int64_t i = 0; i < kRows * kOut; ++i)
    d.y[i] = 0.5 * std::cos(1.3 * double(i) - 0.9 * double(k));
  return d;
}

struct Grads {
  Vec w, b;
};

Grads model_gradients(const Vec& w, const Vec& b, const Batch& d) {
  Grads g{Vec(kIn * kOut, 0.0), Vec(kOut, 0.0)};
  for (int64_t i = 0; i < kRows; ++i)
    for (int64_t j = 0; j < kOut; ++j) {
      double r = b[j] - d.y[i * kOut + j];
      for (int64_t k = 0; k < kIn; ++k)
        r += d.x[i * kIn + k] * w[k * kOut + j];
      for (int64_t k = 0; k < kIn; ++k)
        g.w[k * kOut + j] += 2 * r * d.x[i * kIn + k];
      g.b[j] += 2 * r;
    }
  return g;
}

// ---- the harness -----------------------------------------------------------------------------

/// What happened in the reference run, so tests can check that an option was exercised.
struct RefRun {
  std::map<std::string, Vec> state; // variables and slots after the last step
  int64_t clipped_elements = 0;     // gradient elements that clip-by-value changed
  int64_t unclipped_elements = 0;
  double min_norm = 1e300, max_norm = 0; // global gradient norms before clipping
};

/// Compares a variable's value with the reference; one failure per (step, name).
void expect_near(const Tensor& got, const Vec& want, const std::string& name, int64_t step) {
  ASSERT_EQ(got.num_elements(), int64_t(want.size())) << name;
  auto values = got.values<double>();
  for (size_t i = 0; i < want.size(); ++i) {
    double e = test::rel_error(values[i], want[i]);
    if (!(e <= kTolerance)) {
      ADD_FAILURE() << "after step " << step << ": " << name << "[" << i << "] = " << values[i]
                    << ", the reference gives " << want[i] << " (relative error " << e << ")";
      return;
    }
  }
}

using BeforeStep = std::function<void(int64_t k, Interpreter& run)>;

/// Builds the model, applies `opt`, runs kSteps steps and checks every step against `rule`
/// (with gradients clipped by `clipping`, which must be the optimizer's).
RefRun expect_matches(Optimizer& opt, const test::RefRule& rule, Clipping clipping = {},
                      const BeforeStep& before_step = {}) {
  Graph g("model");
  Value x = input(g, "x", {DType::f64, {kRows, kIn}});
  Value y = input(g, "y", {DType::f64, {kRows, kOut}});
  Value w = variable(g, "w", {DType::f64, {kIn, kOut}});
  Value b = variable(g, "b", {DType::f64, {kOut}});
  Value loss = reduce_sum(square(matmul(x, w) + b - y));
  opt.minimize(loss, {w, b});
  const std::string name = opt.name();

  Interpreter run(g);
  run.set_variable("w", Tensor::from<double>({kIn, kOut}, kW0));
  run.set_variable("b", Tensor::from<double>({kOut}, kB0));

  RefRun ref;
  ref.state = {{"w", kW0}, {"b", kB0}};
  for (int64_t k = 0; k < kSteps; ++k) {
    if (before_step) before_step(k, run);
    Batch d = batch(k);
    run.run({{"x", Tensor::from<double>({kRows, kIn}, d.x)},
             {"y", Tensor::from<double>({kRows, kOut}, d.y)}});

    Grads grads = model_gradients(ref.state["w"], ref.state["b"], d);
    std::vector<Vec*> all = {&grads.w, &grads.b};
    if (clipping.value > 0) {
      for (Vec* gv : all)
        for (double e : *gv)
          ++(std::abs(e) > clipping.value ? ref.clipped_elements : ref.unclipped_elements);
      test::ref_clip_value(all, clipping.value);
    }
    if (clipping.global_norm > 0) {
      double norm = test::ref_clip_global_norm(all, clipping.global_norm);
      ref.min_norm = std::min(ref.min_norm, norm);
      ref.max_norm = std::max(ref.max_norm, norm);
    }
    for (auto [var, grad] : {std::pair{"w", &grads.w}, std::pair{"b", &grads.b}}) {
      Vec& theta = ref.state[var];
      test::RefSlots slots(ref.state, std::string(var) + "." + name + "_", theta.size());
      rule(slots, theta, *grad, k);
    }

    for (const auto& [var, want] : ref.state)
      expect_near(run.variable(var), want, var, k + 1);
    EXPECT_EQ(run.variable(name + "/step"), Tensor::scalar(int64_t{k + 1})) << "step " << k + 1;
  }

  // The graph holds exactly the reference's slots: none missing (compared above), none extra.
  std::set<std::string> graph_state, ref_state;
  for (Value v : all_variables(g))
    if (v.node().name.find('/') == std::string::npos) graph_state.insert(v.node().name);
  for (const auto& [var, value] : ref.state)
    ref_state.insert(var);
  EXPECT_EQ(graph_state, ref_state);
  return ref;
}

/// True if AMSGrad's running maximum differs from the current second moment somewhere, i.e.
/// the maximum mattered.
bool max_mattered(const RefRun& r, const std::string& opt) {
  for (const char* var : {"w", "b"}) {
    const Vec& v = r.state.at(std::string(var) + "." + opt + "_v");
    const Vec& vmax = r.state.at(std::string(var) + "." + opt + "_vmax");
    for (size_t i = 0; i < v.size(); ++i)
      if (vmax[i] > v[i] * (1 + 1e-3)) return true;
  }
  return false;
}

// ---- SGD, PyTorch ----------------------------------------------------------------------------

TEST(SGDFormulas, TorchDefaults) {
  SGD opt;
  RefSGD h{.lr = 1e-3};
  expect_matches(opt, test::torch_sgd(h));
}

TEST(SGDFormulas, TorchPlain) {
  SGD opt({.learning_rate = 0.05});
  RefSGD h{.lr = 0.05};
  expect_matches(opt, test::torch_sgd(h));
}

TEST(SGDFormulas, TorchMomentum) {
  SGD opt({.learning_rate = 0.05, .momentum = 0.9});
  RefSGD h{.lr = 0.05, .momentum = 0.9};
  expect_matches(opt, test::torch_sgd(h));
}

TEST(SGDFormulas, TorchMomentumDampening) {
  SGD opt({.learning_rate = 0.05, .momentum = 0.8, .dampening = 0.3});
  RefSGD h{.lr = 0.05, .momentum = 0.8, .dampening = 0.3};
  expect_matches(opt, test::torch_sgd(h));
}

TEST(SGDFormulas, TorchNesterov) {
  SGD opt({.learning_rate = 0.03, .momentum = 0.9, .nesterov = true});
  RefSGD h{.lr = 0.03, .momentum = 0.9, .nesterov = true};
  expect_matches(opt, test::torch_sgd(h));
}

TEST(SGDFormulas, TorchWeightDecay) {
  SGD opt({.learning_rate = 0.05, .weight_decay = 0.1});
  RefSGD h{.lr = 0.05, .weight_decay = 0.1};
  expect_matches(opt, test::torch_sgd(h));
}

TEST(SGDFormulas, TorchMomentumDampeningWeightDecay) {
  SGD opt({.learning_rate = 0.04, .momentum = 0.7, .dampening = 0.25, .weight_decay = 0.05});
  RefSGD h{.lr = 0.04, .momentum = 0.7, .dampening = 0.25, .weight_decay = 0.05};
  expect_matches(opt, test::torch_sgd(h));
}

TEST(SGDFormulas, TorchNesterovWeightDecay) {
  SGD opt({.learning_rate = 0.03, .momentum = 0.85, .weight_decay = 0.2, .nesterov = true});
  RefSGD h{.lr = 0.03, .momentum = 0.85, .weight_decay = 0.2, .nesterov = true};
  expect_matches(opt, test::torch_sgd(h));
}

// ---- SGD, Keras ------------------------------------------------------------------------------

TEST(SGDFormulas, KerasDefaults) {
  SGD opt = SGD::keras();
  RefSGD h{.lr = 0.01};
  expect_matches(opt, test::keras_sgd(h));
}

TEST(SGDFormulas, KerasMomentum) {
  SGD opt = SGD::keras(0.05, 0.9);
  RefSGD h{.lr = 0.05, .momentum = 0.9};
  expect_matches(opt, test::keras_sgd(h));
}

TEST(SGDFormulas, KerasNesterov) {
  SGD opt = SGD::keras(0.03, 0.8, true);
  RefSGD h{.lr = 0.03, .momentum = 0.8, .nesterov = true};
  expect_matches(opt, test::keras_sgd(h));
}

TEST(SGDFormulas, KerasWeightDecay) {
  SGD opt({.learning_rate = 0.05, .weight_decay = 0.1}, Flavor::keras);
  RefSGD h{.lr = 0.05, .weight_decay = 0.1};
  expect_matches(opt, test::keras_sgd(h));
}

TEST(SGDFormulas, KerasNesterovWeightDecay) {
  SGD opt({.learning_rate = 0.03, .momentum = 0.9, .weight_decay = 0.2, .nesterov = true},
          Flavor::keras);
  RefSGD h{.lr = 0.03, .momentum = 0.9, .weight_decay = 0.2, .nesterov = true};
  expect_matches(opt, test::keras_sgd(h));
}

// A check of the references themselves: with a constant gradient (and no dampening) the two
// flavors' momentum moves θ identically, by lr g (1 + (1 + μ) + (1 + μ + μ²)) in three steps,
// but the buffers differ (PyTorch's holds Σ μ^i g and its first value is g itself; Keras's
// folds −lr in).
TEST(ReferenceSanity, SGDMomentumFlavorsAgreeOnThetaNotOnTheBuffer) {
  RefSGD h{.lr = 0.05, .momentum = 0.9};
  std::map<std::string, Vec> a, b;
  Vec ta = kW0, tb = kW0, g = {1, -2, 3, 0.5, -1, 2};
  test::RefSlots sa(a, "w.sgd_", 6), sb(b, "w.sgd_", 6);
  for (int64_t k = 0; k < 3; ++k) {
    test::torch_sgd(h)(sa, ta, g, k);
    test::keras_sgd(h)(sb, tb, g, k);
  }
  for (size_t i = 0; i < g.size(); ++i) {
    EXPECT_NEAR(ta[i], kW0[i] - 0.05 * g[i] * (3 + 2 * 0.9 + 0.81), 1e-12);
    EXPECT_NEAR(tb[i], ta[i], 1e-12);
  }
  EXPECT_NEAR(a["w.sgd_momentum"][0], 1 + 0.9 + 0.81, 1e-12);
  EXPECT_NEAR(b["w.sgd_momentum"][0], -0.05 * (1 + 0.9 + 0.81), 1e-12);
}

// ---- Adam, PyTorch ---------------------------------------------------------------------------

TEST(AdamFormulas, TorchDefaults) {
  Adam opt;
  RefAdam h{.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-8};
  expect_matches(opt, test::torch_adam(h, false));
}

TEST(AdamFormulas, TorchNonDefault) {
  // A large ε: where it enters (after the bias correction of √v) is visible.
  Adam opt({.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.95, .epsilon = 0.1});
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .epsilon = 0.1};
  expect_matches(opt, test::torch_adam(h, false));
}

TEST(AdamFormulas, TorchWeightDecayIsL2) {
  Adam opt({.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.95, .weight_decay = 0.3});
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .weight_decay = 0.3};
  expect_matches(opt, test::torch_adam(h, false));
}

TEST(AdamFormulas, TorchAmsgrad) {
  Adam opt({.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.7, .amsgrad = true});
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.7, .amsgrad = true};
  EXPECT_TRUE(max_mattered(expect_matches(opt, test::torch_adam(h, false)), "adam"));
}

TEST(AdamFormulas, TorchAmsgradWeightDecay) {
  Adam opt({.learning_rate = 0.02,
            .beta1 = 0.85,
            .beta2 = 0.7,
            .epsilon = 1e-3,
            .weight_decay = 0.1,
            .amsgrad = true});
  RefAdam h{.lr = 0.02,
            .beta1 = 0.85,
            .beta2 = 0.7,
            .epsilon = 1e-3,
            .weight_decay = 0.1,
            .amsgrad = true};
  EXPECT_TRUE(max_mattered(expect_matches(opt, test::torch_adam(h, false)), "adam"));
}

// ---- Adam, Keras -----------------------------------------------------------------------------

TEST(AdamFormulas, KerasDefaults) {
  Adam opt = Adam::keras();
  RefAdam h{.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-7};
  expect_matches(opt, test::keras_adam(h));
}

TEST(AdamFormulas, KerasNonDefault) {
  // A large ε: Keras adds it to the uncorrected √v ("epsilon hat").
  Adam opt({.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.95, .epsilon = 0.1}, Flavor::keras);
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .epsilon = 0.1};
  expect_matches(opt, test::keras_adam(h));
}

TEST(AdamFormulas, KerasAmsgrad) {
  Adam opt({.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.7, .epsilon = 1e-7, .amsgrad = true},
           Flavor::keras);
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.7, .epsilon = 1e-7, .amsgrad = true};
  EXPECT_TRUE(max_mattered(expect_matches(opt, test::keras_adam(h)), "adam"));
}

TEST(AdamFormulas, KerasWeightDecayIsDecoupled) {
  Adam opt(
      {.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.95, .epsilon = 1e-7, .weight_decay = 0.3},
      Flavor::keras);
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .epsilon = 1e-7, .weight_decay = 0.3};
  expect_matches(opt, test::keras_adam(h));
}

// ---- AdamW -----------------------------------------------------------------------------------

TEST(AdamWFormulas, TorchDefaults) {
  AdamW opt;
  RefAdam h{.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-8, .weight_decay = 0.01};
  expect_matches(opt, test::torch_adam(h, true));
}

TEST(AdamWFormulas, TorchNonDefault) {
  AdamW opt({.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.95, .weight_decay = 0.3});
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .weight_decay = 0.3};
  expect_matches(opt, test::torch_adam(h, true));
}

TEST(AdamWFormulas, TorchAmsgrad) {
  AdamW opt(
      {.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.7, .weight_decay = 0.3, .amsgrad = true});
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.7, .weight_decay = 0.3, .amsgrad = true};
  EXPECT_TRUE(max_mattered(expect_matches(opt, test::torch_adam(h, true)), "adamw"));
}

TEST(AdamWFormulas, KerasDefaults) {
  AdamW opt = AdamW::keras();
  RefAdam h{.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-7, .weight_decay = 0.004};
  expect_matches(opt, test::keras_adam(h));
}

TEST(AdamWFormulas, KerasNonDefault) {
  AdamW opt = AdamW::keras(0.05, 0.3);
  RefAdam h{.lr = 0.05, .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-7, .weight_decay = 0.3};
  expect_matches(opt, test::keras_adam(h));
}

TEST(AdamWFormulas, KerasAmsgrad) {
  AdamW opt({.learning_rate = 0.05,
             .beta1 = 0.8,
             .beta2 = 0.7,
             .epsilon = 0.01,
             .weight_decay = 0.3,
             .amsgrad = true},
            Flavor::keras);
  RefAdam h{.lr = 0.05,
            .beta1 = 0.8,
            .beta2 = 0.7,
            .epsilon = 0.01,
            .weight_decay = 0.3,
            .amsgrad = true};
  EXPECT_TRUE(max_mattered(expect_matches(opt, test::keras_adam(h)), "adamw"));
}

// ---- RMSprop, PyTorch ------------------------------------------------------------------------

TEST(RMSpropFormulas, TorchDefaults) {
  RMSprop opt;
  RefRMSprop h{.lr = 1e-2, .alpha = 0.99, .epsilon = 1e-8};
  expect_matches(opt, test::torch_rmsprop(h));
}

TEST(RMSpropFormulas, TorchPlain) {
  // A large ε: PyTorch adds it outside the root.
  RMSprop opt({.learning_rate = 0.02, .alpha = 0.8, .epsilon = 0.1});
  RefRMSprop h{.lr = 0.02, .alpha = 0.8, .epsilon = 0.1};
  expect_matches(opt, test::torch_rmsprop(h));
}

TEST(RMSpropFormulas, TorchCentered) {
  RMSprop opt({.learning_rate = 0.02, .alpha = 0.8, .centered = true});
  RefRMSprop h{.lr = 0.02, .alpha = 0.8, .centered = true};
  expect_matches(opt, test::torch_rmsprop(h));
}

TEST(RMSpropFormulas, TorchMomentum) {
  RMSprop opt({.learning_rate = 0.02, .alpha = 0.8, .momentum = 0.7});
  RefRMSprop h{.lr = 0.02, .alpha = 0.8, .momentum = 0.7};
  expect_matches(opt, test::torch_rmsprop(h));
}

TEST(RMSpropFormulas, TorchCenteredMomentum) {
  RMSprop opt(
      {.learning_rate = 0.02, .alpha = 0.85, .epsilon = 1e-3, .momentum = 0.6, .centered = true});
  RefRMSprop h{.lr = 0.02, .alpha = 0.85, .epsilon = 1e-3, .momentum = 0.6, .centered = true};
  expect_matches(opt, test::torch_rmsprop(h));
}

TEST(RMSpropFormulas, TorchWeightDecay) {
  RMSprop opt({.learning_rate = 0.02, .alpha = 0.8, .weight_decay = 0.3});
  RefRMSprop h{.lr = 0.02, .alpha = 0.8, .weight_decay = 0.3};
  expect_matches(opt, test::torch_rmsprop(h));
}

TEST(RMSpropFormulas, TorchEverything) {
  RMSprop opt({.learning_rate = 0.01,
               .alpha = 0.9,
               .epsilon = 1e-2,
               .weight_decay = 0.2,
               .momentum = 0.5,
               .centered = true});
  RefRMSprop h{.lr = 0.01,
               .alpha = 0.9,
               .epsilon = 1e-2,
               .weight_decay = 0.2,
               .momentum = 0.5,
               .centered = true};
  expect_matches(opt, test::torch_rmsprop(h));
}

// ---- RMSprop, Keras --------------------------------------------------------------------------

TEST(RMSpropFormulas, KerasDefaults) {
  RMSprop opt = RMSprop::keras();
  RefRMSprop h{.lr = 1e-3, .alpha = 0.9, .epsilon = 1e-7};
  expect_matches(opt, test::keras_rmsprop(h));
}

TEST(RMSpropFormulas, KerasPlain) {
  // A large ε: Keras adds it under the root.
  RMSprop opt({.learning_rate = 0.02, .alpha = 0.8, .epsilon = 0.1}, Flavor::keras);
  RefRMSprop h{.lr = 0.02, .alpha = 0.8, .epsilon = 0.1};
  expect_matches(opt, test::keras_rmsprop(h));
}

TEST(RMSpropFormulas, KerasCentered) {
  RMSprop opt({.learning_rate = 0.02, .alpha = 0.8, .epsilon = 1e-3, .centered = true},
              Flavor::keras);
  RefRMSprop h{.lr = 0.02, .alpha = 0.8, .epsilon = 1e-3, .centered = true};
  expect_matches(opt, test::keras_rmsprop(h));
}

TEST(RMSpropFormulas, KerasMomentum) {
  RMSprop opt({.learning_rate = 0.02, .alpha = 0.8, .epsilon = 1e-3, .momentum = 0.7},
              Flavor::keras);
  RefRMSprop h{.lr = 0.02, .alpha = 0.8, .epsilon = 1e-3, .momentum = 0.7};
  expect_matches(opt, test::keras_rmsprop(h));
}

TEST(RMSpropFormulas, KerasCenteredMomentumWeightDecay) {
  RMSprop opt({.learning_rate = 0.02,
               .alpha = 0.85,
               .epsilon = 1e-3,
               .weight_decay = 0.2,
               .momentum = 0.6,
               .centered = true},
              Flavor::keras);
  RefRMSprop h{.lr = 0.02,
               .alpha = 0.85,
               .epsilon = 1e-3,
               .weight_decay = 0.2,
               .momentum = 0.6,
               .centered = true};
  expect_matches(opt, test::keras_rmsprop(h));
}

// ---- Adagrad ---------------------------------------------------------------------------------

TEST(AdagradFormulas, TorchDefaults) {
  Adagrad opt;
  RefAdagrad h{.lr = 1e-2, .lr_decay = 0, .initial_accumulator_value = 0, .epsilon = 1e-10};
  expect_matches(opt, test::torch_adagrad(h));
}

TEST(AdagradFormulas, TorchPlain) {
  // A large ε: PyTorch adds it outside the root.
  Adagrad opt({.learning_rate = 0.1, .epsilon = 0.5});
  RefAdagrad h{.lr = 0.1, .epsilon = 0.5};
  expect_matches(opt, test::torch_adagrad(h));
}

TEST(AdagradFormulas, TorchLrDecay) {
  Adagrad opt({.learning_rate = 0.1, .lr_decay = 0.3});
  RefAdagrad h{.lr = 0.1, .lr_decay = 0.3};
  expect_matches(opt, test::torch_adagrad(h));
}

TEST(AdagradFormulas, TorchInitialAccumulatorValue) {
  Adagrad opt({.learning_rate = 0.1, .initial_accumulator_value = 0.7});
  RefAdagrad h{.lr = 0.1, .initial_accumulator_value = 0.7};
  expect_matches(opt, test::torch_adagrad(h));
}

TEST(AdagradFormulas, TorchWeightDecay) {
  Adagrad opt({.learning_rate = 0.1, .weight_decay = 0.3});
  RefAdagrad h{.lr = 0.1, .weight_decay = 0.3};
  expect_matches(opt, test::torch_adagrad(h));
}

TEST(AdagradFormulas, TorchEverything) {
  Adagrad opt({.learning_rate = 0.2,
               .lr_decay = 0.5,
               .weight_decay = 0.1,
               .initial_accumulator_value = 0.4,
               .epsilon = 0.05});
  RefAdagrad h{.lr = 0.2,
               .lr_decay = 0.5,
               .weight_decay = 0.1,
               .initial_accumulator_value = 0.4,
               .epsilon = 0.05};
  expect_matches(opt, test::torch_adagrad(h));
}

TEST(AdagradFormulas, KerasDefaults) {
  Adagrad opt = Adagrad::keras();
  RefAdagrad h{.lr = 1e-3, .initial_accumulator_value = 0.1, .epsilon = 1e-7};
  expect_matches(opt, test::keras_adagrad(h));
}

TEST(AdagradFormulas, KerasNonDefault) {
  // A large ε: Keras adds it under the root.
  Adagrad opt({.learning_rate = 0.1, .initial_accumulator_value = 0.3, .epsilon = 0.5},
              Flavor::keras);
  RefAdagrad h{.lr = 0.1, .initial_accumulator_value = 0.3, .epsilon = 0.5};
  expect_matches(opt, test::keras_adagrad(h));
}

TEST(AdagradFormulas, KerasWeightDecay) {
  Adagrad opt({.learning_rate = 0.1,
               .weight_decay = 0.3,
               .initial_accumulator_value = 0.1,
               .epsilon = 1e-7},
              Flavor::keras);
  RefAdagrad h{.lr = 0.1, .weight_decay = 0.3, .initial_accumulator_value = 0.1, .epsilon = 1e-7};
  expect_matches(opt, test::keras_adagrad(h));
}

// ---- hyperparameters are variables -----------------------------------------------------------

TEST(HyperparameterVariables, AdamLearningRateChangesAfterTwoSteps) {
  Adam opt({.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.95});
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95};
  expect_matches(opt, test::torch_adam(h, false), {}, [&](int64_t k, Interpreter& run) {
    if (k != 2) return;
    run.set_variable("adam/learning_rate", Tensor::scalar(0.2));
    h.lr = 0.2;
  });
}

TEST(HyperparameterVariables, KerasAdamBetasChange) {
  // The bias corrections use the current β's: 1 − β^t with the new β.
  Adam opt({.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.95, .epsilon = 1e-7}, Flavor::keras);
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .epsilon = 1e-7};
  expect_matches(opt, test::keras_adam(h), {}, [&](int64_t k, Interpreter& run) {
    if (k != 3) return;
    run.set_variable("adam/beta1", Tensor::scalar(0.5));
    run.set_variable("adam/beta2", Tensor::scalar(0.9));
    h.beta1 = 0.5;
    h.beta2 = 0.9;
  });
}

TEST(HyperparameterVariables, SGDMomentumAndWeightDecayChange) {
  SGD opt({.learning_rate = 0.05, .momentum = 0.9, .weight_decay = 0.1});
  RefSGD h{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.1};
  expect_matches(opt, test::torch_sgd(h), {}, [&](int64_t k, Interpreter& run) {
    if (k != 2) return;
    run.set_variable("sgd/momentum", Tensor::scalar(0.3));
    run.set_variable("sgd/weight_decay", Tensor::scalar(0.5));
    h.momentum = 0.3;
    h.weight_decay = 0.5;
  });
}

TEST(HyperparameterVariables, RMSpropAlphaChanges) {
  RMSprop opt({.learning_rate = 0.02, .alpha = 0.8, .momentum = 0.5, .centered = true});
  RefRMSprop h{.lr = 0.02, .alpha = 0.8, .momentum = 0.5, .centered = true};
  expect_matches(opt, test::torch_rmsprop(h), {}, [&](int64_t k, Interpreter& run) {
    if (k != 1) return;
    run.set_variable("rmsprop/alpha", Tensor::scalar(0.95));
    h.alpha = 0.95;
  });
}

TEST(HyperparameterVariables, AdagradLrDecayChanges) {
  Adagrad opt({.learning_rate = 0.1, .lr_decay = 0.3});
  RefAdagrad h{.lr = 0.1, .lr_decay = 0.3};
  expect_matches(opt, test::torch_adagrad(h), {}, [&](int64_t k, Interpreter& run) {
    if (k != 2) return;
    run.set_variable("adagrad/lr_decay", Tensor::scalar(2.0));
    h.lr_decay = 2.0;
  });
}

TEST(HyperparameterVariables, AdamWKerasWeightDecayChanges) {
  AdamW opt = AdamW::keras(0.05, 0.1);
  RefAdam h{.lr = 0.05, .epsilon = 1e-7, .weight_decay = 0.1};
  expect_matches(opt, test::keras_adam(h), {}, [&](int64_t k, Interpreter& run) {
    if (k != 2) return;
    run.set_variable("adamw/weight_decay", Tensor::scalar(0.6));
    h.weight_decay = 0.6;
  });
}

// ---- schedules inside the formulas (the scheduled rate is the one every term uses) ----------

TEST(ScheduledFormulas, TorchAdamWDecaysWithTheScheduledRate) {
  // θ ← θ(1 − lr_k λ): PyTorch's scheduler changes the group's lr, which the decay uses.
  AdamW opt({.learning_rate = 0.05,
             .beta1 = 0.8,
             .beta2 = 0.95,
             .weight_decay = 0.5,
             .common = {.schedule = Schedule::cosine_decay(4, 0.1)}});
  RefAdam h{.lr = 0.05,
            .beta1 = 0.8,
            .beta2 = 0.95,
            .weight_decay = 0.5,
            .schedule = [](double lr, int64_t k) {
              double progress = double(std::min<int64_t>(k, 4)) / 4;
              return lr * ((1 - 0.1) * (1 + std::cos(std::numbers::pi * progress)) / 2 + 0.1);
            }};
  expect_matches(opt, test::torch_adam(h, true));
}

TEST(ScheduledFormulas, KerasAdamWithExponentialDecay) {
  Adam opt({.learning_rate = 0.05,
            .beta1 = 0.8,
            .beta2 = 0.95,
            .epsilon = 1e-7,
            .weight_decay = 0.2,
            .common = {.schedule = Schedule::exponential_decay(2, 0.5)}},
           Flavor::keras);
  RefAdam h{.lr = 0.05,
            .beta1 = 0.8,
            .beta2 = 0.95,
            .epsilon = 1e-7,
            .weight_decay = 0.2,
            .schedule = [](double lr, int64_t k) { return lr * std::pow(0.5, double(k) / 2); }};
  expect_matches(opt, test::keras_adam(h));
}

TEST(ScheduledFormulas, TorchAdagradLrDecayOnTopOfStepDecay) {
  Adagrad opt({.learning_rate = 0.2,
               .lr_decay = 0.5,
               .common = {.schedule = Schedule::step_decay(2, 0.3)}});
  RefAdagrad h{.lr = 0.2, .lr_decay = 0.5, .schedule = [](double lr, int64_t k) {
                 return lr * std::pow(0.3, double(k / 2));
               }};
  expect_matches(opt, test::torch_adagrad(h));
}

// ---- gradient clipping: clip, then the optimizer ---------------------------------------------

TEST(ClippingFormulas, ValueWithPlainSGD) {
  SGD opt({.learning_rate = 0.05, .common = {.clipping = {.value = 0.8}}});
  RefSGD h{.lr = 0.05};
  RefRun r = expect_matches(opt, test::torch_sgd(h), {.value = 0.8});
  EXPECT_GT(r.clipped_elements, 0);
  EXPECT_GT(r.unclipped_elements, 0);
}

TEST(ClippingFormulas, ValueBeforeTheL2Term) {
  // PyTorch users clip .grad before step(), which then adds λθ: the decay is not clipped.
  SGD opt({.learning_rate = 0.05,
           .momentum = 0.9,
           .weight_decay = 0.5,
           .common = {.clipping = {.value = 0.8}}});
  RefSGD h{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.5};
  RefRun r = expect_matches(opt, test::torch_sgd(h), {.value = 0.8});
  EXPECT_GT(r.clipped_elements, 0);
}

TEST(ClippingFormulas, ValueWithAdam) {
  Adam opt({.learning_rate = 0.05,
            .beta1 = 0.8,
            .beta2 = 0.95,
            .epsilon = 0.1,
            .common = {.clipping = {.value = 0.8}}});
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .epsilon = 0.1};
  RefRun r = expect_matches(opt, test::torch_adam(h, false), {.value = 0.8});
  EXPECT_GT(r.clipped_elements, 0);
  EXPECT_GT(r.unclipped_elements, 0);
}

TEST(ClippingFormulas, GlobalNormWithMomentumSGD) {
  SGD opt({.learning_rate = 0.05, .momentum = 0.9, .common = {.clipping = {.global_norm = 1.5}}});
  RefSGD h{.lr = 0.05, .momentum = 0.9};
  RefRun r = expect_matches(opt, test::torch_sgd(h), {.global_norm = 1.5});
  EXPECT_GT(r.max_norm, 1.5); // the clip changed something
}

TEST(ClippingFormulas, GlobalNormWithKerasAdam) {
  Adam opt({.learning_rate = 0.05,
            .beta1 = 0.8,
            .beta2 = 0.95,
            .epsilon = 0.1,
            .weight_decay = 0.2,
            .common = {.clipping = {.global_norm = 1.5}}},
           Flavor::keras);
  RefAdam h{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .epsilon = 0.1, .weight_decay = 0.2};
  RefRun r = expect_matches(opt, test::keras_adam(h), {.global_norm = 1.5});
  EXPECT_GT(r.max_norm, 1.5);
}

TEST(ClippingFormulas, GlobalNormAboveTheNormChangesNothing) {
  RMSprop opt({.learning_rate = 0.02, .alpha = 0.8, .common = {.clipping = {.global_norm = 1e3}}});
  RefRMSprop h{.lr = 0.02, .alpha = 0.8};
  RefRun r = expect_matches(opt, test::torch_rmsprop(h), {.global_norm = 1e3});
  EXPECT_LT(r.max_norm, 1e3);
  EXPECT_GT(r.min_norm, 0);
}

} // namespace
} // namespace sj
