// Reductions over a list of axes, with keepdims; argmax over one axis.
#include "graph/gradient.h"
#include "graph/ops/kernel_util.h"
#include "graph/ops/shape_util.h"

#include <cmath>
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
    if (!reduced[i])
      out.push_back(x.shape[i]);
    else if (c.attrs.flag("keepdims"))
      out.push_back(1);
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

// argmax: one axis (negative counts from the end), which must have elements; an i64 result
// (the index dtype of the table: labels and indices may be i32 or i64, counters are i64).
TensorType infer_argmax(const OpCall& c) {
  require_numeric(c, 0);
  const TensorType& x = c.types[0];
  if (x.rank() == 0) c.fail("needs rank 1 or more: there is no axis to take the argmax over");
  int axis = normalize_axis(c, c.attrs.integer("axis"), x.rank(), "axis");
  if (x.shape[axis] == 0)
    c.fail(fmt::format("dimension {} has size 0: there is no maximum to find the index of", axis));
  Shape out = x.shape;
  if (c.attrs.flag("keepdims"))
    out[axis] = 1;
  else
    out.erase(out.begin() + axis);
  return {DType::i64, out};
}

// ---- interpreter kernels ---------------------------------------------------------------

// Folds every element of the operand into the output element it reduces to: f(acc, x) for
// x of type T, starting each output from `init`. Returns one accumulator per output element
// (row-major; keepdims does not change the order).
template <typename T, typename Acc, typename F>
std::vector<Acc> fold(const EvalCall& c, Acc init, F f) {
  const Tensor& x = *c.args[0];
  // The input index -> output index map: the output's strides, 0 along reduced axes.
  const auto& axes = c.attrs().ints("axes");
  Shape kept = x.shape();
  for (int64_t a : axes)
    kept[axis_index(a, x.rank())] = 1;
  std::vector<int64_t> strides = strides_of(kept);
  for (int64_t a : axes)
    strides[axis_index(a, x.rank())] = 0;
  IndexMap to_out(x.shape(), std::move(strides));
  std::vector<Acc> acc(static_cast<size_t>(num_elements(kept)), init);
  for (int64_t i = 0; i < x.num_elements(); ++i)
    f(acc[to_out(i)], element<T>(x, i));
  return acc;
}

// The output tensor holding finish(acc) for each accumulator.
template <typename T, typename Acc, typename F>
Tensor finish(const EvalCall& c, const std::vector<Acc>& acc, F finish) {
  Tensor out(c.type());
  SJ_ASSERT(static_cast<int64_t>(acc.size()) == out.num_elements());
  for (size_t i = 0; i < acc.size(); ++i)
    out.data<T>()[i] = finish(acc[i]);
  return out;
}

// The number of elements that fold into each output element.
int64_t reduced_count(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  int64_t n = 1;
  for (int64_t a : c.attrs().ints("axes"))
    n *= x.shape()[axis_index(a, x.rank())];
  return n;
}

Tensor eval_reduce_sum(const EvalCall& c) {
  return visit_numeric(c.type().dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      auto acc = fold<T>(c, Sum(), [](Sum& s, T x) { s.add(x); });
      return finish<T>(c, acc, [](const Sum& s) { return static_cast<T>(s.value()); });
    } else {
      // Wrapping adds in uint64, then modulo 2^bits: what wrapping adds in T give, in any order.
      auto acc = fold<T>(c, uint64_t{0}, [](uint64_t& s, T x) { s += static_cast<uint64_t>(x); });
      return finish<T>(c, acc, [](uint64_t s) { return static_cast<T>(s); });
    }
  });
}

Tensor eval_reduce_mean(const EvalCall& c) {
  auto count = static_cast<double>(reduced_count(c));
  return visit_float(c.type().dtype, [&]<typename T>() {
    auto acc = fold<T>(c, Sum(), [](Sum& s, T x) { s.add(x); });
    return finish<T>(c, acc, [&](const Sum& s) { return static_cast<T>(s.value() / count); });
  });
}

Tensor eval_reduce_max(const EvalCall& c) {
  return visit_numeric(c.type().dtype, [&]<typename T>() {
    // The shape rule guarantees every output folds at least one element, so the start value
    // (the identity of maximum) never shows.
    T lowest = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                    : std::numeric_limits<T>::lowest();
    auto acc = fold<T>(c, lowest, [](T& m, T x) { m = maximum_of(m, x); });
    return finish<T>(c, acc, [](T m) { return m; });
  });
}

