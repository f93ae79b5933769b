// The interpreter's convolution, pooling and padding kernels against values computed by hand:
// small NHWC images with integer values, so every expected sum is exact. Covers TensorFlow's
// `same` padding with stride 2 on odd sizes and its odd pixel at the bottom/right, dilation,
// groups and depthwise kernels, 1x1 kernels, a kernel as large as the input, explicit pads,
// the gradients (also through the adjoint identity), the pooling tie and NaN rules, and the
// shape errors' messages.
#include "tests/runtime/kernel_test_util.h"

#include <numeric>

namespace sj::test {
namespace {

constexpr DType f32 = DType::f32, f64 = DType::f64;

std::vector<double> iota(int64_t n, double from = 1) {
  std::vector<double> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), from);
  return v;
}

// An NHWC image whose pixel (r, c) holds r * width + c + 1 (one channel).
Value image(Graph& g, int64_t h, int64_t w, DType dt = f32) {
  return lit(g, dt, {1, h, w, 1}, iota(h * w));
}

Value ones(Graph& g, Shape shape, DType dt = f32) {
  return lit(g, dt, shape, std::vector<double>(size_t(num_elements(shape)), 1.0));
}

TEST(Conv2d, OneByOneKernelMixesChannels) {
  for (DType dt : kFloatTypes) {
    Graph g;
    // Pixels (1,2), (3,4), (5,6), (7,8); one filter 10 c0 + c1.
    Value x = lit(g, dt, {1, 2, 2, 2}, iota(8));
    Value k = lit(g, dt, {1, 1, 2, 1}, {10, 1});
    expect_values(eval(conv2d(x, k)), dt, {1, 2, 2, 1}, {12, 34, 56, 78});
  }
}

TEST(Conv2d, KernelAsLargeAsTheInput) {
  Graph g;
  Value x = image(g, 3, 3);
  expect_values(eval(conv2d(x, ones(g, {3, 3, 1, 1}))), f32, {1, 1, 1, 1}, {45});
  // Kernel tap (r, c) = 3 r + c + 1: the sum of squares 1 + 4 + ... + 81.
  expect_values(eval(conv2d(x, lit(g, f32, {3, 3, 1, 1}, iota(9)))), f32, {1, 1, 1, 1}, {285});
}

TEST(Conv2d, SamePaddingWithStrideTwoOnOddSizes) {
  // 5x5 of ones, 3x3 ones, stride 2: ceil(5 / 2) = 3 outputs, one pixel of padding on each
  // side; each output counts the real pixels of its window: 2, 3, 2 rows and columns.
  Graph g;
  Value y = conv2d(ones(g, {1, 5, 5, 1}), ones(g, {3, 3, 1, 1}),
                   {.strides = {2, 2}, .padding = Padding::same()});
  expect_values(eval(y), f32, {1, 3, 3, 1}, {4, 6, 4, 6, 9, 6, 4, 6, 4});
}

TEST(Conv2d, SamePaddingPutsTheOddPixelAtTheBottomRight) {
  // 4x4 image (value 4 r + c + 1), 3x3 ones, stride 2: 2 outputs, 1 pixel of padding in all,
  // which TensorFlow puts after: windows cover rows 0-2 and 2-3 (not -1-1 and 1-3).
  Graph g;
  Value y = conv2d(image(g, 4, 4), ones(g, {3, 3, 1, 1}),
                   {.strides = {2, 2}, .padding = Padding::same()});
  // [0,0]: rows 0-2, cols 0-2; [0,1]: rows 0-2, cols 2-3; [1,0]: rows 2-3, cols 0-2; [1,1]:
  // rows 2-3, cols 2-3 = 11 + 12 + 15 + 16.
  expect_values(eval(y), f32, {1, 2, 2, 1}, {54, 45, 72, 54});
}

TEST(Conv2d, StridesWithoutPadding) {
  Graph g;
  // 2x2 blocks of the 4x4 image summed: 1+2+5+6, 3+4+7+8, 9+10+13+14, 11+12+15+16.
  Value y = conv2d(image(g, 4, 4), ones(g, {2, 2, 1, 1}), {.strides = {2, 2}});
  expect_values(eval(y), f32, {1, 2, 2, 1}, {14, 22, 46, 54});
}

TEST(Conv2d, Dilation) {
  // 5x5 image (x = 5 r + c + 1), 2x2 ones dilated by 2 (a 3x3 span): y = x(r,c) + x(r,c+2) +
  // x(r+2,c) + x(r+2,c+2) = 4 x(r,c) + 24.
  Graph g;
  Value y = conv2d(image(g, 5, 5), ones(g, {2, 2, 1, 1}), {.dilations = {2, 2}});
  std::vector<double> want;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      want.push_back(4 * (5 * r + c + 1) + 24);
  expect_values(eval(y), f32, {1, 3, 3, 1}, want);
}

