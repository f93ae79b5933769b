// Gradient correctness of the differentiation pass, op by op: every op of the table with a
// gradient rule has cases here, checked against central differences (first order, and second
// order by differentiating the gradient graph again). Also fan-out, the non-differentiable ops,
// and unconnected values. Numerics and tolerances: tests/passes/gradient_check_util.h.
#include "tests/passes/gradient_check_util.h"
#include "tests/support/golden.h"

#include <algorithm>
#include <functional>

namespace sj::test {
namespace {

// One way to exercise an op: builds its inputs in `c` and returns the op's result (f64).
struct Case {
  std::string name;
  std::function<Value(GradCheck&)> build;
  // False for cases with f32 inputs: central differences of an f32 gradient are too coarse
  // for a second-order check.
  bool second_order = true;
};

// The ops without a gradient rule, each on purpose: sources have no operands, comparisons and
// one_hot have bool or integer results (or operands), stop_gradient exists to block gradients,
// assign is an effect, and random_uniform's only operand is an integer counter. An op added
// without a rule fails coverage until it is listed here.
const std::vector<Op> kNonDifferentiable = {
    Op::input, Op::variable, Op::constant, Op::greater, Op::greater_equal, Op::less, Op::equal,
    Op::one_hot, Op::stop_gradient, Op::assign, Op::random_uniform,
    // Piecewise constant in x; its adjoint in dy (a gather by the argmax) has no op yet.
    Op::max_pool2d_backprop,
    // The fused backward of attention, on purpose without rules of their own: a second-order
    // gradient goes through the composition (AttentionSecondOrder below).
    Op::attention_lse, Op::attention_backprop,
    // An integer result (the index of a maximum): piecewise constant.
    Op::argmax,
    // The fused backward of layer_norm, likewise (LayerNormSecondOrder below).
    Op::layer_norm_stats, Op::layer_norm_backprop};

// a[i, j] = b[j] +- U(0.2, 1): a and b at least 0.2 apart everywhere (no maximum/minimum ties),
// each side winning about half the time.
std::pair<Value, Value> separated_pair(GradCheck& c) {
  std::vector<double> b = c.random(4, -1, 1), a;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      a.push_back(b[j] + c.rng().signed_uniform(0.2, 1));
  Value va = c.input("a", {3, 4}, a);
  return {va, c.input("b", {4}, b)};
}

// op(x) for x of shape [3, 4], uniform in [lo, hi).
Case unary(std::string name, Value (*op)(Value, Loc), double lo, double hi) {
  return {std::move(name), [=](GradCheck& c) {
            Value x = c.uniform("x", {3, 4}, lo, hi);
            return op(x, Loc());
          }};
}

// op(a, b), a and b of the given shapes, uniform in [-2, 2).
Case binary(std::string name, Value (*op)(Value, Value, Loc), Shape a, Shape b) {
  return {std::move(name), [=](GradCheck& c) {
            Value va = c.uniform("a", a, -2, 2); // a first: arguments have no order in C++
            return op(va, c.uniform("b", b, -2, 2), Loc());
          }};
}

// op(x, axes, keepdims) for x of shape [2, 3, 4]: uniform in [-2, 2), or with distinct elements
// (for reduce_max: no ties).
Case reduction(std::string name, Value (*op)(Value, Axes, bool, Loc), Axes axes, bool keepdims) {
  return {std::move(name), [=](GradCheck& c) {
            Value x = op == reduce_max ? c.distinct("x", {2, 3, 4}, -1.8, 0.15)
                                       : c.uniform("x", {2, 3, 4}, -2, 2);
            return op(x, axes, keepdims, Loc());
          }};
}

// matmul(a, b, flags) with a and b of the given shapes, uniform in [-1, 1).
Case matmul_case(std::string name, Shape a, Shape b, MatmulOptions flags = {}) {
  return {std::move(name), [=](GradCheck& c) {
            Value va = c.uniform("a", a, -1, 1);
            return matmul(va, c.uniform("b", b, -1, 1), flags);
          }};
}

// A case whose inputs need more than one uniform draw.
Case custom(std::string name, std::function<Value(GradCheck&)> build, bool second_order = true) {
  return {std::move(name), std::move(build), second_order};
}

// Every differentiable op and its cases. Inputs stay away from kinks (relu and abs at 0, ties of
// maximum, minimum and reduce_max) and singularities (log, sqrt, rsqrt, pow's base and div's
// divisor at 0) by construction, so the finite differences never straddle one.
const std::map<Op, std::vector<Case>>& op_cases() {
  using C = GradCheck;
  static const std::map<Op, std::vector<Case>> cases = {
      // ---- elementwise unary
      {Op::neg, {unary("matrix", neg, -2, 2)}},
      {Op::abs,
       {custom("away_from_0",
               [](C& c) {
                 return abs(c.away_from_zero("x", {3, 4}, 0.2, 2));
               })}},
      {Op::exp, {unary("matrix", exp, -2, 2)}},
      {Op::log, {unary("positive", log, 0.5, 3)}},
      {Op::sqrt, {unary("positive", sqrt, 0.5, 3)}},
      {Op::rsqrt, {unary("positive", rsqrt, 0.5, 3)}},
      {Op::square, {unary("matrix", square, -2, 2)}},
      {Op::relu,
       {custom("away_from_0",
               [](C& c) {
                 return relu(c.away_from_zero("x", {3, 4}, 0.2, 2));
               })}},
      {Op::sigmoid, {unary("matrix", sigmoid, -3, 3)}},
      {Op::tanh, {unary("matrix", tanh, -2, 2)}},
      {Op::gelu,
       {custom("exact",
               [](C& c) {
                 return gelu(c.uniform("x", {3, 4}, -3, 3));
               }),
        custom("approximate",
               [](C& c) {
                 Value x = c.uniform("x", {3, 4}, -3, 3);
                 return gelu(x, true);
               })}},
      {Op::softplus, {unary("matrix", softplus, -3, 3)}},
      {Op::erf, {unary("matrix", erf, -2, 2)}},
      {Op::sin, {unary("matrix", sin, -3, 3)}},
      {Op::cos, {unary("matrix", cos, -3, 3)}},

      // ---- elementwise binary, with broadcasting
      {Op::add,
       {binary("broadcast_row", add, {3, 4}, {4}), binary("broadcast_both", add, {2, 1, 3}, {4, 1}),
        binary("scalar", add, {}, {3, 4})}},
      {Op::sub,
       {binary("broadcast_row", sub, {3, 4}, {4}),
        binary("broadcast_both", sub, {4, 1}, {2, 1, 3})}},
      {Op::mul,
       {binary("broadcast_both", mul, {2, 1, 3}, {4, 3}), binary("scalar", mul, {3, 4}, {})}},
      {Op::div,
       {custom("broadcast_column",
               [](C& c) {
                 Value a = c.uniform("a", {3, 4}, -2, 2);
                 return div(a, c.away_from_zero("b", {3, 1}, 0.5, 2));
               }),
        custom("broadcast_both",
               [](C& c) {
                 Value a = c.uniform("a", {4}, -2, 2);
                 return div(a, c.away_from_zero("b", {3, 1}, 0.5, 2));
               })}},
      {Op::maximum,
       {custom("separated",
               [](C& c) {
                 auto [a, b] = separated_pair(c);
                 return maximum(a, b);
               })}},
      {Op::minimum,
       {custom("separated",
               [](C& c) {
                 auto [a, b] = separated_pair(c);
                 return minimum(a, b);
               })}},
      {Op::pow,
       {custom("positive_base",
               [](C& c) {
                 Value a = c.uniform("a", {3, 4}, 0.5, 2);
                 return pow(a, c.uniform("b", {4}, -1.5, 2.5));
               })}},
      {Op::select,
       {custom("broadcast_cond",
               [](C& c) {
                 Value cond =
                     constant(c.graph(), Tensor::from_bool({1, 4}, {true, false, false, true}));
                 Value a = c.uniform("a", {3, 4}, -2, 2);
                 return select(cond, a, c.uniform("b", {3, 1}, -2, 2));
               })}},
      {Op::cast,
       {custom("f64_to_f64",
               [](C& c) {
                 Value x = c.uniform("x", {3, 4}, -2, 2);
                 return cast(x, DType::f64);
               }),
        // The loss is linear in the f32 input, so its central differences are exact whatever
        // the (f32-sized) step; the analytic gradient is the f64 weight rounded to f32, which
        // is within 6e-8 relative: well inside the tolerance.
        custom(
            "f32_to_f64",
            [](C& c) {
              Value x = c.uniform("x", {3, 4}, -2, 2, DType::f32);
              return cast(x, DType::f64);
            },
            /*second_order=*/false)}},

      // ---- reductions of [2, 3, 4]: several axes, negative axes, keepdims or not
      {Op::reduce_sum,
       {reduction("axes_0_2", reduce_sum, {0, 2}, false),
        reduction("negative_axes_keepdims", reduce_sum, {-1, -3}, true),
        reduction("middle_keepdims", reduce_sum, {1}, true),
        reduction("all", reduce_sum, Axes::all(), false)}},
      {Op::reduce_mean,
       {reduction("axes_1_2", reduce_mean, {1, 2}, false),
        reduction("negative_axis_keepdims", reduce_mean, {-2}, true),
        reduction("all_keepdims", reduce_mean, Axes::all(), true)}},
      {Op::reduce_max,
       {reduction("axis_1", reduce_max, {1}, false),
        reduction("negative_axes_keepdims", reduce_max, {0, -1}, true),
        reduction("all", reduce_max, Axes::all(), false)}},

      // ---- linear algebra: every transpose flag, and broadcast batch dimensions
      {Op::matmul,
       {matmul_case("plain", {5, 3}, {3, 4}),
        matmul_case("transpose_a", {3, 5}, {3, 4}, {.transpose_a = true}),
        matmul_case("transpose_b", {5, 3}, {4, 3}, {.transpose_b = true}),
        matmul_case("transpose_both", {3, 5}, {4, 3}, {.transpose_a = true, .transpose_b = true}),
        matmul_case("batched_broadcast", {2, 1, 3, 4}, {3, 4, 2}),
        matmul_case("batched_broadcast_transposed", {2, 1, 4, 3}, {3, 2, 4},
                    {.transpose_a = true, .transpose_b = true}),
        // A shared weight on batched rows (Dense on [B, T, C]): its gradient is one product over
        // the flattened rows.
        matmul_case("rows_times_weight", {2, 3, 4}, {4, 5}),
        matmul_case("rows_times_weight_transposed", {2, 3, 4}, {5, 4}, {.transpose_b = true}),
        matmul_case("transposed_rows_times_weight", {2, 4, 3}, {4, 5}, {.transpose_a = true})}},

      // ---- layout
      {Op::transpose,
       {custom("perm_2_0_1",
               [](C& c) {
                 Value x = c.uniform("x", {2, 3, 4}, -2, 2);
                 return transpose(x, {2, 0, 1});
               }),
        custom("reverse",
               [](C& c) {
                 return transpose(c.uniform("x", {2, 3, 4}, -2, 2));
               })}},
      {Op::reshape,
       {custom("inferred_dimension",
               [](C& c) {
                 Value x = c.uniform("x", {2, 3, 4}, -2, 2);
                 return reshape(x, {4, -1});
               }),
        custom("split",
               [](C& c) {
                 Value x = c.uniform("x", {6, 4}, -2, 2);
                 return reshape(x, {2, 3, 4});
               })}},
      {Op::broadcast_to,
       {custom("add_and_stretch",
               [](C& c) {
                 Value x = c.uniform("x", {3, 1}, -2, 2);
                 return broadcast_to(x, {2, 3, 4});
               }),
        custom("scalar",
               [](C& c) {
                 Value x = c.uniform("x", {}, -2, 2);
                 return broadcast_to(x, {2, 3});
               })}},
      {Op::concat,
       {custom("three_on_middle_axis",
               [](C& c) {
                 return concat({c.uniform("a", {2, 1, 4}, -2, 2), c.uniform("b", {2, 3, 4}, -2, 2),
                                c.uniform("c", {2, 2, 4}, -2, 2)},
                               1);
               }),
        custom("negative_axis",
               [](C& c) {
                 return concat({c.uniform("a", {2, 2}, -2, 2), c.uniform("b", {2, 1}, -2, 2),
                                c.uniform("c", {2, 3}, -2, 2)},
                               -1);
               })}},
      {Op::slice,
       {custom("nonzero_begins",
               [](C& c) {
                 Value x = c.uniform("x", {4, 5, 3}, -2, 2);
                 return slice(x, {1, 2, 0}, {3, 5, 2});
               }),
        custom("interior",
               [](C& c) {
                 Value x = c.uniform("x", {5, 4}, -2, 2);
                 return slice(x, {1, 1}, {4, 3});
               })}},

      // ---- neural-network ops
      {Op::softmax,
       {custom("middle_axis",
               [](C& c) {
                 Value x = c.uniform("x", {2, 4, 3}, -2, 2);
                 return softmax(x, 1);
               }),
        custom("last_axis",
               [](C& c) {
                 return softmax(c.uniform("x", {3, 5}, -2, 2));
               })}},
      {Op::log_softmax,
       {custom("middle_axis",
               [](C& c) {
                 Value x = c.uniform("x", {2, 4, 3}, -2, 2);
                 return log_softmax(x, 1);
               }),
        custom("last_axis",
               [](C& c) {
                 return log_softmax(c.uniform("x", {3, 5}, -2, 2));
               })}},
      {Op::softmax_cross_entropy,
       {custom("i64_labels",
               [](C& c) {
                 Value logits = c.uniform("logits", {4, 5}, -2, 2);
                 return softmax_cross_entropy(logits, c.indices("labels", {4}, {0, 3, 3, 1}));
               }),
        custom("i32_labels_rank_3",
               [](C& c) {
                 Value logits = c.uniform("logits", {2, 3, 4}, -2, 2);
                 return softmax_cross_entropy(
                     logits, c.indices("labels", {2, 3}, {3, 0, 1, 1, 2, 3}, DType::i32));
               })}},
      // Repeated indices accumulate; rows never gathered get zero gradient.
      {Op::gather,
       {custom("repeated_indices",
               [](C& c) {
                 Value table = c.uniform("table", {5, 3}, -2, 2);
                 return gather(table, c.indices("idx", {6}, {1, 3, 1, 0, 3, 3}));
               }),
        custom("rank_3_table_2d_indices",
               [](C& c) {
                 Value table = c.uniform("table", {4, 2, 3}, -2, 2);
                 return gather(table, c.indices("idx", {2, 3}, {2, 0, 2, 2, 1, 0}, DType::i32));
               })}},
      // Convolutions: every padding mode, strides on odd sizes, dilation, groups; the two
      // gradient ops are checked as ops too (so second order through conv2d is).
      {Op::conv2d,
       {custom("same_stride2_odd",
               [](C& c) {
                 Value x = c.uniform("x", {2, 5, 5, 3}, -1, 1);
                 return conv2d(x, c.uniform("k", {3, 3, 3, 4}, -1, 1),
                               {.strides = {2, 2}, .padding = Padding::same()});
               }),
        custom("dilated_grouped_explicit",
               [](C& c) {
                 Value x = c.uniform("x", {1, 6, 5, 4}, -1, 1);
                 return conv2d(x, c.uniform("k", {2, 2, 2, 6}, -1, 1),
                               {.strides = {1, 2},
                                .padding = Padding::explicit_pads(1, 0, 2, 1),
                                .dilations = {2, 1},
                                .groups = 2});
               }),
        custom("depthwise_1x1",
               [](C& c) {
                 Value x = c.uniform("x", {2, 3, 3, 2}, -1, 1);
                 return conv2d(x, c.uniform("k", {1, 1, 1, 4}, -1, 1), {.groups = 2});
               })}},
      {Op::conv2d_backprop_input,
       {custom("same_stride2",
               [](C& c) {
                 Value dy = c.uniform("dy", {1, 3, 3, 2}, -1, 1);
                 return conv2d_backprop_input(dy, c.uniform("k", {3, 3, 3, 2}, -1, 1),
                                              {1, 5, 5, 3},
                                              {.strides = {2, 2}, .padding = Padding::same()});
               })}},
      {Op::conv2d_backprop_kernel,
       {custom("dilated_valid",
               [](C& c) {
                 Value x = c.uniform("x", {2, 5, 4, 2}, -1, 1);
                 return conv2d_backprop_kernel(x, c.uniform("dy", {2, 3, 2, 3}, -1, 1),
                                               {2, 2, 2, 3}, {.dilations = {2, 2}});
               })}},
      // Attention: its rule emits the fused backward (attention_lse, attention_backprop),
      // which has no rule, so these are first order only. The mask is a constant: -inf hides
      // keys (row 0 of the masked case sees none and passes no gradient).
      {Op::attention,
       {custom(
            "causal_fewer_queries",
            [](C& c) {
              Value q = c.uniform("q", {1, 2, 3, 5}, -1, 1);
              Value k = c.uniform("k", {1, 2, 4, 5}, -1, 1);
              return attention(q, k, c.uniform("v", {1, 2, 4, 5}, -1, 1), {.causal = true});
            },
            /*second_order=*/false),
        custom(
            "masked_scaled_fully_masked_row",
            [](C& c) {
              double inf = std::numeric_limits<double>::infinity();
              Value mask = constant(c.graph(), float_tensor(DType::f64, {2, 3},
                                                            {-inf, -inf, -inf, 0.5, -inf, -1}));
              Value q = c.uniform("q", {2, 1, 2, 3}, -1, 1);
              Value k = c.uniform("k", {2, 1, 3, 3}, -1, 1);
              return attention(q, k, c.uniform("v", {2, 1, 3, 3}, -1, 1),
                               {.mask = mask, .scale = 0.8});
            },
            /*second_order=*/false)}},
      // layer_norm: its rule emits the fused backward (layer_norm_stats, layer_norm_backprop),
      // which has no rule, so these are first order only; gradients of x, gamma and beta.
      {Op::layer_norm,
       {custom(
            "rows_3x5",
            [](C& c) {
              Value x = c.uniform("x", {3, 5}, -2, 2);
              Value gamma = c.uniform("gamma", {5}, -1.5, 1.5);
              return layer_norm(x, gamma, c.uniform("beta", {5}, -1, 1));
            },
            /*second_order=*/false),
        custom(
            "rank3_epsilon_offset",
            [](C& c) {
              Value x = c.uniform("x", {2, 3, 4}, 9, 11);
              Value gamma = c.uniform("gamma", {4}, 0.5, 2);
              return layer_norm(x, gamma, c.uniform("beta", {4}, -1, 1), 0.25);
            },
            /*second_order=*/false),
        custom(
            "rank1_one_row",
            [](C& c) {
              Value x = c.uniform("x", {7}, -1, 1);
              Value gamma = c.uniform("gamma", {7}, -1, 1);
              return layer_norm(x, gamma, c.uniform("beta", {7}, -1, 1), 1e-3);
            },
            /*second_order=*/false)}},
      // Distinct values: no ties inside a window at any finite-difference step.
      {Op::max_pool2d,
       {custom("same_3x3_stride2",
               [](C& c) {
                 return max_pool2d(c.distinct("x", {1, 5, 5, 2}, -1.5, 0.06),
                                   {.window = {3, 3}, .strides = {2, 2},
                                    .padding = Padding::same()});
               },
               /*second_order=*/false),
        custom("side_by_side",
               [](C& c) {
                 return max_pool2d(c.distinct("x", {2, 4, 4, 1}, -1, 0.06));
               },
               /*second_order=*/false)}},
      {Op::avg_pool2d,
       {custom("same_3x3",
               [](C& c) {
                 return avg_pool2d(c.uniform("x", {1, 4, 5, 2}, -2, 2),
                                   {.window = {3, 3}, .strides = {1, 2},
                                    .padding = Padding::same()});
               })}},
      {Op::avg_pool2d_backprop,
       {custom("same_3x3",
               [](C& c) {
                 return avg_pool2d_backprop(c.uniform("dy", {1, 4, 3, 2}, -2, 2), {1, 4, 5, 2},
                                            {.window = {3, 3}, .strides = {1, 2},
                                             .padding = Padding::same()});
               })}},
      {Op::pad,
       {custom("rank3",
               [](C& c) {
                 return pad(c.uniform("x", {2, 1, 3}, -2, 2), {1, 0, 0, 2, 1, 1}, 0.5);
               })}},
      // Each update reaches one row; rows with several updates sum them.
      {Op::scatter_add,
       {custom("repeated_indices",
               [](C& c) {
                 Value updates = c.uniform("updates", {6, 3}, -2, 2);
                 return scatter_add(updates, c.indices("idx", {6}, {1, 3, 1, 0, 3, 3}), 5);
               }),
        custom("2d_indices_vector_rows",
               [](C& c) {
                 Value updates = c.uniform("updates", {2, 3}, -2, 2);
                 return scatter_add(updates,
                                    c.indices("idx", {2, 3}, {2, 0, 2, 2, 1, 0}, DType::i32), 4);
               })}},
  };
  return cases;
}

// ---- coverage ----------------------------------------------------------------------------

TEST(GradientCoverage, EveryOpHasACaseOrIsListedAsNonDifferentiable) {
  const auto& cases = op_cases();
  for (Op op : kAllOps) {
    const OpDef& def = op_def(op);
    bool listed = std::find(kNonDifferentiable.begin(), kNonDifferentiable.end(), op) !=
                  kNonDifferentiable.end();
    auto it = cases.find(op);
    bool has_cases = it != cases.end() && !it->second.empty();
    if (def.grad) {
      EXPECT_TRUE(has_cases) << def.name
                             << " has a gradient rule but no gradient check: add cases to "
                                "op_cases() in tests/passes/gradient_check_test.cpp";
      EXPECT_FALSE(listed) << def.name
                           << " has a gradient rule but is listed as non-differentiable";
    } else {
      EXPECT_TRUE(listed) << def.name
                          << " has no gradient rule: give it one (OpDef::grad), or list it in "
                             "kNonDifferentiable if no gradient flows through it on purpose";
      EXPECT_FALSE(has_cases) << def.name << " has gradient cases but no gradient rule";
    }
  }
}

// ---- first and second order, per case ----------------------------------------------------

struct CaseRef {
  Op op;
  size_t index;
  const Case& get() const { return op_cases().at(op)[index]; }
  std::string name() const { return fmt::format("{}_{}", op_name(op), get().name); }
};

void PrintTo(const CaseRef& ref, std::ostream* os) { *os << ref.name(); }

std::vector<CaseRef> all_cases(bool second_order = false) {
  std::vector<CaseRef> r;
  for (const auto& [op, cases] : op_cases())
    for (size_t i = 0; i < cases.size(); ++i)
      if (!second_order || cases[i].second_order) r.push_back({op, i});
  return r;
}

std::string case_name(const testing::TestParamInfo<CaseRef>& info) { return info.param.name(); }

// Builds a case and checks that it tests what it says: its result is the op's, in f64.
Value build_case(GradCheck& c, const CaseRef& ref) {
  Value y = ref.get().build(c);
  EXPECT_EQ(y.node().op, ref.op) << "the case's result is a " << op_name(y.node().op);
  EXPECT_EQ(y.dtype(), DType::f64);
  EXPECT_FALSE(c.wrt().empty());
  return y;
}

class FirstOrder : public testing::TestWithParam<CaseRef> {};

TEST_P(FirstOrder, MatchesCentralDifferences) {
  GradCheck c(seed_of(GetParam().name()));
  Value y = build_case(c, GetParam());
  check_gradients(weighted_sum(c, y), c.wrt(), c.feeds());
}

INSTANTIATE_TEST_SUITE_P(Ops, FirstOrder, testing::ValuesIn(all_cases()), case_name);

// Every f64 case again, one order up: the gradient graph each rule emits is differentiated in
// turn. The loss is reduce_sum(y * W1 + square(y) * W2): the first term gives the op's own
// second derivative, the second makes the incoming gradient depend on the inputs, so that even
// for ops linear in their inputs (reduce_sum, layout ops) the second-order gradient runs through
// every node the op's rule emitted (and neither term can cancel the op's nonlinearity, as
// square(sqrt(x)) alone would). Inputs, weights and derivatives stay of order 1, so the
// first-order tolerance still holds with a wide margin.
class SecondOrder : public testing::TestWithParam<CaseRef> {};

TEST_P(SecondOrder, MatchesCentralDifferencesOfTheGradient) {
  GradCheck c(seed_of(GetParam().name()));
  Value y = build_case(c, GetParam());
  for (const Value& w : c.wrt())
    ASSERT_EQ(w.dtype(), DType::f64) << "mark the case second_order = false";
  check_second_order(c, reduce_sum(y * c.weights(y.shape()) + square(y) * c.weights(y.shape())));
}

INSTANTIATE_TEST_SUITE_P(Ops, SecondOrder, testing::ValuesIn(all_cases(/*second_order=*/true)),
                         case_name);

// ---- the gradient graphs, as a golden file --------------------------------------------------

// Every case's gradient graph, printed, must be what the golden file holds: the rules must
// build the same graph under every compiler (no rule may depend on the order in which C++
// evaluates function arguments) and change only on purpose.
TEST(GradientGraphs, MatchTheGoldenFile) {
  std::string all;
  for (const CaseRef& ref : all_cases()) {
    GradCheck c(seed_of(ref.name()));
    Value y = build_case(c, ref);
    Value weights = c.weights(y.shape());
    Value loss = reduce_sum(y * weights);
    std::vector<Value> grads = gradients(loss, c.wrt());
    for (size_t i = 0; i < grads.size(); ++i)
      output(fmt::format("grad{}", i), grads[i]);
    all += fmt::format("# {}\n{}\n", ref.name(), print(c.graph()));
  }
  test::expect_golden(all, "tests/passes/golden/gradient_graphs.txt");
}

// ---- ops without a rule ------------------------------------------------------------------

TEST(NonDifferentiable, StopGradientBlocksOnlyItsOwnPath) {
  // loss = sum(stop_gradient(x) * x * W): the gradient is x * W (the product rule's other half
  // is blocked), which differs from the central differences 2 x W on purpose.
  GradCheck c(1);
  Value x = c.uniform("x", {3, 4}, -2, 2);
  Value w = c.weights({3, 4});
  Value loss = reduce_sum(stop_gradient(x) * x * w);
  Value expected = x * w;
  std::vector<Value> grads = gradients(loss, {x});
  Graph g = c.graph();
  g.add_output("grad", grads[0].id());
  g.add_output("expected", expected.id());
  auto out = Interpreter(g).run(c.feeds());
  EXPECT_LT(relative_error(out.at("grad"), out.at("expected")), 1e-15);
}

TEST(NonDifferentiable, ComparisonsAndOneHotPassNoGradientToTheirOperands) {
  // x reaches the loss only through greater (a select condition), equal and one_hot of an
  // integer cast: no gradient, so an error by default and zeros with Unconnected::zero.
  GradCheck c(2);
  Value x = c.uniform("x", {3, 4}, -2, 2);
  Value a = c.uniform("a", {3, 4}, -2, 2);
  Value picked = select(greater(x, scalar_like(x, 0)), a, -a);
  Value hot = one_hot(cast(x, DType::i64), 4, DType::f64);
  Value eq = cast(equal(x, a), DType::f64);
  Value loss = reduce_sum(picked * c.weights({3, 4})) + reduce_sum(hot) + reduce_sum(eq);
  EXPECT_THROW(gradients(loss, {x}), Error);
  GradientReport r =
      check_gradients(loss, c.wrt(), c.feeds(), {.gradient = {.unconnected = Unconnected::zero}});
  ASSERT_EQ(r.analytic.size(), 2u);
  for (int64_t k = 0; k < r.analytic[0].num_elements(); ++k)
    EXPECT_EQ(r.analytic[0].as_double(k), 0.0);
}

TEST(NonDifferentiable, ArgmaxPassesNoGradientToItsOperand) {
  // x reaches the first term only through argmax (an i64 index): only the second term's
  // gradient w flows, as for a comparison.
  GradCheck c(4);
  Value x = c.uniform("x", {3, 4}, -2, 2);
  Value w = c.weights({3, 4});
  Value index = cast(argmax(x, 1, /*keepdims=*/true), DType::f64);
  Value loss = reduce_sum(index * c.weights({3, 1})) + reduce_sum(x * w);
  std::vector<Value> grads = gradients(loss, {x});
  Graph g = c.graph();
  g.add_output("grad", grads[0].id());
  g.add_output("expected", w.id());
  auto out = Interpreter(g).run(c.feeds());
  EXPECT_EQ(relative_error(out.at("grad"), out.at("expected")), 0.0);
  EXPECT_THROW(gradients(reduce_sum(index), {x}), Error);
}

// ---- layer_norm at second order ------------------------------------------------------------

// Second order through layer_norm's composition (reduce_mean, sub, square, rsqrt), which is how
// a graph differentiates layer normalization twice.
TEST(LayerNormSecondOrder, ThroughTheComposition) {
  GradCheck c(seed_of("layer_norm_composition"));
  Value x = c.uniform("x", {3, 4}, -2, 2);
  Value gamma = c.uniform("gamma", {4}, -1.5, 1.5);
  Value beta = c.uniform("beta", {4}, -1, 1);
  Value mean = reduce_mean(x, {-1}, true);
  Value centered = x - mean;
  Value var = reduce_mean(square(centered), {-1}, true);
  Value y = centered * rsqrt(var + 1e-5) * gamma + beta;
  check_second_order(c, reduce_sum(y * c.weights(y.shape()) + square(y) * c.weights(y.shape())));
}

// The fused op's gradient is not differentiable again: the error names the op that stops it.
TEST(LayerNormSecondOrder, ThroughTheFusedOpIsAnErrorNamingItsBackward) {
  GradCheck c(6);
  Value x = c.uniform("x", {2, 3}, -1, 1);
  Value gamma = c.uniform("gamma", {3}, -1, 1);
  Value y = layer_norm(x, gamma, c.uniform("beta", {3}, -1, 1));
  Value dx = gradients(reduce_sum(square(y)), {x})[0];
  try {
    gradients(reduce_sum(square(dx)), {x});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_TRUE(what.find("layer_norm_stats passes no gradient") != std::string::npos ||
                what.find("layer_norm_backprop passes no gradient") != std::string::npos)
        << what;
  }
}

// ---- attention at second order -----------------------------------------------------------

// Second order through attention's composition (matmul, softmax, matmul; causal by a large
// negative constant), which is how a graph differentiates attention twice.
TEST(AttentionSecondOrder, ThroughTheComposition) {
  GradCheck c(seed_of("attention_composition"));
  Value q = c.uniform("q", {1, 2, 3, 4}, -1, 1);
  Value k = c.uniform("k", {1, 2, 3, 4}, -1, 1);
  Value v = c.uniform("v", {1, 2, 3, 4}, -1, 1);
  std::vector<double> hide;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      hide.push_back(j <= i ? 0 : -1e300);
  Value causal = constant(c.graph(), float_tensor(DType::f64, {3, 3}, hide));
  Value s = matmul(q, k, {.transpose_b = true}) * 0.5 + causal;
  Value y = matmul(softmax(s), v);
  check_second_order(c, reduce_sum(y * c.weights(y.shape()) + square(y) * c.weights(y.shape())));
}

// The fused op's gradient is not differentiable again: the error names the op that stops it.
TEST(AttentionSecondOrder, ThroughTheFusedOpIsAnErrorNamingItsBackward) {
  GradCheck c(5);
  Value q = c.uniform("q", {1, 1, 2, 3}, -1, 1);
  Value k = c.uniform("k", {1, 1, 2, 3}, -1, 1);
  Value v = c.uniform("v", {1, 1, 2, 3}, -1, 1);
  Value y = attention(q, k, v);
  Value dq = gradients(reduce_sum(square(y)), {q})[0];
  try {
    gradients(reduce_sum(square(dq)), {q});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    // q reaches the second loss only through attention_lse and attention_backprop.
    std::string what = e.what();
    EXPECT_TRUE(what.find("attention_lse passes no gradient") != std::string::npos ||
                what.find("attention_backprop passes no gradient") != std::string::npos)
        << what;
  }
}

// ---- fan-out and reuse -------------------------------------------------------------------

TEST(FanOut, AValueUsedSeveralTimesGetsTheSumOfItsUsersGradients) {
  // x is used four times: y = x * x + exp(x) * x.
  GradCheck c(3);
  Value x = c.uniform("x", {3, 4}, -1.5, 1.5);
  Value y = x * x + exp(x) * x;
  check_gradients(weighted_sum(c, y), c.wrt(), c.feeds());
}

TEST(FanOut, ASharedSubexpressionIsDifferentiatedOnce) {
  // t = tanh(a * b) feeds two branches, which meet again at the loss; a also feeds one branch
  // directly. The rule of tanh emits one `square`; no other rule here emits one, so exactly
  // one square node in the appended part shows tanh's rule ran once, on the summed gradient.
  GradCheck c(4);
  Value a = c.uniform("a", {3, 4}, -1.5, 1.5);
  Value b = c.uniform("b", {4}, -1.5, 1.5);
  Value t = tanh(a * b);
  Value left = exp(t) * a;
  Value right = reduce_sum(t * t, {1}, /*keepdims=*/true);
  Value y = left + right;
  GradientReport r = check_gradients(weighted_sum(c, y), c.wrt(), c.feeds());
  EXPECT_EQ(count_ops(c.graph(), Op::square, r.first_new), 1);
  EXPECT_EQ(count_ops(c.graph(), Op::tanh, r.first_new), 0);
}

TEST(FanOut, ASharedSubexpressionAtSecondOrder) {
  // Second order through a shared subexpression: s = sigmoid(x) used by three ops.
  GradCheck c(5);
  Value x = c.uniform("x", {2, 3}, -2, 2);
  Value s = sigmoid(x);
  Value y = s * s + log(s + 1.0) - s / (x * x + 1.0);
  check_second_order(c, weighted_sum(c, y));
}

// ---- unconnected values ------------------------------------------------------------------

TEST(Unconnected, ZeroGivesAllZerosOfTheValuesType) {
  Graph g("unconnected");
  Value x = input(g, "x", {DType::f64, {3, 4}});
  Value u = input(g, "u", {DType::f64, {2, 5}});          // not used at all
  Value v = input(g, "v", {DType::f32, {3}});             // used only through stop_gradient
  Value used_later = input(g, "later", {DType::f64, {}}); // used only after the loss
  Value loss = reduce_sum(x * x) + reduce_sum(cast(stop_gradient(v), DType::f64));
  Value after = loss * used_later;
  (void)after;

  EXPECT_THROW(gradients(loss, {x, u}), Error);
  EXPECT_THROW(gradients(loss, {x, v}), Error);
  EXPECT_THROW(gradients(loss, {x, used_later}), Error);

  std::vector<Value> grads =
      gradients(loss, {x, u, v, used_later}, {.unconnected = Unconnected::zero});
  ASSERT_EQ(grads.size(), 4u);
  const std::vector<Value> wrt = {x, u, v, used_later};
  for (size_t i = 0; i < wrt.size(); ++i)
    EXPECT_EQ(grads[i].type().str(), wrt[i].type().str()) << i;
  Graph run = g;
  for (size_t i = 0; i < grads.size(); ++i)
    run.add_output(fmt::format("grad_{}", i), grads[i].id());
  expect_well_formed(run);

  Rng rng(6);
  std::map<std::string, Tensor> feeds;
  for (const Value& w : wrt) {
    std::vector<double> values(w.type().num_elements());
    for (double& e : values)
      e = rng.uniform(-2, 2);
    feeds[w.node().name] = float_tensor(w.dtype(), w.shape(), values);
  }
  auto out = Interpreter(run).run(feeds);
  for (size_t i = 0; i < wrt.size(); ++i) {
    const Tensor& t = out.at(fmt::format("grad_{}", i));
    EXPECT_EQ(t.type().str(), wrt[i].type().str()) << i;
    for (int64_t k = 0; k < t.num_elements(); ++k) {
      double expected = i == 0 ? 2 * feeds.at("x").as_double(k) : 0.0;
      EXPECT_EQ(t.as_double(k), expected) << "gradient " << i << ", element " << k;
    }
  }
}

} // namespace
} // namespace sj::test
