// Layout ops: move data without arithmetic (transpose, reshape, broadcast_to, concat, slice, pad).
#include "graph/gradient.h"
#include "graph/limits.h"
#include "graph/ops/kernel_util.h"
#include "graph/ops/shape_util.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {
using namespace ops;

namespace {

TensorType infer_transpose(const OpCall& c) {
  const TensorType& x = c.types[0];
  const auto& perm = c.attrs.ints("perm");
  require_length(c, "perm", perm.size(), x.rank());
  std::vector<bool> seen(x.rank(), false);
  Shape out;
  for (int64_t p : perm) {
    if (p < 0 || p >= x.rank() || seen[p])
      c.fail(fmt::format("perm = [{}] is not a permutation of 0..{}", fmt::join(perm, ", "),
                         x.rank() - 1));
    seen[p] = true;
    out.push_back(x.shape[p]);
  }
  return {x.dtype, out};
}

TensorType infer_reshape(const OpCall& c) {
  const TensorType& x = c.types[0];
  const Shape& shape = c.attrs.ints("shape");
  auto n = checked_num_elements(shape);
  if (!n)
    c.fail(
        fmt::format("shape = {} has a negative dimension or too many elements", shape_str(shape)));
  if (*n != x.num_elements())
    c.fail(fmt::format("cannot reshape {} elements into shape {} ({} elements)", x.num_elements(),
                       shape_str(shape), *n));
  return {x.dtype, shape};
}

TensorType infer_broadcast_to(const OpCall& c) {
  const TensorType& x = c.types[0];
  const Shape& shape = c.attrs.ints("shape");
  if (!checked_num_elements(shape))
    c.fail(
        fmt::format("shape = {} has a negative dimension or too many elements", shape_str(shape)));
  if (!broadcasts_to(x.shape, shape))
    c.fail(fmt::format("{} does not broadcast to {}: aligned from the right, each dimension "
                       "must be 1 or equal to the target's",
                       shape_str(x.shape), shape_str(shape)));
  return {x.dtype, shape};
}

TensorType infer_concat(const OpCall& c) {
  const TensorType& first = c.types[0];
  if (first.rank() == 0) c.fail("cannot concatenate scalars; reshape them to [1] first");
  int axis = normalize_axis(c, c.attrs.integer("axis"), first.rank(), "axis");
  Shape out = first.shape;
  out[axis] = 0;
  for (size_t i = 0; i < c.types.size(); ++i) {
    const TensorType& t = c.types[i];
    require_same_dtype(c, 0, i);
    bool ok = t.rank() == first.rank();
    for (int d = 0; ok && d < t.rank(); ++d)
      ok = d == axis || t.shape[d] == first.shape[d];
    if (!ok)
      c.fail(fmt::format("operand {} has shape {}, which differs from the first operand's {} "
                         "outside axis {}",
                         i, shape_str(t.shape), shape_str(first.shape), axis));
    auto sum = checked_add(out[axis], t.shape[axis]);
    if (!sum) c.fail(fmt::format("the operands' dimensions {} add up to more than 2^40", axis));
    out[axis] = *sum;
  }
  return {first.dtype, out};
}

TensorType infer_slice(const OpCall& c) {
  const TensorType& x = c.types[0];
  const auto& begin = c.attrs.ints("begin");
  const auto& end = c.attrs.ints("end");
  require_length(c, "begin", begin.size(), x.rank());
  require_length(c, "end", end.size(), x.rank());
  Shape out;
  for (int d = 0; d < x.rank(); ++d) {
    if (begin[d] < 0 || begin[d] > end[d] || end[d] > x.shape[d])
      c.fail(fmt::format("dimension {}: [begin, end) = [{}, {}) is not within [0, {}] with begin "
                         "<= end",
                         d, begin[d], end[d], x.shape[d]));
    out.push_back(end[d] - begin[d]);
  }
  return {x.dtype, out};
}

TensorType infer_pad(const OpCall& c) {
  const TensorType& x = c.types[0];
  const auto& pads = c.attrs.ints("pads");
  if (pads.size() != size_t(2 * x.rank()))
    c.fail(fmt::format("pads = [{}] must have 2 entries per dimension ([before, after] for each "
                       "of the {}), {} in all",
                       fmt::join(pads, ", "), x.rank(), 2 * x.rank()));
  Shape out = x.shape;
  for (int d = 0; d < x.rank(); ++d) {
    if (pads[2 * d] < 0 || pads[2 * d + 1] < 0)
      c.fail(fmt::format("pads = [{}] must be 0 or more (slice to remove elements)",
                         fmt::join(pads, ", ")));
    auto size = checked_add(out[d], pads[2 * d]);
    if (size) size = checked_add(*size, pads[2 * d + 1]);
    if (!size) c.fail(fmt::format("dimension {} padded is more than 2^40", d));
    out[d] = *size;
  }
  return {x.dtype, out};
}

// ---- interpreter kernels ---------------------------------------------------------------
// Every layout op copies elements through an IndexMap (kernel_util.h): exact for any dtype.

Tensor eval_transpose(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  // Result dimension d walks operand dimension perm[d].
  std::vector<int64_t> x_strides = strides_of(x.shape()), strides;
  for (int64_t p : c.attrs().ints("perm"))
    strides.push_back(x_strides[p]);
  return copy_elements(x, c.type(), IndexMap(c.type().shape, strides));
}

Tensor eval_reshape(const EvalCall& c) {
  // Row-major order is unchanged: the same elements under the new shape.
  const Tensor& x = *c.args[0];
  return copy_elements(x, c.type(), IndexMap({x.num_elements()}, {1}));
}

Tensor eval_broadcast_to(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  return copy_elements(x, c.type(), broadcast_map(x.shape(), c.type().shape));
}

Tensor eval_slice(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  std::vector<int64_t> strides = strides_of(x.shape());
  const auto& begin = c.attrs().ints("begin");
  int64_t base = 0;
  for (int d = 0; d < x.rank(); ++d)
    base += begin[d] * strides[d];
  return copy_elements(x, c.type(), IndexMap(c.type().shape, strides, base));
}

Tensor eval_concat(const EvalCall& c) {
  Tensor out(c.type());
  int axis = axis_index(c.attrs().integer("axis"), out.rank());
  std::vector<int64_t> out_strides = strides_of(out.shape());
  // Each operand lands after the ones before it along the axis.
  int64_t offset = 0;
  for (const Tensor* x : c.args) {
    IndexMap to_out(x->shape(), out_strides, offset * out_strides[axis]);
    for (int64_t i = 0; i < x->num_elements(); ++i)
      copy_element(out, to_out(i), *x, i);
    offset += x->shape()[axis];
  }
  return out;
}

Tensor eval_pad(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  const auto& pads = c.attrs().ints("pads");
  Tensor out(c.type());
  visit_dtype(out.dtype(), [&]<typename T>() {
    std::fill_n(out.data<T>(), out.num_elements(), convert<T>(c.attrs().real("value")));
  });
  // x's element i lands at its position shifted by the pads before it.
  std::vector<int64_t> out_strides = strides_of(out.shape());
  int64_t base = 0;
  for (int d = 0; d < x.rank(); ++d)
    base += pads[2 * d] * out_strides[d];
  IndexMap to_out(x.shape(), out_strides, base);
  for (int64_t i = 0; i < x.num_elements(); ++i)
    copy_element(out, to_out(i), x, i);
  return out;
}

// ---- gradient rules: each op's exact adjoint ---------------------------------------------

void grad_transpose(GradCall& c) {
  const auto& perm = c.attrs().ints("perm");
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[perm[i]] = int64_t(i);
  c.set(0, transpose(c.g, inverse));
}
void grad_reshape(GradCall& c) { c.set(0, reshape(c.g, c.x[0].shape())); }
void grad_broadcast_to(GradCall& c) { c.set(0, unbroadcast(c.g, c.x[0].shape())); }

void grad_concat(GradCall& c) {
  int rank = c.y.rank();
  int64_t axis = c.attrs().integer("axis");
  if (axis < 0) axis += rank;
  std::vector<int64_t> begin(rank, 0), end = c.y.shape();
  for (size_t i = 0; i < c.x.size(); ++i) {
    end[axis] = begin[axis] + c.x[i].shape()[axis];
    if (c.wants(i)) c.set(i, slice(c.g, begin, end));
    begin[axis] = end[axis];
  }
}

void grad_slice(GradCall& c) {
  // Pad g with zeros back to x's shape, one dimension at a time (concat with zero blocks).
  const auto& begin = c.attrs().ints("begin");
  const auto& end = c.attrs().ints("end");
  Value padded = c.g;
  for (int d = 0; d < c.x[0].rank(); ++d) {
    int64_t before = begin[d], after = c.x[0].shape()[d] - end[d];
    if (before == 0 && after == 0) continue;
    std::vector<Value> parts;
    auto zeros = [&](int64_t n) {
      Shape s = padded.shape();
      s[d] = n;
      return fill(c.graph, {padded.dtype(), s}, 0.0);
    };
    if (before > 0) parts.push_back(zeros(before));
    parts.push_back(padded);
    if (after > 0) parts.push_back(zeros(after));
    padded = concat(parts, d);
  }
  c.set(0, padded);
}

void grad_pad(GradCall& c) {
  const auto& pads = c.attrs().ints("pads");
  std::vector<int64_t> begin, end;
  for (int d = 0; d < c.x[0].rank(); ++d) {
    begin.push_back(pads[2 * d]);
    end.push_back(pads[2 * d] + c.x[0].shape()[d]);
  }
  c.set(0, slice(c.g, begin, end));
}

} // namespace

