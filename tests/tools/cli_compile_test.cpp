// The CLI's compiled execution and compile-stage dumps.
#include "graph/parse.h"
#include "runtime/checkpoint.h"
#include "runtime/interpreter.h"
#include "runtime/npy.h"
#include "tests/support/cli.h"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>

namespace sj {
namespace {

using test::run_stepjit;
using test::source_path;
using ::testing::HasSubstr;

std::string seed() { return source_path("examples/models/seed.sj"); }

// x and y for the seed model, written to `dir`.
void write_seed_data(const std::string& dir) {
  std::vector<float> x(32 * 100), y(32);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(std::sin(double(i) * 0.37));
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = float(std::cos(double(i) * 0.5));
  write_npy(dir + "/x.npy", Tensor::from<float>({32, 100}, x));
  write_npy(dir + "/y.npy", Tensor::from<float>({32, 1}, y));
}

TEST(CliCompile, EveryStageDumps) {
  struct Case {
    const char* stage;
    const char* expect;
  } cases[] = {{"simplified", "# simplify: cse removed"},
               {"fused", "fused groups"},
               {"memory", "# arena:"},
               {"llvm", "define void @sj_step(ptr %inputs"},
               {"llvm-opt", "define void @sj_step("},
               {"asm", "sj_step:"}};
  for (const Case& c : cases) {
    auto r = run_stepjit("dump " + seed() + " --stage=" + c.stage + " --optimizer=adam");
    EXPECT_EQ(r.exit_code, 0) << c.stage << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr(c.expect)) << c.stage;
  }
  // Without --optimizer the compile stages work on the graph itself (no update).
  auto r = run_stepjit("dump " + seed() + " --stage=simplified");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("assign(")));
}

TEST(CliCompile, DumpDirWritesOneReadableFilePerStage) {
  std::string dir = test::temp_dir("cli_dump_dir");
  auto r = run_stepjit("dump " + seed() + " --optimizer=adam --dump-dir " + dir + "/stages");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* file : {"01-graph.sj", "02-grad.sj", "03-simplified.sj", "04-fused.txt",
                           "05-memory.txt", "06-step.ll", "07-step-opt.ll", "08-step.s"})
    EXPECT_GT(std::filesystem::file_size(dir + "/stages/" + file), 0u) << file;
  // The graph stages are IR text the parser reads back.
  for (const char* file : {"01-graph.sj", "02-grad.sj"})
    EXPECT_NO_THROW(parse(test::read_file(dir + "/stages/" + file), file)) << file;
}

TEST(CliCompile, TrainRunsCompiledAndMatchesTheInterpreter) {
  std::string dir = test::temp_dir("cli_train");
  write_seed_data(dir);
  std::string args = "train " + seed() + " -i x=" + dir + "/x.npy -i y=" + dir +
                     "/y.npy --steps 5 --optimizer adam --lr 0.01";
  auto compiled = run_stepjit(args + " --verbose");
  ASSERT_EQ(compiled.exit_code, 0) << compiled.err;
  EXPECT_THAT(compiled.out, HasSubstr("over 5 steps (compiled)"));
  EXPECT_THAT(compiled.err, HasSubstr("compiled in"));
  auto interpreted = run_stepjit(args + " --interpret");
  ASSERT_EQ(interpreted.exit_code, 0) << interpreted.err;
  EXPECT_THAT(interpreted.out, HasSubstr("over 5 steps (interpreter)"));
  // The loss printed at each step agrees to the printed precision (7 digits) or nearly.
  auto losses = [](const std::string& out) {
    std::vector<double> v;
    for (size_t at = 0; (at = out.find("  loss ", at)) != std::string::npos; at += 7)
      v.push_back(std::stod(out.substr(at + 7)));
    return v;
  };
  auto a = losses(compiled.out), b = losses(interpreted.out);
  ASSERT_EQ(a.size(), 5u);
  ASSERT_EQ(b.size(), 5u);
  for (size_t i = 0; i < 5; ++i)
    EXPECT_NEAR(a[i], b[i], 1e-5 * std::abs(b[i])) << i;
  EXPECT_LT(a.back(), a.front());
}

TEST(CliCompile, EvalIsCompiledByDefault) {
  std::string dir = test::temp_dir("cli_eval_compiled");
  write_seed_data(dir);
  auto r =
      run_stepjit("eval " + seed() + " -i x=" + dir + "/x.npy -i y=" + dir + "/y.npy --verbose");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("compiled in"));
  EXPECT_THAT(r.out, HasSubstr("loss: f32[] = "));
}

} // namespace
} // namespace sj

