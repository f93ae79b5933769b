// The seed tutorial's model as a stepjit graph: build it in C++, print its text form, evaluate
// it with the reference interpreter, and show how a shape mistake is reported.
//
// (Later stages differentiate this graph, append the optimizer update and JIT-compile the whole
// training step; this example shows the foundation they stand on.)
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "graph/builder.h"
#include "graph/initializers.h"
#include "graph/print.h"
#include "runtime/interpreter.h"

#include <cmath>
#include <iostream>
#include <numbers>

int main() {
  try {
    sj::Graph g("seed");
    auto x = sj::input(g, "x", {sj::DType::f32, {32, 100}});
    auto y = sj::input(g, "y", {sj::DType::f32, {32, 1}});
    sj::Sequential model(sj::Dense(10, sj::Activation::relu), sj::Dense(1));
    auto pred = sj::named(model(x), "pred");
    auto loss = sj::named(sj::mean_squared_error(pred, y), "loss");
    sj::output("pred", pred);
    sj::output("loss", loss);

    std::cout << "The seed model as stepjit IR:\n\n" << sj::print(g) << "\n";

    sj::Interpreter interpreter(g);
    auto outputs = interpreter.run({{"x", sj::random_normal({sj::DType::f32, {32, 100}}, 7)},
                                    {"y", sj::random_normal({sj::DType::f32, {32, 1}}, 8)}});
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
