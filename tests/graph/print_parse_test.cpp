// The text form (docs/ir.md): exact printed text for hand-checked graphs, and
// print(parse(print(g))) == print(g) for a graph exercising every op of the table.
#include "graph/builder.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "graph/verify.h"
#include "tests/support/models.h"

#include <bit>
#include <cmath>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits>
#include <map>
#include <random>

namespace sj {
namespace {

// A graph named `t` holding `lines` (each already indented and ending in a newline).
std::string graph_text(std::string_view lines) {
  return "graph t {\n" + std::string(lines) + "}\n";
}

// Parses `text`, checks the result against the verifier and that printing is a fixed point.
Graph round_trip(const std::string& text) {
  Graph g = parse(text, "round_trip");
  verify(g);
  std::string printed = print(g);
  EXPECT_EQ(print(parse(printed, "printed")), printed);
  return g;
}

// One canonical snippet per op, written as print() must write it, with non-default attributes
// wherever the op has attributes. A new op without an entry here fails EveryOpRoundTrips.
const std::map<Op, std::string>& op_snippets() {
  static const std::map<Op, std::string> snippets = [] {
    const std::string x23 = "  %x = input : f32[2,3]\n";
    const std::string ab = "  %a = input : f32[2,3]\n  %b = input : f32[3]\n";
    auto unary = [&](std::string_view op) {
      return fmt::format("{}  %0 = {}(%x) : f32[2,3]\n", x23, op);
    };
    auto binary = [&](std::string_view op, std::string_view result) {
      return fmt::format("{}  %0 = {}(%a, %b) : {}[2,3]\n", ab, op, result);
    };
    std::map<Op, std::string> m = {
        {Op::input, "  %x = input : f32[2,3]\n  %n = input : i64[]\n  output x = %x\n"},
        {Op::variable,
         "  %u = variable {init = uniform, seed = 7, low = -0.5, high = 0.25} : f32[3,4]\n"
         "  %v = variable {init = normal, seed = 3, mean = 1.0, stddev = 1e-07} : f64[2]\n"
         "  %k = variable {init = constant, value = 2.5} : f32[]\n"
         "  %z = variable : i32[5]\n"},
        {Op::constant, "  %c = constant {value = [1.0, -2.5, 0.1]} : f32[3]\n"},
        {Op::neg, "  %x = input : i32[4]\n  %0 = neg(%x) : i32[4]\n"},
        {Op::abs, "  %x = input : i64[4]\n  %0 = abs(%x) : i64[4]\n"},
        {Op::exp, unary("exp")},
        {Op::log, unary("log")},
        {Op::sqrt, unary("sqrt")},
        {Op::rsqrt, unary("rsqrt")},
        {Op::square, unary("square")},
        {Op::relu, unary("relu")},
        {Op::sigmoid, unary("sigmoid")},
        {Op::tanh, unary("tanh")},
        {Op::gelu, x23 + "  %0 = gelu(%x) {approximate = true} : f32[2,3]\n"},
        {Op::softplus, unary("softplus")},
        {Op::erf, unary("erf")},
        {Op::sin, unary("sin")},
        {Op::cos, unary("cos")},
        {Op::stop_gradient, unary("stop_gradient")},
        {Op::add, binary("add", "f32")},
        {Op::sub, binary("sub", "f32")},
        {Op::mul, binary("mul", "f32")},
        {Op::div, binary("div", "f32")},
        {Op::maximum, binary("maximum", "f32")},
        {Op::minimum, binary("minimum", "f32")},
        {Op::pow, binary("pow", "f32")},
        {Op::greater, binary("greater", "bool")},
        {Op::greater_equal, binary("greater_equal", "bool")},
        {Op::less, binary("less", "bool")},
        {Op::equal, binary("equal", "bool")},
        {Op::select, ab + "  %c = input : bool[2,1]\n  %0 = select(%c, %a, %b) : f32[2,3]\n"},
        {Op::cast, x23 + "  %0 = cast(%x) {to = i64} : i64[2,3]\n"},
        {Op::reduce_sum, x23 + "  %0 = reduce_sum(%x) {axes = [0], keepdims = true} : f32[1,3]\n"},
        {Op::reduce_mean, x23 + "  %0 = reduce_mean(%x) {axes = [-1]} : f32[2]\n"},
        {Op::reduce_max, x23 + "  %0 = reduce_max(%x) {axes = []} : f32[2,3]\n"},
        {Op::matmul, "  %a = input : f32[2,3]\n  %b = input : f32[4,3]\n"
                     "  %0 = matmul(%a, %b) {transpose_b = true} : f32[2,4]\n"},
        {Op::transpose, x23 + "  %0 = transpose(%x) {perm = [1, 0]} : f32[3,2]\n"},
        {Op::reshape, x23 + "  %0 = reshape(%x) {shape = [3, 1, 2]} : f32[3,1,2]\n"},
        {Op::broadcast_to, ab + "  %0 = broadcast_to(%b) {shape = [4, 2, 3]} : f32[4,2,3]\n"},
        {Op::concat, x23 + "  %0 = concat(%x, %x, %x) {axis = 1} : f32[2,9]\n"},
        {Op::slice, x23 + "  %0 = slice(%x) {begin = [0, 1], end = [2, 3]} : f32[2,2]\n"},
        {Op::softmax, x23 + "  %0 = softmax(%x) {axis = 0} : f32[2,3]\n"},
        {Op::log_softmax, x23 + "  %0 = log_softmax(%x) {axis = -2} : f32[2,3]\n"},
        {Op::softmax_cross_entropy, "  %logits = input : f32[4,5]\n  %labels = input : i32[4]\n"
                                    "  %0 = softmax_cross_entropy(%logits, %labels) : f32[]\n"},
        {Op::one_hot, "  %i = input : i64[4]\n  %0 = one_hot(%i) {depth = 5, dtype = f64} : "
                      "f64[4,5]\n"},
        {Op::gather, "  %table = input : f32[10,3]\n  %i = input : i32[2,2]\n"
                     "  %0 = gather(%table, %i) : f32[2,2,3]\n"},
        {Op::conv2d, "  %x = input : f32[1,5,5,3]\n  %k = input : f32[3,3,1,6]\n"
                     "  %0 = conv2d(%x, %k) {strides = [2, 2], padding = same, dilations = [1, 2], "
                     "groups = 3} : f32[1,3,3,6]\n"},
        {Op::conv2d_backprop_input,
         "  %dy = input : f32[1,2,2,4]\n  %k = input : f32[2,2,3,4]\n"
         "  %0 = conv2d_backprop_input(%dy, %k) {input_shape = [1, 3, 3, 3]} : f32[1,3,3,3]\n"},
        {Op::conv2d_backprop_kernel,
         "  %x = input : f32[1,3,3,3]\n  %dy = input : f32[1,4,2,4]\n"
         "  %0 = conv2d_backprop_kernel(%x, %dy) {kernel_shape = [2, 2, 3, 4], padding = [[1, 1], "
         "[0, 0]]} : f32[2,2,3,4]\n"},
        {Op::argmax, "  %x = input : i32[2,3,4]\n"
                     "  %0 = argmax(%x) {axis = -2, keepdims = true} : i64[2,1,4]\n"},
        {Op::layer_norm, "  %x = input : f32[2,3]\n  %g = input : f32[3]\n"
                         "  %0 = layer_norm(%x, %g, %g) {epsilon = 0.001} : f32[2,3]\n"},
        {Op::layer_norm_stats, "  %x = input : f64[4,1,5]\n"
                               "  %0 = layer_norm_stats(%x) {epsilon = 0.5} : f64[4,1,2]\n"},
        {Op::layer_norm_backprop,
         "  %x = input : f32[2,3]\n  %g = input : f32[3]\n  %s = input : f32[2,2]\n"
         "  %0 = layer_norm_backprop(%x, %g, %x, %s) : f32[2,3]\n"},
        {Op::attention, "  %q = input : f32[2,4,6,8]\n  %k = input : f32[2,4,5,8]\n"
                        "  %m = constant {value = -inf} : f32[]\n"
                        "  %0 = attention(%q, %k, %k, %m) {causal = true, scale = 0.125} : "
                        "f32[2,4,6,8]\n"},
        {Op::attention_lse, "  %q = input : f64[1,2,3,4]\n  %k = input : f64[1,2,5,4]\n"
                            "  %m = input : f64[3,5]\n"
                            "  %0 = attention_lse(%q, %k, %m) {scale = 2.5} : f64[1,2,3]\n"},
        {Op::attention_backprop,
         "  %q = input : f32[1,2,3,4]\n  %k = input : f32[1,2,5,4]\n  %m = input : f32[5]\n"
         "  %y = input : f32[1,2,3,4]\n  %l = input : f32[1,2,3]\n"
         "  %0 = attention_backprop(%q, %k, %k, %m, %y, %y, %l) {causal = true} : "
         "f32[1,2,13,4]\n"},
        {Op::max_pool2d, "  %x = input : i32[2,4,4,3]\n"
                         "  %0 = max_pool2d(%x) {window = [2, 2]} : i32[2,2,2,3]\n"},
        {Op::max_pool2d_backprop,
         "  %x = input : f32[1,5,5,1]\n  %dy = input : f32[1,3,3,1]\n"
         "  %0 = max_pool2d_backprop(%x, %dy) {window = [3, 3], strides = [2, 2], "
         "padding = same} : f32[1,5,5,1]\n"},
        {Op::avg_pool2d, "  %x = input : f64[1,5,5,2]\n"
                         "  %0 = avg_pool2d(%x) {window = [3, 3], strides = [1, 1], padding = "
                         "same} : f64[1,5,5,2]\n"},
        {Op::avg_pool2d_backprop,
         "  %dy = input : f32[1,2,2,1]\n"
         "  %0 = avg_pool2d_backprop(%dy) {input_shape = [1, 4, 4, 1], window = [2, 2]} : "
         "f32[1,4,4,1]\n"},
        {Op::pad, "  %x = input : bool[2,3]\n"
                  "  %0 = pad(%x) {pads = [1, 0, 2, 2], value = 1.0} : bool[3,7]\n"},
        {Op::scatter_add, "  %u = input : f32[2,2,3]\n  %i = input : i32[2,2]\n"
                          "  %0 = scatter_add(%u, %i) {rows = 10} : f32[10,3]\n"},
        {Op::random_uniform, "  %c = input : i64[]\n"
                             "  %0 = random_uniform(%c) {shape = [2, 3], seed = 7, dtype = f64} : "
                             "f64[2,3]\n"},
        {Op::assign, "  %w = variable : f32[3]\n  %v = input : f32[3]\n"
                     "  %0 = assign(%w, %v) : f32[3]\n  output w = %0\n"},
    };
    return m;
  }();
  return snippets;
}

TEST(PrintParse, EveryOpRoundTrips) {
  for (Op op : kAllOps) {
    SCOPED_TRACE(std::string(op_name(op)));
    auto it = op_snippets().find(op);
    if (it == op_snippets().end()) {
      ADD_FAILURE() << "no round-trip snippet for op '" << op_name(op)
                    << "': add one to op_snippets() in " << __FILE__;
      continue;
    }
    std::string text = graph_text(it->second);
    Graph g = round_trip(text);
    EXPECT_FALSE(g.nodes_of(op).empty()) << "the snippet does not use the op";
    // The snippets are canonical: printing gives them back unchanged.
    EXPECT_EQ(print(g), text);
  }
}

TEST(PrintParse, SnippetsWithNonDefaultAttrsKeepThem) {
  // Each op with attributes has one snippet whose node sets at least one of them.
  for (Op op : kAllOps) {
    if (op_def(op).attrs.empty() || !op_snippets().contains(op)) continue;
    Graph g = parse(graph_text(op_snippets().at(op)));
    bool non_default = false;
    for (ValueId v : g.nodes_of(op))
      non_default = non_default || !attrs_str(g.node(v)).empty();
    EXPECT_TRUE(non_default) << op_name(op);
  }
}

const char* const kSeedText = R"(graph seed {
  %x = input : f32[32,100]
  %y = input : f32[32,1]
  %dense_0/kernel = variable {init = glorot_uniform, seed = 1} : f32[100,10]
  %dense_0/bias = variable : f32[10]
  %dense_1/kernel = variable {init = glorot_uniform, seed = 2} : f32[10,1]
  %dense_1/bias = variable : f32[1]
  %0 = matmul(%x, %dense_0/kernel) : f32[32,10]
  %1 = add(%0, %dense_0/bias) : f32[32,10]
  %2 = relu(%1) : f32[32,10]
  %3 = matmul(%2, %dense_1/kernel) : f32[32,1]
  %pred = add(%3, %dense_1/bias) : f32[32,1]
  %4 = sub(%pred, %y) : f32[32,1]
  %5 = square(%4) : f32[32,1]
  %loss = reduce_mean(%5) {axes = [0, 1]} : f32[]
  output pred = %pred
  output loss = %loss
}
)";