namespace sj {
namespace {

TEST(CliCheckpoints, TrainSavesAndResumesBitIdenticallyAndPredictUsesTheWeights) {
  std::string dir = test::temp_dir("cli_checkpoints");
  write_seed_data(dir);
  std::string base = "train " + seed() + " -i x=" + dir + "/x.npy -i y=" + dir +
                     "/y.npy --optimizer adam --lr 0.01";
  auto straight = run_stepjit(base + " --steps 5");
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  auto first = run_stepjit(base + " --steps 3 --save " + dir + "/ck.safetensors");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("saved 17 variables"));
  auto resumed = run_stepjit(base + " --steps 2 --init " + dir + "/ck.safetensors");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.out, HasSubstr("loaded 17 of 17 variables"));
  // Steps 4 and 5 of the straight run are steps 1 and 2 of the resumed one, to the printed digit.
  auto last_line = [](const std::string& out) {
    size_t at = out.rfind("-> ");
    return out.substr(at, out.find(" over", at) - at);
  };
  EXPECT_EQ(last_line(resumed.out), last_line(straight.out));

  // A forward-only model reads the weights and skips the optimizer state.
  std::string model = dir + "/forward.sj";
  std::string text = test::read_file(seed());
  text = text.substr(0, text.find("  %y = input")) +
         text.substr(text.find("  %dense_0/kernel"),
                     text.find("  %4 = sub") - text.find("  %dense_0/kernel")) +
         "  output pred = %pred\n}\n";
  std::ofstream(model) << text;
  auto r = run_stepjit("predict " + model + " --weights " + dir + "/ck.safetensors --x " + dir +
                       "/x.npy -o " + dir + "/pred.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err << "\n" << text;
  EXPECT_THAT(r.out, HasSubstr("loaded 4 of 4 variables"));
  EXPECT_THAT(r.out, HasSubstr("13 other tensors skipped): dense_0/bias, dense_0/kernel, "
                               "dense_1/bias, dense_1/kernel\n"));
  EXPECT_THAT(r.out, testing::Not(HasSubstr("kept their initial values")));
  // Weights only into a training step: the optimizer state keeps its initial values, and the
  // CLI says which.
  std::map<std::string, Tensor> weights;
  for (auto& [name, t] : read_safetensors(dir + "/ck.safetensors"))
    if (name.starts_with("dense_") && name.find('.') == std::string::npos) weights.emplace(name, t);
  ASSERT_EQ(weights.size(), 4u);
  write_safetensors(dir + "/weights.safetensors", weights);
  r = run_stepjit("train " + seed() + " -i x=" + dir + "/x.npy -i y=" + dir +
                  "/y.npy --steps 1 --init " + dir + "/weights.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("loaded 4 of 17 variables from " + dir +
                               "/weights.safetensors: dense_0/bias, dense_0/kernel, "));
  EXPECT_THAT(r.out, HasSubstr("kept their initial values: adam/beta1, adam/beta2, "));
  EXPECT_THAT(r.out, HasSubstr(" and 5 more\n"));
  EXPECT_EQ(read_npy(dir + "/pred.npy").type().str(), "f32[32,1]");
  r = run_stepjit("predict " + seed() + " --x " + dir + "/x.npy -o " + dir + "/p.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("has 2 inputs"));
}

} // namespace
} // namespace sj

