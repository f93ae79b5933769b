// The stepjit command-line tool, run as a user would run it.
#include "graph/parse.h"
#include "graph/print.h"
#include "runtime/npy.h"
#include "tests/support/cli.h"

#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using test::run_stepjit;
using test::source_path;
using ::testing::HasSubstr;

const std::string kExamples[] = {"examples/models/seed.sj", "examples/models/mlp.sj",
                                 "examples/affine.sj"};

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(Cli, CheckAcceptsEveryExample) {
  for (const std::string& file : kExamples) {
    auto r = run_stepjit("check " + source_path(file));
    EXPECT_EQ(r.exit_code, 0) << file << "\n" << r.err;
    EXPECT_THAT(r.out, HasSubstr(": ok: graph"));
  }
  auto r = run_stepjit("check " + source_path("examples/models/seed.sj"));
  EXPECT_THAT(r.out, HasSubstr("4 variables, outputs: pred, loss"));
}

TEST(Cli, CheckReportsLineColumnAndCause) {
  std::string dir = test::temp_dir("cli_check");
  write(dir + "/bad.sj",
        "graph g {\n  %x = input : f32[2,3]\n  %y = matmul(%x, %x) : f32[2,2]\n}\n");
  auto r = run_stepjit("check " + dir + "/bad.sj");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("bad.sj:3:"));
  EXPECT_THAT(r.err, HasSubstr("inner dimensions differ"));
  EXPECT_THAT(r.err, HasSubstr("transpose_b"));

  r = run_stepjit("check " + dir + "/missing.sj");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot open"));
}

TEST(Cli, DumpGraphIsTheCanonicalText) {
  for (const std::string& file : kExamples) {
    auto r = run_stepjit("dump " + source_path(file) + " --stage=graph");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The dump is canonical: parsing and printing it again gives the same text.
    EXPECT_EQ(print(parse(r.out, "dump")), r.out);
    EXPECT_EQ(r.out, print(parse(test::read_file(source_path(file)), file)));
  }
}

TEST(Cli, DumpDot) {
  auto r = run_stepjit("dump " + source_path("examples/models/seed.sj") + " --stage=dot");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("digraph"));
  EXPECT_THAT(r.out, HasSubstr("dense_0/kernel"));
  r = run_stepjit("dump " + source_path("examples/models/seed.sj") + " --stage=nonsense");
  EXPECT_EQ(r.exit_code, 2);
}

TEST(Cli, EvalComputesByHandCheckableValues) {
  std::string dir = test::temp_dir("cli_eval");
  write_npy(dir + "/x.npy", Tensor::from<float>({2, 3}, {1, 2, 3, -4, 0, 1}));
  // y = relu(x W + b) with W = 0.5 everywhere, b = [1, -2]:
  //   row 0: 0.5 * (1 + 2 + 3) = 3    -> [3 + 1, 3 - 2]      = [4, 1]
  //   row 1: 0.5 * (-4 + 0 + 1) = -1.5 -> relu([-0.5, -3.5]) = [0, 0]
  auto r = run_stepjit("eval " + source_path("examples/affine.sj") + " --input x=" + dir +
                       "/x.npy --save y=" + dir + "/y.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("y: f32[2,2] = [4.0, 1.0, 0.0, 0.0]"));
  EXPECT_THAT(r.out, HasSubstr("steps: i64[] = 1"));
  EXPECT_EQ(read_npy(dir + "/y.npy"), Tensor::from<float>({2, 2}, {4, 1, 0, 0}));

  // Variables persist from step to step.
  r = run_stepjit("eval " + source_path("examples/affine.sj") + " -i x=" + dir +
                  "/x.npy --steps 3 --variables");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("step 3:\n  steps: i64[] = 3"));
  EXPECT_THAT(r.out, HasSubstr("variable steps: i64[] = 3"));
  EXPECT_THAT(r.out, HasSubstr("variable w: f32[3,2] = 0.5"));
}

TEST(Cli, EvalRunsTheSeedModel) {
  std::string dir = test::temp_dir("cli_seed");
  std::vector<float> x(32 * 100, 0.0f), y(32, 1.0f);
  write_npy(dir + "/x.npy", Tensor::from<float>({32, 100}, x));
  write_npy(dir + "/y.npy", Tensor::from<float>({32, 1}, y));
  // With x = 0 the prediction is the bias, 0 at initialization: the loss is mean((0 - 1)^2) = 1.
  auto r = run_stepjit("eval " + source_path("examples/models/seed.sj") + " --input x=" + dir +
                       "/x.npy --input y=" + dir + "/y.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("loss: f32[] = 1.0"));
  EXPECT_THAT(r.out, HasSubstr("pred: f32[32,1] = 0.0"));
}

TEST(Cli, EvalExplainsBadFeeds) {
  std::string dir = test::temp_dir("cli_feeds");
  std::string affine = source_path("examples/affine.sj");
  auto r = run_stepjit("eval " + affine);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("x"));

  write_npy(dir + "/wrong.npy", Tensor::from<float>({3, 2}, {1, 2, 3, 4, 5, 6}));
  r = run_stepjit("eval " + affine + " --input x=" + dir + "/wrong.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("f32[2,3]"));
  EXPECT_THAT(r.err, HasSubstr("f32[3,2]"));

  write(dir + "/garbage.npy", "not an npy file at all");
  r = run_stepjit("eval " + affine + " --input x=" + dir + "/garbage.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("garbage.npy"));

  r = run_stepjit("eval " + affine + " --input nope=" + dir + "/wrong.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no input named 'nope' (its inputs: x)"));

  r = run_stepjit("eval " + affine + " --input x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("expected NAME=FILE.npy"));
}

TEST(Cli, HelpForEveryCommand) {
  for (const char* cmd : {"", "check ", "dump ", "eval "}) {
    auto r = run_stepjit(std::string(cmd) + "--help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("Usage"));
  }
  auto r = run_stepjit("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("LLVM 19"));
  r = run_stepjit("frobnicate");
  EXPECT_NE(r.exit_code, 0);
}

} // namespace
} // namespace sj
