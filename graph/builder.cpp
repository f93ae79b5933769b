#include "graph/builder.h"

#include "graph/ops/kernel_util.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>

namespace sj {

namespace {

Value make(Op op, std::vector<Value> operands, const Attrs& attrs, Loc loc) {
  for (size_t i = 0; i < operands.size(); ++i)
    if (operands[i].is_null())
      throw Error(loc.where, fmt::format("{}: operand {} is a null Value (for example the "
                                         "gradient of a value the loss does not depend on)",
                                         op_name(op), i));
  Graph& g = operands.front().graph();
  std::vector<ValueId> ids;
  for (const Value& v : operands) {
    if (&v.graph() != &g)
      throw Error(loc.where, fmt::format("{}: operands come from different graphs ('{}' and '{}'); "
                                         "a graph can only use its own values",
                                         op_name(op), g.name(), v.graph().name()));
    ids.push_back(v.id());
  }
  return {g, g.add(op, std::move(ids), attrs, std::move(loc.where))};
}

std::vector<int64_t> all_axes(const Value& x) {
  std::vector<int64_t> axes(x.rank());
  for (int i = 0; i < x.rank(); ++i)
    axes[i] = i;
  return axes;
}

Value reduce(Op op, Value x, const Axes& axes, bool keepdims, Loc loc) {
  return make(op, {x}, {{"axes", axes.every ? all_axes(x) : axes.list}, {"keepdims", keepdims}},
              loc);
}

} // namespace

Graph* Value::checked() const {
  if (!graph_)
    throw Error({}, "a null sj::Value was used (for example the gradient of a value the loss "
                    "does not depend on, from Unconnected::none)");
  return graph_;
}

Attrs Init::attrs() const {
  return {{"init", kind}, {"seed", seed}, {"value", value},  {"low", low},
          {"high", high}, {"mean", mean}, {"stddev", stddev}};
}

Value input(Graph& g, std::string name, TensorType type, Loc loc) {
  return {g, g.add(Op::input, {}, {}, loc.where, std::move(name), &type)};
}

Value variable(Graph& g, std::string name, TensorType type, const Init& init, Loc loc) {
  return {g, g.add(Op::variable, {}, init.attrs(), loc.where, std::move(name), &type)};
}

Value constant(Graph& g, Tensor value, Loc loc) {
  TensorType type = value.type();
  return {g, g.add(Op::constant, {}, {{"value", std::move(value)}}, loc.where, {}, &type)};
}

Value scalar_like(Value like, double value, Loc loc) {
  return scalar(like.graph(), value, like.dtype(), std::move(loc));
}

Value fill(Graph& g, const TensorType& type, double value, Loc loc) {
  Tensor t(type);
  visit_dtype(type.dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.num_elements(); ++i)
      p[i] = ops::convert<T>(value); // as cast converts: saturating, never UB
  });
  return constant(g, std::move(t), std::move(loc));
}

Value scalar(Graph& g, double value, DType dtype, Loc loc) {
  Tensor t({dtype, {}});
  visit_dtype(dtype, [&]<typename T>() { t.data<T>()[0] = ops::convert<T>(value); });
  return constant(g, std::move(t), loc);
}

Value named(Value v, std::string name, Loc loc) {
  v.graph().set_name(v.id(), std::move(name), loc.where);
  return v;
}

void output(std::string name, Value v, Loc loc) {
  v.graph().add_output(std::move(name), v.id(), loc.where);
}

#define SJ_UNARY(fn)                                                                               \
  Value fn(Value x, Loc loc) { return make(Op::fn, {x}, {}, loc); }
SJ_UNARY(neg)
SJ_UNARY(abs)
SJ_UNARY(exp)
SJ_UNARY(log)
SJ_UNARY(sqrt)
SJ_UNARY(rsqrt)
SJ_UNARY(square)
SJ_UNARY(relu)
SJ_UNARY(sigmoid)
SJ_UNARY(tanh)
SJ_UNARY(softplus)
SJ_UNARY(erf)
SJ_UNARY(sin)
SJ_UNARY(cos)
SJ_UNARY(stop_gradient)
#undef SJ_UNARY

Value gelu(Value x, bool approximate, Loc loc) {
  return make(Op::gelu, {x}, {{"approximate", approximate}}, loc);
}

#define SJ_BINARY(fn)                                                                              \
  Value fn(Value a, Value b, Loc loc) { return make(Op::fn, {a, b}, {}, loc); }