namespace sj {
namespace {

TEST(CliTrainData, MiniBatchesFromArraysWithABuiltOrAGivenLoss) {
  std::string dir = test::temp_dir("cli_train_data");
  std::vector<float> x(96 * 100), y(96);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(std::sin(double(i) * 0.37));
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = float(std::cos(double(i) * 0.5));
  write_npy(dir + "/x.npy", Tensor::from<float>({96, 100}, x));
  write_npy(dir + "/y.npy", Tensor::from<float>({96}, y)); // a vector for a [batch, 1] prediction
  // The forward model: seed.sj without its labels input and loss.
  std::string text = test::read_file(seed());
  text = text.substr(0, text.find("  %y = input")) +
         text.substr(text.find("  %dense_0/kernel"),
                     text.find("  %4 = sub") - text.find("  %dense_0/kernel")) +
         "  output pred = %pred\n}\n";
  std::ofstream(dir + "/forward.sj") << text;
  std::string base = "train " + dir + "/forward.sj --x " + dir + "/x.npy --y " + dir + "/y.npy";
  auto r = run_stepjit(base + " --loss=mse --optimizer adam --lr 0.01 --epochs 3 --shuffle");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto mean = [&](int epoch) {
    std::string prefix = fmt::format("epoch   {}  mean loss ", epoch);
    return std::stod(r.out.substr(r.out.find(prefix) + prefix.size()));
  };
  EXPECT_LT(mean(3), mean(1));
  EXPECT_THAT(r.out, HasSubstr("final: loss "));
  EXPECT_THAT(r.out, testing::Not(HasSubstr("accuracy"))); // a regression loss
  // Deterministic: the same seed gives the same output, but for the timings.
  auto without_timings = [](const std::string& out) {
    std::string r = std::regex_replace(out, std::regex(R"(trained [^\n]*\n)"), "");
    return std::regex_replace(r, std::regex(R"(\(?[^()\n]*steps/s[^()\n]*\)?)"), "");
  };
  EXPECT_EQ(
      without_timings(
          run_stepjit(base + " --loss=mse --optimizer adam --lr 0.01 --epochs 3 --shuffle").out),
      without_timings(r.out));
  // Threads change no bit of the result.
  EXPECT_EQ(without_timings(run_stepjit(base + " --loss=mse --optimizer adam --lr 0.01 --epochs 3 "
                                               "--shuffle --threads 2")
                                .out),
            without_timings(r.out));
  // The model file's own loss: examples/models/seed.sj has inputs x and y and an output loss.
  r = run_stepjit("train " + seed() + " --x " + dir + "/x.npy --y " + dir + "/y.npy --steps 4 -v");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("step     4  loss "));
  // Mistakes.
  r = run_stepjit(base + " --loss=mse --batch 10 --epochs 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("shapes are static"));
  r = run_stepjit(base + " --epochs 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--loss=KIND"));
  r = run_stepjit("train " + dir + "/forward.sj --x " + dir + "/x.npy --loss=mse --epochs 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--x and --y go together"));
}

// Three Gaussian blobs in 2-D, 50 points each, far apart: a linear classifier separates them.
// A 2 -> 3 softmax classifier trained with --loss=sparse_ce must reach accuracy >= 0.95.
TEST(CliTrainData, ReportsThroughputAndFinalMetricsAndReachesAStatedAccuracy) {
  std::string dir = test::temp_dir("cli_train_metrics");
  std::vector<float> x;
  std::vector<int32_t> labels;
  const double centers[3][2] = {{-3, 0}, {3, 0}, {0, 4}};
  for (int i = 0; i < 150; ++i) {
    int c = i % 3;
    x.push_back(float(centers[c][0] + 0.7 * std::sin(i * 1.7)));
    x.push_back(float(centers[c][1] + 0.7 * std::cos(i * 2.3)));
    labels.push_back(c);
  }
  write_npy(dir + "/x.npy", Tensor::from<float>({150, 2}, x));
  write_npy(dir + "/y.npy", Tensor::from<int32_t>({150}, labels));
  std::ofstream(dir + "/classifier.sj") << R"(graph classifier {
  %x = input : f32[16,2]
  %dense_0/kernel = variable {init = glorot_uniform, seed = 1} : f32[2,3]
  %dense_0/bias = variable : f32[3]
  %0 = matmul(%x, %dense_0/kernel) : f32[16,3]
  %logits = add(%0, %dense_0/bias) : f32[16,3]
  output logits = %logits
}
)";
  std::string args = "train " + dir + "/classifier.sj --x " + dir + "/x.npy --y " + dir +
                     "/y.npy --loss=sparse_ce --optimizer adam --lr 0.05 --epochs 20 --shuffle";
  auto r = run_stepjit(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 150 examples in batches of 16: 9 batches per epoch, the last 6 examples left out.
  EXPECT_THAT(r.out, HasSubstr("epoch  20  mean loss "));
  EXPECT_THAT(r.out, HasSubstr("(9 steps, "));
  EXPECT_THAT(r.out, HasSubstr("trained 180 steps in "));
  EXPECT_THAT(r.out, HasSubstr("over 144 examples (9 batches; the last 6 examples do not fill"));
  std::string key = "accuracy ";
  ASSERT_THAT(r.out, HasSubstr(key));
  double accuracy = std::stod(r.out.substr(r.out.find(key) + key.size()));
  EXPECT_GE(accuracy, 0.95);
  // Not a terminal: no progress bar on standard error.
  EXPECT_EQ(r.err.find("steps/s  ETA"), std::string::npos) << r.err;

  // On a terminal (script(1) gives the command a pseudo-terminal), a bar with steps/s and ETA.
  auto t = test::run_command("script -qec '" + test::stepjit_path() + " " + args + "' /dev/null");
  EXPECT_EQ(t.exit_code, 0) << t.out;
  EXPECT_THAT(t.out, HasSubstr("steps/s  ETA 0:"));
  EXPECT_THAT(t.out, HasSubstr("] 180/180 steps"));
}

} // namespace
} // namespace sj

