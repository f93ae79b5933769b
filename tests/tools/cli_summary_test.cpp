// stepjit summary, run as a user would run it.
#include "tests/support/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using test::run_stepjit;
using test::source_path;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(CliSummary, ForwardGraphSaysSo) {
  auto r = run_stepjit("summary " + source_path("examples/models/mlp.sj"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Model: \"mlp\" (the forward graph)"));
  EXPECT_THAT(r.out, ContainsRegex("dense_0 \\(matmul, add, relu\\) +f32\\[128,512\\] +401,920"));
  EXPECT_THAT(r.out, ContainsRegex("dense_2 \\(matmul, add\\) +f32\\[128,10\\] +5,130"));
  // 784*512 + 512 + 512*512 + 512 + 512*10 + 10 parameters of 4 bytes.
  EXPECT_THAT(r.out, HasSubstr("Total params: 669,706 (2.6 MiB)"));
  EXPECT_THAT(r.out, HasSubstr("Non-trainable params: 0"));
  EXPECT_THAT(r.out, HasSubstr("(the forward graph only: no training step was built"));
  EXPECT_THAT(r.out, HasSubstr("give --optimizer or --loss to summarize the training step"));
  EXPECT_THAT(r.out, Not(HasSubstr("FLOP backward")));
}

TEST(CliSummary, TrainingStepWithTheFlagsOfTrain) {
  // seed with SGD: 65,408 forward, 66,337 backward, 2 * 1021 + 1 update FLOPs (hand-computed
  // in tests/runtime/summary_test.cpp).
  auto r = run_stepjit("summary " + source_path("examples/models/seed.sj") +
                       " --optimizer sgd --lr 0.1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(the training step: sgd)"));
  EXPECT_THAT(r.out, HasSubstr("65,408 FLOP forward, 66,337 FLOP backward, 2,043 FLOP update"));
  EXPECT_THAT(r.out, ContainsRegex("Arena: [0-9,]+ bytes .* for the training step"));

  // An output to minimize (mlp's own loss) builds the training step, with train's default
  // optimizer.
  r = run_stepjit("summary " + source_path("examples/models/mlp.sj") + " --loss loss");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(the training step: adam)"));
  EXPECT_THAT(r.out, ContainsRegex("Optimizer state: 1,339,4[0-9][0-9] \\(adam's slots"));

  r = run_stepjit("summary " + source_path("examples/models/seed.sj") + " --loss nope");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no output named 'nope' to minimize (its outputs: pred, loss)"));
  r = run_stepjit("summary " + source_path("examples/models/seed.sj") + " --optimizer nope");
  EXPECT_EQ(r.exit_code, 2);
}

} // namespace
} // namespace sj
