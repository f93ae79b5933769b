// Data at the CLI's boundary: --x/--y of another dtype than the model's inputs are converted
// with a note when only float rounding is lost (np.save writes float64 by default), and refused
// at the data file, with the numpy line that fixes it, when values would change.
#include "runtime/npy.h"
#include "tests/support/cli.h"

#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using test::run_stepjit;
using ::testing::HasSubstr;

// A 3-feature, 2-class linear model on batches of 4, and 8 examples.
std::string model_dir(const std::string& name) {
  std::string dir = test::temp_dir(name);
  std::ofstream(dir + "/linear.sj") << "graph linear {\n"
                                       "  %x = input : f32[4,3]\n"
                                       "  %w = variable {init = glorot_uniform, seed = 1} : "
                                       "f32[3,2]\n"
                                       "  %pred = matmul(%x, %w) : f32[4,2]\n"
                                       "  output pred = %pred\n"
                                       "}\n";
  std::vector<double> x(8 * 3);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = double(i % 5) - 2;
  write_npy(dir + "/x64.npy", Tensor::from<double>({8, 3}, x));
  write_npy(dir + "/y_float.npy", Tensor::from<float>({8}, {0, 1, 1, 0, 1, 0, 0, 1}));
  write_npy(dir + "/y_half.npy", Tensor::from<float>({8}, {0, 1, 1, 2.5f, 1, 0, 0, 1}));
  x[5] = 1e300;
  write_npy(dir + "/x_huge.npy", Tensor::from<double>({8, 3}, x));
  return dir;
}

std::string train(const std::string& dir, const std::string& x, const std::string& y) {
  return "train " + dir + "/linear.sj --x " + dir + "/" + x + " --y " + dir + "/" + y +
         " --loss=sparse_ce --optimizer sgd --lr 0.1 --epochs 1";
}

TEST(CliData, Float64FeaturesAndFloatLabelsAreConvertedWithANote) {
  std::string dir = model_dir("data_convert");
  auto r = run_stepjit(train(dir, "x64.npy", "y_float.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("note: --x " + dir +
                               "/x64.npy is f64; converted to the model's "
                               "f32 input 'x' (np.save('" +
                               dir + "/x64.npy', np.load('" + dir +
                               "/x64.npy').astype(np.float32)) avoids the conversion)"));
  EXPECT_THAT(r.err, HasSubstr("note: --y " + dir +
                               "/y_float.npy is f32; converted to the "
                               "model's i32 input 'y'"));
  EXPECT_THAT(r.out, HasSubstr("final: loss"));
}

TEST(CliData, ValuesThatWouldChangeAreRefusedAtTheDataFile) {
  std::string dir = model_dir("data_refuse");
  auto r = run_stepjit(train(dir, "x64.npy", "y_half.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(dir +
                               "/y_half.npy: error: --y: element 3 is 2.5: not an integer "
                               "for the model's i32 input 'y' (the file is f32); fix the data, "
                               "or convert it yourself: np.save('" +
                               dir +
                               "/y_half.npy', "
                               "np.load('" +
                               dir + "/y_half.npy').astype(np.int32))"));
  r = run_stepjit(train(dir, "x_huge.npy", "y_float.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(dir + "/x_huge.npy: error: --x: element 5 is 1e+300: it "
                                     "overflows f32"));
}

TEST(CliData, PredictConvertsItsInputToo) {
  std::string dir = model_dir("data_predict");
  auto r =
      run_stepjit("predict " + dir + "/linear.sj --x " + dir + "/x64.npy -o " + dir + "/pred.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("note: --x " + dir + "/x64.npy is f64; converted"));
  EXPECT_EQ(read_npy(dir + "/pred.npy").type().str(), "f32[8,2]");
}

} // namespace
} // namespace sj
