// Numerics guards: CompileOptions::check_numerics and the interpreter's set_check_numerics name
// the first NaN or infinity in graph order (a feed, a variable, an op fused into a loop, a
// GEMM's result, a reduction, an outlined parallel loop), with the same message from both
// engines, and a failing step changes no variable; off, NaN flows as IEEE says. The optimizer
// option skip_nonfinite leaves the variables, slots and step counter unchanged on a step whose
// gradients are not finite and counts it.
#include "frontend/optimizers.h"
#include "graph/parse.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "tests/support/cli.h"

#include <cmath>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits>

namespace sj {
namespace {

using ::testing::HasSubstr;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor filled(TensorType type, uint64_t seed) {
  Tensor t(type);
  for (int64_t i = 0; i < t.num_elements(); ++i)
    t.data<float>()[i] = float(std::sin(double(seed) * 12.9898 + double(i) * 78.233));
  return t;
}

// The seed model (Dense 100 -> 10 relu -> 1, MSE) with Adam.
Graph seed_step(const OptimizerCommon& common = {}) {
  std::string path = test::source_path("examples/models/seed.sj");
  Graph g = parse(test::read_file(path), path);
  std::vector<Value> vars;
  for (ValueId v : g.nodes_of(Op::variable))
    vars.emplace_back(g, v);
  Adam({.learning_rate = 0.01, .common = common}).minimize(Value(g, *g.output("loss")), vars);
  return g;
}

std::map<std::string, Tensor> seed_feeds() {
  return {{"x", filled({DType::f32, {32, 100}}, 1)}, {"y", filled({DType::f32, {32, 1}}, 2)}};
}

// One engine behind one face: the interpreter or a compiled step (threads), checking or not.
struct Engine {
  std::optional<Interpreter> interpreter;
  std::optional<CompiledStep> compiled;
  Engine(const Graph& g, bool interpret, bool check, int threads = 1) {
    if (interpret) {
      interpreter.emplace(g);
      interpreter->set_check_numerics(check);
    } else {
      compiled.emplace(CompiledStep::compile(g, {.threads = threads, .check_numerics = check}));
    }
  }
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& feeds) {
    return interpreter ? interpreter->run(feeds) : compiled->run(feeds);
  }
  Variables& variables() { return interpreter ? interpreter->variables() : compiled->variables(); }
};

std::map<std::string, Tensor> snapshot(Variables& vars) { return vars.all(); }

// The message of the step's error, checking that it names `text` and changed no variable.
std::string expect_failure(Engine& e, const std::map<std::string, Tensor>& feeds,
                           const std::string& text) {
  auto before = snapshot(e.variables());
  std::string message;
  try {
    e.run(feeds);
    ADD_FAILURE() << "expected a numerics error: " << text;
  } catch (const Error& err) {
    message = err.what(); // `file:line:col: error: ` and the message
    EXPECT_THAT(message, HasSubstr(text));
    EXPECT_THAT(message, HasSubstr("check_numerics stopped the step: no variable was updated"));
  }
  EXPECT_TRUE(snapshot(e.variables()) == before) << "a failing step changed a variable: " << text;
  return message;
}

class CheckNumerics : public ::testing::TestWithParam<bool> {}; // interpret?

TEST_P(CheckNumerics, ANaNFeedIsNamedWithItsRowAndChangesNothing) {
  Graph g = seed_step();
  Engine e(g, GetParam(), true);
  e.run(seed_feeds()); // a clean step first: the slots and counter are not at their initial state
  auto feeds = seed_feeds();
  feeds["x"].data<float>()[5 * 100 + 7] = kNaN;
  expect_failure(e, feeds,
                 "input 'x': the feed holds NaN at [5, 7] of its f32[32,100] value (batch row 5)");
  feeds = seed_feeds();
  feeds["y"].data<float>()[3] = -kInf;
  expect_failure(e, feeds,
                 "input 'y': the feed holds -inf at [3, 0] of its f32[32,1] value (batch row 3)");
  // The step goes on from the state before the failures: the same bits as an engine that never
  // saw them.
  Engine fresh(g, GetParam(), true);
  fresh.run(seed_feeds());
  auto a = e.run(seed_feeds()), b = fresh.run(seed_feeds());
  EXPECT_TRUE(a.at("loss") == b.at("loss"));
  EXPECT_TRUE(snapshot(e.variables()) == snapshot(fresh.variables()));
}

TEST_P(CheckNumerics, OffByDefaultNaNFlowsThrough) {
  Graph g = seed_step();
  Engine e(g, GetParam(), false);
  auto feeds = seed_feeds();
  feeds["x"].data<float>()[0] = kNaN;
  auto out = e.run(feeds);
  EXPECT_TRUE(std::isnan(out.at("loss").as_double(0)));
  int64_t nans = 0; // the update spread it into the weights
  for (const auto& [name, t] : e.variables().all())
    for (int64_t i = 0; i < t.num_elements(); ++i)
      nans += std::isnan(t.as_double(i));
  EXPECT_GT(nans, 0);
}

// A graph whose values overflow inside: the first non-finite value is an op's, not a feed's.
Graph overflow_graph() {
  return parse(R"(graph overflow {
  %x = input : f32[4,3]
  %w = variable {init = ones} : f32[3,2]
  %m = matmul(%x, %w) : f32[4,2]
  %h = exp(%m) : f32[4,2]
  %t = tanh(%h) : f32[4,2]
  %s = reduce_sum(%t) {axes = [1]} : f32[4]
  %loss = reduce_mean(%s) {axes = [0]} : f32[]
  output loss = %loss
}
)",
               "overflow.sj");
}

