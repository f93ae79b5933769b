// Neural-network ops: softmax, log_softmax, softmax cross-entropy, one_hot, gather, scatter_add.
#include "graph/gradient.h"
#include "graph/limits.h"
#include "graph/ops/kernel_util.h"
#include "graph/ops/shape_util.h"

#include <cmath>
#include <fmt/format.h>

namespace sj {
using namespace ops;

namespace {

TensorType infer_softmax(const OpCall& c) {
  require_float(c, 0);
  if (c.types[0].rank() == 0) c.fail("needs rank 1 or more: there is no axis to normalize over");
  normalize_axis(c, c.attrs.integer("axis"), c.types[0].rank(), "axis");
  return c.types[0];
}

TensorType infer_softmax_cross_entropy(const OpCall& c) {
  require_float(c, 0);
  require_int(c, 1);
  const Shape& logits = c.types[0].shape;
  const Shape& labels = c.types[1].shape;
  if (logits.empty() || logits.back() == 0)
    c.fail("logits need a last dimension of one or more classes, e.g. [batch, classes]");
  Shape expected(logits.begin(), logits.end() - 1);
  if (labels != expected)
    c.fail(fmt::format("labels must hold one class index per row of logits: expected shape {}, "
                       "got {} (for one-hot labels, use log_softmax and a product)",
                       shape_str(expected), shape_str(labels)));
  if (num_elements(labels) == 0) c.fail("there are no rows to average the loss over");
  return {c.types[0].dtype, {}};
}

TensorType infer_one_hot(const OpCall& c) {
  require_int(c, 0);
  int64_t depth = c.attrs.integer("depth");
  if (depth < 1) c.fail(fmt::format("depth = {} must be 1 or more", depth));
  Shape out = c.types[0].shape;
  out.push_back(depth);
  return {c.attrs.dtype("dtype"), out};
}

TensorType infer_scatter_add(const OpCall& c) {
  require_numeric(c, 0);
  require_int(c, 1);
  const Shape& updates = c.types[0].shape;
  const Shape& indices = c.types[1].shape;
  int64_t rows = c.attrs.integer("rows");
  if (rows < 0) c.fail(fmt::format("rows = {} must be 0 or more", rows));
  if (updates.size() < indices.size() ||
      !std::equal(indices.begin(), indices.end(), updates.begin()))
    c.fail(fmt::format("updates must hold one row per index: their shape must start with the "
                       "indices' shape {}, got {}",
                       shape_str(indices), shape_str(updates)));
  Shape out{rows};
  out.insert(out.end(), updates.begin() + int64_t(indices.size()), updates.end());
  return {c.types[0].dtype, out};
}

TensorType infer_gather(const OpCall& c) {
  require_int(c, 1);
  const TensorType& table = c.types[0];
  if (table.rank() == 0) c.fail("operand 'table' must have rank 1 or more (rows to gather)");
  Shape out = c.types[1].shape;
  out.insert(out.end(), table.shape.begin() + 1, table.shape.end());
  return {table.dtype, out};
}

// ---- interpreter kernels ---------------------------------------------------------------

// The max of one row (NaN if any element is NaN) and the sum of exp(x - max) over it, in
// double: subtracting the max keeps every exp in [0, 1], so large logits cannot overflow.
// Results are formed from the exact shifted values x - max, never from max + log(sum), which
// would round away the low bits of large logits.
struct RowStats {
  double max;
  double sum_exp;
};

template <typename T>
RowStats row_stats(const T* row, int64_t len, int64_t stride) {
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t k = 0; k < len; ++k)
    max = maximum_of(max, double(row[k * stride]));
  Sum sum;
  for (int64_t k = 0; k < len; ++k)
    sum.add(std::exp(double(row[k * stride]) - max));
  return {max, sum.value()};
}

// Applies f(x, stats) to every element of each row along the node's `axis`.
template <typename F>
Tensor map_rows(const EvalCall& c, F f) {
  const Tensor& x = *c.args[0];
  int axis = axis_index(c.attrs().integer("axis"), x.rank());
  int64_t len = x.shape()[axis];
  Tensor out(c.type());
  visit_float(x.dtype(), [&]<typename T>() {
    for_each_row(x.shape(), axis, [&](int64_t first, int64_t stride) {
      const T* row = x.data<T>() + first;
      RowStats stats = row_stats(row, len, stride);
      for (int64_t k = 0; k < len; ++k)
        out.data<T>()[first + k * stride] = static_cast<T>(f(double(row[k * stride]), stats));
    });
  });
  return out;
}

Tensor eval_softmax(const EvalCall& c) {
  return map_rows(c, [](double x, const RowStats& s) { return std::exp(x - s.max) / s.sum_exp; });
}

Tensor eval_log_softmax(const EvalCall& c) {
  return map_rows(c, [](double x, const RowStats& s) { return (x - s.max) - std::log(s.sum_exp); });
}

std::string explain_label(const Graph& g, const Node& n, int64_t label, int64_t position) {
  const Shape& labels = g.type(n.operands[1]).shape;
  int64_t classes = g.type(n.operands[0]).shape.back();
  return fmt::format("label {} at position {} of the labels is out of range: the logits have {} "
                     "classes, so labels must be in [0, {})",
                     label, position_str(labels, position), classes, classes);
}

// An index of gather or scatter_add (operand 1) outside [0, rows).
std::string explain_index(int64_t index, const Shape& indices, int64_t position, int64_t rows) {
  return fmt::format("index {} at position {} of the indices is out of range for a table of {} "
                     "rows (valid: [0, {}))",
                     index, position_str(indices, position), rows, rows);
}
std::string explain_gather(const Graph& g, const Node& n, int64_t index, int64_t position) {
  return explain_index(index, g.type(n.operands[1]).shape, position,
                       g.type(n.operands[0]).shape[0]);
}
// One addition per element of `updates` (the default would count the whole zero table).
int64_t flops_scatter_add(const Graph& g, const Node& n) {
  return g.type(n.operands[0]).num_elements();
}

std::string explain_scatter_add(const Graph& g, const Node& n, int64_t index, int64_t position) {
  return explain_index(index, g.type(n.operands[1]).shape, position, n.type.shape[0]);
}

Tensor eval_softmax_cross_entropy(const EvalCall& c) {
  const Tensor& logits = *c.args[0];
  const Tensor& labels = *c.args[1];
  int64_t classes = logits.shape().back();
  return visit_float(logits.dtype(), [&]<typename T>() {
    Sum loss;
    for (int64_t r = 0; r < labels.num_elements(); ++r) {
      int64_t label = labels.as_int64(r);
      if (label < 0 || label >= classes) c.fail_at_run_time(label, r);
      const T* row = logits.data<T>() + r * classes;
      RowStats stats = row_stats(row, classes, 1);
      loss.add(std::log(stats.sum_exp) - (double(row[label]) - stats.max));
    }
    return Tensor::scalar(static_cast<T>(loss.value() / double(labels.num_elements())));
  });
}

Tensor eval_one_hot(const EvalCall& c) {
  const Tensor& indices = *c.args[0];
  int64_t depth = c.attrs().integer("depth");
  Tensor out(c.type()); // zero-filled: an index out of range leaves its row zero
  visit_dtype(out.dtype(), [&]<typename T>() {
    for (int64_t i = 0; i < indices.num_elements(); ++i) {
      int64_t index = indices.as_int64(i);
      if (index >= 0 && index < depth) out.data<T>()[i * depth + index] = T(1);
    }
  });
  return out;
}

// Every index must be in [0, rows), even when the rows are empty and nothing is read.
void check_indices(const EvalCall& c, const Tensor& indices, int64_t rows) {
  for (int64_t i = 0; i < indices.num_elements(); ++i) {
    int64_t index = indices.as_int64(i);
    if (index < 0 || index >= rows) c.fail_at_run_time(index, i);
  }
}

// The elements of one row: the product of the dimensions after the first.
int64_t row_size(const Shape& shape) { return num_elements(Shape(shape.begin() + 1, shape.end())); }

Tensor eval_gather(const EvalCall& c) {
  const Tensor& table = *c.args[0];
  const Tensor& indices = *c.args[1];
  check_indices(c, indices, table.shape()[0]);
  int64_t row = row_size(table.shape());
  Tensor out(c.type());
  for (int64_t i = 0; i < indices.num_elements(); ++i)
    for (int64_t k = 0; k < row; ++k)
      copy_element(out, i * row + k, table, indices.as_int64(i) * row + k);
  return out;
}

// Row i of the updates is added to row indices[i] of a zero table, in index order; floats sum
// in double with compensation (kernel_util.h) and round once, integers wrap.
Tensor eval_scatter_add(const EvalCall& c) {
  const Tensor& updates = *c.args[0];
  const Tensor& indices = *c.args[1];
  check_indices(c, indices, c.type().shape[0]);
  int64_t row = row_size(c.type().shape);
  Tensor out(c.type());
  visit_numeric(out.dtype(), [&]<typename T>() {
    std::vector<std::conditional_t<std::is_floating_point_v<T>, Sum, Arith<T>>> acc(
        size_t(out.num_elements()));
    for (int64_t i = 0; i < indices.num_elements(); ++i)
      for (int64_t k = 0; k < row; ++k) {
        auto& a = acc[size_t(indices.as_int64(i) * row + k)];
        if constexpr (std::is_floating_point_v<T>)
          a.add(double(updates.data<T>()[i * row + k]));
        else
          a += Arith<T>(updates.data<T>()[i * row + k]);
      }
    for (size_t j = 0; j < acc.size(); ++j) {
      if constexpr (std::is_floating_point_v<T>)
        out.data<T>()[j] = static_cast<T>(acc[j].value());
      else
        out.data<T>()[j] = static_cast<T>(acc[j]);
    }
  });
  return out;
}

// ---- gradient rules --------------------------------------------------------------------
// Node-building operands are named first (see graph/ops/elementwise.cpp): one graph for every
// compiler.

void grad_softmax(GradCall& c) {
  // dx = y (g - sum(g y)) along the axis.
  int64_t axis = c.attrs().integer("axis");
  c.set(0, c.y * (c.g - reduce_sum(c.g * c.y, {axis}, /*keepdims=*/true)));
}
void grad_log_softmax(GradCall& c) {
  // dx = g - softmax(x) sum(g) along the axis; softmax(x) = exp(y).
  int64_t axis = c.attrs().integer("axis");
  Value p = exp(c.y);
  c.set(0, c.g - p * reduce_sum(c.g, {axis}, /*keepdims=*/true));
}
void grad_softmax_cross_entropy(GradCall& c) {
  // The fused, stable form: d loss / d logits = (softmax(logits) - one_hot(labels)) / rows.
  Value logits = c.x[0];
  int64_t classes = logits.shape().back();
  double rows = double(logits.type().num_elements() / std::max<int64_t>(classes, 1));
  Value target = one_hot(c.x[1], classes, logits.dtype());
  Value delta = softmax(logits) - target;
  c.set(0, delta * (c.g / rows));
}
void grad_gather(GradCall& c) {
  // g's rows added into a zero table at their indices (repeated indices accumulate): O(ids x
  // row) work, never a one-hot product over the table's rows.
  c.set(0, scatter_add(c.g, c.x[1], c.x[0].shape()[0]));
}
void grad_scatter_add(GradCall& c) {
  // Each update went to one row: its gradient is that row of g.
  c.set(0, gather(c.g, c.x[1]));
}

} // namespace

