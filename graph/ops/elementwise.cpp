// Elementwise ops: unary math, binary arithmetic with NumPy broadcasting, comparisons,
// select, cast, stop_gradient. Rules of each op: shape/dtype (infer_*), interpreter kernel
// (eval_*) and gradient (grad_*).
#include "graph/gradient.h"
#include "graph/limits.h"
#include "graph/ops/kernel_util.h"
#include "graph/ops/shape_util.h"

#include <cmath>
#include <fmt/format.h>
#include <numbers>

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

TensorType infer_any(const OpCall& c) { return c.types[0]; }

TensorType infer_cast(const OpCall& c) { return {c.attrs.dtype("to"), c.types[0].shape}; }

// ---- interpreter kernels ---------------------------------------------------------------
// Floats are computed in double and rounded once; integers wrap (see kernel_util.h).

// A float function f(double) applied to every element.
template <typename F>
Tensor map_float(const EvalCall& c, F f) {
  return visit_float(c.type().dtype, [&]<typename T>() {
    return map_elements<T, T>(c.type(), c.args, [&](T x) { return f(double(x)); });
  });
}

// A float function f(double, double) of two broadcast operands.
template <typename F>
Tensor map_float2(const EvalCall& c, F f) {
  return visit_float(c.type().dtype, [&]<typename T>() {
    return map_elements<T, T, T>(c.type(), c.args,
                                 [&](T a, T b) { return f(double(a), double(b)); });
  });
}

// A numeric function f(T) applied to every element, given the element as it is.
template <typename F>
Tensor map_numeric(const EvalCall& c, F f) {
  return visit_numeric(c.type().dtype,
                       [&]<typename T>() { return map_elements<T, T>(c.type(), c.args, f); });
}

// Arithmetic f on every element, done in Arith<T>: double, or wrapping unsigned for integers.
template <typename F>
Tensor map_arith(const EvalCall& c, F f) {
  return visit_numeric(c.type().dtype, [&]<typename T>() {
    return map_elements<T, T>(c.type(), c.args, [&](T x) { return f(Arith<T>(x)); });
  });
}

// Arithmetic f of two broadcast operands, done in Arith<T>.
template <typename F>
Tensor map_arith2(const EvalCall& c, F f) {
  return visit_numeric(c.type().dtype, [&]<typename T>() {
    return map_elements<T, T, T>(c.type(), c.args,
                                 [&](T a, T b) { return f(Arith<T>(a), Arith<T>(b)); });
  });
}

// A function f(T, T) -> T of two broadcast numeric operands.
template <typename F>
Tensor map_numeric2(const EvalCall& c, F f) {
  return visit_numeric(c.type().dtype,
                       [&]<typename T>() { return map_elements<T, T, T>(c.type(), c.args, f); });
}

// A comparison f(T, T) -> bool of two broadcast numeric operands.
template <typename F>
Tensor compare(const EvalCall& c, F f) {
  return visit_numeric(c.args[0]->dtype(),
                       [&]<typename T>() { return map_elements<bool, T, T>(c.type(), c.args, f); });
}

