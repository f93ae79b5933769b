// The convolutional layers: Keras's variable names, layouts and numbering, batch
// normalization's two modes and its moving statistics (against values computed here by hand),
// the functional style of a residual block, and mistakes explained at the user's line.
// (Values and gradients of every layer: layer_gradients_test.cpp.)
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "tests/support/errors.h"
#include "tests/support/variable_names.h"

#include <cmath>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using test::error_of;
using ::testing::HasSubstr;

TEST(ConvLayers, VariablesAreNamedAndLaidOutAsKeras) {
  Graph g;
  Value x = input(g, "x", {DType::f32, {8, 28, 28, 3}});
  Conv2D conv(16, {3, 3}, {.padding = Padding::same(), .activation = Activation::relu});
  DepthwiseConv2D depthwise({3, 3}, {.depth_multiplier = 2});
  BatchNormalization bn;
  Conv2D conv2(8, {1, 1}, {.use_bias = false});
  Value h = conv2(bn(depthwise(conv(x)), CallMode::training));
  EXPECT_EQ(h.type().str(), "f32[8,26,26,8]");
  EXPECT_EQ(test::names_and_types(conv.variables()),
            (std::vector<std::string>{"conv2d_0/kernel f32[3,3,3,16]", "conv2d_0/bias f32[16]"}));
  EXPECT_EQ(test::names_and_types(depthwise.variables()),
            (std::vector<std::string>{"depthwise_conv2d_0/kernel f32[3,3,16,2]",
                                      "depthwise_conv2d_0/bias f32[32]"}));
  EXPECT_EQ(test::names_and_types(bn.variables()),
            (std::vector<std::string>{"batch_normalization_0/gamma f32[32]",
                                      "batch_normalization_0/beta f32[32]",
                                      "batch_normalization_0/moving_mean f32[32]",
                                      "batch_normalization_0/moving_variance f32[32]"}));
  // The moving statistics are state, not trained.
  EXPECT_EQ(test::names_and_types(bn.trainable_variables()),
            (std::vector<std::string>{"batch_normalization_0/gamma f32[32]",
                                      "batch_normalization_0/beta f32[32]"}));
  EXPECT_EQ(test::names_and_types(conv2.variables()),
            (std::vector<std::string>{"conv2d_1/kernel f32[1,1,32,8]"}));
  // Glorot's limit for a [3,3,3,16] kernel: sqrt(6 / (27 + 144)).
  Interpreter run(g);
  const Tensor& k = run.variable("conv2d_0/kernel");
  double limit = std::sqrt(6.0 / (27 + 144)), largest = 0;
  for (int64_t i = 0; i < k.num_elements(); ++i)
    largest = std::max(largest, std::abs(k.as_double(i)));
  EXPECT_LE(largest, limit);
  EXPECT_GT(largest, 0.9 * limit);
  EXPECT_EQ(run.variable("batch_normalization_0/moving_variance"),
            Tensor::from<float>({32}, std::vector<float>(32, 1.0f)));
}

TEST(ConvLayers, PoolingAndPaddingShapes) {
  Graph g;
  Value x = input(g, "x", {DType::f32, {2, 7, 5, 3}});
  EXPECT_EQ(MaxPooling2D()(x).type().str(), "f32[2,3,2,3]");
  EXPECT_EQ(MaxPooling2D({3, 3}, {.strides = {2, 2}, .padding = Padding::same()})(x).type().str(),
            "f32[2,4,3,3]");
  EXPECT_EQ(AveragePooling2D({2, 2}, {.strides = {1, 1}})(x).type().str(), "f32[2,6,4,3]");
  EXPECT_EQ(GlobalAveragePooling2D()(x).type().str(), "f32[2,3]");
  EXPECT_EQ(GlobalMaxPooling2D()(x).type().str(), "f32[2,3]");
  EXPECT_EQ(ZeroPadding2D({{{1, 2}, {0, 3}}})(x).type().str(), "f32[2,10,8,3]");
}

