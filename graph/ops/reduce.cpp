// Reductions over a list of axes, with keepdims.
#include "graph/ops/shape_util.h"

#include <fmt/format.h>

namespace sj {
using namespace ops;

namespace {

// The result shape of reducing `x` over `axes` (negative axes count from the end; an empty
// list reduces nothing). Fails on repeated axes, and on reducing an empty axis when the
// reduction has no identity (`need_elements`).
TensorType infer_reduce(const OpCall& c, bool need_elements) {
  const TensorType& x = c.types[0];
  std::vector<bool> reduced(x.rank(), false);
  for (int64_t a : c.attrs.ints("axes")) {
    int axis = normalize_axis(c, a, x.rank(), "axes entry");
    if (reduced[axis]) c.fail(fmt::format("axes lists dimension {} twice", axis));
    reduced[axis] = true;
    if (need_elements && x.shape[axis] == 0)
      c.fail(fmt::format("dimension {} has size 0: there is nothing to {}", axis,
                         c.def.op == Op::reduce_max ? "take the maximum of" : "average"));
  }
  Shape out;
  for (int i = 0; i < x.rank(); ++i) {
    if (!reduced[i]) out.push_back(x.shape[i]);
    else if (c.attrs.flag("keepdims")) out.push_back(1);
  }
  return {x.dtype, out};
}

TensorType infer_reduce_sum(const OpCall& c) {
  require_numeric(c, 0);
  return infer_reduce(c, false);
}
TensorType infer_reduce_mean(const OpCall& c) {
  require_float(c, 0);
  return infer_reduce(c, true);
}
TensorType infer_reduce_max(const OpCall& c) {
  require_numeric(c, 0);
  return infer_reduce(c, true);
}

OpDef reduction(Op op, std::string_view name, InferFn infer, std::string_view summary) {
  return {.op = op,
          .name = name,
          .num_operands = 1,
          .operand_names = {"x"},
          .attrs = {{"axes", AttrKind::ints, std::nullopt},
                    {"keepdims", AttrKind::boolean, false}},
          .infer = infer,
          .eval = nullptr,
          .summary = summary};
}

} // namespace

extern const OpDef reduce_sum_def =
    reduction(Op::reduce_sum, "reduce_sum", infer_reduce_sum, "sum over `axes`");
extern const OpDef reduce_mean_def =
    reduction(Op::reduce_mean, "reduce_mean", infer_reduce_mean, "mean over `axes`");
extern const OpDef reduce_max_def = reduction(Op::reduce_max, "reduce_max", infer_reduce_max,
                                              "maximum over `axes` (NaN if any is NaN)");

} // namespace sj