TEST(PrintParse, BuilderGraphPrintsExactly) {
  Graph g = test::build_seed_model();
  EXPECT_EQ(print(g), kSeedText);
  round_trip(print(g));
}

TEST(PrintParse, ParsedGraphHasTheWrittenStructure) {
  Graph g = parse(kSeedText, "seed.sj");
  EXPECT_EQ(g.name(), "seed");
  ASSERT_EQ(g.size(), 14u);
  EXPECT_EQ(g.node(0).op, Op::input);
  EXPECT_EQ(g.node(0).name, "x");
  EXPECT_EQ(g.node(2).attrs.name("init"), "glorot_uniform");
  EXPECT_EQ(g.node(2).attrs.integer("seed"), 1);
  EXPECT_EQ(g.node(2).attrs.real("stddev"), 0.05); // filled-in default
  EXPECT_EQ(g.node(6).op, Op::matmul);
  EXPECT_EQ(g.node(6).name, "");
  EXPECT_EQ(g.node(6).operands, (std::vector<ValueId>{0, 2}));
  EXPECT_EQ(g.node(13).attrs.ints("axes"), (std::vector<int64_t>{0, 1}));
  EXPECT_FALSE(g.node(13).attrs.flag("keepdims"));
  ASSERT_EQ(g.outputs().size(), 2u);
  EXPECT_EQ(g.outputs()[0].name, "pred");
  EXPECT_EQ(g.outputs()[0].value, 10u);
  EXPECT_EQ(g.outputs()[1].value, 13u);
  // Each node's location is its first token: the '%' of its value, in column 3.
  EXPECT_EQ(g.node(0).loc, (Location{"seed.sj", 2, 3}));
  EXPECT_EQ(g.node(13).loc, (Location{"seed.sj", 15, 3}));
}

