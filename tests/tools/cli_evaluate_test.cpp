// stepjit evaluate and predict --argmax / --softmax on a linear classifier with known weights:
// the loss, accuracy and top-2 accuracy over all 10 rows (batches of 4, the last one padded)
// against the same figures computed here in double.
#include "graph/parse.h"
#include "runtime/checkpoint.h"
#include "runtime/npy.h"
#include "tests/support/cli.h"

#include <cmath>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <regex>

namespace sj {
namespace {

using test::run_stepjit;
using ::testing::HasSubstr;

constexpr int64_t kRows = 10, kIn = 3, kClasses = 3;
const std::string kModel = "graph linear {\n"
                           "  %x = input : f32[4,3]\n"
                           "  %w = variable : f32[3,3]\n"
                           "  %pred = matmul(%x, %w) : f32[4,3]\n"
                           "  output pred = %pred\n"
                           "}\n";

struct Data {
  std::string dir;
  std::vector<float> x, w;
  std::vector<int32_t> y;
};

Data make(const std::string& name) {
  Data d{test::temp_dir(name), {}, {}, {}};
  std::ofstream(d.dir + "/linear.sj") << kModel;
  for (int64_t i = 0; i < kRows * kIn; ++i)
    d.x.push_back(float(std::sin(double(i) * 1.3)));
  for (int64_t i = 0; i < kIn * kClasses; ++i)
    d.w.push_back(float(std::cos(double(i) * 0.7)));
  for (int64_t i = 0; i < kRows; ++i)
    d.y.push_back(int32_t((i * 7) % kClasses));
  write_npy(d.dir + "/x.npy", Tensor::from<float>({kRows, kIn}, d.x));
  write_npy(d.dir + "/y.npy", Tensor::from<int32_t>({kRows}, d.y));
  Graph g = parse(kModel, "linear.sj");
  Variables vars(g);
  vars.set("w", Tensor::from<float>({kIn, kClasses}, d.w));
  save_checkpoint(d.dir + "/w.safetensors", vars);
  return d;
}

// The logits of row i, in double (f32 inputs and weights, as the model has them).
std::vector<double> logits(const Data& d, int64_t i) {
  std::vector<double> z(kClasses, 0.0);
  for (int64_t c = 0; c < kClasses; ++c)
    for (int64_t k = 0; k < kIn; ++k)
      z[c] += double(d.x[i * kIn + k]) * double(d.w[k * kClasses + c]);
  return z;
}

double figure(const std::string& out, const std::string& name) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(out, m, std::regex(name + " ([-0-9.e+]+)"))) << out;
  return m.empty() ? NAN : std::stod(m[1]);
}

TEST(CliEvaluate, LossAndMetricsOverEveryRowMatchAnIndependentComputation) {
  Data d = make("evaluate_metrics");
  double loss = 0;
  int right = 0, top2 = 0;
  for (int64_t i = 0; i < kRows; ++i) {
    std::vector<double> z = logits(d, i);
    double m = *std::max_element(z.begin(), z.end()), sum = 0;
    for (double v : z)
      sum += std::exp(v - m);
    loss -= z[d.y[i]] - m - std::log(sum);
    int above = 0;
    for (int64_t c = 0; c < kClasses; ++c)
      above += z[c] > z[d.y[i]];
    right += above == 0;
    top2 += above < 2;
  }
  loss /= kRows;
  auto r = run_stepjit("evaluate " + d.dir + "/linear.sj --weights " + d.dir +
                       "/w.safetensors --x " + d.dir + "/x.npy --y " + d.dir +
                       "/y.npy --loss sparse_ce --metrics accuracy,top2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("evaluated 10 examples: loss "));
  EXPECT_NEAR(figure(r.out, "loss"), loss, 1e-6 * std::max(1.0, loss));
  EXPECT_NEAR(figure(r.out, "accuracy"), right / 10.0, 1e-9);
  EXPECT_NEAR(figure(r.out, "top2"), top2 / 10.0, 1e-9);
  EXPECT_LT(right, 10); // the figures are not trivially 1
  EXPECT_GT(top2, right);
}

TEST(CliEvaluate, PredictArgmaxAndSoftmax) {
  Data d = make("evaluate_predict");
  std::string base = "predict " + d.dir + "/linear.sj --weights " + d.dir + "/w.safetensors --x " +
                     d.dir + "/x.npy -o " + d.dir;
  auto r = run_stepjit(base + "/classes.npy --argmax");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Tensor classes = read_npy(d.dir + "/classes.npy");
  ASSERT_EQ(classes.type().str(), "i64[10]");
  r = run_stepjit(base + "/p.npy --softmax");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Tensor p = read_npy(d.dir + "/p.npy");
  ASSERT_EQ(p.type().str(), "f32[10,3]");
  for (int64_t i = 0; i < kRows; ++i) {
    std::vector<double> z = logits(d, i);
    EXPECT_EQ(classes.as_int64(i), std::max_element(z.begin(), z.end()) - z.begin()) << i;
    double m = *std::max_element(z.begin(), z.end()), sum = 0;
    for (double v : z)
      sum += std::exp(v - m);
    for (int64_t c = 0; c < kClasses; ++c)
      EXPECT_NEAR(p.as_double(i * kClasses + c), std::exp(z[c] - m) / sum, 1e-6);
  }
  r = run_stepjit(base + "/q.npy --argmax --softmax");
  EXPECT_EQ(r.exit_code, 2); // exclusive flags: a command-line error
}

TEST(CliEvaluate, BadLabelsNameTheRowAndTheFile) {
  Data d = make("evaluate_errors");
  d.y[7] = 3;
  write_npy(d.dir + "/bad.npy", Tensor::from<int32_t>({kRows}, d.y));
  std::string base = "evaluate " + d.dir + "/linear.sj --weights " + d.dir + "/w.safetensors --x " +
                     d.dir + "/x.npy --loss sparse_ce --y " + d.dir;
  auto r = run_stepjit(base + "/bad.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(d.dir + "/bad.npy: error: --y: label 3 at row 7 is not a class of "
                                       "the 3 the prediction scores (valid: [0, 3))"));
  write_npy(d.dir + "/short.npy", Tensor::from<int32_t>({9}, {0, 1, 2, 0, 1, 2, 0, 1, 2}));
  r = run_stepjit(base + "/short.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--y: the labels are i32[9], but the prediction 'pred' is "
                               "f32[10,3]: sparse_ce needs labels of shape [10]"));
}