extern const OpDef transpose_def = unary_def(
    Op::transpose, "transpose", infer_transpose, eval_transpose, grad_transpose, Fusion::index_map,
    "result dimension i is operand dimension perm[i]", {{"perm", AttrKind::ints, std::nullopt}});
extern const OpDef reshape_def = unary_def(
    Op::reshape, "reshape", infer_reshape, eval_reshape, grad_reshape, Fusion::index_map,
    "same elements in row-major order, new shape", {{"shape", AttrKind::ints, std::nullopt}});
extern const OpDef broadcast_to_def =
    unary_def(Op::broadcast_to, "broadcast_to", infer_broadcast_to, eval_broadcast_to,
              grad_broadcast_to, Fusion::index_map, "repeat size-1 and missing leading dimensions",
              {{"shape", AttrKind::ints, std::nullopt}});
extern const OpDef slice_def =
    unary_def(Op::slice, "slice", infer_slice, eval_slice, grad_slice, Fusion::index_map,
              "the box [begin, end) of the operand, one entry per dimension",
              {{"begin", AttrKind::ints, std::nullopt}, {"end", AttrKind::ints, std::nullopt}});
extern const OpDef pad_def =
    unary_def(Op::pad, "pad", infer_pad, eval_pad, grad_pad, Fusion::index_map,
              "`value` around the operand: pads = [before, after] per dimension (any rank)",
              {{"pads", AttrKind::ints, std::nullopt}, {"value", AttrKind::real, 0.0}});
extern const OpDef concat_def = {.op = Op::concat,
                                 .name = "concat",
                                 .num_operands = kVariadic,
                                 .operand_names = {"xs"},
                                 .attrs = {{"axis", AttrKind::integer, std::nullopt}},
                                 .infer = infer_concat,
                                 .eval = eval_concat,
                                 .grad = grad_concat,
                                 .summary = "join operands along `axis`",
                                 .flops = no_flops};

} // namespace sj