TEST_P(CheckNumerics, AnOverflowInsideTheGraphNamesTheOpAndItsLine) {
  Graph g = overflow_graph();
  Engine e(g, GetParam(), true);
  // Row 2 sums to 3 * 40 = 120: e^120 overflows f32, in the exp fused with tanh and the sum.
  Tensor x = Tensor::from<float>({4, 3}, {0, 0, 0, 1, 1, 1, 40, 40, 40, 2, 2, 2});
  std::string m = expect_failure(e, {{"x", x}},
                                 "exp 'h': produced +inf at [2, 0] of its "
                                 "f32[4,2] value (batch row 2)");
  EXPECT_THAT(m, HasSubstr("overflow.sj:5:"));
  // A GEMM's result: 3 * 2e38 overflows in the matmul itself.
  x.data<float>()[6] = x.data<float>()[7] = x.data<float>()[8] = 2e38f;
  expect_failure(e, {{"x", x}}, "matmul 'm': produced +inf at [2, 0]");
}

TEST_P(CheckNumerics, AReductionThatOverflows) {
  Graph g = parse(R"(graph sum {
  %x = input : f32[2,4]
  %s = reduce_sum(%x) {axes = [1]} : f32[2]
  %loss = reduce_sum(%s) {axes = [0]} : f32[]
  output loss = %loss
}
)",
                  "sum.sj");
  Engine e(g, GetParam(), true);
  Tensor x = Tensor::from<float>({2, 4}, {1, 2, 3, 4, 3e38f, 3e38f, 0, 0});
  expect_failure(e, {{"x", x}}, "reduce_sum 's': produced +inf at [1] of its f32[2] value");
}