TEST(PrintParse, ConstantOfEachDtype) {
  Graph g("consts");
  constant(g, Tensor::from<float>({5}, {0.1f, 1.0f / 3.0f, -0.0f, 1e-45f, 3.4028235e38f}));
  constant(g, Tensor::from<double>({4}, {0.1, 1e-07, -2.0, 1e300}));
  constant(g, Tensor::from<int32_t>({3}, {-2147483647 - 1, 2147483647, 0}));
  constant(g, Tensor::from<int64_t>({2, 1}, {std::numeric_limits<int64_t>::min(), 42}));
  constant(g, Tensor::from_bool({3}, {true, false, true}));
  const char* expected = R"(graph consts {
  %0 = constant {value = [0.1, 0.33333334, -0.0, 1e-45, 3.4028235e+38]} : f32[5]
  %1 = constant {value = [0.1, 1e-07, -2.0, 1e+300]} : f64[4]
  %2 = constant {value = [-2147483648, 2147483647, 0]} : i32[3]
  %3 = constant {value = [-9223372036854775808, 42]} : i64[2,1]
  %4 = constant {value = [true, false, true]} : bool[3]
}
)";
  EXPECT_EQ(print(g), expected);
  Graph p = round_trip(expected);
  for (ValueId v = 0; v < g.size(); ++v)
    EXPECT_EQ(p.node(v).attrs.tensor("value"), g.node(v).attrs.tensor("value")) << "%" << v;
}