TEST(Conv2d, GroupsAndDepthwise) {
  Graph g;
  // Two groups: filters 0-1 read channels 0-1, filters 2-3 channels 2-3; kernel [1,1,2,4].
  Value x = lit(g, f64, {1, 1, 1, 4}, {1, 2, 3, 4});
  Value k = lit(g, f64, {1, 1, 2, 4}, {1, 10, 100, 1000, 2, 20, 200, 2000});
  expect_values(eval(conv2d(x, k, {.groups = 2})), f64, {1, 1, 1, 4}, {5, 50, 1100, 11000});
  // Depthwise, multiplier 2: groups = C = 2, F = 4, kernel [1,1,1,4].
  Value x2 = lit(g, f64, {1, 1, 1, 2}, {3, 5});
  Value k2 = lit(g, f64, {1, 1, 1, 4}, {1, 2, 3, 4});
  expect_values(eval(conv2d(x2, k2, {.groups = 2})), f64, {1, 1, 1, 4}, {3, 6, 15, 20});
}

TEST(Conv2d, ExplicitPads) {
  Graph g;
  // One pixel 2, kernel 3; a row of padding on top and a column on the right.
  Value y = conv2d(lit(g, f32, {1, 1, 1, 1}, {2}), lit(g, f32, {1, 1, 1, 1}, {3}),
                   {.padding = Padding::explicit_pads(1, 0, 0, 1)});
  expect_values(eval(y), f32, {1, 2, 2, 1}, {0, 0, 6, 0});
}

TEST(Conv2d, ShapeErrorsSayWhatToChange) {
  Graph g;
  Value x = input(g, "x", {f32, {1, 5, 5, 3}});
  expect_error(
      [&] {
        conv2d(x, input(g, "k", {f32, {3, 3, 4, 8}}));
      },
      {"conv2d(f32[1,5,5,3], f32[3,3,4,8])", "the kernel [3,3,4,8] reads 4 input channels",
       "the input [1,5,5,3] has 3 channels", "make the kernel [3,3,3,8]"});
  expect_error(
      [&] {
        conv2d(x, input(g, "k2", {f32, {7, 3, 3, 8}}));
      },
      {"the window spans 7 rows, more than the unpadded input's 5 (padding = same keeps "
       "every pixel)"});
  expect_error(
      [&] {
        conv2d(x, input(g, "k3", {f32, {3, 3, 1, 8}}), {.groups = 2});
      },
      {"the input's 3 channels do not split into groups = 2"});
  expect_error(
      [&] {
        conv2d(input(g, "v", {f32, {5, 5, 3}}), input(g, "k4", {f32, {3, 3, 3, 8}}));
      },
      {"the input [5,5,3] must have rank 4, [batch, height, width, channels] (NHWC)"});
  expect_error(
      [&] {
        conv2d(x, input(g, "k5", {f32, {3, 3, 3, 8}}), {.strides = {0, 1}});
      },
      {"strides = [0, 1] must be 1 or more"});
  expect_error(
      [&] {
        conv2d(x, input(g, "k6", {f32, {3, 3, 3, 8}}),
               {.padding = {.mode = "same", .pads = {1, 1, 1, 1}}});
      },
      {"pads = [1, 1, 1, 1] are given but padding = same"});
  expect_error([&] { conv2d(x, input(g, "k7", {DType::f64, {3, 3, 3, 8}})); }, {"f64"});
}

TEST(Conv2dBackpropInput, OneByOneAndTheAdjointIdentity) {
  Graph g;
  // dx[pixel, c] = sum over filters of dy[pixel, f] k[c, f]: (10, 1) times dy.
  Value dy = lit(g, f32, {1, 2, 2, 1}, {1, 2, 3, 4});
  Value k = lit(g, f32, {1, 1, 2, 1}, {10, 1});
  expect_values(eval(conv2d_backprop_input(dy, k, {1, 2, 2, 2})), f32, {1, 2, 2, 2},
                {10, 1, 20, 2, 30, 3, 40, 4});
}

TEST(Conv2dBackpropInput, StrideTwoSamePadding) {
  // The 5x5 / 3x3 / stride 2 / same case: dx counts, for each pixel, the windows covering it
  // (rows 0-1 | 1-3 | 3-4, shared rows 1 and 3 count twice): 1, 2, 1, 2, 1 per dimension.
  Graph g;
  Value dx = conv2d_backprop_input(ones(g, {1, 3, 3, 1}), ones(g, {3, 3, 1, 1}), {1, 5, 5, 1},
                                   {.strides = {2, 2}, .padding = Padding::same()});
  std::vector<double> per = {1, 2, 1, 2, 1}, want;
  for (double r : per)
    for (double c : per)
      want.push_back(r * c);
  expect_values(eval(dx), f32, {1, 5, 5, 1}, want);
}