// Two channels over a batch of 2 one-pixel images: x = [[1, 10], [3, 30]]. Batch mean [2, 20],
// biased variance [1, 100]; momentum 0.5.
TEST(ConvLayers, BatchNormalizationTrainsOnTheBatchAndTracksMovingStatistics) {
  Graph g;
  Value x = input(g, "x", {DType::f64, {2, 1, 1, 2}});
  BatchNormalization bn({.momentum = 0.5, .epsilon = 0.0625});
  output("y", bn(x, CallMode::training));
  Interpreter run(g);
  Tensor feed = Tensor::from<double>({2, 1, 1, 2}, {1, 10, 3, 30});
  Tensor y = run.run({{"x", feed}}).at("y");
  // (x - mean) / sqrt(var + 1/16): channel 0 -> -+1/sqrt(1.0625), channel 1 -> -+10/sqrt(100.0625).
  double a = 1 / std::sqrt(1.0625), b = 10 / std::sqrt(100.0625);
  std::vector<double> want = {-a, -b, a, b};
  for (int i = 0; i < 4; ++i)
    EXPECT_DOUBLE_EQ(y.as_double(i), want[i]) << i;
  // moving = 0.5 * moving + 0.5 * batch, from mean 0 and variance 1.
  EXPECT_EQ(run.variable("batch_normalization_0/moving_mean"), Tensor::from<double>({2}, {1, 10}));
  EXPECT_EQ(run.variable("batch_normalization_0/moving_variance"),
            Tensor::from<double>({2}, {1, 50.5}));
  run.run({{"x", feed}});
  EXPECT_EQ(run.variable("batch_normalization_0/moving_mean"),
            Tensor::from<double>({2}, {1.5, 15}));

  // Inference uses the moving statistics: (x - [1.5, 15]) / sqrt([1, 50.5] * 0.75 + 0.25 + 1/16).
  Graph infer;
  Value xi = input(infer, "x", {DType::f64, {2, 1, 1, 2}});
  output("y", bn(xi));
  Interpreter serve(infer);
  serve.set_variable("batch_normalization_0/moving_mean",
                     run.variable("batch_normalization_0/moving_mean"));
  serve.set_variable("batch_normalization_0/moving_variance",
                     run.variable("batch_normalization_0/moving_variance"));
  Tensor yi = serve.run({{"x", feed}}).at("y");
  double v0 = 0.5 * 1 + 0.5 * 1, v1 = 0.5 * 50.5 + 0.5 * 100;
  std::vector<double> served = {
      (1 - 1.5) / std::sqrt(v0 + 0.0625), (10 - 15) / std::sqrt(v1 + 0.0625),
      (3 - 1.5) / std::sqrt(v0 + 0.0625), (30 - 15) / std::sqrt(v1 + 0.0625)};
  for (int i = 0; i < 4; ++i)
    EXPECT_DOUBLE_EQ(yi.as_double(i), served[i]) << i;
}

