// Keras-like layers: variables with stable names and Keras layouts, and outputs against values
// computed by hand.
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "graph/print.h"
#include "runtime/interpreter.h"
#include "tests/support/cli.h"
#include "tests/support/models.h"

#include <cmath>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

TEST(Layers, SequentialBuildsTheSeedModelOfExamplesSeedSj) {
  Graph g("seed");
  auto x = input(g, "x", {DType::f32, {32, 100}});
  auto y = input(g, "y", {DType::f32, {32, 1}});
  Sequential model(Dense(10, Activation::relu), Dense(1));
  auto pred = named(model(x), "pred");
  auto loss = named(mean_squared_error(pred, y), "loss");
  output("pred", pred);
  output("loss", loss);
  std::vector<std::string> names;
  for (const Value& v : model.trainable_variables())
    names.push_back(v.node().name);
  EXPECT_EQ(names, (std::vector<std::string>{"dense_0/kernel", "dense_0/bias", "dense_1/kernel",
                                             "dense_1/bias"}));
  // Same variables, initializers and seeds as the hand-written graph: same initial values.
  Interpreter built(g), reference(test::build_seed_model());
  for (const std::string& name : names)
    EXPECT_EQ(built.variable(name), reference.variable(name)) << name;
  EXPECT_EQ(model.trainable_variables()[0].type().str(), "f32[100,10]");
}

TEST(Layers, DenseComputesXWPlusBThenTheActivation) {
  Graph g;
  auto x = constant(g, Tensor::from<float>({1, 2}, {1, -2}));
  Dense dense(2, Activation::relu,
              {.kernel_initializer = Init::constant(0.5), .bias_initializer = Init::constant(1)});
  output("y", dense(x));
  // [1, -2] . 0.5 = -0.5 per unit; + 1 = 0.5; relu -> 0.5.
  Interpreter run(g);
  EXPECT_EQ(run.run({}).at("y"), Tensor::from<float>({1, 2}, {0.5f, 0.5f}));
  EXPECT_THROW(Dense(0), Error);
  EXPECT_THROW(activation_named("swish"), Error);
  EXPECT_EQ(activation_named("tanh"), Activation::tanh);
}

TEST(Layers, FlattenEmbeddingAndLayerNorm) {
  Graph g;
  auto images = input(g, "images", {DType::f32, {4, 2, 3}});
  EXPECT_EQ(Flatten()(images).type().str(), "f32[4,6]");
  auto ids = constant(g, Tensor::from<int32_t>({2}, {1, 1}));
  Embedding embedding(5, 3);
  Value e = embedding(ids);
  EXPECT_EQ(e.type().str(), "f32[2,3]");
  EXPECT_EQ(embedding.variables()[0].node().name, "embedding_0/embeddings");

  Graph h;
  auto x = constant(h, Tensor::from<double>({1, 4}, {1, 2, 3, 4}));
  LayerNorm norm(0.0);
  output("y", norm(x));
  // mean 2.5, variance 1.25: (x - 2.5) / sqrt(1.25), gamma 1, beta 0.
  Interpreter run(h);
  Tensor y = run.run({}).at("y");
  double s = std::sqrt(1.25);
  std::vector<double> want = {-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s};
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(y.as_double(i), want[i], 1e-12);
}

// The input shape from the first layer (Keras's Input): model(g) declares the input itself,
// and computes what the same layers compute on an input declared by hand.
TEST(Layers, AnInputLayerDeclaresTheModelsInput) {
  Graph a("a"), b("b");
  Sequential with_input(Input({DType::f32, {4, 3}}, "features"), Dense(5, Activation::tanh),
                        Dense(2));
  Value pa = with_input(a);
  ASSERT_TRUE(a.find("features"));
  EXPECT_EQ(a.node(*a.find("features")).op, Op::input);
  EXPECT_EQ(a.type(*a.find("features")), (TensorType{DType::f32, {4, 3}}));
  EXPECT_EQ(pa.type(), (TensorType{DType::f32, {4, 2}}));
  output("pred", pa);
  Sequential plain(Dense(5, Activation::tanh), Dense(2));
  output("pred", plain(input(b, "features", {DType::f32, {4, 3}})));
  std::vector<std::string> names_a, names_b;
  for (const Value& v : with_input.trainable_variables())
    names_a.push_back(v.graph().node(v.id()).name);
  for (const Value& v : plain.trainable_variables())
    names_b.push_back(v.graph().node(v.id()).name);
  EXPECT_EQ(names_a, names_b);
  EXPECT_EQ(names_a.front(), "dense_0/kernel");
  Tensor x = Tensor::from<float>({4, 3}, {1, 2, 3, 4, 5, 6, -1, -2, -3, 0.5, 0, 2});
  EXPECT_TRUE(Interpreter(a).run({{"features", x}}).at("pred") ==
              Interpreter(b).run({{"features", x}}).at("pred"));
}

TEST(Layers, InputLayerMistakesAreExplained) {
  Graph g;
  Sequential model(Input({DType::f32, {4, 3}}), Dense(2));
  try {
    model(input(g, "x", {DType::f32, {4, 7}}));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("Input(f32[4,3]): the model was called on"));
    EXPECT_THAT(e.what(), HasSubstr("f32[4,7]"));
    EXPECT_THAT(e.what(), HasSubstr("layers_test.cpp:"));
  }
  Sequential no_input(Dense(2));
  try {
    no_input(g);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("needs an Input layer first"));
    EXPECT_THAT(e.what(), HasSubstr("layers_test.cpp:"));
  }
}

} // namespace
} // namespace sj
