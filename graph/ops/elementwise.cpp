// Elementwise ops: unary math, binary arithmetic with NumPy broadcasting, comparisons,
// select and cast. Rules of each op: shape/dtype (infer_*) and interpreter kernel (eval_*).
#include "graph/ops/shape_util.h"

#include <fmt/format.h>

namespace sj {
using namespace ops;

namespace {

// ---- shape and dtype rules -------------------------------------------------------------

TensorType infer_unary_float(const OpCall& c) {
  require_float(c, 0);
  return c.types[0];
}

TensorType infer_unary_numeric(const OpCall& c) {
  require_numeric(c, 0);
  return c.types[0];
}

TensorType infer_binary_numeric(const OpCall& c) {
  require_numeric(c, 0);
  require_numeric(c, 1);
  require_same_dtype(c, 0, 1);
  return {c.types[0].dtype, broadcast_shapes(c, c.types[0].shape, c.types[1].shape)};
}

TensorType infer_binary_float(const OpCall& c) {
  require_float(c, 0);
  require_float(c, 1);
  require_same_dtype(c, 0, 1);
  return {c.types[0].dtype, broadcast_shapes(c, c.types[0].shape, c.types[1].shape)};
}

TensorType infer_compare(const OpCall& c) {
  return {DType::boolean, infer_binary_numeric(c).shape};
}

TensorType infer_select(const OpCall& c) {
  if (c.types[0].dtype != DType::boolean)
    c.fail(fmt::format("operand 'cond' must be bool, not {}; make it with a comparison such as "
                       "greater(x, y)",
                       dtype_name(c.types[0].dtype)));
  require_same_dtype(c, 1, 2);
  Shape s = broadcast_shapes(c, c.types[0].shape, c.types[1].shape);
  return {c.types[1].dtype, broadcast_shapes(c, s, c.types[2].shape)};
}

TensorType infer_cast(const OpCall& c) { return {c.attrs.dtype("to"), c.types[0].shape}; }

OpDef unary(Op op, std::string_view name, InferFn infer, std::string_view summary,
            std::vector<AttrSpec> attrs = {}) {
  return {.op = op,
          .name = name,
          .num_operands = 1,
          .operand_names = {"x"},
          .attrs = std::move(attrs),
          .infer = infer,
          .eval = nullptr,
          .summary = summary};
}

OpDef binary(Op op, std::string_view name, InferFn infer, std::string_view summary) {
  return {.op = op,
          .name = name,
          .num_operands = 2,
          .operand_names = {"a", "b"},
          .attrs = {},
          .infer = infer,
          .eval = nullptr,
          .summary = summary};
}

} // namespace

extern const OpDef neg_def = unary(Op::neg, "neg", infer_unary_numeric, "-x");
extern const OpDef abs_def = unary(Op::abs, "abs", infer_unary_numeric, "|x|");
extern const OpDef exp_def = unary(Op::exp, "exp", infer_unary_float, "e^x");
extern const OpDef log_def = unary(Op::log, "log", infer_unary_float, "natural logarithm");
extern const OpDef sqrt_def = unary(Op::sqrt, "sqrt", infer_unary_float, "square root");
extern const OpDef rsqrt_def = unary(Op::rsqrt, "rsqrt", infer_unary_float, "1 / sqrt(x)");
extern const OpDef square_def = unary(Op::square, "square", infer_unary_numeric, "x * x");
extern const OpDef relu_def = unary(Op::relu, "relu", infer_unary_numeric, "max(x, 0)");
extern const OpDef sigmoid_def =
    unary(Op::sigmoid, "sigmoid", infer_unary_float, "1 / (1 + e^-x), computed stably");
extern const OpDef tanh_def = unary(Op::tanh, "tanh", infer_unary_float, "hyperbolic tangent");
extern const OpDef gelu_def =
    unary(Op::gelu, "gelu", infer_unary_float,
          "x * Phi(x) (exact, with erf); approximate = true uses the tanh form",
          {{"approximate", AttrKind::boolean, false}});
extern const OpDef softplus_def =
    unary(Op::softplus, "softplus", infer_unary_float, "log(1 + e^x), computed stably");

extern const OpDef add_def = binary(Op::add, "add", infer_binary_numeric, "a + b");
extern const OpDef sub_def = binary(Op::sub, "sub", infer_binary_numeric, "a - b");
extern const OpDef mul_def = binary(Op::mul, "mul", infer_binary_numeric, "a * b");
extern const OpDef div_def = binary(Op::div, "div", infer_binary_float, "a / b (IEEE)");
extern const OpDef maximum_def =
    binary(Op::maximum, "maximum", infer_binary_numeric, "max(a, b); NaN if either is NaN");
extern const OpDef minimum_def =
    binary(Op::minimum, "minimum", infer_binary_numeric, "min(a, b); NaN if either is NaN");
extern const OpDef pow_def = binary(Op::pow, "pow", infer_binary_float, "a ^ b (C pow)");
extern const OpDef greater_def = binary(Op::greater, "greater", infer_compare, "a > b");
extern const OpDef greater_equal_def =
    binary(Op::greater_equal, "greater_equal", infer_compare, "a >= b");
extern const OpDef less_def = binary(Op::less, "less", infer_compare, "a < b");
extern const OpDef equal_def = binary(Op::equal, "equal", infer_compare, "a == b");

extern const OpDef select_def = {.op = Op::select,
                                 .name = "select",
                                 .num_operands = 3,
                                 .operand_names = {"cond", "a", "b"},
                                 .attrs = {},
                                 .infer = infer_select,
                                 .eval = nullptr,
                                 .summary = "cond ? a : b, all three broadcast together"};

extern const OpDef cast_def = {
    .op = Op::cast,
    .name = "cast",
    .num_operands = 1,
    .operand_names = {"x"},
    .attrs = {{"to", AttrKind::dtype, std::nullopt}},
    .infer = infer_cast,
    .eval = nullptr,
    .summary = "convert to dtype `to`: float to int truncates toward zero and saturates (NaN "
               "gives 0); to bool is x != 0"};

} // namespace sj