SJ_BINARY(add)
SJ_BINARY(sub)
SJ_BINARY(mul)
SJ_BINARY(div)
SJ_BINARY(maximum)
SJ_BINARY(minimum)
SJ_BINARY(pow)
SJ_BINARY(greater)
SJ_BINARY(greater_equal)
SJ_BINARY(less)
SJ_BINARY(equal)
#undef SJ_BINARY

Value select(Value cond, Value a, Value b, Loc loc) {
  return make(Op::select, {cond, a, b}, {}, loc);
}

Value cast(Value x, DType to, Loc loc) { return make(Op::cast, {x}, {{"to", to}}, loc); }

Value reduce_sum(Value x, Axes axes, bool keepdims, Loc loc) {
  return reduce(Op::reduce_sum, x, axes, keepdims, loc);
}
Value reduce_mean(Value x, Axes axes, bool keepdims, Loc loc) {
  return reduce(Op::reduce_mean, x, axes, keepdims, loc);
}
Value reduce_max(Value x, Axes axes, bool keepdims, Loc loc) {
  return reduce(Op::reduce_max, x, axes, keepdims, loc);
}
Value argmax(Value x, int64_t axis, bool keepdims, Loc loc) {
  return make(Op::argmax, {x}, {{"axis", axis}, {"keepdims", keepdims}}, loc);
}

Value layer_norm(Value x, Value gamma, Value beta, double epsilon, Loc loc) {
  return make(Op::layer_norm, {x, gamma, beta}, {{"epsilon", epsilon}}, loc);
}
Value layer_norm_stats(Value x, double epsilon, Loc loc) {
  return make(Op::layer_norm_stats, {x}, {{"epsilon", epsilon}}, loc);
}
Value layer_norm_backprop(Value x, Value gamma, Value dy, Value stats, Loc loc) {
  return make(Op::layer_norm_backprop, {x, gamma, dy, stats}, {}, loc);
}

Value matmul(Value a, Value b, MatmulOptions options, Loc loc) {
  return make(Op::matmul, {a, b},
              {{"transpose_a", options.transpose_a}, {"transpose_b", options.transpose_b}}, loc);
}

Value transpose(Value x, std::vector<int64_t> perm, Loc loc) {
  if (perm.empty())
    for (int i = x.rank() - 1; i >= 0; --i)
      perm.push_back(i);
  return make(Op::transpose, {x}, {{"perm", std::move(perm)}}, loc);
}

Value reshape(Value x, Shape shape, Loc loc) {
  // Resolve a single -1 from the element count; the IR only holds complete shapes.
  int64_t known = 1;
  int unknown = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] != -1) {
      known *= std::max<int64_t>(shape[i], 1);
      continue;
    }
    if (unknown >= 0)
      throw Error(loc.where, fmt::format("reshape({}): shape {} has more than one -1",
                                         x.type().str(), shape_str(shape)));
    unknown = static_cast<int>(i);
  }
  if (unknown >= 0) {
    if (known == 0 || x.type().num_elements() % known != 0)
      throw Error(loc.where,
                  fmt::format("reshape({}): cannot fill the -1 of shape {}: {} elements do not "
                              "divide evenly",
                              x.type().str(), shape_str(shape), x.type().num_elements()));
    shape[unknown] = x.type().num_elements() / known;
  }
  return make(Op::reshape, {x}, {{"shape", std::move(shape)}}, loc);
}

Value broadcast_to(Value x, Shape shape, Loc loc) {
  return make(Op::broadcast_to, {x}, {{"shape", std::move(shape)}}, loc);
}

Value concat(const std::vector<Value>& xs, int64_t axis, Loc loc) {
  if (xs.empty()) throw Error(loc.where, "concat: needs one or more operands");
  return make(Op::concat, xs, {{"axis", axis}}, loc);
}

Value slice(Value x, std::vector<int64_t> begin, std::vector<int64_t> end, Loc loc) {
  return make(Op::slice, {x}, {{"begin", std::move(begin)}, {"end", std::move(end)}}, loc);
}