Tensor eval_neg(const EvalCall& c) {
  return map_arith(c, [](auto x) { return -x; });
}
Tensor eval_abs(const EvalCall& c) {
  return map_numeric(c, []<typename T>(T x) -> T {
    if constexpr (std::is_integral_v<T>)
      return x < 0 ? T(-Arith<T>(x)) : x; // |min| wraps to min
    else
      return std::abs(x);
  });
}
Tensor eval_exp(const EvalCall& c) {
  return map_float(c, [](double x) { return std::exp(x); });
}
Tensor eval_log(const EvalCall& c) {
  return map_float(c, [](double x) { return std::log(x); });
}
Tensor eval_sqrt(const EvalCall& c) {
  return map_float(c, [](double x) { return std::sqrt(x); });
}
Tensor eval_rsqrt(const EvalCall& c) {
  return map_float(c, [](double x) { return 1 / std::sqrt(x); });
}
Tensor eval_square(const EvalCall& c) {
  return map_arith(c, [](auto x) { return x * x; });
}
Tensor eval_relu(const EvalCall& c) {
  return map_numeric(c, []<typename T>(T x) -> T {
    if constexpr (std::is_floating_point_v<T>)
      if (std::isnan(x)) return x; // NaN > 0 is false, but relu must not hide a NaN
    return x > 0 ? x : T(0);
  });
}
Tensor eval_sigmoid(const EvalCall& c) {
  // exp of a non-positive number only: no overflow, and no inf / inf for large |x|.
  return map_float(c, [](double x) {
    if (x >= 0) return 1 / (1 + std::exp(-x));
    double e = std::exp(x);
    return e / (1 + e);
  });
}
Tensor eval_tanh(const EvalCall& c) {
  return map_float(c, [](double x) { return std::tanh(x); });
}
Tensor eval_gelu(const EvalCall& c) {
  if (c.attrs().flag("approximate"))
    return map_float(c, [](double x) {
      // x/2 (1 + tanh u) as x / (1 + e^-2u): the same value without the cancellation of
      // 1 + tanh u for negative x.
      double u = std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x);
      return x / (1 + std::exp(-2 * u));
    });
  // 1 + erf(x / sqrt 2) as erfc(-x / sqrt 2): the same value without the cancellation that
  // would round gelu(-10) = -7.6e-23 to 0.
  return map_float(c, [](double x) { return 0.5 * x * std::erfc(-x / std::numbers::sqrt2); });
}
Tensor eval_softplus(const EvalCall& c) {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): e^-|x| <= 1 never overflows.
  return map_float(c,
                   [](double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); });
}

Tensor eval_erf(const EvalCall& c) {
  return map_float(c, [](double x) { return std::erf(x); });
}
Tensor eval_sin(const EvalCall& c) {
  return map_float(c, [](double x) { return std::sin(x); });
}
Tensor eval_cos(const EvalCall& c) {
  return map_float(c, [](double x) { return std::cos(x); });
}
Tensor eval_stop_gradient(const EvalCall& c) {
  return visit_dtype(c.type().dtype, [&]<typename T>() {
    return map_elements<T, T>(c.type(), c.args, [](T x) { return x; });
  });
}

Tensor eval_add(const EvalCall& c) {
  return map_arith2(c, [](auto a, auto b) { return a + b; });
}
Tensor eval_sub(const EvalCall& c) {
  return map_arith2(c, [](auto a, auto b) { return a - b; });
}
Tensor eval_mul(const EvalCall& c) {
  return map_arith2(c, [](auto a, auto b) { return a * b; });
}
Tensor eval_div(const EvalCall& c) {
  return map_float2(c, [](double a, double b) { return a / b; });
}
Tensor eval_pow(const EvalCall& c) {
  return map_float2(c, [](double a, double b) { return std::pow(a, b); });
}
Tensor eval_maximum(const EvalCall& c) {
  return map_numeric2(c, [](auto a, auto b) { return maximum_of(a, b); });
}
Tensor eval_minimum(const EvalCall& c) {
  return map_numeric2(c, [](auto a, auto b) { return minimum_of(a, b); });
}
Tensor eval_greater(const EvalCall& c) {
  return compare(c, [](auto a, auto b) { return a > b; });
}
Tensor eval_greater_equal(const EvalCall& c) {
  return compare(c, [](auto a, auto b) { return a >= b; });
}
Tensor eval_less(const EvalCall& c) {
  return compare(c, [](auto a, auto b) { return a < b; });
}
Tensor eval_equal(const EvalCall& c) {
  return compare(c, [](auto a, auto b) { return a == b; });
}

Tensor eval_select(const EvalCall& c) {
  return visit_dtype(c.type().dtype, [&]<typename T>() {
    return map_elements<T, bool, T, T>(c.type(), c.args,
                                       [](bool cond, T a, T b) { return cond ? a : b; });
  });
}

Tensor eval_cast(const EvalCall& c) {
  return visit_dtype(c.type().dtype, [&]<typename To>() {
    return visit_dtype(c.args[0]->dtype(), [&]<typename From>() {
      return map_elements<To, From>(c.type(), c.args, [](From x) { return convert<To>(x); });
    });
  });
}

