// 2-D convolution over NHWC images (TensorFlow/Keras conventions) and its two gradients, each
// an op of its own so that second-order gradients work:
//
//   conv2d(x [N,H,W,C], kernel [KH,KW,C/g,F])              -> y  [N,OH,OW,F]
//   conv2d_backprop_input(dy [N,OH,OW,F], kernel) {input_shape}  -> dx [N,H,W,C]
//   conv2d_backprop_kernel(x, dy) {kernel_shape}           -> dk [KH,KW,C/g,F]
//
// All three are the same sum over (n, oh, ow, f, kh, kw, c) of x[n, ih, iw, g c0 + c] *
// kernel[kh, kw, c, f] * dy[n, oh, ow, f], with ih = oh * sh - pad_top + kh * dh (likewise iw),
// taken over two of the three operands: each op's gradients are the other two ops.
#include "graph/gradient.h"
#include "graph/limits.h"
#include "graph/ops/kernel_util.h"
#include "graph/ops/shape_util.h"
#include "graph/ops/window.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {
using namespace ops;

namespace {

using Conv = ConvGeometry;

// Checks the shapes of a convolution of input `x` with `kernel` and returns its sizes; `what`
// names the operands in messages. Shared by the three shape rules.
Conv conv_of(const OpCall& c, const Shape& x, const Shape& kernel) {
  auto dims = [](const Shape& s) { return shape_str(s); };
  if (x.size() != 4)
    c.fail(fmt::format("the input {} must have rank 4, [batch, height, width, channels] (NHWC)",
                       dims(x)));
  if (kernel.size() != 4)
    c.fail(fmt::format("the kernel {} must have rank 4, [height, width, in channels / groups, "
                       "filters] (Keras's layout)",
                       dims(kernel)));
  int64_t groups = c.attrs.integer("groups");
  int64_t channels = x[3], filters = kernel[3];
  if (groups < 1) c.fail(fmt::format("groups = {} must be 1 or more", groups));
  if (channels % groups != 0)
    c.fail(fmt::format("the input's {} channels do not split into groups = {}", channels, groups));
  if (filters % groups != 0)
    c.fail(fmt::format("the kernel's {} filters do not split into groups = {}", filters, groups));
  if (kernel[2] != channels / groups) {
    Shape want = kernel;
    want[2] = channels / groups;
    c.fail(fmt::format("the kernel {} reads {} input channels per group, but the input {} has {} "
                       "channels{}: the kernel's third dimension must be {}; make the kernel {}",
                       dims(kernel), kernel[2], dims(x), channels,
                       groups > 1 ? fmt::format(" in {} groups", groups) : "", channels / groups,
                       dims(want)));
  }
  Window2d w = window2d(c, x[1], x[2], kernel[0], kernel[1]);
  return {x, kernel, {x[0], w.out[0], w.out[1], filters}, groups, w};
}

void require_floats(const OpCall& c) {
  require_float(c, 0);
  require_float(c, 1);
  require_same_dtype(c, 0, 1);
}

// A shape attribute (input_shape, kernel_shape) must be a valid rank-4 shape.
Shape shape_attr(const OpCall& c, std::string_view name) {
  const Shape& s = c.attrs.ints(name);
  if (s.size() != 4 || !checked_num_elements(s))
    c.fail(fmt::format("{} = {} must be a rank-4 shape with at most 2^40 elements", name,
                       shape_str(s)));
  return s;
}

void require_gradient_shape(const OpCall& c, size_t i, const Shape& want, std::string_view what) {
  if (c.types[i].shape != want)
    c.fail(fmt::format("{} is {}, but the convolution's {} is {}", c.def.operand_names[i],
                       shape_str(c.types[i].shape), what, shape_str(want)));
}

TensorType infer_conv2d(const OpCall& c) {
  require_floats(c);
  return {c.types[0].dtype, conv_of(c, c.types[0].shape, c.types[1].shape).y};
}

TensorType infer_conv2d_backprop_input(const OpCall& c) {
  require_floats(c);
  Conv conv = conv_of(c, shape_attr(c, "input_shape"), c.types[1].shape);
  require_gradient_shape(c, 0, conv.y, "output");
  return {c.types[0].dtype, conv.x};
}

TensorType infer_conv2d_backprop_kernel(const OpCall& c) {
  require_floats(c);
  Conv conv = conv_of(c, c.types[0].shape, shape_attr(c, "kernel_shape"));
  require_gradient_shape(c, 1, conv.y, "output");
  return {c.types[0].dtype, conv.kernel};
}

// Every multiply-add: N OH OW F KH KW C/g, whichever two operands the op multiplies.
Work work_conv(const Graph& g, const Node& n) {
  Conv conv = conv_geometry(g, n);
  int64_t macs = num_elements(conv.y);
  for (int64_t d : {conv.kernel[0], conv.kernel[1], conv.kernel[2]})
    macs = saturating_mul(macs, d);
  return {default_work(g, n).elements, macs};
}

// ---- interpreter kernels ---------------------------------------------------------------

// Calls term(x_index, kernel_index, y_index) for every term of the convolution's sum whose input
// pixel is real (padding contributes nothing), in a fixed order.
template <typename Term>
void for_each_term(const Conv& conv, Term term) {
  const Window2d& w = conv.window;
  int64_t C = conv.x[3], F_ = conv.y[3], cg = C / conv.groups, fg = F_ / conv.groups;
  for (int64_t n = 0; n < conv.y[0]; ++n)
    for (int64_t oh = 0; oh < w.out[0]; ++oh)
      for (int64_t ow = 0; ow < w.out[1]; ++ow)
        for (int64_t kh = 0; kh < w.window[0]; ++kh) {
          int64_t ih = w.input_at(0, oh, kh);
          if (ih < 0 || ih >= w.in[0]) continue;
          for (int64_t kw = 0; kw < w.window[1]; ++kw) {
            int64_t iw = w.input_at(1, ow, kw);
            if (iw < 0 || iw >= w.in[1]) continue;
            int64_t x_pixel = ((n * w.in[0] + ih) * w.in[1] + iw) * C;
            int64_t y_pixel = ((n * w.out[0] + oh) * w.out[1] + ow) * F_;
            for (int64_t f = 0; f < F_; ++f) {
              int64_t group = f / fg;
              for (int64_t ci = 0; ci < cg; ++ci)
                term(x_pixel + group * cg + ci, ((kh * w.window[1] + kw) * cg + ci) * F_ + f,
                     y_pixel + f);
            }
          }
        }
}

// The sum over two operands a and b, indexed by the term's (x, kernel, y) indices: `out`
// selects which index the result takes, `ia` and `ib` which the operands take (0 x, 1 kernel,
// 2 y). Computed in double with compensation and rounded once (kernel_util.h).
Tensor conv_sum(const EvalCall& c, int ia, int ib, int out) {
  Conv conv = conv_geometry(c.graph, c.node);
  const Tensor& a = *c.args[0];
  const Tensor& b = *c.args[1];
  Tensor result(c.type());
  visit_float(result.dtype(), [&]<typename T>() {
    std::vector<Sum> acc(size_t(result.num_elements()));
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    for_each_term(conv, [&](int64_t xi, int64_t ki, int64_t yi) {
      int64_t index[3] = {xi, ki, yi};
      acc[size_t(index[out])].add(double(pa[index[ia]]) * double(pb[index[ib]]));
    });
    for (size_t i = 0; i < acc.size(); ++i)
      result.data<T>()[i] = static_cast<T>(acc[i].value());
  });
  return result;
}

Tensor eval_conv2d(const EvalCall& c) { return conv_sum(c, 0, 1, 2); }
Tensor eval_conv2d_backprop_input(const EvalCall& c) { return conv_sum(c, 2, 1, 0); }
Tensor eval_conv2d_backprop_kernel(const EvalCall& c) { return conv_sum(c, 0, 2, 1); }

// ---- gradient rules: the sum is trilinear in (x, kernel, dy) -----------------------------

// The node's window attributes, with `shape_attr` set to `shape` (input_shape or kernel_shape).
Attrs conv_attrs(const GradCall& c, std::string_view shape_attr = {}, Shape shape = {}) {
  Attrs attrs = attrs_without(c.attrs(), {"input_shape", "kernel_shape"});
  if (!shape_attr.empty()) attrs.set(shape_attr, std::move(shape));
  return attrs;
}

void grad_conv2d(GradCall& c) {
  Value x = c.x[0], kernel = c.x[1];
  if (c.wants(0))
    c.set(0, emit(c, Op::conv2d_backprop_input, {c.g, kernel},
                  conv_attrs(c, "input_shape", x.shape())));
  if (c.wants(1))
    c.set(1, emit(c, Op::conv2d_backprop_kernel, {x, c.g},
                  conv_attrs(c, "kernel_shape", kernel.shape())));
}

void grad_conv2d_backprop_input(GradCall& c) {
  Value dy = c.x[0], kernel = c.x[1];
  if (c.wants(0)) c.set(0, emit(c, Op::conv2d, {c.g, kernel}, conv_attrs(c)));
  if (c.wants(1))
    c.set(1, emit(c, Op::conv2d_backprop_kernel, {c.g, dy},
                  conv_attrs(c, "kernel_shape", kernel.shape())));
}

void grad_conv2d_backprop_kernel(GradCall& c) {
  Value x = c.x[0], dy = c.x[1];
  if (c.wants(0))
    c.set(0,
          emit(c, Op::conv2d_backprop_input, {dy, c.g}, conv_attrs(c, "input_shape", x.shape())));
  if (c.wants(1)) c.set(1, emit(c, Op::conv2d, {x, c.g}, conv_attrs(c)));
}

std::vector<AttrSpec> conv_schema(std::string_view shape_attr = {}) {
  std::vector<AttrSpec> attrs;
  if (!shape_attr.empty()) attrs.push_back({shape_attr, AttrKind::ints, std::nullopt});
  for (AttrSpec& a : window_attrs(/*dilations=*/true, /*strides_default_to_window=*/false))
    attrs.push_back(std::move(a));
  attrs.push_back({"groups", AttrKind::integer, int64_t{1}});
  return attrs;
}

OpDef conv_def(Op op, std::string_view name, std::vector<std::string_view> operands,
               std::string_view shape_attr, InferFn infer, EvalFn eval, GradFn grad,
               std::string_view summary) {
  return {.op = op,
          .name = name,
          .num_operands = 2,
          .operand_names = std::move(operands),
          .attrs = conv_schema(shape_attr),
          .infer = infer,
          .eval = eval,
          .grad = grad,
          .summary = summary,
          .work = work_conv};
}

} // namespace

extern const OpDef conv2d_def =
    conv_def(Op::conv2d, "conv2d", {"x", "kernel"}, {}, infer_conv2d, eval_conv2d, grad_conv2d,
             "NHWC x [N,H,W,C] with kernel [KH,KW,C/groups,F] -> [N,OH,OW,F]; strides, "
             "dilations, padding = valid | same (TensorFlow's) | [[top, bottom], [left, right]]");
extern const OpDef conv2d_backprop_input_def = conv_def(
    Op::conv2d_backprop_input, "conv2d_backprop_input", {"dy", "kernel"}, "input_shape",
    infer_conv2d_backprop_input, eval_conv2d_backprop_input, grad_conv2d_backprop_input,
    "the gradient of conv2d with respect to x (a transposed convolution) of shape input_shape");
extern const OpDef conv2d_backprop_kernel_def =
    conv_def(Op::conv2d_backprop_kernel, "conv2d_backprop_kernel", {"x", "dy"}, "kernel_shape",
             infer_conv2d_backprop_kernel, eval_conv2d_backprop_kernel, grad_conv2d_backprop_kernel,
             "the gradient of conv2d with respect to its kernel, of shape kernel_shape");

} // namespace sj
