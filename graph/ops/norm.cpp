// Layer normalization over the last axis as one op, and the two ops its gradient is made of:
//
//   layer_norm(x [..., C], gamma [C], beta [C]) {epsilon}      -> y      [..., C]
//   layer_norm_stats(x [..., C]) {epsilon}                     -> stats  [..., 2]
//   layer_norm_backprop(x, gamma, dy [..., C], stats [..., 2]) -> dx     [..., C]
//
// Per row: mean = sum(x) / C, var = sum((x - mean)^2) / C (biased, from the centered values:
// accurate when the mean is large against the spread), rstd = 1 / sqrt(var + epsilon),
// xhat = (x - mean) rstd, y = xhat gamma + beta. stats holds (mean, rstd) per row.
//
// The gradient (rule of layer_norm): stats = layer_norm_stats(x) recomputes the row statistics,
// dx = layer_norm_backprop(x, gamma, dy, stats) = rstd (h - mean(h) - xhat mean(h xhat)) with
// h = dy gamma, in two passes over each row; dgamma = sum over rows of dy xhat and dbeta = sum
// over rows of dy are reductions of graph expressions. layer_norm_stats and layer_norm_backprop
// have no gradient rule (as attention's backward): a second-order gradient through layer_norm
// is an "unconnected" error naming them; build the composition (reduce_mean, sub, square,
// rsqrt, ...) to differentiate twice.
#include "graph/gradient.h"
#include "graph/ops/kernel_util.h"
#include "graph/ops/shape_util.h"

#include <cmath>
#include <fmt/format.h>

