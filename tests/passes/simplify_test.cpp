// simplify(): the result is well-formed and prints stably, computes bit for bit what the
// original computes (outputs and variable updates, over several steps of training), shrinks the
// training step, is idempotent, keeps inputs, variables and assigns, and each rule fires where it
// should and not where it must not. The golden files tests/passes/golden/simplify_*.sj show each
// rule's output; they are also run here for equivalence, with feeds full of signed zeros.
#include "frontend/gradients.h"
#include "frontend/optimizers.h"
#include "graph/builder.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "passes/simplify.h"
#include "runtime/interpreter.h"
#include "tests/support/cli.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace sj {
namespace {

using testing::Contains;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::Key;
using testing::Not;

// ---- graphs --------------------------------------------------------------------------------

Graph load(const std::string& relative) {
  std::string path = test::source_path(relative);
  return parse(test::read_file(path), path);
}

/// The optimizer `name` with its defaults, then `tweak`.
OptimizerSpec optimizer(const std::string& name,
                        const std::function<void(OptimizerSpec&)>& tweak = {}) {
  OptimizerSpec spec;
  spec.name = name;
  if (tweak) tweak(spec);
  return spec;
}

/// A training step: the model's forward graph, the gradients of its `loss` output with respect
/// to every variable, and the optimizer's update.
Graph training_step(const std::string& model, const OptimizerSpec& spec) {
  Graph g = load(model);
  make_optimizer(spec)->minimize(Value(g, *g.output("loss")), all_variables(g));
  return g;
}

/// The forward graph with its gradients as outputs `grad.<variable>` (stepjit's --stage=grad).
Graph gradient_graph(const std::string& model) {
  Graph g = load(model);
  std::vector<Value> vars = all_variables(g);
  std::vector<Value> grads = gradients(Value(g, *g.output("loss")), vars);
  for (size_t i = 0; i < vars.size(); ++i)
    g.add_output("grad." + vars[i].node().name, grads[i].id());
  return g;
}

std::vector<std::string> golden_files() {
  std::vector<std::string> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(test::source_path("tests/passes/golden")))
    if (entry.path().extension() == ".sj" && entry.path().stem().string().starts_with("simplify_"))
      files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// ---- running -------------------------------------------------------------------------------

/// splitmix64: fixed feeds whatever the standard library.
class Rng {
public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform(double low, double high) {
    return low + (high - low) * static_cast<double>(next() >> 11) * 0x1.0p-53;
  }

private:
  uint64_t state_;
};

/// Feeds for every input of `g`, fixed by `seed`: floats in [-2, 2) except that elements 1, 5, 9,
/// ... are -0.0 and 2, 8, 14, ... +0.0 (where x + 0 and x + (-0) differ), integers in [0, 3) (valid
/// class labels and gather indices for the graphs here), bools alternating.
std::map<std::string, Tensor> feeds_for(const Graph& g, uint64_t seed) {
  Rng rng(seed);
  std::map<std::string, Tensor> feeds;
  for (ValueId v : g.nodes_of(Op::input)) {
    const Node& n = g.node(v);
    Tensor t(n.type);
    visit_dtype(n.type.dtype, [&]<typename T>() {
      T* data = t.data<T>();
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        if constexpr (std::is_floating_point_v<T>)
          data[i] = i % 4 == 1 ? T(-0.0) : i % 6 == 2 ? T(0.0) : T(rng.uniform(-2, 2));
        else if constexpr (std::is_same_v<T, bool>)
          data[i] = i % 2 == 0;
        else
          data[i] = static_cast<T>(rng.next() % 3);
      }
    });
    feeds.emplace(n.name, std::move(t));
  }
  return feeds;
}

