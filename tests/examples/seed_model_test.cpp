// examples/models/seed.sj is the seed tutorial's model: the same graph as one built here, layer
// by layer, with the C++ API (Keras layouts: kernel [inputs, units], glorot_uniform, zero bias).
#include "graph/builder.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "tests/support/cli.h"

#include <gtest/gtest.h>

namespace sj {
namespace {

Graph build_seed() {
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

TEST(SeedModel, TextFileMatchesTheModelBuiltInCpp) {
  std::string path = test::source_path("examples/models/seed.sj");
  Graph parsed = parse(test::read_file(path), path);
  EXPECT_EQ(print(parsed), print(build_seed()));
  for (const char* name : {"dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias"})
    EXPECT_EQ(parsed.node(*parsed.find(name)).op, Op::variable) << name;
  EXPECT_EQ(parsed.type(*parsed.output("loss")).str(), "f32[]");
  EXPECT_EQ(parsed.type(*parsed.output("pred")).str(), "f32[32,1]");
}

} // namespace
} // namespace sj