TEST(CliEvaluate, ValidationAfterEveryEpochIsWhatEvaluateMeasures) {
  Data d = make("evaluate_validation");
  // Train on rows 0..7, validate on the 8 rows 2..9 (two full batches), save, then evaluate the
  // saved weights on the same 8 rows: the last epoch's validation loss is evaluate's loss.
  std::vector<float> vx(d.x.begin() + 2 * kIn, d.x.end());
  std::vector<int32_t> vy(d.y.begin() + 2, d.y.end());
  write_npy(d.dir + "/vx.npy", Tensor::from<float>({8, kIn}, vx));
  write_npy(d.dir + "/vy.npy", Tensor::from<int32_t>({8}, vy));
  auto r = run_stepjit("train " + d.dir + "/linear.sj --init " + d.dir + "/w.safetensors --x " +
                       d.dir + "/x.npy --y " + d.dir + "/y.npy --loss=sparse_ce --optimizer sgd " +
                       "--lr 0.5 --epochs 2 --val-x " + d.dir + "/vx.npy --val-y " + d.dir +
                       "/vy.npy --save " + d.dir + "/trained.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  std::string out = r.out;
  ASSERT_TRUE(std::regex_search(out, m,
                                std::regex("epoch +2 .*val_loss ([-0-9.e+]+), "
                                           "val_accuracy ([0-9.]+)")))
      << out;
  double val_loss = std::stod(m[1]), val_accuracy = std::stod(m[2]);
  auto e = run_stepjit("evaluate " + d.dir + "/linear.sj --weights " + d.dir +
                       "/trained.safetensors --x " + d.dir + "/vx.npy --y " + d.dir +
                       "/vy.npy --loss sparse_ce --metrics accuracy");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NEAR(figure(e.out, "loss"), val_loss, 1e-5);
  EXPECT_NEAR(figure(e.out, "accuracy"), val_accuracy, 1e-4);

  // --validation-split holds out the last rows; too few for a batch is an error.
  r = run_stepjit("train " + d.dir + "/linear.sj --x " + d.dir + "/x.npy --y " + d.dir +
                  "/y.npy --loss=sparse_ce --epochs 1 --validation-split 0.2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--validation-split 0.2: 2 of the 10 examples would be held out; "
                               "training and validation each need a full batch of 4"));
  r = run_stepjit("train " + d.dir + "/linear.sj --x " + d.dir + "/x.npy --y " + d.dir +
                  "/y.npy --loss=sparse_ce --epochs 1 --validation-split 0.5");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("validation: the last 5 of 10 examples (--validation-split 0.5)"));
  EXPECT_THAT(r.out, HasSubstr("val_loss"));
}

} // namespace
} // namespace sj