TEST(PrintParse, SplatsPrintAsOneValueAndExpandWhenParsed) {
  const std::string text = graph_text("  %0 = constant {value = 0.0} : f32[2,3]\n"
                                      "  %1 = constant {value = true} : bool[4]\n"
                                      "  %2 = constant {value = -7} : i64[]\n"
                                      "  %3 = constant {value = []} : f32[0,5]\n");
  Graph g = round_trip(text);
  EXPECT_EQ(print(g), text);
  EXPECT_EQ(g.node(0).attrs.tensor("value"), Tensor::from<float>({2, 3}, std::vector(6, 0.0f)));
  EXPECT_EQ(g.node(1).attrs.tensor("value"), Tensor::from_bool({4}, {true, true, true, true}));
  EXPECT_EQ(g.node(2).attrs.tensor("value"), Tensor::scalar<int64_t>(-7));
  EXPECT_EQ(g.node(3).attrs.tensor("value").num_elements(), 0);
  // A list whose elements are all equal prints as a splat.
  Graph h = parse(graph_text("  %0 = constant {value = [2.5, 2.5]} : f64[2]\n"));
  EXPECT_EQ(print(h), graph_text("  %0 = constant {value = 2.5} : f64[2]\n"));
}

TEST(PrintParse, NanAndInfinities) {
  const std::string text = graph_text("  %0 = constant {value = [nan, inf, -inf, 1.0]} : f32[4]\n"
                                      "  %1 = constant {value = nan} : f64[2]\n"
                                      "  %v = variable {init = uniform, low = -inf} : f32[2]\n");
  Graph g = round_trip(text);
  EXPECT_EQ(print(g), text);
  const float* v = g.node(0).attrs.tensor("value").data<float>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[2], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(g.node(1).attrs.tensor("value").data<double>()[1]));
  EXPECT_EQ(g.node(2).attrs.real("low"), -std::numeric_limits<double>::infinity());
}

