// The op-level C++ graph builder: one function per op of the table, each checking shapes and
// dtypes as it builds and reporting errors at the caller's line (std::source_location).
//
//   sj::Graph g("seed");
//   auto x = sj::input(g, "x", {sj::DType::f32, {32, 100}});
//   auto w = sj::variable(g, "w", {sj::DType::f32, {100, 10}}, sj::Init::glorot_uniform(1));
//   auto h = sj::relu(sj::matmul(x, w));
//   g.add_output("h", h.id());
#pragma once

#include "graph/graph.h"

#include <source_location>
#include <vector>

namespace sj {

/// A value of a graph under construction: a (graph, value id) pair, cheap to copy.
///
/// A default-constructed Value is null, like TensorFlow's None for a gradient that does not
/// exist (see Unconnected::none). Using a null Value anywhere throws sj::Error.
class Value {
public:
  Value() = default;
  Value(Graph& graph, ValueId id) : graph_(&graph), id_(id) {}
  bool is_null() const { return graph_ == nullptr; }
  Graph& graph() const { return *checked(); }
  ValueId id() const {
    checked();
    return id_;
  }
  /// The node; the reference is invalidated when the graph grows.
  const Node& node() const { return checked()->node(id_); }
  // Copies, not references: an expression like f(add(...), x.shape()) may grow the graph
  // (and move its nodes) after shape() was evaluated.
  TensorType type() const { return node().type; }
  Shape shape() const { return node().type.shape; }
  DType dtype() const { return type().dtype; }
  int rank() const { return type().rank(); }

private:
  Graph* checked() const;

  Graph* graph_ = nullptr;
  ValueId id_ = 0;
};

/// A Value together with the line that mentions it. Operators such as `a + b` cannot take a
/// defaulted std::source_location parameter; the implicit conversion to At can, and it is
/// evaluated in the user's expression, so operator errors still point at the user's line.
struct At {
  At(Value v, std::source_location loc = std::source_location::current())
      : value(v), loc(Location::here(loc)) {}
  Value value;
  Location loc;
};

/// How a variable gets its first value. Keras's defaults and formulas; every random
/// initializer is seeded and gives bit-identical values on every run and machine.
struct Init {
  std::string kind = "zeros";
  int64_t seed = 0;
  double value = 0, low = -0.05, high = 0.05, mean = 0, stddev = 0.05;