// ---- gradient rules --------------------------------------------------------------------
// Given g = d loss / d y, each rule sets d loss / d x[i] (graph/gradient.h). Binary ops sum
// their gradients back to the operand's shape (unbroadcast).
//
// No expression here passes two node-building subexpressions to one call (`f(a(), b())` or
// `a() * b()`): C++ leaves their order unspecified, and g++ and clang build the nodes in
// opposite orders. Such operands are named first, one statement each, so every compiler
// builds the same graph (tests/passes/golden/gradient_graphs.txt holds it).

Value zero(Value like) { return scalar_like(like, 0); }

void grad_neg(GradCall& c) { c.set(0, -c.g); }
void grad_abs(GradCall& c) {
  // sign(x) * g, with sign(0) = 0.
  Value x = c.x[0];
  Value positive = mask(greater(x, zero(x)), x.dtype());
  Value negative = mask(less(x, zero(x)), x.dtype());
  c.set(0, c.g * (positive - negative));
}
void grad_exp(GradCall& c) { c.set(0, c.g * c.y); }
void grad_log(GradCall& c) { c.set(0, c.g / c.x[0]); }
void grad_sqrt(GradCall& c) { c.set(0, c.g / (c.y * 2.0)); }
void grad_rsqrt(GradCall& c) { c.set(0, c.g * (c.y * c.y * c.y) * -0.5); }
void grad_square(GradCall& c) { c.set(0, c.g * c.x[0] * 2.0); }
void grad_relu(GradCall& c) {
  // Tie rule: at x = 0 the gradient is 0 (as in PyTorch and TensorFlow).
  Value positive = greater(c.x[0], zero(c.x[0]));
  c.set(0, select(positive, c.g, zero(c.g)));
}
void grad_sigmoid(GradCall& c) { c.set(0, c.g * (c.y - square(c.y))); }
void grad_tanh(GradCall& c) { c.set(0, c.g * (1.0 - square(c.y))); }
void grad_gelu(GradCall& c) {
  Value x = c.x[0];
  if (c.attrs().flag("approximate")) {
    // y = x sigmoid(w), w = 2k (x + a x^3): y' = s + x s (1 - s) w', s = sigmoid(w). (The tanh
    // form's (1 + tanh u) / 2 cancels for negative x.)
    double k2 = 2 * std::sqrt(2 / std::numbers::pi), a = 0.044715;
    Value s = sigmoid((x + x * square(x) * a) * k2);
    Value dw = (1.0 + square(x) * (3 * a)) * k2;
    c.set(0, c.g * (s + x * (s * (1.0 - s)) * dw));
    return;
  }
  // y = x Phi(x): y' = Phi(x) + x phi(x).
  Value cdf = (erf(x * (1 / std::numbers::sqrt2)) + 1.0) * 0.5;
  Value pdf = exp(square(x) * -0.5) * (1 / std::sqrt(2 * std::numbers::pi));
  c.set(0, c.g * (cdf + x * pdf));
}
void grad_softplus(GradCall& c) { c.set(0, c.g * sigmoid(c.x[0])); }
void grad_erf(GradCall& c) {
  c.set(0, c.g * exp(-square(c.x[0])) * (2 / std::sqrt(std::numbers::pi)));
}
void grad_sin(GradCall& c) { c.set(0, c.g * cos(c.x[0])); }
void grad_cos(GradCall& c) { c.set(0, -(c.g * sin(c.x[0]))); }