/// Runs `original` and `simplified` side by side for `steps` steps with the same feeds (new ones
/// each step) and expects every output and every variable to be bit-identical after each step
/// (or both runs to fail with the same error).
void expect_same_steps(const Graph& original, const Graph& simplified, int steps,
                       const std::string& what) {
  Interpreter a(original), b(simplified);
  for (int step = 1; step <= steps; ++step) {
    auto feeds = feeds_for(original, 1000 + uint64_t(step));
    // A run-time error (an index out of range) must stay the same error.
    std::map<std::string, Tensor> out_a, out_b;
    std::string error_a, error_b;
    try {
      out_a = a.run(feeds);
    } catch (const Error& e) {
      error_a = e.what();
    }
    try {
      out_b = b.run(feeds);
    } catch (const Error& e) {
      error_b = e.what();
    }
    ASSERT_EQ(error_b, error_a) << what;
    if (!error_a.empty()) return;
    ASSERT_EQ(out_a.size(), out_b.size()) << what;
    for (const auto& [name, value] : out_a) {
      ASSERT_TRUE(out_b.count(name)) << what << ": output " << name;
      EXPECT_TRUE(out_b.at(name) == value)
          << what << ": output " << name << " differs at step " << step;
    }
    for (ValueId v : original.nodes_of(Op::variable)) {
      const std::string& name = original.node(v).name;
      EXPECT_TRUE(a.variable(name) == b.variable(name))
          << what << ": variable " << name << " differs after step " << step;
    }
  }
}

std::vector<std::string> names_of(const Graph& g, Op op) {
  std::vector<std::string> names;
  for (ValueId v : g.nodes_of(op))
    names.push_back(g.node(v).name);
  return names;
}

/// The graphs every property is checked on: the example models' forward graphs, gradient
/// graphs and training steps with each optimizer, and the golden files' inputs.
std::vector<std::pair<std::string, Graph>> all_graphs() {
  std::vector<std::pair<std::string, Graph>> graphs;
  for (std::string model : {"examples/models/seed.sj", "examples/models/mlp.sj"}) {
    graphs.emplace_back(model, load(model));
    graphs.emplace_back(model + " grad", gradient_graph(model));
    std::vector<std::pair<std::string, OptimizerSpec>> specs = {
        {"adam", optimizer("adam")},
        {"sgd momentum", optimizer("sgd", [](OptimizerSpec& s) { s.momentum = 0.9; })},
    };
    if (model.find("seed") != std::string::npos) {
      // The small model gets every optimizer and option; the MLP (slower in the interpreter)
      // the two above.
      specs.emplace_back("sgd", optimizer("sgd"));
      specs.emplace_back("adamw", optimizer("adamw"));
      specs.emplace_back("adam keras",
                         optimizer("adam", [](OptimizerSpec& s) { s.flavor = Flavor::keras; }));
      specs.emplace_back("rmsprop momentum",
                         optimizer("rmsprop", [](OptimizerSpec& s) { s.momentum = 0.5; }));
      specs.emplace_back("adagrad", optimizer("adagrad"));
      specs.emplace_back("adam clipped", optimizer("adam", [](OptimizerSpec& s) {
                           s.weight_decay = 0.1;
                           s.clipping = {.value = 0.5, .global_norm = 1};
                         }));
    }
    for (const auto& [name, spec] : specs)
      graphs.emplace_back(model + " " + name, training_step(model, spec));
  }
  for (const std::string& file : golden_files())
    graphs.emplace_back(file, parse(test::read_file(file), file));
  return graphs;
}

// ---- (1) well-formed, (2) equivalent, (4) idempotent -------------------------------------

TEST(Simplify, ResultVerifiesAndRoundTripsThroughText) {
  for (const auto& [what, g] : all_graphs()) {
    SCOPED_TRACE(what);
    Graph s = simplify(g);
    EXPECT_NO_THROW(verify(s));
    std::string text = print(s);
    EXPECT_EQ(print(parse(text)), text);
  }
}

TEST(Simplify, ComputesBitIdenticalOutputsAndVariablesOverThreeSteps) {
  for (const auto& [what, g] : all_graphs()) {
    SCOPED_TRACE(what);
    expect_same_steps(g, simplify(g), 3, what);
  }
}