TEST(Conv2dBackpropKernel, OneByOneAndDilation) {
  Graph g;
  // dk[c] = sum over pixels of x[p, c] dy[p]: c0 1+6+15+28, c1 2+8+18+32.
  Value x = lit(g, f32, {1, 2, 2, 2}, iota(8));
  Value dy = lit(g, f32, {1, 2, 2, 1}, {1, 2, 3, 4});
  expect_values(eval(conv2d_backprop_kernel(x, dy, {1, 1, 2, 1})), f32, {1, 1, 2, 1}, {50, 60});
  // Dilated 2x2 on the 5x5 image with dy = ones: tap (i, j) sums x over rows 2i..2i+2 and
  // columns 2j..2j+2, i.e. 9 x(2i+1, 2j+1) = 9 (5 (2i+1) + 2j+2).
  Value dk = conv2d_backprop_kernel(image(g, 5, 5), ones(g, {1, 3, 3, 1}), {2, 2, 1, 1},
                                    {.dilations = {2, 2}});
  expect_values(eval(dk), f32, {2, 2, 1, 1}, {9 * 7, 9 * 9, 9 * 17, 9 * 19});
}

// <conv2d(x, k), dy> = <x, backprop_input(dy, k)> = <k, backprop_kernel(x, dy)>, exactly for
// integer data, over a case with every feature at once.
TEST(Conv2dBackpropKernel, AdjointIdentityOverStridesDilationGroupsAndPadding) {
  Graph g;
  Conv2dOptions o{.strides = {2, 1},
                  .padding = Padding::explicit_pads(1, 2, 0, 1),
                  .dilations = {1, 2},
                  .groups = 2};
  Shape xs{2, 5, 6, 4}, ks{2, 3, 2, 6};
  auto ints = [](int64_t n, int m) {
    std::vector<double> v;
    for (int64_t i = 0; i < n; ++i)
      v.push_back(double((i * i + 3 * i) % m) - 1);
    return v;
  };
  Value x = lit(g, f64, xs, ints(num_elements(xs), 5));
  Value k = lit(g, f64, ks, ints(num_elements(ks), 7));
  Value y = conv2d(x, k, o);
  Value dy = lit(g, f64, y.shape(), ints(num_elements(y.shape()), 3));
  double a = eval(reduce_sum(y * dy)).as_double(0);
  double b = eval(reduce_sum(x * conv2d_backprop_input(dy, k, xs, o))).as_double(0);
  double c = eval(reduce_sum(k * conv2d_backprop_kernel(x, dy, ks, o))).as_double(0);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_NE(a, 0);
}

TEST(MaxPool2d, WindowsSideBySideAndSamePadding) {
  Graph g;
  expect_values(eval(max_pool2d(image(g, 4, 4))), f32, {1, 2, 2, 1}, {6, 8, 14, 16});
  // 3x3 windows, stride 2, same on 5x5: padding never wins, even against negative values.
  Value neg = lit(g, f32, {1, 5, 5, 1}, iota(25, -30));
  expect_values(
      eval(max_pool2d(neg, {.window = {3, 3}, .strides = {2, 2}, .padding = Padding::same()})), f32,
      {1, 3, 3, 1}, {-24, -22, -21, -14, -12, -11, -9, -7, -6});
  // Integers, and NaN wins.
  expect_values(eval(max_pool2d(lit(g, DType::i32, {1, 2, 2, 1}, {-5, -3, -9, -4}))), DType::i32,
                {1, 1, 1, 1}, {-3});
  expect_values(eval(max_pool2d(lit(g, f64, {1, 2, 2, 1}, {1, kNaN, 3, 2}))), f64, {1, 1, 1, 1},
                {kNaN});
}

TEST(MaxPool2d, ShapeErrors) {
  Graph g;
  Value x = input(g, "x", {f32, {1, 4, 4, 1}});
  expect_error(
      [&] {
        max_pool2d(x, {.window = {5, 2}});
      },
      {"max_pool2d(f32[1,4,4,1])", "the window spans 5 rows, more than the unpadded input's 4"});
  expect_error(
      [&] {
        max_pool2d(x, {.window = {2, 2}, .padding = Padding::explicit_pads(2, 0, 0, 0)});
      },
      {"leave windows of 2 with no real pixel"});
  expect_error([&] { max_pool2d(x, {.window = {2}}); }, {"window must have 2 entries"});
}

