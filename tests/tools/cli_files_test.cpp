// The files the CLI reads and writes (issue 11 rows 10 and 12): every file goes through the
// library's bounded reader (regular files only, never blocking; text IR at most 256 MiB, also on
// standard input), and `train --save` keeps the replaced checkpoint's mode and follows a
// dangling symlink. Every command runs under `timeout`, so a regression hangs no test.
#include "runtime/checkpoint.h"
#include "runtime/npy.h"
#include "tests/support/cli.h"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace sj {
namespace {

namespace fs = std::filesystem;
using test::run_command;
using test::source_path;
using ::testing::HasSubstr;

std::string seed() { return source_path("examples/models/seed.sj"); }

// `stepjit ARGS` under a timeout: exit status 124 means it hung.
test::CommandResult stepjit(const std::string& args) {
  return run_command("timeout 60 " + test::stepjit_path() + " " + args);
}
// A shell command line (with its own redirections) under the same timeout.
test::CommandResult shell(const std::string& line) {
  return run_command("timeout 60 sh -c '" + line + "'");
}

void write_seed_data(const std::string& dir) {
  std::vector<float> x(32 * 100), y(32);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(std::sin(double(i) * 0.37));
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = float(std::cos(double(i) * 0.5));
  write_npy(dir + "/x.npy", Tensor::from<float>({32, 100}, x));
  write_npy(dir + "/y.npy", Tensor::from<float>({32, 1}, y));
}

unsigned mode_of(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// ---------------------------------------------------------------------------------------------
// Reading (row 12)

TEST(CliFiles, CheckRefusesDevicesAndFifosAtOnce) {
  std::string dir = test::temp_dir("cli_files_fifo");
  auto r = stepjit("check /dev/zero");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "/dev/zero: error: not a regular file\n");

  std::string fifo = dir + "/graph.sj";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  r = stepjit("check " + fifo); // no writer ever comes: this must not wait for one
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, fifo + ": error: not a regular file\n");
  for (std::string cmd : {"dump", "eval", "train", "bench"}) {
    r = stepjit(cmd + " " + fifo);
    EXPECT_EQ(r.exit_code, 1) << cmd;
    EXPECT_EQ(r.err, fifo + ": error: not a regular file\n") << cmd;
  }
  r = stepjit("check " + dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, dir + ": error: not a regular file\n");
  r = stepjit("check " + dir + "/missing.sj");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            dir + "/missing.sj: error: cannot open for reading: No such file or directory\n");
}

TEST(CliFiles, EveryOtherFileTheCliReadsRefusesAFifoToo) {
  std::string dir = test::temp_dir("cli_files_fifos");
  write_seed_data(dir);
  std::string fifo = dir + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string expected = fifo + ": error: not a regular file\n";
  std::string feeds = " -i x=" + dir + "/x.npy -i y=" + dir + "/y.npy";
  for (const std::string& args : {
           "eval " + seed() + " -i x=" + fifo + " -i y=" + dir + "/y.npy", // an input array
           "train " + seed() + feeds + " --init " + fifo,                  // a checkpoint
           "train " + seed() + " --x " + fifo + " --y " + dir + "/y.npy",  // --x
           "predict " + source_path("examples/affine.sj") + " --weights " + fifo + " --x " + dir +
               "/x.npy -o " + dir + "/p.npy", // a checkpoint
           "export " + fifo,                  // a model library (dlopen would wait)
       }) {
    auto r = stepjit(args);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_EQ(r.err, expected) << args;
  }
}

TEST(CliFiles, AFileOverTheTextLimitIsRefusedBeforeItIsRead) {
  std::string dir = test::temp_dir("cli_files_big");
  std::string big = dir + "/big.sj";
  std::ofstream(big) << "graph g {\n";
  ASSERT_EQ(::truncate(big.c_str(), off_t{300} << 20), 0); // sparse: no disk, no time
  auto r = stepjit("check " + big);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, big + ": error: the file has 314572800 bytes, more than the 268435456 bytes "
                         "(256 MiB) a text IR file may have\n");
  // The same file on standard input: its size is known before reading, too.
  r = shell(test::stepjit_path() + " check - < " + big);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "<stdin>: error: the input has 314572800 bytes, more than the 268435456 bytes "
                   "(256 MiB) a text IR file may have\n");
}

TEST(CliFiles, StandardInputIsReadUpToTheLimit) {
  // An endless stream: refused once it passes the limit (reading 256 MiB takes well under a
  // second), never read until memory runs out.
  auto r = shell(test::stepjit_path() + " check - < /dev/zero");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "<stdin>: error: the input goes on past the 268435456 bytes (256 MiB) a text "
                   "IR file may have; stopped reading there\n");
  r = shell("head -c 300000000 /dev/zero | " + test::stepjit_path() + " check -");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("<stdin>: error: the input goes on past the 268435456 bytes"));
  // A pipe of a real graph is fine.
  r = shell("cat " + seed() + " | " + test::stepjit_path() + " check -");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("-: ok: graph"));
  r = shell(test::stepjit_path() + " check - < " + seed());
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CliFiles, DumpDirRefusesAFifoInTheWay) {
  std::string dir = test::temp_dir("cli_files_dump");
  fs::create_directories(dir + "/stages");
  std::string fifo = dir + "/stages/01-graph.sj";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = stepjit("dump " + seed() + " --dump-dir " + dir + "/stages");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, fifo + ": error: exists and is not a regular file; not replacing it\n");
  std::ofstream(dir + "/file") << "x";
  r = stepjit("dump " + seed() + " --dump-dir " + dir + "/file/stages");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(dir + "/file/stages: error: --dump-dir: cannot create the "
                                     "directory: "));
}

// ---------------------------------------------------------------------------------------------
// Writing (row 10)

TEST(CliFiles, TrainSaveKeepsTheCheckpointsModeAndFollowsADanglingSymlink) {
  std::string dir = test::temp_dir("cli_files_save");
  write_seed_data(dir);
  std::string train =
      "train " + seed() + " -i x=" + dir + "/x.npy -i y=" + dir + "/y.npy --steps 1 --save ";
  std::string ckpt = dir + "/ck.safetensors";
  auto r = stepjit(train + ckpt);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(::chmod(ckpt.c_str(), 0600), 0);
  r = stepjit(train + ckpt);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(mode_of(ckpt), 0600u);
  EXPECT_EQ(read_safetensors(ckpt).size(), 17u);

  // A dangling link: the checkpoint is created where it points, and the link stays.
  fs::create_directories(dir + "/runs");
  fs::create_symlink("runs/latest.safetensors", dir + "/latest");
  r = stepjit(train + dir + "/latest");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(dir + "/latest"));
  EXPECT_EQ(read_safetensors(dir + "/runs/latest.safetensors").size(), 17u);

  // eval --save (write_npy) keeps a mode as well.
  std::string y = dir + "/y_out.npy";
  write_npy(dir + "/x23.npy", Tensor::from<float>({2, 3}, {1, 2, 3, 4, 5, 6}));
  r = stepjit("eval " + source_path("examples/affine.sj") + " -i x=" + dir +
              "/x23.npy --save y=" + y);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(::chmod(y.c_str(), 0640), 0);
  r = stepjit("eval " + source_path("examples/affine.sj") + " -i x=" + dir +
              "/x23.npy --save y=" + y);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(mode_of(y), 0640u);
}

} // namespace
} // namespace sj
