// stepjit train --init: hyperparameters given on the command line replace the checkpoint's (a
// fine-tune with a new --lr trains with it), and those taken from the checkpoint are said.
#include "runtime/checkpoint.h"
#include "runtime/npy.h"
#include "tests/support/cli.h"
#include "tests/support/models.h"

#include <cmath>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using test::run_stepjit;
using test::source_path;
using ::testing::HasSubstr;
using ::testing::Not;

std::string data_dir(const std::string& name) {
  std::string dir = test::temp_dir(name);
  test::write_seed_data(dir, 64);
  return dir;
}

std::string train(const std::string& dir) {
  return "train " + source_path("examples/models/seed.sj") + " --x " + dir + "/x.npy --y " + dir +
         "/y.npy --optimizer adam --epochs 1";
}

TEST(CliOverrides, TheCommandLinesLearningRateWinsOverTheCheckpoints) {
  std::string dir = data_dir("overrides_lr");
  auto r = run_stepjit(train(dir) + " --lr 0.003 --save " + dir + "/a.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // --lr 0 from that checkpoint: no weight moves, whatever the checkpoint's 0.003 says.
  r = run_stepjit(train(dir) + " --lr 0 --init " + dir + "/a.safetensors --save " + dir +
                  "/b.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("--lr 0 overrides the checkpoint's adam/learning_rate = 0.003"));
  auto a = read_safetensors(dir + "/a.safetensors"), b = read_safetensors(dir + "/b.safetensors");
  for (const char* w : {"dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias"})
    EXPECT_TRUE(a.at(w) == b.at(w)) << w << " moved with --lr 0";
  EXPECT_EQ(b.at("adam/learning_rate").as_double(0), 0);
  EXPECT_EQ(b.at("adam/step").as_double(0), 4); // two runs of two batches: the counter went on

  // Without --lr, the checkpoint's learning rate is kept, and said.
  r = run_stepjit(train(dir) + " --init " + dir + "/a.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("adam/learning_rate = 0.003 from the checkpoint (--lr overrides "
                               "it)"));
  // The same value on both sides is no override.
  r = run_stepjit(train(dir) + " --lr 0.003 --init " + dir + "/a.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("overrides the checkpoint")));
}

} // namespace
} // namespace sj
