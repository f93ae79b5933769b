// Construction-time diagnostics: every shape or dtype error names the op, the operand types,
// what was expected, and the user's own line (captured by std::source_location).
#include "graph/builder.h"

#include <fmt/format.h>
#include <functional>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <string>

namespace sj {
namespace {

using ::testing::HasSubstr;

// Runs `build`, which must throw sj::Error, and returns the error.
Error error_of(const std::function<void()>& build) {
  try {
    build();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an sj::Error";
  return Error({}, "");
}

TEST(ShapeErrors, MatmulInnerDimensionsNameShapesLineAndSuggestTransposeB) {
  Graph g;
  auto x = input(g, "x", {DType::f32, {32, 100}});
  auto w = variable(g, "w", {DType::f32, {10, 100}});
  const uint32_t line = __LINE__ + 1;
  Error e = error_of([&] { matmul(x, w); });
  EXPECT_THAT(e.message(), HasSubstr("matmul(f32[32,100], f32[10,100])"));
  EXPECT_THAT(e.message(), HasSubstr("inner dimensions differ"));
  EXPECT_THAT(e.message(), HasSubstr("100"));
  EXPECT_THAT(e.message(), HasSubstr("10"));
  EXPECT_THAT(e.message(), HasSubstr("did you mean transpose_b = true?"));
  EXPECT_EQ(e.location().line, line);
  EXPECT_THAT(e.location().file, HasSubstr("shape_errors_test.cpp"));
  EXPECT_THAT(std::string(e.what()), HasSubstr(fmt::format("shape_errors_test.cpp:{}:", line)));
}

TEST(ShapeErrors, MatmulSuggestsTransposeA) {
  Graph g;
  auto a = input(g, "a", {DType::f32, {100, 32}});
  auto b = input(g, "b", {DType::f32, {100, 10}});
  Error e = error_of([&] { matmul(a, b); });
  EXPECT_THAT(e.message(), HasSubstr("did you mean transpose_a = true?"));
  // With the flag the same operands are fine.
  EXPECT_EQ(matmul(a, b, {.transpose_a = true}).type().str(), "f32[32,10]");
}

TEST(ShapeErrors, MatmulNeedsRankTwo) {
  Graph g;
  auto a = input(g, "a", {DType::f32, {4}});
  auto b = input(g, "b", {DType::f32, {4, 2}});
  EXPECT_THAT(error_of([&] { matmul(a, b); }).message(), HasSubstr("has rank 1"));
}

TEST(ShapeErrors, OperatorsReportTheUsersLine) {
  Graph g;
  auto a = input(g, "a", {DType::f32, {2, 3}});
  auto b = input(g, "b", {DType::f32, {4}});
  uint32_t line = __LINE__ + 1;
  Error e = error_of([&] { a + b; });
  EXPECT_THAT(e.message(), HasSubstr("add(f32[2,3], f32[4])"));
  EXPECT_THAT(e.message(), HasSubstr("do not broadcast"));
  EXPECT_EQ(e.location().line, line);
  line = __LINE__ + 1;
  Error e2 = error_of([&] { b * 2.0 + a; });
  EXPECT_EQ(e2.location().line, line);
}

TEST(ShapeErrors, MixedDtypesSuggestCast) {
  Graph g;
  auto a = input(g, "a", {DType::f32, {3}});
  auto b = input(g, "b", {DType::f64, {3}});
  Error e = error_of([&] { add(a, b); });
  EXPECT_THAT(e.message(), HasSubstr("add(f32[3], f64[3])"));
  EXPECT_THAT(e.message(), HasSubstr("same dtype"));
  EXPECT_THAT(e.message(), HasSubstr("cast"));
}

TEST(ShapeErrors, FloatOnlyOpsRejectIntegers) {
  Graph g;
  auto i = input(g, "i", {DType::i32, {3}});
  EXPECT_THAT(error_of([&] { exp(i); }).message(), HasSubstr("must be floating point"));
  EXPECT_THAT(error_of([&] { div(i, i); }).message(), HasSubstr("must be floating point"));
  EXPECT_THAT(error_of([&] { reduce_mean(i); }).message(), HasSubstr("must be floating point"));
  auto bl = greater(i, i);
  EXPECT_EQ(bl.type().str(), "bool[3]");
  EXPECT_THAT(error_of([&] { neg(bl); }).message(), HasSubstr("not bool"));
}

TEST(ShapeErrors, ReductionAxes) {
  Graph g;
  auto x = input(g, "x", {DType::f32, {2, 3}});
  EXPECT_THAT(error_of([&] { reduce_sum(x, {2}); }).message(),
              HasSubstr("axes entry = 2 is out of range for rank 2"));
  EXPECT_THAT(error_of([&] { reduce_sum(x, {1, -1}); }).message(), HasSubstr("twice"));
  auto e = input(g, "e", {DType::f32, {0, 3}});
  EXPECT_THAT(error_of([&] { reduce_max(e, {0}); }).message(), HasSubstr("size 0"));
  EXPECT_EQ(reduce_sum(e, {0}).type().str(), "f32[3]"); // an empty sum is 0
}

TEST(ShapeErrors, ArgmaxNamesTheOpShapeAxisAndLine) {
  Graph g;
  auto x = input(g, "x", {DType::f32, {2, 3}});
  const uint32_t line = __LINE__ + 1;
  Error e = error_of([&] { argmax(x, 2); });
  EXPECT_THAT(e.message(), HasSubstr("argmax(f32[2,3])"));
  EXPECT_THAT(e.message(), HasSubstr("axis = 2 is out of range for rank 2"));
  EXPECT_EQ(e.location().line, line);
  EXPECT_THAT(e.location().file, HasSubstr("shape_errors_test.cpp"));
  EXPECT_EQ(argmax(x, -1).type().str(), "i64[2]");
  EXPECT_EQ(argmax(x, 0, /*keepdims=*/true).type().str(), "i64[1,3]");
  auto empty = input(g, "empty", {DType::i32, {2, 0}});
  EXPECT_THAT(error_of([&] { argmax(empty, 1); }).message(),
              HasSubstr("argmax(i32[2,0]): dimension 1 has size 0"));
  EXPECT_EQ(argmax(empty, 0).type().str(), "i64[0]"); // no rows: nothing to find
  auto scalar = input(g, "s", {DType::f64, {}});
  EXPECT_THAT(error_of([&] { argmax(scalar, 0); }).message(), HasSubstr("needs rank 1 or more"));
  auto flags = input(g, "b", {DType::boolean, {3}});
  EXPECT_THAT(error_of([&] { argmax(flags, 0); }).message(), HasSubstr("argmax(bool[3])"));
}

TEST(ShapeErrors, LayerNormNamesTheOpShapesDtypesAndLine) {
  Graph g;
  auto x = input(g, "x", {DType::f32, {4, 6}});
  auto c6 = input(g, "c6", {DType::f32, {6}});
  auto c4 = input(g, "c4", {DType::f32, {4}});
  const uint32_t line = __LINE__ + 1;
  Error e = error_of([&] { layer_norm(x, c4, c6); });
  EXPECT_THAT(e.message(), HasSubstr("layer_norm(f32[4,6], f32[4], f32[6])"));
  EXPECT_THAT(e.message(), HasSubstr("gamma [4] must hold one value per feature"));
  EXPECT_THAT(e.message(), HasSubstr("expected [6]"));
  EXPECT_EQ(e.location().line, line);
  EXPECT_THAT(error_of([&] { layer_norm(x, c6, c4); }).message(), HasSubstr("beta [4]"));
  auto d6 = input(g, "d6", {DType::f64, {6}});
  EXPECT_THAT(error_of([&] { layer_norm(x, d6, c6); }).message(),
              HasSubstr("layer_norm(f32[4,6], f64[6], f32[6])"));
  auto ints = input(g, "i", {DType::i32, {4, 6}});
  EXPECT_THAT(error_of([&] { layer_norm(ints, c6, c6); }).message(), HasSubstr("i32"));
  auto s = input(g, "s", {DType::f32, {}});
  EXPECT_THAT(error_of([&] { layer_norm(s, s, s); }).message(), HasSubstr("rank 1 or more"));
  auto e0 = input(g, "e0", {DType::f32, {3, 0}});
  auto c0 = input(g, "c0", {DType::f32, {0}});
  EXPECT_THAT(error_of([&] { layer_norm(e0, c0, c0); }).message(),
              HasSubstr("last dimension has size 0"));
  EXPECT_THAT(error_of([&] { layer_norm(x, c6, c6, -1); }).message(),
              HasSubstr("epsilon = -1 must be a finite number >= 0"));
  EXPECT_EQ(layer_norm(x, c6, c6).type().str(), "f32[4,6]");
  EXPECT_EQ(layer_norm_stats(x).type().str(), "f32[4,2]");
  // The backward: dy like x, stats [..., 2].
  auto stats = layer_norm_stats(x);
  EXPECT_THAT(error_of([&] { layer_norm_backprop(x, c6, c6, stats); }).message(),
              HasSubstr("dy [6] must have x's shape [4,6]"));
  EXPECT_THAT(error_of([&] { layer_norm_backprop(x, c6, x, x); }).message(),
              HasSubstr("stats [4,6] must be x's shape with a last dimension of 2, [4,2]"));
  EXPECT_EQ(layer_norm_backprop(x, c6, x, stats).type().str(), "f32[4,6]");
}

TEST(ShapeErrors, LayoutOps) {
  Graph g;
  auto x = input(g, "x", {DType::f32, {2, 3}});
  EXPECT_THAT(error_of([&] {
                reshape(x, {4, 2});
              }).message(),
              HasSubstr("cannot reshape 6 elements into shape [4,2] (8 elements)"));
  EXPECT_THAT(error_of([&] { reshape(x, {-1, 4}); }).message(), HasSubstr("divide evenly"));
  EXPECT_EQ(reshape(x, {-1}).type().str(), "f32[6]");
  EXPECT_THAT(error_of([&] { transpose(x, {0, 0}); }).message(), HasSubstr("is not a permutation"));
  EXPECT_THAT(error_of([&] {
                broadcast_to(x, {3, 3});
              }).message(),
              HasSubstr("[2,3] does not broadcast to [3,3]"));
  EXPECT_THAT(error_of([&] { slice(x, {0, 1}, {2, 4}); }).message(), HasSubstr("dimension 1"));
  auto y = input(g, "y", {DType::f32, {3, 3}});
  EXPECT_THAT(error_of([&] { concat({x, y}, 1); }).message(), HasSubstr("outside axis 1"));
  EXPECT_EQ(concat({x, y}, 0).type().str(), "f32[5,3]");
}

TEST(ShapeErrors, NeuralNetworkOps) {
  Graph g;
  auto logits = input(g, "logits", {DType::f32, {8, 10}});
  auto good = input(g, "good", {DType::i32, {8}});
  auto bad = input(g, "bad", {DType::i32, {8, 10}});
  auto real = input(g, "real", {DType::f32, {8}});
  EXPECT_EQ(softmax_cross_entropy(logits, good).type().str(), "f32[]");
  EXPECT_THAT(error_of([&] { softmax_cross_entropy(logits, bad); }).message(),
              HasSubstr("expected shape [8], got [8,10]"));
  EXPECT_THAT(error_of([&] { softmax_cross_entropy(logits, real); }).message(),
              HasSubstr("must be an integer"));
  EXPECT_THAT(error_of([&] { softmax(logits, 2); }).message(), HasSubstr("out of range"));
  EXPECT_THAT(error_of([&] { one_hot(good, 0); }).message(), HasSubstr("depth = 0"));
  EXPECT_EQ(gather(logits, bad).type().str(), "f32[8,10,10]");
}

TEST(ShapeErrors, SourcesAndState) {
  Graph g;
  auto x = input(g, "x", {DType::f32, {3}});
  auto v = variable(g, "v", {DType::f32, {3}});
  EXPECT_THAT(error_of([&] {
                input(g, "x", {DType::f32, {3}});
              }).message(),
              HasSubstr("already used"));
  EXPECT_THAT(error_of([&] {
                input(g, "3x", {DType::f32, {3}});
              }).message(),
              HasSubstr("not a valid name"));
  EXPECT_THAT(error_of([&] {
                input(g, "neg", {DType::f32, {-1}});
              }).message(),
              HasSubstr("negative dimension"));
  EXPECT_THAT(error_of([&] {
                input(g, "big", {DType::f32, {1 << 30, 1 << 30, 4}});
              }).message(),
              HasSubstr("2^40"));
  EXPECT_THAT(error_of([&] {
                input(g, "deep", {DType::f32, {1, 1, 1, 1, 1, 1, 1}});
              }).message(),
              HasSubstr("rank 7"));
  EXPECT_THAT(error_of([&] {
                variable(g, "iv", {DType::i32, {3}}, Init::he_normal(1));
              }).message(),
              HasSubstr("needs a floating-point variable"));
  EXPECT_THAT(error_of([&] { assign(x, x); }).message(), HasSubstr("only variables hold state"));
  auto d = input(g, "d", {DType::f64, {3}});
  EXPECT_THAT(error_of([&] { assign(v, d); }).message(), HasSubstr("differs from variable 'v'"));
  assign(v, x);
  EXPECT_THAT(error_of([&] { assign(v, x); }).message(), HasSubstr("already assigned"));
  // A failed construction leaves the graph unchanged.
  size_t before = g.size();
  error_of([&] { add(x, d); });
  EXPECT_EQ(g.size(), before);
}

TEST(ShapeErrors, OperandsFromAnotherGraph) {
  Graph g1("one"), g2("two");
  auto a = input(g1, "a", {DType::f32, {3}});
  auto b = input(g2, "b", {DType::f32, {3}});
  EXPECT_THAT(error_of([&] { add(a, b); }).message(), HasSubstr("different graphs"));
}

} // namespace
} // namespace sj
