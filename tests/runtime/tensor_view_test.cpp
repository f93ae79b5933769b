// Feeding a compiled step straight from host containers, without copies.
#include "graph/parse.h"
#include "runtime/compiled_step.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

const char* kGraph = R"(graph g {
  %x = input : f32[2,3]
  %y = reduce_sum(%x) {axes = [1]} : f32[2]
  output y = %y
})";

TEST(TensorView, FeedsFromVectorSpanAndEigen) {
  auto step = CompiledStep::compile(parse(kGraph));
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(step.run({{"x", TensorView(v, {2, 3})}}).at("y"), Tensor::from<float>({2}, {6, 15}));
  std::span<const float> s(v);
  EXPECT_EQ(step.run({{"x", TensorView(s, {2, 3})}}).at("y"), Tensor::from<float>({2}, {6, 15}));
  Eigen::Matrix<float, 2, 3, Eigen::RowMajor> m;
  m << 1, 1, 1, 2, 2, 2;
  EXPECT_EQ(step.run({{"x", TensorView(m)}}).at("y"), Tensor::from<float>({2}, {3, 6}));
  // A view reads the caller's memory: change it, run again.
  v[0] = 100;
  EXPECT_EQ(step.run({{"x", TensorView(v, {2, 3})}}).at("y"), Tensor::from<float>({2}, {105, 15}));
  // Tensors still work, by braced list and as a named map.
  std::map<std::string, Tensor> feeds{{"x", Tensor::from<float>({2, 3}, v)}};
  EXPECT_EQ(step.run(feeds).at("y"), Tensor::from<float>({2}, {105, 15}));
}

TEST(TensorView, MistakesAreExplained) {
  std::vector<float> v(5);
  try {
    TensorView bad(v, {2, 3});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.message(), HasSubstr("5 elements do not fill the shape [2,3] (6 elements)"));
    EXPECT_THAT(e.location().file, HasSubstr("tensor_view_test.cpp"));
  }
  Eigen::MatrixXf column_major(2, 3);
  EXPECT_THROW(TensorView{column_major}, Error);
  auto step = CompiledStep::compile(parse(kGraph));
  std::vector<double> d(6);
  try {
    step.run({{"x", TensorView(d, {2, 3})}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.message(), HasSubstr("input 'x' is declared f32[2,3], but its feed is f64[2,3]"));
  }
}

} // namespace
} // namespace sj
