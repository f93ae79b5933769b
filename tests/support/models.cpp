#include "tests/support/models.h"

#include "graph/builder.h"

namespace sj::test {

Graph build_seed_model() {
  Graph g("seed");
  auto x = input(g, "x", {DType::f32, {32, 100}});
  auto y = input(g, "y", {DType::f32, {32, 1}});
  auto k0 = variable(g, "dense_0/kernel", {DType::f32, {100, 10}}, Init::glorot_uniform(1));
  auto b0 = variable(g, "dense_0/bias", {DType::f32, {10}});
  auto k1 = variable(g, "dense_1/kernel", {DType::f32, {10, 1}}, Init::glorot_uniform(2));
  auto b1 = variable(g, "dense_1/bias", {DType::f32, {1}});
  auto h = relu(matmul(x, k0) + b0);
  auto pred = named(matmul(h, k1) + b1, "pred");
  auto loss = named(reduce_mean(square(pred - y)), "loss");
  output("pred", pred);
  output("loss", loss);
  return g;
}

} // namespace sj::test
