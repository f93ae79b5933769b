// The f32 convolution kernels (kernels/conv.h), through compiled steps: conv2d,
// conv2d_backprop_input and conv2d_backprop_kernel against the reference interpreter on many
// geometries (strides 1-3, dilations, same / valid / explicit padding, odd sizes, 1x1
// kernels, a kernel as large as the input, groups, N > 1, channel counts that are not
// multiples of 16, shapes large enough for several cache blocks and threads), and the same
// step on 1, 2 and 3 threads bit-identical. Also on the AVX2 and portable GEMM paths (their
// scalar packers), and bias + relu run as the conv's GEMM epilogue.
#include "kernels/gemm.h"
#include "tests/codegen/jit_check_util.h"

#include <gtest/gtest.h>

namespace sj::test {
using jit_test::element_error;
using jit_test::Tol;
namespace {

struct Geometry {
  std::string name;
  Shape x, kernel;
  Conv2dOptions options;
};

std::vector<Geometry> geometries() {
  using P = Padding;
  return {
      {"valid_3x3", {1, 5, 6, 3}, {3, 3, 3, 4}, {}},
      {"same_3x3_n2", {2, 7, 5, 5}, {3, 3, 5, 7}, {.padding = P::same()}},
      {"same_stride2_odd", {2, 9, 7, 3}, {3, 3, 3, 5}, {.strides = {2, 2}, .padding = P::same()}},
      {"stride3_valid", {1, 11, 10, 2}, {2, 3, 2, 3}, {.strides = {3, 3}}},
      {"stride_2x1_same_even_kernel",
       {2, 8, 6, 3},
       {4, 2, 3, 6},
       {.strides = {2, 1}, .padding = P::same()}},
      {"dilated", {1, 9, 9, 4}, {3, 3, 4, 5}, {.dilations = {2, 3}}},
      {"dilated_strided_same",
       {2, 10, 9, 3},
       {3, 2, 3, 4},
       {.strides = {2, 3}, .padding = P::same(), .dilations = {2, 2}}},
      {"explicit_pads", {1, 6, 5, 4}, {3, 3, 4, 3}, {.padding = P::explicit_pads(2, 0, 1, 3)}},
      {"explicit_pads_stride2_dilated",
       {2, 7, 8, 3},
       {2, 3, 3, 5},
       {.strides = {2, 2}, .padding = P::explicit_pads(1, 2, 0, 1), .dilations = {2, 1}}},
      {"pointwise", {2, 5, 7, 6}, {1, 1, 6, 9}, {}},
      {"pointwise_same", {1, 4, 4, 17}, {1, 1, 17, 5}, {.padding = P::same()}},
      {"pointwise_stride2", {1, 7, 7, 3}, {1, 1, 3, 4}, {.strides = {2, 2}}},
      {"pointwise_padded", {1, 3, 4, 2}, {1, 1, 2, 3}, {.padding = P::explicit_pads(1, 0, 0, 2)}},
      {"kernel_as_large_as_input", {3, 4, 5, 2}, {4, 5, 2, 3}, {}},
      {"kernel_larger_than_input_same", {1, 3, 3, 2}, {5, 5, 2, 3}, {.padding = P::same()}},
      {"one_channel", {3, 9, 8, 1}, {3, 3, 1, 5}, {}},
      {"one_filter", {2, 6, 6, 5}, {3, 3, 5, 1}, {.padding = P::same()}},
      {"groups2", {2, 6, 5, 6}, {3, 3, 3, 4}, {.padding = P::same(), .groups = 2}},
      {"groups3_strided",
       {1, 8, 7, 9},
       {2, 2, 3, 6},
       {.strides = {2, 1}, .padding = P::explicit_pads(1, 0, 1, 1), .groups = 3}},
      {"depthwise", {2, 6, 6, 4}, {3, 3, 1, 8}, {.padding = P::same(), .groups = 4}},
      {"pointwise_groups", {2, 4, 3, 6}, {1, 1, 2, 9}, {.groups = 3}},
      // Several KC blocks of K (> 256), several MC blocks of M and enough flops for threads.
      {"large_k", {2, 12, 11, 37}, {3, 3, 37, 19}, {.padding = P::same()}},
      {"large_m_wide_f", {3, 20, 19, 5}, {3, 3, 5, 70}, {}},
      {"large_strided", {2, 21, 23, 24}, {3, 3, 24, 33}, {.strides = {2, 2}, .padding = P::same()}},
      // A first layer: a small kernel gradient over many pixels (its K split in fixed chunks).
      {"first_layer", {9, 30, 30, 1}, {3, 3, 1, 8}, {}},
      {"first_layer_same", {5, 28, 28, 1}, {3, 3, 1, 4}, {.padding = P::same()}},
      // The direct kernels (K = KH*KW*C <= 32, F a multiple of 16 up to 64): F = 16, 32, 48,
      // 64, unpadded and padded, strided and dilated, more pixels than one 256-pixel block.
      {"direct_mnist_conv1", {3, 28, 28, 1}, {3, 3, 1, 32}, {}},
      {"direct_same_stride2_dilated",
       {2, 13, 11, 2},
       {3, 3, 2, 16},
       {.strides = {2, 2}, .padding = P::same(), .dilations = {1, 2}}},
      {"direct_rgb_f48", {2, 10, 9, 3}, {3, 3, 3, 48}, {.padding = P::same()}},
      {"direct_f64_5x5", {1, 12, 12, 1}, {5, 5, 1, 64}, {.strides = {1, 2}}},
  };
}

std::vector<float> random_values(Rng& rng, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v)
    x = float(rng.uniform(-1, 1));
  return v;
}

// The three ops of one convolution as outputs of one graph.
struct Case {
  Graph graph;
  std::map<std::string, Tensor> feeds;
  // Terms summed per element of each output: the scale of its rounding error.
  std::map<std::string, int64_t> terms;
};

Case make_case(const Geometry& k, uint64_t seed) {
  Case c;
  Graph& g = c.graph;
  Value x = input(g, "x", {DType::f32, k.x});
  Value w = input(g, "k", {DType::f32, k.kernel});
  Value y = conv2d(x, w, k.options);
  Value dy = input(g, "dy", {DType::f32, y.shape()});
  output("y", y);
  output("dx", conv2d_backprop_input(dy, w, k.x, k.options));
  output("dk", conv2d_backprop_kernel(x, dy, k.kernel, k.options));
  Rng rng(seed);
  for (auto [name, shape] :
       {std::pair{"x", k.x}, std::pair{"k", k.kernel}, std::pair{"dy", y.shape()}})
    c.feeds[name] = Tensor::from(shape, random_values(rng, num_elements(shape)));
  const Shape& ys = y.shape();
  int64_t taps = k.kernel[0] * k.kernel[1];
  c.terms = {{"y", taps * k.kernel[2]},
             {"dx", taps * k.kernel[3] / k.options.groups},
             {"dk", ys[0] * ys[1] * ys[2]}};
  return c;
}

// Compiled vs interpreter under the accumulate tolerance, its floor the terms' count / 16
// (at least 8): f32 sums of that many products of magnitude <= 1 in another order.
void expect_close(const std::map<std::string, Tensor>& got,
                  const std::map<std::string, Tensor>& want, const Case& c,
                  const std::string& what) {
  for (const auto& [name, w] : want) {
    const Tensor& t = got.at(name);
    ASSERT_EQ(t.shape(), w.shape()) << what << " " << name;
    double floor = std::max<double>(8, double(c.terms.at(name)) / 16);
    std::string bad = compare_tensors(t, w, Tol::accumulate, name, floor);
    EXPECT_EQ(bad, "") << what << " " << name;
  }
}

class ConvKernels : public ::testing::TestWithParam<Geometry> {};

TEST_P(ConvKernels, MatchTheInterpreterAndAreBitIdenticalOnAnyThreadCount) {
  const Geometry& k = GetParam();
  Case c = make_case(k, 12345);
  Interpreter interp(c.graph);
  auto want = interp.run(c.feeds);
  std::map<std::string, Tensor> one;
  for (int threads : {1, 2, 3}) {
    auto step = CompiledStep::compile(c.graph, {.threads = threads});
    auto got = step.run(c.feeds);
    expect_close(got, want, c, fmt::format("{} threads", threads));
    if (threads == 1) {
      one = got;
      continue;
    }
    for (const auto& [name, t] : got)
      EXPECT_TRUE(t == one.at(name)) << name << " on " << threads << " threads";
  }
}

TEST_P(ConvKernels, MatchTheInterpreterOnTheAvx2AndPortablePaths) {
  const Geometry& k = GetParam();
  Case c = make_case(k, 777);
  Interpreter interp(c.graph);
  auto want = interp.run(c.feeds);
  for (GemmPath path : {GemmPath::avx2, GemmPath::portable}) {
    if (!force_gemm_path(path)) continue;
    auto step = CompiledStep::compile(c.graph, {.threads = 2});
    auto got = step.run(c.feeds);
    reset_gemm_path();
    expect_close(got, want, c, gemm_path_name(path));
  }
}

INSTANTIATE_TEST_SUITE_P(Geometries, ConvKernels, ::testing::ValuesIn(geometries()),
                         [](const auto& info) { return info.param.name; });

// relu(conv2d(x, k) + bias): the bias add and the relu run inside the convolution's GEMM
// (`# epilogue of` in the fused stage), with the interpreter's values.
TEST(ConvEpilogue, BiasAndReluRunInsideTheConvolution) {
  Graph g;
  Shape xs = {4, 12, 12, 8}, ks = {3, 3, 8, 32};
  Value x = input(g, "x", {DType::f32, xs});
  Value w = input(g, "k", {DType::f32, ks});
  Value bias = input(g, "b", {DType::f32, {32}});
  output("y", relu(conv2d(x, w, {.padding = Padding::same()}) + bias));
  Rng rng(5);
  std::map<std::string, Tensor> feeds = {
      {"x", Tensor::from(xs, random_values(rng, num_elements(xs)))},
      {"k", Tensor::from(ks, random_values(rng, num_elements(ks)))},
      {"b", Tensor::from(Shape{32}, random_values(rng, 32))}};
  Interpreter interp(g);
  auto want = interp.run(feeds);
  std::vector<StageText> stages;
  auto step = CompiledStep::compile(g, {.stages = &stages, .threads = 2});
  std::string fused;
  for (const StageText& s : stages)
    if (s.stage == "fused") fused = s.text;
  EXPECT_NE(fused.find("# epilogue of"), std::string::npos) << fused;
  auto got = step.run(feeds);
  const Tensor& y = got.at("y");
  for (int64_t i = 0; i < y.num_elements(); ++i)
    ASSERT_LE(element_error(y, want.at("y"), i, Tol::accumulate, 8), 1.0) << i;
}

} // namespace
} // namespace sj::test
