// The C++ builder's conveniences: defaults, -1 in reshape, numbers in expressions, names.
#include "graph/builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

TEST(Builder, DefaultsAndConveniences) {
  Graph g;
  auto x = input(g, "x", {DType::f64, {2, 3, 4}});
  EXPECT_EQ(reduce_sum(x).type().str(), "f64[]");
  EXPECT_EQ(reduce_sum(x).node().attrs.ints("axes"), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(reduce_mean(x, {-1}, true).type().str(), "f64[2,3,1]");
  // `{}` is the empty list (reduces nothing), never "all axes".
  EXPECT_EQ(reduce_sum(x, {}).type().str(), "f64[2,3,4]");
  EXPECT_EQ(reduce_sum(x, Axes::all(), true).type().str(), "f64[1,1,1]");
  EXPECT_EQ(transpose(x).type().str(), "f64[4,3,2]");
  EXPECT_EQ(reshape(x, {4, -1}).type().str(), "f64[4,6]");
  EXPECT_EQ(matmul(x, x, {.transpose_b = true}).type().str(), "f64[2,3,3]");
  EXPECT_EQ(softmax(x).node().attrs.integer("axis"), -1);
}

TEST(Builder, NumbersBecomeScalarsOfTheValuesDtype) {
  Graph g;
  auto x = input(g, "x", {DType::f64, {3}});
  Value y = x * 2.0;
  const Node& two = g.node(y.node().operands[1]);
  EXPECT_EQ(two.op, Op::constant);
  EXPECT_EQ(two.type.str(), "f64[]");
  EXPECT_EQ(two.attrs.tensor("value").data<double>()[0], 2.0);
  EXPECT_EQ((0.5 * x).node().op, Op::mul);
  EXPECT_EQ((x - 1.0).node().op, Op::sub);
  EXPECT_EQ((-x).node().op, Op::neg);
}

TEST(Builder, NamesAndOutputs) {
  Graph g("named");
  auto x = input(g, "x", {DType::f32, {3}});
  auto y = named(relu(x), "y");
  output("out", y);
  EXPECT_EQ(g.find("y"), y.id());
  EXPECT_EQ(g.output("out"), y.id());
  EXPECT_THROW(named(y, "z"), Error);      // already named
  EXPECT_THROW(named(exp(x), "x"), Error); // name taken
  EXPECT_THROW(output("out", x), Error);   // output name taken
  EXPECT_THROW(input(g, "", {DType::f32, {}}), Error);
}

TEST(Builder, VariablesCarryTheirInitializer) {
  Graph g;
  auto w = variable(g, "w", {DType::f32, {4, 2}}, Init::uniform(-1, 1, 7));
  const Attrs& a = w.node().attrs;
  EXPECT_EQ(a.name("init"), "uniform");
  EXPECT_EQ(a.integer("seed"), 7);
  EXPECT_EQ(a.real("low"), -1.0);
  EXPECT_EQ(a.real("high"), 1.0);
}

} // namespace
} // namespace sj

namespace sj {
namespace {

// split and chunk are slices; concat of the pieces gives x back. causal_mask: 0 on and below
// the (shifted) diagonal, -inf above it.
TEST(Builder, SplitChunkAndCausalMask) {
  Graph g;
  Value x = input(g, "x", {DType::f32, {2, 9}});
  std::vector<Value> parts = split(x, 1, {2, 3, 4});
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1].type().str(), "f32[2,3]");
  EXPECT_EQ(parts[1].node().attrs.ints("begin"), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(parts[1].node().attrs.ints("end"), (std::vector<int64_t>{2, 5}));
  std::vector<Value> thirds = chunk(x, 3, -1);
  EXPECT_EQ(thirds[2].node().attrs.ints("begin"), (std::vector<int64_t>{0, 6}));
  EXPECT_THAT([&] { split(x, 1, {2, 3}); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr(
                  "split: sizes [2, 3] add up to 5, but dimension 1 of f32[2,9] is 9")));
  EXPECT_THAT([&] { chunk(x, 2, 1); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("n must be positive and divide")));
  Value m = causal_mask(g, 2, 3);
  const Tensor& t = m.node().attrs.tensor("value");
  float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(t, Tensor::from<float>({2, 3}, {0, 0, -inf, 0, 0, 0})); // query i sees keys <= i + 1
}

} // namespace
} // namespace sj
