// Compiled steps against the reference interpreter: the examples, training steps, feeds,
// run-time errors, determinism, and the code cache.
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/parse.h"
#include "kernels/thread_pool.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "tests/support/cli.h"

#include <cmath>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using ::testing::HasSubstr;

Tensor sample(TensorType type, uint64_t seed) {
  Tensor t(type);
  visit_dtype(type.dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      double u = std::sin(double(seed) * 12.9898 + double(i) * 78.233) * 0.5;
      if constexpr (std::is_same_v<T, bool>)
        p[i] = u > 0;
      else if constexpr (std::is_integral_v<T>)
        p[i] = T(i % 3);
      else
        p[i] = T(u * 2);
    }
  });
  return t;
}

std::map<std::string, Tensor> feeds_for(const Graph& g, uint64_t seed) {
  std::map<std::string, Tensor> feeds;
  for (ValueId v : g.nodes_of(Op::input))
    feeds.emplace(g.node(v).name, sample(g.type(v), seed++));
  return feeds;
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.type(), want.type()) << what;
  for (int64_t i = 0; i < got.num_elements(); ++i) {
    double a = got.as_double(i), b = want.as_double(i);
    if (std::isnan(b)) {
      EXPECT_TRUE(std::isnan(a)) << what << "[" << i << "]";
      continue;
    }
    EXPECT_NEAR(a, b, tol * std::max({1.0, std::abs(a), std::abs(b)})) << what << "[" << i << "]";
  }
}

Graph load(const std::string& file) {
  std::string path = test::source_path(file);
  return parse(test::read_file(path), path);
}

TEST(CompiledStep, SeedModelForwardMatchesTheInterpreter) {
  Graph g = load("examples/models/seed.sj");
  auto step = CompiledStep::compile(g);
  Interpreter reference(g);
  auto feeds = feeds_for(g, 1);
  auto want = reference.run(feeds);
  const auto& got = step.run(feeds);
  for (const auto& [name, t] : want)
    expect_close(got.at(name), t, 1e-5, name);
}

TEST(CompiledStep, AdamTrainingStepMatchesTheInterpreterFor100Steps) {
  for (const char* optimizer : {"adam", "sgd"}) {
    SCOPED_TRACE(optimizer);
    Graph g("mlp");
    auto x = input(g, "x", {DType::f32, {16, 8}});
    auto labels = input(g, "labels", {DType::i32, {16}});
    auto w0 = variable(g, "w0", {DType::f32, {8, 12}}, Init::glorot_uniform(1));
    auto b0 = variable(g, "b0", {DType::f32, {12}});
    auto w1 = variable(g, "w1", {DType::f32, {12, 3}}, Init::glorot_uniform(2));
    auto b1 = variable(g, "b1", {DType::f32, {3}});
    auto loss = softmax_cross_entropy(matmul(relu(matmul(x, w0) + b0), w1) + b1, labels);
    output("loss", loss);
    OptimizerSpec spec{.name = optimizer, .learning_rate = 0.01};
    if (std::string(optimizer) == "sgd") spec.momentum = 0.9;
    make_optimizer(spec)->minimize(loss, all_variables(g));

    auto step = CompiledStep::compile(g);
    Interpreter reference(g);
    for (int i = 0; i < 100; ++i) {
      auto feeds = feeds_for(g, uint64_t(i % 7));
      auto want = reference.run(feeds);
      const auto& got = step.run(feeds);
      expect_close(got.at("loss"), want.at("loss"), 1e-5, "loss");
      if (HasFailure()) return;
    }
    for (ValueId v : g.nodes_of(Op::variable))
      expect_close(step.variable(g.node(v).name), reference.variable(g.node(v).name), 1e-5,
                   g.node(v).name);
  }
}

TEST(CompiledStep, FeedErrorsLeaveTheVariablesUnchanged) {
  Graph g = load("examples/affine.sj");
  auto step = CompiledStep::compile(g);
  Tensor before = step.variable("steps");
  auto expect_error = [&](const std::map<std::string, Tensor>& feeds, const char* text) {
    try {
      step.run(feeds);
      ADD_FAILURE() << "expected an error: " << text;
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(text));
    }
    EXPECT_EQ(step.variable("steps"), before);
  };
  expect_error({}, "missing feed for 'x' (f32[2,3])");
  expect_error({{"x", Tensor({DType::f32, {2, 3}})}, {"nope", Tensor::scalar(1.0f)}},
               "unknown feed 'nope'");
  expect_error({{"x", Tensor({DType::f32, {3, 2}})}},
               "input 'x' is declared f32[2,3], but its feed is f32[3,2]");
  expect_error({{"x", Tensor({DType::f64, {2, 3}})}}, "but its feed is f64[2,3]");
  step.run({{"x", Tensor({DType::f32, {2, 3}})}});
  EXPECT_EQ(step.variable("steps"), Tensor::scalar(int64_t{1}));
}