void grad_add(GradCall& c) {
  c.set(0, unbroadcast(c.g, c.x[0].shape()));
  c.set(1, unbroadcast(c.g, c.x[1].shape()));
}
void grad_sub(GradCall& c) {
  c.set(0, unbroadcast(c.g, c.x[0].shape()));
  if (c.wants(1)) c.set(1, unbroadcast(-c.g, c.x[1].shape()));
}
void grad_mul(GradCall& c) {
  if (c.wants(0)) c.set(0, unbroadcast(c.g * c.x[1], c.x[0].shape()));
  if (c.wants(1)) c.set(1, unbroadcast(c.g * c.x[0], c.x[1].shape()));
}
void grad_div(GradCall& c) {
  // y = a / b: dy/da = 1 / b, dy/db = -a / b^2 = -y / b.
  if (c.wants(0)) c.set(0, unbroadcast(c.g / c.x[1], c.x[0].shape()));
  if (c.wants(1)) c.set(1, unbroadcast(-(c.g * c.y / c.x[1]), c.x[1].shape()));
}
// Tie rule of maximum and minimum: where a == b the whole gradient goes to `a` (TensorFlow's).
void route(GradCall& c, Value to_a) {
  if (c.wants(0)) c.set(0, unbroadcast(select(to_a, c.g, zero(c.g)), c.x[0].shape()));
  if (c.wants(1)) c.set(1, unbroadcast(select(to_a, zero(c.g), c.g), c.x[1].shape()));
}
void grad_maximum(GradCall& c) { route(c, greater_equal(c.x[0], c.x[1])); }
void grad_minimum(GradCall& c) { route(c, greater_equal(c.x[1], c.x[0])); }
void grad_pow(GradCall& c) {
  Value a = c.x[0], b = c.x[1];
  // dy/da = b a^(b-1); dy/db = y log a, taken as 0 where a <= 0 (log a is not real there).
  if (c.wants(0)) {
    Value gb = c.g * b;
    c.set(0, unbroadcast(gb * pow(a, b - 1.0), a.shape()));
  }
  if (c.wants(1)) {
    Value positive = greater(a, zero(a));
    Value gy = c.g * c.y;
    Value db = gy * log(a);
    c.set(1, unbroadcast(select(positive, db, zero(c.g)), b.shape()));
  }
}
void grad_select(GradCall& c) {
  if (c.wants(1)) c.set(1, unbroadcast(select(c.x[0], c.g, zero(c.g)), c.x[1].shape()));
  if (c.wants(2)) c.set(2, unbroadcast(select(c.x[0], zero(c.g), c.g), c.x[2].shape()));
}
void grad_cast(GradCall& c) { c.set(0, cast(c.g, c.x[0].dtype())); }

OpDef binary(Op op, std::string_view name, InferFn infer, EvalFn eval, GradFn grad,
             std::string_view summary) {
  return {.op = op,
          .name = name,
          .num_operands = 2,
          .operand_names = {"a", "b"},
          .attrs = {},
          .infer = infer,
          .eval = eval,
          .grad = grad,
          .fusion = Fusion::elementwise,
          .summary = summary};
}

} // namespace

extern const OpDef neg_def =
    unary_def(Op::neg, "neg", infer_unary_numeric, eval_neg, grad_neg, Fusion::elementwise, "-x");
extern const OpDef abs_def =
    unary_def(Op::abs, "abs", infer_unary_numeric, eval_abs, grad_abs, Fusion::elementwise, "|x|");
extern const OpDef exp_def =
    unary_def(Op::exp, "exp", infer_unary_float, eval_exp, grad_exp, Fusion::elementwise, "e^x");
extern const OpDef log_def = unary_def(Op::log, "log", infer_unary_float, eval_log, grad_log,
                                       Fusion::elementwise, "natural logarithm");
extern const OpDef sqrt_def = unary_def(Op::sqrt, "sqrt", infer_unary_float, eval_sqrt, grad_sqrt,
                                        Fusion::elementwise, "square root");
extern const OpDef rsqrt_def = unary_def(Op::rsqrt, "rsqrt", infer_unary_float, eval_rsqrt,
                                         grad_rsqrt, Fusion::elementwise, "1 / sqrt(x)");
extern const OpDef square_def = unary_def(Op::square, "square", infer_unary_numeric, eval_square,
                                          grad_square, Fusion::elementwise, "x * x");
extern const OpDef relu_def = unary_def(Op::relu, "relu", infer_unary_numeric, eval_relu, grad_relu,
                                        Fusion::elementwise, "max(x, 0); gradient 0 at x = 0");
extern const OpDef sigmoid_def =
    unary_def(Op::sigmoid, "sigmoid", infer_unary_float, eval_sigmoid, grad_sigmoid,
              Fusion::elementwise, "1 / (1 + e^-x), computed stably");