namespace sj {
using namespace ops;

namespace {

// x [..., C] with C >= 1; operand i (gamma, beta) must be [C] of x's dtype.
void require_rows(const OpCall& c) {
  require_float(c, 0);
  const Shape& x = c.types[0].shape;
  if (x.empty())
    c.fail("x needs rank 1 or more: it is normalized over its last axis (e.g. [batch, "
           "features])");
  if (x.back() == 0) c.fail("x's last dimension has size 0: there is nothing to normalize");
}

void require_per_feature(const OpCall& c, size_t i) {
  require_same_dtype(c, 0, i);
  int64_t features = c.types[0].shape.back();
  if (c.types[i].shape != Shape{features})
    c.fail(fmt::format("{} {} must hold one value per feature of x's last axis: expected [{}]",
                       c.def.operand_names[i], shape_str(c.types[i].shape), features));
}

void require_epsilon(const OpCall& c) {
  double eps = c.attrs.real("epsilon");
  if (!(eps >= 0 && std::isfinite(eps)))
    c.fail(fmt::format("epsilon = {} must be a finite number >= 0 (added to the variance)", eps));
}

// x's shape with the last dimension 2: (mean, rstd) per row.
Shape stats_shape(const Shape& x) {
  Shape s = x;
  s.back() = 2;
  return s;
}

TensorType infer_layer_norm(const OpCall& c) {
  require_rows(c);
  require_per_feature(c, 1);
  require_per_feature(c, 2);
  require_epsilon(c);
  return c.types[0];
}

TensorType infer_layer_norm_stats(const OpCall& c) {
  require_rows(c);
  require_epsilon(c);
  return {c.types[0].dtype, stats_shape(c.types[0].shape)};
}

TensorType infer_layer_norm_backprop(const OpCall& c) {
  require_rows(c);
  require_per_feature(c, 1);
  require_same_dtype(c, 0, 2);
  require_same_dtype(c, 0, 3);
  const Shape& x = c.types[0].shape;
  if (c.types[2].shape != x)
    c.fail(fmt::format("dy {} must have x's shape {} (the gradient of layer_norm's result)",
                       shape_str(c.types[2].shape), shape_str(x)));
  if (c.types[3].shape != stats_shape(x))
    c.fail(fmt::format("stats {} must be x's shape with a last dimension of 2, {} "
                       "(layer_norm_stats of x)",
                       shape_str(c.types[3].shape), shape_str(stats_shape(x))));
  return c.types[0];
}

// ---- interpreter kernels: the definition, in double --------------------------------------

struct Moments {
  double mean, rstd;
};

// Two passes over the row, each sum compensated (kernel_util.h Sum).
template <typename T>
Moments moments(const T* row, int64_t n, double epsilon) {
  Sum sum;
  for (int64_t k = 0; k < n; ++k)
    sum.add(double(row[k]));
  double mean = sum.value() / double(n);
  Sum squares;
  for (int64_t k = 0; k < n; ++k) {
    double d = double(row[k]) - mean;
    squares.add(d * d);
  }
  return {mean, 1.0 / std::sqrt(squares.value() / double(n) + epsilon)};
}

// Calls f(row, first element) for each row of the last axis of operand 0.
template <typename F>
void for_rows(const EvalCall& c, F f) {
  const Tensor& x = *c.args[0];
  int64_t n = x.shape().back();
  if (n == 0) return;
  for (int64_t r = 0; r < x.num_elements() / n; ++r)
    f(r, r * n);
}

Tensor eval_layer_norm(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  int64_t n = x.shape().back();
  double eps = c.attrs().real("epsilon");
  Tensor out(c.type());
  visit_float(x.dtype(), [&]<typename T>() {
    const T* gamma = c.args[1]->template data<T>();
    const T* beta = c.args[2]->template data<T>();
    for_rows(c, [&](int64_t, int64_t first) {
      const T* row = x.data<T>() + first;
      Moments m = moments(row, n, eps);
      for (int64_t k = 0; k < n; ++k)
        out.data<T>()[first + k] =
            static_cast<T>((double(row[k]) - m.mean) * m.rstd * double(gamma[k]) + double(beta[k]));
    });
  });
  return out;
}

Tensor eval_layer_norm_stats(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  int64_t n = x.shape().back();
  double eps = c.attrs().real("epsilon");
  Tensor out(c.type());
  visit_float(x.dtype(), [&]<typename T>() {
    for_rows(c, [&](int64_t r, int64_t first) {
      Moments m = moments(x.data<T>() + first, n, eps);
      out.data<T>()[2 * r] = static_cast<T>(m.mean);
      out.data<T>()[2 * r + 1] = static_cast<T>(m.rstd);
    });
  });
  return out;
}

// dx = rstd (h - mean(h) - xhat mean(h xhat)), h = dy gamma, xhat = (x - mean) rstd, with the
// mean and rstd of `stats` (as stored, in the dtype).
Tensor eval_layer_norm_backprop(const EvalCall& c) {
  const Tensor& x = *c.args[0];
  int64_t n = x.shape().back();
  Tensor out(c.type());
  visit_float(x.dtype(), [&]<typename T>() {
    const T* gamma = c.args[1]->template data<T>();
    const T* dy = c.args[2]->template data<T>();
    const T* stats = c.args[3]->template data<T>();
    for_rows(c, [&](int64_t r, int64_t first) {
      const T* row = x.data<T>() + first;
      double mean = double(stats[2 * r]), rstd = double(stats[2 * r + 1]);
      auto h = [&](int64_t k) { return double(dy[first + k]) * double(gamma[k]); };
      auto xhat = [&](int64_t k) { return (double(row[k]) - mean) * rstd; };
      Sum sum_h, sum_hx;
      for (int64_t k = 0; k < n; ++k) {
        sum_h.add(h(k));
        sum_hx.add(h(k) * xhat(k));
      }
      double mean_h = sum_h.value() / double(n), mean_hx = sum_hx.value() / double(n);
      for (int64_t k = 0; k < n; ++k)
        out.data<T>()[first + k] = static_cast<T>(rstd * (h(k) - mean_h - xhat(k) * mean_hx));
    });
  });
  return out;
}

// ---- gradient rule -----------------------------------------------------------------------
// Node-building operands are named first (see graph/ops/elementwise.cpp): one graph for every
// compiler.

void grad_layer_norm(GradCall& c) {
  Value x = c.x[0], gamma = c.x[1];
  if (c.wants(2)) c.set(2, unbroadcast(c.g, c.x[2].shape()));
  if (!c.wants(0) && !c.wants(1)) return;
  Value stats = emit(c, Op::layer_norm_stats, {x}, c.attrs());
  if (c.wants(0)) c.set(0, emit(c, Op::layer_norm_backprop, {x, gamma, c.g, stats}, {}));
  if (c.wants(1)) {
    Shape s = stats.shape();
    std::vector<int64_t> begin(s.size(), 0), mid(s.begin(), s.end()), end(s.begin(), s.end());
    mid.back() = 1;
    Value mean = slice(stats, begin, mid);
    begin.back() = 1;
    Value rstd = slice(stats, begin, end);
    Value centered = x - mean;
    Value xhat = centered * rstd;
    c.set(1, unbroadcast(c.g * xhat, gamma.shape()));
  }
}

std::vector<AttrSpec> epsilon_attr() { return {{"epsilon", AttrKind::real, 1e-5}}; }

} // namespace

extern const OpDef layer_norm_def = {
    .op = Op::layer_norm,
    .name = "layer_norm",
    .num_operands = 3,
    .operand_names = {"x", "gamma", "beta"},
    .attrs = epsilon_attr(),
    .infer = infer_layer_norm,
    .eval = eval_layer_norm,
    .grad = grad_layer_norm,
    .summary = "(x - mean) / sqrt(var + epsilon) gamma + beta over the last axis of x [..., C] "
               "(f32 or f64; gamma, beta [C]; var biased, from the centered values)"};
extern const OpDef layer_norm_stats_def = {
    .op = Op::layer_norm_stats,
    .name = "layer_norm_stats",
    .num_operands = 1,
    .operand_names = {"x"},
    .attrs = epsilon_attr(),
    .infer = infer_layer_norm_stats,
    .eval = eval_layer_norm_stats,
    .summary = "the row statistics of layer_norm, [..., 2]: the mean and 1 / sqrt(var + "
               "epsilon) of each row of the last axis; no gradient"};
extern const OpDef layer_norm_backprop_def = {
    .op = Op::layer_norm_backprop,
    .name = "layer_norm_backprop",
    .num_operands = 4,
    .operand_names = {"x", "gamma", "dy", "stats"},
    .attrs = {},
    .infer = infer_layer_norm_backprop,
    .eval = eval_layer_norm_backprop,
    .summary = "the gradient of layer_norm with respect to x (dy the gradient of its result, "
               "stats from layer_norm_stats): rstd (h - mean(h) - xhat mean(h xhat)), h = dy "
               "gamma, per row; no gradient"};

} // namespace sj