TEST(CompiledStep, IndexErrorsAtRunTimeNameTheOpAndChangeNothing) {
  Graph g("emb");
  auto table = variable(g, "table", {DType::f32, {4, 2}}, Init::ones());
  auto ids = input(g, "ids", {DType::i32, {3}});
  auto loss = reduce_sum(gather(table, ids));
  output("loss", loss);
  SGD({.learning_rate = 0.1}).minimize(loss, {table});
  auto step = CompiledStep::compile(g);
  Tensor before = step.variable("table");
  try {
    step.run({{"ids", Tensor::from<int32_t>({3}, {0, 7, 1})}});
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    // (The column of the gather is g++'s 32 or clang's 26.)
    EXPECT_THAT(e.what(), HasSubstr("compiled_step_test.cpp:130:"));
    EXPECT_THAT(e.what(), HasSubstr(": error: gather: index 7 at position [1] of the indices is "
                                    "out of range for a table of 4 rows (valid: [0, 4)); no "
                                    "variable was updated"));
  }
  EXPECT_EQ(step.variable("table"), before);
  step.run({{"ids", Tensor::from<int32_t>({3}, {0, 3, 3})}});
  // Rows 0 and 3 got gradient 1 and 2 (3 is repeated): 1 - 0.1 * [1, 2].
  EXPECT_EQ(step.variable("table"),
            Tensor::from<float>({4, 2}, {0.9f, 0.9f, 1, 1, 1, 1, 0.8f, 0.8f}));
}

TEST(CompiledStep, TwoRunsFromTheSameStateAreBitIdentical) {
  Graph g = load("examples/models/seed.sj");
  Adam({.learning_rate = 0.01}).minimize(Value(g, *g.output("loss")), all_variables(g));
  auto a = CompiledStep::compile(g);
  auto b = CompiledStep::compile(g);
  EXPECT_TRUE(b.reused_code());
  auto feeds = feeds_for(g, 3);
  for (int i = 0; i < 5; ++i) {
    Tensor la = a.run(feeds).at("loss");
    Tensor lb = b.run(feeds).at("loss");
    EXPECT_EQ(la, lb);
  }
  EXPECT_EQ(a.variable("dense_0/kernel"), b.variable("dense_0/kernel"));
}

// Denormal inputs and results are flushed to zero by default (x86-64 FTZ + DAZ), IEEE gradual
// underflow on request; the caller's floating-point mode is restored after the step.
TEST(CompiledStep, FlushesDenormalsToZeroByDefault) {
  Graph g = parse(R"(graph d {
  %x = input : f32[2]
  %half = constant {value = 0.5} : f32[]
  %y = mul(%x, %half) : f32[2]
  output y = %y
})",
                  "d.sj");
  // 1e-38 is below FLT_MIN (1.18e-38): a denormal input. 2e-38 * 0.5 = 1e-38 is a denormal result.
  Tensor x = Tensor::from<float>({2}, {1e-38f, 2e-38f});
  auto flushed = CompiledStep::compile(g, {.use_cache = false});
  const Tensor& y = flushed.run({{"x", x}}).at("y");
  EXPECT_EQ(y.as_double(0), 0.0);
  EXPECT_EQ(y.as_double(1), 0.0);
#if defined(__x86_64__)
  unsigned mode = __builtin_ia32_stmxcsr();
  EXPECT_EQ(mode & ((1u << 15) | (1u << 6)), 0u) << "the caller's mode must be restored";
#endif
  auto ieee = CompiledStep::compile(g, {.flush_denormals = false});
  const Tensor& z = ieee.run({{"x", x}}).at("y");
  EXPECT_EQ(z.data<float>()[0], 1e-38f * 0.5f);
  EXPECT_EQ(z.data<float>()[1], 2e-38f * 0.5f);
  EXPECT_GT(z.as_double(1), 0.0);
}