extern const OpDef tanh_def = unary_def(Op::tanh, "tanh", infer_unary_float, eval_tanh, grad_tanh,
                                        Fusion::elementwise, "hyperbolic tangent");
extern const OpDef gelu_def =
    unary_def(Op::gelu, "gelu", infer_unary_float, eval_gelu, grad_gelu, Fusion::elementwise,
              "x * Phi(x) (exact, with erf); approximate = true uses the tanh form",
              {{"approximate", AttrKind::boolean, false}});
extern const OpDef softplus_def =
    unary_def(Op::softplus, "softplus", infer_unary_float, eval_softplus, grad_softplus,
              Fusion::elementwise, "log(1 + e^x), computed stably");
extern const OpDef erf_def = unary_def(Op::erf, "erf", infer_unary_float, eval_erf, grad_erf,
                                       Fusion::elementwise, "the error function");
extern const OpDef sin_def = unary_def(Op::sin, "sin", infer_unary_float, eval_sin, grad_sin,
                                       Fusion::elementwise, "sine (radians)");
extern const OpDef cos_def = unary_def(Op::cos, "cos", infer_unary_float, eval_cos, grad_cos,
                                       Fusion::elementwise, "cosine (radians)");
extern const OpDef stop_gradient_def = [] {
  OpDef d = unary_def(Op::stop_gradient, "stop_gradient", infer_any, eval_stop_gradient, nullptr,
                      Fusion::elementwise, "x unchanged; no gradient flows through it");
  d.flops = no_flops; // a copy
  return d;
}();

extern const OpDef add_def =
    binary(Op::add, "add", infer_binary_numeric, eval_add, grad_add, "a + b");
extern const OpDef sub_def =
    binary(Op::sub, "sub", infer_binary_numeric, eval_sub, grad_sub, "a - b");
extern const OpDef mul_def =
    binary(Op::mul, "mul", infer_binary_numeric, eval_mul, grad_mul, "a * b");
extern const OpDef div_def =
    binary(Op::div, "div", infer_binary_float, eval_div, grad_div, "a / b (IEEE)");
extern const OpDef maximum_def =
    binary(Op::maximum, "maximum", infer_binary_numeric, eval_maximum, grad_maximum,
           "max(a, b); NaN if either is NaN; at a tie the gradient goes to a");
extern const OpDef minimum_def =
    binary(Op::minimum, "minimum", infer_binary_numeric, eval_minimum, grad_minimum,
           "min(a, b); NaN if either is NaN; at a tie the gradient goes to a");
extern const OpDef pow_def =
    binary(Op::pow, "pow", infer_binary_float, eval_pow, grad_pow, "a ^ b (C pow)");
extern const OpDef greater_def =
    binary(Op::greater, "greater", infer_compare, eval_greater, nullptr, "a > b");
extern const OpDef greater_equal_def = binary(Op::greater_equal, "greater_equal", infer_compare,
                                              eval_greater_equal, nullptr, "a >= b");
extern const OpDef less_def = binary(Op::less, "less", infer_compare, eval_less, nullptr, "a < b");
extern const OpDef equal_def =
    binary(Op::equal, "equal", infer_compare, eval_equal, nullptr, "a == b");

extern const OpDef select_def = {.op = Op::select,
                                 .name = "select",
                                 .num_operands = 3,
                                 .operand_names = {"cond", "a", "b"},
                                 .attrs = {},
                                 .infer = infer_select,
                                 .eval = eval_select,
                                 .grad = grad_select,
                                 .fusion = Fusion::elementwise,
                                 .summary = "cond ? a : b, all three broadcast together"};

extern const OpDef cast_def = {
    .op = Op::cast,
    .name = "cast",
    .num_operands = 1,
    .operand_names = {"x"},
    .attrs = {{"to", AttrKind::dtype, std::nullopt}},
    .infer = infer_cast,
    .eval = eval_cast,
    .grad = grad_cast,
    .fusion = Fusion::elementwise,
    .summary = "convert to dtype `to`: float to int truncates toward zero and saturates (NaN "
               "gives 0); to bool is x != 0; only float to float passes a gradient"};

} // namespace sj
