// The training graphs stepjit's frontend builds (every layer, loss, optimizer and option,
// clipping, schedules), printed and compared with a golden file: they must be the same under
// every compiler (nothing may depend on the order C++ evaluates function arguments in) and
// change only on purpose. SJ_UPDATE_GOLDEN=1 rewrites the file.
#include "frontend/gradients.h"
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "graph/print.h"
#include "tests/support/golden.h"

#include <fmt/format.h>
#include <functional>
#include <gtest/gtest.h>

namespace sj {
namespace {

// A small regression model: Dense(4, relu) -> Dense(2) on x f32[3,5], MSE against y.
Graph regression(Optimizer& optimizer) {
  Graph g("regression");
  Value x = input(g, "x", {DType::f32, {3, 5}});
  Value y = input(g, "y", {DType::f32, {3, 2}});
  Sequential model(Dense(4, Activation::relu), Dense(2));
  Value pred = model(x);
  Value loss = mean_squared_error(pred, y);
  output("loss", loss);
  optimizer.minimize(loss, model.trainable_variables());
  return g;
}

struct OptimizerCase {
  std::string name;
  std::function<std::unique_ptr<Optimizer>()> make;
};

std::vector<OptimizerCase> optimizer_cases() {
  auto sched = [](Schedule s) { return OptimizerCommon{.schedule = std::move(s)}; };
  return {
      {"sgd", [] { return std::make_unique<SGD>(); }},
      {"sgd_momentum_nesterov_decay_dampening",
       [] {
         return std::make_unique<SGD>(SGDOptions{.learning_rate = 0.1,
                                                 .momentum = 0.9,
                                                 .dampening = 0.1,
                                                 .weight_decay = 0.01,
                                                 .nesterov = false});
       }},
      {"sgd_nesterov",
       [] {
         return std::make_unique<SGD>(
             SGDOptions{.momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
       }},
      {"sgd_keras_nesterov", [] { return std::make_unique<SGD>(SGD::keras(0.1, 0.9, true)); }},
      {"sgd_keras_momentum", [] { return std::make_unique<SGD>(SGD::keras(0.1, 0.9)); }},
      {"adam", [] { return std::make_unique<Adam>(); }},
      {"adam_amsgrad_decay",
       [] { return std::make_unique<Adam>(AdamOptions{.weight_decay = 0.01, .amsgrad = true}); }},
      {"adam_keras", [] { return std::make_unique<Adam>(Adam::keras()); }},
      {"adamw", [] { return std::make_unique<AdamW>(); }},
      {"adamw_keras", [] { return std::make_unique<AdamW>(AdamW::keras()); }},
      {"rmsprop", [] { return std::make_unique<RMSprop>(); }},
      {"rmsprop_centered_momentum_decay",
       [] {
         return std::make_unique<RMSprop>(
             RMSpropOptions{.weight_decay = 0.01, .momentum = 0.9, .centered = true});
       }},
      {"rmsprop_keras", [] { return std::make_unique<RMSprop>(RMSprop::keras()); }},
      {"adagrad", [] { return std::make_unique<Adagrad>(); }},
      {"adagrad_decay",
       [] {
         return std::make_unique<Adagrad>(AdagradOptions{
             .lr_decay = 0.01, .weight_decay = 0.01, .initial_accumulator_value = 0.1});
       }},
      {"adagrad_keras", [] { return std::make_unique<Adagrad>(Adagrad::keras()); }},
      {"clip_value",
       [] { return std::make_unique<SGD>(SGDOptions{.common = {.clipping = {.value = 0.5}}}); }},
      {"clip_global_norm",
       [] {
         return std::make_unique<Adam>(AdamOptions{.common = {.clipping = {.global_norm = 1.0}}});
       }},
      {"schedule_step_decay",
       [=] {
         return std::make_unique<SGD>(SGDOptions{.common = sched(Schedule::step_decay(10, 0.5))});
       }},
      {"schedule_exponential_staircase",
       [=] {
         return std::make_unique<SGD>(
             SGDOptions{.common = sched(Schedule::exponential_decay(100, 0.9, true))});
       }},
      {"schedule_cosine",
       [=] {
         return std::make_unique<Adam>(
             AdamOptions{.common = sched(Schedule::cosine_decay(100, 0.1))});
       }},
      {"schedule_warmup_cosine",
       [=] {
         return std::make_unique<Adam>(AdamOptions{
             .common = sched(Schedule::linear_warmup(10, Schedule::cosine_decay(100)))});
       }},
  };
}

// Every layer and loss, in training mode, with Adam.
std::vector<std::pair<std::string, Graph>> layer_graphs() {
  std::vector<std::pair<std::string, Graph>> r;
  auto train = [&](std::string name, Graph& g, Value loss, const std::vector<Value>& vars) {
    output("loss", loss);
    Adam().minimize(loss, vars);
    r.emplace_back(std::move(name), std::move(g));
  };
  {
    Graph g("text");
    Value ids = input(g, "ids", {DType::i32, {4, 3}});
    Value labels = input(g, "labels", {DType::i32, {4}});
    Sequential model(Embedding(10, 6), LayerNorm(), Dropout(0.25, 7), Flatten(),
                     Dense(5, Activation::gelu), Dense(3));
    Value logits = model(ids, CallMode::training);
    output("accuracy", accuracy(logits, labels));
    train("embedding_layernorm_dropout_flatten_gelu_sparse_ce", g,
          sparse_categorical_crossentropy_from_logits(logits, labels), model.trainable_variables());
  }
  for (Activation a :
       {Activation::linear, Activation::sigmoid, Activation::tanh, Activation::softmax}) {
    Graph g("activation");
    Value x = input(g, "x", {DType::f32, {3, 4}});
    Value y = input(g, "y", {DType::f32, {3, 2}});
    Sequential model(Input({DType::f32, {3, 4}}), Dense(2, a, {.use_bias = false}));
    Value pred = model(x);
    train(fmt::format("dense_activation_{}_mae", int(a)), g, mean_absolute_error(pred, y),
          model.trainable_variables());
  }
  {
    Graph g("bce");
    Value x = input(g, "x", {DType::f64, {3, 4}});
    Value z = input(g, "z", {DType::f64, {3, 1}});
    Sequential model(Dense(1));
    Value logits = model(x); // before trainable_variables(): arguments have no order
    train("bce_logits_f64", g, binary_crossentropy_from_logits(logits, z),
          model.trainable_variables());
  }
  {
    Graph g("cce");
    Value x = input(g, "x", {DType::f32, {3, 4}});
    Value t = input(g, "t", {DType::f32, {3, 3}});
    Sequential model(Dense(3));
    Value logits = model(x);
    train("categorical_ce_logits", g, categorical_crossentropy_from_logits(logits, t),
          model.trainable_variables());
  }
  return r;
}

TEST(TrainingGraphs, MatchTheGoldenFile) {
  std::string all;
  for (const OptimizerCase& c : optimizer_cases()) {
    auto optimizer = c.make();
    all += fmt::format("# {}\n{}\n", c.name, print(regression(*optimizer)));
  }
  for (const auto& [name, g] : layer_graphs())
    all += fmt::format("# {}\n{}\n", name, print(g));
  test::expect_golden(all, "tests/frontend/golden/training_graphs.txt");
}

} // namespace
} // namespace sj