std::vector<Value> split(Value x, int64_t axis, const std::vector<int64_t>& sizes, Loc loc) {
  const int64_t rank = x.rank();
  if (axis < -rank || axis >= rank)
    throw Error(loc.where,
                fmt::format("split: axis {} is out of range for {}", axis, x.type().str()));
  if (axis < 0) axis += rank;
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0)
      throw Error(loc.where, fmt::format("split: sizes [{}] must be >= 0", fmt::join(sizes, ", ")));
    total += s;
  }
  if (total != x.shape()[axis])
    throw Error(loc.where,
                fmt::format("split: sizes [{}] add up to {}, but dimension {} of {} is "
                            "{}",
                            fmt::join(sizes, ", "), total, axis, x.type().str(), x.shape()[axis]));
  std::vector<Value> pieces;
  const Shape shape = x.shape(); // (a copy: begin and end of one vector)
  std::vector<int64_t> begin(rank, 0), end(shape.begin(), shape.end());
  for (int64_t s : sizes) {
    end[axis] = begin[axis] + s;
    pieces.push_back(slice(x, begin, end, loc));
    begin[axis] = end[axis];
  }
  return pieces;
}

std::vector<Value> chunk(Value x, int64_t n, int64_t axis, Loc loc) {
  const int64_t rank = x.rank();
  int64_t a = axis < 0 ? axis + rank : axis;
  if (n <= 0 || a < 0 || a >= rank || x.shape()[a] % n != 0)
    throw Error(loc.where, fmt::format("chunk: {} pieces along axis {} of {}: n must be positive "
                                       "and divide the axis's size",
                                       n, axis, x.type().str()));
  return split(x, a, std::vector<int64_t>(n, x.shape()[a] / n), loc);
}

Value causal_mask(Graph& g, int64_t tq, int64_t tk, DType dtype, Loc loc) {
  if (tq <= 0 || tk <= 0 || !is_float(dtype))
    throw Error(loc.where, fmt::format("causal_mask: needs positive sizes and a float dtype, got "
                                       "[{}, {}] {}",
                                       tq, tk, dtype_name(dtype)));
  Tensor mask({dtype, {tq, tk}});
  for (int64_t i = 0; i < tq; ++i)
    for (int64_t j = 0; j < tk; ++j) {
      double m = j <= i + tk - tq ? 0.0 : -std::numeric_limits<double>::infinity();
      if (dtype == DType::f32)
        mask.data<float>()[i * tk + j] = static_cast<float>(m);
      else
        mask.data<double>()[i * tk + j] = m;
    }
  return constant(g, std::move(mask), loc);
}

Value softmax(Value x, int64_t axis, Loc loc) {
  return make(Op::softmax, {x}, {{"axis", axis}}, loc);
}
Value log_softmax(Value x, int64_t axis, Loc loc) {
  return make(Op::log_softmax, {x}, {{"axis", axis}}, loc);
}
Value softmax_cross_entropy(Value logits, Value labels, Loc loc) {
  return make(Op::softmax_cross_entropy, {logits, labels}, {}, loc);
}
Value one_hot(Value indices, int64_t depth, DType dtype, Loc loc) {
  return make(Op::one_hot, {indices}, {{"depth", depth}, {"dtype", dtype}}, loc);
}
Value gather(Value table, Value indices, Loc loc) {
  return make(Op::gather, {table, indices}, {}, loc);
}

Value scatter_add(Value updates, Value indices, int64_t rows, Loc loc) {
  return make(Op::scatter_add, {updates, indices}, {{"rows", rows}}, loc);
}

namespace {

Attrs window_attrs(const std::vector<int64_t>& strides, const Padding& padding) {
  return {{"strides", strides}, {"padding", padding.mode}, {"pads", padding.pads}};
}

Attrs conv_attrs(const Conv2dOptions& o) {
  Attrs a = window_attrs(o.strides, o.padding);
  a.set("dilations", o.dilations);
  a.set("groups", o.groups);
  return a;
}

Attrs pool_attrs(const Pool2dOptions& o) {
  Attrs a = window_attrs(o.strides, o.padding);
  a.set("window", o.window);
  return a;
}

} // namespace