// A small convnet whose pooling ops, the relu mask with both pooling gradients fused into it
// (tiling 2x2 windows and overlapping, padded 3x3 ones) and the flatten run split over the pool
// by images (Lowerer::parallel_rows): the same bits on 1, 2 and 3 threads, and the
// interpreter's values.
TEST(CompiledStep, PoolingAndFusedPoolGradientsGiveBitIdenticalTrainingOnAnyThreadCount) {
  Graph g = parse(R"(graph small_cnn {
  %x = input : f32[8,20,20,3]
  %k = variable {init = glorot_uniform, seed = 1} : f32[3,3,3,16]
  %b = variable {init = constant, value = 0.01} : f32[16]
  %0 = conv2d(%x, %k) : f32[8,18,18,16]
  %1 = add(%0, %b) : f32[8,18,18,16]
  %2 = relu(%1) : f32[8,18,18,16]
  %3 = max_pool2d(%2) {window = [2, 2]} : f32[8,9,9,16]
  %4 = max_pool2d(%2) {window = [3, 3], strides = [2, 2], padding = same} : f32[8,9,9,16]
  %5 = add(%3, %4) : f32[8,9,9,16]
  %6 = reshape(%5) {shape = [8, 1296]} : f32[8,1296]
  %w = variable {init = glorot_uniform, seed = 2} : f32[1296,10]
  %7 = matmul(%6, %w) : f32[8,10]
  %8 = square(%7) : f32[8,10]
  %loss = reduce_mean(%8) {axes = [0, 1]} : f32[]
  output loss = %loss
})",
                  "small_cnn.sj");
  std::vector<Value> vars;
  for (ValueId v : g.nodes_of(Op::variable))
    vars.emplace_back(g, v);
  Adam adam({.learning_rate = 1e-2});
  adam.minimize(Value(g, *g.output("loss")), vars);
  auto feeds = feeds_for(g, 5);
  auto train = [&](CompileOptions options) {
    options.use_cache = false;
    auto step = CompiledStep::compile(g, options);
    for (int i = 0; i < 3; ++i)
      step.run(feeds);
    return std::vector<Tensor>{step.variable("k"), step.variable("b"), step.variable("w")};
  };
  std::vector<Tensor> one = train({.threads = 1});
  EXPECT_TRUE(train({.threads = 2}) == one);
  EXPECT_TRUE(train({.threads = 3}) == one);
  std::vector<StageText> stages;
  CompiledStep::compile(g, {.use_cache = false, .stages = &stages});
  for (const StageText& st : stages) {
    if (st.stage == "fused") {
      EXPECT_THAT(st.text, HasSubstr("max_pool2d_backprop %"));
    }
    if (st.stage == "llvm") {
      for (const char* f : {"max_pool2d.v6.rows", "max_pool2d.v7.rows", "select.v"})
        EXPECT_THAT(st.text, HasSubstr(f));
      EXPECT_THAT(st.text,
                  ::testing::Not(HasSubstr("@sj_step.max_pool2d_backprop"))); // fused, not stored
    }
  }
  Interpreter reference(g);
  for (int i = 0; i < 3; ++i)
    reference.run(feeds);
  expect_close(one[0], reference.variable("k"), 1e-4, "k");
  expect_close(one[1], reference.variable("b"), 1e-4, "b");
  expect_close(one[2], reference.variable("w"), 1e-4, "w");
}