// The index of the first maximum of each row along `axis`. NaN counts as larger than every
// number, so the first NaN wins (NumPy's argmax); -0 and +0 are equal (the first wins).
Tensor eval_argmax(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  int axis = axis_index(c.attrs().integer("axis"), x.rank());
  int64_t len = x.shape()[axis];
  Tensor out(c.type());
  int64_t row = 0;
  visit_numeric(x.dtype(), [&]<typename T>() {
    for_each_row(x.shape(), axis, [&](int64_t first, int64_t stride) {
      const T* p = x.data<T>() + first;
      int64_t best = 0;
      for (int64_t k = 1; k < len; ++k) {
        T v = p[k * stride], m = p[best * stride];
        bool better = v > m;
        if constexpr (std::is_floating_point_v<T>) better |= std::isnan(v) && !std::isnan(m);
        if (better) best = k;
      }
      out.data<int64_t>()[row++] = best;
    });
  });
  return out;
}

// ---- gradient rules --------------------------------------------------------------------

// x's shape with the reduced axes kept as 1: the shape g takes before broadcasting back.
Shape keepdims_shape(const GradCall& c) {
  Shape s = c.x[0].shape();
  for (int64_t a : c.attrs().ints("axes"))
    s[a < 0 ? a + c.x[0].rank() : a] = 1;
  return s;
}

// A value of the reduction's result shape, reshaped to keep the reduced axes as 1.
Value with_kept_dims(const GradCall& c, Value v) {
  return c.attrs().flag("keepdims") ? v : reshaped(v, keepdims_shape(c));
}

void grad_reduce_sum(GradCall& c) { c.set(0, broadcasted(with_kept_dims(c, c.g), c.x[0].shape())); }
void grad_reduce_mean(GradCall& c) {
  double count = double(c.x[0].type().num_elements()) / double(c.y.type().num_elements());
  c.set(0, broadcasted(with_kept_dims(c, c.g) / count, c.x[0].shape()));
}
void grad_reduce_max(GradCall& c) {
  // Tie rule: the elements equal to the maximum share its gradient equally.
  Value x = c.x[0];
  Value hit = mask(equal(x, with_kept_dims(c, c.y)), x.dtype());
  Value hits = reduce_sum(hit, c.attrs().ints("axes"), /*keepdims=*/true);
  c.set(0, hit * (with_kept_dims(c, c.g) / hits));
}

OpDef reduction(Op op, std::string_view name, InferFn infer, EvalFn eval, GradFn grad,
                std::string_view summary) {
  return {.op = op,
          .name = name,
          .num_operands = 1,
          .operand_names = {"x"},
          .attrs = {{"axes", AttrKind::ints, std::nullopt}, {"keepdims", AttrKind::boolean, false}},
          .infer = infer,
          .eval = eval,
          .grad = grad,
          .fusion = Fusion::reduction,
          .summary = summary};
}

} // namespace

extern const OpDef argmax_def = {
    .op = Op::argmax,
    .name = "argmax",
    .num_operands = 1,
    .operand_names = {"x"},
    .attrs = {{"axis", AttrKind::integer, std::nullopt}, {"keepdims", AttrKind::boolean, false}},
    .infer = infer_argmax,
    .eval = eval_argmax,
    .fusion = Fusion::reduction,
    .summary = "the index (i64) of the first maximum along `axis`; NaN counts as the maximum "
               "(the first NaN wins, as NumPy's); no gradient (an integer result)"};

extern const OpDef reduce_sum_def = reduction(Op::reduce_sum, "reduce_sum", infer_reduce_sum,
                                              eval_reduce_sum, grad_reduce_sum, "sum over `axes`");
extern const OpDef reduce_mean_def =
    reduction(Op::reduce_mean, "reduce_mean", infer_reduce_mean, eval_reduce_mean, grad_reduce_mean,
              "mean over `axes`");
extern const OpDef reduce_max_def =
    reduction(Op::reduce_max, "reduce_max", infer_reduce_max, eval_reduce_max, grad_reduce_max,
              "maximum over `axes` (NaN if any is NaN); tied maxima share the gradient equally");

} // namespace sj