TEST(PrintParse, NansWithDifferentBitsStillRoundTrip) {
  // NaN payloads and signs have no text: every NaN prints as `nan`, and the printed form must
  // stay a fixed point even when a builder's tensor mixes NaN bit patterns.
  Graph g("nans");
  float quiet = std::numeric_limits<float>::quiet_NaN();
  float negative = -quiet;
  float payload = std::bit_cast<float>(0x7fc00123u);
  constant(g, Tensor::from<float>({3}, {quiet, negative, payload}));
  std::string printed = print(g);
  EXPECT_EQ(print(parse(printed)), printed);
  EXPECT_THAT(printed, ::testing::HasSubstr("{value = nan} : f32[3]"));
}

TEST(PrintParse, F32ValuesRoundTripBitExactly) {
  // Random bit patterns cover normals, subnormals, zeros of both signs, huge and tiny values.
  std::mt19937 rng(1234);
  std::vector<float> f32;
  std::vector<double> f64;
  while (f32.size() < 5000) {
    float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (!std::isnan(f)) f32.push_back(f);
  }
  while (f64.size() < 5000) {
    double d = std::bit_cast<double>((uint64_t{rng()} << 32) | rng());
    if (!std::isnan(d)) f64.push_back(d);
  }
  f32.insert(f32.end(), {0.1f, 0.2f, 1e-45f, std::numeric_limits<float>::min(),
                         std::numeric_limits<float>::max(), -0.0f, 16777217.0f});
  f64.insert(f64.end(), {0.1, 5e-324, std::numeric_limits<double>::max(), -0.0});
  Graph g("bits");
  Tensor a = Tensor::from<float>({int64_t(f32.size())}, f32);
  Tensor b = Tensor::from<double>({int64_t(f64.size())}, f64);
  constant(g, a);
  constant(g, b);
  Graph p = round_trip(print(g));
  EXPECT_EQ(p.node(0).attrs.tensor("value"), a);
  EXPECT_EQ(p.node(1).attrs.tensor("value"), b);
}