namespace sj {
namespace {

// `stepjit bench`: the figures of a timed training step, the last line one JSON object.
TEST(CliBench, ReportsTheFiguresAsJsonOnTheLastLine) {
  auto r = run_stepjit("bench " + seed() + " --steps 5 --threads 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  auto j = nlohmann::json::parse(last);
  for (const char* key : {"median_us", "min_us", "compile_ms", "arena_bytes", "gflops"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_GT(j["min_us"].get<double>(), 0);
  EXPECT_LE(j["min_us"].get<double>(), j["median_us"].get<double>());
  EXPECT_GE(j["arena_bytes"].get<int64_t>(), j["arena_lower_bound_bytes"].get<int64_t>());
  EXPECT_EQ(j["threads"].get<int>(), 2);
  // By hand: forward 2*32*100*10 + 2*32*10*1; backward dW1 2*100*10*32, dW2 2*10*1*32 and the
  // hidden layer's gradient 2*32*10*1 (no gradient for the input x).
  EXPECT_EQ(j["matmul_flops_per_step"].get<double>(), 64000 + 640 + 64000 + 640 + 640);
  EXPECT_NEAR(j["gflops"].get<double>(), 129920 * 1e-3 / j["median_us"].get<double>(), 1e-9);
}

TEST(CliBench, BuildsTheLossFromAKindAndExplainsMistakes) {
  std::string dir = test::temp_dir("cli_bench");
  std::ofstream(dir + "/classifier.sj") << R"(graph classifier {
  %x = input : f32[8,4]
  %w = variable {init = glorot_uniform, seed = 1} : f32[4,3]
  %logits = matmul(%x, %w) : f32[8,3]
  output logits = %logits
}
)";
  auto r = run_stepjit("bench " + dir + "/classifier.sj --loss=sparse_ce --steps 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("classifier: 3 steps on 1 thread"));
  EXPECT_THAT(r.out, testing::Not(HasSubstr("{"))); // no JSON unless asked
  r = run_stepjit("bench " + dir + "/classifier.sj --loss=sparse_ce --batch 16");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--batch 16: the model's input 'x' is f32[8,4]"));
  r = run_stepjit("bench " + dir + "/classifier.sj");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no output named 'loss'"));
  EXPECT_EQ(run_stepjit("bench " + seed() + " --threads 0").exit_code, 2);
}

} // namespace
} // namespace sj

namespace sj {
namespace {

// predict on an array of any number of rows: run in batches of the model's static batch, the
// last one padded, and the real rows' outputs kept.
TEST(CliPredict, RunsAnyNumberOfRowsInBatches) {
  std::string dir = test::temp_dir("cli_predict_rows");
  std::string model = R"(graph tiny {
  %x = input : f32[4,3]
  %w = variable {init = glorot_uniform, seed = 1} : f32[3,2]
  %pred = matmul(%x, %w) : f32[4,2]
  output pred = %pred
}
)";
  std::ofstream(dir + "/tiny.sj") << model;
  std::vector<float> x(10 * 3);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(i) * 0.25f - 3;
  write_npy(dir + "/x.npy", Tensor::from<float>({10, 3}, x));
  auto r = run_stepjit("predict " + dir + "/tiny.sj --x " + dir + "/x.npy -o " + dir + "/y.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrote pred f32[10,2]"));
  Tensor y = read_npy(dir + "/y.npy");
  ASSERT_EQ(y.shape(), (Shape{10, 2}));
  // By hand: y[r] = x[r] W, with W the variable's initial value.
  Tensor w = Interpreter(parse(model, "tiny.sj")).variable("w");
  for (int64_t row = 0; row < 10; ++row)
    for (int64_t j = 0; j < 2; ++j) {
      double want = 0;
      for (int64_t k = 0; k < 3; ++k)
        want += double(x[size_t(row * 3 + k)]) * w.as_double(k * 2 + j);
      EXPECT_NEAR(y.as_double(row * 2 + j), want, 1e-5) << row << "," << j;
    }
  // Rows of another width are explained.
  write_npy(dir + "/bad.npy", Tensor::from<float>({10, 5}, std::vector<float>(50, 1)));
  r = run_stepjit("predict " + dir + "/tiny.sj --x " + dir + "/bad.npy -o " + dir + "/y.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("an array of any number of rows of f32[3] is run in batches of 4"));
}

} // namespace
} // namespace sj
