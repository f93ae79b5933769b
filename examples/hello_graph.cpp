// The seed tutorial's model as a stepjit graph: build it in C++, print its text form, evaluate
// it with the reference interpreter, and show how a shape mistake is reported.
//
// (Later stages differentiate this graph, append the optimizer update and JIT-compile the whole
// training step; this example shows the foundation they stand on.)
#include "graph/builder.h"
#include "graph/initializers.h"
#include "graph/print.h"
#include "runtime/interpreter.h"

#include <cmath>
#include <iostream>
#include <numbers>

namespace {

// Keras's Dense layer: x [batch, in] -> x W + b, W [in, units] glorot_uniform, b zeros.
sj::Value dense(sj::Value x, int64_t units, const std::string& name, int64_t seed) {
  sj::Graph& g = x.graph();
  auto w = sj::variable(g, name + "/kernel", {sj::DType::f32, {x.shape()[1], units}},
                        sj::Init::glorot_uniform(seed));
  auto b = sj::variable(g, name + "/bias", {sj::DType::f32, {units}});
  return sj::matmul(x, w) + b;
}

// Standard normal data from a fixed seed, so every run prints the same numbers.
sj::Tensor normal_data(sj::Shape shape, uint64_t seed) {
  sj::Tensor t({sj::DType::f32, std::move(shape)});
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    double u1 = sj::random_uniform01(seed, 2 * i), u2 = sj::random_uniform01(seed, 2 * i + 1);
    p[i] = float(std::sqrt(-2 * std::log1p(-u1)) * std::cos(2 * std::numbers::pi * u2));
  }
  return t;
}

} // namespace

int main() {
  try {
    sj::Graph g("seed");
    auto x = sj::input(g, "x", {sj::DType::f32, {32, 100}});
    auto y = sj::input(g, "y", {sj::DType::f32, {32, 1}});
    auto h = sj::relu(dense(x, 10, "dense_0", 1));
    auto pred = sj::named(dense(h, 1, "dense_1", 2), "pred");
    auto loss = sj::named(sj::reduce_mean(sj::square(pred - y)), "loss");
    sj::output("pred", pred);
    sj::output("loss", loss);

    std::cout << "The seed model as stepjit IR:\n\n" << sj::print(g) << "\n";

    sj::Interpreter interpreter(g);
    auto outputs =
        interpreter.run({{"x", normal_data({32, 100}, 7)}, {"y", normal_data({32, 1}, 8)}});
    const sj::Tensor& l = outputs.at("loss");
    std::cout << "Evaluated by the reference interpreter: loss = " << l.data<float>()[0] << "\n\n";

    // The seed tutorial's classic mistake, caught when the graph is built.
    std::cout << "A kernel stored as [units, inputs] is rejected where it is used:\n";
    try {
      auto w = sj::variable(g, "wrong/kernel", {sj::DType::f32, {10, 100}});
      sj::matmul(x, w);
    } catch (const sj::Error& e) {
      std::cout << "  " << e.what() << "\n";
    }
    return 0;
  } catch (const sj::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