Value conv2d(Value x, Value kernel, const Conv2dOptions& options, Loc loc) {
  return make(Op::conv2d, {x, kernel}, conv_attrs(options), loc);
}
Value conv2d_backprop_input(Value dy, Value kernel, Shape input_shape, const Conv2dOptions& options,
                            Loc loc) {
  Attrs a = conv_attrs(options);
  a.set("input_shape", std::move(input_shape));
  return make(Op::conv2d_backprop_input, {dy, kernel}, a, loc);
}
Value conv2d_backprop_kernel(Value x, Value dy, Shape kernel_shape, const Conv2dOptions& options,
                             Loc loc) {
  Attrs a = conv_attrs(options);
  a.set("kernel_shape", std::move(kernel_shape));
  return make(Op::conv2d_backprop_kernel, {x, dy}, a, loc);
}
Value max_pool2d(Value x, const Pool2dOptions& options, Loc loc) {
  return make(Op::max_pool2d, {x}, pool_attrs(options), loc);
}
Value max_pool2d_backprop(Value x, Value dy, const Pool2dOptions& options, Loc loc) {
  return make(Op::max_pool2d_backprop, {x, dy}, pool_attrs(options), loc);
}
Value avg_pool2d(Value x, const Pool2dOptions& options, Loc loc) {
  return make(Op::avg_pool2d, {x}, pool_attrs(options), loc);
}
Value avg_pool2d_backprop(Value dy, Shape input_shape, const Pool2dOptions& options, Loc loc) {
  Attrs a = pool_attrs(options);
  a.set("input_shape", std::move(input_shape));
  return make(Op::avg_pool2d_backprop, {dy}, a, loc);
}
Value pad(Value x, std::vector<int64_t> pads, double value, Loc loc) {
  return make(Op::pad, {x}, {{"pads", std::move(pads)}, {"value", value}}, loc);
}

// ---- attention: the mask operand is a scalar 0 when the options have none ------------------
namespace {
Attrs attention_attrs(const AttentionOptions& o) {
  return {{"causal", o.causal}, {"scale", o.scale}};
}
Value attention_mask(Value q, const AttentionOptions& o, const Loc& loc) {
  return o.mask.is_null() ? scalar_like(q, 0.0, loc) : o.mask;
}
} // namespace

Value attention(Value q, Value k, Value v, const AttentionOptions& options, Loc loc) {
  Value mask = attention_mask(q, options, loc);
  return make(Op::attention, {q, k, v, mask}, attention_attrs(options), loc);
}
Value attention_lse(Value q, Value k, const AttentionOptions& options, Loc loc) {
  Value mask = attention_mask(q, options, loc);
  return make(Op::attention_lse, {q, k, mask}, attention_attrs(options), loc);
}
Value attention_backprop(Value q, Value k, Value v, Value y, Value dy, Value lse,
                         const AttentionOptions& options, Loc loc) {
  Value mask = attention_mask(q, options, loc);
  return make(Op::attention_backprop, {q, k, v, mask, y, dy, lse}, attention_attrs(options), loc);
}

Value random_uniform(Value counter, const TensorType& type, int64_t seed, Loc loc) {
  return make(Op::random_uniform, {counter},
              {{"shape", type.shape}, {"seed", seed}, {"dtype", type.dtype}}, loc);
}

Value assign(Value variable, Value value, Loc loc) {
  return make(Op::assign, {variable, value}, {}, loc);
}

Value operator+(Value a, At b) { return make(Op::add, {a, b.value}, {}, b.loc); }
Value operator-(Value a, At b) { return make(Op::sub, {a, b.value}, {}, b.loc); }
Value operator*(Value a, At b) { return make(Op::mul, {a, b.value}, {}, b.loc); }
Value operator/(Value a, At b) { return make(Op::div, {a, b.value}, {}, b.loc); }
Value operator-(At x) { return make(Op::neg, {x.value}, {}, x.loc); }
Value operator+(Value a, Number b) {
  return make(Op::add, {a, scalar_like(a, b.value, b.loc)}, {}, b.loc);
}
Value operator-(Value a, Number b) {
  return make(Op::sub, {a, scalar_like(a, b.value, b.loc)}, {}, b.loc);
}
Value operator*(Value a, Number b) {
  return make(Op::mul, {a, scalar_like(a, b.value, b.loc)}, {}, b.loc);
}
Value operator/(Value a, Number b) {
  return make(Op::div, {a, scalar_like(a, b.value, b.loc)}, {}, b.loc);
}
Value operator*(Number a, Value b) {
  return make(Op::mul, {scalar_like(b, a.value, a.loc), b}, {}, a.loc);
}

Value operator+(Number a, Value b) {
  return make(Op::add, {scalar_like(b, a.value, a.loc), b}, {}, a.loc);
}
Value operator-(Number a, Value b) {
  return make(Op::sub, {scalar_like(b, a.value, a.loc), b}, {}, a.loc);
}

} // namespace sj