extern const OpDef softmax_def = {.op = Op::softmax,
                                  .name = "softmax",
                                  .num_operands = 1,
                                  .operand_names = {"x"},
                                  .attrs = {{"axis", AttrKind::integer, int64_t{-1}}},
                                  .infer = infer_softmax,
                                  .eval = eval_softmax,
                                  .grad = grad_softmax,
                                  .summary = "exp(x - max) / sum(exp(x - max)) along `axis`"};

extern const OpDef log_softmax_def = {.op = Op::log_softmax,
                                      .name = "log_softmax",
                                      .num_operands = 1,
                                      .operand_names = {"x"},
                                      .attrs = {{"axis", AttrKind::integer, int64_t{-1}}},
                                      .infer = infer_softmax,
                                      .eval = eval_log_softmax,
                                      .grad = grad_log_softmax,
                                      .summary = "x - max - log(sum(exp(x - max))) along `axis`"};

extern const OpDef softmax_cross_entropy_def = {
    .op = Op::softmax_cross_entropy,
    .name = "softmax_cross_entropy",
    .num_operands = 2,
    .operand_names = {"logits", "labels"},
    .attrs = {},
    .infer = infer_softmax_cross_entropy,
    .eval = eval_softmax_cross_entropy,
    .grad = grad_softmax_cross_entropy,
    .summary = "mean over rows of -log_softmax(logits)[label]; labels out of [0, classes) are "
               "an error at run time",
    .explain = explain_label};

