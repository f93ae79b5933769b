// The seed tutorial in C++: Dense(10, relu) on 100 inputs, then Dense(1); a batch of 32
// normal random samples; mean squared error; Adam with learning rate 0.01; gradients, then
// apply_gradients(zip(grads, vars)); train, printing the loss each step; and the check the
// original tutorial only mentions: every variable changed after a step.
//
// The whole step (forward, gradients, Adam update) is one graph, JIT-compiled by LLVM into one
// native function (`seed_adam --interpret` runs the reference interpreter instead;
// `seed_adam --one-call` builds the same step with sj::compile_training_step).
#include "frontend/gradients.h"
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "graph/initializers.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "runtime/training.h"

#include <cmath>
#include <cstdio>
#include <numbers>
#include <optional>
#include <string>

int main(int argc, char** argv) {
  int steps = 20;
  bool interpret = false, one_call = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--interpret")
      interpret = true;
    else if (std::string(argv[i]) == "--one-call")
      one_call = true;
    else
      steps = std::atoi(argv[i]);
  }
  try {
    sj::Graph g("seed");
    auto x = sj::input(g, "x", {sj::DType::f32, {32, 100}});
    auto y = sj::input(g, "y", {sj::DType::f32, {32, 1}});
    sj::Sequential model(sj::Dense(10, sj::Activation::relu), sj::Dense(1));
    auto loss = sj::mean_squared_error(model(x), y);
    sj::output("loss", loss);

    std::vector<sj::Value> vars = model.trainable_variables();
    sj::Adam optimizer({.learning_rate = 0.01});
    std::optional<sj::CompiledStep> compiled;
    std::optional<sj::Interpreter> interpreter;
    if (one_call) {
      // The common case in one call: gradients, the Adam update and compilation.
      compiled.emplace(sj::compile_training_step(loss, vars, optimizer));
    } else {
      // The tutorial's two steps: the gradients, then apply_gradients(zip(grads, vars)).
      auto grads = sj::gradients(loss, vars);
      optimizer.apply_gradients(sj::zip(grads, vars));
    }
    std::printf("seed model: %zu nodes in the training step (forward, gradients, Adam)\n",
                g.size());
    // One face for both ways of running the step.
    if (interpret && !one_call) {
      interpreter.emplace(g);
    } else {
      if (!compiled) compiled.emplace(sj::CompiledStep::compile(g));
      std::printf("compiled to native code in %.1f ms (LLVM, host CPU); scratch arena %lld bytes\n",
                  compiled->compile_ms(), static_cast<long long>(compiled->arena_bytes()));
    }
    auto run = [&](const std::map<std::string, sj::Tensor>& feeds) {
      return interpreter ? interpreter->run(feeds).at("loss") : compiled->run(feeds).at("loss");
    };
    auto variable = [&](const std::string& name) {
      return interpreter ? interpreter->variable(name) : compiled->variable(name);
    };
    std::map<std::string, sj::Tensor> batch{
        {"x", sj::random_normal({sj::DType::f32, {32, 100}}, 7)},
        {"y", sj::random_normal({sj::DType::f32, {32, 1}}, 8)}};
    std::vector<sj::Tensor> before;
    for (const sj::Value& v : vars)
      before.push_back(variable(v.node().name));
    float first = 0, last = 0;
    for (int i = 1; i <= steps; ++i) {
      last = run(batch).data<float>()[0];
      if (i == 1) {
        first = last;
        for (size_t k = 0; k < vars.size(); ++k) {
          const std::string& name = vars[k].node().name;
          bool changed = !(variable(name) == before[k]);
          std::printf("  %-16s %s\n", name.c_str(), changed ? "changed" : "UNCHANGED");
          if (!changed) return 1;
        }
      }
      std::printf("step %3d  loss %.6f\n", i, last);
    }
    std::printf("loss %.6f -> %.6f over %d steps\n", first, last, steps);
    return last < first ? 0 : 1;
  } catch (const sj::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