// layer_norm, layer_norm_stats and layer_norm_backprop split their rows over the pool
// (Lowerer::parallel_rows: 256 rows of 160 features, past the threshold): each row on one
// thread in a fixed order, so training gives the same bits on 1, 2 and 3 threads, and the
// interpreter's values.
TEST(CompiledStep, LayerNormRowsGiveBitIdenticalTrainingOnAnyThreadCount) {
  Graph g = parse(R"(graph ln {
  %x = input : f32[256,16]
  %v = variable {init = glorot_uniform, seed = 2} : f32[16,160]
  %h = matmul(%x, %v) : f32[256,160]
  %gamma = variable {init = ones} : f32[160]
  %beta = variable : f32[160]
  %w = variable {init = glorot_uniform, seed = 1} : f32[160,8]
  %0 = layer_norm(%h, %gamma, %beta) : f32[256,160]
  %1 = matmul(%0, %w) : f32[256,8]
  %2 = square(%1) : f32[256,8]
  %loss = reduce_mean(%2) {axes = [0, 1]} : f32[]
  output loss = %loss
})",
                  "ln.sj");
  std::vector<Value> vars;
  for (ValueId v : g.nodes_of(Op::variable))
    vars.emplace_back(g, v);
  Adam adam({.learning_rate = 1e-2});
  adam.minimize(Value(g, *g.output("loss")), vars);
  auto feeds = feeds_for(g, 9);
  auto train = [&](CompileOptions options) {
    options.use_cache = false;
    auto step = CompiledStep::compile(g, options);
    for (int i = 0; i < 3; ++i)
      step.run(feeds);
    return std::vector<Tensor>{step.variable("gamma"), step.variable("beta"), step.variable("w"),
                               step.variable("v")};
  };
  std::vector<Tensor> one = train({.threads = 1});
  EXPECT_TRUE(train({.threads = 2}) == one);
  EXPECT_TRUE(train({.threads = 3}) == one);
  std::vector<StageText> stages;
  CompiledStep::compile(g, {.use_cache = false, .stages = &stages});
  for (const StageText& st : stages) {
    if (st.stage == "llvm") {
      for (const char* op : {"layer_norm", "layer_norm_stats", "layer_norm_backprop"})
        EXPECT_THAT(st.text,
                    ::testing::ContainsRegex(std::string("@sj_step\\.") + op + "\\.v[0-9]+\\.rows"))
            << op;
    }
  }
  Interpreter reference(g);
  for (int i = 0; i < 3; ++i)
    reference.run(feeds);
  expect_close(one[0], reference.variable("gamma"), 1e-4, "gamma");
  expect_close(one[1], reference.variable("beta"), 1e-4, "beta");
  expect_close(one[2], reference.variable("w"), 1e-4, "w");
  expect_close(one[3], reference.variable("v"), 1e-4, "v");
}

// Threads split the GEMMs of a step; every element is computed on one thread in a fixed order,
// so a training step gives the same bits on 1, 2 and 3 threads, also with a shared pool.
TEST(CompiledStep, ThreadCountsGiveBitIdenticalTraining) {
  Graph g = load("examples/models/mlp.sj");
  std::vector<Value> vars;
  for (ValueId v : g.nodes_of(Op::variable))
    vars.emplace_back(g, v);
  Adam adam({.learning_rate = 1e-3});
  adam.minimize(Value(g, *g.output("loss")), vars);
  auto feeds = feeds_for(g, 3);
  auto train = [&](CompileOptions options) {
    options.use_cache = false;
    auto step = CompiledStep::compile(g, options);
    for (int i = 0; i < 3; ++i)
      step.run(feeds);
    return step.variable("dense_0/kernel");
  };
  Tensor one = train({.threads = 1});
  EXPECT_TRUE(train({.threads = 2}) == one);
  EXPECT_TRUE(train({.threads = 3}) == one);
  auto pool = std::make_shared<ThreadPool>(2);
  EXPECT_TRUE(train({.pool = pool}) == one);
  // Its long elementwise loops (the Adam updates, 65536-element activations) run on the pool.
  std::vector<StageText> stages;
  CompiledStep::compile(g, {.stages = &stages});
  for (const StageText& st : stages) {
    if (st.stage == "llvm") {
      EXPECT_THAT(st.text, HasSubstr("call void @sj_parallel_for("));
    }
  }
  // And the step still computes what the interpreter computes.
  Interpreter reference(g);
  for (int i = 0; i < 3; ++i)
    reference.run(feeds);
  expect_close(one, reference.variable("dense_0/kernel"), 1e-4, "dense_0/kernel");
}

// Variables are updated in place while feeds are read: a feed that views a variable's memory
// is refused, not silently read half-updated.
TEST(CompiledStep, AFeedSharingAVariablesMemoryIsRefused) {
  Graph g = parse(R"(graph s {
  %x = input : f32[4]
  %w = variable {init = ones} : f32[4]
  %y = add(%x, %w) : f32[4]
  %two = constant {value = 2.0} : f32[]
  %new = mul(%w, %two) : f32[4]
  %a = assign(%w, %new) : f32[4]
  output y = %y
})",
                  "s.sj");
  auto step = CompiledStep::compile(g);
  try {
    step.run({{"x", TensorView(step.variable("w"))}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("the feed of input 'x' shares memory with variable 'w'"));
  }
  EXPECT_TRUE(step.variable("w") == Tensor::from<float>({4}, {1, 1, 1, 1}));
  Tensor copy = step.variable("w");
  EXPECT_EQ(step.run({{"x", copy}}).at("y").as_double(0), 2.0);
}

} // namespace
} // namespace sj