  static Init zeros() { return {}; }
  static Init ones() { return {.kind = "ones"}; }
  static Init constant(double v) { return {.kind = "constant", .value = v}; }
  static Init uniform(double low, double high, int64_t seed) {
    return {.kind = "uniform", .seed = seed, .low = low, .high = high};
  }
  static Init normal(double mean, double stddev, int64_t seed) {
    return {.kind = "normal", .seed = seed, .mean = mean, .stddev = stddev};
  }
  static Init glorot_uniform(int64_t seed) { return {.kind = "glorot_uniform", .seed = seed}; }
  static Init he_normal(int64_t seed) { return {.kind = "he_normal", .seed = seed}; }
  Attrs attrs() const;
};

/// Where a node comes from: by default the caller's line (captured at the call site, like every
/// defaulted std::source_location), or an explicit Location, which passes use to attribute the
/// nodes they add to the node they came from.
struct Loc {
  Loc(std::source_location loc = std::source_location::current()) : where(Location::here(loc)) {}
  Loc(Location loc) : where(std::move(loc)) {}
  Location where;
};

// ---- sources -----------------------------------------------------------------------------
Value input(Graph& g, std::string name, TensorType type, Loc loc = {});
Value variable(Graph& g, std::string name, TensorType type, const Init& init = {}, Loc loc = {});
Value constant(Graph& g, Tensor value, Loc loc = {});
/// A rank-0 constant of dtype `dtype`.
Value scalar(Graph& g, double value, DType dtype = DType::f32, Loc loc = {});
/// A rank-0 constant of v's dtype, in v's graph (it broadcasts against anything).
Value scalar_like(Value v, double value, Loc loc = {});
/// A constant of `type` with every element `value` (printed as a splat).
Value fill(Graph& g, const TensorType& type, double value, Loc loc = {});
/// Gives `v` a name in the text form (`%pred`); returns `v`.
Value named(Value v, std::string name, Loc loc = {});
/// Marks `v` as the graph output `name` (what later stages compute and return).
void output(std::string name, Value v, Loc loc = {});

// ---- elementwise -------------------------------------------------------------------------
Value neg(Value x, Loc loc = {});
Value abs(Value x, Loc loc = {});
Value exp(Value x, Loc loc = {});
Value log(Value x, Loc loc = {});
Value sqrt(Value x, Loc loc = {});
Value rsqrt(Value x, Loc loc = {});
Value square(Value x, Loc loc = {});
Value relu(Value x, Loc loc = {});
Value sigmoid(Value x, Loc loc = {});
Value tanh(Value x, Loc loc = {});
Value gelu(Value x, bool approximate = false, Loc loc = {});
Value softplus(Value x, Loc loc = {});
Value erf(Value x, Loc loc = {});
Value sin(Value x, Loc loc = {});
Value cos(Value x, Loc loc = {});
/// The identity, except that no gradient flows through it.
Value stop_gradient(Value x, Loc loc = {});

Value add(Value a, Value b, Loc loc = {});
Value sub(Value a, Value b, Loc loc = {});
Value mul(Value a, Value b, Loc loc = {});
Value div(Value a, Value b, Loc loc = {});
Value maximum(Value a, Value b, Loc loc = {});
Value minimum(Value a, Value b, Loc loc = {});
Value pow(Value a, Value b, Loc loc = {});
Value greater(Value a, Value b, Loc loc = {});
Value greater_equal(Value a, Value b, Loc loc = {});
Value less(Value a, Value b, Loc loc = {});
Value equal(Value a, Value b, Loc loc = {});
Value select(Value cond, Value a, Value b, Loc loc = {});
Value cast(Value x, DType to, Loc loc = {});

// ---- reductions --------------------------------------------------------------------------
/// The axes of a reduction: a list (`{0, -1}`; `{}` reduces nothing), or Axes::all(), the
/// default. There is deliberately no default constructor, so `{}` always means the empty list.
struct Axes {
  Axes(std::initializer_list<int64_t> axes) : list(axes) {}
  Axes(std::vector<int64_t> axes) : list(std::move(axes)) {}
  static Axes all() {
    Axes a(std::vector<int64_t>{});
    a.every = true;
    return a;
  }
  std::vector<int64_t> list;
  bool every = false;
};
Value reduce_sum(Value x, Axes axes = Axes::all(), bool keepdims = false, Loc loc = {});
Value reduce_mean(Value x, Axes axes = Axes::all(), bool keepdims = false, Loc loc = {});
Value reduce_max(Value x, Axes axes = Axes::all(), bool keepdims = false, Loc loc = {});
/// The index (i64) of the first maximum of x along `axis` (negative counts from the end), which
/// must have elements; NaN counts as the maximum (the first NaN wins, as NumPy's). keepdims
/// keeps the axis as 1. No gradient flows through it (an integer result).
Value argmax(Value x, int64_t axis, bool keepdims = false, Loc loc = {});

// ---- layer normalization -----------------------------------------------------------------
/// (x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis of x [..., C] (f32 or
/// f64), var the biased variance; gamma and beta [C]. One op: two passes for the statistics and
/// one for the result per row; its gradient is layer_norm_backprop (few passes per row too).
Value layer_norm(Value x, Value gamma, Value beta, double epsilon = 1e-5, Loc loc = {});
/// The (mean, 1 / sqrt(var + epsilon)) of each row of the last axis of x: [..., 2].
Value layer_norm_stats(Value x, double epsilon = 1e-5, Loc loc = {});
/// The gradient of layer_norm(x, gamma, beta) with respect to x given dy (the gradient of its
/// result), with stats = layer_norm_stats(x, epsilon).
Value layer_norm_backprop(Value x, Value gamma, Value dy, Value stats, Loc loc = {});

// ---- linear algebra and layout -----------------------------------------------------------
struct MatmulOptions {
  bool transpose_a = false;
  bool transpose_b = false;
};
Value matmul(Value a, Value b, MatmulOptions options = {}, Loc loc = {});
/// Permutes dimensions; an empty `perm` reverses them.
Value transpose(Value x, std::vector<int64_t> perm = {}, Loc loc = {});
/// One entry of `shape` may be -1: it is inferred from the element count.
Value reshape(Value x, Shape shape, Loc loc = {});
Value broadcast_to(Value x, Shape shape, Loc loc = {});
Value concat(const std::vector<Value>& xs, int64_t axis, Loc loc = {});
Value slice(Value x, std::vector<int64_t> begin, std::vector<int64_t> end, Loc loc = {});
/// x cut along `axis` into consecutive pieces of the given sizes (which must add up to the
/// axis's size): slices, in order. (concat of the pieces is x.)
std::vector<Value> split(Value x, int64_t axis, const std::vector<int64_t>& sizes, Loc loc = {});
/// x cut along `axis` into `n` equal pieces (the axis's size must be a multiple of n).
std::vector<Value> chunk(Value x, int64_t n, int64_t axis, Loc loc = {});
/// The additive causal mask [tq, tk] of `dtype`: 0 where key j is visible to query i
/// (j <= i + tk - tq), -inf elsewhere; for attention's `mask` or a composition's scores.
Value causal_mask(Graph& g, int64_t tq, int64_t tk, DType dtype = DType::f32, Loc loc = {});

// ---- neural-network ops ------------------------------------------------------------------
Value softmax(Value x, int64_t axis = -1, Loc loc = {});
Value log_softmax(Value x, int64_t axis = -1, Loc loc = {});
/// Mean over rows of the cross-entropy of softmax(logits) against integer class labels.
Value softmax_cross_entropy(Value logits, Value labels, Loc loc = {});
Value one_hot(Value indices, int64_t depth, DType dtype = DType::f32, Loc loc = {});
Value gather(Value table, Value indices, Loc loc = {});
/// A zero [rows, ...] table with row i of `updates` added at row indices[i]: the adjoint of
/// gather (updates has the indices' shape followed by the row's).
Value scatter_add(Value updates, Value indices, int64_t rows, Loc loc = {});

// ---- convolution and pooling (NHWC) --------------------------------------------------------
/// How a sliding window meets the image's border: `valid` (no padding: only windows that fit),
/// `same` (TensorFlow's: ceil(size / stride) outputs, the odd pixel of padding at the bottom
/// and right, also for strides > 1) or explicit pads.
struct Padding {
  std::string mode = "valid";
  std::vector<int64_t> pads = {}; // explicit only: [top, bottom, left, right]