TEST(PrintParse, F32LiteralsAreReadAsFloatNotViaDouble) {
  // 0.1f prints as `0.1`; reading `0.1` must give 0.1f exactly. A literal between two floats
  // whose double rounding differs from direct rounding would expose a detour through double.
  Graph g = parse(graph_text("  %0 = constant {value = [0.1, 1.00000005960464477539062500001]} "
                             ": f32[2]\n"));
  const float* v = g.node(0).attrs.tensor("value").data<float>();
  EXPECT_EQ(std::bit_cast<uint32_t>(v[0]), std::bit_cast<uint32_t>(0.1f));
  // Just above the midpoint between 1 and the next float: rounds up when read directly; through
  // double it would first round to the midpoint and then to even (1.0).
  EXPECT_EQ(std::bit_cast<uint32_t>(v[1]), 0x3f800001u);
  EXPECT_THAT(print(g), ::testing::HasSubstr("[0.1, 1.0000001]"));
}

TEST(PrintParse, RealAttributesUseTheShortestText) {
  Graph g("reals");
  variable(g, "a", {DType::f32, {2}}, Init::normal(1e-07, 0.5, 9));
  variable(g, "b", {DType::f32, {2}}, Init::uniform(-1, 0.1, 0));
  variable(g, "c", {DType::f64, {}}, Init::constant(1e21));
  const char* expected = R"(graph reals {
  %a = variable {init = normal, seed = 9, mean = 1e-07, stddev = 0.5} : f32[2]
  %b = variable {init = uniform, low = -1.0, high = 0.1} : f32[2]
  %c = variable {init = constant, value = 1e+21} : f64[]
}
)";
  EXPECT_EQ(print(g), expected);
  round_trip(expected);
}

TEST(PrintParse, NegativeZeroIsNotTheDefaultZero) {
  // -0.0 == 0.0, but a constant initializer of -0.0 gives different bits.
  Graph g("zeros");
  variable(g, "w", {DType::f32, {2}}, Init::constant(-0.0));
  const std::string text = print(g);
  EXPECT_EQ(text, "graph zeros {\n  %w = variable {init = constant, value = -0.0} : f32[2]\n}\n");
  EXPECT_TRUE(std::signbit(parse(text).node(0).attrs.real("value")));
}

TEST(PrintParse, IntegerLiteralForARealAttribute) {
  Graph g = parse(graph_text("  %w = variable {init = uniform, low = -2, high = 3} : f32[2]\n"));
  EXPECT_EQ(g.node(0).attrs.real("low"), -2.0);
  EXPECT_EQ(g.node(0).attrs.real("high"), 3.0);
  EXPECT_EQ(print(g), graph_text("  %w = variable {init = uniform, low = -2.0, high = 3.0} : "
                                 "f32[2]\n"));
}

TEST(PrintParse, DefaultsWrittenOutAreLeftOutWhenPrinted) {
  Graph g = parse(graph_text("  %x = input : f32[2,3]\n"
                             "  %0 = matmul(%x, %x) {transpose_a = false, transpose_b = true} : "
                             "f32[2,2]\n"
                             "  %1 = softmax(%0) {axis = -1} : f32[2,2]\n"
                             "  %w = variable {init = zeros, seed = 0, stddev = 0.05} : f32[]\n"));
  EXPECT_EQ(print(g), graph_text("  %x = input : f32[2,3]\n"
                                 "  %0 = matmul(%x, %x) {transpose_b = true} : f32[2,2]\n"
                                 "  %1 = softmax(%0) : f32[2,2]\n"
                                 "  %w = variable : f32[]\n"));
}