TEST(Simplify, IsIdempotent) {
  for (const auto& [what, g] : all_graphs()) {
    SCOPED_TRACE(what);
    SimplifyStats again;
    Graph once = simplify(g);
    Graph twice = simplify(once, &again);
    EXPECT_EQ(print(twice), print(once));
    EXPECT_THAT(again, IsEmpty()) << "a second run still changed something";
  }
}

TEST(Simplify, KeepsInputsVariablesOutputsAndTheirOrder) {
  for (const auto& [what, g] : all_graphs()) {
    SCOPED_TRACE(what);
    Graph s = simplify(g);
    EXPECT_EQ(names_of(s, Op::input), names_of(g, Op::input));
    EXPECT_EQ(names_of(s, Op::variable), names_of(g, Op::variable));
    for (Op op : {Op::input, Op::variable}) {
      auto before = g.nodes_of(op), after = s.nodes_of(op);
      ASSERT_EQ(before.size(), after.size());
      for (size_t i = 0; i < before.size(); ++i) {
        EXPECT_EQ(s.node(after[i]).type, g.node(before[i]).type);
        EXPECT_TRUE(s.node(after[i]).attrs == g.node(before[i]).attrs); // initializers
      }
    }
    ASSERT_EQ(s.outputs().size(), g.outputs().size());
    for (size_t i = 0; i < g.outputs().size(); ++i)
      EXPECT_EQ(s.outputs()[i].name, g.outputs()[i].name);
    EXPECT_EQ(s.nodes_of(Op::assign).size(), g.nodes_of(Op::assign).size());
  }
}

// ---- (3) the seed model's Adam step shrinks ----------------------------------------------

TEST(Simplify, ShrinksTheSeedAdamStep) {
  Graph g = training_step("examples/models/seed.sj", optimizer("adam"));
  SimplifyStats stats;
  Graph s = simplify(g, &stats);
  std::string fired;
  for (const auto& [rule, n] : stats)
    fired += " " + rule + "=" + std::to_string(n);
  RecordProperty("nodes_before", int(g.size()));
  RecordProperty("nodes_after", int(s.size()));
  RecordProperty("rules", fired);
  std::cout << "seed Adam step: " << g.size() << " -> " << s.size() << " nodes;" << fired << "\n";
  EXPECT_LT(s.size(), g.size());
  // Duplicated constants (1.0 per use), pow(beta, t) and 1 - beta per variable: merged.
  EXPECT_THAT(stats, Contains(Key("cse")));
  // d loss / d loss = 1 reshaped and divided by the count: one constant.
  EXPECT_THAT(stats, Contains(Key("fold_constants")));
  // ... which makes the broadcast of that scalar into the error's shape unnecessary.
  EXPECT_THAT(stats, Contains(Key("broadcast_of_scalar")));
  EXPECT_THAT(stats, Contains(Key("dce")));
  for (const auto& [rule, n] : stats)
    EXPECT_GT(n, 0) << rule;
  // Each pow(beta, t) is computed once, not once per variable.
  int pows = 0;
  for (const Node& n : s.nodes())
    pows += n.op == Op::pow;
  EXPECT_EQ(pows, 2);
  EXPECT_THAT(print(s), Not(HasSubstr("broadcast_to")));
}

TEST(Simplify, StatsOnlyNameRulesThatFired) {
  Graph g = load("examples/models/seed.sj");
  SimplifyStats stats = {{"stale", 7}};
  Graph s = simplify(g, &stats);
  EXPECT_THAT(stats, IsEmpty()); // the forward graph is already simple
  EXPECT_EQ(print(s), print(g));
}

// ---- (5) what is kept and what goes ------------------------------------------------------

