// Numeric flags outside their range are command-line errors (exit status 2) naming the flag,
// the value and the valid range (issue 11 row 11: `train --epochs 0` and `--batch 0` used to
// train one step). The check runs before the model file is read, so any file name will do.
#include "tests/support/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <string>

namespace sj {
namespace {

using test::run_stepjit;
using test::source_path;
using ::testing::HasSubstr;

struct BadFlag {
  std::string command; // the subcommand and its file
  std::string flag, value;
  std::string message; // after "FLAG: "
};

constexpr const char* kInt = "the valid range is 1 to 2147483647";
constexpr const char* kInt64 = "the valid range is 1 to 9223372036854775807";

TEST(CliFlags, EveryNumericFlagRejectsValuesOutsideItsRange) {
  std::string seed = source_path("examples/models/seed.sj");
  std::string train = "train " + seed, eval = "eval " + seed, bench = "bench " + seed,
              predict = "predict " + seed + " --x x.npy -o y.npy";
  const BadFlag cases[] = {
      {train, "--epochs", "0", std::string("0 is out of range: ") + kInt},
      {train, "--epochs", "-2", std::string("-2 is out of range: ") + kInt},
      {train, "--epochs", "3000000000", std::string("3000000000 is out of range: ") + kInt},
      {train, "--batch", "0", std::string("0 is out of range: ") + kInt64},
      {train, "--batch", "-32", std::string("-32 is out of range: ") + kInt64},
      {train, "--steps", "0", std::string("0 is out of range: ") + kInt},
      {train, "--steps", "1.5", std::string("'1.5' is not a whole number; ") + kInt},
      {train, "--steps", "ten", std::string("'ten' is not a whole number; ") + kInt},
      {train, "--threads", "0", "0 is out of range: the valid range is 1 to 256"},
      {train, "--threads", "257", "257 is out of range: the valid range is 1 to 256"},
      {train, "--seed", "-1", "-1 is out of range: the valid range is 0 to 18446744073709551615"},
      {train, "--seed", "18446744073709551616",
       "18446744073709551616 is out of range: the valid range is 0 to 18446744073709551615"},
      {eval, "--steps", "0", std::string("0 is out of range: ") + kInt},
      {eval, "--threads", "0", "0 is out of range: the valid range is 1 to 256"},
      {predict, "--threads", "999", "999 is out of range: the valid range is 1 to 256"},
      {bench, "--steps", "0", std::string("0 is out of range: ") + kInt},
      {bench, "--steps", "-5", std::string("-5 is out of range: ") + kInt},
      {bench, "--batch", "0", std::string("0 is out of range: ") + kInt64},
      {bench, "--threads", "0", "0 is out of range: the valid range is 1 to 256"},
  };
  for (const BadFlag& c : cases) {
    std::string args = c.command + " " + c.flag + " " + c.value;
    auto r = run_stepjit(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.flag + ": " + c.message + "\n")) << args;
    EXPECT_EQ(r.out, "") << args;
  }
  // The same spelled --flag=value.
  auto r = run_stepjit(train + " --epochs=0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(std::string("--epochs: 0 is out of range: ") + kInt));
}

TEST(CliFlags, TheEdgesOfEachRangeAreAccepted) {
  std::string seed = source_path("examples/models/seed.sj");
  // Valid values get past the flag check (the missing feeds are the next error, exit status 1).
  for (const char* flags : {"--steps 1", "--threads 1", "--threads 256", "--seed 0",
                            "--seed 18446744073709551615", "--steps 2147483647"}) {
    auto r = run_stepjit("train " + seed + " " + flags);
    EXPECT_EQ(r.exit_code, 1) << flags << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("x")) << flags;
  }
  auto r = run_stepjit("train " + seed + " --x missing.npy --y missing.npy --epochs 1 --batch 32");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("missing.npy: error: cannot open for reading"));
}

} // namespace
} // namespace sj