TEST(PrintParse, AttributesPrintInSchemaOrder) {
  Graph g = parse(graph_text("  %x = input : f32[2,3]\n"
                             "  %0 = slice(%x) {end = [1, 3], begin = [0, 2]} : f32[1,1]\n"
                             "  %w = variable {seed = 4, high = 1.0, init = uniform} : f32[]\n"));
  EXPECT_EQ(print(g),
            graph_text("  %x = input : f32[2,3]\n"
                       "  %0 = slice(%x) {begin = [0, 2], end = [1, 3]} : f32[1,1]\n"
                       "  %w = variable {init = uniform, seed = 4, high = 1.0} : f32[]\n"));
}

TEST(PrintParse, UnnamedValuesAreRenumberedInOrder) {
  // Numeric labels only order the text: %7 and %3 become %0 and %1; names are kept.
  Graph g = parse(graph_text("  %x = input : f32[2]\n"
                             "  %7 = neg(%x) : f32[2]\n"
                             "  %3 = exp(%7) : f32[2]\n"
                             "  %y = add(%3, %7) : f32[2]\n"
                             "  %100 = relu(%y) : f32[2]\n"
                             "  output out = %100\n"));
  EXPECT_EQ(g.node(1).name, "");
  EXPECT_EQ(print(g), graph_text("  %x = input : f32[2]\n"
                                 "  %0 = neg(%x) : f32[2]\n"
                                 "  %1 = exp(%0) : f32[2]\n"
                                 "  %y = add(%1, %0) : f32[2]\n"
                                 "  %2 = relu(%y) : f32[2]\n"
                                 "  output out = %2\n"));
  EXPECT_EQ(value_labels(g), (std::vector<std::string>{"%x", "%0", "%1", "%y", "%2"}));
}

TEST(PrintParse, CommentsAndOddWhitespace) {
  const std::string messy = "# leading comment\n"
                            "\n"
                            "   # another, indented\n"
                            "graph\tmessy{ # the graph\n"
                            "\n"
                            "%x=input:f32[ 2 ,3 ]   # no spaces needed\n"
                            "\t\t%0 = relu ( %x )\t: f32 [2,3]\r\n"
                            "  %s = reduce_sum(%0){axes=[0,1],keepdims=true}:f32[1,1]#c\n"
                            "  # a comment line inside the graph\n"
                            "\n\n"
                            "  output   s=%s\n"
                            "}   # trailing comment\n"
                            "# and another\n"
                            "\n";
  Graph g = round_trip(messy);
  EXPECT_EQ(print(g), "graph messy {\n"
                      "  %x = input : f32[2,3]\n"
                      "  %0 = relu(%x) : f32[2,3]\n"
                      "  %s = reduce_sum(%0) {axes = [0, 1], keepdims = true} : f32[1,1]\n"
                      "  output s = %s\n"
                      "}\n");
  // Locations count lines and columns of the original text (a tab is one column).
  EXPECT_EQ(g.node(0).loc.line, 6u);
  EXPECT_EQ(g.node(0).loc.column, 1u);
  EXPECT_EQ(g.node(1).loc.line, 7u);
  EXPECT_EQ(g.node(1).loc.column, 3u);
}

TEST(PrintParse, NoTrailingNewlineAndEmptyGraph) {
  EXPECT_EQ(print(parse("graph e {\n}")), "graph e {\n}\n");
  EXPECT_EQ(print(parse("graph e {}")), "graph e {\n}\n");
  EXPECT_EQ(print(parse("graph e {\n  %x = input : f32[]\n}")),
            "graph e {\n  %x = input : f32[]\n}\n");
}

TEST(PrintParse, OptionalEmptyParenthesesAndAttributeBraces) {
  // `input()` and `{}` are accepted and print without them.
  Graph g = parse(graph_text("  %x = input() {} : f32[2]\n  %0 = relu(%x) {} : f32[2]\n"));
  EXPECT_EQ(print(g), graph_text("  %x = input : f32[2]\n  %0 = relu(%x) : f32[2]\n"));
}

