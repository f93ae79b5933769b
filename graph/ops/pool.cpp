// 2-D pooling over NHWC images (TensorFlow/Keras conventions) and the gradients of pooling:
//
//   max_pool2d(x) {window, strides, padding, pads}            the maximum of each window
//   max_pool2d_backprop(x, dy) {...}                           dy routed to each window's maximum
//   avg_pool2d(x) {window, strides, padding, pads}             the mean of each window's real
//                                                              pixels (padding is not counted)
//   avg_pool2d_backprop(dy) {input_shape, window, ...}         dy spread back over the real pixels
//
// Padding pixels never take part: a window's maximum is over its real pixels, and its mean
// divides by their number, as TensorFlow's avg_pool with padding = same.
#include "graph/gradient.h"
#include "graph/limits.h"
#include "graph/ops/kernel_util.h"
#include "graph/ops/shape_util.h"
#include "graph/ops/window.h"

#include <fmt/format.h>

namespace sj {
using namespace ops;

namespace {

// The window of a pooling node over an input of shape x: checked by shape rules through
// `call`, and for checked nodes directly.
Window2d pool_window(const OpCall& c, const Shape& x) {
  if (x.size() != 4)
    c.fail(fmt::format("the input {} must have rank 4, [batch, height, width, channels] (NHWC)",
                       shape_str(x)));
  const auto& window = c.attrs.ints("window");
  if (window.size() != 2)
    c.fail(fmt::format("window must have 2 entries, [rows, columns], got {}", window.size()));
  Window2d w = window2d(c, x[1], x[2], window[0], window[1]);
  for (int d = 0; d < 2; ++d)
    if (w.pad_before[d] >= w.window[d] || w.pad_after[d] >= w.window[d])
      c.fail(fmt::format("pads of {} and {} along {} leave windows of {} with no real pixel: each "
                         "pad must be smaller than the window",
                         w.pad_before[d], w.pad_after[d], d == 0 ? "rows" : "columns",
                         w.window[d]));
  return w;
}

Shape pooled(const Shape& x, const Window2d& w) { return {x[0], w.out[0], w.out[1], x[3]}; }

TensorType infer_pool(const OpCall& c) {
  require_numeric(c, 0);
  return {c.types[0].dtype, pooled(c.types[0].shape, pool_window(c, c.types[0].shape))};
}

TensorType infer_avg_pool(const OpCall& c) {
  require_float(c, 0);
  return infer_pool(c);
}

TensorType infer_max_pool2d_backprop(const OpCall& c) {
  require_float(c, 0);
  require_same_dtype(c, 0, 1);
  Shape want = pooled(c.types[0].shape, pool_window(c, c.types[0].shape));
  if (c.types[1].shape != want)
    c.fail(fmt::format("dy is {}, but max_pool2d of x gives {}", shape_str(c.types[1].shape),
                       shape_str(want)));
  return c.types[0];
}

TensorType infer_avg_pool2d_backprop(const OpCall& c) {
  require_float(c, 0);
  const Shape& x = c.attrs.ints("input_shape");
  if (x.size() != 4 || !checked_num_elements(x))
    c.fail(fmt::format("input_shape = {} must be a rank-4 shape with at most 2^40 elements",
                       shape_str(x)));
  Shape want = pooled(x, pool_window(c, x));
  if (c.types[0].shape != want)
    c.fail(fmt::format("dy is {}, but avg_pool2d of {} gives {}", shape_str(c.types[0].shape),
                       shape_str(x), shape_str(want)));
  return {c.types[0].dtype, x};
}

// ---- interpreter kernels ---------------------------------------------------------------

// Calls f(output index, list of the input indices its window reads), for every output element
// of a pooling node, the real pixels in row-major window order.
template <typename F>
void for_each_window(const Graph& g, const Node& n, F f) {
  auto [x, w] = pool_geometry(g, n);
  int64_t C = x[3];
  std::vector<int64_t> taps;
  for (int64_t b = 0; b < x[0]; ++b)
    for (int64_t oh = 0; oh < w.out[0]; ++oh)
      for (int64_t ow = 0; ow < w.out[1]; ++ow)
        for (int64_t c = 0; c < C; ++c) {
          taps.clear();
          for (int64_t kh = 0; kh < w.window[0]; ++kh) {
            int64_t ih = w.input_at(0, oh, kh);
            if (ih < 0 || ih >= w.in[0]) continue;
            for (int64_t kw = 0; kw < w.window[1]; ++kw) {
              int64_t iw = w.input_at(1, ow, kw);
              if (iw >= 0 && iw < w.in[1])
                taps.push_back(((b * w.in[0] + ih) * w.in[1] + iw) * C + c);
            }
          }
          f(((b * w.out[0] + oh) * w.out[1] + ow) * C + c, taps);
        }
}

// The first tap holding the window's maximum (NaN counts as the maximum): where max_pool2d's
// gradient goes (the tie rule).
template <typename T>
int64_t argmax(const T* x, const std::vector<int64_t>& taps) {
  int64_t best = taps[0];
  for (int64_t t : taps)
    if (std::isnan(double(x[best])))
      break;
    else if (std::isnan(double(x[t])) || x[t] > x[best])
      best = t;
  return best;
}

Tensor eval_max_pool2d(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  Tensor out(c.type());
  visit_numeric(x.dtype(), [&]<typename T>() {
    for_each_window(c.graph, c.node, [&](int64_t o, const std::vector<int64_t>& taps) {
      T m = x.data<T>()[taps[0]];
      for (int64_t t : taps)
        m = maximum_of(m, x.data<T>()[t]);
      out.data<T>()[o] = m;
    });
  });
  return out;
}

Tensor eval_max_pool2d_backprop(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  const Tensor& dy = *c.args[1];
  Tensor out(c.type());
  visit_float(x.dtype(), [&]<typename T>() {
    std::vector<Sum> acc(size_t(out.num_elements()));
    for_each_window(c.graph, c.node, [&](int64_t o, const std::vector<int64_t>& taps) {
      acc[size_t(argmax(x.data<T>(), taps))].add(double(dy.data<T>()[o]));
    });
    for (size_t i = 0; i < acc.size(); ++i)
      out.data<T>()[i] = static_cast<T>(acc[i].value());
  });
  return out;
}

Tensor eval_avg_pool2d(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  Tensor out(c.type());
  visit_float(x.dtype(), [&]<typename T>() {
    for_each_window(c.graph, c.node, [&](int64_t o, const std::vector<int64_t>& taps) {
      Sum s;
      for (int64_t t : taps)
        s.add(double(x.data<T>()[t]));
      out.data<T>()[o] = static_cast<T>(s.value() / double(taps.size()));
    });
  });
  return out;
}

Tensor eval_avg_pool2d_backprop(const EvalCall& c) {
  const Tensor& dy = *c.args[0];
  Tensor out(c.type());
  visit_float(dy.dtype(), [&]<typename T>() {
    std::vector<Sum> acc(size_t(out.num_elements()));
    for_each_window(c.graph, c.node, [&](int64_t o, const std::vector<int64_t>& taps) {
      double share = double(dy.data<T>()[o]) / double(taps.size());
      for (int64_t t : taps)
        acc[size_t(t)].add(share);
    });
    for (size_t i = 0; i < acc.size(); ++i)
      out.data<T>()[i] = static_cast<T>(acc[i].value());
  });
  return out;
}

// ---- gradient rules ----------------------------------------------------------------------

// The node's window attributes without input_shape, or with it set to `shape`.
Attrs pool_attrs(const GradCall& c, bool with_input_shape, const Shape& shape = {}) {
  Attrs attrs = attrs_without(c.attrs(), {"input_shape"});
  if (with_input_shape) attrs.set("input_shape", shape);
  return attrs;
}

void grad_max_pool2d(GradCall& c) {
  c.set(0, emit(c, Op::max_pool2d_backprop, {c.x[0], c.g}, pool_attrs(c, false)));
}
void grad_avg_pool2d(GradCall& c) {
  c.set(0, emit(c, Op::avg_pool2d_backprop, {c.g}, pool_attrs(c, true, c.x[0].shape())));
}
void grad_avg_pool2d_backprop(GradCall& c) {
  // The adjoint of spreading each gradient over its window is averaging over it.
  c.set(0, emit(c, Op::avg_pool2d, {c.g}, pool_attrs(c, false)));
}

std::vector<AttrSpec> pool_schema(bool input_shape) {
  std::vector<AttrSpec> attrs;
  if (input_shape) attrs.push_back({"input_shape", AttrKind::ints, std::nullopt});
  attrs.push_back({"window", AttrKind::ints, std::nullopt});
  for (AttrSpec& a : window_attrs(/*dilations=*/false, /*strides_default_to_window=*/true))
    attrs.push_back(std::move(a));
  return attrs;
}

// An index map for fusion, but it compares and adds: one FLOP per element it visits.
int64_t flops_max_pool2d_backprop(const Graph& g, const Node& n) {
  return default_work(g, n).elements;
}

} // namespace

extern const OpDef max_pool2d_def = {
    .op = Op::max_pool2d,
    .name = "max_pool2d",
    .num_operands = 1,
    .operand_names = {"x"},
    .attrs = pool_schema(false),
    .infer = infer_pool,
    .eval = eval_max_pool2d,
    .grad = grad_max_pool2d,
    .summary = "NHWC maximum of each window of real pixels (NaN wins); strides default to the "
               "window; its gradient goes to the first maximum in row-major window order"};

extern const OpDef max_pool2d_backprop_def = {
    .op = Op::max_pool2d_backprop,
    .name = "max_pool2d_backprop",
    .num_operands = 2,
    .operand_names = {"x", "dy"},
    .attrs = pool_schema(false),
    .infer = infer_max_pool2d_backprop,
    .eval = eval_max_pool2d_backprop,
    // An index map in the compiler's sense: each input pixel's gradient is a function of the
    // windows containing it (codegen's element rule), so it fuses into its reader (the relu
    // mask) and never reaches memory; stored, it scatters window by window.
    .fusion = Fusion::index_map,
    // No gradient: the routing is piecewise constant in x, and its adjoint in dy would be a
    // gather by the argmax, which no model has needed yet.
    .summary = "the gradient of max_pool2d: each dy added at its window's first maximum of x",
    .flops = flops_max_pool2d_backprop};

extern const OpDef avg_pool2d_def = {
    .op = Op::avg_pool2d,
    .name = "avg_pool2d",
    .num_operands = 1,
    .operand_names = {"x"},
    .attrs = pool_schema(false),
    .infer = infer_avg_pool,
    .eval = eval_avg_pool2d,
    .grad = grad_avg_pool2d,
    .summary = "NHWC mean of each window over its real pixels only (padding is not counted, as "
               "TensorFlow's avg_pool); strides default to the window"};

extern const OpDef avg_pool2d_backprop_def = {
    .op = Op::avg_pool2d_backprop,
    .name = "avg_pool2d_backprop",
    .num_operands = 1,
    .operand_names = {"dy"},
    .attrs = pool_schema(true),
    .infer = infer_avg_pool2d_backprop,
    .eval = eval_avg_pool2d_backprop,
    .grad = grad_avg_pool2d_backprop,
    .summary = "the gradient of avg_pool2d: each dy spread evenly over its window's real pixels "
               "of an input of shape input_shape"};

} // namespace sj