TEST(Simplify, KeepsUnusedInputsAndVariablesRemovesDeadCodeKeepsAssigns) {
  Graph g = parse(R"(graph g {
  %unused_in = input : f32[3]
  %x = input : f32[3]
  %unused_var = variable {init = uniform, seed = 4, low = -1, high = 2} : f32[2]
  %w = variable {init = ones} : f32[3]
  %counter = variable : i64[]
  %0 = exp(%x) : f32[3]
  %dead = mul(%0, %0) : f32[3]
  %1 = add(%w, %x) : f32[3]
  %2 = assign(%w, %1) : f32[3]
  %3 = constant {value = 1} : i64[]
  %4 = add(%counter, %3) : i64[]
  %5 = assign(%counter, %4) : i64[]
  %y = neg(%x) : f32[3]
  output y = %y
})");
  SimplifyStats stats;
  Graph s = simplify(g, &stats);
  EXPECT_EQ(print(s), R"(graph g {
  %unused_in = input : f32[3]
  %x = input : f32[3]
  %unused_var = variable {init = uniform, seed = 4, low = -1.0, high = 2.0} : f32[2]
  %w = variable {init = ones} : f32[3]
  %counter = variable : i64[]
  %0 = add(%w, %x) : f32[3]
  %1 = assign(%w, %0) : f32[3]
  %2 = constant {value = 1} : i64[]
  %3 = add(%counter, %2) : i64[]
  %4 = assign(%counter, %3) : i64[]
  %y = neg(%x) : f32[3]
  output y = %y
}
)");
  EXPECT_EQ(stats, (SimplifyStats{{"dce", 2}}));
  expect_same_steps(g, s, 3, "dead code");
}

TEST(Simplify, AGraphWithOnlyAssignsKeepsThem) {
  // No outputs at all: the assigns are the graph's whole effect.
  Graph g = parse(R"(graph g {
  %v = variable : f32[2]
  %0 = constant {value = 1.0} : f32[]
  %1 = mul(%v, %0) : f32[2]
  %2 = constant {value = 1.0} : f32[]
  %3 = add(%1, %2) : f32[2]
  %4 = assign(%v, %3) : f32[2]
})");
  Graph s = simplify(g);
  EXPECT_EQ(print(s), R"(graph g {
  %v = variable : f32[2]
  %0 = constant {value = 1.0} : f32[]
  %1 = add(%v, %0) : f32[2]
  %2 = assign(%v, %1) : f32[2]
}
)");
  expect_same_steps(g, s, 3, "assign only");
}

TEST(Simplify, NamesMoveToTheirReplacementWhenItIsUnnamed) {
  Graph g = parse(R"(graph g {
  %x = input : f32[3]
  %0 = exp(%x) : f32[3]
  %e = exp(%x) : f32[3]
  %one = constant {value = 1.0} : f32[]
  %scaled = mul(%e, %one) : f32[3]
  %same_x = mul(%x, %one) : f32[3]
  %r = reshape(%scaled) {shape = [3]} : f32[3]
  %s = add(%0, %r) : f32[3]
  output s = %s
  output e = %r
  output x1 = %same_x
})");
  Graph s = simplify(g);
  // %e merges into %0, which takes its name; %scaled and %r are %e again (named already), and
  // %same_x is the input %x, whose name never changes.
  EXPECT_EQ(print(s), R"(graph g {
  %x = input : f32[3]
  %e = exp(%x) : f32[3]
  %s = add(%e, %e) : f32[3]
  output s = %s
  output e = %e
  output x1 = %x
}
)");
}

// ---- rules: where they fire and where they must not --------------------------------------

/// simplify(text) printed, with its stats.
std::pair<std::string, SimplifyStats> simplified(const std::string& text) {
  SimplifyStats stats;
  Graph s = simplify(parse(text), &stats);
  return {print(s), stats};
}