TEST(PrintParse, NamesWithDotsAndSlashesAndKeywordLikeNames) {
  // `graph`, `output`, `input`, `inf`... are ordinary names where a name is expected.
  const std::string text = "graph output {\n"
                           "  %graph = input : f32[2]\n"
                           "  %output = relu(%graph) : f32[2]\n"
                           "  %a.b/c_1 = neg(%output) : f32[2]\n"
                           "  %inf = exp(%a.b/c_1) : f32[2]\n"
                           "  output graph = %inf\n"
                           "  output output = %output\n"
                           "}\n";
  Graph g = round_trip(text);
  EXPECT_EQ(print(g), text);
  EXPECT_EQ(g.name(), "output");
}

TEST(PrintParse, AllRanksUpToSix) {
  Graph g = round_trip(graph_text("  %a = input : f32[]\n"
                                  "  %b = input : f32[1,2,3,4,5,6]\n"
                                  "  %c = input : i32[0,3]\n"
                                  "  %d = input : bool[1099511627776]\n"));
  EXPECT_EQ(g.type(1).rank(), 6);
  EXPECT_EQ(g.type(3).num_elements(), int64_t{1} << 40);
}

TEST(PrintParse, ConcatManyOperandsAndLongConstant) {
  std::string operands, values;
  for (int i = 0; i < 50; ++i)
    operands += (i ? ", %x" : "%x");
  for (int i = 0; i < 1000; ++i)
    values += fmt::format("{}{}", i ? ", " : "", i - 500);
  const std::string text =
      graph_text("  %x = input : f32[1,2]\n" +
                 fmt::format("  %0 = concat({}) {{axis = 0}} : f32[50,2]\n", operands) +
                 fmt::format("  %1 = constant {{value = [{}]}} : i32[10,100]\n", values));
  Graph g = round_trip(text);
  EXPECT_EQ(print(g), text);
  EXPECT_EQ(g.node(1).operands.size(), 50u);
  EXPECT_EQ(g.node(2).attrs.tensor("value").as_int64(999), 499);
}

TEST(PrintParse, ExampleFromTheDocs) {
  // docs/ir.md's example, completed.
  Graph g = round_trip(R"(# The seed tutorial's model: Dense(100->10, relu), Dense(10->1), MSE.
graph seed {
  %x = input : f32[32,100]
  %y = input : f32[32,1]
  %dense_0/kernel = variable {init = glorot_uniform, seed = 1} : f32[100,10]
  %dense_0/bias = variable : f32[10]
  %0 = matmul(%x, %dense_0/kernel) : f32[32,10]
  %1 = add(%0, %dense_0/bias) : f32[32,10]
  %2 = relu(%1) : f32[32,10]
  %loss = reduce_mean(%2) {axes = [0, 1]} : f32[]
  output pred = %2
  output loss = %loss
}
)");
  EXPECT_EQ(g.outputs().size(), 2u);
}

} // namespace
} // namespace sj

namespace sj {
namespace {

// conv2d's explicit padding is written, and printed, as Keras's pairs; the flat form parses too,
// and pad's `pads` may be written as pairs.
TEST(PrintParse, PaddingPairs) {
  std::string flat = "graph g {\n  %x = input : f32[1,4,4,1]\n  %k = input : f32[3,3,1,2]\n"
                     "  %0 = conv2d(%x, %k) {padding = explicit, pads = [1, 2, 0, 1]} : "
                     "f32[1,5,3,2]\n  output y = %0\n}\n";
  Graph g = parse(flat, "t.sj");
  EXPECT_EQ(g.node(2).attrs.name("padding"), "explicit");
  EXPECT_EQ(g.node(2).attrs.ints("pads"), (std::vector<int64_t>{1, 2, 0, 1}));
  std::string text = print(g);
  EXPECT_NE(text.find("{padding = [[1, 2], [0, 1]]}"), std::string::npos) << text;
  EXPECT_EQ(print(parse(text, "t.sj")), text);
  Graph p = parse("graph g {\n  %x = input : f32[2,3]\n"
                  "  %0 = pad(%x) {pads = [[0, 1], [2, 0]]} : f32[3,5]\n  output y = %0\n}\n",
                  "t.sj");
  EXPECT_EQ(p.node(1).attrs.ints("pads"), (std::vector<int64_t>{0, 1, 2, 0}));
}

} // namespace
} // namespace sj
