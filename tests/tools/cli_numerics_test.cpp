// stepjit train with a bad number in the data: it stops at a non-finite loss by default (saving
// nothing), --check-numerics names the op and the batch, --allow-nonfinite goes on, and the
// optimizer option --skip-nonfinite skips the step and counts it.
#include "runtime/npy.h"
#include "tests/support/cli.h"
#include "tests/support/models.h"

#include <cmath>
#include <filesystem>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits>

namespace sj {
namespace {

using test::run_stepjit;
using test::source_path;
using ::testing::HasSubstr;

// 96 examples of the seed model (3 batches of 32), example 40 with a NaN pixel at column 7.
std::string data_dir(const std::string& name) {
  std::string dir = test::temp_dir(name);
  test::write_seed_data(dir, 96, /*nan_at=*/40 * 100 + 7);
  return dir;
}

std::string train(const std::string& dir) {
  return "train " + source_path("examples/models/seed.sj") + " --x " + dir + "/x.npy --y " + dir +
         "/y.npy --optimizer adam --lr 0.01 --epochs 2 --save " + dir + "/out.safetensors";
}

TEST(CliNumerics, TrainingStopsAtANonFiniteLossAndSavesNothing) {
  std::string dir = data_dir("numerics_stop");
  auto r = run_stepjit(train(dir));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.err, HasSubstr("loss became NaN at epoch 1, step 2, batch rows 32..63 of "
                               "--x/--y; training stopped and saved nothing"));
  EXPECT_THAT(r.err, HasSubstr("--check-numerics names the first op"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/out.safetensors"));
}

TEST(CliNumerics, CheckNumericsNamesTheFeedAndTheBatch) {
  std::string dir = data_dir("numerics_check");
  auto r = run_stepjit(train(dir) + " --check-numerics");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  // Batch 2 holds rows 32..63: example 40 is its row 8.
  EXPECT_THAT(r.err, HasSubstr("input 'x': the feed holds NaN at [8, 7] of its f32[32,100] value "
                               "(batch row 8); check_numerics stopped the step: no variable was "
                               "updated (at epoch 1, step 2, batch rows 32..63 of --x/--y)"));
  EXPECT_THAT(r.err, HasSubstr("seed.sj:5:")); // the input's line in the model file
  EXPECT_FALSE(std::filesystem::exists(dir + "/out.safetensors"));
  // The interpreter says the same.
  auto i = run_stepjit(train(dir) + " --check-numerics --interpret");
  EXPECT_EQ(i.exit_code, 1);
  EXPECT_EQ(i.err, r.err);
}

TEST(CliNumerics, AllowNonfiniteGoesOn) {
  std::string dir = data_dir("numerics_allow");
  auto r = run_stepjit(train(dir) + " --allow-nonfinite");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("final: loss nan"));
}

TEST(CliNumerics, SkipNonfiniteSkipsTheBadBatchEveryEpoch) {
  std::string dir = data_dir("numerics_skip");
  // The bad batch's loss is NaN (the forward runs before the update is skipped): training goes
  // on without --allow-nonfinite, since the weights stay finite.
  auto r = run_stepjit(train(dir) + " --skip-nonfinite");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("skipped 2 steps whose gradients were not finite "
                               "(adam/nonfinite_steps)"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/out.safetensors"));
}

} // namespace
} // namespace sj