// The functional style: layers called on any value, a residual connection by plain arithmetic.
TEST(ConvLayers, AResidualBlockTrainsCompiledAndBitIdenticalForOneAndTwoThreads) {
  auto build = [] {
    auto g = std::make_unique<Graph>("residual");
    Value x = input(*g, "x", {DType::f32, {4, 6, 6, 4}});
    Value labels = input(*g, "labels", {DType::i32, {4}});
    Conv2D conv1(4, {3, 3}, {.padding = Padding::same(), .use_bias = false});
    BatchNormalization bn1;
    Conv2D conv2(4, {3, 3}, {.padding = Padding::same(), .use_bias = false});
    BatchNormalization bn2;
    Value h = relu(bn1(conv1(x), CallMode::training));
    h = bn2(conv2(h), CallMode::training);
    Value y = relu(h + x); // the skip connection
    Dense head(3);
    Value logits = head(GlobalAveragePooling2D()(y));
    Value loss = sparse_categorical_crossentropy_from_logits(logits, labels);
    output("loss", loss);
    std::vector<Value> vars;
    for (Layer* l : std::initializer_list<Layer*>{&conv1, &bn1, &conv2, &bn2, &head})
      for (const Value& v : l->trainable_variables())
        vars.push_back(v);
    Adam({.learning_rate = 0.05}).minimize(loss, vars);
    return g;
  };
  std::vector<float> pixels(4 * 6 * 6 * 4);
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<float>(std::sin(0.37 * double(i)));
  std::map<std::string, Tensor> feeds = {{"x", Tensor::from<float>({4, 6, 6, 4}, pixels)},
                                         {"labels", Tensor::from<int32_t>({4}, {0, 1, 2, 1})}};
  auto g = build();
  std::vector<float> losses[2];
  std::map<std::string, Tensor> final_vars[2];
  for (int threads : {1, 2}) {
    CompiledStep step = CompiledStep::compile(*g, {.threads = threads});
    for (int i = 0; i < 60; ++i)
      losses[threads - 1].push_back(static_cast<float>(step.run(feeds).at("loss").as_double(0)));
    for (const char* name : {"conv2d_0/kernel", "batch_normalization_1/moving_variance"})
      final_vars[threads - 1][name] = step.variable(name);
  }
  EXPECT_LT(losses[0].back(), 0.1 * losses[0].front()); // (1.26 -> 0.04 when written)
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(final_vars[0], final_vars[1]);
  // The interpreter agrees on the first steps.
  Interpreter run(*g);
  for (int i = 0; i < 3; ++i)
    EXPECT_NEAR(run.run(feeds).at("loss").as_double(0), losses[0][i], 1e-4 * (1 + losses[0][i]));
}

TEST(ConvLayers, MistakesAreExplainedAtTheUsersLine) {
  Graph g;
  Value flat = input(g, "flat", {DType::f32, {8, 784}});
  Value image = input(g, "image", {DType::f32, {8, 28, 28, 3}});
  EXPECT_THAT(error_of([&] {
                Conv2D(32, {3, 3})(flat);
              }),
              AllOf(HasSubstr("conv_layers_test.cpp:"),
                    HasSubstr("Conv2D(32, 3x3): needs a floating-point image batch [N, H, W, C] "
                              "(NHWC), got f32[8,784]")));
  EXPECT_THAT(error_of([&] { Conv2D(32, {3}); }),
              HasSubstr("Conv2D: kernel_size must be two positive integers [height, width], got "
                        "[3]"));
  EXPECT_THAT(error_of([&] {
                Conv2D(32, {3, 3}, {.groups = 2})(image);
              }),
              HasSubstr("Conv2D(32, 3x3): the input's 3 channels (f32[8,28,28,3]) do not split "
                        "into groups = 2"));
  EXPECT_THAT(error_of([&] {
                Conv2D(30, {3, 3}, {.groups = 4});
              }),
              HasSubstr("groups = 4 must be positive and divide filters"));
  // A window larger than the image is the op's error, at the layer's line.
  Value small = input(g, "small", {DType::f32, {1, 2, 2, 1}});
  EXPECT_THAT(error_of([&] {
                Conv2D(1, {3, 3})(small);
              }),
              AllOf(HasSubstr("conv_layers_test.cpp:"), HasSubstr("the window spans 3 rows")));
  EXPECT_THAT(error_of([&] {
                MaxPooling2D({0, 2});
              }),
              HasSubstr("MaxPooling2D: pool_size must be two positive integers"));
  EXPECT_THAT(error_of([&] { BatchNormalization({.momentum = 1.5}); }),
              HasSubstr("momentum must be in [0, 1]"));
  BatchNormalization bn;
  bn(image, CallMode::training);
  EXPECT_THAT(error_of([&] { bn(image, CallMode::training); }),
              HasSubstr("BatchNormalization 'batch_normalization_0': called in training mode "
                        "twice in one graph"));
  EXPECT_THAT(error_of([&] {
                ZeroPadding2D({{{-1, 0}, {0, 0}}});
              }),
              HasSubstr("ZeroPadding2D: padding must be >= 0"));
}

} // namespace
} // namespace sj
