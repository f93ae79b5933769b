// FLOPs per op (OpDef::flops, graph/limits.h): every op of the table has a deliberate rule, and
// the rules give hand-computed counts.
#include "graph/limits.h"
#include "graph/op_table.h"
#include "graph/parse.h"

#include <gtest/gtest.h>
#include <map>
#include <string>

namespace sj {
namespace {

enum class Rule {
  moves,    // copies or selects data: 0 (sources, index_map ops, or OpDef::flops = no_flops)
  elements, // one per element visited (elementwise ops; reductions: one per input element)
  macs,     // 2 per multiply-add its work() counts (matmul, convolutions)
  own,      // a rule of its own (attention's causal pairs, scatter_add's updates)
};

// The rule of every op, decided here independently of the table. An op missing from this list
// fails Coverage: give it a FLOPs rule (OpDef::flops, or the default) and list it.
const std::map<std::string, Rule>& expected_rules() {
  static const std::map<std::string, Rule> rules = {
      {"input", Rule::moves},
      {"variable", Rule::moves},
      {"constant", Rule::moves},
      {"neg", Rule::elements},
      {"abs", Rule::elements},
      {"exp", Rule::elements},
      {"log", Rule::elements},
      {"sqrt", Rule::elements},
      {"rsqrt", Rule::elements},
      {"square", Rule::elements},
      {"relu", Rule::elements},
      {"sigmoid", Rule::elements},
      {"tanh", Rule::elements},
      {"gelu", Rule::elements},
      {"softplus", Rule::elements},
      {"erf", Rule::elements},
      {"sin", Rule::elements},
      {"cos", Rule::elements},
      {"stop_gradient", Rule::moves},
      {"add", Rule::elements},
      {"sub", Rule::elements},
      {"mul", Rule::elements},
      {"div", Rule::elements},
      {"maximum", Rule::elements},
      {"minimum", Rule::elements},
      {"pow", Rule::elements},
      {"greater", Rule::elements},
      {"greater_equal", Rule::elements},
      {"less", Rule::elements},
      {"equal", Rule::elements},
      {"select", Rule::elements},
      {"cast", Rule::elements},
      {"reduce_sum", Rule::elements},
      {"reduce_mean", Rule::elements},
      {"reduce_max", Rule::elements},
      {"argmax", Rule::elements},
      {"layer_norm", Rule::elements},
      {"layer_norm_stats", Rule::elements},
      {"layer_norm_backprop", Rule::elements},
      {"matmul", Rule::macs},
      {"transpose", Rule::moves},
      {"reshape", Rule::moves},
      {"broadcast_to", Rule::moves},
      {"concat", Rule::moves},
      {"slice", Rule::moves},
      {"pad", Rule::moves},
      {"softmax", Rule::elements},
      {"log_softmax", Rule::elements},
      {"softmax_cross_entropy", Rule::elements},
      {"one_hot", Rule::moves},
      {"gather", Rule::moves},
      {"scatter_add", Rule::own},
      {"conv2d", Rule::macs},
      {"conv2d_backprop_input", Rule::macs},
      {"conv2d_backprop_kernel", Rule::macs},
      {"max_pool2d", Rule::elements},
      {"max_pool2d_backprop", Rule::own},
      {"avg_pool2d", Rule::elements},
      {"avg_pool2d_backprop", Rule::elements},
      {"attention", Rule::own},
      {"attention_lse", Rule::own},
      {"attention_backprop", Rule::own},
      {"random_uniform", Rule::elements},
      {"assign", Rule::moves},
  };
  return rules;
}

TEST(Flops, Coverage) {
  for (Op op : kAllOps) {
    const OpDef& d = op_def(op);
    auto it = expected_rules().find(std::string(d.name));
    ASSERT_NE(it, expected_rules().end())
        << "op '" << d.name << "' has no FLOPs rule in tests/graph/flops_test.cpp: decide its "
        << "OpDef::flops (the default, no_flops or its own) and list it there";
    bool moves_by_default = d.declares_type || d.fusion == Fusion::index_map;
    switch (it->second) {
    case Rule::moves:
      EXPECT_TRUE(d.flops == no_flops || (d.flops == nullptr && moves_by_default)) << d.name;
      break;
    case Rule::elements:
      EXPECT_TRUE(d.flops == nullptr && d.work == nullptr && !moves_by_default) << d.name;
      break;
    case Rule::macs:
      EXPECT_TRUE(d.flops == nullptr && d.work != nullptr && !moves_by_default) << d.name;
      break;
    case Rule::own:
      EXPECT_TRUE(d.flops != nullptr && d.flops != no_flops) << d.name;
      break;
    }
  }
  EXPECT_EQ(expected_rules().size(), kNumOps) << "an op listed here is not in the table";
}

// The FLOPs of the last node of `body` (a graph's lines).
int64_t flops_of_last(const std::string& body) {
  Graph g = parse("graph g {\n" + body + "}\n", "flops.sj");
  return flops_of(g, g.node(ValueId(g.size() - 1)));
}

TEST(Flops, HandComputedCounts) {
  // matmul [2,3,4] x [4,5]: 2 * (2 * 3 * 5 results) * 4 = 240.
  EXPECT_EQ(flops_of_last("  %a = input : f32[2,3,4]\n  %b = input : f32[4,5]\n"
                          "  %0 = matmul(%a, %b) : f32[2,3,5]\n"),
            240);
  // transpose_a: k is a's second-to-last dimension: [4,3]^T x [4,5] -> 2 * 15 * 4 = 120.
  EXPECT_EQ(flops_of_last("  %a = input : f32[4,3]\n  %b = input : f32[4,5]\n"
                          "  %0 = matmul(%a, %b) {transpose_a = true} : f32[3,5]\n"),
            120);
  // conv2d 3x3 over 2 channels into 4, valid: output [1,3,3,4] = 36, K = 3*3*2 = 18 -> 1296.
  EXPECT_EQ(flops_of_last("  %x = input : f32[1,5,5,2]\n  %k = input : f32[3,3,2,4]\n"
                          "  %0 = conv2d(%x, %k) : f32[1,3,3,4]\n"),
            2 * 36 * 18);
  // Elementwise: one per result element, broadcasting included ([2,3] + [3]: 6).
  EXPECT_EQ(flops_of_last("  %a = input : f32[2,3]\n  %b = input : f32[3]\n"
                          "  %0 = add(%a, %b) : f32[2,3]\n"),
            6);
  EXPECT_EQ(flops_of_last("  %a = input : f32[2,3]\n  %0 = relu(%a) : f32[2,3]\n"), 6);
  // Reductions: one per input element.
  EXPECT_EQ(flops_of_last("  %a = input : f32[4,5]\n"
                          "  %0 = reduce_sum(%a) {axes = [0, 1]} : f32[]\n"),
            20);
  // Data movement: none.
  EXPECT_EQ(flops_of_last("  %a = input : f32[4,5]\n"
                          "  %0 = reshape(%a) {shape = [20]} : f32[20]\n"),
            0);
  EXPECT_EQ(flops_of_last("  %a = input : f32[4,5]\n  %0 = concat(%a, %a) {axis = 0} : "
                          "f32[8,5]\n"),
            0);
  EXPECT_EQ(flops_of_last("  %a = input : f32[4,5]\n  %0 = transpose(%a) {perm = [1, 0]} : "
                          "f32[5,4]\n"),
            0);
  // scatter_add: one addition per update element (2*2*3 = 12), not per table element (30).
  EXPECT_EQ(flops_of_last("  %u = input : f32[2,2,3]\n  %i = input : i32[2,2]\n"
                          "  %0 = scatter_add(%u, %i) {rows = 10} : f32[10,3]\n"),
            12);
}

TEST(Flops, AttentionCountsTheScoresACausalQuerySees) {
  std::string qkv = "  %q = input : f32[1,2,4,8]\n  %k = input : f32[1,2,4,8]\n"
                    "  %m = constant {value = 0.0} : f32[]\n";
  // Two products (q k^T and p v) of depth 8 per visible score, 2 FLOPs per multiply-add, over
  // batch 1 x heads 2: all 16 scores, or causal 1 + 2 + 3 + 4 = 10.
  EXPECT_EQ(flops_of_last(qkv + "  %0 = attention(%q, %k, %k, %m) : f32[1,2,4,8]\n"),
            2 * 2 * 1 * 2 * 16 * 8);
  EXPECT_EQ(flops_of_last(qkv + "  %0 = attention(%q, %k, %k, %m) {causal = true} : "
                                "f32[1,2,4,8]\n"),
            2 * 2 * 1 * 2 * 10 * 8);
  // 2 queries over 5 keys, causal: query i sees keys j <= i + 3: 4 + 5 = 9 scores.
  EXPECT_EQ(flops_of_last("  %q = input : f32[1,1,2,4]\n  %k = input : f32[1,1,5,4]\n"
                          "  %m = constant {value = 0.0} : f32[]\n"
                          "  %0 = attention_lse(%q, %k, %m) {causal = true} : f32[1,1,2]\n"),
            2 * 1 * 9 * 4);
}

} // namespace
} // namespace sj