  static Padding valid() { return {}; }
  static Padding same() { return {.mode = "same"}; }
  static Padding explicit_pads(int64_t top, int64_t bottom, int64_t left, int64_t right) {
    return {.mode = "explicit", .pads = {top, bottom, left, right}};
  }
};

struct Conv2dOptions {
  std::vector<int64_t> strides = {1, 1};
  Padding padding = {};
  std::vector<int64_t> dilations = {1, 1};
  /// Input channels and filters split into `groups` independent convolutions; groups = C with
  /// F = C * multiplier is a depthwise convolution.
  int64_t groups = 1;
};

/// x [N,H,W,C] with kernel [KH,KW,C/groups,F] (Keras's layout) -> [N,OH,OW,F].
Value conv2d(Value x, Value kernel, const Conv2dOptions& options = {}, Loc loc = {});
/// The gradient of conv2d with respect to x, of shape `input_shape` (a transposed convolution).
Value conv2d_backprop_input(Value dy, Value kernel, Shape input_shape,
                            const Conv2dOptions& options = {}, Loc loc = {});
/// The gradient of conv2d with respect to its kernel, of shape `kernel_shape`.
Value conv2d_backprop_kernel(Value x, Value dy, Shape kernel_shape,
                             const Conv2dOptions& options = {}, Loc loc = {});

struct Pool2dOptions {
  std::vector<int64_t> window = {2, 2};
  std::vector<int64_t> strides = {}; ///< empty: the window (windows side by side)
  Padding padding = {};
};
/// The maximum of each window of x [N,H,W,C] (padding pixels never win).
Value max_pool2d(Value x, const Pool2dOptions& options = {}, Loc loc = {});
Value max_pool2d_backprop(Value x, Value dy, const Pool2dOptions& options = {}, Loc loc = {});
/// The mean of each window's real pixels (padding is not counted, as TensorFlow's avg_pool).
Value avg_pool2d(Value x, const Pool2dOptions& options = {}, Loc loc = {});
Value avg_pool2d_backprop(Value dy, Shape input_shape, const Pool2dOptions& options = {},
                          Loc loc = {});
/// `value` around x: pads = [before, after] for each dimension, in order.
Value pad(Value x, std::vector<int64_t> pads, double value = 0, Loc loc = {});

// ---- attention ---------------------------------------------------------------------------
struct AttentionOptions {
  /// Added to the scores q kᵀ scale; broadcasts to [B, H, Tq, Tk] (-inf hides a key). Null: no
  /// mask (the op then gets a scalar 0). Treated as a constant: it receives no gradient.
  Value mask = {};
  /// Query i sees key j only when j <= i + Tk - Tq (the last query sees every key).
  bool causal = false;
  /// The scores' factor; 0 means 1/sqrt(D).
  double scale = 0;
};
/// softmax(q kᵀ scale + mask) v for q [B,H,Tq,D], k and v [B,H,Tk,D] -> [B,H,Tq,D]; a row
/// whose every score is -inf gives 0. One op, lowered to a FlashAttention-style kernel.
Value attention(Value q, Value k, Value v, const AttentionOptions& options = {}, Loc loc = {});
/// The log-sum-exp of each row of the scores, [B,H,Tq] (-inf for a row without visible keys).
Value attention_lse(Value q, Value k, const AttentionOptions& options = {}, Loc loc = {});
/// The gradient of y = attention(q, k, v) given dy, with lse = attention_lse(q, k): dq, dk, dv
/// stacked along axis 2, [B, H, Tq + 2 Tk, D].
Value attention_backprop(Value q, Value k, Value v, Value y, Value dy, Value lse,
                         const AttentionOptions& options = {}, Loc loc = {});

// ---- random numbers ----------------------------------------------------------------------
/// Uniform [0, 1) numbers of `type` (f32 or f64), a pure function of (seed, the value of the
/// i64 scalar `counter`, element index): the same counter gives the same numbers, a new one new
/// numbers (graph/ops/random.cpp).
Value random_uniform(Value counter, const TensorType& type, int64_t seed = 0, Loc loc = {});

// ---- state -------------------------------------------------------------------------------
Value assign(Value variable, Value value, Loc loc = {});

// ---- operators: elementwise, with the line of the expression -----------------------------
Value operator+(Value a, At b);
Value operator-(Value a, At b);
Value operator*(Value a, At b);
Value operator/(Value a, At b);
Value operator-(At x);
/// A number in an expression with a Value, with the expression's line (see At). It becomes a
/// scalar constant of the Value's dtype.
struct Number {
  Number(double v, std::source_location loc = std::source_location::current())
      : value(v), loc(Location::here(loc)) {}
  double value;
  Location loc;
};
Value operator+(Value a, Number b);
Value operator-(Value a, Number b);
Value operator*(Value a, Number b);
Value operator/(Value a, Number b);
Value operator*(Number a, Value b);
Value operator+(Number a, Value b);
Value operator-(Number a, Value b);

} // namespace sj
