// Graphs an attacker (or a generator gone wrong) would write: each reproducer of issue 11's
// table, run through both engines. Each must give a clear sj::Error at the user's line, or run
// and agree with the interpreter; never a crash, a hang, or an allocation beyond the limits.
// Both engines must agree on which graphs fail and how.
#include "frontend/optimizers.h"
#include "graph/builder.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "passes/differentiate.h"
#include "passes/fuse.h"
#include "passes/plan_memory.h"
#include "passes/simplify.h"
#include "runtime/compiled_step.h"
#include "runtime/interpreter.h"
#include "tests/support/errors.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sj {
namespace {

using test::error_of;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kFile = "attack.sj";

Graph text(const std::string& body) { return parse("graph g {\n" + body + "}\n", kFile); }

// The error both engines give for one run of `g` on `feeds` (compile errors included); they
// must be the same message at the same place.
std::string both_fail(const Graph& g, const std::map<std::string, Tensor>& feeds = {}) {
  std::string interpreted = error_of([&] { Interpreter(g).run(feeds); });
  std::string compiled =
      error_of([&] { CompiledStep::compile(g, {.use_cache = false}).run(feeds); });
  EXPECT_EQ(interpreted, compiled);
  return compiled;
}

// Runs `g` in both engines; every output must be bit-identical (these graphs only move data).
void both_agree(const Graph& g, const std::map<std::string, Tensor>& feeds = {}) {
  auto want = Interpreter(g).run(feeds);
  auto step = CompiledStep::compile(g, {.use_cache = false});
  const auto& got = step.run(feeds);
  for (const auto& [name, value] : want)
    EXPECT_EQ(got.at(name), value) << name;
}

// Row 1: a gather from a table without rows read through a null pointer in compiled code.
TEST(Pathological, GatherFromATableWithoutRows) {
  Graph g = text("  %t = variable : f32[0,4]\n"
                 "  %i = input : i32[2]\n"
                 "  %y = gather(%t, %i) : f32[2,4]\n"
                 "  output y = %y\n");
  std::string e = both_fail(g, {{"i", Tensor::from<int32_t>({2}, {0, 1})}});
  EXPECT_THAT(e, HasSubstr("attack.sj:4:3: error: gather 'y': index 0 at position [0] of the "
                           "indices is out of range for a table of 0 rows"));
}

// Row 2: a 20,000-op chain overflowed the stack of the lowering (one frame per fused op).
TEST(Pathological, LongChainsCompile) {
  std::string body = "  %x0 = input : f32[4]\n";
  constexpr int kOps = 20000;
  for (int i = 1; i <= kOps; ++i)
    body += fmt::format("  %x{} = neg(%x{}) : f32[4]\n", i, i - 1);
  body += fmt::format("  %loss = reduce_sum(%x{}) {{axes = [0]}} : f32[]\n  output loss = %loss\n",
                      kOps);
  Graph g = text(body);
  Tensor x = Tensor::from<float>({4}, {1, -2, 3, -4});
  both_agree(g, {{"x0", x}});
  // And the training step of it (an even count of negations: the gradient is all ones).
  Graph train = g;
  auto grads = differentiate(train, *train.output("loss"), {*train.find("x0")});
  train.add_output("grad", grads[0]);
  auto step = CompiledStep::compile(train, {.use_cache = false});
  EXPECT_EQ(step.run({{"x0", x}}).at("grad"), Tensor::from<float>({4}, {1, 1, 1, 1}));
}

// Every pass before LLVM is iterative: a 100,000-op chain (recursion overflowed the stack at a
// fifth of that) goes through differentiation, simplify, fuse and plan_memory.
TEST(Pathological, EveryPassTakesLongChains) {
  Graph g("chain");
  Value x = variable(g, "x", {DType::f32, {4}}, Init::ones());
  Value y = x;
  for (int i = 0; i < 100000; ++i)
    y = tanh(y);
  Value loss = reduce_sum(y);
  output("loss", loss);
  auto grads = differentiate(g, loss.id(), {x.id()});
  g.add_output("grad", grads[0]);
  Graph simple = simplify(g);
  FusionPlan fusion = fuse(simple);
  MemoryPlan memory = plan_memory(simple, fusion);
  EXPECT_GT(simple.size(), 300000u);
  EXPECT_GT(memory.arena_bytes, 0);
  EXPECT_GE(memory.arena_bytes, memory.lower_bound_bytes);
}

// Row 3: a 2^40-iteration loop behind a 64-byte arena.
TEST(Pathological, HugeLoopsAreRefusedBeforeRunning) {
  Graph g = text("  %i = input : i32[]\n"
                 "  %h = one_hot(%i) {depth = 1099511627776} : f32[1099511627776]\n"
                 "  %s = reduce_sum(%h) {axes = [0]} : f32[]\n"
                 "  output s = %s\n");
  std::string e = both_fail(g, {{"i", Tensor::from<int32_t>({}, {3})}});
  EXPECT_THAT(e, HasSubstr("attack.sj:3:3: error: one_hot(i32[]) -> f32[1099511627776]: visits "
                           "2^40 elements, more than the limit of 2^36 (Limits::max_op_elements)"));
  // The limit is the caller's to raise (here: lower).
  Graph small = text("  %x = input : f32[64]\n"
                     "  %s = reduce_sum(%x) {axes = [0]} : f32[]\n"
                     "  output s = %s\n");
  Limits tight{.max_op_elements = 32};
  EXPECT_THAT(
      error_of([&] { Interpreter(small, tight); }),
      HasSubstr("reduce_sum(f32[64]) -> f32[]: visits 2^6 elements, more than the limit of 2^5"));
  EXPECT_THAT(
      error_of([&] { CompiledStep::compile(small, {.limits = tight}); }),
      HasSubstr("reduce_sum(f32[64]) -> f32[]: visits 2^6 elements, more than the limit of 2^5"));
  // Matrix products count multiply-adds.
  Graph mm = text("  %a = input : f32[64,64]\n"
                  "  %c = matmul(%a, %a) : f32[64,64]\n"
                  "  output c = %c\n");
  Limits few_macs{.max_macs = 1000};
  EXPECT_THAT(error_of([&] { CompiledStep::compile(mm, {.limits = few_macs}); }),
              HasSubstr("takes 2^18 multiply-adds, more than the limit of 1000 (about 2^9)"));
  // So do convolutions and both their gradients: 2x8x8x16 results of 3x3x4 taps = 2^11 x 36.
  Graph conv = text("  %x = input : f32[2,8,8,4]\n  %k = input : f32[3,3,4,16]\n"
                    "  %y = conv2d(%x, %k) {padding = same} : f32[2,8,8,16]\n"
                    "  output y = %y\n");
  for (const char* engine : {"interpreted", "compiled"}) {
    std::string e = engine == std::string("compiled")
                        ? error_of([&] { CompiledStep::compile(conv, {.limits = few_macs}); })
                        : error_of([&] { Interpreter(conv, few_macs); });
    EXPECT_THAT(e, HasSubstr("conv2d(f32[2,8,8,4], f32[3,3,4,16]) -> f32[2,8,8,16]: takes "
                             "73728 (about 2^16) multiply-adds, more than the limit of 1000"))
        << engine;
  }
}

// Row 3, memory: a plan over the memory limit is refused at compile time.
TEST(Pathological, MemoryOverTheLimitIsRefused) {
  Graph g = text("  %x = input : f32[1024]\n"
                 "  %y = exp(%x) : f32[1024]\n"
                 "  %z = add(%y, %y) : f32[1024]\n"
                 "  output z = %z\n");
  Limits tight{.max_memory_bytes = 6000};
  std::string compiled = error_of([&] { CompiledStep::compile(g, {.limits = tight}); });
  EXPECT_THAT(compiled, HasSubstr("graph 'g' needs 8192 bytes (8192 of scratch arena"));
  EXPECT_THAT(compiled, HasSubstr("more than the limit of 6000 bytes (Limits::max_memory_bytes)"));
  EXPECT_THAT(error_of([&] { Interpreter(g, tight); }),
              HasSubstr("more than the limit of 6000 bytes (Limits::max_memory_bytes)"));
  // Within the limit, both run.
  Limits enough{.max_memory_bytes = 1 << 20};
  EXPECT_NO_THROW(Interpreter(g, enough));
  EXPECT_NO_THROW(CompiledStep::compile(g, {.use_cache = false, .limits = enough}));
}

// Row 4: 40 splat constants of 256 MiB each (1.9 KB of text) made the parser allocate 10 GiB.
TEST(Pathological, SplatConstantsAreBoundedInTotal) {
  std::string body;
  for (int i = 0; i < 40; ++i)
    body += fmt::format("  %c{} = constant {{value = 0.0}} : f32[67108864]\n", i);
  std::string e = error_of([&] { text(body); });
  EXPECT_THAT(e, HasSubstr("attack.sj:6:"));
  EXPECT_THAT(e, HasSubstr("the text's constants take 1342177280 bytes, the most is 1073741824 "
                           "(ParseOptions::max_constant_bytes)"));
}

// The training graph of `loss` with plain SGD on every variable.
Graph training(Graph g) {
  std::vector<Value> vars;
  for (ValueId v : g.nodes_of(Op::variable))
    vars.emplace_back(g, v);
  SGD({.learning_rate = 0.5}).minimize(Value(g, *g.output("loss")), vars);
  return g;
}

// Row 5: the gradient of a gather was a one-hot [ids, rows] matrix times a matmul (160 GB
// here); it is a scatter_add, O(ids x row).
TEST(Pathological, EmbeddingGradientIsAScatterAdd) {
  Graph g = training(text("  %t = variable {init = ones} : f32[200000,4]\n"
                          "  %ids = input : i32[200000]\n"
                          "  %rows = gather(%t, %ids) : f32[200000,4]\n"
                          "  %loss = reduce_sum(%rows) {axes = [0, 1]} : f32[]\n"
                          "  output loss = %loss\n"));
  std::string printed = print(g);
  EXPECT_THAT(printed, HasSubstr("scatter_add"));
  EXPECT_THAT(printed, Not(HasSubstr("one_hot")));
  EXPECT_THAT(printed, Not(HasSubstr("matmul")));
  // Id i % 1000: rows below 1000 get 200 updates each of gradient 1; the others none.
  std::vector<int32_t> ids(200000);
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = int32_t(i % 1000);
  std::map<std::string, Tensor> feeds{{"ids", Tensor::from<int32_t>({200000}, ids)}};
  Interpreter interpreter(g);
  interpreter.run(feeds);
  auto step = CompiledStep::compile(g, {.use_cache = false});
  step.run(feeds);
  const Tensor& t = step.variable("t");
  EXPECT_EQ(t, interpreter.variable("t"));
  EXPECT_EQ(t.data<float>()[0], 1 - 0.5f * 200);
  EXPECT_EQ(t.data<float>()[4 * 999 + 3], 1 - 0.5f * 200);
  EXPECT_EQ(t.data<float>()[4 * 1000], 1);
}

// Row 6: the same with a table without rows failed inside the gradient rule, located in
// stepjit's own source; now the step fails at run time at the user's gather.
TEST(Pathological, EmbeddingOfATableWithoutRows) {
  Graph g = training(text("  %t = variable : f32[0,4]\n"
                          "  %ids = input : i32[2]\n"
                          "  %rows = gather(%t, %ids) : f32[2,4]\n"
                          "  %loss = reduce_sum(%rows) {axes = [0, 1]} : f32[]\n"
                          "  output loss = %loss\n"));
  // Every node points at the text or at the C++ line that added the optimizer, never into
  // stepjit's own source (the gradient rules' nodes take their forward op's line).
  for (const Node& n : g.nodes())
    EXPECT_TRUE(n.loc.file == kFile || n.loc.file == __FILE__)
        << node_label(n) << " at " << n.loc.str();
  std::string e = both_fail(g, {{"ids", Tensor::from<int32_t>({2}, {0, 0})}});
  EXPECT_THAT(e, HasSubstr("attack.sj:4:3: error: gather 'rows': index 0 at position [0]"));
}

// Row 7: the engines disagreed on a gather of empty rows (compiled: no error), and on dead
// gathers (the interpreter evaluated them, compiled code dropped them).
TEST(Pathological, EnginesAgreeOnEmptyRowsAndDeadCode) {
  Graph empty = text("  %t = input : f32[4,0]\n"
                     "  %i = input : i32[2]\n"
                     "  %y = gather(%t, %i) : f32[2,0]\n"
                     "  output y = %y\n");
  std::map<std::string, Tensor> feeds{{"t", Tensor(TensorType{DType::f32, {4, 0}})},
                                      {"i", Tensor::from<int32_t>({2}, {7, -1})}};
  EXPECT_THAT(
      both_fail(empty, feeds),
      HasSubstr("attack.sj:4:3: error: gather 'y': index 7 at position [0] of the indices is "
                "out of range for a table of 4 rows (valid: [0, 4)); no variable was "
                "updated"));
  // Dead code is not evaluated by either engine, with or without simplify.
  Graph dead = text("  %t = input : f32[4,3]\n"
                    "  %i = input : i32[2]\n"
                    "  %unused = gather(%t, %i) : f32[2,3]\n"
                    "  %y = neg(%t) : f32[4,3]\n"
                    "  output y = %y\n");
  feeds = {{"t", Tensor(TensorType{DType::f32, {4, 3}})},
           {"i", Tensor::from<int32_t>({2}, {9, 9})}};
  both_agree(dead, feeds);
  EXPECT_NO_THROW(CompiledStep::compile(dead, {.simplify = false, .use_cache = false}).run(feeds));
  // A gather fused into another that reads one of its elements still checks every index; and
  // of two failing nodes both engines report the first in graph order (here the fused gather,
  // whose check compiled code runs after the cross-entropy, with the loop of its user).
  Graph fused = text("  %t = input : f32[4]\n"
                     "  %i = input : i32[4]\n"
                     "  %j = input : i32[4]\n"
                     "  %l = input : i32[1]\n"
                     "  %x = input : f32[1,5]\n"
                     "  %inner = gather(%t, %i) : f32[4]\n"
                     "  %ce = softmax_cross_entropy(%x, %l) : f32[]\n"
                     "  %outer = gather(%inner, %j) : f32[4]\n"
                     "  output y = %outer\n"
                     "  output ce = %ce\n");
  feeds = {{"t", Tensor(TensorType{DType::f32, {4}})},
           {"i", Tensor::from<int32_t>({4}, {0, 5, 1, 2})},
           {"j", Tensor::from<int32_t>({4}, {0, 0, 0, 0})},
           {"l", Tensor::from<int32_t>({1}, {9})},
           {"x", Tensor(TensorType{DType::f32, {1, 5}})}};
  for (bool simplify : {true, false}) {
    std::string e = error_of([&] {
      CompiledStep::compile(fused, {.simplify = simplify, .use_cache = false}).run(feeds);
    });
    EXPECT_THAT(e, HasSubstr("attack.sj:7:3: error: gather 'inner': index 5 at position [1]"));
  }
  EXPECT_THAT(both_fail(fused, feeds), HasSubstr("gather 'inner': index 5 at position [1]"));
  feeds["i"] = Tensor::from<int32_t>({4}, {0, 1, 1, 2});
  EXPECT_THAT(both_fail(fused, feeds),
              HasSubstr("attack.sj:8:3: error: softmax_cross_entropy 'ce': label 9 at position "
                        "[0] of the labels is out of range: the logits have 5 classes"));
}

// Row 8: a constant initializer out of an integer dtype's range was undefined behaviour; it
// saturates, as cast does.
TEST(Pathological, IntegerInitializersSaturate) {
  Graph g = text("  %v = variable {init = constant, value = 1e300} : i32[2]\n"
                 "  %w = variable {init = constant, value = -1e300} : i64[1]\n"
                 "  %n = variable {init = constant, value = nan} : i32[1]\n");
  Interpreter interpreter(g);
  EXPECT_EQ(interpreter.variable("v"), Tensor::from<int32_t>({2}, {2147483647, 2147483647}));
  EXPECT_EQ(interpreter.variable("w"),
            Tensor::from<int64_t>({1}, {std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(interpreter.variable("n"), Tensor::from<int32_t>({1}, {0}));
  auto step = CompiledStep::compile(g, {.use_cache = false});
  EXPECT_EQ(step.variable("v"), interpreter.variable("v"));
}

// Row 9: a concat of 2^23 operands overflowed the sum of their dimensions, after 14 s and 1.5 GB,
// in a 167 MB message.
TEST(Pathological, ConcatDimensionsAreCheckedAndMessagesStaySmall) {
  std::string big =
      "  %a = input : f32[1099511627776]\n  %c = concat(%a, %a) {axis = 0} : f32[1]\n";
  EXPECT_THAT(error_of([&] { text(big); }),
              HasSubstr("the operands' dimensions 0 add up to more than 2^40"));
  std::string many = "  %a = input : f32[1073741824]\n  %c = concat(";
  for (int i = 0; i < 2000; ++i)
    many += i ? ", %a" : "%a";
  many += ") {axis = 0} : f32[1]\n";
  std::string e = error_of([&] { text(many); });
  EXPECT_THAT(e, HasSubstr("concat(f32[1073741824], f32[1073741824], f32[1073741824], "
                           "f32[1073741824], f32[1073741824], f32[1073741824], f32[1073741824], "
                           "f32[1073741824], ... 1992 more)"));
  EXPECT_LT(e.size(), 400u);
  // Past 2^16 operands the parser stops reading them.
  std::string too_many = "  %a = input : f32[1]\n  %c = concat(";
  for (int i = 0; i < 70000; ++i)
    too_many += i ? ", %a" : "%a";
  too_many += ") {axis = 0} : f32[70000]\n";
  EXPECT_THAT(error_of([&] { text(too_many); }), HasSubstr("concat has more than 65536 operands"));
}

// Row 13: [0, 2^40, 2^40] was accepted (no elements) while its strides overflow int64.
TEST(Pathological, EmptyShapesMustStillHaveRepresentableStrides) {
  EXPECT_THAT(error_of([&] { text("  %x = input : f32[0,1099511627776,1099511627776]\n"); }),
              HasSubstr("attack.sj:2:16: error: the shape [0,1099511627776,1099511627776] has no "
                        "elements, but its other dimensions multiply to more than 2^40"));
  EXPECT_THAT(error_of([&] { text("  %x = input : f32[1099511627776,1099511627776,0]\n"); }),
              HasSubstr("has no elements, but its other dimensions multiply to more than 2^40"));
  EXPECT_NO_THROW(text("  %x = input : f32[0,1099511627776]\n"));
}

// Rows 14 and 15: softmax over an empty axis (undefined behaviour) and over axis 0 of
// f32[0, 2^40] (2^40 empty rows walked) in the interpreter.
TEST(Pathological, SoftmaxOfEmptyTensors) {
  Graph g = text("  %x = input : f32[3,0]\n"
                 "  %y = softmax(%x) {axis = 1} : f32[3,0]\n"
                 "  %z = log_softmax(%x) {axis = 0} : f32[3,0]\n"
                 "  output y = %y\n"
                 "  output z = %z\n");
  both_agree(g, {{"x", Tensor(TensorType{DType::f32, {3, 0}})}});
  Graph wide = text("  %x = input : f32[0,1099511627776]\n"
                    "  %y = softmax(%x) {axis = 0} : f32[0,1099511627776]\n"
                    "  %z = log_softmax(%x) {axis = 1} : f32[0,1099511627776]\n"
                    "  output y = %y\n"
                    "  output z = %z\n");
  both_agree(wide, {{"x", Tensor(TensorType{DType::f32, {0, int64_t{1} << 40}})}});
}

} // namespace
} // namespace sj