TEST(Simplify, AddZeroRemovesOnlyTheExactForms) {
  auto [text, stats] = simplified(R"(graph g {
  %x = input : f32[4]
  %i = input : i32[4]
  %pz = constant {value = 0.0} : f32[]
  %nz = constant {value = -0.0} : f32[]
  %iz = constant {value = 0} : i32[]
  %a = add(%x, %pz) : f32[4]
  %b = add(%nz, %x) : f32[4]
  %c = sub(%x, %pz) : f32[4]
  %d = sub(%x, %nz) : f32[4]
  %e = sub(%pz, %x) : f32[4]
  %f = add(%iz, %i) : i32[4]
  %g = sub(%i, %iz) : i32[4]
  output a = %a
  output b = %b
  output c = %c
  output d = %d
  output e = %e
  output f = %f
  output g = %g
})");
  // x + 0 is not x for x = -0 (-0 + 0 = +0), and neither is x - (-0); 0 - x is -x.
  EXPECT_THAT(text, HasSubstr("%a = add(%x, %pz)"));
  EXPECT_THAT(text, HasSubstr("%d = sub(%x, %nz)"));
  EXPECT_THAT(text, HasSubstr("%e = sub(%pz, %x)"));
  EXPECT_THAT(text, HasSubstr("output b = %x"));
  EXPECT_THAT(text, HasSubstr("output c = %x"));
  EXPECT_THAT(text, HasSubstr("output f = %i"));
  EXPECT_THAT(text, HasSubstr("output g = %i"));
  EXPECT_EQ(stats.at("add_zero"), 4);
}

TEST(Simplify, IdentitiesThatWouldBroadcastAreKept) {
  auto [text, stats] = simplified(R"(graph g {
  %x = input : f32[3]
  %ones = constant {value = 1.0} : f32[2,3]
  %zeros = constant {value = -0.0} : f32[2,3]
  %a = mul(%x, %ones) : f32[2,3]
  %b = add(%zeros, %x) : f32[2,3]
  %twos = constant {value = [1.0, 2.0, 1.0]} : f32[3]
  %c = mul(%x, %twos) : f32[3]
  output a = %a
  output b = %b
  output c = %c
})");
  EXPECT_THAT(text, HasSubstr("%a = mul(%x, %ones) : f32[2,3]"));
  EXPECT_THAT(text, HasSubstr("%b = add(%zeros, %x) : f32[2,3]"));
  EXPECT_THAT(text, HasSubstr("%c = mul(%x, %twos) : f32[3]"));
  EXPECT_THAT(stats, IsEmpty());
}

TEST(Simplify, FoldsSmallConstantsOnly) {
  auto [text, stats] = simplified(R"(graph g {
  %a = constant {value = 2.0} : f32[]
  %b = constant {value = 3.0} : f32[]
  %small = mul(%a, %b) : f32[]
  %big = constant {value = 1.0} : f32[2000]
  %c = mul(%big, %a) : f32[2000]
  %d = broadcast_to(%a) {shape = [4]} : f32[4]
  %e = reduce_sum(%big) {axes = [0]} : f32[]
  output small = %small
  output c = %c
  output d = %d
  output e = %e
})");
  // The product of two scalars and the sum of the big splat are small: folded. The big product
  // stays an op (2000 elements), and so does the broadcast (a splat is not simpler).
  EXPECT_THAT(text, HasSubstr("%small = constant {value = 6.0} : f32[]"));
  EXPECT_THAT(text, HasSubstr("%e = constant {value = 2000.0} : f32[]"));
  EXPECT_THAT(text, HasSubstr("%c = mul(%big, %a) : f32[2000]"));
  EXPECT_THAT(text, HasSubstr("%d = broadcast_to(%a) {shape = [4]} : f32[4]"));
  EXPECT_EQ(stats.at("fold_constants"), 2);
}

