// A CNN with batch normalization from the command line, on 4-D --x arrays: the files
// examples/cnn.cpp writes (the shapes images, the model in training and inference mode) are
// trained with `stepjit train`, checkpointed, reloaded by `stepjit predict`, and the
// predictions scored here. Training is bit-identical run to run and for 1 and 2 threads.
#include "runtime/npy.h"
#include "tests/support/cli.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using test::read_file;
using test::run_command;
using test::run_stepjit;

TEST(CnnCli, TrainsOnImagesPredictsAndIsBitIdenticalForOneAndTwoThreads) {
  std::string dir = test::temp_dir("cnn_cli");
  auto made = run_command(fmt::format("{}/examples/cnn {} --epochs 1", SJ_BINARY_DIR, dir));
  ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  auto train = [&](int threads, const std::string& save) {
    return run_stepjit(
        fmt::format("train {0}/shapes_cnn_train.sj --x {0}/shapes_x.npy --y "
                    "{0}/shapes_labels.npy --loss loss --epochs 2 --shuffle --seed 3 "
                    "--lr 0.003 --threads {1} --save {0}/{2}",
                    dir, threads, save));
  };
  auto one = train(1, "one.safetensors");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_THAT(one.out, ::testing::HasSubstr("epoch   2  mean loss"));
  // Every variable is saved: 11 trained ones (4 kernels, 4 gammas and betas... of which the
  // moving statistics are not: the graph updates them), Adam's slots and step.
  EXPECT_THAT(one.out, ::testing::HasSubstr("saved 55 variables"));
  auto again = train(1, "again.safetensors");
  auto two = train(2, "two.safetensors");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(read_file(dir + "/one.safetensors"), read_file(dir + "/again.safetensors"));
  EXPECT_EQ(read_file(dir + "/one.safetensors"), read_file(dir + "/two.safetensors"));

  auto predicted =
      run_stepjit(fmt::format("predict {0}/shapes_cnn.sj --weights {0}/one.safetensors "
                              "--x {0}/shapes_test_x.npy -o {0}/pred.npy",
                              dir));
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  Tensor logits = read_npy(dir + "/pred.npy");
  Tensor labels = read_npy(dir + "/shapes_test_labels.npy");
  ASSERT_EQ(logits.type().str(), "f32[512,4]");
  int64_t right = 0;
  for (int64_t i = 0; i < 512; ++i) {
    const float* row = logits.data<float>() + i * 4;
    right += std::max_element(row, row + 4) - row == labels.data<int32_t>()[i];
  }
  // (0.96 when written: 2 epochs of 64 batches.)
  EXPECT_GE(double(right) / 512, 0.9);
}

} // namespace
} // namespace sj