TEST_P(CheckNumerics, ALongLoopSplitOverThreadsFindsTheFirstBadElement) {
  // 64 x 1024 elements: over the lowering's parallel threshold, so the compiled loop is
  // outlined and split over 2 threads; the culprit is still the first in order.
  Graph g = parse(R"(graph big {
  %x = input : f32[64,1024]
  %l = log(%x) : f32[64,1024]
  %loss = reduce_sum(%l) {axes = [0, 1]} : f32[]
  output loss = %loss
}
)",
                  "big.sj");
  Engine e(g, GetParam(), true, /*threads=*/2);
  Tensor x({DType::f32, {64, 1024}});
  for (int64_t i = 0; i < x.num_elements(); ++i)
    x.data<float>()[i] = 1.5f;
  x.data<float>()[60 * 1024 + 3] = -1; // log(-1) = NaN, in the second thread's half
  x.data<float>()[40 * 1024 + 9] = 0;  // log(0) = -inf, earlier: the one reported
  expect_failure(e, {{"x", x}},
                 "log 'l': produced -inf at [40, 9] of its f32[64,1024] value "
                 "(batch row 40)");
}

TEST_P(CheckNumerics, ChecksChangeNoResult) {
  Graph g = seed_step();
  Engine checked(g, GetParam(), true), plain(g, GetParam(), false);
  for (uint64_t s = 0; s < 3; ++s) {
    auto feeds = seed_feeds();
    feeds["x"] = filled({DType::f32, {32, 100}}, 10 + s);
    EXPECT_TRUE(checked.run(feeds).at("loss") == plain.run(feeds).at("loss"));
  }
  EXPECT_TRUE(snapshot(checked.variables()) == snapshot(plain.variables()));
}

INSTANTIATE_TEST_SUITE_P(Engines, CheckNumerics, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "interpreter" : "compiled"; });

TEST(CheckNumerics, BothEnginesSayTheSame) {
  Graph g = overflow_graph();
  Tensor x = Tensor::from<float>({4, 3}, {0, 0, 0, 1, 1, 1, 40, 40, 40, 2, 2, 2});
  std::string said[2];
  for (bool interpret : {false, true}) {
    Engine e(g, interpret, true);
    said[interpret] = expect_failure(e, {{"x", x}}, "exp 'h'");
  }
  EXPECT_EQ(said[0], said[1]);
}

TEST(SkipNonfinite, ASkippedStepChangesNothingButItsCount) {
  Graph g = seed_step({.skip_nonfinite = true});
  for (bool interpret : {false, true}) {
    SCOPED_TRACE(interpret ? "interpreter" : "compiled");
    Engine e(g, interpret, false), reference(g, interpret, false);
    e.run(seed_feeds());
    reference.run(seed_feeds());
    auto before = snapshot(e.variables());
    auto bad = seed_feeds();
    bad["y"].data<float>()[4] = kNaN; // its gradient reaches every weight
    e.run(bad);
    auto after = snapshot(e.variables());
    for (const auto& [name, t] : before)
      if (name != "adam/nonfinite_steps") {
        EXPECT_TRUE(after.at(name) == t) << name;
      }
    EXPECT_EQ(after.at("adam/nonfinite_steps").as_double(0), 1);
    EXPECT_EQ(after.at("adam/step").as_double(0), 1); // the skipped step is not counted
    // The next clean step is the reference's second step, bit for bit.
    e.run(seed_feeds());
    reference.run(seed_feeds());
    after = snapshot(e.variables());
    for (const auto& [name, t] : snapshot(reference.variables()))
      if (name != "adam/nonfinite_steps") {
        EXPECT_TRUE(after.at(name) == t) << name;
      }
  }
}

TEST(SkipNonfinite, TheCountExistsOnlyWithTheOption) {
  std::string path = test::source_path("examples/models/seed.sj");
  Graph g = parse(test::read_file(path), path);
  std::vector<Value> vars;
  for (ValueId v : g.nodes_of(Op::variable))
    vars.emplace_back(g, v);
  Adam plain;
  plain.minimize(Value(g, *g.output("loss")), vars);
  EXPECT_FALSE(g.find("adam/nonfinite_steps"));
  try {
    plain.nonfinite_steps();
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("skip_nonfinite = true"));
  }
}

} // namespace
} // namespace sj