extern const OpDef one_hot_def = {
    .op = Op::one_hot,
    .name = "one_hot",
    .num_operands = 1,
    .operand_names = {"indices"},
    .attrs = {{"depth", AttrKind::integer, std::nullopt}, {"dtype", AttrKind::dtype, DType::f32}},
    .infer = infer_one_hot,
    .eval = eval_one_hot,
    .fusion = Fusion::index_map,
    .summary = "[..., depth] with 1 at each index; an index out of [0, depth) gives a zero row"};

extern const OpDef gather_def = {
    .op = Op::gather,
    .name = "gather",
    .num_operands = 2,
    .operand_names = {"table", "indices"},
    .attrs = {},
    .infer = infer_gather,
    .eval = eval_gather,
    .grad = grad_gather,
    .fusion = Fusion::index_map,
    .summary = "rows of `table` by index (embedding lookup); out-of-range is a run-time error",
    .explain = explain_gather};

extern const OpDef scatter_add_def = {
    .op = Op::scatter_add,
    .name = "scatter_add",
    .num_operands = 2,
    .operand_names = {"updates", "indices"},
    .attrs = {{"rows", AttrKind::integer, std::nullopt}},
    .infer = infer_scatter_add,
    .eval = eval_scatter_add,
    .grad = grad_scatter_add,
    .summary = "a zero [rows, ...] table with row i of `updates` added at row indices[i] (the "
               "gradient of gather); out-of-range is a run-time error",
    .explain = explain_scatter_add,
    .flops = flops_scatter_add};

} // namespace sj