TEST(MaxPool2dBackprop, GoesToTheFirstMaximumOrTheFirstNaN) {
  Graph g;
  Value dy = lit(g, f32, {1, 1, 1, 1}, {5});
  // Ties: the first maximum in row-major window order.
  expect_values(eval(max_pool2d_backprop(ones(g, {1, 2, 2, 1}), dy)), f32, {1, 2, 2, 1},
                {5, 0, 0, 0});
  expect_values(eval(max_pool2d_backprop(lit(g, f32, {1, 2, 2, 1}, {1, 3, 3, 2}), dy)), f32,
                {1, 2, 2, 1}, {0, 5, 0, 0});
  expect_values(eval(max_pool2d_backprop(lit(g, f32, {1, 2, 2, 1}, {1, 2, kNaN, kNaN}), dy)), f32,
                {1, 2, 2, 1}, {0, 0, 5, 0});
  // Overlapping windows add up: 3x3 windows, stride 1, same, on a 3x3 image with its maximum in
  // the centre: all 9 windows pick it.
  Value x = lit(g, f64, {1, 3, 3, 1}, {1, 2, 3, 4, 9, 5, 6, 7, 8});
  Value dy9 = lit(g, f64, {1, 3, 3, 1}, iota(9));
  std::vector<double> want(9, 0.0);
  want[4] = 45;
  expect_values(eval(max_pool2d_backprop(
                    x, dy9, {.window = {3, 3}, .strides = {1, 1}, .padding = Padding::same()})),
                f64, {1, 3, 3, 1}, want);
}

TEST(AvgPool2d, SamePaddingCountsOnlyRealPixels) {
  Graph g;
  // 3x3 windows, stride 1, same, on the 3x3 image: corner (1+2+4+5)/4, edge (1+...+6)/6,
  // centre 45/9.
  Value y = avg_pool2d(image(g, 3, 3, f64),
                       {.window = {3, 3}, .strides = {1, 1}, .padding = Padding::same()});
  expect_values(eval(y), f64, {1, 3, 3, 1}, {3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7});
  expect_values(eval(avg_pool2d(image(g, 4, 4))), f32, {1, 2, 2, 1}, {3.5, 5.5, 11.5, 13.5});
}

TEST(AvgPool2dBackprop, SpreadsEachGradientOverItsRealPixels) {
  Graph g;
  // dy of ones: pixel (0,0) is in windows with 4, 6, 6 and 9 real pixels.
  Value dx = avg_pool2d_backprop(ones(g, {1, 3, 3, 1}, f64), {1, 3, 3, 1},
                                 {.window = {3, 3}, .strides = {1, 1}, .padding = Padding::same()});
  // Corner (0,0): windows with 4, 6, 6 and 9 real pixels; edge (0,1): 4, 6, 4, 6, 9, 6;
  // centre: all nine, 4 corners of 4, 4 edges of 6 and itself with 9.
  double corner = 1.0 / 4 + 2.0 / 6 + 1.0 / 9, edge = 2.0 / 4 + 3.0 / 6 + 1.0 / 9,
         centre = 4.0 / 4 + 4.0 / 6 + 1.0 / 9;
  expect_values(eval(dx), f64, {1, 3, 3, 1},
                {corner, edge, corner, edge, centre, edge, corner, edge, corner});
}

TEST(Pad, AnyRankAndDtype) {
  Graph g;
  expect_values(eval(pad(lit(g, f32, {1, 2}, {1, 2}), {1, 0, 0, 1}, 7)), f32, {2, 3},
                {7, 7, 7, 1, 2, 7});
  expect_ints(eval(pad(lit(g, DType::i64, {2}, {4, 5}), {2, 1}, -1)), DType::i64, {5},
              {-1, -1, 4, 5, -1});
  expect_values(eval(pad(lit(g, DType::boolean, {1}, {1}), {1, 1})), DType::boolean, {3},
                {0, 1, 0});
  expect_values(eval(pad(lit(g, f64, {}, {3}), {})), f64, {}, {3});
  expect_values(eval(pad(lit(g, f32, {0, 2}, {}), {1, 1, 0, 0}, 2)), f32, {2, 2}, {2, 2, 2, 2});
  Value x = input(g, "x", {f32, {2, 3}});
  expect_error([&] { pad(x, {1, 1}); }, {"pad(f32[2,3])", "must have 2 entries per dimension"});
  expect_error([&] { pad(x, {0, 0, -1, 0}); }, {"must be 0 or more"});
}

} // namespace
} // namespace sj::test