TEST(Simplify, DoesNotFoldWhatFailsAtRunTime) {
  // Index 5 is out of range for a table of 3 rows: folding would throw now; the run must throw.
  Graph g = parse(R"(graph g {
  %table = constant {value = [1.0, 2.0, 3.0]} : f32[3]
  %bad = constant {value = [0, 5]} : i32[2]
  %good = constant {value = [2, 0]} : i32[2]
  %0 = gather(%table, %bad) : f32[2]
  %1 = gather(%table, %good) : f32[2]
  output bad = %0
  output good = %1
})");
  SimplifyStats stats;
  Graph s = simplify(g, &stats);
  EXPECT_THAT(print(s), HasSubstr("gather(%table, %bad)"));
  EXPECT_THAT(print(s), HasSubstr("constant {value = [3.0, 1.0]} : f32[2]"));
  EXPECT_EQ(stats.at("fold_constants"), 1);
  Interpreter run(s);
  EXPECT_THROW(run.run({}), Error);
}

TEST(Simplify, ConstantsMergeByTypeAndBits) {
  auto [text, stats] = simplified(R"(graph g {
  %x = input : f32[2]
  %0 = constant {value = 1.0} : f32[]
  %1 = constant {value = 1.0} : f32[]
  %2 = constant {value = 1.0} : f64[]
  %3 = constant {value = 0.0} : f32[]
  %4 = constant {value = -0.0} : f32[]
  %5 = constant {value = [1.0, 1.0]} : f32[2]
  %a = maximum(%x, %0) : f32[2]
  %b = maximum(%x, %1) : f32[2]
  %c = cast(%2) {to = f32} : f32[]
  %d = maximum(%x, %3) : f32[2]
  %e = maximum(%x, %4) : f32[2]
  %f = maximum(%x, %5) : f32[2]
  output a = %a
  output b = %b
  output c = %c
  output d = %d
  output e = %e
  output f = %f
})");
  // Same type and bits: one constant (and then one maximum). The f64 1.0 folds (cast) into
  // that constant too, which takes the name %c; +0, -0 and the f32[2] of ones stay apart.
  EXPECT_EQ(text, R"(graph g {
  %x = input : f32[2]
  %c = constant {value = 1.0} : f32[]
  %0 = constant {value = 0.0} : f32[]
  %1 = constant {value = -0.0} : f32[]
  %2 = constant {value = 1.0} : f32[2]
  %a = maximum(%x, %c) : f32[2]
  %d = maximum(%x, %0) : f32[2]
  %e = maximum(%x, %1) : f32[2]
  %f = maximum(%x, %2) : f32[2]
  output a = %a
  output b = %a
  output c = %c
  output d = %d
  output e = %e
  output f = %f
}
)");
  EXPECT_EQ(stats.at("fold_constants"), 1);
  EXPECT_EQ(stats.at("cse"), 2);
}

TEST(Simplify, SumOverSizeOneOfFloatsKeepsTheSignOfZero) {
  Graph g = parse(R"(graph g {
  %x = input : f32[4,1]
  %i = input : i32[4,1]
  %s = reduce_sum(%x) {axes = [1]} : f32[4]
  %m = reduce_mean(%x) {axes = [-1], keepdims = true} : f32[4,1]
  %k = reduce_max(%x) {axes = [1]} : f32[4]
  %n = reduce_sum(%i) {axes = [1], keepdims = true} : i32[4,1]
  output s = %s
  output m = %m
  output k = %k
  output n = %n
})");
  SimplifyStats stats;
  Graph s = simplify(g, &stats);
  std::string text = print(s);
  EXPECT_THAT(text, Not(HasSubstr("reduce_")));
  EXPECT_EQ(stats.at("sum_over_size_one"), 4);
  // The interpreter's sum of one -0 is +0; x + 0 does the same.
  std::map<std::string, Tensor> feeds = {
      {"x", Tensor::from<float>({4, 1}, {-0.0f, 0.0f, -1.5f, 2.0f})},
      {"i", Tensor::from<int32_t>({4, 1}, {1, -2, 3, 0})}};
  auto a = Interpreter(g).run(feeds), b = Interpreter(s).run(feeds);
  for (const auto& [name, value] : a)
    EXPECT_TRUE(b.at(name) == value) << name;
  EXPECT_FALSE(std::signbit(a.at("s").values<float>()[0]));
  EXPECT_TRUE(std::signbit(a.at("k").values<float>()[0]));
}

