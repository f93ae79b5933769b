// `stepjit train` on a sequence model: token arrays x, y [N, T] against logits [B, T, V]; the
// final accuracy is judged per token.
#include "runtime/npy.h"
#include "tests/support/cli.h"

#include <fmt/format.h>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

TEST(CliSequence, TrainsOnTokenArraysAndScoresEachToken) {
  std::string dir = test::temp_dir("cli_sequence");
  // Learn the identity of 5 tokens: y = x, through an embedding and a projection.
  std::ofstream(dir + "/seq.sj") << R"(graph seq {
  %x = input : i32[2,3]
  %y = input : i32[2,3]
  %emb = variable {init = uniform, low = -0.5, high = 0.5, seed = 1} : f32[5,8]
  %w = variable {init = glorot_uniform, seed = 2} : f32[8,5]
  %0 = gather(%emb, %x) : f32[2,3,8]
  %logits = matmul(%0, %w) : f32[2,3,5]
  %1 = reshape(%logits) {shape = [6, 5]} : f32[6,5]
  %2 = reshape(%y) {shape = [6]} : i32[6]
  %loss = softmax_cross_entropy(%1, %2) : f32[]
  output logits = %logits
  output loss = %loss
}
)";
  std::vector<int32_t> ids;
  for (int i = 0; i < 8 * 3; ++i)
    ids.push_back((i * 7 + 3) % 5);
  write_npy(dir + "/x.npy", Tensor::from<int32_t>({8, 3}, ids));
  write_npy(dir + "/y.npy", Tensor::from<int32_t>({8, 3}, ids));
  auto r = test::run_stepjit(
      fmt::format("train {0}/seq.sj --x {0}/x.npy --y {0}/y.npy --epochs 60 --lr 0.05", dir));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("accuracy 1.0000 over 8 examples")) << r.out;
}

} // namespace
} // namespace sj
