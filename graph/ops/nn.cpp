// Neural-network ops: softmax, log_softmax, softmax cross-entropy, one_hot, gather.
#include "graph/ops/shape_util.h"

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

TensorType infer_gather(const OpCall& c) {
  require_int(c, 1);
  const TensorType& table = c.types[0];
  if (table.rank() == 0) c.fail("operand 'table' must have rank 1 or more (rows to gather)");
  Shape out = c.types[1].shape;
  out.insert(out.end(), table.shape.begin() + 1, table.shape.end());
  return {table.dtype, out};
}

} // namespace

extern const OpDef softmax_def = {.op = Op::softmax,
                                  .name = "softmax",
                                  .num_operands = 1,
                                  .operand_names = {"x"},
                                  .attrs = {{"axis", AttrKind::integer, int64_t{-1}}},
                                  .infer = infer_softmax,
                                  .eval = nullptr,
                                  .summary = "exp(x - max) / sum(exp(x - max)) along `axis`"};

extern const OpDef log_softmax_def = {.op = Op::log_softmax,
                                      .name = "log_softmax",
                                      .num_operands = 1,
                                      .operand_names = {"x"},
                                      .attrs = {{"axis", AttrKind::integer, int64_t{-1}}},
                                      .infer = infer_softmax,
                                      .eval = nullptr,
                                      .summary = "x - max - log(sum(exp(x - max))) along `axis`"};

extern const OpDef softmax_cross_entropy_def = {
    .op = Op::softmax_cross_entropy,
    .name = "softmax_cross_entropy",
    .num_operands = 2,
    .operand_names = {"logits", "labels"},
    .attrs = {},
    .infer = infer_softmax_cross_entropy,
    .eval = nullptr,
    .summary = "mean over rows of -log_softmax(logits)[label]; labels out of [0, classes) are "
               "an error at run time"};

extern const OpDef one_hot_def = {
    .op = Op::one_hot,
    .name = "one_hot",
    .num_operands = 1,
    .operand_names = {"indices"},
    .attrs = {{"depth", AttrKind::integer, std::nullopt}, {"dtype", AttrKind::dtype, DType::f32}},
    .infer = infer_one_hot,
    .eval = nullptr,
    .summary = "[..., depth] with 1 at each index; an index out of [0, depth) gives a zero row"};

extern const OpDef gather_def = {
    .op = Op::gather,
    .name = "gather",
    .num_operands = 2,
    .operand_names = {"table", "indices"},
    .attrs = {},
    .infer = infer_gather,
    .eval = nullptr,
    .summary = "rows of `table` by index (embedding lookup); out-of-range is a run-time error"};

} // namespace sj