TEST(Simplify, TransposeAndReshapeChainsCollapse) {
  auto [text, stats] = simplified(R"(graph g {
  %x = input : f32[2,3,4]
  %0 = transpose(%x) {perm = [1, 2, 0]} : f32[3,4,2]
  %1 = transpose(%0) {perm = [2, 0, 1]} : f32[2,3,4]
  %2 = transpose(%0) {perm = [1, 0, 2]} : f32[4,3,2]
  %3 = reshape(%x) {shape = [6, 4]} : f32[6,4]
  %4 = reshape(%3) {shape = [24]} : f32[24]
  %5 = reshape(%4) {shape = [2, 3, 4]} : f32[2,3,4]
  %6 = add(%1, %5) : f32[2,3,4]
  output a = %6
  output b = %2
  output c = %4
})");
  EXPECT_THAT(text, HasSubstr("add(%x, %x)"));
  EXPECT_THAT(text, HasSubstr("transpose(%x) {perm = [2, 1, 0]} : f32[4,3,2]"));
  EXPECT_THAT(text, HasSubstr("reshape(%x) {shape = [24]} : f32[24]"));
  EXPECT_THAT(text, Not(HasSubstr("[6, 4]")));
  EXPECT_EQ(stats.at("transpose_of_transpose"), 2);
  EXPECT_EQ(stats.at("reshape_chain"), 2);
}

TEST(Simplify, MatmulAbsorbsOnlyATransposeOfTheLastTwoDimensions) {
  auto [text, stats] = simplified(R"(graph g {
  %a = input : f32[2,4,3]
  %b = input : f32[2,4,5]
  %c = input : f32[4,2,3]
  %0 = transpose(%a) {perm = [0, 2, 1]} : f32[2,3,4]
  %1 = matmul(%0, %b) : f32[2,3,5]
  %2 = transpose(%c) {perm = [1, 2, 0]} : f32[2,3,4]
  %3 = matmul(%2, %b) : f32[2,3,5]
  output p = %1
  output q = %3
})");
  EXPECT_THAT(text, HasSubstr("%0 = matmul(%a, %b) {transpose_a = true} : f32[2,3,5]"));
  EXPECT_THAT(text, HasSubstr("matmul(%1, %b)"));
  EXPECT_EQ(stats.at("matmul_transpose_flag"), 1);
}

TEST(Simplify, RulesChainToAFixedPoint) {
  // The broadcast goes (its operand broadcasts implicitly), which leaves mul(x, 1): x; then
  // x * x and the second x * x merge, and the constants die.
  auto [text, stats] = simplified(R"(graph g {
  %x = input : f32[2,3]
  %0 = constant {value = 1.0} : f32[1,1]
  %1 = broadcast_to(%0) {shape = [2, 3]} : f32[2,3]
  %2 = mul(%1, %x) : f32[2,3]
  %3 = mul(%2, %x) : f32[2,3]
  %4 = mul(%x, %x) : f32[2,3]
  %5 = sub(%3, %4) : f32[2,3]
  output d = %5
})");
  EXPECT_EQ(text, R"(graph g {
  %x = input : f32[2,3]
  %0 = mul(%x, %x) : f32[2,3]
  %1 = sub(%0, %0) : f32[2,3]
  output d = %1
}
)");
  EXPECT_EQ(stats.at("broadcast_of_scalar"), 1);
  EXPECT_EQ(stats.at("mul_by_one"), 1);
  EXPECT_EQ(stats.at("cse"), 1);
  EXPECT_EQ(stats.at("dce"), 2);
}

} // namespace
} // namespace sj
